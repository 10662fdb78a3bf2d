package schema_test

import (
	"errors"
	"flag"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil/kfill"
	"github.com/stratalog/strata/wire/schema"
)

var seed = flag.Uint64("seed", 0, "seed of the random requests (0: a new one)")

func testRand(t *testing.T) *rand.Rand {
	s := *seed
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("-seed %d", s)
	return rand.New(rand.NewPCG(s, s))
}

// TestSchemaMatchesKmsg proves the schema describes what kmsg encodes: for every API and
// version kmsg knows, requests filled with random values and encoded by kmsg are accepted,
// every byte consumed.
func TestSchemaMatchesKmsg(t *testing.T) {
	r := testRand(t)
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		if req := kmsg.RequestForKey(key); req != nil && schema.MaxVersion(key) != req.MaxVersion() {
			t.Errorf("%s: schema max version %d, kmsg %d (run go generate after bumping franz-go)",
				kmsg.NameForKey(key), schema.MaxVersion(key), req.MaxVersion())
		}
	}
	n := 0
	kfill.Each(func(key, v int16) {
		for range 30 {
			body := kfill.Request(r, key, v).AppendTo(nil)
			rest, err := schema.CheckRest(key, v, body)
			if err != nil || len(rest) != 0 {
				t.Fatalf("%s v%d: %d bytes left, %v\nbody % x", kmsg.NameForKey(key), v, len(rest), err, body)
			}
			if err := schema.Check(key, v, body); err != nil {
				t.Fatal(err)
			}
			n++
		}
	})
	t.Logf("%d random requests", n)
}

func TestSchemaUnknown(t *testing.T) {
	for _, kv := range [][2]int16{{-1, 0}, {kmsg.MaxKey + 1, 0}, {3, -1}, {3, 99}, {1000, 0}} {
		if err := schema.Check(kv[0], kv[1], nil); !errors.Is(err, schema.ErrMalformed) {
			t.Errorf("key %d v%d: %v", kv[0], kv[1], err)
		}
	}
}
