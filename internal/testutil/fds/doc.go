// Package fds counts the open file descriptors of the running process, for tests and
// benchmarks that check that descriptors stay bounded. It imports nothing of Strata, so
// every layer's tests can use it.
package fds
