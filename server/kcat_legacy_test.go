package server_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/stratalog/strata/server/servertest"
)

// TestKcatLegacyVersions drives kcat (librdkafka) with api.version.request=false and
// broker.version.fallback 0.9.0, 0.10.0 and 0.11.0, the protocol versions of those
// releases (Produce v1/v2 with message formats 0/1, Fetch v1/v2, OffsetCommit v2 …): for
// every codec of the era (lz4 in format 0 with the KAFKA-3160 framing), keyed records
// produced with acks=all come back byte for byte to a kcat of the same release and to
// franz-go; a balanced consumer (-G) of each release commits the end offset.
func TestKcatLegacyVersions(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (make test installs it: apt-get install -y kcat): %v", err)
	}
	s := servertest.StartBroker(t, "", map[string]string{"group.initial.rebalance.delay.ms": "0"})
	addr := s.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm := kadm.NewClient(newClient(t, s))

	var in bytes.Buffer
	for i := range 50 {
		fmt.Fprintf(&in, "k-%03d:v-%03d-%s\n", i, i, bytes.Repeat([]byte{'a' + byte(i%26)}, i))
	}
	file := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(file, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(fallback string, args ...string) []byte {
		t.Helper()
		args = append([]string{"-b", addr, "-X", "api.version.request=false", "-X", "broker.version.fallback=" + fallback}, args...)
		cmd := exec.CommandContext(ctx, kcat, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kcat %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	for _, fallback := range []string{"0.9.0", "0.10.0", "0.11.0"} {
		for _, codec := range []string{"none", "gzip", "snappy", "lz4"} {
			topic := "kcat-" + fallback + "-" + codec
			createTopic(t, s, topic, 1, nil)
			run(fallback, "-t", topic, "-P", "-K:", "-z", codec, "-X", "acks=all", "-l", file)
			if out := run(fallback, "-t", topic, "-C", "-K:", "-o", "beginning", "-e", "-q"); !bytes.Equal(out, in.Bytes()) {
				t.Fatalf("%s: kcat consumed %d bytes, produced %d; first difference at byte %d", topic, len(out), in.Len(), firstDiff(out, in.Bytes()))
			}
			var got bytes.Buffer
			for _, r := range consumeAll(t, s, topic, 50) {
				fmt.Fprintf(&got, "%s:%s\n", r.Key, r.Value)
			}
			if !bytes.Equal(got.Bytes(), in.Bytes()) {
				t.Fatalf("%s: franz-go read %q", topic, got.Bytes())
			}
		}
		topic, group := "kcat-"+fallback+"-none", "kcat-group-"+fallback
		out := run(fallback, "-G", group, topic, "-K:", "-e", "-q", "-X", "auto.offset.reset=earliest",
			"-X", "enable.auto.commit=true", "-X", "auto.commit.interval.ms=100")
		if !bytes.Equal(out, in.Bytes()) {
			t.Fatalf("%s: kcat -G consumed %d bytes, want %d", group, len(out), in.Len())
		}
		offsets, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := offsets.Lookup(topic, 0); !ok || o.At != 50 {
			t.Fatalf("%s: committed %+v, want 50", group, o)
		}
	}
}
