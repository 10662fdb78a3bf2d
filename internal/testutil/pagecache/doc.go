// Package pagecache tells tests how much of a file is in the OS page cache (mincore on
// Linux), to check that code drops pages it should.
//
// It imports nothing of Strata, so any package's tests may use it.
package pagecache
