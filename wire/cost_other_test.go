//go:build !unix

package wire_test

import "time"

// cpuTime is not measured here: the CPU budget is checked on unix only.
func cpuTime() time.Duration { return 0 }
