// Package testutil holds test kits shared by Strata's packages.
//
// Batch builders (this file) re-export package kbatch, which builds valid Kafka
// RecordBatch v2 byte strings with franz-go's kmsg:
//
//	b := testutil.Batch(testutil.BatchOptions{Records: 10, ValueSize: 100, Timestamp: ms})
//	all := testutil.Batches(5, testutil.BatchOptions{ProducerID: 7, BaseSequence: 0})
//
// The storage layers (index, segment, log) import kbatch directly, because testutil also
// holds broker kits that import the server (an import cycle for the layers below it).
package testutil

import "github.com/stratalog/strata/internal/testutil/kbatch"

// BatchOptions describes a batch; see kbatch.BatchOptions.
type BatchOptions = kbatch.BatchOptions

// Batch returns one valid RecordBatch v2 (magic 2, CRC-32C over bytes from offset 21)
// with the records described by o: o.Records records (default 1) of o.ValueSize bytes
// (default 10), optional keys of o.KeySize bytes, timestamps o.Timestamp + i*o.TimestampStep,
// producer id/epoch/base sequence when o.ProducerID > 0. Records are never compressed.
func Batch(o BatchOptions) []byte { return kbatch.Batch(o) }

// Batches concatenates count batches, advancing timestamps, sequences and the value
// pattern between them; see kbatch.Batches.
func Batches(count int, o BatchOptions) []byte { return kbatch.Batches(count, o) }

// SizedBatch returns one batch of about size bytes with records of recordSize bytes.
func SizedBatch(size, recordSize int, ts int64) []byte {
	return kbatch.SizedBatch(size, recordSize, ts)
}
