package observe_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/observe"
	"github.com/stratalog/strata/server/servertest"
)

// The console's browser tests: headless Chromium (Debian's chromium package, driven by
// chromedp over the DevTools protocol; nothing is downloaded) renders every route of the
// console against a broker, the tests assert on the DOM, use the forms, and check that
// no request leaves 127.0.0.1.

var screenshots = flag.Bool("screenshots", false, "write the console tests' screenshots to docs/images/console-*.png")

// chromiumPath finds Debian's chromium. Without it the test skips, except under CI=true
// (where make test installs it) where it fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("STRATA_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: make test installs it (scripts/install-chromium.sh)")
	}
	t.Skip("chromium is not installed (apt-get install chromium, or make test, which installs it)")
	return ""
}

// page is a browser tab on the console at base, recording every URL it requests.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu   sync.Mutex
	urls []string
}

// newPage starts a headless Chromium (fresh profile) with a tab. Every host name but
// 127.0.0.1 fails to resolve and every proxied request goes to a closed port, so nothing
// can leave the loopback even by mistake; the tab also records what it requests.
func newPage(t *testing.T, base string) *page {
	t.Helper()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.ProxyServer("http://127.0.0.1:9"),
		chromedp.WindowSize(1360, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	p := &page{t: t, ctx: ctx, base: base}
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			p.mu.Lock()
			p.urls = append(p.urls, e.Request.URL)
			p.mu.Unlock()
		}
	})
	if err == nil {
		_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	}
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(p.checkRequests)
	return p
}

// checkRequests fails the test for any request but to the console's own origin.
func (p *page) checkRequests() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.urls) == 0 {
		p.t.Error("the page made no request at all: the recorder is broken")
	}
	for _, u := range p.urls {
		if !strings.HasPrefix(u, p.base+"/") && !strings.HasPrefix(u, "data:") {
			p.t.Errorf("request leaving the console's origin: %s", u)
		}
	}
}

// run runs chromedp actions, failing the test on error or after a minute.
func (p *page) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	value(p, what, chromedp.Steps(actions...))
}

// value runs one action and returns its value, failing the test on error or after a
// minute.
func value[T any](p *page, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		defer cancel()
		at, _ := chromedp.Run(ctx, chromedp.Location())
		main, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
		p.t.Fatalf("%s: %v\nat %s, the page shows:\n%s", what, err, at, main)
	}
	return v
}

// open loads path and waits until the console rendered its page (an h1, no loading
// placeholder).
func (p *page) open(path string) {
	p.t.Helper()
	p.run("open "+path, chromedp.Navigate(p.base+path))
	p.rendered(path)
}

// rendered waits until the console rendered a page: an h1 and no loading placeholder.
func (p *page) rendered(what string) {
	p.t.Helper()
	p.run("render "+what, chromedp.WaitVisible(chromedp.CSS("main h1")), chromedp.WaitNotPresent(chromedp.CSS("main .loading")))
}

