package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
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
	second := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
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
