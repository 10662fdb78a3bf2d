package schema_test

import (
	"errors"
	"flag"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

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

// filler fills kmsg request structs with random values by reflection: non-empty arrays
// (or nil, which is null where the field is nullable), strings, nil or set pointers
// (nullable strings and structs), every tagged field set, and unknown tags.
type filler struct {
	r     *rand.Rand
	depth int
}

var tagsType = reflect.TypeOf(kmsg.Tags{})

func (f *filler) fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(f.r.IntN(2) == 1)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(f.r.Uint64()) >> (64 - v.Type().Bits()))
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(f.r.Uint64() >> (64 - v.Type().Bits()))
	case reflect.Float64:
		v.SetFloat(f.r.Float64())
	case reflect.String:
		v.SetString(f.str())
	case reflect.Array: // uuid
		for i := range v.Len() {
			f.fill(v.Index(i))
		}
	case reflect.Pointer:
		if f.r.IntN(3) == 0 {
			v.SetZero()
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem())
	case reflect.Slice:
		if f.r.IntN(5) == 0 {
			v.SetZero()
			return
		}
		n := 1 + f.r.IntN(3)
		if f.depth > 3 {
			n = 1
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		f.depth++
		for i := range n {
			f.fill(s.Index(i))
		}
		f.depth--
		v.Set(s)
	case reflect.Struct:
		if v.Type() == tagsType {
			if f.r.IntN(2) == 0 {
				t := v.Addr().Interface().(*kmsg.Tags)
				t.Set(uint32(1000+f.r.IntN(100)), []byte(f.str()))
			}
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).Name == "Version" || !v.Type().Field(i).IsExported() {
				continue
			}
			f.fill(v.Field(i))
		}
	default:
		panic("filler: unhandled kind " + v.Kind().String() + " " + v.Type().String())
	}
}

func (f *filler) str() string {
	b := make([]byte, f.r.IntN(6))
	for i := range b {
		b[i] = byte('a' + f.r.IntN(26))
	}
	return string(b)
}

// forEachRequest calls fn for every API key and version kmsg knows.
func forEachRequest(t *testing.T, fn func(t *testing.T, key, v int16)) {
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			fn(t, key, v)
		}
	}
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
	forEachRequest(t, func(t *testing.T, key, v int16) {
		for range 30 {
			req := kmsg.RequestForKey(key)
			(&filler{r: r}).fill(reflect.ValueOf(req).Elem())
			req.SetVersion(v)
			body := req.AppendTo(nil)
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