// text returns the text of the first element matching sel.
func (p *page) text(sel string) string {
	p.t.Helper()
	return value(p, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// eval evaluates a JavaScript expression.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	return value(p, "eval "+expr, chromedp.Evaluate[T](expr))
}

// links returns the texts of the links in main.
func (p *page) links() []string {
	return eval[[]string](p, `Array.from(document.querySelectorAll("main a")).map(a => a.textContent)`)
}

// column returns the texts of column i (from 0) of the first table in main.
func (p *page) column(i int) []string {
	return eval[[]string](p, fmt.Sprintf(`Array.from(document.querySelector("main table").tBodies[0].rows).map(tr => tr.children[%d].textContent)`, i))
}

// mustContain fails unless the text of sel contains every want.
func (p *page) mustContain(sel string, want ...string) {
	p.t.Helper()
	got := p.text(sel)
	for _, w := range want {
		if !strings.Contains(got, w) {
			p.t.Fatalf("%s does not contain %q:\n%s", sel, w, got)
		}
	}
}

// screenshot captures the whole page; with -screenshots it is written to
// docs/images/console-NAME.png.
func (p *page) screenshot(name string) {
	p.t.Helper()
	png := value(p, "screenshot", chromedp.FullScreenshot(100))
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		p.t.Fatalf("screenshot %s: not a PNG (%d bytes)", name, len(png))
	}
	if *screenshots {
		if err := os.WriteFile(filepath.Join("..", "docs", "images", "console-"+name+".png"), png, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
}

// TestConsole renders every route of the console in Chromium against a broker with a
// topic, records (text, JSON, binary, headers), an empty group with offsets and a group
// with a member, and uses the create-topic, produce, delete-topic and reset-offsets
// forms, checking each effect with kadm.
func TestConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Chromium")
	}
	chromiumPath(t)
	s := servertest.StartBroker(t, "", map[string]string{"group.initial.rebalance.delay.ms": "0"})
	_, base := startHTTP(t, s, &observe.Options{Version: "v0.0.0-test"})
	// The whole browser session shares ctx: under -race on a loaded 2-core machine it
	// takes ~25 s (8 s alone), so it gets more than ctxT's 20 s.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cl := kgoClient(t, s, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ad := kadm.NewClient(cl)
	if _, err := ad.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": kadm.StringPtr("86400000")}, "orders"); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var recs []*kgo.Record
	for i := range 12 {
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 3), Timestamp: ts.Add(time.Duration(i) * time.Second),
			Key:     []byte(fmt.Sprintf("order-%02d", i)),
			Value:   []byte(fmt.Sprintf(`{"id":%d,"item":"widget","qty":%d}`, i, i+1)),
			Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("web")}}})
	}
	recs = append(recs, &kgo.Record{Topic: "orders", Partition: 0, Timestamp: ts.Add(time.Minute), Key: []byte("bin"), Value: []byte{0x00, 0xff, 0x10}})
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	commit := kadm.Offsets{}
	commit.AddOffset("orders", 0, 2, -1)
	commit.AddOffset("orders", 1, 4, -1)
	if res, err := ad.CommitOffsets(ctx, "billing", commit); err != nil || res.Error() != nil {
		t.Fatalf("commit: %v %v", err, res.Error())
	}
	live := kgoClient(t, s, kgo.ConsumerGroup("shipping"), kgo.ConsumeTopics("orders"), kgo.ClientID("shipping-service"))
	for n := 0; n < len(recs); {
		n += live.PollFetches(ctx).NumRecords()
		if ctx.Err() != nil {
			t.Fatal("the shipping consumer got no records")
		}
	}

	p := newPage(t, base)

	p.open("/")
	p.mustContain("main", "Overview", "Ready", "Brokers", "Topics", "Consumer groups")
	p.screenshot("overview")

	p.open("/topics")
	if got := p.column(0); !slices.Equal(got, []string{"orders"}) {
		t.Fatalf("topics: %q", got)
	}
	if !slices.Contains(p.links(), "orders") {
		t.Fatalf("no link named orders: %q", p.links())
	}
	p.mustContain("main table", "13") // records
	p.screenshot("topics")

	p.open("/topics/orders")
	if got := p.column(0); !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Fatalf("partitions: %q", got)
	}
	if got := p.column(3); !slices.Equal(got, []string{"5", "4", "4"}) {
		t.Fatalf("end offsets: %q", got)
	}
	p.mustContain("main", "retention.ms", "86400000", "Produce a record", "Delete this topic")
	if strings.Contains(p.text("main"), "segment.bytes") {
		t.Fatal("default configs shown before asked for")
	}
	p.run("show default configs", chromedp.Click(chromedp.CSS(`input[name="all-configs"]`)), chromedp.WaitVisible(chromedp.Search(`//td[.="segment.bytes"]`)))
	p.screenshot("topic")

	p.open("/topics/orders/partitions/0?offset=0")
	if got := p.column(0); !slices.Equal(got, []string{"0", "1", "2", "3", "4"}) {
		t.Fatalf("offsets: %q", got)
	}
	p.mustContain("main table", "order-00", `{"id":0,"item":"widget","qty":1}`, "source: web", "2026-01-02 03:04:05.000 UTC")
	p.run("JSON view", chromedp.Click(chromedp.Search(`//button[text()="JSON"]`)), chromedp.WaitVisible(chromedp.Search(`//button[@class="on" and text()="JSON"]`)))
	p.mustContain("main table", "\"item\": \"widget\"")
	if got := p.column(3); got[4] != "binary00 ff 10" {
		t.Fatalf("binary value in the JSON view: %q, want the binary badge and hex", got[4])
	}
	p.screenshot("messages")
	p.run("hex view", chromedp.Click(chromedp.Search(`//button[text()="Hex"]`)), chromedp.WaitVisible(chromedp.Search(`//button[@class="on" and text()="Hex"]`)))
	if got := p.column(3); got[4] != "00 ff 10" {
		t.Fatalf("binary value in hex: %q", got[4])
	}
	p.open("/topics/orders/partitions/0?offset=3&limit=1")
	if got := p.column(0); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("offset 3 limit 1: %q", got)
	}
	// From a time: partition 1 holds records 1, 4, 7 and 10 (a second apart from ts), so
	// ts + 4 s is its offset 1; the form takes UTC.
	p.open(fmt.Sprintf("/topics/orders/partitions/1?timestamp=%d", ts.Add(4*time.Second).UnixMilli()))
	if got := p.column(0); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("from ts + 4 s: %q", got)
	}
	p.run("seek by time", chromedp.SetValue(chromedp.CSS(`input[name="timestamp"]`), "2026-01-02T03:04:13"),
		chromedp.Click(chromedp.Search(`//form[@id="seek"]/button[text()="Go"][2]`)),
		chromedp.WaitNotPresent(chromedp.Search(`//td[.="order-07"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[.="order-10"]`)))
	if got := p.column(0); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("from 03:04:13 UTC (ts + 8 s): %q", got)
	}
	p.open("/topics/orders/partitions/2?offset=4")
	p.mustContain("main", "No records at or after offset 4")
	p.open("/topics/orders/partitions/2?offset=99")
	p.mustContain("main .msg.error", "outside partition 2")

	p.open("/groups")
	if got := p.column(0); !slices.Equal(got, []string{"billing", "shipping"}) {
		t.Fatalf("groups: %q", got)
	}
	p.mustContain("main table", "Empty", "Stable")
	p.screenshot("groups")

	p.open("/groups/shipping")
	p.mustContain("main", "shipping-service", "Stable")
	p.screenshot("group")

	// billing: committed 2 and 4 of 5 and 4 records; partition 2 has no commit (lag 4).
	p.open("/groups/billing")
	if got := p.column(4); len(got) < 3 {
		t.Fatalf("billing has no offsets table: %q", got)
	}
	var lags []string
	lags = eval[[]string](p, `Array.from(document.querySelectorAll("main section")[1].querySelectorAll("tbody tr")).map(tr => tr.children[4].textContent)`)
	if !slices.Equal(lags, []string{"3", "0", "4"}) {
		t.Fatalf("billing lag: %q", lags)
	}
	p.run("reset to earliest",
		chromedp.SetValue(chromedp.CSS(`#reset-offsets select[name="to"]`), "earliest"),
		chromedp.Click(chromedp.CSS(`#reset-offsets button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main .msg.ok`)))
	lags = eval[[]string](p, `Array.from(document.querySelectorAll("main section")[1].querySelectorAll("tbody tr")).map(tr => tr.children[4].textContent)`)
	if !slices.Equal(lags, []string{"5", "4", "4"}) {
		t.Fatalf("billing lag after the reset: %q", lags)
	}
	fetched, err := ad.FetchOffsets(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := fetched.Lookup("orders", 1); o.At != 0 {
		t.Fatalf("committed offset after the reset: %+v", o)
	}
	// The active group refuses: the form shows the broker's reason.
	p.open("/groups/shipping")
	p.run("reset an active group",
		chromedp.SetValue(chromedp.CSS(`#reset-offsets input[name="topic"]`), "orders"),
		chromedp.Click(chromedp.CSS(`#reset-offsets button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main .msg.error`)))
	p.mustContain("main .msg.error", "stop its consumers first")

	p.open("/brokers")
	p.mustContain("main table", "127.0.0.1", "Controller")
	p.screenshot("brokers")

	// Create a topic with the form: it lands on the new topic's page.
	p.open("/topics")
	p.run("create a topic",
		chromedp.SendKeys(chromedp.CSS(`#create-topic input[name="name"]`), "made-in-console"),
		chromedp.SendKeys(chromedp.CSS(`#create-topic input[name="partitions"]`), "2"),
		chromedp.SendKeys(chromedp.CSS(`#create-topic input[name="configs"]`), "cleanup.policy=compact"),
		chromedp.Click(chromedp.CSS(`#create-topic button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="made-in-console"]`)))
	td, err := ad.ListTopics(ctx, "made-in-console")
	if err != nil || len(td["made-in-console"].Partitions) != 2 {
		t.Fatalf("created topic: %+v %v", td, err)
	}
	rc, err := ad.DescribeTopicConfigs(ctx, "made-in-console")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := rc.On("made-in-console", nil); err != nil || !slices.ContainsFunc(c.Configs, func(c kadm.Config) bool { return c.Key == "cleanup.policy" && c.MaybeValue() == "compact" }) {
		t.Fatalf("created topic's configs: %+v %v", c, err)
	}
	// The same name again: the broker's error, on the page.
	p.open("/topics")
	p.run("create it again",
		chromedp.SendKeys(chromedp.CSS(`#create-topic input[name="name"]`), "made-in-console"),
		chromedp.Click(chromedp.CSS(`#create-topic button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main .msg.error`)))
	p.mustContain("main .msg.error", "TOPIC_ALREADY_EXISTS")

	// Produce a record with the form, then follow the link to it.
	p.open("/topics/made-in-console")
	p.run("produce",
		chromedp.SetValue(chromedp.CSS(`#produce select[name="partition"]`), "1"),
		chromedp.SendKeys(chromedp.CSS(`#produce input[name="key"]`), "k1"),
		chromedp.SendKeys(chromedp.CSS(`#produce textarea[name="value"]`), "hello from the console"),
		chromedp.SendKeys(chromedp.CSS(`#produce input[name="headers"]`), "via=console"),
		chromedp.Click(chromedp.CSS(`#produce button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main .msg.ok`)))
	p.mustContain("main .msg.ok", "partition 1 at offset 0")
	p.run("follow the link", chromedp.Click(chromedp.Search(`//a[text()="Show the record"]`)), chromedp.WaitVisible(chromedp.CSS(`main table`)))
	p.mustContain("main table", "k1", "hello from the console", "via: console")
	reader := kgoClient(t, s, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"made-in-console": {1: kgo.NewOffset().AtStart()}}))
	var r []*kgo.Record
	for len(r) == 0 && ctx.Err() == nil { // a poll may end with no record (a fetch error, a metadata refresh)
		r = reader.PollFetches(ctx).Records()
	}
	if len(r) != 1 || string(r[0].Key) != "k1" || string(r[0].Value) != "hello from the console" || len(r[0].Headers) != 1 {
		t.Fatalf("produced record: %+v", r)
	}

	// Delete it: the button waits for the name, then the topic is gone.
	p.open("/topics/made-in-console")
	if !eval[bool](p, `document.querySelector("#delete-topic button").disabled`) {
		t.Fatal("delete enabled before the name is typed")
	}
	p.run("delete",
		chromedp.SendKeys(chromedp.CSS(`#delete-topic input[name="confirm"]`), "made-in-console"),
		chromedp.Click(chromedp.CSS(`#delete-topic button`)),
		chromedp.WaitVisible(chromedp.CSS(`main .msg.ok`)))
	p.mustContain("main .msg.ok", "made-in-console deleted")
	if td, err := ad.ListTopics(kadm.WithAuthorizedOps(ctx), "made-in-console"); err != nil || td.Has("made-in-console") { // uncached metadata
		t.Fatalf("deleted topic still listed: %v %v", td.Names(), err)
	}

	// Unknown entities: a clear message, never a blank page.
	p.open("/topics/no-such-topic")
	p.mustContain("main", "Not found")
	p.open("/groups/no-such-group")
	p.mustContain("main", "Not found", "unknown group")
}

