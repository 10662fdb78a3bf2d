package observe_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.yaml.in/yaml/v3"

	"github.com/stratalog/strata/server/servertest"
)

// The Grafana dashboard and the Prometheus alert rules shipped in deploy/ (docs/metrics.md).
const (
	dashboardPath = "../deploy/grafana/strata-dashboard.json"
	alertsPath    = "../deploy/prometheus/strata-alerts.yml"
)

// metricRef matches the metric names in a PromQL expression.
var metricRef = regexp.MustCompile(`\b(?:strata|go|process)_[a-z0-9_]+\b`)

// exportedNames returns the names a scrape of a broker with a topic, a record and a
// group's commit exposes, histograms with their _bucket, _sum and _count series.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	s := servertest.StartBroker(t, "", nil)
	_, url := startHTTP(t, s, nil)
	ctx := ctxT(t)
	cl := kgoClient(t, s, kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "d", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	o := kadm.Offsets{}
	o.AddOffset("d", 0, 1, -1)
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "g", o); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for name, f := range scrape(t, url) {
		names[name] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = true
			}
		}
	}
	return names
}

// TestDeployAlertRules: the alert rules file has Prometheus' rule file structure (no
// unknown field), every rule its alert, expression, duration, severity and summary, and
// the expressions name only metrics the broker exports.
func TestDeployAlertRules(t *testing.T) {
	type rule struct {
		Alert       string            `yaml:"alert"`
		Expr        string            `yaml:"expr"`
		For         string            `yaml:"for"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile(alertsPath)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("%s: %v", alertsPath, err)
	}
	names := exportedNames(t)
	var alerts []string
	for _, g := range file.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v: needs alert, expr and a summary", r)
			}
			if _, err := model.ParseDuration(r.For); err != nil {
				t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			checkExpr(t, r.Alert, r.Expr, names)
		}
	}
	// The four: disk almost full, consumer lag growing, request errors, fsync.
	for _, want := range []string{"StrataDiskAlmostFull", "StrataConsumerLagGrowing", "StrataRequestErrorRate", "StrataFsyncSlow"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s", want)
		}
	}
}

// TestDeployDashboard: the Grafana dashboard is JSON with panels, and every query names
// only metrics the broker exports.
func TestDeployDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	names := exportedNames(t)
	var queries int
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			checkExpr(t, p.Title, q.Expr, names)
		}
	}
	if dash.Title == "" || queries < 10 {
		t.Fatalf("dashboard %q with %d queries", dash.Title, queries)
	}
}

// checkExpr fails the test for a metric name in expr that names do not have.
func checkExpr(t *testing.T, what, expr string, names map[string]bool) {
	t.Helper()
	refs := metricRef.FindAllString(expr, -1)
	if len(refs) == 0 {
		t.Errorf("%s: %q names no metric", what, expr)
	}
	for _, m := range refs {
		if !names[m] {
			t.Errorf("%s: %s is not exported (in %q)", what, m, expr)
		}
	}
}
