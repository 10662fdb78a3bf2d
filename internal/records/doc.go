// Package records looks inside Kafka RecordBatch v2 byte strings: it decompresses them,
// decodes and encodes their records, re-compresses batches with another codec and checks
// the records where the broker must (keys on compacted topics). It sits beside
// internal/batch, which only reads and validates the 61-byte header; the broker stores
// and serves batches verbatim and calls this package only where semantics need the
// records: broker-side re-compression (compression.type), key validation on compacted
// topics, compaction, and lookups by timestamp inside a batch (Find, for ListOffsets).
//
// # Wire formats
//
// The codec is bits 0-2 of the batch attributes; everything after the 61-byte header is
// the compressed records section:
//
//	codec id  name    format read                           format written
//	0         none    records as is                         records as is
//	1         gzip    RFC 1952, one or more members         one member
//	2         snappy  raw snappy block, or xerial framing   xerial framing, 32 KiB chunks
//	3         lz4     LZ4 frame (not the legacy format)     LZ4 frame, 64 KiB blocks
//	4         zstd    zstd frame(s)                         one zstd frame
//
// Xerial framing is what the Java client writes (snappy-java's SnappyOutputStream);
// librdkafka and franz-go write raw blocks when a batch is compressed in one call, and
// franz-go writes xerial when it streams. Both are read:
//
//	offset size field
//	     0    8 magic 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
//	     8    4 version (1), big endian
//	    12    4 minimum compatible version (1), big endian
//	    16    … chunks: 4-byte big-endian length, then a raw snappy block of that length
//
// Each record (Kafka's v2 record format, encoded and decoded with franz-go's kmsg):
//
//	varint length | int8 attributes | varlong timestampDelta | varint offsetDelta |
//	varint keyLength (-1 = null) | key | varint valueLength (-1 = null) | value |
//	varint headerCount | headers: varint keyLength | key | varint valueLength | value
//
// A record must be canonically encoded (re-encoding its fields gives back its bytes);
// otherwise decoding would lose something, and the batch is reported corrupt.
//
// # Legacy message formats (magic 0 and 1)
//
// Produce v0-v2 carry, and Fetch v0-v3 expect, the message sets of Kafka 0.8-0.10: a
// sequence of messages, big endian, the magic byte at offset 16 as in a RecordBatch v2
// (IsLegacy tells them apart):
//
//	offset size field
//	     0    8 offset          absolute; relative (0…n-1) inside a magic 1 wrapper
//	     8    4 size            bytes after this field
//	    12    4 crc             CRC-32 (IEEE) of the bytes after it
//	    16    1 magic           0 or 1
//	    17    1 attributes      bits 0-2 codec (none, gzip, snappy, lz4), bit 3 LogAppendTime (1)
//	    18    8 timestamp       magic 1 only (-1: none)
//	     …    4 key length      -1: null
//	     …      key
//	     …    4 value length    -1: null
//	     …      value
//
// A compressed message (a wrapper) has a null key and holds, compressed in its value, the
// message set of its inner messages; its offset is the absolute offset of the last one.
// LZ4 frames of magic 0 carry a wrong header checksum (KAFKA-3160): it is ignored when
// read and written so when down-converting, as Kafka's broker does (lz4legacy.go).
//
// The log holds RecordBatch v2 only: ConvertMessageSet turns a produced message set into
// one batch (Kafka's LogValidator rules), DownConvert turns a stored batch into messages
// for an old fetcher (Kafka's RecordsUtil.downConvert rules). DecodeMessageSet, Inner,
// ReadMessage and AppendMessage are the codec underneath.
//
// # Limits and errors
//
// Decompression is bounded by Options.MaxDecompressedBytes (64 MiB by default) for every
// codec: claimed sizes (snappy, zstd frame headers) are checked before allocating, and
// streamed output (gzip, lz4) is cut at the limit; beyond it the error wraps ErrTooLarge.
// No input bytes make the package panic. Errors wrap batch.ErrCorrupt (the bytes are not
// a valid batch: CRC, corrupt compressed data, unparsable records, CORRUPT_MESSAGE) or
// batch.ErrInvalid (a well-formed batch the broker refuses: ErrNoKey, ErrTooLarge,
// ErrUnsupportedCodec, offset deltas or counts a producer does not write, INVALID_RECORD).
//
// # Pooling and concurrency
//
// A Processor holds sync.Pools of gzip, lz4 and zstd encoders and decoders (zstd decoders
// with concurrency 1, low-memory mode and their maximum memory set to the limit, so they
// start no goroutines) and of scratch buffers for decompressed records (at most 4 MiB
// each is kept). A Processor is safe for concurrent use; one per broker is enough, and
// the package-level functions use Default(). A Reader is for one goroutine.
package records
