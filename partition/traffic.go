package partition

import "sync/atomic"

// traffic are a partition's counters for the broker's metrics: plain atomics, updated by
// Append and by the server's fetches (CountFetched), read at scrape time (Traffic).
type traffic struct {
	appendedRecords atomic.Uint64
	appendedBytes   atomic.Uint64
	fetchedBytes    atomic.Uint64
}

// Traffic are a partition's counters since it was opened.
type Traffic struct {
	// AppendedRecords and AppendedBytes count what Append stored: the records of its
	// batches and the batches' bytes as written to the log (a compressed batch counts
	// compressed, a re-compressed one as re-encoded). An idempotent retry answered as a
	// duplicate stores nothing and counts nothing.
	AppendedRecords, AppendedBytes uint64
	// FetchedBytes counts the record bytes served to fetches (CountFetched).
	FetchedBytes uint64
}

// Traffic returns the partition's counters since it was opened.
func (p *Partition) Traffic() Traffic {
	return Traffic{
		AppendedRecords: p.traffic.appendedRecords.Load(),
		AppendedBytes:   p.traffic.appendedBytes.Load(),
		FetchedBytes:    p.traffic.fetchedBytes.Load(),
	}
}

// CountFetched adds n bytes of records sent to a fetching client (the server calls it
// once per partition of each Fetch response).
func (p *Partition) CountFetched(n int) { p.traffic.fetchedBytes.Add(uint64(n)) }
