package group

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kbin"
)

// The records of KIP-848 (consumer protocol) groups in __consumer_offsets, in Kafka's
// formats (group-coordinator's ConsumerGroup*Key/Value schemas), so that a Kafka broker
// and Kafka's tools read them. kmsg (v1.15) does not have these types: they are encoded
// here with kbin. Keys are not flexible: int16 version, then int16-length strings. Values
// are int16 version 0, then a flexible body (compact strings and arrays, tagged fields).
//
//	key version  key fields               value
//	3            group                    consumerGroupMetadata      (group epoch)
//	4            group                    ConsumerGroupPartitionMetadataValue: deprecated
//	                                      (Kafka 4.1); read and ignored
//	5            group, member            consumerMemberMetadata     (subscription)
//	6            group                    consumerTargetMetadata     (target assignment epoch)
//	7            group, member            consumerTargetMember       (target assignment)
//	8            group, member            consumerCurrentAssignment  (epochs, owned, revoking)
//	16           group, regular expr.     consumerRegex              (resolved topics)
//
// A nil value is a tombstone.
const (
	cgMetadataKeyVersion          = 3
	cgPartitionMetadataKeyVersion = 4
	cgMemberKeyVersion            = 5
	cgTargetMetadataKeyVersion    = 6
	cgTargetMemberKeyVersion      = 7
	cgCurrentAssignmentKeyVersion = 8
	cgRegexKeyVersion             = 16
)

// cgKey is the key of a KIP-848 record: the group and, for per-member records, the
// member id (for the regex record, the regular expression).
type cgKey struct {
	version int16
	group   string
	sub     string // member id or regular expression; "" for group-level records
}

func cgKeyHasSub(version int16) bool {
	switch version {
	case cgMemberKeyVersion, cgTargetMemberKeyVersion, cgCurrentAssignmentKeyVersion, cgRegexKeyVersion:
		return true
	}
	return false
}

func (k cgKey) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, k.version)
	dst = kbin.AppendString(dst, k.group)
	if cgKeyHasSub(k.version) {
		dst = kbin.AppendString(dst, k.sub)
	}
	return dst
}

func decodeCGKey(b []byte) (cgKey, error) {
	r := kbin.Reader{Src: b}
	k := cgKey{version: r.Int16()}
	k.group = r.String()
	if cgKeyHasSub(k.version) {
		k.sub = r.String()
	}
	if err := r.Complete(); err != nil || len(r.Src) != 0 {
		return cgKey{}, fmt.Errorf("%w: key version %d: %d bytes left, %v", errBadRecord, k.version, len(r.Src), err)
	}
	return k, nil
}

// topicPartitions are the partitions of one topic, by topic id, as assignments are
// stored. Epochs, in a member's current assignment, are the member epochs at which each
// partition was assigned (KIP-1251), in a tagged field (tag 0) so that records written
// before them still read; nil when not known.
type topicPartitions struct {
	TopicID    [16]byte
	Partitions []int32
	Epochs     []int32
}

// consumerGroupMetadata is ConsumerGroupMetadataValue v0.
type consumerGroupMetadata struct {
	Epoch          int32
	MetadataHash   int64 // tag 0, Kafka 4.1 (KIP-1101); 0 if absent
	CreationTimeMs int64 // tag 1 (KIP-1282); -1 if absent
}

// classicProtocol is one protocol of a classic member in a consumer group.
type classicProtocol struct {
	Name     string
	Metadata []byte
}

// classicMemberMetadata is what a member using the classic protocol in a consumer group
// keeps (ConsumerGroupMemberMetadataValue's tagged field 0).
type classicMemberMetadata struct {
	SessionTimeoutMs   int32
	SupportedProtocols []classicProtocol
}

// consumerMemberMetadata is ConsumerGroupMemberMetadataValue v0.
type consumerMemberMetadata struct {
	InstanceID           *string
	RackID               *string
	ClientID             string
	ClientHost           string
	SubscribedTopicNames []string
	SubscribedTopicRegex *string
	RebalanceTimeoutMs   int32
	ServerAssignor       *string
	Classic              *classicMemberMetadata // tag 0; nil for a consumer-protocol member
}

