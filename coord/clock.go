package coord

import "time"

// Clock is the time source of a Runtime: the injectable seam for tests (a fake clock, or
// testing/synctest, which runs the real clock on virtual time).
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d. It must not call f before returning.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer made by Clock.AfterFunc or Partition.AfterFunc.
type Timer interface {
	// Stop prevents the timer from firing; it reports whether it stopped it.
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// RealClock is the wall clock (time.Now and time.AfterFunc).
var RealClock Clock = realClock{}
