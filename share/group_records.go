package share

import (
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kbin"
)

// The records of share groups in __consumer_offsets, in the formats of Kafka's group
// coordinator (group-coordinator's ShareGroup*Key/Value schemas), beside the consumer
// groups' records (package group). Keys are not flexible: int16 version, then int16-length
// strings. Values are int16 version 0, then a flexible body.
//
//	key version  key fields      value
//	9            group           ShareGroupPartitionMetadataValue: deprecated; ignored
//	10           group, member   ShareGroupMemberMetadataValue: RackId (nullable),
//	                             ClientId, ClientHost, SubscribedTopicNames
//	11           group           ShareGroupMetadataValue: Epoch (the group epoch)
//	12           group           ShareGroupTargetAssignmentMetadataValue: AssignmentEpoch
//	13           group, member   ShareGroupTargetAssignmentMemberValue: TopicPartitions
//	14           group, member   ShareGroupCurrentMemberAssignmentValue: MemberEpoch,
//	                             PreviousMemberEpoch, State (1 stable), AssignedPartitions
//	15           group           ShareGroupStatePartitionMetadataValue: InitializingTopics,
//	                             InitializedTopics ([]TopicPartitionsInfo: TopicId,
//	                             TopicName, Partitions), DeletingTopics ([]TopicInfo:
//	                             TopicId, TopicName); Strata writes only InitializedTopics
//
// A nil value is a tombstone. Tagged fields are skipped on read.
const (
	sgPartitionMetadataKey      int16 = 9
	sgMemberKey                 int16 = 10
	sgMetadataKey               int16 = 11
	sgTargetMetadataKey         int16 = 12
	sgTargetMemberKey           int16 = 13
	sgCurrentAssignmentKey      int16 = 14
	sgStatePartitionMetadataKey int16 = 15
)

// memberStable is Kafka's MemberState STABLE: a share group member always is.
const memberStable int8 = 1

// errBadGroupRecord marks a share group record of __consumer_offsets that cannot be
// decoded.
var errBadGroupRecord = fmt.Errorf("share: undecodable share group record of __consumer_offsets")

// isGroupRecord reports whether key is the key of a share group record of
// __consumer_offsets (versions 9–15): the records Groups replays (OpenPartition).
func isGroupRecord(key []byte) bool {
	if len(key) < 2 {
		return false
	}
	v := int16(key[0])<<8 | int16(key[1])
	return v >= sgPartitionMetadataKey && v <= sgStatePartitionMetadataKey
}

// groupKey is the key of a share group record: the group and, for per-member records,
// the member id.
type groupKey struct {
	version       int16
	group, member string
}

func groupKeyHasMember(version int16) bool {
	return version == sgMemberKey || version == sgTargetMemberKey || version == sgCurrentAssignmentKey
}

func (k groupKey) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, k.version)
	dst = kbin.AppendString(dst, k.group)
	if groupKeyHasMember(k.version) {
		dst = kbin.AppendString(dst, k.member)
	}
	return dst
}

func decodeGroupKey(b []byte) (groupKey, error) {
	r := kbin.Reader{Src: b}
	k := groupKey{version: r.Int16()}
	if !isGroupRecord(b) {
		return groupKey{}, fmt.Errorf("%w: key version %d", errBadGroupRecord, k.version)
	}
	k.group = r.String()
	if groupKeyHasMember(k.version) {
		k.member = r.String()
	}
	if err := r.Complete(); err != nil || len(r.Src) != 0 {
		return groupKey{}, fmt.Errorf("%w: key version %d: %d bytes left, %v", errBadGroupRecord, k.version, len(r.Src), err)
	}
	return k, nil
}

// memberValue is ShareGroupMemberMetadataValue.
type memberValue struct {
	RackID               *string
	ClientID, ClientHost string
	Topics               []string
}

// currentValue is ShareGroupCurrentMemberAssignmentValue (also, with only Assigned,
// ShareGroupTargetAssignmentMemberValue).
type currentValue struct {
	MemberEpoch, PreviousMemberEpoch int32
	State                            int8
	Assigned                         Assignment
}

func (v *memberValue) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = kbin.AppendCompactNullableString(dst, v.RackID)
	dst = kbin.AppendCompactString(dst, v.ClientID)
	dst = kbin.AppendCompactString(dst, v.ClientHost)
	dst = kbin.AppendCompactArrayLen(dst, len(v.Topics))
	for _, t := range v.Topics {
		dst = kbin.AppendCompactString(dst, t)
	}
	return kbin.AppendUvarint(dst, 0)
}

// appendEpochValue appends ShareGroupMetadataValue or
// ShareGroupTargetAssignmentMetadataValue: one int32.
func appendEpochValue(dst []byte, epoch int32) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = kbin.AppendInt32(dst, epoch)
	return kbin.AppendUvarint(dst, 0)
}

// appendAssignment appends an assignment as TopicPartitions, topics in byte order.
func appendAssignment(dst []byte, a Assignment) []byte {
	ids := slices.SortedFunc(maps.Keys(a), compareIDs)
	dst = kbin.AppendCompactArrayLen(dst, len(ids))
	for _, id := range ids {
		dst = kbin.AppendUuid(dst, id)
		dst = kbin.AppendCompactArrayLen(dst, len(a[id]))
		for _, p := range a[id] {
			dst = kbin.AppendInt32(dst, p)
		}
		dst = kbin.AppendUvarint(dst, 0)
	}
	return dst
}

func appendTargetValue(dst []byte, a Assignment) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = appendAssignment(dst, a)
	return kbin.AppendUvarint(dst, 0)
}