// consumerTargetMetadata is ConsumerGroupTargetAssignmentMetadataValue v0.
type consumerTargetMetadata struct {
	AssignmentEpoch int32
}

// consumerTargetMember is ConsumerGroupTargetAssignmentMemberValue v0.
type consumerTargetMember struct {
	TopicPartitions []topicPartitions
}

// consumerCurrentAssignment is ConsumerGroupCurrentMemberAssignmentValue v0.
type consumerCurrentAssignment struct {
	MemberEpoch                 int32
	PreviousMemberEpoch         int32
	State                       int8 // Kafka's MemberState: 1 stable, 2 unrevoked, 3 unreleased partitions
	AssignedPartitions          []topicPartitions
	PartitionsPendingRevocation []topicPartitions
}

// consumerRegex is ConsumerGroupRegularExpressionValue v0: the topics a subscribed
// regular expression resolved to.
type consumerRegex struct {
	Topics    []string
	Version   int64
	Timestamp int64
}

// Encoders. Each value starts with its version (0).

func appendTags(dst []byte, tags ...[]byte) []byte {
	n := 0
	for _, t := range tags {
		if t != nil {
			n++
		}
	}
	dst = kbin.AppendUvarint(dst, uint32(n))
	for i, t := range tags {
		if t != nil {
			dst = kbin.AppendUvarint(dst, uint32(i))
			dst = kbin.AppendUvarint(dst, uint32(len(t)))
			dst = append(dst, t...)
		}
	}
	return dst
}

func appendTopicPartitions(dst []byte, tps []topicPartitions) []byte {
	dst = kbin.AppendCompactArrayLen(dst, len(tps))
	for _, tp := range tps {
		dst = kbin.AppendUuid(dst, tp.TopicID)
		dst = kbin.AppendCompactArrayLen(dst, len(tp.Partitions))
		for _, p := range tp.Partitions {
			dst = kbin.AppendInt32(dst, p)
		}
		var epochs []byte
		if tp.Epochs != nil {
			epochs = kbin.AppendCompactArrayLen(nil, len(tp.Epochs))
			for _, e := range tp.Epochs {
				epochs = kbin.AppendInt32(epochs, e)
			}
		}
		dst = appendTags(dst, epochs)
	}
	return dst
}

func appendStrings(dst []byte, ss []string) []byte {
	dst = kbin.AppendCompactArrayLen(dst, len(ss))
	for _, s := range ss {
		dst = kbin.AppendCompactString(dst, s)
	}
	return dst
}

func (v *consumerGroupMetadata) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = kbin.AppendInt32(dst, v.Epoch)
	var hash, created []byte
	if v.MetadataHash != 0 {
		hash = kbin.AppendInt64(nil, v.MetadataHash)
	}
	if v.CreationTimeMs != -1 {
		created = kbin.AppendInt64(nil, v.CreationTimeMs)
	}
	return appendTags(dst, hash, created)
}

func (v *consumerMemberMetadata) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = kbin.AppendCompactNullableString(dst, v.InstanceID)
	dst = kbin.AppendCompactNullableString(dst, v.RackID)
	dst = kbin.AppendCompactString(dst, v.ClientID)
	dst = kbin.AppendCompactString(dst, v.ClientHost)
	dst = appendStrings(dst, v.SubscribedTopicNames)
	dst = kbin.AppendCompactNullableString(dst, v.SubscribedTopicRegex)
	dst = kbin.AppendInt32(dst, v.RebalanceTimeoutMs)
	dst = kbin.AppendCompactNullableString(dst, v.ServerAssignor)
	var classic []byte
	if c := v.Classic; c != nil {
		classic = kbin.AppendInt8(nil, 1) // a nullable struct: 1 present
		classic = kbin.AppendInt32(classic, c.SessionTimeoutMs)
		classic = kbin.AppendCompactArrayLen(classic, len(c.SupportedProtocols))
		for _, p := range c.SupportedProtocols {
			classic = kbin.AppendCompactString(classic, p.Name)
			classic = kbin.AppendCompactBytes(classic, p.Metadata)
			classic = appendTags(classic)
		}
		classic = appendTags(classic)
	}
	return appendTags(dst, classic)
}

