package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// MaxTaggedFields is the most tagged fields one struct of a request may carry (Kafka 4.x
// refuses more than 10,000 too). Every tagged field takes at least two bytes, so a frame
// also cannot carry more than half its size.
const MaxTaggedFields = 10_000

// maxStringLen is the longest string Kafka accepts (an int16 length; a compact string
// longer than this is refused by Kafka too).
const maxStringLen = math.MaxInt16

// ErrMalformed marks a request body that does not match its schema.
var ErrMalformed = errors.New("schema: malformed request body")

// kind is the wire type of a field.
type kind uint8

const (
	kBool kind = iota
	kInt8
	kInt16
	kUint16
	kInt32
	kUint32
	kInt64
	kFloat64
	kUUID
	kVarint
	kVarlong
	kString
	kBytes
	kArray
	kStruct
)

// fixedSize is the size of each fixed-width kind, 0 for the others.
var fixedSize = [...]int{kBool: 1, kInt8: 1, kInt16: 2, kUint16: 2, kInt32: 4, kUint32: 4,
	kInt64: 8, kFloat64: 8, kUUID: 16, kVarint: 0, kVarlong: 0, kString: 0, kBytes: 0,
	kArray: 0, kStruct: 0}

// always and never bound version ranges: a field in every version has max always, a
// field that is never null has nullFrom never.
const (
	always = math.MaxInt16
	never  = math.MaxInt16
)

// field is one field of a request struct, or the element of an array.
type field struct {
	name     string
	kind     kind
	min, max int16   // the versions that carry the field
	nullFrom int16   // the first version at which it may be null, or never
	tag      int32   // the tag of a tagged field, or -1 for a field in the body
	elem     *field  // the element of an array
	fields   []field // the fields of a struct
}

// message is the body of one request API.
type message struct {
	name     string
	max      int16 // the highest version
	flexFrom int16 // the first flexible version, or never
	fields   []field
}

// Known reports whether the schema describes request key at version v.
func Known(key, v int16) bool {
	return key >= 0 && int(key) < len(requests) && requests[key].name != "" && v >= 0 && v <= requests[key].max
}

// MaxVersion returns the highest version of request key the schema describes, or -1.
func MaxVersion(key int16) int16 {
	if key < 0 || int(key) >= len(requests) || requests[key].name == "" {
		return -1
	}
	return requests[key].max
}

// Check reports whether body is a structurally sound body of request key at version v:
// every length and count fits in the bytes that follow it, every null is in a field and
// version that allow it, no struct carries more than MaxTaggedFields tagged fields, and
// the known tagged fields hold values of their types. It costs time in proportion to
// len(body) and allocates nothing unless it fails. Bytes after the body are allowed, as
// Kafka and kmsg allow them. The error wraps ErrMalformed and names the field.
func Check(key, v int16, body []byte) error {
	if !Known(key, v) {
		return fmt.Errorf("%w: no schema for api key %d version %d", ErrMalformed, key, v)
	}
	m := &requests[key]
	c := checker{v: v, flex: v >= m.flexFrom}
	if _, err := c.structure(body, m.fields); err != nil {
		return fmt.Errorf("%w: %s v%d: %v", ErrMalformed, m.name, v, err)
	}
	return nil
}

// checker walks a body at one version.
type checker struct {
	v    int16
	flex bool
}

// fieldError is a failure at a path of field names, built as the walk unwinds.
type fieldError struct {
	path string
	what string
}

func (e *fieldError) Error() string {
	if e.path == "" {
		return e.what
	}
	return e.path + ": " + e.what
}

func errAt(name string, err error) error {
	if fe, ok := err.(*fieldError); ok {
		if fe.path == "" || fe.path[0] == '[' {
			fe.path = name + fe.path
		} else {
			fe.path = name + "." + fe.path
		}
		return fe
	}
	return err
}

func fail(format string, args ...any) error {
	return &fieldError{what: fmt.Sprintf(format, args...)}
}

func short() error { return &fieldError{what: "truncated"} }

// structure checks the fields of a struct, then its tagged fields in a flexible version,
// and returns what follows.
func (c *checker) structure(b []byte, fields []field) ([]byte, error) {
	var err error
	for i := range fields {
		f := &fields[i]
		if c.v < f.min || c.v > f.max || f.tag >= 0 {
			continue
		}
		if sz := fixedSize[f.kind]; sz > 0 { // the common case, inline
			if len(b) < sz {
				return nil, errAt(f.name, short())
			}
			b = b[sz:]
			continue
		}
		if b, err = c.value(b, f); err != nil {
			return nil, errAt(f.name, err)
		}
	}
	if !c.flex {
		return b, nil
	}
	if len(b) > 0 && b[0] == 0 { // no tagged fields: the common case, inline
		return b[1:], nil
	}
	return c.tagged(b, fields)
}

