package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/partition"
)

// Fetch v0-v3 answer in the message format of their version, 0 (v0-v1) or 1 (v2-v3): the
// stored RecordBatch v2 are down-converted (records.DownConvert) as Kafka 2.x does it
// since KIP-283 (LazyDownConversionRecords): the handler reads the partition as for any
// fetch (partition MaxBytes, the response's budget for v3, the first batch whole) and
// converts only the first batch that gives messages; the connection writer converts the
// others one at a time as it sends them. The records field announces the larger of the
// stored bytes read and that first conversion; the writer cuts the conversions at that
// size (an old client drops a partial last message and fetches it again), and fills what
// they leave with an overflow message, a bare header claiming more bytes than follow,
// which the client drops the same way. So a response holds in memory, besides the
// conversion being written, each partition's first converted batch (as Kafka's does):
// about the bytes the fetch reads, never a whole segment.

// downConvertMagic is the message format of a Fetch version below 4.
func downConvertMagic(version int16) int8 {
	if version <= 1 {
		return records.MagicV0
	}
	return records.MagicV1
}

// downConvert returns the records of fp read in res, down-converted for the request's
// version. When every batch read converts to no message (control batches, batches emptied
// by compaction), it reads on from the next one: an old client cannot skip offsets that
// hold no message. A zstd batch first is an error wrapping records.ErrDownConvertZstd
// (UNSUPPORTED_COMPRESSION_TYPE, as Kafka). It returns nil when nothing was read.
func (f *fetch) downConvert(fp *fetchPart, res partition.ReadResult, limit int) (fetchRecords, error) {
	magic := downConvertMagic(f.req.Version)
	for res.Len() > 0 {
		dc, next, err := newDownConversion(res, magic, fp.offset, f.log)
		if err != nil || dc != nil {
			return dc, err
		}
		if res, err = fp.p.ReadChunk(next, max(limit, 1), isolation(f.req.IsolationLevel)); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// downConversion is one partition's records of a Fetch v0-v3 response: stored batches (a
// chunk of a segment file, or a copy) and their conversion to message format magic, the
// first batches' done by the handler, the others' by the connection writer.
type downConversion struct {
	magic       int8
	fetchOffset int64
	chunk       *partition.Chunk // released by Release; nil when src is a copy
	src         io.ReaderAt
	srcLen      int
	pos         int    // in src: the first batch not converted yet
	first       []byte // the conversion of the batches before pos
	size        int    // what the records field announces
	log         *slog.Logger
}

// newDownConversion converts the batches of res up to the first that gives messages. It
// returns nil and the offset after the last batch when none does; on error it releases
// the chunk.
func newDownConversion(res partition.ReadResult, magic int8, fetchOffset int64, logger *slog.Logger) (*downConversion, int64, error) {
	dc := &downConversion{magic: magic, fetchOffset: fetchOffset, chunk: res.Chunk, srcLen: res.Len(), log: logger}
	if res.Chunk != nil {
		dc.src = res.Chunk
	} else {
		dc.src = bytes.NewReader(res.Records)
	}
	var (
		buf  []byte
		next int64
		err  error
	)
	for len(dc.first) == 0 && dc.pos < dc.srcLen {
		var h batch.Header
		if buf, h, err = dc.readBatch(buf); err != nil {
			break
		}
		if dc.first, err = records.DownConvert(dc.first, buf, magic, fetchOffset); err != nil {
			break
		}
		dc.pos += len(buf)
		next = h.LastOffset() + 1
	}
	if err != nil || len(dc.first) == 0 {
		dc.Release()
		return nil, next, err
	}
	dc.size = max(dc.srcLen, len(dc.first))
	return dc, next, nil
}

// readBatch reads the batch at dc.pos into buf (reusing it) and parses its header.
func (dc *downConversion) readBatch(buf []byte) ([]byte, batch.Header, error) {
	var lenField [batch.LogOverhead]byte
	if _, err := dc.src.ReadAt(lenField[:], int64(dc.pos)); err != nil {
		return buf, batch.Header{}, fmt.Errorf("read batch header at %d: %w", dc.pos, err)
	}
	n := int(int32(binary.BigEndian.Uint32(lenField[8:]))) + batch.LogOverhead
	if n < batch.HeaderSize || n > dc.srcLen-dc.pos {
		return buf, batch.Header{}, fmt.Errorf("%w: batch of %d bytes at %d of a %d-byte read", batch.ErrCorrupt, n, dc.pos, dc.srcLen)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := dc.src.ReadAt(buf, int64(dc.pos)); err != nil && !(err == io.EOF && dc.pos+n == dc.srcLen) {
		return buf, batch.Header{}, fmt.Errorf("read batch at %d: %w", dc.pos, err)
	}
	h, err := batch.ParseHeader(buf)
	return buf, h, err
}

// Len implements fetchRecords.
func (dc *downConversion) Len() int { return dc.size }

// Release implements fetchRecords.
func (dc *downConversion) Release() {
	if dc.chunk != nil {
		dc.chunk.Release()
		dc.chunk = nil
	}
	dc.first = nil
}

// bytes implements fetchRecords.
func (dc *downConversion) bytes() ([]byte, error) {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	if err := dc.writeTo(bw, nil); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeTo implements fetchRecords: the first conversion, then the other batches converted
// one at a time, all cut at dc.size, then the overflow message for what is left. A batch
// that fails to convert (zstd, corrupt) ends the conversions: the client fetches it next,
// and that fetch answers the error. It writes through bw (conversions are small).
func (dc *downConversion) writeTo(bw *bufio.Writer, _ io.Writer) error {
	left := dc.size
	put := func(b []byte) error {
		n := min(len(b), left)
		left -= n
		_, err := bw.Write(b[:n])
		return err
	}
	if err := put(dc.first); err != nil {
		return err
	}
	var in, out []byte
	for left > 0 && dc.pos < dc.srcLen {
		var (
			h   batch.Header
			err error
		)
		if in, h, err = dc.readBatch(in); err == nil {
			out, err = records.DownConvert(out[:0], in, dc.magic, dc.fetchOffset)
		}
		if err != nil {
			dc.log.Debug("fetch: down-conversion stopped before a batch; the client fetches it next",
				"offset", h.BaseOffset, "err", err)
			break
		}
		dc.pos += len(in)
		if err := put(out); err != nil {
			return err
		}
	}
	return writeOverflow(bw, left)
}

// writeOverflow writes n bytes that an old client reads as a partial last message and
// drops: offset -1 and a size larger than what follows, then zeros (Kafka's overflow batch,
// LazyDownConversionRecordsSend).
func writeOverflow(bw *bufio.Writer, n int) error {
	if n <= 0 {
		return nil
	}
	var hdr [records.MessageLogOverhead]byte
	binary.BigEndian.PutUint64(hdr[:], math.MaxUint64) // -1
	binary.BigEndian.PutUint32(hdr[8:], uint32(min(n+1, math.MaxInt32)))
	k := min(n, len(hdr))
	if _, err := bw.Write(hdr[:k]); err != nil {
		return err
	}
	for n -= k; n > 0; {
		z := bw.AvailableBuffer()[:min(n, bw.Available())]
		if len(z) == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
			continue
		}
		clear(z)
		if _, err := bw.Write(z); err != nil {
			return err
		}
		n -= len(z)
	}
	return nil
}
