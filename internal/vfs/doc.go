// Package vfs is the file-system seam of Strata's storage layers.
//
// Storage code (index, segment, log) never calls os.* directly: it takes an FS. In
// production that is Default, a thin wrapper over package os. Tests substitute an in-memory
// FS that can simulate a crash (keeping only what was synced) or a wrapper that fails chosen
// operations, which is how the crash and fault tests prove that no acknowledged record is
// lost.
//
// Durability protocol expected from callers: write, then Sync the file; create or rename a
// file, then Sync its directory (OpenDir + Sync).
//
// Concurrency: an FS is safe for concurrent use. A File is safe for concurrent ReadAt calls;
// writes to one File must be serialised by the caller.
//
// It imports nothing of Strata: every storage layer (index, segment, log, partition,
// replica, metadata/local) takes a vfs.FS.
package vfs
