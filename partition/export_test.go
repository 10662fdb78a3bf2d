package partition

// Exports for the external tests (package partition_test), which build batches with
// internal/testutil (that imports the server, hence this package).

// MemStore is the in-memory store of the unit tests.
type MemStore = memStore

// NewMemStore returns an empty in-memory store; with autoFlush every append is durable
// at once, otherwise Flush makes it so.
func NewMemStore(autoFlush bool) *MemStore { return newMemStore(autoFlush) }

// Flush makes everything appended durable.
func (m *memStore) Flush() { m.flush() }

// Reopen returns a store with the same contents, as after a restart.
func (m *memStore) Reopen() *MemStore { return m.reopen() }

// OpenStore opens a partition on an in-memory store.
func OpenStore(st *MemStore, o Options) (*Partition, error) {
	o.EnsureDefaults()
	return open(st, o, newEpochCache(nil, "", o.Logger), nil)
}
