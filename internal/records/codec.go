package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/stratalog/strata/internal/batch"
)

// xerialMagic starts a snappy payload framed the way the Java client's snappy-java
// SnappyOutputStream writes it. It is followed by two big-endian int32s (version and
// minimum compatible version, both 1) and then by chunks: a big-endian int32 length and a
// raw snappy block of that many bytes.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	xerialHeaderSize = 16
	// xerialBlockSize is the uncompressed size of each chunk we write (the Java default).
	xerialBlockSize = 32 << 10
)

// codecNames are Kafka's names of the codecs, indexed by codec id.
var codecNames = [...]string{"none", "gzip", "snappy", "lz4", "zstd"}

// CodecName returns Kafka's name of a batch codec id ("none", "gzip", …).
func CodecName(codec int) string {
	if codec >= 0 && codec < len(codecNames) {
		return codecNames[codec]
	}
	return fmt.Sprintf("codec(%d)", codec)
}

func checkCodec(codec int) error {
	if codec < batch.CodecNone || codec > batch.CodecZstd {
		return fmt.Errorf("%w: %d", ErrUnsupportedCodec, codec)
	}
	return nil
}

// appendWriter is an io.Writer appending to a slice; encoders write into it.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

type gzipDecoder struct {
	r   gzip.Reader
	src bytes.Reader
}

type lz4Decoder struct {
	r   *lz4.Reader
	src bytes.Reader
}

type gzipEncoder struct {
	w   *gzip.Writer
	dst appendWriter
}

type lz4Encoder struct {
	w   *lz4.Writer
	dst appendWriter
}

// codecs holds the pooled encoders and decoders of one Processor. The pools depend on the
// Processor's options (levels, size limit), so they are not package globals.
type codecs struct {
	limit   int
	gzipDec sync.Pool // *gzipDecoder
	lz4Dec  sync.Pool // *lz4Decoder
	zstdDec sync.Pool // *zstd.Decoder
	gzipEnc sync.Pool // *gzipEncoder
	lz4Enc  sync.Pool // *lz4Encoder
	zstdEnc sync.Pool // *zstd.Encoder
}

func (c *codecs) init(o *Options) error {
	c.limit = o.MaxDecompressedBytes
	gzipLevel, lz4Level, zstdLevel := o.GzipLevel, lz4LevelOf(o.Lz4Level), zstd.EncoderLevelFromZstd(o.ZstdLevel)
	// Build one of each encoder now so that bad levels fail in New, not on first use.
	if _, err := gzip.NewWriterLevel(io.Discard, gzipLevel); err != nil {
		return fmt.Errorf("records: gzip level %d: %w", gzipLevel, err)
	}
	lw := lz4.NewWriter(io.Discard)
	if err := lw.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.CompressionLevelOption(lz4Level)); err != nil {
		return fmt.Errorf("records: lz4 level %d: %w", o.Lz4Level, err)
	}
	c.gzipDec.New = func() any { return new(gzipDecoder) }
	c.lz4Dec.New = func() any { return &lz4Decoder{r: lz4.NewReader(nil)} }
	c.zstdDec.New = func() any {
		// Concurrency 1 starts no goroutines, so a dropped pooled decoder leaks nothing.
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(uint64(c.limit)),
		)
		if err != nil {
			return err
		}
		return d
	}
	c.gzipEnc.New = func() any {
		e := new(gzipEncoder)
		e.w, _ = gzip.NewWriterLevel(&e.dst, gzipLevel) // level checked above
		return e
	}
	c.lz4Enc.New = func() any {
		e := new(lz4Encoder)
		e.w = lz4.NewWriter(&e.dst)
		_ = e.w.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.CompressionLevelOption(lz4Level)) // checked above
		return e
	}
	c.zstdEnc.New = func() any {
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderLevel(zstdLevel),
			zstd.WithZeroFrames(true),
		)
		if err != nil {
			return err
		}
		return e
	}
	return nil
}

// lz4LevelOf maps Kafka's compression.lz4.level (1-17) onto pierrec/lz4's levels: 0 is
// the fast compressor, 1-9 are lz4 levels 1-9, and anything above 9 is level 9.
func lz4LevelOf(level int) lz4.CompressionLevel {
	switch {
	case level <= 0:
		return lz4.Fast
	case level >= 9:
		return lz4.Level9
	default:
		return lz4.Level1 << (level - 1)
	}
}

