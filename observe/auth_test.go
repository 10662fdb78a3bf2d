package observe_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/stratalog/strata/observe"
	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
)

// startSecured starts a broker whose only listener is SASL_PLAINTEXT, with ACLs (super
// user admin, the bootstrap user) and a user reader who may describe and read topic
// visible, and its HTTP handler with basic authentication.
func startSecured(t *testing.T) (url string) {
	t.Helper()
	s := servertest.Start(t, &server.Options{
		Listeners: []server.Listener{{Name: "SASL_PLAINTEXT", Addr: "127.0.0.1:0"}},
		Settings: map[string]string{
			"bootstrap.user":        "admin:admin-secret",
			"authorizer.class.name": "strata",
			"super.users":           "User:admin",
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.ListenerAddr("SASL_PLAINTEXT").String()),
		kgo.SASL(scram.Auth{User: "admin", Pass: "admin-secret"}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "reader", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "reader-secret"}}); err != nil {
		t.Fatal(err)
	}
	acl := kadm.NewACLs().Allow("User:reader").AllowHosts().Topics("visible").Operations(kadm.OpDescribe, kadm.OpRead).
		ResourcePatternType(kadm.ACLPatternLiteral)
	if res, err := adm.CreateACLs(ctx, acl); err != nil || res[0].Err != nil {
		t.Fatalf("CreateACLs: %v %+v", err, res)
	}
	_, url = startHTTP(t, s, &observe.Options{BasicAuth: true})
	return url
}

// doAs is do with HTTP basic authentication (none if user is empty); it returns the
// status and the WWW-Authenticate header.
func doAs(t *testing.T, user, password, method, url, body string, out any) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode >= 400 {
		t.Logf("%s %s as %q: %d %s", method, url, user, resp.StatusCode, b)
	}
	if out != nil && resp.StatusCode < 400 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// TestObserveBasicAuth: with Options.BasicAuth every endpoint but the probes wants a user
// and password of the broker's SCRAM credentials (401 with a Basic challenge otherwise),
// and the console acts as the logged-in user on a broker whose first (only) listener is
// SASL_PLAINTEXT: the super user creates and lists every topic, reader lists only the one
// its ACLs let it describe and may neither create nor delete (403).
func TestObserveBasicAuth(t *testing.T) {
	url := startSecured(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := doAs(t, "", "", "GET", url+path, "", nil); code != http.StatusOK {
			t.Errorf("%s without a login: %d, want 200", path, code)
		}
	}
	for _, c := range []struct{ user, password, path string }{
		{"", "", "/api/v1/topics"}, {"", "", "/metrics"}, {"", "", "/"},
		{"admin", "wrong", "/api/v1/topics"}, {"nobody", "admin-secret", "/metrics"},
	} {
		code, challenge := doAs(t, c.user, c.password, "GET", url+c.path, "", nil)
		if code != http.StatusUnauthorized || !strings.HasPrefix(challenge, "Basic ") {
			t.Errorf("%s as %q/%q: %d %q, want 401 with a Basic challenge", c.path, c.user, c.password, code, challenge)
		}
	}
	if code, _ := doAs(t, "admin", "admin-secret", "GET", url+"/metrics", "", nil); code != http.StatusOK {
		t.Errorf("/metrics as admin: %d", code)
	}
	for _, name := range []string{"visible", "hidden"} {
		if code, _ := doAs(t, "admin", "admin-secret", "POST", url+"/api/v1/topics", `{"name":"`+name+`","partitions":1}`, nil); code != http.StatusCreated {
			t.Fatalf("create %s as admin: %d", name, code)
		}
	}
	var list []apiTopic
	if code, _ := doAs(t, "admin", "admin-secret", "GET", url+"/api/v1/topics", "", &list); code != 200 || !slices.Equal(namesOf(list), []string{"hidden", "visible"}) {
		t.Fatalf("topics as admin: %d %v", code, namesOf(list))
	}
	list = nil
	if code, _ := doAs(t, "reader", "reader-secret", "GET", url+"/api/v1/topics", "", &list); code != 200 || !slices.Equal(namesOf(list), []string{"visible"}) {
		t.Fatalf("topics as reader: %d %v, want only visible", code, namesOf(list))
	}
	if code, _ := doAs(t, "reader", "reader-secret", "GET", url+"/api/v1/topics/visible", "", nil); code != http.StatusOK {
		t.Errorf("topic visible as reader: %d, want 200", code)
	}
	if code, _ := doAs(t, "reader", "reader-secret", "GET", url+"/api/v1/topics/hidden", "", nil); code != http.StatusForbidden && code != http.StatusNotFound {
		t.Errorf("topic hidden as reader: %d, want 403 or 404", code)
	}
	if code, _ := doAs(t, "reader", "reader-secret", "POST", url+"/api/v1/topics", `{"name":"mine","partitions":1}`, nil); code != http.StatusForbidden {
		t.Errorf("create as reader: %d, want 403", code)
	}
	if code, _ := doAs(t, "reader", "reader-secret", "DELETE", url+"/api/v1/topics/visible", "", nil); code != http.StatusForbidden {
		t.Errorf("delete as reader: %d, want 403", code)
	}
}

// TestConsoleBasicAuth: in Chromium, the console of a broker whose only listener is
// SASL_PLAINTEXT, behind basic authentication (the Authorization header the browser
// would send after its login dialog): logged in as reader it lists only the topic reader may describe, and its create-topic form
// shows the broker's TOPIC_AUTHORIZATION_FAILED; logged in as admin it lists both.
func TestConsoleBasicAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Chromium")
	}
	chromiumPath(t)
	base := startSecured(t)
	for _, name := range []string{"visible", "hidden"} {
		if code, _ := doAs(t, "admin", "admin-secret", "POST", base+"/api/v1/topics", `{"name":"`+name+`","partitions":1}`, nil); code != http.StatusCreated {
			t.Fatalf("create %s as admin: %d", name, code)
		}
	}
	login := func(p *page, user, password string) {
		p.t.Helper()
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
		ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
		defer cancel()
		if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
			p.t.Fatalf("log in as %s: %v", user, err)
		}
	}

	// Without a login the navigation fails in headless Chromium, which cannot show the
	// Basic challenge's dialog (net::ERR_INVALID_AUTH_CREDENTIALS); TestObserveBasicAuth
	// checks the 401 and its challenge.
	p := newPage(t, base)
	login(p, "reader", "reader-secret")
	p.open("/topics")
	if got := p.column(0); !slices.Equal(got, []string{"visible"}) {
		t.Fatalf("topics as reader: %q, want only visible", got)
	}
	p.run("create a topic as reader",
		chromedp.SendKeys(chromedp.CSS(`#create-topic input[name="name"]`), "mine"),
		chromedp.SendKeys(chromedp.CSS(`#create-topic input[name="partitions"]`), "1"),
		chromedp.Click(chromedp.CSS(`#create-topic button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main .msg.error`)))
	p.mustContain("main .msg.error", "AUTHORIZATION_FAILED")

	login(p, "admin", "admin-secret")
	p.open("/topics")
	if got := p.column(0); !slices.Equal(got, []string{"hidden", "visible"}) {
		t.Fatalf("topics as admin: %q", got)
	}
}
