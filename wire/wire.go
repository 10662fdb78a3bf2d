package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire/schema"
)

// DefaultMaxRequestSize is the default of socket.request.max.bytes.
const DefaultMaxRequestSize = 100 << 20

var (
	// ErrMalformed marks a request whose framing or header cannot be decoded.
	ErrMalformed = errors.New("wire: malformed request")
	// ErrFrameTooLarge is returned by ReadFrame for a frame above the size limit; the
	// connection must be closed since the rest of the frame is not read.
	ErrFrameTooLarge = errors.New("wire: request frame too large")
	// ErrUnknownAPI is returned by Decode for an API key kmsg does not know.
	ErrUnknownAPI = errors.New("wire: unknown api key")
)

// RequestHeader is a decoded request header.
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      string
	// Flexible reports whether the request uses header v2 with tagged fields, and so
	// whether the response header carries a tag buffer.
	Flexible bool
}

// ReadFrame reads one size-prefixed frame from r into buf (grown as needed) and returns the
// frame body. A size above limit or below the fixed header size is an error before anything
// is allocated. See ReadFrameAlloc for how a large frame's memory is allocated.
func ReadFrame(r io.Reader, buf []byte, limit int32) ([]byte, error) {
	return ReadFrameAlloc(r, limit, func(n int) []byte {
		if cap(buf) >= n {
			return buf[:n]
		}
		return make([]byte, n)
	})
}

// ReadFrameAlloc reads one size-prefixed frame from r and returns the frame body, in a
// buffer from alloc (which returns a slice of exactly n bytes). A size above limit or below
// the fixed header size is an error before anything is allocated. A frame of up to
// ExactFrameSize bytes is read into one buffer of its size (one allocation, no copy);
// a larger one is read in chunks that double, so that memory follows the bytes that
// actually arrive rather than the size a peer claims (only the first ExactFrameSize bytes
// come from alloc).
func ReadFrameAlloc(r io.Reader, limit int32, alloc func(n int) []byte) ([]byte, error) {
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(sz[:]))
	if n < 8 {
		return nil, fmt.Errorf("%w: frame size %d", ErrMalformed, n)
	}
	if n > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d (socket.request.max.bytes)", ErrFrameTooLarge, n, limit)
	}
	size := int(n)
	first := min(size, ExactFrameSize)
	buf := alloc(first)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, unexpectedEOF(err)
	}
	for len(buf) < size {
		chunk := min(size-len(buf), len(buf))
		buf = slices.Grow(buf, chunk)
		if _, err := io.ReadFull(r, buf[len(buf):len(buf)+chunk]); err != nil {
			return nil, unexpectedEOF(err)
		}
		buf = buf[:len(buf)+chunk]
	}
	return buf, nil
}

// ExactFrameSize is the largest frame ReadFrame allocates in one piece when its size is
// read: a peer that claims more must send the bytes before it gets the memory.
const ExactFrameSize = 8 << 20

// FramePool recycles frame buffers of at least minPooledFrame bytes by power-of-two size
// class, up to ExactFrameSize. Get returns a slice of exactly n bytes (its contents are
// not zeroed); Put gives a buffer back once nothing aliases it. Safe for concurrent use;
// the zero value is ready.
type FramePool struct {
	classes [poolClasses]sync.Pool // of *[]byte; class i holds cap minPooledFrame<<i
}

const (
	// 1 KiB: a produce of one small record (linger 0, a paced producer) is a frame of a
	// few hundred bytes to a few KiB, one per request.
	minPooledFrame = 1 << 10
	poolClasses    = 14 // 1 KiB .. 8 MiB
)

func frameClass(n int) int {
	if n <= minPooledFrame {
		return 0
	}
	return bits.Len(uint(n-1)) - bits.Len(uint(minPooledFrame-1))
}

// Get returns a buffer of length n.
func (p *FramePool) Get(n int) []byte {
	if n < minPooledFrame/2 || n > ExactFrameSize {
		return make([]byte, n)
	}
	c := frameClass(n)
	if bp, ok := p.classes[c].Get().(*[]byte); ok && cap(*bp) >= n {
		return (*bp)[:n]
	}
	return make([]byte, n, minPooledFrame<<c)
}

