package schema_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire/schema"
)

// metadataV12 is a Metadata v12 body with one topic named "t": compact array (2),
// topic id, compact nullable string (2 't'), topic tags (0), two bools, tags (0).
func metadataV12() []byte {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	name := "t"
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
	return req.AppendTo(nil)
}

func uvar(u uint64) []byte { return binary.AppendUvarint(nil, u) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// tags returns a tag section of n unknown tags (tag 100, empty value: two bytes each).
func tags(n int) []byte {
	return cat(uvar(uint64(n)), bytes.Repeat([]byte{100, 0}, n))
}

// TestSchemaHostile: hostile counts and lengths are refused, each quickly (the check is
// linear in the body), and their well-formed neighbours are accepted.
func TestSchemaHostile(t *testing.T) {
	md := metadataV12()
	topicEnd := len(md) - 3                   // before the two bools and the top-level tags
	produceV3 := func(topics []byte) []byte { // null txn id, acks, timeout, topics
		return cat([]byte{0xff, 0xff, 0, 1, 0, 0, 0, 100}, topics)
	}
	fetchV12 := func(top []byte) []byte { // replica, wait, min, max, isolation, session, epoch
		return cat(make([]byte, 4*4+1+4+4), top)
	}
	tests := []struct {
		name    string
		key, v  int16
		body    []byte
		wantErr bool
	}{
		{"metadata v12 as kmsg encodes it", 3, 12, md, false},
		{"tag count 0xffffffff at top level", 3, 12, cat(md[:len(md)-1], uvar(0xffffffff)), true},
		{"tag count 0xffffffff in a topic", 3, 12, cat(md[:topicEnd-1], uvar(0xffffffff), md[topicEnd:]), true},
		{"tag count beyond 32 bits", 3, 12, cat(md[:len(md)-1], []byte{0xff, 0xff, 0xff, 0xff, 0x1f}), true},
		{"uvarint of six bytes", 3, 12, cat(md[:len(md)-1], bytes.Repeat([]byte{0xff}, 6)), true},
		{"10,000 tags", 3, 12, cat(md[:len(md)-1], tags(10_000)), false},
		{"10,001 tags", 3, 12, cat(md[:len(md)-1], tags(10_001)), true},
		{"tag count beyond the bytes", 3, 12, cat(md[:len(md)-1], uvar(5), []byte{100, 0}), true},
		{"tag size beyond the bytes", 3, 12, cat(md[:len(md)-1], uvar(1), uvar(100), uvar(1<<30)), true},
		{"compact array of 2^31-1", 3, 12, cat(uvar(1<<31), md[1:]), true},
		{"compact array of 2^32-2", 3, 12, cat(uvar(1<<32-1), md[1:]), true},
		{"compact null array (nullable)", 3, 12, cat(uvar(0), md[len(md)-3:]), false},
		{"compact string beyond the frame", 3, 12, cat(md[:18], uvar(1000), md[19:]), true},
		{"array of 2^31-1", 0, 3, produceV3([]byte{0x7f, 0xff, 0xff, 0xff}), true},
		{"array of -2 (not nullable)", 0, 3, produceV3([]byte{0xff, 0xff, 0xff, 0xfe}), true},
		{"empty array", 0, 3, produceV3([]byte{0, 0, 0, 0}), false},
		{"string of 0x7fff in 3 bytes", 0, 3, produceV3([]byte{0, 0, 0, 1, 0x7f, 0xff, 'a', 'b', 'c'}), true},
		{"string of -1 (not nullable)", 0, 3, produceV3([]byte{0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0}), true},
		{"records of 2^31-1", 0, 3, produceV3([]byte{0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}), true},
		{"null records", 0, 3, produceV3([]byte{0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}), false},
		{"nested: partitions of 2^31-1 in a topic", 0, 3, produceV3([]byte{0, 0, 0, 1, 0, 1, 't', 0x7f, 0xff, 0xff, 0xff}), true},
		{"fetch v12 no topics", 1, 12, fetchV12([]byte{1, 1, 1, 0}), false},
		{"nested: compact partitions of 2^32-2 in a topic", 1, 12, fetchV12(cat([]byte{2, 2, 't'}, uvar(1<<32-1))), true},
		{"known tag with a short value", 1, 12, fetchV12([]byte{1, 1, 1, 1, 1, 3, 0, 0, 0}), true},
		{"known tag with its value", 1, 12, fetchV12(cat([]byte{1, 1, 1, 1, 1, 13}, make([]byte, 13))), false},
		{"known tag, null in a nullable string", 1, 12, fetchV12([]byte{1, 1, 1, 1, 0, 1, 0}), false},
		{"compact non-nullable bytes as null", 36, 2, []byte{0, 0}, true}, // SASLAuthenticate v2
		{"truncated int64", 22, 3, []byte{0, 1, 'x', 0, 0, 0, 1, 0, 0, 0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := schema.Check(tt.key, tt.v, tt.body)
			if (err != nil) != tt.wantErr {
				t.Fatalf("%s v%d: err %v, want error %v\nbody % x", kmsg.NameForKey(tt.key), tt.v, err, tt.wantErr, tt.body)
			}
			if err != nil && !errors.Is(err, schema.ErrMalformed) {
				t.Fatalf("err %v does not wrap ErrMalformed", err)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

// TestSchemaCheckAllocates: a well-formed body is checked without allocating.
func TestSchemaCheckAllocates(t *testing.T) {
	md := metadataV12()
	if n := testing.AllocsPerRun(100, func() {
		if err := schema.Check(3, 12, md); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per Check", n)
	}
}
