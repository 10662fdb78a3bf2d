package log

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/segment"
)

// Options configures a Log. Zero fields take their defaults (EnsureDefaults); a nil
// *Options passed to Open means all defaults.
type Options struct {
	FS                 vfs.FS           // nil: vfs.Default
	Logger             *slog.Logger     // nil: slog.Default()
	Now                func() time.Time // nil: time.Now (injectable clock)
	SegmentBytes       int64            // segment.bytes, default 1 GiB (max 2^31-1)
	SegmentMs          time.Duration    // segment.ms, default 7 days (roll an active segment older than this when appending)
	SegmentIndexBytes  int              // segment.index.bytes, default 10 MiB
	IndexIntervalBytes int              // index.interval.bytes, default 4096
	RetentionBytes     int64            // retention.bytes; 0: default -1 (unlimited)
	RetentionMs        time.Duration    // retention.ms; 0: default 7 days; negative = unlimited
	FlushMessages      int64            // flush.messages; <= 0 (default) = durable mode: fsync with group commit, see WaitDurable
	FlushMs            time.Duration    // flush.ms; used only when FlushMessages > 0 (default: 0 = none)
	// OpenSegments bounds the sealed segments whose files stay open, shared by the logs
	// of a broker (strata.log.open.segments.max); nil: every segment's files stay open.
	// Sealed segments of a log closed cleanly are opened on first use either way.
	OpenSegments *segment.Cache
	// Flusher, if set, is the flusher this log shares with the other logs of its data
	// directory (one fsync round for all of them; see Flusher); nil: the log runs its own
	// flusher goroutine. It must outlive the log.
	Flusher *Flusher

	// SharedMarker hands the clean-shutdown marker to the caller, which keeps one for many
	// logs (the replica manager's <data.dir>/.clean-shutdown): Close writes no .clean
	// (the caller records the clean shutdown once every Close returned nil), and Open
	// trusts the files when CleanShutdown is set (the caller found its marker). A .clean
	// left in the directory is honoured (and removed) either way. Close does not fsync
	// the active segment's indexes either: the caller makes the whole directory durable
	// (vfs.SyncTree, one syncfs(2)) before it writes its marker.
	SharedMarker  bool
	CleanShutdown bool // with SharedMarker: the caller's marker says the last Close was clean

	// OnFlush, if set, is called after every flush that succeeded with the time its
	// fsyncs took (the rolled segments, the directory, the active segment and the
	// recovery point): the broker's fsync histogram. It runs on the flushing goroutine
	// (the flusher, or a Flush or Close caller) outside the log's locks, so it must be
	// quick and must not block.
	OnFlush func(time.Duration)
}

// Defaults.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultSegmentMs          = 7 * 24 * time.Hour
	DefaultSegmentIndexBytes  = 10 << 20
	DefaultIndexIntervalBytes = 4096
	DefaultRetentionMs        = 7 * 24 * time.Hour
)

// EnsureDefaults fills unset (zero) fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.SegmentMs == 0 {
		o.SegmentMs = DefaultSegmentMs
	}
	if o.SegmentIndexBytes == 0 {
		o.SegmentIndexBytes = DefaultSegmentIndexBytes
	}
	if o.IndexIntervalBytes == 0 {
		o.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if o.RetentionBytes == 0 {
		o.RetentionBytes = -1
	}
	if o.RetentionMs == 0 {
		o.RetentionMs = DefaultRetentionMs
	}
}

// Validate reports an option out of range. Call it after EnsureDefaults.
func (o *Options) Validate() error {
	switch {
	case o.SegmentBytes < batch.HeaderSize || o.SegmentBytes > math.MaxInt32:
		return fmt.Errorf("log: segment.bytes %d out of range [%d, %d]", o.SegmentBytes, batch.HeaderSize, math.MaxInt32)
	case o.SegmentMs < 0:
		return fmt.Errorf("log: segment.ms %v is negative", o.SegmentMs)
	case o.SegmentIndexBytes < 4*12:
		return fmt.Errorf("log: segment.index.bytes %d too small (min 48)", o.SegmentIndexBytes)
	case o.IndexIntervalBytes < 0:
		return fmt.Errorf("log: index.interval.bytes %d is negative", o.IndexIntervalBytes)
	case o.FlushMs < 0:
		return fmt.Errorf("log: flush.ms %v is negative", o.FlushMs)
	}
	return nil
}

func (o *Options) durable() bool { return o.FlushMessages <= 0 }
