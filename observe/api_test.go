package observe_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/server/servertest"
)

type apiRecord struct {
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Timestamp int64   `json:"timestamp"`
	Key       *string `json:"key"`
	Value     *string `json:"value"`
	Headers   []struct {
		Key   string  `json:"key"`
		Value *string `json:"value"`
	} `json:"headers"`
	Encoding string `json:"encoding"`
}

type apiTopic struct {
	Name       string `json:"name"`
	Partitions int    `json:"partitions"`
	SizeBytes  int64  `json:"size_bytes"`
	Internal   bool   `json:"internal"`
	Records    int64  `json:"records"`
	EndOffset  int64  `json:"end_offset"`
}

type apiTopicDetail struct {
	Name       string `json:"name"`
	Partitions []struct {
		Partition   int32 `json:"partition"`
		StartOffset int64 `json:"start_offset"`
		EndOffset   int64 `json:"end_offset"`
		SizeBytes   int64 `json:"size_bytes"`
	} `json:"partitions"`
	Configs []struct {
		Name   string  `json:"name"`
		Value  *string `json:"value"`
		Source string  `json:"source"`
	} `json:"configs"`
}

type apiGroup struct {
	GroupID string `json:"group_id"`
	State   string `json:"state"`
	Members int    `json:"members"`
	Type    string `json:"type"`
}

type apiGroupDetail struct {
	GroupID string `json:"group_id"`
	State   string `json:"state"`
	Members []struct {
		MemberID    string `json:"member_id"`
		ClientID    string `json:"client_id"`
		Assignments []struct {
			Topic      string  `json:"topic"`
			Partitions []int32 `json:"partitions"`
		} `json:"assignments"`
	} `json:"members"`
	Offsets []struct {
		Topic           string `json:"topic"`
		Partition       int32  `json:"partition"`
		CommittedOffset int64  `json:"committed_offset"`
		EndOffset       int64  `json:"end_offset"`
		Lag             int64  `json:"lag"`
	} `json:"offsets"`
	Lag int64 `json:"lag"`
}