// Put returns b to the pool. Buffers not from Get of a pooled size are dropped.
func (p *FramePool) Put(b []byte) {
	c := cap(b)
	if c < minPooledFrame || c > ExactFrameSize || c&(c-1) != 0 {
		return
	}
	b = b[:0]
	p.classes[frameClass(c)].Put(&b)
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ParseHeaderPrefix decodes the fixed part of a request header (api key, version,
// correlation id) that every version shares. The server reads it first so that it can
// answer requests of unsupported versions (KIP-511) without decoding the rest.
func ParseHeaderPrefix(frame []byte) (RequestHeader, error) {
	if len(frame) < 8 {
		return RequestHeader{}, fmt.Errorf("%w: %d byte header", ErrMalformed, len(frame))
	}
	be := binary.BigEndian
	return RequestHeader{
		APIKey:        int16(be.Uint16(frame[0:])),
		APIVersion:    int16(be.Uint16(frame[2:])),
		CorrelationID: int32(be.Uint32(frame[4:])),
	}, nil
}

// Decode decodes a whole request frame (as returned by ReadFrame): the header, then the
// body with kmsg at the header's version. The returned header is filled in as far as it
// was decoded, also on error, so that the caller can still answer with the correlation id.
func Decode(frame []byte) (RequestHeader, kmsg.Request, error) {
	h, err := ParseHeaderPrefix(frame)
	if err != nil {
		return h, nil, err
	}
	req := kmsg.RequestForKey(h.APIKey)
	if req == nil {
		return h, nil, fmt.Errorf("%w: %d", ErrUnknownAPI, h.APIKey)
	}
	if h.APIVersion < 0 || h.APIVersion > req.MaxVersion() {
		return h, nil, fmt.Errorf("%w: %s version %d", ErrMalformed, kmsg.NameForKey(h.APIKey), h.APIVersion)
	}
	req.SetVersion(h.APIVersion)
	h.Flexible = req.IsFlexible()
	b := frame[8:]
	// client_id: nullable string with an int16 length (never compact, even in header v2).
	if len(b) < 2 {
		return h, nil, fmt.Errorf("%w: short client id", ErrMalformed)
	}
	n := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n > 0 {
		if int(n) > len(b) {
			return h, nil, fmt.Errorf("%w: client id of %d bytes, %d left", ErrMalformed, n, len(b))
		}
		h.ClientID = string(b[:n])
		b = b[n:]
	} else if n < -1 {
		return h, nil, fmt.Errorf("%w: client id length %d", ErrMalformed, n)
	}
	if h.Flexible {
		if b, err = skipTags(b); err != nil {
			return h, nil, err
		}
	}
	// kmsg trusts the counts it reads (it loops over a tagged-field count after the
	// bytes run out, and allocates an array before reading its elements): it gets only
	// bodies whose every count and length fits in the frame.
	if err := schema.Check(h.APIKey, h.APIVersion, b); err != nil {
		return h, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := req.ReadFrom(b); err != nil {
		return h, nil, fmt.Errorf("%w: %s v%d body: %v", ErrMalformed, kmsg.NameForKey(h.APIKey), h.APIVersion, err)
	}
	return h, req, nil
}

// skipTags skips a tagged-field section and returns what follows it.
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > schema.MaxTaggedFields || count > uint64(len(b)) {
		return nil, fmt.Errorf("%w: tagged fields", ErrMalformed)
	}
	b = b[n:]
	for range count {
		if _, n = binary.Uvarint(b); n <= 0 { // tag
			return nil, fmt.Errorf("%w: tag", ErrMalformed)
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: tag size", ErrMalformed)
		}
		b = b[n+int(size):]
	}
	return b, nil
}

// AppendResponse appends a whole response frame (size, header, body) to dst. The response
// must already carry the request's version. ApiVersions responses always use header v0.
func AppendResponse(dst []byte, h RequestHeader, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.CorrelationID))
	if h.Flexible && h.APIKey != (&kmsg.ApiVersionsRequest{}).Key() {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// AppendRequest appends a whole request frame for req at its set version; used by tests
// and tools that speak to a broker without a client library.
func AppendRequest(dst []byte, correlationID int32, clientID string, req kmsg.Request) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.Key()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.GetVersion()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clientID)))
	dst = append(dst, clientID...)
	if req.IsFlexible() {
		dst = append(dst, 0)
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