func (v *consumerTargetMetadata) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = kbin.AppendInt32(dst, v.AssignmentEpoch)
	return appendTags(dst)
}

func (v *consumerTargetMember) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = appendTopicPartitions(dst, v.TopicPartitions)
	return appendTags(dst)
}

func (v *consumerCurrentAssignment) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = kbin.AppendInt32(dst, v.MemberEpoch)
	dst = kbin.AppendInt32(dst, v.PreviousMemberEpoch)
	dst = kbin.AppendInt8(dst, v.State)
	dst = appendTopicPartitions(dst, v.AssignedPartitions)
	dst = appendTopicPartitions(dst, v.PartitionsPendingRevocation)
	return appendTags(dst)
}

func (v *consumerRegex) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = appendStrings(dst, v.Topics)
	dst = kbin.AppendInt64(dst, v.Version)
	dst = kbin.AppendInt64(dst, v.Timestamp)
	return appendTags(dst)
}

// Decoders. They never panic, copy what they keep (the input may be reused), bound their
// work by the input's size (every array length is checked against the bytes left, see
// skipTags), and refuse a value with bytes left over or a version other than 0.

// valueReader starts reading a value of version 0.
func valueReader(b []byte) (kbin.Reader, error) {
	r := kbin.Reader{Src: b}
	if v := r.Int16(); v != 0 || !r.Ok() {
		return r, fmt.Errorf("%w: value version %d", errBadRecord, v)
	}
	return r, nil
}

func finish(r *kbin.Reader, what string) error {
	if err := r.Complete(); err != nil || len(r.Src) != 0 {
		return fmt.Errorf("%w: %s: %d bytes left, %v", errBadRecord, what, len(r.Src), err)
	}
	return nil
}

func readCompactArrayLen(r *kbin.Reader) int {
	n := int(r.CompactArrayLen())
	if n < 0 { // null: not allowed for these arrays
		r.Span(len(r.Src) + 1) // marks the reader bad
		return 0
	}
	return n
}

func readStrings(r *kbin.Reader) []string {
	n := readCompactArrayLen(r)
	out := make([]string, 0, n)
	for range n {
		out = append(out, r.CompactString())
		if !r.Ok() {
			return nil
		}
	}
	return out
}

func readTopicPartitions(r *kbin.Reader) []topicPartitions {
	n := readCompactArrayLen(r)
	out := make([]topicPartitions, 0, n)
	for range n {
		tp := topicPartitions{TopicID: r.Uuid()}
		np := readCompactArrayLen(r)
		tp.Partitions = make([]int32, 0, np)
		for range np {
			tp.Partitions = append(tp.Partitions, r.Int32())
		}
		skipTags(r, func(tag uint32, v *kbin.Reader) {
			if tag == 0 {
				readTag(r, v, func() {
					n := readCompactArrayLen(v)
					tp.Epochs = make([]int32, 0, n)
					for range n {
						tp.Epochs = append(tp.Epochs, v.Int32())
					}
				})
			}
		})
		if tp.Epochs != nil && len(tp.Epochs) != len(tp.Partitions) {
			r.Span(len(r.Src) + 1) // an epoch for each partition, or none
		}
		if !r.Ok() {
			return nil
		}
		out = append(out, tp)
	}
	return out
}

// skipTags reads a tagged-field section, calling fn (if not nil) with each field's tag
// and a reader of its bytes. Every field takes at least two bytes, so a count above the
// bytes left is bad input, refused before looping.
func skipTags(r *kbin.Reader, fn func(tag uint32, v *kbin.Reader)) {
	n := r.Uvarint()
	if int64(n)*2 > int64(len(r.Src)) {
		r.Span(len(r.Src) + 1) // marks the reader bad
		return
	}
	for range n {
		tag, size := r.Uvarint(), r.Uvarint()
		v := kbin.Reader{Src: r.Span(int(size))}
		if fn != nil && r.Ok() {
			fn(tag, &v)
		}
	}
}