// Compress appends the compressed form of src to dst using codec (batch.CodecNone …
// batch.CodecZstd) and returns the extended slice. CodecNone appends src as is. Snappy is
// written in the xerial framing (as the Java broker and client write it), lz4 as an LZ4
// frame with 64 KiB blocks, gzip and zstd as standard frames.
func (p *Processor) Compress(dst, src []byte, codec int) ([]byte, error) {
	c := &p.codecs
	switch codec {
	case batch.CodecNone:
		return append(dst, src...), nil
	case batch.CodecGzip:
		e := c.gzipEnc.Get().(*gzipEncoder)
		defer c.gzipEnc.Put(e)
		e.dst.b = dst
		e.w.Reset(&e.dst)
		_, err := e.w.Write(src)
		if err == nil {
			err = e.w.Close()
		}
		out := e.dst.b
		e.dst.b = nil
		if err != nil {
			return dst, fmt.Errorf("records: gzip compress: %w", err)
		}
		return out, nil
	case batch.CodecSnappy:
		return appendXerial(dst, src), nil
	case batch.CodecLZ4:
		e := c.lz4Enc.Get().(*lz4Encoder)
		defer c.lz4Enc.Put(e)
		e.dst.b = dst
		e.w.Reset(&e.dst)
		_, err := e.w.Write(src)
		if err == nil {
			err = e.w.Close()
		}
		out := e.dst.b
		e.dst.b = nil
		e.w.Reset(nil)
		if err != nil {
			return dst, fmt.Errorf("records: lz4 compress: %w", err)
		}
		return out, nil
	case batch.CodecZstd:
		v := c.zstdEnc.Get()
		e, ok := v.(*zstd.Encoder)
		if !ok {
			return dst, fmt.Errorf("records: zstd encoder: %v", v)
		}
		defer c.zstdEnc.Put(e)
		return e.EncodeAll(src, dst), nil
	}
	return dst, checkCodec(codec)
}

// appendXerial appends src to dst as xerial-framed snappy.
func appendXerial(dst, src []byte) []byte {
	dst = append(dst, xerialMagic...)
	dst = binary.BigEndian.AppendUint32(dst, 1) // version
	dst = binary.BigEndian.AppendUint32(dst, 1) // minimum compatible version
	for len(src) > 0 {
		n := min(len(src), xerialBlockSize)
		room := s2.MaxEncodedLen(n)
		dst = slices.Grow(dst, 4+room)
		at := len(dst)
		// EncodeSnappy writes from the start of the slice it is given when it has room.
		blk := s2.EncodeSnappy(dst[at+4:at+4+room], src[:n])
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(blk)))
		dst = dst[:at+4+len(blk)]
		src = src[n:]
	}
	return dst
}

// Decompress appends the decompressed form of src to dst and returns the extended slice.
// It never produces more than the Processor's MaxDecompressedBytes: beyond it, it returns
// an error wrapping ErrTooLarge. Malformed input yields an error wrapping batch.ErrCorrupt.
// Snappy input may be raw snappy or xerial-framed; gzip input may hold several members.
func (p *Processor) Decompress(dst, src []byte, codec int) ([]byte, error) {
	c := &p.codecs
	start := len(dst)
	var (
		out []byte
		err error
	)
	switch codec {
	case batch.CodecNone:
		if len(src) > c.limit {
			return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(src), c.limit)
		}
		return append(dst, src...), nil
	case batch.CodecGzip:
		d := c.gzipDec.Get().(*gzipDecoder)
		d.src.Reset(src)
		if err = d.r.Reset(&d.src); err == nil {
			out, err = readLimited(dst, &d.r, len(src), c.limit)
		}
		d.src.Reset(nil)
		c.gzipDec.Put(d)
	case batch.CodecSnappy:
		out, err = decodeSnappy(dst, src, c.limit)
	case batch.CodecLZ4:
		d := c.lz4Dec.Get().(*lz4Decoder)
		d.src.Reset(src)
		d.r.Reset(&d.src)
		out, err = readLimited(dst, d.r, len(src), c.limit)
		d.r.Reset(nil)
		d.src.Reset(nil)
		c.lz4Dec.Put(d)
	case batch.CodecZstd:
		v := c.zstdDec.Get()
		d, ok := v.(*zstd.Decoder)
		if !ok {
			return dst, fmt.Errorf("records: zstd decoder: %v", v)
		}
		out, err = d.DecodeAll(src, dst)
		c.zstdDec.Put(d)
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			err = fmt.Errorf("%w: zstd: %w", ErrTooLarge, err)
		}
		if err == nil && len(out)-start > c.limit {
			err = fmt.Errorf("%w: zstd output over %d bytes", ErrTooLarge, c.limit)
		}
	default:
		return dst, checkCodec(codec)
	}
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return dst, err
		}
		return dst, fmt.Errorf("%w: %s: %w", batch.ErrCorrupt, CodecName(codec), err)
	}
	return out, nil
}

