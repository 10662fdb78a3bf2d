package parallel

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// TestForEach: workers bounds the calls running at once; every index is visited once and
// the errors come back in index order.
func TestForEach(t *testing.T) {
	for _, workers := range []int{0, 1, 3} {
		var cur, peak atomic.Int64
		visits := make([]atomic.Int32, 100)
		errs := ForEach(len(visits), workers, func(i int) error {
			n := cur.Add(1)
			defer cur.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			visits[i].Add(1)
			if i%10 == 3 {
				return fmt.Errorf("e%d", i)
			}
			return nil
		})
		if got := peak.Load(); got > int64(max(workers, 1)) {
			t.Errorf("workers %d: %d at once", workers, got)
		}
		for i := range visits {
			if visits[i].Load() != 1 {
				t.Fatalf("workers %d: index %d visited %d times", workers, i, visits[i].Load())
			}
		}
		if len(errs) != 10 || errs[0].Error() != "e3" || errs[9].Error() != "e93" {
			t.Fatalf("workers %d: errors %v", workers, errs)
		}
	}
	if errs := ForEach(0, 2, func(int) error { return errors.New("never") }); errs != nil {
		t.Fatalf("no work: %v", errs)
	}
}

func TestFirstError(t *testing.T) {
	e1, e2 := errors.New("one"), errors.New("two")
	if FirstError(nil) != nil || FirstError([]error{e1}) != e1 {
		t.Fatal("zero or one error")
	}
	if err := FirstError([]error{e1, e2, e2}); !errors.Is(err, e1) || err.Error() != "one (and 2 more partitions failed)" {
		t.Fatalf("three errors: %v", err)
	}
}