func (v *currentValue) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = kbin.AppendInt32(dst, v.MemberEpoch)
	dst = kbin.AppendInt32(dst, v.PreviousMemberEpoch)
	dst = kbin.AppendInt8(dst, v.State)
	dst = appendAssignment(dst, v.Assigned)
	return kbin.AppendUvarint(dst, 0)
}

// Decoders: as records.go's, they never panic, bound their work by the input's size and
// refuse bytes left over.

// readLen reads a compact array length whose elements take at least min bytes each.
func readLen(r *kbin.Reader, min int) int {
	n := int(r.CompactArrayLen())
	if n < 0 || n*min > len(r.Src) {
		bad(r)
		return 0
	}
	return n
}

func readAssignment(r *kbin.Reader) Assignment {
	n := readLen(r, 16+1+1)
	a := make(Assignment, n)
	for range n {
		id := r.Uuid()
		np := readLen(r, 4)
		parts := make([]int32, 0, np)
		for range np {
			parts = append(parts, r.Int32())
		}
		skipTags(r, nil)
		if !r.Ok() {
			return nil
		}
		a[id] = append(a[id], parts...)
	}
	return a
}

func decodeMemberValue(b []byte) (memberValue, error) {
	r, err := valueReader(b)
	if err != nil {
		return memberValue{}, err
	}
	var v memberValue
	v.RackID = r.CompactNullableString()
	v.ClientID, v.ClientHost = r.CompactString(), r.CompactString()
	n := readLen(&r, 1)
	v.Topics = make([]string, 0, n)
	for range n {
		v.Topics = append(v.Topics, r.CompactString())
	}
	skipTags(&r, nil)
	return v, finish(&r, "share group member metadata")
}

func decodeEpochValue(b []byte) (int32, error) {
	r, err := valueReader(b)
	if err != nil {
		return 0, err
	}
	e := r.Int32()
	skipTags(&r, nil)
	return e, finish(&r, "share group epoch")
}

func decodeTargetValue(b []byte) (Assignment, error) {
	r, err := valueReader(b)
	if err != nil {
		return nil, err
	}
	a := readAssignment(&r)
	skipTags(&r, nil)
	return a, finish(&r, "share group target assignment")
}

func decodeCurrentValue(b []byte) (currentValue, error) {
	r, err := valueReader(b)
	if err != nil {
		return currentValue{}, err
	}
	v := currentValue{MemberEpoch: r.Int32(), PreviousMemberEpoch: r.Int32(), State: r.Int8()}
	v.Assigned = readAssignment(&r)
	skipTags(&r, nil)
	return v, finish(&r, "share group current assignment")
}

// initTopic is a topic's entry in ShareGroupStatePartitionMetadataValue: its name and
// partitions (sorted).
type initTopic struct {
	name  string
	parts []int32
}

// statePartitionsValue is ShareGroupStatePartitionMetadataValue: the share-partitions of
// the group being initialized, initialized, and the topics whose states are being
// deleted (Kafka's group coordinator's bookkeeping of InitializeShareGroupState and
// DeleteShareGroupState).
type statePartitionsValue struct {
	Initializing, Initialized map[[16]byte]initTopic
	Deleting                  map[[16]byte]string
}

func appendInitTopics(dst []byte, ts map[[16]byte]initTopic) []byte {
	ids := slices.SortedFunc(maps.Keys(ts), compareIDs)
	dst = kbin.AppendCompactArrayLen(dst, len(ids))
	for _, id := range ids {
		dst = kbin.AppendUuid(dst, id)
		dst = kbin.AppendCompactString(dst, ts[id].name)
		dst = kbin.AppendCompactArrayLen(dst, len(ts[id].parts))
		for _, p := range ts[id].parts {
			dst = kbin.AppendInt32(dst, p)
		}
		dst = kbin.AppendUvarint(dst, 0)
	}
	return dst
}

func (v *statePartitionsValue) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = appendInitTopics(dst, v.Initializing)
	dst = appendInitTopics(dst, v.Initialized)
	ids := slices.SortedFunc(maps.Keys(v.Deleting), compareIDs)
	dst = kbin.AppendCompactArrayLen(dst, len(ids))
	for _, id := range ids {
		dst = kbin.AppendUuid(dst, id)
		dst = kbin.AppendCompactString(dst, v.Deleting[id])
		dst = kbin.AppendUvarint(dst, 0)
	}
	return kbin.AppendUvarint(dst, 0)
}

func readInitTopics(r *kbin.Reader) map[[16]byte]initTopic {
	n := readLen(r, 16+1+1+1)
	out := make(map[[16]byte]initTopic, n)
	for range n {
		id := r.Uuid()
		t := initTopic{name: r.CompactString()}
		np := readLen(r, 4)
		t.parts = make([]int32, 0, np)
		for range np {
			t.parts = append(t.parts, r.Int32())
		}
		skipTags(r, nil)
		if !r.Ok() {
			return nil
		}
		slices.Sort(t.parts)
		out[id] = t
	}
	return out
}

func decodeStatePartitionsValue(b []byte) (statePartitionsValue, error) {
	r, err := valueReader(b)
	if err != nil {
		return statePartitionsValue{}, err
	}
	v := statePartitionsValue{Initializing: readInitTopics(&r), Initialized: readInitTopics(&r)}
	n := readLen(&r, 16+1+1)
	v.Deleting = make(map[[16]byte]string, n)
	for range n {
		id := r.Uuid()
		v.Deleting[id] = r.CompactString()
		skipTags(&r, nil)
	}
	skipTags(&r, nil)
	return v, finish(&r, "share group state partition metadata")
}