// TestObserveAPIRecords: the message browser's API reads exactly what a client produced:
// keys, values (text, or base64 when binary), headers, timestamps; by offset or
// timestamp; with limits; never waiting at the end; 4xx for what is wrong.
func TestObserveAPIRecords(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	_, url := startHTTP(t, s, nil)
	ctx := ctxT(t)
	if code := do(t, "POST", url+"/api/v1/topics", `{"name":"orders","partitions":2}`, nil); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	if code := do(t, "POST", url+"/api/v1/topics", `{"name":"orders","partitions":2}`, nil); code != http.StatusConflict {
		t.Fatalf("create twice: %d", code)
	}
	cl := kgoClient(t, s, kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	base := time.UnixMilli(1_700_000_000_000)
	recs := []*kgo.Record{
		{Key: []byte("k0"), Value: []byte(`{"n":0}`), Timestamp: base},
		{Key: nil, Value: []byte("plain"), Timestamp: base.Add(time.Second), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}},
		{Key: []byte("k2"), Value: []byte{0xff, 0x00, 0x01}, Timestamp: base.Add(2 * time.Second)},
		{Key: []byte("k3"), Value: nil, Timestamp: base.Add(3 * time.Second)},
		{Key: []byte("k4"), Value: []byte("four"), Timestamp: base.Add(4 * time.Second)},
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var got []apiRecord
	if code := do(t, "GET", url+"/api/v1/topics/orders/partitions/0/records?offset=0", "", &got); code != 200 || len(got) != 5 {
		t.Fatalf("records: %d, %d records", code, len(got))
	}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	for i, r := range got {
		want := recs[i]
		if r.Offset != int64(i) || r.Timestamp != want.Timestamp.UnixMilli() || r.Partition != 0 {
			t.Fatalf("record %d: %+v", i, r)
		}
		key, val := str(r.Key), str(r.Value)
		if r.Encoding == "base64" {
			k, _ := base64.StdEncoding.DecodeString(key)
			v, _ := base64.StdEncoding.DecodeString(val)
			key, val = string(k), string(v)
		}
		if want.Key == nil && r.Key != nil || want.Key != nil && key != string(want.Key) ||
			want.Value == nil && r.Value != nil || want.Value != nil && val != string(want.Value) {
			t.Fatalf("record %d: key %q value %q, want %q %q", i, key, val, want.Key, want.Value)
		}
	}
	if got[2].Encoding != "base64" || got[0].Encoding != "" {
		t.Fatalf("encodings %q %q", got[2].Encoding, got[0].Encoding)
	}
	if len(got[1].Headers) != 1 || got[1].Headers[0].Key != "h" || str(got[1].Headers[0].Value) != "v" {
		t.Fatalf("headers %+v", got[1].Headers)
	}

	page := func(q string) []apiRecord {
		var out []apiRecord
		if code := do(t, "GET", url+"/api/v1/topics/orders/partitions/0/records?"+q, "", &out); code != 200 {
			t.Fatalf("%s: %d", q, code)
		}
		return out
	}
	if p := page("offset=2&limit=2"); len(p) != 2 || p[0].Offset != 2 || p[1].Offset != 3 {
		t.Fatalf("offset=2&limit=2: %+v", p)
	}
	if p := page("offset=5"); p == nil || len(p) != 0 {
		t.Fatalf("offset == end: %+v, want []", p)
	}
	if p := page("timestamp=" + strconv.FormatInt(base.Add(2500*time.Millisecond).UnixMilli(), 10)); len(p) != 2 || p[0].Offset != 3 {
		t.Fatalf("by timestamp: %+v", p)
	}
	if p := page("limit=1"); len(p) != 1 || p[0].Offset != 0 {
		t.Fatalf("default offset: %+v", p)
	}
	if p := page(""); len(p) != 5 {
		t.Fatalf("no parameters: %d records", len(p))
	}

	for q, want := range map[string]int{
		"/orders/partitions/0/records?offset=6":             http.StatusRequestedRangeNotSatisfiable,
		"/orders/partitions/0/records?offset=-1":            http.StatusBadRequest,
		"/orders/partitions/0/records?offset=abc":           http.StatusBadRequest,
		"/orders/partitions/0/records?limit=0":              http.StatusBadRequest,
		"/orders/partitions/0/records?limit=1001":           http.StatusBadRequest,
		"/orders/partitions/0/records?limit=1e3":            http.StatusBadRequest,
		"/orders/partitions/0/records?offset=1&timestamp=2": http.StatusBadRequest,
		"/orders/partitions/x/records":                      http.StatusBadRequest,
		"/orders/partitions/7/records":                      http.StatusNotFound,
		"/nope/partitions/0/records":                        http.StatusNotFound,
		"/nope":                                             http.StatusNotFound,
	} {
		if code := do(t, "GET", url+"/api/v1/topics"+q, "", nil); code != want {
			t.Errorf("%s: status %d, want %d", q, code, want)
		}
	}

	// Produce through the API, then read it back.
	var made apiRecord
	if code := do(t, "POST", url+"/api/v1/topics/orders/records", `{"partition":1,"key":"a","value":"b","headers":[{"key":"x","value":"y"}]}`, &made); code != http.StatusCreated || made.Partition != 1 || made.Offset != 0 {
		t.Fatalf("produce: %d %+v", code, made)
	}
	if code := do(t, "POST", url+"/api/v1/topics/orders/records", `{"partition":1,"value":"AAEC","encoding":"base64"}`, &made); code != http.StatusCreated || made.Offset != 1 {
		t.Fatalf("produce base64: %d %+v", code, made)
	}
	if p := page("offset=0"); len(p) != 5 {
		t.Fatal("partition 0 changed")
	}
	var p1 []apiRecord
	do(t, "GET", url+"/api/v1/topics/orders/partitions/1/records", "", &p1)
	if len(p1) != 2 || str(p1[0].Key) != "a" || str(p1[0].Value) != "b" || p1[0].Headers[0].Key != "x" || p1[1].Encoding != "base64" || str(p1[1].Value) != "AAEC" {
		t.Fatalf("partition 1: %+v", p1)
	}
	for body, want := range map[string]int{
		`{"partition":9,"value":"x"}`:        http.StatusNotFound,
		`{"value":"!!","encoding":"base64"}`: http.StatusBadRequest,
		`{"value":"x","encoding":"rot13"}`:   http.StatusBadRequest,
		`{"value":"x","bogus":1}`:            http.StatusBadRequest,
		`not json`:                           http.StatusBadRequest,
	} {
		if code := do(t, "POST", url+"/api/v1/topics/orders/records", body, nil); code != want {
			t.Errorf("produce %s: %d, want %d", body, code, want)
		}
	}
	if code := do(t, "POST", url+"/api/v1/topics/nope/records", `{"value":"x"}`, nil); code != http.StatusNotFound {
		t.Errorf("produce to an unknown topic: %d", code)
	}
}

// TestObserveAPITopicsAgainstKadm: the topics API agrees with what kadm reads over the
// Kafka protocol; create, search, paginate and delete.
func TestObserveAPITopicsAgainstKadm(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	_, url := startHTTP(t, s, nil)
	ctx := ctxT(t)
	ad := kadm.NewClient(kgoClient(t, s))
	for i := range 12 {
		body := fmt.Sprintf(`{"name":"t%02d","partitions":%d,"configs":{"retention.ms":"3600000"}}`, i, 1+i%3)
		if code := do(t, "POST", url+"/api/v1/topics", body, nil); code != http.StatusCreated {
			t.Fatalf("create t%02d: %d", i, code)
		}
	}
	cl := kgoClient(t, s, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	for i := range 60 {
		r := &kgo.Record{Topic: fmt.Sprintf("t%02d", i%12), Value: []byte(strconv.Itoa(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var topics []apiTopic
	if code := do(t, "GET", url+"/api/v1/topics", "", &topics); code != 200 {
		t.Fatal(code)
	}
	ends, err := ad.ListEndOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	starts, err := ad.ListStartOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := ad.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{}
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) { sizes[p.Topic] += p.Size })
	})
	listed, err := ad.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(topics) != len(listed) {
		t.Fatalf("%d topics, kadm lists %d", len(topics), len(listed))
	}
	for _, tp := range topics {
		kt := listed[tp.Name]
		var end, recs int64
		for p := range kt.Partitions {
			e, _ := ends.Lookup(tp.Name, p)
			st, _ := starts.Lookup(tp.Name, p)
			end += e.Offset
			recs += e.Offset - st.Offset
		}
		if tp.Partitions != len(kt.Partitions) || tp.Internal != kt.IsInternal || tp.EndOffset != end || tp.Records != recs || tp.SizeBytes != sizes[tp.Name] {
			t.Errorf("%s: API %+v; kadm: %d partitions, end %d, records %d, size %d", tp.Name, tp, len(kt.Partitions), end, recs, sizes[tp.Name])
		}
	}

	// Search and pagination.
	req, _ := http.NewRequest("GET", url+"/api/v1/topics?q=T0&offset=2&limit=3", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Total-Count") != "10" {
		t.Fatalf("X-Total-Count %q, want 10 (t00..t09)", resp.Header.Get("X-Total-Count"))
	}
	var pageOf []apiTopic
	do(t, "GET", url+"/api/v1/topics?q=T0&offset=2&limit=3", "", &pageOf)
	if names := namesOf(pageOf); !slices.Equal(names, []string{"t02", "t03", "t04"}) {
		t.Fatalf("page %v", names)
	}
	for _, q := range []string{"offset=-1", "limit=0", "limit=x"} {
		if code := do(t, "GET", url+"/api/v1/topics?"+q, "", nil); code != http.StatusBadRequest {
			t.Errorf("%s: %d", q, code)
		}
	}

	// Detail: partitions and configs.
	var d apiTopicDetail
	if code := do(t, "GET", url+"/api/v1/topics/t05", "", &d); code != 200 || len(d.Partitions) != 3 {
		t.Fatalf("detail: %d %+v", code, d)
	}
	for _, p := range d.Partitions {
		e, _ := ends.Lookup("t05", p.Partition)
		st, _ := starts.Lookup("t05", p.Partition)
		if p.EndOffset != e.Offset || p.StartOffset != st.Offset {
			t.Errorf("t05/%d: %+v, kadm start %d end %d", p.Partition, p, st.Offset, e.Offset)
		}
	}
	i := slices.IndexFunc(d.Configs, func(c struct {
		Name   string  `json:"name"`
		Value  *string `json:"value"`
		Source string  `json:"source"`
	}) bool {
		return c.Name == "retention.ms"
	})
	if i < 0 || *d.Configs[i].Value != "3600000" || d.Configs[i].Source != "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("retention.ms config: %+v", d.Configs)
	}

	// Create errors, delete.
	for body, want := range map[string]int{
		`{"name":"bad name!"}`:                   http.StatusBadRequest,
		`{"name":""}`:                            http.StatusBadRequest,
		`{"name":"x","configs":{"nope.ms":"1"}}`: http.StatusBadRequest,
		`{"name":"x","partitions":-5}`:           http.StatusBadRequest,
		`[]`:                                     http.StatusBadRequest,
	} {
		if code := do(t, "POST", url+"/api/v1/topics", body, nil); code != want {
			t.Errorf("create %s: %d, want %d", body, code, want)
		}
	}
	if code := do(t, "DELETE", url+"/api/v1/topics/t05", "", nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code := do(t, "GET", url+"/api/v1/topics/t05", "", nil); code != http.StatusNotFound {
		t.Fatalf("deleted topic: %d", code)
	}
	if code := do(t, "DELETE", url+"/api/v1/topics/t05", "", nil); code != http.StatusNotFound {
		t.Fatalf("delete twice: %d", code)
	}
}

func namesOf(ts []apiTopic) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// TestObserveAPIGroups: groups and their lag as kadm computes them (end - committed; end
// - start without a commit), members and assignments, and the reset-offsets action.
func TestObserveAPIGroups(t *testing.T) {
	s := servertest.StartBroker(t, "", map[string]string{"group.initial.rebalance.delay.ms": "0"})
	_, url := startHTTP(t, s, nil)
	ctx := ctxT(t)
	ad := kadm.NewClient(kgoClient(t, s))
	if _, err := ad.CreateTopic(ctx, 2, 1, nil, "ev"); err != nil {
		t.Fatal(err)
	}
	cl := kgoClient(t, s, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "ev", Partition: int32(i % 2), Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// An empty group with a commit on partition 0 only.
	os := make(kadm.Offsets)
	os.AddOffset("ev", 0, 2, -1)
	if err := ad.CommitAllOffsets(ctx, "idle", os); err != nil {
		t.Fatal(err)
	}
	// A live group: one member consuming ev.
	member := kgoClient(t, s, kgo.ConsumerGroup("live"), kgo.ConsumeTopics("ev"), kgo.ClientID("member-1"),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for n := 0; n < 10; {
		fs := member.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		n += fs.NumRecords()
	}

	var groups []apiGroup
	do(t, "GET", url+"/api/v1/groups", "", &groups)
	if len(groups) != 2 || groups[0].GroupID != "idle" || groups[0].State != "Empty" || groups[0].Members != 0 ||
		groups[1].GroupID != "live" || groups[1].State != "Stable" || groups[1].Members != 1 || groups[1].Type != "classic" {
		t.Fatalf("groups %+v", groups)
	}
	for _, id := range []string{"idle", "live"} {
		var g apiGroupDetail
		if code := do(t, "GET", url+"/api/v1/groups/"+id, "", &g); code != 200 {
			t.Fatalf("group %s: %d", id, code)
		}
		lags, err := ad.Lag(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := lags[id].Lag
		var total int64
		for _, o := range g.Offsets {
			ml, ok := want.Lookup(o.Topic, o.Partition)
			if !ok || ml.Lag != o.Lag || ml.End.Offset != o.EndOffset || ml.Commit.At != o.CommittedOffset && !(ml.Commit.At < 0 && o.CommittedOffset == -1) {
				t.Errorf("group %s %s/%d: API %+v, kadm %+v", id, o.Topic, o.Partition, o, ml)
			}
			total += o.Lag
		}
		if g.Lag != total || g.Lag != want.Total() {
			t.Errorf("group %s: lag %d (partitions sum to %d); kadm %d", id, g.Lag, total, want.Total())
		}
		if id == "idle" && (len(g.Offsets) != 2 || g.Offsets[0].Lag != 3 || g.Offsets[1].Lag != 5 || g.Offsets[1].CommittedOffset != -1) {
			t.Errorf("idle: %+v, want ev/0 lag 5-2, ev/1 (no commit) lag 5-0", g.Offsets)
		}
		if id == "live" && (len(g.Members) != 1 || g.Members[0].ClientID != "member-1" || len(g.Members[0].Assignments) != 1 || len(g.Members[0].Assignments[0].Partitions) != 2 || g.Lag != 10) {
			t.Errorf("live: %+v, want one member with ev/0,1 and lag 10 (nothing committed)", g)
		}
	}

	// Reset: an active group is refused; the empty one moves.
	if code := do(t, "POST", url+"/api/v1/groups/live/offsets", `{"topic":"ev","to":"earliest"}`, nil); code != http.StatusConflict {
		t.Fatalf("reset of an active group: %d", code)
	}
	if code := do(t, "POST", url+"/api/v1/groups/idle/offsets", `{"topic":"ev","to":"latest"}`, nil); code != 200 {
		t.Fatalf("reset to latest: %d", code)
	}
	var g apiGroupDetail
	do(t, "GET", url+"/api/v1/groups/idle", "", &g)
	if g.Lag != 0 || len(g.Offsets) != 2 {
		t.Fatalf("after reset to latest: %+v", g)
	}
	if code := do(t, "POST", url+"/api/v1/groups/idle/offsets", `{"topic":"ev","partitions":[1],"to":"offset","offset":1}`, nil); code != 200 {
		t.Fatalf("reset to offset: %d", code)
	}
	do(t, "GET", url+"/api/v1/groups/idle", "", &g)
	if g.Lag != 4 {
		t.Fatalf("after reset of ev/1 to 1: lag %d, want 4", g.Lag)
	}
	for body, want := range map[string]int{
		`{"topic":"ev","to":"sideways"}`:                  http.StatusBadRequest,
		`{"topic":"ev","to":"offset"}`:                    http.StatusBadRequest,
		`{"topic":"nope","to":"earliest"}`:                http.StatusNotFound,
		`{"topic":"ev","partitions":[7],"to":"earliest"}`: http.StatusNotFound,
	} {
		if code := do(t, "POST", url+"/api/v1/groups/idle/offsets", body, nil); code != want {
			t.Errorf("reset %s: %d, want %d", body, code, want)
		}
	}
	if code := do(t, "GET", url+"/api/v1/groups/nope", "", nil); code != http.StatusNotFound {
		t.Fatalf("unknown group: %d", code)
	}
}

// TestObserveAPINotAttached: the API answers 503 with a JSON error before the broker
// is open, and unknown API paths 404.
func TestObserveAPINotAttached(t *testing.T) {
	_, url := startHTTP(t, nil, nil)
	resp, err := http.Get(url + "/api/v1/topics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("before attach: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := servertest.StartBroker(t, "", nil)
	_, url = startHTTP(t, s, nil)
	if code := do(t, "GET", url+"/api/v1/nothing", "", nil); code != http.StatusNotFound {
		t.Fatalf("unknown API: %d", code)
	}
}

// TestObserveAPIDeleteThenList: a topic deleted (or created) through the API is gone from
// (or in) the very next listing: the console's client does not answer from stale cached
// metadata.
func TestObserveAPIDeleteThenList(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	_, url := startHTTP(t, s, nil)
	for i := range 3 {
		if code := do(t, "POST", url+"/api/v1/topics", `{"name":"x","partitions":2}`, nil); code != http.StatusCreated {
			t.Fatalf("round %d: create %d", i, code)
		}
		var list []apiTopic
		if code := do(t, "GET", url+"/api/v1/topics", "", &list); code != 200 || len(list) != 1 || list[0].Partitions != 2 {
			t.Fatalf("round %d: after the create %d %+v", i, code, list)
		}
		if code := do(t, "DELETE", url+"/api/v1/topics/x", "", nil); code != 200 {
			t.Fatalf("round %d: delete %d", i, code)
		}
		if code := do(t, "GET", url+"/api/v1/topics", "", &list); code != 200 || len(list) != 0 {
			t.Fatalf("round %d: after the delete %d %+v", i, code, list)
		}
	}
}
