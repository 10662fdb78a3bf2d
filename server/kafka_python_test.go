package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/stratalog/strata/server/servertest"
)

// kafkaPython is Debian's interpreter, where Debian's python3-kafka (kafka-python 2.0.2)
// is installed (make test installs it: the Makefile's legacy-clients target); PyPI is not used.
const kafkaPython = "/usr/bin/python3"

// TestKafkaPythonLegacyVersions drives kafka-python 2.0.2 (Debian's python3-kafka) with
// api_version (0,9,0), (0,10,0), (0,10,1) and (0,11,0): Produce v1-v3 with message
// formats 0, 1 and RecordBatch v2 (compressed with every codec of the era, lz4 in format 0
// with the KAFKA-3160 framing), Fetch v1-v4, group membership and OffsetCommit v2. What
// it produced it consumes back in its group, with the timestamps it gave (none for
// format 0), and commits; franz-go reads the same records and the committed offset.
func TestKafkaPythonLegacyVersions(t *testing.T) {
	if err := exec.Command(kafkaPython, "-c", "import kafka, lz4, snappy, xxhash").Run(); err != nil {
		t.Fatalf("kafka-python is not installed (make test installs it: apt-get install -y python3-kafka python3-lz4 python3-snappy python3-xxhash): %v", err)
	}
	s := servertest.StartBroker(t, "", map[string]string{"group.initial.rebalance.delay.ms": "0"})
	addr := s.Addr().String()
	adm := kadm.NewClient(newClient(t, s))
	const n = 20
	for _, c := range []struct{ version, codec string }{
		{"0.9.0", "none"}, {"0.9.0", "lz4"},
		{"0.10.0", "none"}, {"0.10.0", "gzip"}, {"0.10.0", "lz4"},
		{"0.10.1", "snappy"},
		{"0.11.0", "none"}, {"0.11.0", "lz4"},
	} {
		t.Run(c.version+"-"+c.codec, func(t *testing.T) {
			topic, group := "kp-"+c.version+"-"+c.codec, "kp-group-"+c.version+"-"+c.codec
			createTopic(t, s, topic, 1, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, kafkaPython, "testdata/kafka_python_legacy.py", addr, c.version, topic, group, c.codec, fmt.Sprint(n))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("kafka-python: %v\n%s", err, stderr.String())
			}
			var res struct {
				Messages []struct {
					Offset     int64
					Key, Value string
					Timestamp  *int64
				}
				Committed int64
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("kafka-python output %q: %v", out, err)
			}
			withTS := c.version != "0.9.0"
			if len(res.Messages) != n || res.Committed != n {
				t.Fatalf("kafka-python consumed %d messages, committed %d: %s", len(res.Messages), res.Committed, out)
			}
			for i, m := range res.Messages {
				ok := m.Offset == int64(i) && m.Key == fmt.Sprintf("k%d", i) && m.Value == fmt.Sprintf("v%d", i)
				if withTS {
					ok = ok && m.Timestamp != nil && *m.Timestamp == 1_600_000_000_000+int64(i)
				} else {
					ok = ok && (m.Timestamp == nil || *m.Timestamp == -1)
				}
				if !ok {
					t.Fatalf("kafka-python message %d: %+v", i, m)
				}
			}
			for i, r := range consumeAll(t, s, topic, n) {
				if string(r.Key) != fmt.Sprintf("k%d", i) || string(r.Value) != fmt.Sprintf("v%d", i) ||
					withTS && r.Timestamp.UnixMilli() != 1_600_000_000_000+int64(i) {
					t.Fatalf("franz-go record %d: %q %q %v", i, r.Key, r.Value, r.Timestamp)
				}
			}
			offsets, err := adm.FetchOffsets(ctx, group)
			if err != nil {
				t.Fatal(err)
			}
			if o, ok := offsets.Lookup(topic, 0); !ok || o.At != n {
				t.Fatalf("committed %+v, want %d", o, n)
			}
		})
	}
}
