package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

const module = "github.com/twmb/franz-go"

func main() {
	dir := flag.String("defs", "", "definitions directory (default: generate/definitions of "+module+" in the module cache)")
	out := flag.String("out", "requests_gen.go", "output file")
	flag.Parse()
	if *dir == "" {
		modDir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
		if err != nil {
			fatal("locating %s: %v", module, err)
		}
		*dir = filepath.Join(strings.TrimSpace(string(modDir)), "generate", "definitions")
	}
	version, _ := exec.Command("go", "list", "-m", "-f", "{{.Version}}", module).Output()
	p := parser{enums: map[string]string{}, named: map[string]*block{}}
	if err := p.parseEnums(filepath.Join(*dir, "enums")); err != nil {
		fatal("%v", err)
	}
	files, err := filepath.Glob(filepath.Join(*dir, "*"))
	if err != nil {
		fatal("%v", err)
	}
	sort.Strings(files)
	for _, f := range files {
		if base := filepath.Base(f); base == "enums" {
			continue
		}
		if err := p.parseFile(f); err != nil {
			fatal("%v", err)
		}
	}
	src, err := p.emit(strings.TrimSpace(string(version)))
	if err != nil {
		fatal("%v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fatal("%v", err)
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gen: "+format+"\n", args...)
	os.Exit(1)
}

// rawField is a field as written in a definition.
type rawField struct {
	name     string
	typ      string // the type, default value removed
	min, max int    // versions
	tag      int    // -1: not tagged
	children []*rawField
	line     string
}

// block is one top-level definition.
type block struct {
	name     string
	key      int // -1: not a request
	max      int
	flexFrom int // -1: never
	fields   []*rawField
}

type parser struct {
	enums    map[string]string // enum name -> backing type
	named    map[string]*block // not-top-level structs
	requests []*block
}

var enumRE = regexp.MustCompile(`^([A-Za-z0-9]+) (int8|int16|int32|int64|uint16|uint32)( camelcase)? \($`)

func (p *parser) parseEnums(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m := enumRE.FindStringSubmatch(line); m != nil {
			p.enums[m[1]] = m[2]
		}
	}
	if len(p.enums) == 0 {
		return fmt.Errorf("%s: no enums", path)
	}
	return nil
}

var (
	requestRE = regexp.MustCompile(`^([A-Za-z0-9]+Request) => (.*)$`)
	namedRE   = regexp.MustCompile(`^([A-Za-z0-9]+) => not top level(.*)$`)
	otherRE   = regexp.MustCompile(`^([A-Za-z0-9]+) =>(.*)$`)
	fieldRE   = regexp.MustCompile(`^([A-Za-z0-9]+): (\S+)$`)
	specialRE = regexp.MustCompile(`^(ThrottleMillis|TimeoutMillis)(\(-?[0-9]+\))?$`)
	rangeRE   = regexp.MustCompile(`^v([0-9]+)(\+|-v([0-9]+))$`)
	tagRE     = regexp.MustCompile(`^tag ([0-9]+)$`)
	flexRE    = regexp.MustCompile(`^flexible v([0-9]+)\+$`)
)

func (p *parser) parseFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var cur *block
	var stack []*[]*rawField // fields of each open depth
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		where := fmt.Sprintf("%s:%d", filepath.Base(path), n)
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case trimmed == "":
			cur, stack = nil, nil
			continue
		case strings.HasPrefix(trimmed, "//"):
			continue
		}
		indent := len(line) - len(trimmed)
		if indent == 0 {
			b, err := p.header(line)
			if err != nil {
				return fmt.Errorf("%s: %v", where, err)
			}
			cur = b
			stack = []*[]*rawField{&b.fields}
			continue
		}
		if cur == nil {
			return fmt.Errorf("%s: field outside a definition", where)
		}
		if indent%2 != 0 || indent/2 > len(stack) {
			return fmt.Errorf("%s: bad indentation", where)
		}
		stack = stack[:indent/2]
		fld, err := parseField(trimmed)
		if err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		fld.line = where
		*stack[len(stack)-1] = append(*stack[len(stack)-1], fld)
		if strings.Contains(fld.typ, "=>") {
			stack = append(stack, &fld.children)
		}
	}
	return sc.Err()
}

