package schema_test

import (
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil/kfill"
	"github.com/stratalog/strata/wire/schema"
)

// FuzzSchemaCheck checks arbitrary bodies of every API and version. Invariants: no
// panic; a body Check accepts is one kmsg decodes (Check refuses more than kmsg, never
// less: what it accepts is structurally sound); and Check of the same bytes with more
// appended still accepts (trailing bytes are allowed). The corpus holds a random request
// of every API and version kmsg knows.
func FuzzSchemaCheck(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 5))
	kfill.Each(func(key, v int16) {
		f.Add(key, v, kfill.Request(r, key, v).AppendTo(nil))
	})
	f.Fuzz(func(t *testing.T, key, v int16, body []byte) {
		if err := schema.Check(key, v, body); err != nil {
			return
		}
		req := kmsg.RequestForKey(key)
		req.SetVersion(v)
		if err := req.ReadFrom(body); err != nil {
			t.Fatalf("%s v%d: Check accepts what kmsg refuses: %v\nbody % x", kmsg.NameForKey(key), v, err, body)
		}
		if err := schema.Check(key, v, append(body, 0, 1, 2)); err != nil {
			t.Fatalf("trailing bytes: %v", err)
		}
	})
}
