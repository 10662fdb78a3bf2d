// Package parallel runs a bounded number of goroutines over an index range: the
// partitions of a data directory are created, opened, closed and deleted this way
// (num.recovery.threads.per.data.dir at a time), so that their file-system calls overlap
// in the kernel.
//
// It imports nothing of Strata. ForEach starts its goroutines and waits for them: none
// outlives the call.
package parallel
