// Package testutil holds test kits shared by Strata's packages: RecordBatch builders
// (this file) and, in sub-packages, a descriptor counter (fds), random kmsg requests
// (kfill) and a full file system (tmpfs). It imports nothing of Strata above internal/
// (records and batch), so every layer's tests can use it; the in-process broker kit,
// which needs the server, is server/servertest.
//
//	b := testutil.Batch(testutil.BatchOptions{Records: 10, ValueSize: 100, Timestamp: ms})
//	all := testutil.Batches(5, testutil.BatchOptions{ProducerID: 7, BaseSequence: 0})
//
// Batches are encoded by internal/records, the broker's one RecordBatch codec, so they
// are exactly what a Kafka producer sends. (internal/batch's own tests cannot import this
// package: records imports batch.)
package testutil
