// Package tmpfs gives tests a small file system that really fills up: a tmpfs mounted on
// a temporary directory (Linux, as root), and a filler that takes its free space.
//
// It imports nothing of Strata, so any package's tests may use it.
package tmpfs