// readLimited reads r to EOF, appending to dst, and fails with ErrTooLarge as soon as more
// than limit bytes have been produced. srcLen sizes the first allocation.
func readLimited(dst []byte, r io.Reader, srcLen, limit int) ([]byte, error) {
	start := len(dst)
	dst = slices.Grow(dst, min(max(4*srcLen, 512), limit+1))
	for {
		if len(dst) == cap(dst) {
			if len(dst)-start > limit {
				return dst, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
			}
			// Double, but never past one byte beyond the limit (enough to detect it).
			dst = slices.Grow(dst, min(max(len(dst)-start, 512), limit+1-(len(dst)-start)))
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

var errXerial = errors.New("malformed xerial snappy framing")

// decodeSnappy appends the decoding of a raw snappy block or of xerial-framed snappy.
func decodeSnappy(dst, src []byte, limit int) ([]byte, error) {
	if len(src) < xerialHeaderSize || !bytes.Equal(src[:len(xerialMagic)], xerialMagic) {
		return decodeSnappyBlock(dst, src, limit)
	}
	start := len(dst)
	// First pass: check the framing and the claimed sizes before allocating.
	total := 0
	for rem := src[xerialHeaderSize:]; len(rem) > 0; {
		if len(rem) < 4 {
			return dst, fmt.Errorf("%w: %d trailing bytes", errXerial, len(rem))
		}
		n := binary.BigEndian.Uint32(rem)
		rem = rem[4:]
		if uint64(n) > uint64(len(rem)) {
			return dst, fmt.Errorf("%w: chunk of %d bytes, %d left", errXerial, n, len(rem))
		}
		l, err := s2.DecodedLen(rem[:n])
		if err != nil {
			return dst, err
		}
		total += l
		if total > limit {
			return dst, fmt.Errorf("%w: snappy chunks claim over %d bytes", ErrTooLarge, limit)
		}
		rem = rem[n:]
	}
	dst = slices.Grow(dst, total)
	for rem := src[xerialHeaderSize:]; len(rem) > 0; {
		n := binary.BigEndian.Uint32(rem)
		var err error
		if dst, err = decodeSnappyBlock(dst, rem[4:4+n], limit-(len(dst)-start)); err != nil {
			return dst, err
		}
		rem = rem[4+n:]
	}
	return dst, nil
}

// decodeSnappyBlock appends the decoding of one raw snappy block, of at most limit bytes.
func decodeSnappyBlock(dst, src []byte, limit int) ([]byte, error) {
	l, err := s2.DecodedLen(src)
	if err != nil {
		return dst, err
	}
	if l > limit {
		return dst, fmt.Errorf("%w: snappy block claims %d bytes, limit %d", ErrTooLarge, l, limit)
	}
	at := len(dst)
	dst = slices.Grow(dst, l)
	out, err := s2.Decode(dst[at:at+l], src)
	if err != nil {
		return dst, err
	}
	if len(out) != l || (l > 0 && &out[0] != &dst[at : at+1][0]) {
		return dst, fmt.Errorf("snappy: decoded %d bytes, header says %d", len(out), l)
	}
	return dst[:at+l], nil
}
