package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeProcessLockAndSignal runs the binary: a second broker on a locked data
// directory exits 1 with the reason, SIGTERM ends the first with status 0, its ready file
// removed and the clean-shutdown marker written.
func TestServeProcessLockAndSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildStrata(t)
	dir := t.TempDir()
	b := startStrata(t, bin, dir, "--log-format", "json")

	var out bytes.Buffer
	second := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--http", "off", "--data-dir", dir)
	second.Stdout, second.Stderr = &out, &out
	err := second.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("second broker on a locked directory: %v\n%s", err, out.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("in use by another broker")) {
		t.Fatalf("second broker's message: %s", out.String())
	}

	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-b.done:
		b.done <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, b.log)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit 30 s after SIGTERM")
	}
	if _, err := os.Stat(b.ready); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ready file %s after a clean exit: %v", b.ready, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".clean-shutdown")); err != nil {
		t.Errorf("clean-shutdown marker: %v", err)
	}
	if !bytes.Contains(b.log.Bytes(), []byte(`"msg":"stopped cleanly"`)) {
		t.Errorf("json log without the clean stop:\n%s", b.log)
	}
}

// TestServeProcessHTTP runs the binary with the HTTP listener on a free port: it prints
// the address, /healthz and /readyz answer 200 once the broker serves, /metrics has the
// broker's metrics, the console's page and API answer, and SIGTERM ends it cleanly.
func TestServeProcessHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildStrata(t)
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data-dir", t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		for range lines {
		}
		<-done
	})
	var base string
	timeout := time.After(30 * time.Second)
	for base == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("broker exited before its HTTP listener:\n%s", stderr.String())
			}
			if _, rest, ok := strings.Cut(l, "HTTP listener (metrics, console) on "); ok {
				base = strings.TrimSuffix(rest, "/")
			}
		case <-timeout:
			t.Fatal("no HTTP listener line after 30 s")
		}
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, _ := get("/readyz")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz %d after 30 s", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `strata_kafka_connections{listener="PLAINTEXT"}`) || !strings.Contains(body, "process_cpu_seconds_total") {
		t.Fatalf("metrics %d:\n%s", code, body)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "<title>") {
		t.Fatalf("console %d", code)
	}
	if code, body := get("/api/v1/topics"); code != 200 || !strings.HasPrefix(body, "[") {
		t.Fatalf("API %d: %s", code, body)
	}
	if code, _ := get("/debug/pprof/"); code != 200 {
		t.Fatalf("pprof on the HTTP listener: %d", code)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := <-done; err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	done <- nil
}
