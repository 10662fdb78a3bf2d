package wire_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stratalog/strata/wire"
)

// Budgets for decoding one frame. Decoding a 1 KiB frame takes microseconds and
// allocates a few KiB; before bodies were checked, a 93-byte frame took 46 s of CPU.
// The CPU budget is process CPU time, not wall time, so a busy machine does not
// trip it, and it is four orders of magnitude above the cost of a sound frame.
const (
	cpuBudgetPerKiB = 250 * time.Millisecond
	// allocPerByte bounds what kmsg allocates per byte of a frame: a Go struct per array
	// element (the largest request elements are a few hundred bytes, the smallest
	// encoding a byte or two), a string header per string.
	allocPerByte = 256
	allocSlack   = 64 << 10
)

// decodeCost decodes frame and returns what it cost: process CPU time and bytes
// allocated.
func decodeCost(frame []byte) (cpu time.Duration, alloc uint64, err error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := cpuTime()
	_, _, err = wire.Decode(frame)
	cpu = cpuTime() - start
	runtime.ReadMemStats(&after)
	return cpu, after.TotalAlloc - before.TotalAlloc, err
}

// checkCost fails t if decoding frame costs more than its budget, and returns the
// error of Decode.
func checkCost(t *testing.T, frame []byte) error {
	t.Helper()
	cpu, alloc, err := decodeCost(frame)
	kib := time.Duration(max(1, (len(frame)+1023)/1024))
	if cpu > cpuBudgetPerKiB*kib {
		t.Fatalf("decoding %d bytes took %v of CPU (budget %v)", len(frame), cpu, cpuBudgetPerKiB*kib)
	}
	if limit := uint64(allocPerByte*len(frame) + allocSlack); alloc > limit {
		t.Fatalf("decoding %d bytes allocated %d bytes (budget %d)", len(frame), alloc, limit)
	}
	return err
}