// TestConsoleManyTopics: with 10,000 topics the topics page shows one page of 50, counts
// them all, pages, and finds one by search. The topic list is answered by a stand-in of
// GET /api/v1/topics (same parameters and answer: q, offset, limit, X-Total-Count) over
// 10,000 names, the rest by the real Handler: a broker holds about four descriptors per
// partition, more than a test machine's limit for 10,000 (see docs/console.md).
func TestConsoleManyTopics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Chromium")
	}
	chromiumPath(t)
	s := servertest.StartBroker(t, "", nil)
	h := observe.New(nil)
	h.Attach(s)
	t.Cleanup(func() { h.Close() })
	names := make([]string, 10000)
	for i := range names {
		names[i] = fmt.Sprintf("topic-%05d", i)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /api/v1/topics", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var match []string
		for _, n := range names {
			if strings.Contains(n, strings.ToLower(q.Get("q"))) {
				match = append(match, n)
			}
		}
		from, _ := strconv.Atoi(q.Get("offset"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		page := match[min(from, len(match)):]
		page = page[:min(limit, len(page))]
		out := make([]map[string]any, 0, len(page))
		for _, n := range page {
			out = append(out, map[string]any{"name": n, "partitions": 1, "size_bytes": 0, "records": 0, "end_offset": 0})
		}
		w.Header().Set("X-Total-Count", strconv.Itoa(len(match)))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	p := newPage(t, ts.URL)
	start := time.Now()
	p.open("/topics")
	t.Logf("topics page with 10,000 topics rendered in %v", time.Since(start))
	if got := p.column(0); len(got) != 50 || got[0] != "topic-00000" || got[49] != "topic-00049" {
		t.Fatalf("first page: %d rows, %q … %q", len(got), got[0], got[len(got)-1])
	}
	p.mustContain("#topic-count", "1–50 of 10,000 topics")
	p.mustContain("main", "Page 1 of 200")
	p.screenshot("topics-10000")
	p.run("next page", chromedp.Click(chromedp.CSS(`button[aria-label="Next page"]`)),
		chromedp.WaitVisible(chromedp.Search(`//a[text()="topic-00050"]`)))
	p.mustContain("#topic-count", "51–100 of 10,000 topics")
	p.run("search", chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), "topic-09999"),
		chromedp.WaitVisible(chromedp.Search(`//span[@id="topic-count" and contains(text(), "of 1 topic")]`)))
	if got := p.column(0); !slices.Equal(got, []string{"topic-09999"}) {
		t.Fatalf("search: %q", got)
	}
	if u, _ := url.Parse(p.location()); u.Query().Get("q") != "topic-09999" {
		t.Fatalf("the search is not in the URL: %s", u)
	}
	p.run("search nothing", chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), "x"),
		chromedp.WaitVisible(chromedp.Search(`//strong[contains(text(), "No topic matches")]`)))
}

// location is the page's current URL.
func (p *page) location() string {
	return value(p, "location", chromedp.Location())
}
