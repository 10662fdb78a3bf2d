package group

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record formats in __consumer_offsets are Kafka's, so Kafka tools can read them:
//
//	key version 0/1  kmsg.OffsetCommitKey    value kmsg.OffsetCommitValue (written as v3)
//	key version 2    kmsg.GroupMetadataKey   value kmsg.GroupMetadataValue (written as v3)
//	key version 3-8, 16                      KIP-848 consumer groups (formats848.go)
//	key version 9-15                         share groups (Options.Shares: package share)
//
// A nil value is a tombstone (offset deleted, group deleted). The coordinator runtime
// (package coord) writes them in RecordBatch v2 batches (internal/records), one batch per
// write, and replays any batch the partition holds, compressed or not.
const (
	offsetKeyVersion   = 1
	offsetValueVersion = 3
	groupKeyVersion    = 2
	groupValueVersion  = 3
)

// errBadRecord marks a record in __consumer_offsets that cannot be decoded.
var errBadRecord = errors.New("group: undecodable __consumer_offsets record")

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

func offsetValue(o committed) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	v.Offset = o.offset
	v.LeaderEpoch = o.leaderEpoch
	v.Metadata = o.metadata
	v.CommitTimestamp = o.commitTime.UnixMilli()
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: group}
	return k.AppendTo(nil)
}

// isShareRecord reports whether key is a share group's (key versions 9–15, Kafka's
// ShareGroup* records): Options.Shares replays them.
func isShareRecord(key []byte) bool {
	if len(key) < 2 {
		return false
	}
	v := int16(key[0])<<8 | int16(key[1])
	return v >= 9 && v <= 15
}

// replayRecord applies one record of the partition to the shard's groups; pid >= 0: the
// record belongs to that producer's transaction (an offset commit kept pending until its
// marker). key and value are valid only during the call: what is kept is copied.
func (sh *shard) replayRecord(key, value []byte, pid int64) error {
	if len(key) < 2 {
		return errBadRecord
	}
	switch version := int16(key[0])<<8 | int16(key[1]); version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("%w: offset key: %v", errBadRecord, err)
		}
		tp := TopicPartition{Topic: k.Topic, Partition: k.Partition}
		if value == nil {
			if g := sh.lookup(k.Group); g != nil {
				delete(g.offsets, tp)
				sh.dropIfUnusedReplay(g)
			}
			return nil
		}
		var v kmsg.OffsetCommitValue // ReadFrom copies its strings
		if err := v.ReadFrom(value); err != nil {
			return fmt.Errorf("%w: offset value: %v", errBadRecord, err)
		}
		le := int32(-1)
		if v.Version >= 3 {
			le = v.LeaderEpoch
		}
		g := sh.getOrCreate(k.Group)
		c := committed{offset: v.Offset, leaderEpoch: le, metadata: v.Metadata, commitTime: time.UnixMilli(v.CommitTimestamp)}
		if pid >= 0 {
			g.addPendingLocked(pid, tp, c)
			return nil
		}
		g.offsets[tp] = c
		return nil
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("%w: group key: %v", errBadRecord, err)
		}
		if value == nil {
			if g := sh.lookup(k.Group); g != nil {
				g.resetMetadata()
				sh.dropIfUnusedReplay(g)
			}
			return nil
		}
		var v kmsg.GroupMetadataValue
		// The members' subscriptions and assignments alias what ReadFrom reads.
		if err := v.ReadFrom(bytes.Clone(value)); err != nil {
			return fmt.Errorf("%w: group value: %v", errBadRecord, err)
		}
		g := sh.getOrCreate(k.Group)
		g.loadMetadata(&v)
		return nil
	case cgMetadataKeyVersion, cgPartitionMetadataKeyVersion, cgMemberKeyVersion, cgTargetMetadataKeyVersion,
		cgTargetMemberKeyVersion, cgCurrentAssignmentKeyVersion, cgRegexKeyVersion:
		return sh.replayConsumerRecord(key, value)
	default:
		return fmt.Errorf("%w: key version %d", errBadRecord, version)
	}
}