// readTag runs read on a tagged field's reader and marks r bad if the field is malformed.
func readTag(r, v *kbin.Reader, read func()) {
	read()
	if v.Complete() != nil || len(v.Src) != 0 {
		r.Span(len(r.Src) + 1)
	}
}

func decodeConsumerGroupMetadata(b []byte) (consumerGroupMetadata, error) {
	r, err := valueReader(b)
	if err != nil {
		return consumerGroupMetadata{}, err
	}
	v := consumerGroupMetadata{Epoch: r.Int32(), CreationTimeMs: -1}
	skipTags(&r, func(tag uint32, t *kbin.Reader) {
		switch tag {
		case 0:
			readTag(&r, t, func() { v.MetadataHash = t.Int64() })
		case 1:
			readTag(&r, t, func() { v.CreationTimeMs = t.Int64() })
		}
	})
	return v, finish(&r, "consumer group metadata")
}

func decodeConsumerMemberMetadata(b []byte) (consumerMemberMetadata, error) {
	r, err := valueReader(b)
	if err != nil {
		return consumerMemberMetadata{}, err
	}
	var v consumerMemberMetadata
	v.InstanceID = r.CompactNullableString()
	v.RackID = r.CompactNullableString()
	v.ClientID = r.CompactString()
	v.ClientHost = r.CompactString()
	v.SubscribedTopicNames = readStrings(&r)
	v.SubscribedTopicRegex = r.CompactNullableString()
	v.RebalanceTimeoutMs = r.Int32()
	v.ServerAssignor = r.CompactNullableString()
	skipTags(&r, func(tag uint32, t *kbin.Reader) {
		if tag != 0 {
			return
		}
		readTag(&r, t, func() {
			if t.Int8() < 0 {
				return // null
			}
			c := &classicMemberMetadata{SessionTimeoutMs: t.Int32()}
			n := readCompactArrayLen(t)
			for range n {
				p := classicProtocol{Name: t.CompactString(), Metadata: slices.Clone(t.CompactBytes())}
				skipTags(t, nil)
				if !t.Ok() {
					return
				}
				c.SupportedProtocols = append(c.SupportedProtocols, p)
			}
			skipTags(t, nil)
			v.Classic = c
		})
	})
	return v, finish(&r, "consumer member metadata")
}

func decodeConsumerTargetMetadata(b []byte) (consumerTargetMetadata, error) {
	r, err := valueReader(b)
	if err != nil {
		return consumerTargetMetadata{}, err
	}
	v := consumerTargetMetadata{AssignmentEpoch: r.Int32()}
	skipTags(&r, nil)
	return v, finish(&r, "consumer target assignment metadata")
}

func decodeConsumerTargetMember(b []byte) (consumerTargetMember, error) {
	r, err := valueReader(b)
	if err != nil {
		return consumerTargetMember{}, err
	}
	v := consumerTargetMember{TopicPartitions: readTopicPartitions(&r)}
	skipTags(&r, nil)
	return v, finish(&r, "consumer target assignment member")
}

func decodeConsumerCurrentAssignment(b []byte) (consumerCurrentAssignment, error) {
	r, err := valueReader(b)
	if err != nil {
		return consumerCurrentAssignment{}, err
	}
	var v consumerCurrentAssignment
	v.MemberEpoch, v.PreviousMemberEpoch, v.State = r.Int32(), r.Int32(), r.Int8()
	v.AssignedPartitions = readTopicPartitions(&r)
	v.PartitionsPendingRevocation = readTopicPartitions(&r)
	skipTags(&r, nil)
	return v, finish(&r, "consumer current member assignment")
}

func decodeConsumerRegex(b []byte) (consumerRegex, error) {
	r, err := valueReader(b)
	if err != nil {
		return consumerRegex{}, err
	}
	v := consumerRegex{Topics: readStrings(&r)}
	v.Version, v.Timestamp = r.Int64(), r.Int64()
	skipTags(&r, nil)
	return v, finish(&r, "consumer regular expression")
}