// header parses the first line of a definition and registers the block.
func (p *parser) header(line string) (*block, error) {
	b := &block{key: -1, flexFrom: -1}
	var mods string
	if m := requestRE.FindStringSubmatch(line); m != nil {
		b.name, mods = m[1], m[2]
		p.requests = append(p.requests, b)
		for _, mod := range strings.Split(mods, ", ") {
			switch {
			case strings.HasPrefix(mod, "key "):
				b.key, _ = strconv.Atoi(strings.TrimPrefix(mod, "key "))
			case strings.HasPrefix(mod, "max version "):
				b.max, _ = strconv.Atoi(strings.TrimPrefix(mod, "max version "))
			case flexRE.MatchString(mod):
				b.flexFrom, _ = strconv.Atoi(flexRE.FindStringSubmatch(mod)[1])
			case strings.HasSuffix(mod, " coordinator") || mod == "admin":
			default:
				return nil, fmt.Errorf("unknown request modifier %q", mod)
			}
		}
		if b.key < 0 {
			return nil, fmt.Errorf("request %s without a key", b.name)
		}
		return b, nil
	}
	if m := namedRE.FindStringSubmatch(line); m != nil {
		b.name = m[1]
		p.named[b.name] = b
		return b, nil
	}
	if m := otherRE.FindStringSubmatch(line); m != nil { // responses and the like
		b.name = m[1]
		return b, nil
	}
	return nil, fmt.Errorf("bad definition header %q", line)
}

func parseField(s string) (*rawField, error) {
	f := &rawField{min: 0, max: -1, tag: -1}
	decl, comment, _ := strings.Cut(s, " // ")
	if m := specialRE.FindStringSubmatch(decl); m != nil {
		f.name, f.typ = m[1], "int32"
	} else if m := fieldRE.FindStringSubmatch(decl); m != nil {
		f.name, f.typ = m[1], stripDefault(m[2])
	} else {
		// Not a form requests use (length-field-minus in RecordBatch): an error only
		// if a request reaches it.
		f.name, f.typ = decl, "unparsed "+decl
	}
	if comment == "" {
		return f, nil
	}
	for _, part := range strings.Split(comment, ", ") {
		if m := rangeRE.FindStringSubmatch(part); m != nil {
			f.min, _ = strconv.Atoi(m[1])
			if m[3] != "" {
				f.max, _ = strconv.Atoi(m[3])
			}
		} else if m := tagRE.FindStringSubmatch(part); m != nil {
			f.tag, _ = strconv.Atoi(m[1])
		} else {
			return nil, fmt.Errorf("bad version comment %q", comment)
		}
	}
	return f, nil
}

// stripDefault removes a default value: int32(-1), [int32](null), nullable-string(null).
func stripDefault(t string) string {
	if strings.HasSuffix(t, ")") {
		if i := strings.LastIndexByte(t, '('); i > 0 {
			return t[:i]
		}
	}
	return t
}

// emit writes the Go source of the requests table.
func (p *parser) emit(version string) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "// Code generated by wire/schema/internal/gen from %s %s generate/definitions; DO NOT EDIT.\n", module, version)
	buf.WriteString("// Derived from franz-go's protocol definitions (BSD-3-Clause, Copyright 2020, Travis\n")
	buf.WriteString("// Bischel), which franz-go checks against Apache Kafka's message definitions.\n\n")
	buf.WriteString("package schema\n\n")
	maxKey := 0
	for _, r := range p.requests {
		maxKey = max(maxKey, r.key)
	}
	fmt.Fprintf(&buf, "var requests = [%d]message{\n", maxKey+1)
	sort.Slice(p.requests, func(i, j int) bool { return p.requests[i].key < p.requests[j].key })
	for i, r := range p.requests {
		if i > 0 && p.requests[i-1].key == r.key {
			return nil, fmt.Errorf("key %d defined twice", r.key)
		}
		flex := "never"
		if r.flexFrom >= 0 {
			flex = strconv.Itoa(r.flexFrom)
		}
		fmt.Fprintf(&buf, "%d: {name: %q, max: %d, flexFrom: %s, fields: ", r.key, r.name, r.max, flex)
		if err := p.emitFields(&buf, r.fields, 0); err != nil {
			return nil, fmt.Errorf("%s: %v", r.name, err)
		}
		buf.WriteString("},\n")
	}
	buf.WriteString("}\n")
	return format.Source(buf.Bytes())
}

