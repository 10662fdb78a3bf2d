//go:build !unix

package server

// diskUsage reports -1, -1: unknown on this platform.
func diskUsage(string) (total, usable int64) { return -1, -1 }
