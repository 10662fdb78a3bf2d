package server_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/internal/testutil/testcerts"
	"github.com/stratalog/strata/server/servertest"
)

// TestKcatProduceConsume drives kcat (librdkafka), a client written by others, against an
// in-process broker: keyed records produced with acks=all come back byte for byte. kcat
// must be installed (make test installs it); the test fails, not skips, without it.
func TestKcatProduceConsume(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (make test installs it: apt-get install -y kcat): %v", err)
	}
	s := servertest.StartBroker(t, "", map[string]string{"auto.create.topics.enable": "false"})
	addr := s.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const topic = "kcat-roundtrip"
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}

	// Keyed records, key:value per line, with bytes that need no escaping in kcat's
	// default output but are not plain ASCII either.
	var in bytes.Buffer
	for i := range 500 {
		fmt.Fprintf(&in, "k-%05d:v-%05d-%s\n", i, i, bytes.Repeat([]byte{'a' + byte(i%26)}, i%40))
	}
	in.WriteString("utf8-ключ:значение-✓\n")
	in.WriteString("empty-value:\n")
	file := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(file, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(ctx, kcat, append([]string{"-b", addr, "-t", topic}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kcat %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	run("-P", "-K:", "-X", "acks=all", "-l", file)
	out := run("-C", "-K:", "-o", "beginning", "-e", "-q")
	if !bytes.Equal(out, in.Bytes()) {
		t.Fatalf("kcat consumed %d bytes, produced %d; first difference at byte %d",
			len(out), in.Len(), firstDiff(out, in.Bytes()))
	}
	// kcat's metadata listing names the topic with its partition.
	if md := run("-L"); !bytes.Contains(md, []byte(`topic "`+topic+`" with 1 partitions`)) {
		t.Fatalf("kcat -L:\n%s", md)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestKcatSSL drives kcat (librdkafka, OpenSSL) over an SSL listener with mutual TLS:
// the same PEM keystore a Strata client certificate is in serves as librdkafka's key and
// certificate; records go through, and a kcat without a client certificate is refused.
func TestKcatSSL(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (make test installs it: apt-get install -y kcat): %v", err)
	}
	ca := testcerts.NewCA(t, "ca")
	s := startTLS(t, map[string]string{
		"ssl.keystore.location":   ca.Server(t).File,
		"ssl.truststore.location": ca.File,
		"ssl.client.auth":         "required",
	}, nil)
	addr := s.ListenerAddr("SSL").String()
	client := ca.Client(t, "kcat-user")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "kcat-ssl"
	tlsArgs := []string{"-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + ca.File}
	mtlsArgs := append(slices.Clone(tlsArgs), "-X", "ssl.certificate.location="+client.File, "-X", "ssl.key.location="+client.File)
	kcatRun := func(stdin string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, kcat, append([]string{"-b", addr, "-t", topic}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			err = fmt.Errorf("kcat %v: %w\n%s", args, err, stderr.String())
		}
		return out, err
	}
	in := "k1:v1\nk2:v2\n"
	if _, err := kcatRun(in, append(mtlsArgs, "-P", "-K:", "-X", "acks=all")...); err != nil {
		t.Fatal(err)
	}
	out, err := kcatRun("", append(mtlsArgs, "-C", "-K:", "-o", "beginning", "-e", "-q")...)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Fatalf("kcat consumed %q, want %q", out, in)
	}
	if out, err := kcatRun("", append(tlsArgs, "-L", "-m", "3")...); err == nil {
		t.Fatalf("kcat without a client certificate was served:\n%s", out)
	}
}

// TestKcatSASL drives kcat (librdkafka) over SASL_SSL with PLAIN and SCRAM-SHA-512 as the
// bootstrap user: records go through; a wrong password is refused.
func TestKcatSASL(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (make test installs it: apt-get install -y kcat): %v", err)
	}
	s, ca := startSASL(t, nil, nil)
	addr := s.ListenerAddr("SASL_SSL").String()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-512"} {
		topic := "kcat-sasl-" + strings.ToLower(mech)
		args := func(password string) []string {
			return []string{"-b", addr, "-t", topic, "-X", "security.protocol=sasl_ssl", "-X", "ssl.ca.location=" + ca.File,
				"-X", "sasl.mechanisms=" + mech, "-X", "sasl.username=admin", "-X", "sasl.password=" + password}
		}
		run := func(stdin string, extra ...string) ([]byte, error) {
			cmd := exec.CommandContext(ctx, kcat, append(args("admin-secret"), extra...)...)
			cmd.Stdin = strings.NewReader(stdin)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				err = fmt.Errorf("kcat %s %v: %w\n%s", mech, extra, err, stderr.String())
			}
			return out, err
		}
		in := "k1:v1\nk2:v2\n"
		if _, err := run(in, "-P", "-K:", "-X", "acks=all"); err != nil {
			t.Fatal(err)
		}
		out, err := run("", "-C", "-K:", "-o", "beginning", "-e", "-q")
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != in {
			t.Fatalf("%s: kcat consumed %q, want %q", mech, out, in)
		}
		bad := exec.CommandContext(ctx, kcat, append(args("wrong"), "-L", "-m", "3")...)
		if out, err := bad.CombinedOutput(); err == nil {
			t.Fatalf("%s: kcat with a wrong password was served:\n%s", mech, out)
		}
	}
}
