package kfill

import (
	"fmt"
	"math/rand/v2"
	"reflect"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request returns request key at version v with every field random.
func Request(r *rand.Rand, key, v int16) kmsg.Request {
	req := kmsg.RequestForKey(key)
	if req == nil {
		panic(fmt.Sprintf("kfill: no request %d", key))
	}
	f := filler{r: r}
	f.fill(reflect.ValueOf(req).Elem())
	req.SetVersion(v)
	return req
}

// Each calls fn for every API key and version kmsg knows.
func Each(fn func(key, v int16)) {
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		if req := kmsg.RequestForKey(key); req != nil {
			for v := int16(0); v <= req.MaxVersion(); v++ {
				fn(key, v)
			}
		}
	}
}

type filler struct {
	r     *rand.Rand
	depth int
}

var tagsType = reflect.TypeFor[kmsg.Tags]()

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
				// Tags from 1000 up: above every tag kmsg knows.
				v.Addr().Interface().(*kmsg.Tags).Set(uint32(1000+f.r.IntN(100)), []byte(f.str()))
			}
			return
		}
		for i := range v.NumField() {
			if sf := v.Type().Field(i); sf.IsExported() && sf.Name != "Version" {
				f.fill(v.Field(i))
			}
		}
	default:
		panic("kfill: unhandled kind " + v.Type().String())
	}
}

func (f *filler) str() string {
	b := make([]byte, f.r.IntN(6))
	for i := range b {
		b[i] = byte('a' + f.r.IntN(26))
	}
	return string(b)
}
