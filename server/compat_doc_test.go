package server

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestServerCompatibilityDoc checks the API table of docs/compatibility.md against the
// dispatch table: every registered API is listed with exactly its advertised versions,
// and nothing else is.
func TestServerCompatibilityDoc(t *testing.T) {
	doc, err := os.ReadFile("../docs/compatibility.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| (\d+) \| (\w+) \| (\d+)(?:-(\d+))? \|`)
	listed := map[int16]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		key, _ := strconv.Atoi(m[1])
		hi := m[4]
		if hi == "" {
			hi = m[3]
		}
		listed[int16(key)] = fmt.Sprintf("%s %s-%s", m[2], m[3], hi)
	}
	for _, a := range sortedAPIs() {
		want := fmt.Sprintf("%s %d-%d", kmsg.NameForKey(a.key), a.min, a.max)
		if got, ok := listed[a.key]; !ok || !strings.EqualFold(got, want) { // InitProducerId vs kmsg's InitProducerID
			t.Errorf("docs/compatibility.md: key %d is %q, want %q", a.key, got, want)
		}
		delete(listed, a.key)
	}
	for k, v := range listed {
		t.Errorf("docs/compatibility.md lists key %d (%s), which is not registered", k, v)
	}
}
