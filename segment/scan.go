package segment

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/stratalog/strata/internal/batch"
)

// ScanResult is the outcome of a Scan.
type ScanResult struct {
	Valid   int64 // bytes of whole, valid batches from the start (the prefix to keep)
	Batches int   // number of valid batches
	Next    int64 // offset after the last valid batch (base if none)
	Err     error // why the scan stopped before size (nil: clean end); wraps ErrCorrupt
}

// reader is a buffered view over an io.ReaderAt for sequential batch scans.
type reader struct {
	r     io.ReaderAt
	size  int64
	buf   []byte
	start int64 // file position of buf[0]
}

const scanBuf = 1 << 20

// at returns n bytes at pos; they stay valid until the next call.
func (rd *reader) at(pos int64, n int) ([]byte, error) {
	if pos < 0 || n < 0 || pos+int64(n) > rd.size {
		return nil, io.ErrUnexpectedEOF
	}
	if pos >= rd.start && pos+int64(n) <= rd.start+int64(len(rd.buf)) {
		return rd.buf[pos-rd.start : pos-rd.start+int64(n)], nil
	}
	want := int64(max(n, scanBuf))
	want = min(want, rd.size-pos)
	if int64(cap(rd.buf)) < want {
		rd.buf = make([]byte, want)
	}
	rd.buf = rd.buf[:want]
	m, err := rd.r.ReadAt(rd.buf, pos)
	if m < n {
		rd.buf = rd.buf[:0]
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	rd.buf = rd.buf[:m]
	rd.start = pos
	return rd.buf[:n], nil
}

// Scan walks the batches of a segment's log bytes (r, size bytes) whose base offset is
// base, calling fn (if not nil) with each valid batch's header, its position and, when
// verify is set, its bytes (valid only during the call; nil when !verify).
//
// It stops at the first batch that is torn (length beyond size), corrupt (bad length,
// magic or, when verify is set, CRC-32C) or out of order (base offset below the previous
// batch's last offset + 1, or not representable relative to base), and reports the valid
// prefix. It never panics on arbitrary bytes. A read error stops the scan with Err set to
// it (not wrapping ErrCorrupt).
func Scan(r io.ReaderAt, size, base int64, verify bool, fn func(h batch.Header, pos int64, b []byte) error) ScanResult {
	rd := &reader{r: r, size: size}
	res := ScanResult{Next: base}
	pos := int64(0)
	for pos < size {
		hb, err := rd.at(pos, batch.HeaderSize)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				res.Err = fmt.Errorf("%w: torn header at position %d (%d bytes left)", ErrCorrupt, pos, size-pos)
			} else {
				res.Err = err
			}
			return res
		}
		h, _ := batch.ParseHeader(hb)
		n := int64(h.Length) + batch.LogOverhead
		if h.Length < batch.HeaderSize-batch.LogOverhead || h.Magic != batch.CurrentMagic {
			res.Err = fmt.Errorf("%w: bad length %d or magic %d at position %d", ErrCorrupt, h.Length, h.Magic, pos)
			return res
		}
		if pos+n > size {
			res.Err = fmt.Errorf("%w: torn batch at position %d: %d bytes, %d present", ErrCorrupt, pos, n, size-pos)
			return res
		}
		if h.LastOffsetDelta < 0 || h.BaseOffset < res.Next || h.LastOffset()-base > math.MaxUint32 || h.LastOffset() < h.BaseOffset {
			res.Err = fmt.Errorf("%w: batch at position %d has offsets %d..%d, expected >= %d", ErrCorrupt, pos, h.BaseOffset, h.LastOffset(), res.Next)
			return res
		}
		var b []byte
		if verify {
			b, err = rd.at(pos, int(n))
			if err != nil {
				res.Err = err
				return res
			}
			if _, err := batch.Validate(b); err != nil {
				res.Err = fmt.Errorf("%w: batch at position %d: %w", ErrCorrupt, pos, err)
				return res
			}
		}
		if fn != nil {
			if err := fn(h, pos, b); err != nil {
				res.Err = err
				return res
			}
		}
		pos += n
		res.Valid = pos
		res.Batches++
		res.Next = h.LastOffset() + 1
	}
	return res
}
