package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in /proc/PID/stat. The
// standard library has no sysconf, so ask getconf once; Linux has reported 100 on every
// architecture since 2.6, so that is the fallback.
var clockTicks = sync.OnceValue(func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return float64(n)
		}
	}
	return 100
})

// ProcSample is one reading of a process's counters.
type ProcSample struct {
	CPUSeconds float64 // user + system
	RSSBytes   int64   // VmRSS
	HWMBytes   int64   // VmHWM, the peak RSS over the process's life
}

// ReadProc reads the CPU time and memory of process pid from /proc (Linux only).
func ReadProc(pid int) (ProcSample, error) {
	var s ProcSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("bench: broker stats: %w", err)
	}
	// The command name (field 2) is in parentheses and may contain spaces; the fields
	// after the last ')' start at field 3 (state). utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("bench: broker stats: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("bench: broker stats: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return s, fmt.Errorf("bench: broker stats: %w", err)
	}
	s.CPUSeconds = float64(ut+st) / clockTicks()

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("bench: broker stats: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &s.RSSBytes
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &s.HWMBytes
		default:
			continue
		}
		fs := strings.Fields(line) // "VmRSS:", "12345", "kB"
		if len(fs) >= 2 {
			if kb, err := strconv.ParseInt(fs[1], 10, 64); err == nil {
				*dst = kb << 10
			}
		}
	}
	return s, nil
}

// procMeter measures one process over a phase of a run: CPU from a start and an end
// reading, peak RSS from a sampler (100 ms) so that the peak belongs to the phase rather
// than to the process's whole life (VmHWM is reported beside it).
type procMeter struct {
	pid   int
	start ProcSample
	t0    time.Time

	mu      sync.Mutex
	peakRSS int64
	lastErr error

	stop chan struct{}
	done chan struct{}
}

// startMeter begins measuring pid; it returns nil when pid is 0.
func startMeter(pid int) (*procMeter, error) {
	if pid <= 0 {
		return nil, nil
	}
	s, err := ReadProc(pid)
	if err != nil {
		return nil, err
	}
	m := &procMeter{pid: pid, start: s, t0: time.Now(), peakRSS: s.RSSBytes,
		stop: make(chan struct{}), done: make(chan struct{})}
	go m.sample()
	return m, nil
}

func (m *procMeter) sample() {
	defer close(m.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			s, err := ReadProc(m.pid)
			m.mu.Lock()
			if err != nil {
				m.lastErr = err
			} else if s.RSSBytes > m.peakRSS {
				m.peakRSS = s.RSSBytes
			}
			m.mu.Unlock()
		}
	}
}

