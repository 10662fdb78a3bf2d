package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/wire"
)

// chunkedFetch is a Fetch response whose record bytes stay in the segment files: the
// partitions listed in chunks carry empty RecordBatches in the embedded response, and the
// connection writer sends each chunk's bytes in their place (sendfile on TCP). It owns
// the chunks: the writer releases them once written or dropped.
type chunkedFetch struct {
	*kmsg.FetchResponse
	chunks []fetchChunk // in encoding order: topic, then partition
}

type fetchChunk struct {
	ti, pi int
	c      fetchRecords
}

// fetchRecords is the records of one partition of a chunked fetch response: stored
// batches in a segment file (segmentRecords), or batches down-converted to an old
// message format as they are written (downConversion, Fetch v0-v3).
type fetchRecords interface {
	// Len is the size of the records field, fixed before the frame is written.
	Len() int
	// writeTo writes exactly Len bytes to bw, or to nc after flushing bw.
	writeTo(bw *bufio.Writer, nc io.Writer) error
	// bytes returns the Len bytes in memory (the fallback when splicing fails).
	bytes() ([]byte, error)
	// Release frees what the records hold (idempotent).
	Release()
}

// segmentRecords is a chunk of a segment file, sent as it is stored.
type segmentRecords struct{ *partition.Chunk }

func (r segmentRecords) writeTo(bw *bufio.Writer, nc io.Writer) error {
	return writeChunk(bw, nc, r.Chunk)
}

func (r segmentRecords) bytes() ([]byte, error) { return r.Bytes() }

func (cf *chunkedFetch) release() {
	for _, fc := range cf.chunks {
		fc.c.Release()
	}
}

// writeResponse implements responseWriter: the records are spliced from the segment
// files into the frame.
func (cf *chunkedFetch) writeResponse(w *connWriter, h wire.RequestHeader) (int, error) {
	return w.splicer().writeChunked(w.buffered(), w.nc, h, cf)
}

func (cf *chunkedFetch) response() kmsg.Response { return cf.FetchResponse }

// copyRecords puts every chunk's bytes into the response itself (the fallback when the
// frame cannot be spliced) and releases the chunks.
func (cf *chunkedFetch) copyRecords() error {
	defer cf.release()
	var err error
	for _, fc := range cf.chunks {
		sp := &cf.Topics[fc.ti].Partitions[fc.pi]
		b, rerr := fc.c.bytes()
		if rerr != nil {
			err = errors.Join(err, rerr)
			continue
		}
		sp.RecordBatches = b
	}
	cf.chunks = nil
	return err
}

// spliceMin is the smallest chunk sent with sendfile; smaller ones are read into the
// write buffer (one pread instead of a write plus a sendfile).
const spliceMin = 32 << 10

// splicer encodes chunked fetch responses; its scratch buffers are reused across responses
// of one connection writer.
type splicer struct {
	a, b  []byte // the response encoded with empty and with one-byte records fields
	frame []byte // the frame without record bytes, real length prefixes in place
	cuts  []int  // where each chunk's bytes go in frame
}

var oneRecordByte = []byte{0}

// size is the bytes its scratch buffers hold.
func (sp *splicer) size() int { return cap(sp.a) + cap(sp.b) + cap(sp.frame) + 8*cap(sp.cuts) }

