//go:build strataprofile

package bench

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/stratalog/strata/server"
)

// Environment of the profiled broker child (see TestBenchProfileStrata).
const (
	profChildEnv = "STRATA_BENCH_PROFILE_CHILD" // {ready}:{dir}:profile path
	profileEnv   = "STRATA_BENCH_PROFILE"       // directory for the profiles; unset: skip
)

// init turns the test binary into the profiled broker when it is started as one; it runs
// before TestMain.
func init() {
	if spec := os.Getenv(profChildEnv); spec != "" {
		os.Exit(runProfiledBroker(spec))
	}
}

// runProfiledBroker is the child process: a Strata broker that starts a CPU profile on
// SIGUSR1 and stops it, shuts down and exits on SIGTERM. Only the broker runs in this
// process, so the profile holds no client work.
func runProfiledBroker(spec string) int {
	var ready, dir, prof string
	parts := filepath.SplitList(spec)
	if len(parts) != 3 {
		return 2
	}
	ready, dir, prof = parts[0], parts[1], parts[2]
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM)
	s, err := server.Start(&server.Options{
		Listen:  "127.0.0.1:0",
		DataDir: dir,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	os.WriteFile(ready+".tmp", []byte(s.Addr().String()+"\n"), 0o644)
	os.Rename(ready+".tmp", ready)
	var pf *os.File
	for sig := range sigs {
		if sig == syscall.SIGUSR1 && pf == nil {
			if pf, err = os.Create(prof); err == nil {
				pprof.StartCPUProfile(pf)
			}
			continue
		}
		break
	}
	if pf != nil {
		pprof.StopCPUProfile()
		pf.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Shutdown(ctx)
	return 0
}

// TestBenchProfileStrata writes CPU profiles of a Strata broker process under produce
// (1 KiB, 8 partitions, acks=all) and consume (from a group) load to the directory named
// by STRATA_BENCH_PROFILE; it is skipped when that is not set. It is behind a build tag
// so that the bench tests do not depend on the server package:
//
//	STRATA_BENCH_PROFILE=/tmp/prof go test -tags strataprofile -run TestBenchProfileStrata ./cmd/strata/bench
//	go tool pprof -top /tmp/prof/produce.pprof
func TestBenchProfileStrata(t *testing.T) {
	out := os.Getenv(profileEnv)
	if out == "" {
		t.Skip("set " + profileEnv + "=DIR to write broker CPU profiles")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := func(name string) *Broker {
		t.Helper()
		prof, _ := filepath.Abs(filepath.Join(out, name+".pprof"))
		b, err := StartBroker(ctx, []string{"env",
			profChildEnv + "={ready}" + string(filepath.ListSeparator) + "{dir}" + string(filepath.ListSeparator) + prof,
			exe, "-test.run=^$"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dur := 10 * time.Second
	if d, err := time.ParseDuration(os.Getenv("STRATA_BENCH_PROFILE_DURATION")); err == nil {
		dur = d
	}

	b := start("produce")
	b.Signal(syscall.SIGUSR1)
	r, err := Produce(ctx, Config{Brokers: []string{b.Addr}, BrokerPID: b.PID(), Partitions: 8, Duration: dur})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	t.Logf("produce: %.1f MB/s, broker %.2f CPU s/GiB", r.MBPerSec, r.BrokerStats.CPUSecPerGB)

	b = start("consume")
	defer b.Close()
	cfg := Config{Brokers: []string{b.Addr}, Partitions: 8, Count: 1_000_000, Keep: true, Topic: "profile"}
	if _, err := Produce(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	b.Signal(syscall.SIGUSR1)
	cfg.NoFill, cfg.Keep, cfg.BrokerPID = true, false, b.PID()
	if r, err = Consume(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Logf("consume: %.1f MB/s, broker %.2f CPU s/GiB", r.MBPerSec, r.BrokerStats.CPUSecPerGB)
}
