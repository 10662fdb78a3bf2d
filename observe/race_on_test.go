//go:build race

package observe_test

// raceEnabled: the race detector adds allocations of its own.
const raceEnabled = true