// encode frames cf without its record bytes: the returned frame holds everything but the
// chunks' bytes, which belong at the returned cut positions (in chunk order); the frame's
// size field already counts them. kmsg encodes the response; the records fields are
// located by encoding it twice, with every chunked partition's records empty and then one
// byte long, and walking both encodings: they differ only at those fields, in order. ok is
// false if the encodings do not line up as expected (then nothing may be spliced).
func (sp *splicer) encode(h wire.RequestHeader, cf *chunkedFetch) (frame []byte, cuts []int, ok bool) {
	for _, fc := range cf.chunks {
		cf.Topics[fc.ti].Partitions[fc.pi].RecordBatches = noRecords
	}
	sp.a = wire.AppendResponse(sp.a[:0], h, cf)
	for _, fc := range cf.chunks {
		cf.Topics[fc.ti].Partitions[fc.pi].RecordBatches = oneRecordByte
	}
	sp.b = wire.AppendResponse(sp.b[:0], h, cf)
	for _, fc := range cf.chunks {
		cf.Topics[fc.ti].Partitions[fc.pi].RecordBatches = noRecords
	}
	a, b := sp.a, sp.b
	flexible := cf.IsFlexible()
	// The empty records field: an int32 0 length (nullable bytes), or uvarint(0+1)
	// (compact nullable bytes, v12+).
	empty, back := []byte{0, 0, 0, 0}, 3
	if flexible {
		empty, back = []byte{1}, 0
	}
	if len(b) != len(a)+len(cf.chunks) || len(a) < 4 {
		return nil, nil, false
	}
	frame, cuts = append(sp.frame[:0], a[:4]...), sp.cuts[:0]
	i, shift, extra := 4, 0, 0 // the size fields differ: compare from the header on
	for _, fc := range cf.chunks {
		d := i
		for d < len(a) && a[d] == b[d+shift] {
			d++
		}
		pos := d - back
		if pos < i || pos+len(empty) > len(a) || !bytes.Equal(a[pos:pos+len(empty)], empty) {
			return nil, nil, false
		}
		n := fc.c.Len()
		frame = append(frame, a[i:pos]...)
		before := len(frame)
		if flexible {
			frame = binary.AppendUvarint(frame, uint64(n)+1)
		} else {
			frame = binary.BigEndian.AppendUint32(frame, uint32(n))
		}
		extra += len(frame) - before - len(empty) + n
		cuts = append(cuts, len(frame))
		// In b the field is a length of one and the byte 0; after it, b has the same
		// bytes as a after its empty field, shifted by one more.
		bpos := pos + shift
		if !bytes.Equal(b[bpos:bpos+len(empty)], oneLengthPrefix(flexible)) || b[bpos+len(empty)] != 0 {
			return nil, nil, false
		}
		i = pos + len(empty)
		shift++
	}
	if !bytes.Equal(a[i:], b[i+shift:]) {
		return nil, nil, false
	}
	frame = append(frame, a[i:]...)
	size := len(a) - 4 + extra
	if size > 1<<31-1 {
		return nil, nil, false
	}
	binary.BigEndian.PutUint32(frame[0:], uint32(size))
	sp.frame, sp.cuts = frame, cuts
	return frame, cuts, true
}

func oneLengthPrefix(flexible bool) []byte {
	if flexible {
		return []byte{2}
	}
	return []byte{0, 0, 0, 1}
}

// writeChunked writes a chunked fetch response to bw (and, for large chunks, to nc
// directly after flushing bw): the frame bytes up to each chunk, the chunk, the rest. It
// returns the frame's size and releases the chunks whatever happens.
func (sp *splicer) writeChunked(bw *bufio.Writer, nc io.Writer, h wire.RequestHeader, cf *chunkedFetch) (int, error) {
	defer cf.release()
	frame, cuts, ok := sp.encode(h, cf)
	if !ok {
		// Not expected; stay correct: copy the bytes into the response.
		if err := cf.copyRecords(); err != nil {
			return 0, err
		}
		sp.a = wire.AppendResponse(sp.a[:0], h, cf.FetchResponse)
		return bw.Write(sp.a)
	}
	size := 4 + int(binary.BigEndian.Uint32(frame))
	prev := 0
	for j, fc := range cf.chunks {
		if _, err := bw.Write(frame[prev:cuts[j]]); err != nil {
			return 0, err
		}
		prev = cuts[j]
		if err := fc.c.writeTo(bw, nc); err != nil {
			return 0, err
		}
	}
	if _, err := bw.Write(frame[prev:]); err != nil {
		return 0, err
	}
	return size, nil
}

// writeChunk writes c to bw, or to nc after flushing bw when it is large enough for
// sendfile to pay off.
func writeChunk(bw *bufio.Writer, nc io.Writer, c *partition.Chunk) error {
	n := c.Len()
	if n < spliceMin && n <= bw.Size() {
		if bw.Available() < n {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		buf := bw.AvailableBuffer()[:n]
		if m, err := c.ReadAt(buf, 0); m != n {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		_, err := bw.Write(buf)
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	w, err := c.WriteTo(nc)
	if err == nil && w != int64(n) {
		err = io.ErrShortWrite
	}
	return err
}
