// Package batch reads and validates the header of Kafka RecordBatch v2 (magic 2) byte
// strings without decoding their records. It is the one place that knows the v2 layout;
// the storage layers and the server use it on the produce path (validation, offset
// stamping) and in recovery (scanning a segment).
//
// Layout of a RecordBatch v2 header (big endian, 61 bytes), followed by the records:
//
//	offset size field                  CRC covers
//	     0    8 baseOffset             no
//	     8    4 batchLength            no   (bytes after this field)
//	    12    4 partitionLeaderEpoch   no
//	    16    1 magic (= 2)            no
//	    17    4 crc (CRC-32C)          no
//	    21    2 attributes             yes  (bits 0-2 codec, 3 timestamp type,
//	                                         4 transactional, 5 control)
//	    23    4 lastOffsetDelta        yes
//	    27    8 baseTimestamp          yes
//	    35    8 maxTimestamp           yes
//	    43    8 producerId             yes
//	    51    2 producerEpoch          yes
//	    53    4 baseSequence           yes
//	    57    4 recordCount            yes
//	    61    … records                yes
//
// Because the CRC does not cover baseOffset and partitionLeaderEpoch, the broker stamps
// them into the received bytes without recomputing it.
//
// Functions here never panic on malformed input; they return errors wrapping ErrCorrupt
// (the bytes are not a valid batch) or ErrInvalid (a well-formed batch that the broker must
// refuse, such as an unsupported magic).
//
// It imports nothing of Strata (the layers above, internal/records included, build on it).
package batch
