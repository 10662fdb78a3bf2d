// Package kfill fills franz-go kmsg requests with random values by reflection, for tests
// that need sound requests of every API and version: arrays of one to three elements or
// nil (null where the field is nullable at the version, empty elsewhere), short strings,
// nil or set pointers (nullable strings and structs), every field set (tagged fields
// among them, so they are encoded), and unknown tags on half of the structs.
//
// Not safe for concurrent use of one *rand.Rand.
//
// It imports nothing of Strata (only franz-go's kmsg), so any package's tests may use it.
package kfill
