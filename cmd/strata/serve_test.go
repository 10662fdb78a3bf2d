package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	registry "github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/server"
)

func TestServeConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "strata.yaml")
	yaml := `listeners: PLAINTEXT://127.0.0.1:7000
log.dirs: /from/file
log.retention.ms: 1000
num:
  partitions: 3
connections.max.idle.ms: 5000
auto.create.topics.enable: true
`
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		flags   serveFlags
		changed []string
		env     []string
		want    map[string]string // settings
		listen  string
		dataDir string
		idle    time.Duration
		http    string // the HTTP listener's address (http.listener)
	}{
		{
			name: "defaults", listen: "127.0.0.1:9092", dataDir: "./data", http: "127.0.0.1:9644",
			want: map[string]string{},
		},
		{
			name:  "file",
			flags: serveFlags{config: file}, changed: []string{"config"},
			listen: "127.0.0.1:7000", dataDir: "/from/file", idle: 5 * time.Second, http: "127.0.0.1:9644",
			want: map[string]string{"log.retention.ms": "1000", "num.partitions": "3", "auto.create.topics.enable": "true"},
		},
		{
			name: "env over file",
			env: []string{"STRATA_CONFIG=" + file, "STRATA_LOG_RETENTION_MS=2000", "STRATA_LISTENERS=127.0.0.1:7001",
				"STRATA_DATA_DIR=/from/env", "STRATA_HTTP_LISTENER=127.0.0.1:7002", "OTHER=1"},
			listen: "127.0.0.1:7001", dataDir: "/from/env", idle: 5 * time.Second, http: "127.0.0.1:7002",
			want: map[string]string{"log.retention.ms": "2000", "num.partitions": "3", "auto.create.topics.enable": "true"},
		},
		{
			name: "flags over env",
			flags: serveFlags{config: file, listen: "127.0.0.1:0", dataDir: "/from/flag", http: "off",
				set: []string{"log.retention.ms=3000", "auto.create.topics.enable=false", "connections.max.idle.ms=7"}},
			changed: []string{"config", "listen", "data-dir", "http", "set"},
			env: []string{"STRATA_LOG_RETENTION_MS=2000", "STRATA_LISTENERS=127.0.0.1:7001", "STRATA_LOG_DIRS=/from/env",
				"STRATA_HTTP_LISTENER=127.0.0.1:7002"},
			listen: "127.0.0.1:0", dataDir: "/from/flag", idle: 7 * time.Millisecond, http: "off",
			want: map[string]string{"log.retention.ms": "3000", "num.partitions": "3", "auto.create.topics.enable": "false"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed := func(name string) bool {
				for _, c := range tt.changed {
					if c == name {
						return true
					}
				}
				return false
			}
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			cfg, err := loadConfig(&tt.flags, changed)
			if err != nil {
				t.Fatal(err)
			}
			o, err := cfg.options(nil)
			if err != nil {
				t.Fatal(err)
			}
			if o.Listen != tt.listen || o.DataDir != tt.dataDir || o.IdleTimeout != tt.idle {
				t.Errorf("listen %q data %q idle %v; want %q %q %v", o.Listen, o.DataDir, o.IdleTimeout, tt.listen, tt.dataDir, tt.idle)
			}
			if got := cfg.settings[keyHTTP]; got != tt.http {
				t.Errorf("http.listener %q, want %q", got, tt.http)
			}
			if len(o.Settings) != len(tt.want) {
				t.Errorf("settings %v, want %v", o.Settings, tt.want)
			}
			for k, v := range tt.want {
				if o.Settings[k] != v {
					t.Errorf("setting %s = %q, want %q (all: %v)", k, o.Settings[k], v, o.Settings)
				}
			}
		})
	}
}

func TestServeConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
	}{
		{"no equals", []string{"log.retention.ms"}},
		{"two listeners", []string{"listeners=a:1,b:2"}},
		{"bad node id", []string{"node.id=x"}},
		{"bad max bytes", []string{"socket.request.max.bytes=big"}},
		{"two dirs", []string{"log.dirs=/a,/b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(&serveFlags{set: tc.set}, func(string) bool { return false })
			if err == nil {
				_, err = cfg.options(nil)
			}
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
	if _, err := newLogger(os.Stderr, "loud", "text"); err == nil {
		t.Error("bad log level accepted")
	}
	if _, err := newLogger(os.Stderr, "info", "xml"); err == nil {
		t.Error("bad log format accepted")
	}
}

// TestServeHTTPAuthentication: http.authentication=basic turns the HTTP listener's basic
// authentication on (observe.Options.BasicAuth, tested in package observe); none or
// unset leaves it off; another value is an error before anything listens.
func TestServeHTTPAuthentication(t *testing.T) {
	for set, want := range map[string]bool{"": false, "http.authentication=none": false, "http.authentication=basic": true} {
		var sets []string
		if set != "" {
			sets = []string{set}
		}
		cfg, err := loadConfig(&serveFlags{set: sets}, func(string) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		o, err := cfg.httpOptions(nil, false)
		if err != nil || o.BasicAuth != want {
			t.Errorf("%q: BasicAuth %v, %v; want %v", set, o != nil && o.BasicAuth, err, want)
		}
		if _, err := cfg.options(nil); err != nil {
			t.Errorf("%q: the broker refuses the setting: %v", set, err)
		}
	}
	cfg, err := loadConfig(&serveFlags{set: []string{"http.authentication=Basic"}}, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.httpOptions(nil, false); err == nil || !strings.Contains(err.Error(), "http.authentication") {
		t.Errorf("Basic (the values are lower case, as the broker checks): %v, want an error", err)
	}
}

// kafkaServerProperties is Kafka 4's own KRaft server.properties (see its header).
const kafkaServerProperties = "../../internal/config/testdata/kafka-reconfig-server.properties"

// TestServeConfigKafkaProperties: --config reads a Java .properties file; Kafka's own
// server.properties maps onto Options (the controller listener dropped) and every other
// name reaches the broker settings, which accept them (Kafka names without effect warned).
func TestServeConfigKafkaProperties(t *testing.T) {
	for _, file := range []string{kafkaServerProperties, "../../internal/config/testdata/kafka-server.properties"} {
		cfg, err := loadConfig(&serveFlags{config: file}, func(n string) bool { return n == "config" })
		if err != nil {
			t.Fatal(err)
		}
		o, err := cfg.options(nil)
		if err != nil {
			t.Fatal(err)
		}
		if o.Listen != ":9092" || o.Advertised != "localhost:9092" || o.DataDir != "/tmp/kraft-combined-logs" || o.NodeID != 1 {
			t.Fatalf("%s: options %+v", file, o)
		}
		if o.Settings["num.network.threads"] != "3" || o.Settings["log.retention.hours"] != "168" || o.Settings["process.roles"] != "" {
			t.Fatalf("%s: settings %v", file, o.Settings)
		}
		// Kafka's server.properties with controller.quorum.voters is a one-voter cluster;
		// with controller.quorum.bootstrap.servers (KIP-853), which Strata does not have,
		// a single node.
		if file == kafkaServerProperties {
			if o.Cluster != nil {
				t.Fatalf("%s: a cluster node: %+v", file, o.Cluster)
			}
		} else if o.Cluster == nil || len(o.Cluster.Voters) != 1 || o.Cluster.Voters[0].String() != "1@localhost:9093" {
			t.Fatalf("%s: cluster %+v", file, o.Cluster)
		}
		if err := registry.ValidateBroker(o.Settings); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		ignored := map[string]bool{}
		for _, ig := range registry.IgnoredBroker(o.Settings) {
			ignored[ig.Name] = true
		}
		for _, n := range []string{"num.network.threads", "controller.listener.names", "transaction.state.log.min.isr"} {
			if !ignored[n] {
				t.Errorf("%s: %s not reported as ignored (%v)", file, n, ignored)
			}
		}
		if ignored["log.retention.hours"] || ignored["num.partitions"] {
			t.Errorf("%s: implemented settings reported as ignored: %v", file, ignored)
		}
	}
}

func TestServeListeners(t *testing.T) {
	for _, tc := range []struct {
		val, ctrl, want, skipped string
		bad                      bool
	}{
		{val: "127.0.0.1:9092", want: "127.0.0.1:9092"},
		{val: "PLAINTEXT://:9092", want: ":9092"},
		{val: "PLAINTEXT://:9092,CONTROLLER://:9093", ctrl: "CONTROLLER", want: ":9092", skipped: "CONTROLLER://:9093"},
		{val: "controller://:9093, PLAINTEXT://h:1", ctrl: "CONTROLLER", want: "h:1", skipped: "controller://:9093"},
		{val: "PLAINTEXT://:9092,CONTROLLER://:9093", bad: true}, // no controller.listener.names
		{val: "A://:1,B://:2", ctrl: "C", bad: true},
		{val: "CONTROLLER://:9093", ctrl: "CONTROLLER", bad: true},
		{val: "nohost", bad: true},
	} {
		o := &server.Options{}
		skipped, err := listenerOptions(o, map[string]string{keyListeners: tc.val, "controller.listener.names": tc.ctrl})
		if tc.bad {
			if err == nil {
				t.Errorf("%q accepted: %q %+v", tc.val, o.Listen, o.Listeners)
			}
			continue
		}
		if err != nil || o.Listen != tc.want || o.Listeners != nil || strings.Join(skipped, ",") != tc.skipped {
			t.Errorf("%q: %q %+v %v %v, want %q %q", tc.val, o.Listen, o.Listeners, skipped, err, tc.want, tc.skipped)
		}
	}
}

// TestServeListenersSeveral: Kafka's forms for several listeners, their protocols and
// advertised addresses, with clear messages for what Kafka refuses.
func TestServeListenersSeveral(t *testing.T) {
	o := &server.Options{}
	_, err := listenerOptions(o, map[string]string{
		keyListeners:                "PLAINTEXT://127.0.0.1:9092,internal://:9093,CONTROLLER://:9094",
		keyAdvertised:               "PLAINTEXT://kafka.example:9092,CONTROLLER://c:9094",
		keyProtocolMap:              "PLAINTEXT:PLAINTEXT,INTERNAL:plaintext,CONTROLLER:PLAINTEXT",
		"controller.listener.names": "CONTROLLER",
	})
	want := []server.Listener{
		{Name: "PLAINTEXT", Addr: "127.0.0.1:9092", SecurityProtocol: server.Plaintext, Advertised: "kafka.example:9092"},
		{Name: "INTERNAL", Addr: ":9093", SecurityProtocol: server.Plaintext},
	}
	if err != nil || o.Listen != "" || !slices.Equal(o.Listeners, want) {
		t.Fatalf("listeners %+v (listen %q), %v; want %+v", o.Listeners, o.Listen, err, want)
	}
	// The acceptance form: SSL (TLS) next to PLAINTEXT, and a custom name mapped
	// to SSL, each advertising its own address; the ssl.* settings, per listener too,
	// reach the broker settings.
	cfg, err := loadConfig(&serveFlags{set: []string{
		"listeners=PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093,INTERNAL://127.0.0.1:9094",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,INTERNAL:SSL",
		"advertised.listeners=SSL://kafka.example:9093",
		"ssl.keystore.location=/etc/strata/broker.pem",
		"listener.name.internal.ssl.client.auth=required",
	}}, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if o, err = cfg.options(nil); err != nil {
		t.Fatal(err)
	}
	want = []server.Listener{
		{Name: "PLAINTEXT", Addr: "127.0.0.1:9092", SecurityProtocol: server.Plaintext},
		{Name: "SSL", Addr: "127.0.0.1:9093", SecurityProtocol: server.SSL, Advertised: "kafka.example:9093"},
		{Name: "INTERNAL", Addr: "127.0.0.1:9094", SecurityProtocol: server.SSL},
	}
	if !slices.Equal(o.Listeners, want) || o.Settings["ssl.keystore.location"] != "/etc/strata/broker.pem" ||
		o.Settings["listener.name.internal.ssl.client.auth"] != "required" {
		t.Fatalf("SSL listeners: %+v, settings %v; want %+v", o.Listeners, o.Settings, want)
	}
	o = &server.Options{}
	if _, err := listenerOptions(o, map[string]string{keyListeners: "INTERNAL://:9093", keyProtocolMap: "INTERNAL:PLAINTEXT"}); err != nil || len(o.Listeners) != 1 || o.Listen != "" {
		t.Fatalf("one listener with another name: %+v %v", o, err)
	}
	for _, tc := range []struct{ listeners, advertised, protocols, want string }{
		{"PLAINTEXT://:9092,PLAINTEXT2://:9093", "", "", "no security protocol defined for listener PLAINTEXT2"},
		{"PLAINTEXT://:9092", "", "PLAINTEXT:TLS", "unknown security protocol"},
		{"PLAINTEXT://:9092,A://:9093", "B://h:1", "PLAINTEXT:PLAINTEXT,A:PLAINTEXT", "subset of the ones defined in listeners"},
		{"PLAINTEXT://:9092,A://:9093", "h:1", "PLAINTEXT:PLAINTEXT,A:PLAINTEXT", "NAME://host:port entries"},
		{"PLAINTEXT://:9092,A://:9092", "", "PLAINTEXT:PLAINTEXT,A:PLAINTEXT", "different port"},
		{"PLAINTEXT://:9092,plaintext://:9093", "", "", "different name"},
	} {
		_, err := listenerOptions(&server.Options{}, map[string]string{keyListeners: tc.listeners, keyAdvertised: tc.advertised, keyProtocolMap: tc.protocols})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s / %s / %s: %v, want %q", tc.listeners, tc.advertised, tc.protocols, err, tc.want)
		}
	}
}

// TestServeProcessKafkaProperties: the binary starts from Kafka's own server.properties
// (address and data directory overridden by flags), warning once for each Kafka setting
// it does not act on; a made-up name stops it with a suggestion.
func TestServeProcessKafkaProperties(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildStrata(t)
	b := startStrata(t, bin, t.TempDir(), "--config", kafkaServerProperties)
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-b.done; err != nil {
		t.Fatalf("exit: %v\n%s", err, b.log)
	}
	b.done <- nil
	out := b.log.String()
	for _, w := range []string{"num.network.threads has no effect in Strata", "process.roles has no effect without controller.quorum.voters",
		"controller.quorum.bootstrap.servers configures a part of Kafka's cluster mode", "controller listeners are ignored"} {
		if n := strings.Count(out, w); n != 1 {
			t.Errorf("%q logged %d times:\n%s", w, n, out)
		}
	}
	if strings.Contains(out, "log.retention.hours has no effect") {
		t.Errorf("an implemented setting warned:\n%s", out)
	}

	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--http", "off", "--data-dir", t.TempDir(), "--set", "log.retention.msx=1")
	msg, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(string(msg), "did you mean log.retention.ms?") {
		t.Fatalf("made-up setting: %v\n%s", err, msg)
	}
}

// TestServeClusterSettings: controller.quorum.voters makes a cluster node (the other
// cluster settings, strata.cluster.join among them, onto ClusterOptions, none of them left in Settings); process.roles
// other than combined mode, bad voters or timings stop it with an error; without voters
// the node is single (Cluster nil).
func TestServeClusterSettings(t *testing.T) {
	opts := func(set ...string) (*server.Options, error) {
		cfg, err := loadConfig(&serveFlags{set: set}, func(string) bool { return false })
		if err != nil {
			return nil, err
		}
		o, err := cfg.options(nil)
		if err == nil {
			o.EnsureDefaults()
		}
		return o, err
	}
	o, err := opts("node.id=2", "controller.quorum.voters=2@127.0.0.1:9193, 1@127.0.0.1:9093,3@127.0.0.1:9293",
		"process.roles=controller,broker", "broker.heartbeat.interval.ms=100", "broker.session.timeout.ms=900", "strata.cluster.join=true")
	if err != nil {
		t.Fatal(err)
	}
	c := o.Cluster
	if c == nil || o.NodeID != 2 || len(c.Voters) != 3 || c.Voters[0].String() != "1@127.0.0.1:9093" ||
		c.HeartbeatInterval != 100*time.Millisecond || c.SessionTimeout != 900*time.Millisecond || !c.Join {
		t.Fatalf("cluster %+v node %d", c, o.NodeID)
	}
	if len(o.Settings) != 0 {
		t.Errorf("cluster settings left in Settings: %v", o.Settings)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o, err = opts("controller.quorum.voters=1@127.0.0.1:9093"); err != nil || o.Cluster == nil || o.Cluster.HeartbeatInterval != 0 || o.Cluster.Join {
		t.Fatalf("defaults: %v %+v", err, o)
	}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "node.id 0 is not in controller.quorum.voters") {
		t.Fatalf("node.id outside the voters: %v", err)
	}
	if o, err = opts("process.roles=broker", "broker.session.timeout.ms=100"); err != nil || o.Cluster != nil {
		t.Fatalf("no voters: %v %+v", err, o)
	}
	for _, tc := range []struct{ set, want string }{
		{"process.roles=broker", "only combined mode"},
		{"process.roles=controller", "only combined mode"},
		{"process.roles=observer", "not one of broker, controller"},
		{"controller.quorum.voters=1@nohost", "bad address"},
		{"controller.quorum.voters=1@h:1,1@h:2", "listed twice"},
		{"broker.heartbeat.interval.ms=0", "at least 1"},
		{"broker.session.timeout.ms=x", "not a 32-bit integer"},
		{"strata.cluster.join=maybe", "strata.cluster.join"},
	} {
		set := []string{"node.id=1", "controller.quorum.voters=1@127.0.0.1:9093", tc.set}
		if _, err := opts(set...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.set, err, tc.want)
		}
	}
	o, err = opts("node.id=1", "controller.quorum.voters=1@127.0.0.1:9093", "broker.heartbeat.interval.ms=2000")
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "must exceed broker.heartbeat.interval.ms") {
		t.Fatalf("session timeout (default 1500) under the heartbeat interval: %v", err)
	}
}
