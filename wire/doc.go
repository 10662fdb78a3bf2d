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
// wire performs no I/O beyond ReadFrame and never panics on malformed input: every
// decoding error wraps ErrMalformed.
package wire