// tagged checks a tagged-field section: the count, then per field a tag, a size and
// the value; the value of a tag the struct knows at this version must be of its type.
func (c *checker) tagged(b []byte, fields []field) ([]byte, error) {
	n, b, ok := uvarint(b)
	if !ok {
		return nil, fail("tagged field count: bad uvarint")
	}
	if n > MaxTaggedFields || int(n) > len(b)/2 {
		return nil, fail("%d tagged fields in %d bytes (at most %d)", n, len(b), MaxTaggedFields)
	}
	for range n {
		var tag, size uint32
		if tag, b, ok = uvarint(b); !ok {
			return nil, fail("tag: bad uvarint")
		}
		if size, b, ok = uvarint(b); !ok {
			return nil, fail("tag %d size: bad uvarint", tag)
		}
		if uint64(size) > uint64(len(b)) {
			return nil, fail("tag %d of %d bytes, %d left", tag, size, len(b))
		}
		val := b[:size]
		b = b[size:]
		for i := range fields {
			f := &fields[i]
			if f.tag == int32(tag) && c.v >= f.min && c.v <= f.max {
				if _, err := c.value(val, f); err != nil {
					return nil, errAt(f.name, err)
				}
				break
			}
		}
	}
	return b, nil
}

// nullable reports whether f may be null at this version.
func (c *checker) nullable(f *field) bool { return c.v >= f.nullFrom }

// value checks one value of f's kind and returns what follows it.
func (c *checker) value(b []byte, f *field) ([]byte, error) {
	switch f.kind {
	case kVarint:
		_, rest, ok := uvarint(b) // zigzag: the same bytes as a uvarint
		if !ok {
			return nil, fail("bad varint")
		}
		return rest, nil
	case kVarlong:
		if _, n := binary.Varint(b); n <= 0 {
			return nil, fail("bad varlong")
		} else {
			return b[n:], nil
		}
	case kString, kBytes:
		n, null, rest, err := c.length(b, f)
		if err != nil || null {
			return rest, err
		}
		if f.kind == kString && n > maxStringLen {
			return nil, fail("string of %d bytes (at most %d)", n, maxStringLen)
		}
		if n > len(rest) {
			return nil, fail("%d bytes, %d left", n, len(rest))
		}
		return rest[n:], nil
	case kArray:
		n, null, rest, err := c.length(b, f)
		if err != nil || null {
			return rest, err
		}
		if n > len(rest) {
			return nil, fail("array of %d, %d bytes left", n, len(rest))
		}
		return c.array(rest, f.elem, n)
	case kStruct:
		if c.nullable(f) {
			if len(b) < 1 {
				return nil, short()
			}
			present := int8(b[0])
			if b = b[1:]; present == -1 {
				return b, nil
			}
		}
		return c.structure(b, f.fields)
	default:
		if sz := fixedSize[f.kind]; len(b) >= sz {
			return b[sz:], nil
		}
		return nil, short()
	}
}

// array checks n elements of elem. Fixed-width elements are checked at once; the walk
// over other elements stops when one takes no bytes (a struct with no field at this
// version: every element is empty), so it never loops more than once per byte.
func (c *checker) array(b []byte, elem *field, n int) ([]byte, error) {
	if sz := fixedSize[elem.kind]; sz > 0 {
		if n*sz > len(b) {
			return nil, fail("array of %d × %d bytes, %d left", n, sz, len(b))
		}
		return b[n*sz:], nil
	}
	for i := range n {
		before := len(b)
		var err error
		if b, err = c.value(b, elem); err != nil {
			return nil, errAt(fmt.Sprintf("[%d]", i), err)
		}
		if len(b) == before {
			break
		}
	}
	return b, nil
}

// length reads the length of a string, bytes or array: compact (uvarint of length+1,
// 0 for null) in a flexible version, else int16 (strings) or int32. A negative length
// is null, allowed only where f is nullable at this version.
func (c *checker) length(b []byte, f *field) (n int, null bool, rest []byte, err error) {
	if c.flex {
		u, rest, ok := uvarint(b)
		if !ok {
			return 0, false, nil, fail("length: bad uvarint")
		}
		if u == 0 {
			if !c.nullable(f) {
				return 0, false, nil, fail("null in a non-nullable field")
			}
			return 0, true, rest, nil
		}
		if u-1 > math.MaxInt32 { // int(u-1) stays positive on 32-bit platforms too
			return 0, false, nil, fail("length %d", u-1)
		}
		return int(u - 1), false, rest, nil
	}
	var l int
	if f.kind == kString {
		if len(b) < 2 {
			return 0, false, nil, short()
		}
		l, b = int(int16(binary.BigEndian.Uint16(b))), b[2:]
	} else {
		if len(b) < 4 {
			return 0, false, nil, short()
		}
		l, b = int(int32(binary.BigEndian.Uint32(b))), b[4:]
	}
	if l < 0 {
		if !c.nullable(f) {
			return 0, false, nil, fail("length %d in a non-nullable field", l)
		}
		return 0, true, b, nil
	}
	return l, false, b, nil
}

// uvarint reads an unsigned varint of at most 32 bits (five bytes, the last at most
// 0x0f), as Kafka and kmsg read one.
func uvarint(b []byte) (uint32, []byte, bool) {
	var x uint32
	for i := 0; i < 5 && i < len(b); i++ {
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, nil, false
		}
		x |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, b[i+1:], true
		}
	}
	return 0, nil, false
}