// BrokerStats are the broker-process figures of one phase.
type BrokerStats struct {
	PID         int     `json:"pid"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	CPUPercent  float64 `json:"cpu_percent"` // of one core, averaged over the phase
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	HWMMiB      float64 `json:"hwm_rss_mib"` // VmHWM: peak over the process's life
	EndRSSMiB   float64 `json:"end_rss_mib"`
	CPUSecPerGB float64 `json:"cpu_s_per_gib,omitempty"`
}

// finish stops the sampler and returns the phase's figures; bytes, when positive, gives
// CPU seconds per GiB.
func (m *procMeter) finish(bytesMoved int64) (*BrokerStats, error) {
	if m == nil {
		return nil, nil
	}
	close(m.stop)
	<-m.done
	end, err := ReadProc(m.pid)
	if err != nil {
		return nil, err
	}
	wall := time.Since(m.t0).Seconds()
	const mib = 1 << 20
	m.mu.Lock()
	peak := max(m.peakRSS, end.RSSBytes)
	m.mu.Unlock()
	bs := &BrokerStats{
		PID:        m.pid,
		CPUSeconds: end.CPUSeconds - m.start.CPUSeconds,
		PeakRSSMiB: float64(peak) / mib,
		HWMMiB:     float64(end.HWMBytes) / mib,
		EndRSSMiB:  float64(end.RSSBytes) / mib,
	}
	if wall > 0 {
		bs.CPUPercent = 100 * bs.CPUSeconds / wall
	}
	if bytesMoved > 0 {
		bs.CPUSecPerGB = bs.CPUSeconds / (float64(bytesMoved) / (1 << 30))
	}
	return bs, nil
}

// Broker is a broker process started by the bench from a command line.
//
// Two placeholders in the command are replaced: {ready} by the path of a file the broker
// writes its HOST:PORT to once it listens, and {dir} by an empty data directory, which
// lives as long as the Broker (Restart keeps it). The broker's output goes to a log file
// in the same temporary directory, shown when it fails to start.
type Broker struct {
	argv    []string
	tmp     string
	ready   string
	logPath string

	cmd    *exec.Cmd
	exited chan struct{}
	Addr   string
	// StartupTime is how long the last start took, from exec to the ready file.
	StartupTime time.Duration
	// StopTime is how long the last clean Stop took, from SIGTERM to the exit.
	StopTime time.Duration
}

// StartBroker starts argv (with placeholders, see [Broker]) and waits for its ready file.
func StartBroker(ctx context.Context, argv []string) (*Broker, error) {
	if len(argv) == 0 {
		return nil, errors.New("bench: empty broker command")
	}
	tmp, err := os.MkdirTemp("", "strata-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	b := &Broker{tmp: tmp, ready: filepath.Join(tmp, "ready"), logPath: filepath.Join(tmp, "broker.log")}
	dir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("bench: %w", err)
	}
	for _, a := range argv {
		a = strings.ReplaceAll(a, "{ready}", b.ready)
		a = strings.ReplaceAll(a, "{dir}", dir)
		b.argv = append(b.argv, a)
	}
	if err := b.start(ctx); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return b, nil
}

// PID returns the broker's process id.
func (b *Broker) PID() int { return b.cmd.Process.Pid }

func (b *Broker) start(ctx context.Context) error {
	os.Remove(b.ready)
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	cmd := exec.Command(b.argv[0], b.argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("bench: start broker: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }() //nolint:errcheck // exit status is not needed; exited reports the exit
	b.cmd, b.exited = cmd, exited

	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for {
		if data, err := os.ReadFile(b.ready); err == nil {
			if line, _, ok := strings.Cut(string(data), "\n"); ok && strings.TrimSpace(line) != "" {
				b.StartupTime = time.Since(t0)
				b.Addr = strings.TrimSpace(line)
				return nil
			}
		}
		select {
		case <-tick.C:
		case <-exited:
			return fmt.Errorf("bench: broker exited before it was ready; log:\n%s", b.logTail())
		case <-timeout.C:
			b.kill()
			return fmt.Errorf("bench: broker not ready after 60s; log:\n%s", b.logTail())
		case <-ctx.Done():
			b.kill()
			return ctx.Err()
		}
	}
}

func (b *Broker) logTail() string {
	data, _ := os.ReadFile(b.logPath)
	if len(data) > 4096 {
		data = data[len(data)-4096:]
	}
	return string(data)
}

func (b *Broker) kill() {
	b.cmd.Process.Kill() //nolint:errcheck // best effort; the process may be gone
	<-b.exited
}

// Stop sends SIGTERM and waits up to 30 s for a clean exit (timed: StopTime), then kills
// the process.
func (b *Broker) Stop() error {
	t0 := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("bench: stop broker: %w", err)
	}
	select {
	case <-b.exited:
		b.StopTime = time.Since(t0)
		return nil
	case <-time.After(30 * time.Second):
		b.kill()
		return errors.New("bench: broker did not exit within 30s of SIGTERM; killed")
	}
}

// Signal sends sig to the broker process.
func (b *Broker) Signal(sig os.Signal) error { return b.cmd.Process.Signal(sig) }

// Restart stops the broker cleanly and starts it again on the same data directory.
func (b *Broker) Restart(ctx context.Context) error {
	if err := b.Stop(); err != nil {
		return err
	}
	return b.start(ctx)
}

// Close stops the broker and removes its temporary directory.
func (b *Broker) Close() error {
	err := b.Stop()
	os.RemoveAll(b.tmp)
	return err
}
