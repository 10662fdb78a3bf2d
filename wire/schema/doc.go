// Package schema checks the structure of Kafka request bodies before they are decoded,
// at a cost proportional to their size.
//
// Why: kmsg, which decodes request bodies, trusts the counts it reads. A tagged-field
// count of 0xFFFFFFFF in a 93-byte Metadata v12 body kept a core busy for 46 seconds
// (kmsg loops over the count after the bytes run out), and an array count allocates that
// many Go structs before a single element is read. Check walks the body once against the
// request's schema and refuses it unless every count and length fits in the bytes that
// follow it, null appears only where the field and version allow it, and no struct has
// more than MaxTaggedFields tagged fields; kmsg then decodes only bodies that are
// structurally sound, so its loops and allocations are bounded by the frame's size.
// Record batches (ProduceRequest's records) are bytes here: one length check.
//
// Usage: wire.Decode calls Check(key, version, body) before kmsg's ReadFrom; Known and
// MaxVersion tell which requests the schema covers.
//
// Where the schemas come from: requests_gen.go is generated (go generate) from the
// protocol definitions that kmsg itself is generated from, franz-go's
// generate/definitions in the franz-go module of go.mod (franz-go checks them against
// Apache Kafka's JSON message definitions in its CI). They describe every request API
// kmsg knows at every version from 0 to kmsg's MaxVersion in one set: the versions
// KIP-896 removed in Kafka 4.0 (Produce v0–2, Fetch v0–3, ListOffsets v0 …), which
// Kafka 4.x's JSON files no longer describe, and the versions newer than any Kafka JSON
// this project can read (Produce v13, Fetch v18, share groups, streams groups …), which
// Kafka 3.9's do not. Apache Kafka's own JSON files were the first choice; no single
// Kafka release covers kmsg's range, and merging two releases would still leave the
// newest versions out, while kmsg's definitions match what kmsg encodes by
// construction. TestSchemaMatchesKmsg proves it for every API and version: kmsg encodes
// a randomly filled request and Check must accept it, consuming every byte. After
// bumping franz-go and kmsg, run go generate here; that test fails if they disagree.
//
// Where kmsg and Kafka's JSON disagree, the schema follows kmsg, our codec. Run against
// Apache Kafka 3.9's JSON with franz-go's own checker (generate/validate_test.go), the
// request schemas agree at every version both describe except in two ZooKeeper-era
// inter-broker requests that Kafka 4.0 removed: StopReplica v4 (Kafka puts
// IsKRaftController before ControllerEpoch, kmsg after; both fixed width, so the same
// bodies pass) and UpdateMetadata v8 (Kafka's tagged field 0, Type, is an unknown tag to
// kmsg: its size is checked, not its value). Kafka 3.9 lacks 29 of kmsg's requests' newest
// versions and APIs 88–94 altogether.
//
// Rules that follow Kafka where kmsg is more lenient (Kafka's broker refuses these too):
// a null (negative length, or compact 0) in a non-nullable array or bytes field is
// refused (kmsg reads it as empty), and a string longer than 32,767 bytes is refused.
//
// Concurrency: Check is a pure function, safe for concurrent use.
package schema

//go:generate go run ./internal/gen -out requests_gen.go