func (p *parser) emitFields(buf *bytes.Buffer, fields []*rawField, depth int) error {
	if depth > 16 {
		return fmt.Errorf("structs nested too deep")
	}
	if len(fields) == 0 {
		buf.WriteString("nil")
		return nil
	}
	buf.WriteString("[]field{\n")
	for _, f := range fields {
		if err := p.emitField(buf, f, f.typ, depth); err != nil {
			return fmt.Errorf("%s (%s): %v", f.name, f.line, err)
		}
		buf.WriteString(",\n")
	}
	buf.WriteString("}")
	return nil
}

var (
	primitives = map[string]string{"bool": "kBool", "int8": "kInt8", "int16": "kInt16", "uint16": "kUint16",
		"int32": "kInt32", "uint32": "kUint32", "int64": "kInt64", "float64": "kFloat64", "uuid": "kUUID",
		"varint": "kVarint", "varlong": "kVarlong"}
	nullableFromRE = regexp.MustCompile(`^nullable-v([0-9]+)\+\[(.*)\](\w*)$`)
	nullStringRE   = regexp.MustCompile(`^nullable-string-v([0-9]+)\+$`)
	arrayRE        = regexp.MustCompile(`^(nullable)?\[(.*)\](\w*)$`)
)

// emitField writes one field literal of type typ (for an array element, f describes the
// array and typ the element).
func (p *parser) emitField(buf *bytes.Buffer, f *rawField, typ string, depth int) error {
	maxV := "always"
	if f.max >= 0 {
		maxV = strconv.Itoa(f.max)
	}
	head := func(kind, nullFrom string) {
		fmt.Fprintf(buf, "{name: %q, kind: %s, min: %d, max: %s, nullFrom: %s, tag: %d", f.name, kind, f.min, maxV, nullFrom, f.tag)
	}
	if strings.HasPrefix(typ, "enum-") {
		backing, ok := p.enums[strings.TrimPrefix(typ, "enum-")]
		if !ok {
			return fmt.Errorf("unknown enum %q", typ)
		}
		typ = backing
	}
	if k, ok := primitives[typ]; ok {
		head(k, "never")
		buf.WriteString("}")
		return nil
	}
	switch typ {
	case "string":
		head("kString", "never")
	case "nullable-string":
		head("kString", "0")
	case "bytes":
		head("kBytes", "never")
	case "nullable-bytes":
		head("kBytes", "0")
	case "=>", "nullable=>":
		null := "never"
		if typ == "nullable=>" {
			null = "0"
		}
		head("kStruct", null)
		buf.WriteString(", fields: ")
		if err := p.emitFields(buf, f.children, depth+1); err != nil {
			return err
		}
	default:
		if m := nullStringRE.FindStringSubmatch(typ); m != nil {
			head("kString", m[1])
			break
		}
		null, elem := "never", ""
		if m := nullableFromRE.FindStringSubmatch(typ); m != nil {
			null, elem = m[1], m[2]
		} else if m := arrayRE.FindStringSubmatch(typ); m != nil {
			elem = m[2]
			if m[1] != "" {
				null = "0"
			}
		}
		if elem != "" {
			head("kArray", null)
			buf.WriteString(", elem: &field")
			el := &rawField{name: "", min: 0, max: -1, tag: -1, children: f.children, line: f.line}
			if strings.HasPrefix(elem, "=>") { // anonymous struct, maybe with a name hint
				elem = "=>"
			}
			if err := p.emitField(buf, el, elem, depth+1); err != nil {
				return err
			}
			break
		}
		named, ok := p.named[typ]
		if !ok {
			return fmt.Errorf("unsupported type %q", typ)
		}
		head("kStruct", "never")
		buf.WriteString(", fields: ")
		if err := p.emitFields(buf, named.fields, depth+1); err != nil {
			return err
		}
	}
	buf.WriteString("}")
	return nil
}
