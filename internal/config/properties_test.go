package config

import (
	"errors"
	"maps"
	"os"
	"strings"
	"testing"
)

func TestConfigParseProperties(t *testing.T) {
	in := "# comment\n! also a comment\n   \n" +
		"a=1\n" +
		"b = two words \n" +
		"c:3\n" +
		"d 4\n" +
		"e\n" +
		"f==x\n" +
		"g \\\n   continued\\\n  line\n" +
		"h=back\\\\slash\n" +
		"i=\\u00e9t\\u00E9 \\t tab\n" +
		"key\\ with\\=escapes = v\n" +
		"  indented.key=5\r\n" +
		"a=last wins\n" +
		"end=\\"
	want := map[string]string{
		"a": "last wins", "b": "two words ", "c": "3", "d": "4", "e": "", "f": "=x",
		"g": "continuedline", "h": `back\slash`, "i": "été \t tab", "key with=escapes": "v",
		"indented.key": "5", "end": "",
	}
	got, err := ParseProperties([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	for _, bad := range []string{"a=\\u12", "a=\\uzzzz", "\\u1=x"} {
		if _, err := ParseProperties([]byte(bad)); !errors.Is(err, ErrProperties) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestConfigKafkaServerProperties: Kafka 4's own KRaft server.properties parses to the
// settings it holds, every name of which Strata knows (as its own or as Kafka's).
func TestConfigKafkaServerProperties(t *testing.T) {
	for _, f := range []string{"testdata/kafka-server.properties", "testdata/kafka-reconfig-server.properties"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseProperties(data)
		if err != nil {
			t.Fatal(err)
		}
		if got["process.roles"] != "broker,controller" || got["log.dirs"] != "/tmp/kraft-combined-logs" || len(got) < 15 {
			t.Fatalf("%s: %v", f, got)
		}
		for k := range got {
			if BrokerKind(k) == KindUnknown {
				t.Errorf("%s: %s unknown", f, k)
			}
		}
	}
}

// FuzzParseProperties: no panic; every parsed key and value, written back escaped, parses
// to the same map.
func FuzzParseProperties(f *testing.F) {
	for _, s := range []string{"a=1", "b : 2\nc 3", "d=\\\n x", "e=\\u0041", "#x\n!y\nz", "k\\ k=v\\\\", "\\u12"} {
		f.Add([]byte(s))
	}
	if data, err := os.ReadFile("testdata/kafka-server.properties"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseProperties(data)
		if err != nil {
			return
		}
		var b strings.Builder
		for k, v := range m {
			b.WriteString(escapeProperty(k, true) + "=" + escapeProperty(v, false) + "\n")
		}
		again, err := ParseProperties([]byte(b.String()))
		if err != nil || !maps.Equal(m, again) {
			t.Fatalf("re-parse of %q: %v %q, want %q", b.String(), err, again, m)
		}
	})
}

func escapeProperty(s string, key bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		r := s[i]
		switch {
		case r == '\\' || r == '=' || r == ':' || r == '#' || r == '!':
			b.WriteString("\\" + string(rune(r)))
		case r == ' ' && (key || i == 0):
			b.WriteString("\\ ")
		case r == '\t':
			b.WriteString("\\t")
		case r == '\n':
			b.WriteString("\\n")
		case r == '\r':
			b.WriteString("\\r")
		case r == '\f':
			b.WriteString("\\f")
		default:
			b.WriteByte(r)
		}
	}
	return b.String()
}
