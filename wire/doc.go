// Package wire frames Kafka requests and responses and decodes request headers. Bodies are
// franz-go kmsg types: wire parses only what kmsg does not, namely the size prefix and the
// request and response headers.
//
// Request frame (big endian):
//
//	size            int32   bytes that follow
//	api_key         int16
//	api_version     int16
//	correlation_id  int32
//	client_id       nullable string (int16 length, -1 = null)      header v1+
//	tagged_fields   uvarint count, then (uvarint tag, uvarint len,
//	                bytes) per field                               header v2 (flexible)
//	body            the kmsg request at api_version
//
// Response frame:
//
//	size            int32
//	correlation_id  int32
//	tagged_fields   one 0 byte: empty tag buffer                   header v1 (flexible),
//	                                                               never for ApiVersions
//	body            the kmsg response at the request's version
//
// Usage: a connection reads frames with ReadFrame (the size limit is enforced before any
// allocation; a frame up to ExactFrameSize is read into one buffer of its size, a larger
// one in growing chunks so memory follows the bytes that arrive; ReadFrameAlloc with a
// FramePool recycles the buffers of requests that no longer alias them), reads the fixed prefix with ParseHeaderPrefix to pick a handler or answer
// an unsupported ApiVersions (KIP-511), then Decode for the header and the kmsg body.
// Decoded bodies may alias the frame: give each frame its own buffer while its request is
// in use. Responses are framed with AppendResponse; AppendRequest frames requests for tests
// and tools.
//
// Errors: framing and header errors wrap ErrMalformed, a size above the limit is
// ErrFrameTooLarge, an API key kmsg does not know is ErrUnknownAPI, and a short read is
// io.ErrUnexpectedEOF (io.EOF only before the first byte of a frame). wire performs no I/O
// beyond ReadFrame and never panics on malformed input (FuzzDecode). Decode checks the body
// against its schema (package wire/schema) before kmsg decodes it: kmsg trusts counts (it
// loops over a tagged-field count past the end of the data, and allocates an array before
// reading its elements), so only a body whose every count and length fits in the frame
// reaches it, and decoding any frame costs time and memory in proportion to its size
// (FuzzDecodeCounts). The header's tagged fields are capped at 10,000 as the body's are.
//
// Concurrency: the functions are pure and safe for concurrent use; a buffer passed to
// ReadFrame belongs to one caller at a time.
package wire
