package records

import (
	"encoding/binary"
	"math/bits"
)

// KAFKA-3160: Kafka's first LZ4 stream code computed the frame descriptor's header
// checksum (HC, the byte after FLG, BD and the optional content size) over the 4 magic
// bytes as well. Clients of message format 0 (Kafka 0.8-0.9, librdkafka, kafka-python,
// Sarama before 0.10) write and expect that wrong byte; since magic 1 the checksum is
// the LZ4 specification's. Kafka's broker ignores the byte when it reads magic 0 and
// writes the wrong one when it down-converts to magic 0; so does Strata.

const (
	lz4FrameMagic     = 0x184D2204
	lz4FlagContentLen = 0x08 // FLG bit 3: an 8-byte content size follows BD
	lz4FlagDictID     = 0x01 // FLG bit 0: a 4-byte dictionary id follows
)

// lz4HeaderChecksumAt returns where the HC byte of the LZ4 frame b is, or -1 when b does
// not start with a complete LZ4 frame header.
func lz4HeaderChecksumAt(b []byte) int {
	if len(b) < 7 || binary.LittleEndian.Uint32(b) != lz4FrameMagic {
		return -1
	}
	at := 6
	if b[4]&lz4FlagContentLen != 0 {
		at += 8
	}
	if b[4]&lz4FlagDictID != 0 {
		at += 4
	}
	if at >= len(b) {
		return -1
	}
	return at
}

// fixLZ4HeaderChecksum rewrites the HC byte of the LZ4 frame b in place: the
// specification's (xxh32 of the descriptor, FLG to the byte before HC) when broken is
// false, the KAFKA-3160 one (xxh32 from the frame magic on) when true. Bytes that are not
// an LZ4 frame are returned unchanged (the decoder then reports them).
func fixLZ4HeaderChecksum(b []byte, broken bool) []byte {
	at := lz4HeaderChecksumAt(b)
	if at < 0 {
		return b
	}
	from := 4
	if broken {
		from = 0
	}
	b[at] = byte(xxh32(b[from:at]) >> 8)
	return b
}

// xxh32 primes (the xxHash specification); variables, so that sums wrap around.
var xxPrime1, xxPrime2, xxPrime3, xxPrime4, xxPrime5 uint32 = 2654435761, 2246822519, 3266489917, 668265263, 374761393

// xxh32 is XXH32 with seed 0 (the xxHash specification), for the few bytes of an LZ4
// frame descriptor.
func xxh32(b []byte) uint32 {
	n := uint32(len(b))
	var h uint32
	if len(b) >= 16 {
		v1, v2, v3, v4 := xxPrime1+xxPrime2, xxPrime2, uint32(0), -xxPrime1
		round := func(acc, in uint32) uint32 { return bits.RotateLeft32(acc+in*xxPrime2, 13) * xxPrime1 }
		for ; len(b) >= 16; b = b[16:] {
			v1 = round(v1, binary.LittleEndian.Uint32(b))
			v2 = round(v2, binary.LittleEndian.Uint32(b[4:]))
			v3 = round(v3, binary.LittleEndian.Uint32(b[8:]))
			v4 = round(v4, binary.LittleEndian.Uint32(b[12:]))
		}
		h = bits.RotateLeft32(v1, 1) + bits.RotateLeft32(v2, 7) + bits.RotateLeft32(v3, 12) + bits.RotateLeft32(v4, 18)
	} else {
		h = xxPrime5
	}
	h += n
	for ; len(b) >= 4; b = b[4:] {
		h += binary.LittleEndian.Uint32(b) * xxPrime3
		h = bits.RotateLeft32(h, 17) * xxPrime4
	}
	for _, c := range b {
		h += uint32(c) * xxPrime5
		h = bits.RotateLeft32(h, 11) * xxPrime1
	}
	h ^= h >> 15
	h *= xxPrime2
	h ^= h >> 13
	h *= xxPrime3
	h ^= h >> 16
	return h
}
