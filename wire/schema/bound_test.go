package schema

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxGoBytesPerWireByte bounds what kmsg allocates per byte of a body that Check accepts:
// for an array, one Go element per element on the wire (made before the elements are
// read, so a count of 2^31 once meant gigabytes), and for a nullable struct or string,
// one Go value per presence (the worst today is 40: StreamsGroupHeartbeat's Topology).
// Unknown tags add a small map per struct that has them; wire's fuzzers assert the
// budget of whole frames, maps included.
const maxGoBytesPerWireByte = 64

// TestSchemaDecodedSizeBound proves that the memory kmsg allocates for a body Check
// accepts is proportional to its size: for every request at every version, each array
// element, nullable struct and nullable string kmsg allocates is at most
// maxGoBytesPerWireByte times the fewest bytes it takes on the wire, and no array element
// takes zero bytes (its count could ask for elements no bytes pay for). It walks the schema
// and kmsg's Go types side by side (kmsg's field names are the schema's).
func TestSchemaDecodedSizeBound(t *testing.T) {
	worst, where := 0.0, ""
	for key := range int16(len(requests)) {
		m := &requests[key]
		if m.name == "" {
			continue
		}
		gt := reflect.TypeOf(kmsg.RequestForKey(key)).Elem()
		for v := int16(0); v <= m.max; v++ {
			c := checker{v: v, flex: v >= m.flexFrom}
			c.bound(t, m.fields, gt, m.name, func(ratio float64, at string) {
				if ratio > worst {
					worst, where = ratio, at
				}
				if ratio > maxGoBytesPerWireByte {
					t.Errorf("%s v%d: %.0f Go bytes per wire byte", at, v, ratio)
				}
			})
		}
	}
	t.Logf("worst: %s, %.1f Go bytes per wire byte", where, worst)
}

func (c *checker) bound(t *testing.T, fields []field, gt reflect.Type, at string, report func(float64, string)) {
	for i := range fields {
		f := &fields[i]
		if c.v < f.min || c.v > f.max {
			continue
		}
		sf, ok := gt.FieldByName(f.name)
		if !ok {
			t.Fatalf("%s: kmsg %s has no field %s", at, gt, f.name)
		}
		path := at + "." + f.name
		ft := sf.Type
		switch {
		case f.kind == kArray:
			et := ft.Elem()
			n := c.minSize(f.elem)
			if n == 0 { // a count could then ask for elements no bytes pay for
				t.Fatalf("%s v%d: array elements take no bytes", path, c.v)
			}
			report(float64(et.Size())/float64(n), path+"[]")
			if f.elem.kind == kStruct {
				c.bound(t, f.elem.fields, et, path+"[]", report)
			}
		case f.kind == kStruct:
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
				report(float64(ft.Size())/1, path) // a presence byte
			}
			c.bound(t, f.fields, ft, path, report)
		case ft.Kind() == reflect.Pointer: // nullable string: a string header per byte
			report(float64(ft.Elem().Size())/1, path)
		}
	}
}

// minSize is the fewest bytes a value of f takes at this version.
func (c *checker) minSize(f *field) int {
	switch {
	case fixedSize[f.kind] > 0:
		return fixedSize[f.kind]
	case f.kind == kVarint || f.kind == kVarlong || c.flex && (f.kind == kString || f.kind == kBytes || f.kind == kArray):
		return 1
	case f.kind == kString:
		return 2
	case f.kind == kBytes || f.kind == kArray:
		return 4
	}
	// a struct
	if c.nullable(f) {
		return 1
	}
	n := 0
	if c.flex {
		n = 1 // the tag count
	}
	for i := range f.fields {
		g := &f.fields[i]
		if c.v >= g.min && c.v <= g.max && g.tag < 0 {
			n += c.minSize(g)
		}
	}
	return n
}
