package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	}{
		{
			name: "defaults", listen: "127.0.0.1:9092", dataDir: "./data",
			want: map[string]string{},
		},
		{
			name:  "file",
			flags: serveFlags{config: file}, changed: []string{"config"},
			listen: "127.0.0.1:7000", dataDir: "/from/file", idle: 5 * time.Second,
			want: map[string]string{"log.retention.ms": "1000", "num.partitions": "3", "auto.create.topics.enable": "true"},
		},
		{
			name: "env over file",
			env: []string{"STRATA_CONFIG=" + file, "STRATA_LOG_RETENTION_MS=2000", "STRATA_LISTENERS=127.0.0.1:7001",
				"STRATA_DATA_DIR=/from/env", "OTHER=1"},
			listen: "127.0.0.1:7001", dataDir: "/from/env", idle: 5 * time.Second,
			want: map[string]string{"log.retention.ms": "2000", "num.partitions": "3", "auto.create.topics.enable": "true"},
		},
		{
			name: "flags over env",
			flags: serveFlags{config: file, listen: "127.0.0.1:0", dataDir: "/from/flag",
				set: []string{"log.retention.ms=3000", "auto.create.topics.enable=false", "connections.max.idle.ms=7"}},
			changed: []string{"config", "listen", "data-dir", "set"},
			env:     []string{"STRATA_LOG_RETENTION_MS=2000", "STRATA_LISTENERS=127.0.0.1:7001", "STRATA_LOG_DIRS=/from/env"},
			listen:  "127.0.0.1:0", dataDir: "/from/flag", idle: 7 * time.Millisecond,
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
