package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/partition"
)

func init() {
	register(22, 0, 4, handleInitProducerID)
}

// handleInitProducerID answers InitProducerId v0-v4 for idempotent producers: a new
// producer id with epoch 0, or, when the request carries its current id and epoch (v3+,
// KIP-360), the same id with the epoch bumped (a new id once the epoch is exhausted).
// Partitions then require sequence 0 of the new epoch and fence the old one.
//
// Transactions are not supported: a request with a transactional id is refused with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, a non-retriable error that clients (kgo,
// librdkafka, the Java client) surface at once, as from a Kafka broker whose ACLs deny
// the transactional id, instead of retrying until a timeout.
func handleInitProducerID(s *Server, r *request) reply {
	req := r.body.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return now(resp)
	}
	ids := s.data.pids
	if ids == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return now(resp)
	}
	if req.ProducerID >= 0 && req.ProducerEpoch >= 0 && req.ProducerEpoch < math.MaxInt16-1 {
		if !ids.issued(req.ProducerID) {
			resp.ErrorCode = kerr.InvalidProducerIDMapping.Code
			return now(resp)
		}
		resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
		return now(resp)
	}
	id, err := ids.next()
	if err != nil {
		s.log.Warn("producer id allocation failed", "err", err)
		resp.ErrorCode = kerr.KafkaStorageError.Code
		return now(resp)
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return now(resp)
}

// producerIDsFile holds the end of the last reserved block of producer ids (decimal).
const producerIDsFile = "producer-ids"

// producerIDBlock is how many ids are reserved per write of producerIDsFile.
const producerIDBlock = 1000

// producerIDs allocates producer ids that are never reused, across restarts too: ids are
// reserved in blocks whose end is persisted (write, fsync, rename, dir fsync) before any
// id of the block is handed out; at open, allocation resumes above both the persisted end
// and the largest producer id found in any partition's log.
type producerIDs struct {
	fs   vfs.FS
	path string
	mu   struct {
		sync.Mutex
		next     int64 // next id to hand out
		reserved int64 // ids below this are reserved on disk
	}
}

// openProducerIDs loads the allocator of the data directory dir.
func openProducerIDs(fsys vfs.FS, dir string, parts *partition.Manager) (*producerIDs, error) {
	ids := &producerIDs{fs: fsys, path: filepath.Join(dir, producerIDsFile)}
	start, err := ids.load()
	if err != nil {
		return nil, err
	}
	for _, t := range parts.Topics() {
		for _, p := range t.Partitions() {
			start = max(start, p.MaxProducerID()+1)
		}
	}
	start = max(start, 1) // ids start at 1: 0 reads as "unset" too easily
	ids.mu.next, ids.mu.reserved = start, start
	return ids, nil
}

// load reads the persisted block end (0 when the file does not exist yet).
func (a *producerIDs) load() (int64, error) {
	f, err := a.fs.Open(a.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("server: open %s: %w", a.path, err)
	}
	defer f.Close()
	buf := make([]byte, 32)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("server: read %s: %w", a.path, err)
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(buf[:n])), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("server: %s: bad content %q", a.path, buf[:n])
	}
	return v, nil
}

// next hands out a new producer id.
func (a *producerIDs) next() (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.next >= a.mu.reserved {
		end := a.mu.next + producerIDBlock
		if err := a.persist(end); err != nil {
			return -1, err
		}
		a.mu.reserved = end
	}
	id := a.mu.next
	a.mu.next++
	return id, nil
}

// issued reports whether id was handed out by this broker (in this run or before).
func (a *producerIDs) issued(id int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return id < a.mu.next
}

func (a *producerIDs) persist(end int64) error {
	return vfs.WriteFileAtomic(a.fs, a.path, []byte(strconv.FormatInt(end, 10)+"\n"))
}
