package observe_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/observe"
	"github.com/stratalog/strata/server/servertest"
)

// FuzzObserveAPI sends arbitrary GET and POST requests (path, query, body) to the JSON
// API of a broker with a topic and a group: every answer is a status below 500 (or 502
// and 504, the broker failing to answer) with a JSON body, {"error": "…"} for every
// error; never a 500, a panic or a hang. It leaves out creating and deleting topics, which
// would change the broker under the fuzzer.
func FuzzObserveAPI(f *testing.F) {
	s := servertest.StartBroker(f, "", nil)
	h := observe.New(nil)
	h.Attach(s)
	f.Cleanup(func() { h.Close() })
	cl := kgoClient(f, s, kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("fz"))
	ctx := ctxT(f)
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte{0xff}}}}).FirstErr(); err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct {
		post       bool
		path, body string
	}{
		{false, "overview", ""},
		{false, "brokers", ""},
		{false, "topics?q=f&offset=0&limit=2", ""},
		{false, "topics?limit=0", ""},
		{false, "topics?offset=-1", ""},
		{false, "topics/fz", ""},
		{false, "topics/%00", ""},
		{false, "topics/fz/partitions/0/records?offset=0&limit=1000", ""},
		{false, "topics/fz/partitions/0/records?offset=1", ""},
		{false, "topics/fz/partitions/0/records?offset=99", ""},
		{false, "topics/fz/partitions/0/records?timestamp=0", ""},
		{false, "topics/fz/partitions/0/records?timestamp=9223372036854775807", ""},
		{false, "topics/fz/partitions/0/records?offset=1&timestamp=1", ""},
		{false, "topics/fz/partitions/-1/records", ""},
		{false, "topics/fz/partitions/99999999999/records", ""},
		{false, "topics/nope/partitions/0/records?limit=1e3", ""},
		{false, "groups", ""},
		{false, "groups/g", ""},
		{true, "topics/fz/records", `{"key":"k","value":"v","headers":[{"key":"a","value":null}]}`},
		{true, "topics/fz/records", `{"partition":7,"value":"v"}`},
		{true, "topics/fz/records", `{"encoding":"base64","value":"!!"}`},
		{true, "topics/fz/records", `{"value":`},
		{true, "topics/__consumer_offsets/records", `{"value":"x"}`},
		{true, "groups/g/offsets", `{"topic":"fz","to":"earliest"}`},
		{true, "groups/g/offsets", `{"topic":"fz","to":"offset","offset":-5,"partitions":[0,3]}`},
		{true, "groups/g/offsets", `{"topic":"fz","to":"sideways"}`},
		{true, "groups/g/offsets", `[]`},
	} {
		f.Add(seed.post, seed.path, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, post bool, path string, body []byte) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
			if strings.HasPrefix(strings.TrimLeft(path, "/"), "topics") && !strings.Contains(path, "/records") {
				return // creates topics
			}
		}
		req, err := http.NewRequest(method, "http://strata.test/api/v1/"+path, strings.NewReader(string(body)))
		if err != nil {
			return // not a URL
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusBadGateway && rec.Code != http.StatusGatewayTimeout {
			t.Fatalf("%s %s %q: status %d: %s", method, path, body, rec.Code, rec.Body)
		}
		if !strings.HasPrefix(req.URL.Path, "/api/") {
			return // cleaned to another route by the mux (a redirect)
		}
		if rec.Code >= 300 && rec.Code < 400 {
			return // the mux's redirect of an unclean path
		}
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s %s %q: status %d, not JSON: %q", method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			if m, ok := v.(map[string]any); !ok || m["error"] == nil || m["error"] == "" {
				t.Fatalf("%s %s %q: status %d without {\"error\"}: %s", method, path, body, rec.Code, rec.Body)
			}
		}
	})
}
