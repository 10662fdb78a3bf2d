package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cast"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	registry "github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata/raft"
	"github.com/stratalog/strata/observe"
	"github.com/stratalog/strata/server"
)

// shutdownTimeout bounds a graceful shutdown after SIGTERM or SIGINT.
const shutdownTimeout = 30 * time.Second

// envPrefix prefixes the environment variables that configure serve: a Kafka setting name
// in upper case with '_' for '.', e.g. STRATA_LOG_RETENTION_MS for log.retention.ms.
const envPrefix = "STRATA_"

// Keys of the serve settings that are not broker settings (CLI only).
const (
	keyLogLevel  = "log-level"
	keyLogFormat = "log-format"
	keyReadyFile = "ready-file"
	// keyHTTP is the HTTP listener (metrics, health, console): a Strata setting in the
	// registry, served by package observe, not by the broker.
	keyHTTP = "http.listener"
	// keyHTTPAuth is the HTTP listener's authentication (none or basic): also a broker
	// setting, which the broker validates and reports.
	keyHTTPAuth = "http.authentication"
)

// Broker settings that map onto server.Options fields; every other key goes into
// Options.Settings.
const (
	keyListeners      = "listeners"
	keyAdvertised     = "advertised.listeners"
	keyProtocolMap    = "listener.security.protocol.map"
	keyLogDirs        = "log.dirs"
	keyLogDir         = "log.dir"
	keyNodeID         = "node.id"
	keyMaxRequest     = "socket.request.max.bytes"
	keyMaxConnections = "max.connections"
	keyIdleMs         = "connections.max.idle.ms"

	// Cluster settings (server.Options.Cluster).
	keyVoters      = "controller.quorum.voters"
	keyRoles       = "process.roles"
	keyHeartbeatMs = "broker.heartbeat.interval.ms"
	keySessionMs   = "broker.session.timeout.ms"
	keyLagMs       = "replica.lag.time.max.ms"
	keyJoin        = "strata.cluster.join"
)

// aliases maps other spellings (from the flag names, or from environment variables, where
// '-' cannot appear) onto canonical keys.
var aliases = map[string]string{
	"listen":     keyListeners,
	"data-dir":   keyLogDirs,
	"data.dir":   keyLogDirs,
	keyLogDir:    keyLogDirs,
	"log.level":  keyLogLevel,
	"log.format": keyLogFormat,
	"ready.file": keyReadyFile,
	"http":       keyHTTP,
}

func canonicalKey(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	if a, ok := aliases[k]; ok {
		return a
	}
	return k
}

// serveFlags are the command-line flags of serve.
type serveFlags struct {
	config    string
	listen    string
	dataDir   string
	set       []string
	logLevel  string
	logFormat string
	readyFile string
	http      string // HOST:PORT of the HTTP listener, or off
	pprof     string // HOST:PORT of the net/http/pprof listener; empty: on the HTTP listener
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a broker",
		Long: `Run a broker until SIGTERM or SIGINT, then shut down cleanly (at most 30 s).

Settings use Kafka's broker configuration names. They come from, in order of precedence:

  1. flags: --listen, --data-dir, --http, --log-level, --log-format, --ready-file,
     and --set NAME=VALUE for any setting (repeatable)
  2. environment variables: STRATA_ and the name in upper case with '_' for '.',
     e.g. STRATA_LOG_RETENTION_MS=1000, STRATA_LISTENERS=0.0.0.0:9092
  3. a file given with --config (or STRATA_CONFIG), keys are Kafka names: YAML
       listeners: 127.0.0.1:9092
       log.dirs: /var/lib/strata
       log.retention.ms: 604800000
     or, by its extension (.properties), a Java properties file such as Kafka's own
     server.properties
  4. defaults: listeners 127.0.0.1:9092, log.dirs ./data, node.id 0

listeners, advertised.listeners, listener.security.protocol.map, log.dirs, node.id,
socket.request.max.bytes, max.connections and connections.max.idle.ms configure the server
itself; every other setting (auto.create.topics.enable, num.partitions, log.retention.ms
...) is passed to the broker. listeners takes a plain HOST:PORT or Kafka's list of
NAME://HOST:PORT (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); each listener advertises
its own address (advertised.listeners) to the clients that come in on it. A TLS
listener serves TLS from a PEM keystore (ssl.keystore.location: key and certificate
chain) and asks for client certificates with ssl.client.auth; a SASL listener logs
clients in with PLAIN or SCRAM (sasl.enabled.mechanisms), the first user coming from
bootstrap.user=NAME:PASSWORD (or STRATA_BOOTSTRAP_USER). Any of these settings can be
given for one listener alone as listener.name.<name>.<setting> (docs/security.md). A Kafka setting Strata
does not implement is accepted with a warning ("has no effect in Strata"); a name that is
neither Strata's nor Kafka's, or an invalid value, stops it with an error naming the
closest known names.

node.id and controller.quorum.voters (id@host:port entries, the same on every node) make
the broker a node of a cluster (docs/cluster.md): broker and controller at once
(process.roles=broker,controller), its quorum (Raft) listening on the address of its own
voters entry; broker.heartbeat.interval.ms and broker.session.timeout.ms set how fast
the controller fences a broker it no longer hears from. The broker starts serving once
a quorum of voters has formed and registered it.

The HTTP listener (--http, setting http.listener, default 127.0.0.1:9644; off disables it)
serves Prometheus metrics (/metrics), health (/healthz, and /readyz: 200 once the storage
is recovered and the Kafka listeners accept, 503 from SIGTERM on), the web console (/) and
its JSON API (/api/v1/), and Go's profiles (/debug/pprof/) unless --pprof gives them a
listener of their own. http.authentication=basic makes every endpoint but the probes
want a user and password of the broker's SCRAM users (HTTP basic authentication), and the
console act as that user under the ACLs; without it there is no login: keep it on
loopback or behind a proxy that authenticates.`,
		Example: `  strata serve
  strata serve --listen 0.0.0.0:9092 --data-dir /var/lib/strata
  strata serve --config strata.yaml --set auto.create.topics.enable=false
  strata serve --listen 127.0.0.1:0 --ready-file /tmp/strata.addr   # pick a free port
  strata serve --http 0.0.0.0:9644      # metrics and console on every interface
  strata serve --http off
  strata serve --listen 127.0.0.1:9092 --data-dir d1 --set node.id=1 \
    --set controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293
  strata serve --set listeners=PLAINTEXT://:9092,INTERNAL://10.0.0.5:9093 \
    --set listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT
  strata serve --set listeners=SSL://:9093 --set ssl.keystore.location=/etc/strata/broker.pem \
    --set ssl.truststore.location=/etc/strata/ca.pem --set ssl.client.auth=required`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "configuration file with Kafka setting names as keys: YAML, or .properties (Kafka's server.properties) (env STRATA_CONFIG)")
	fl.StringVar(&f.listen, "listen", "", "HOST:PORT to listen on (listeners; default 127.0.0.1:9092, port 0 picks a free port)")
	fl.StringVar(&f.dataDir, "data-dir", "", "data directory (log.dirs; default ./data)")
	fl.StringArrayVar(&f.set, "set", nil, "NAME=VALUE: any broker setting by its Kafka name (repeatable)")
	fl.StringVar(&f.logLevel, "log-level", "", "log level: debug, info, warn or error (default info)")
	fl.StringVar(&f.logFormat, "log-format", "", "log format: text or json (default text)")
	fl.StringVar(&f.readyFile, "ready-file", "", "once listening, write the bound HOST:PORT (of the first listener) to this file")
	fl.StringVar(&f.http, "http", "", "HOST:PORT of the HTTP listener: metrics, health, web console (http.listener; default 127.0.0.1:9644, off disables it)")
	fl.StringVar(&f.pprof, "pprof", "", "HOST:PORT: serve Go profiles (net/http/pprof, /debug/pprof/) on a separate listener; by default they are on the HTTP listener")
	return cmd
}

// config is the merged configuration of serve.
type config struct {
	settings map[string]string // canonical key → value, every layer merged
}

// loadConfig merges defaults, the config file, STRATA_* environment variables and the
// flags, in increasing order of precedence. changed reports whether a flag was given.
func loadConfig(f *serveFlags, changed func(string) bool) (*config, error) {
	v := viper.NewWithOptions(viper.KeyDelimiter("::")) // Kafka names contain dots
	v.SetDefault(keyListeners, server.DefaultListen)
	v.SetDefault(keyLogDirs, server.DefaultDataDir)
	v.SetDefault(keyNodeID, "0")
	v.SetDefault(keyLogLevel, "info")
	v.SetDefault(keyLogFormat, "text")
	v.SetDefault(keyHTTP, observe.DefaultListen)

	env := map[string]string{}
	for _, kv := range os.Environ() {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) || len(name) == len(envPrefix) {
			continue
		}
		env[name] = val
	}

	// Config file.
	path := f.config
	if !changed("config") {
		if p, ok := env[envPrefix+"CONFIG"]; ok {
			path = p
		}
	}
	if path != "" {
		flat, err := readConfigFile(path)
		if err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
		if err := v.MergeConfigMap(flat); err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
	}

	// Environment.
	for name := range env {
		if name == envPrefix+"CONFIG" {
			continue
		}
		key := canonicalKey(strings.ReplaceAll(strings.TrimPrefix(name, envPrefix), "_", "."))
		if err := v.BindEnv(key, name); err != nil {
			return nil, err
		}
	}

	// Flags: --set first, so that the dedicated flags win over a --set of the same key.
	for _, kv := range f.set {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--set %q: want NAME=VALUE", kv)
		}
		v.Set(canonicalKey(k), val)
	}
	for flag, val := range map[string]string{
		"listen": f.listen, "data-dir": f.dataDir, "log-level": f.logLevel,
		"log-format": f.logFormat, "ready-file": f.readyFile, "http": f.http,
	} {
		if changed(flag) {
			v.Set(canonicalKey(flag), val)
		}
	}

	c := &config{settings: map[string]string{}}
	for _, k := range v.AllKeys() {
		s, err := settingString(v.Get(k))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		c.settings[k] = s
	}
	return c, nil
}

// settingString renders a setting value from YAML, the environment or a flag as the
// string Kafka would use: lists are comma-separated.
func settingString(x any) (string, error) {
	switch x := x.(type) {
	case nil:
		return "", nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := cast.ToStringE(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case []string:
		return strings.Join(x, ","), nil
	default:
		return cast.ToStringE(x)
	}
}

// readConfigFile reads a configuration file into canonical keys: a Java .properties file
// (.properties, .props, .prop: Kafka's server.properties as it is), else YAML or another
// format viper reads by extension (YAML without one). Nested keys flatten to dotted names.
func readConfigFile(path string) (map[string]any, error) {
	flat := map[string]any{}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".properties", ".props", ".prop":
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		props, err := registry.ParseProperties(data)
		if err != nil {
			return nil, err
		}
		for k, val := range props {
			flat[canonicalKey(k)] = val
		}
		return flat, nil
	}
	fv := viper.New()
	fv.SetConfigFile(path)
	if filepath.Ext(path) == "" {
		fv.SetConfigType("yaml")
	}
	if err := fv.ReadInConfig(); err != nil {
		return nil, err
	}
	for _, k := range fv.AllKeys() {
		flat[canonicalKey(k)] = fv.Get(k)
	}
	return flat, nil
}

// httpOptions is the HTTP listener's configuration: http.authentication (none or basic).
func (c *config) httpOptions(logger *slog.Logger, pprof bool) (*observe.Options, error) {
	o := &observe.Options{Logger: logger, Pprof: pprof, Version: versionString()}
	switch auth := strings.TrimSpace(c.settings[keyHTTPAuth]); auth {
	case "", "none":
	case "basic":
		o.BasicAuth = true
	default:
		return nil, fmt.Errorf("%s: %q is not none or basic", keyHTTPAuth, auth)
	}
	return o, nil
}

// options maps the merged configuration onto server.Options: the connection-level
// settings onto their fields, every other broker setting into Options.Settings.
func (c *config) options(logger *slog.Logger) (*server.Options, error) {
	o := &server.Options{Logger: logger, Settings: map[string]string{}}
	var errs []error
	bad := func(k string, err error) { errs = append(errs, fmt.Errorf("%s: %w", k, err)) }
	if skipped, err := listenerOptions(o, c.settings); err != nil {
		errs = append(errs, err)
	} else if len(skipped) > 0 && logger != nil {
		logger.Warn(keyListeners+": controller listeners are ignored; a cluster node's quorum listens on its own controller.quorum.voters entry", "ignored", strings.Join(skipped, ","))
	}
	if err := clusterOptions(o, c.settings, logger); err != nil {
		errs = append(errs, err)
	}
	for k, val := range c.settings {
		switch k {
		case keyLogLevel, keyLogFormat, keyReadyFile, keyHTTP, keyListeners, keyAdvertised, keyProtocolMap,
			keyVoters, keyRoles, keyHeartbeatMs, keySessionMs, keyLagMs, keyJoin:
		case keyLogDirs:
			if strings.Contains(val, ",") {
				bad(k, errors.New("only one data directory is supported"))
			}
			o.DataDir = strings.TrimSpace(val)
		case keyNodeID:
			n, err := strconv.ParseInt(val, 10, 32)
			if err != nil {
				bad(k, err)
			}
			o.NodeID = int32(n)
		case keyMaxRequest:
			n, err := strconv.ParseInt(val, 10, 32)
			if err != nil {
				bad(k, err)
			}
			o.MaxRequestBytes = int32(n)
		case keyMaxConnections:
			n, err := strconv.Atoi(val)
			if err != nil {
				bad(k, err)
			}
			o.MaxConnections = n
		case keyIdleMs:
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				bad(k, err)
			}
			o.IdleTimeout = time.Duration(n) * time.Millisecond
		default:
			o.Settings[k] = val
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

// listenerOptions sets o's listeners from the listeners, advertised.listeners,
// listener.security.protocol.map and controller.listener.names settings (Kafka's forms,
// see server.ParseListeners): one PLAINTEXT listener named PLAINTEXT becomes the Listen
// shorthand, anything else Options.Listeners. It returns the controller listeners left
// out.
func listenerOptions(o *server.Options, settings map[string]string) (skipped []string, err error) {
	ls, skipped, err := server.ParseListeners(settings[keyListeners], settings[keyAdvertised], settings[keyProtocolMap],
		registry.SplitList(settings["controller.listener.names"]))
	if err != nil {
		return nil, err
	}
	if len(ls) == 1 && ls[0].Name == string(server.Plaintext) && ls[0].SecurityProtocol == server.Plaintext {
		o.Listen, o.Advertised = ls[0].Addr, ls[0].Advertised
	} else {
		o.Listeners = ls
	}
	return skipped, nil
}

// clusterOptions sets o.Cluster from controller.quorum.voters (a cluster node; none
// without it) and the other cluster settings: process.roles (combined mode only),
// broker.heartbeat.interval.ms, broker.session.timeout.ms, replica.lag.time.max.ms and
// strata.cluster.join. Without voters, the others are ignored with a warning.
func clusterOptions(o *server.Options, settings map[string]string, logger *slog.Logger) error {
	var errs []error
	for _, k := range []string{keyVoters, keyRoles, keyHeartbeatMs, keySessionMs, keyLagMs, keyJoin} {
		if v, ok := settings[k]; ok {
			if st, _ := registry.Lookup(k); st != nil {
				errs = append(errs, st.Validate(v))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if strings.TrimSpace(settings[keyVoters]) == "" {
		for _, k := range []string{keyRoles, keyHeartbeatMs, keySessionMs, keyLagMs, keyJoin} {
			if _, ok := settings[k]; ok && logger != nil {
				logger.Warn(k+" has no effect without controller.quorum.voters: this is a single node", "setting", k)
			}
		}
		return nil
	}
	voters, err := raft.ParseVoters(settings[keyVoters])
	if err != nil {
		return err
	}
	if roles, ok := settings[keyRoles]; ok {
		rs := registry.SplitList(roles)
		if !slices.Contains(rs, "broker") || !slices.Contains(rs, "controller") {
			return fmt.Errorf("%s=%s: only combined mode is supported, every cluster node being broker and controller (process.roles=broker,controller, the default)", keyRoles, roles)
		}
	}
	ms := func(k string) time.Duration {
		n, _ := strconv.Atoi(settings[k]) // validated; absent: 0, the default
		return time.Duration(n) * time.Millisecond
	}
	join, _ := strconv.ParseBool(settings[keyJoin]) // validated; absent: false
	o.Cluster = &server.ClusterOptions{Voters: voters, Join: join, HeartbeatInterval: ms(keyHeartbeatMs), SessionTimeout: ms(keySessionMs),
		ReplicaLagTimeMax: ms(keyLagMs)}
	return nil
}

// newLogger builds the slog logger of the --log-level and --log-format settings.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	ho := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
}

func runServe(cmd *cobra.Command, f *serveFlags) error {
	cfg, err := loadConfig(f, cmd.Flags().Changed)
	if err != nil {
		return err
	}
	logger, err := newLogger(cmd.ErrOrStderr(), cfg.settings[keyLogLevel], cfg.settings[keyLogFormat])
	if err != nil {
		return err
	}
	opts, err := cfg.options(logger)
	if err != nil {
		return err
	}
	readyFile := cfg.settings[keyReadyFile]
	if readyFile != "" {
		// A stale file from an earlier run must not be mistaken for this one.
		if err := os.Remove(readyFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("ready file: %w", err)
		}
	}

	// The HTTP listener comes first, so that /healthz and /readyz answer while the
	// storage recovers; it closes last, so that /readyz reports the shutdown.
	var web *observe.Handler
	if addr := strings.TrimSpace(cfg.settings[keyHTTP]); !strings.EqualFold(addr, "off") {
		o, err := cfg.httpOptions(logger, f.pprof == "")
		if err != nil {
			return err
		}
		web = observe.New(o)
		defer web.Close()
		hl, err := observe.Listen(addr, web, logger)
		if err != nil {
			return err
		}
		defer hl.Close()
		logger.Info("HTTP listening: metrics, health, console", "addr", hl.Addr().String())
		fmt.Fprintf(cmd.OutOrStdout(), "strata HTTP listener (metrics, console) on http://%s/\n", hl.Addr())
	}

	s, err := server.New(opts)
	if err != nil {
		return err
	}
	if web != nil {
		web.Attach(s)
	}
	if err := s.Listen(); err != nil {
		s.Close()
		return err
	}
	addr := s.Addr().String()
	listening := addr
	if len(opts.Listeners) > 1 {
		var ls []string
		for _, l := range opts.Listeners {
			ls = append(ls, l.Name+"://"+s.ListenerAddr(l.Name).String())
		}
		listening = strings.Join(ls, ", ")
	}
	if f.pprof != "" {
		stop, err := servePprof(f.pprof, logger)
		if err != nil {
			s.Close()
			return err
		}
		defer stop()
	}
	served := make(chan error, 1)
	go func() { served <- s.ListenAndServe() }()

	// Signals are caught from here on, so that a ready file is never left by a broker
	// that was killed by a default signal disposition.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	if readyFile != "" {
		if err := writeFileAtomic(readyFile, addr+"\n"); err != nil {
			s.Close()
			return fmt.Errorf("ready file: %w", err)
		}
		defer os.Remove(readyFile)
	}
	dataDir, _ := filepath.Abs(opts.DataDir)
	logger.Info("strata started", "version", versionString(), "listen", listening, "data_dir", dataDir, "node_id", opts.NodeID)
	fmt.Fprintf(cmd.OutOrStdout(), "strata %s listening on %s, data in %s\n", versionString(), listening, dataDir)
	if opts.Cluster != nil {
		fmt.Fprintf(cmd.OutOrStdout(), "cluster node %d of controller.quorum.voters %s\n", opts.NodeID, cfg.settings[keyVoters])
	}
	if len(opts.Settings) > 0 {
		keys := make([]string, 0, len(opts.Settings))
		for k := range opts.Settings {
			v := opts.Settings[k]
			if st, ok := registry.Lookup(k); ok && st.Sensitive {
				v = "(hidden)"
			}
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		logger.Debug("broker settings", "settings", strings.Join(keys, " "))
	}

	select {
	case sig := <-sigs:
		logger.Info("shutting down", "signal", sig.String(), "timeout", shutdownTimeout)
	case err := <-served:
		logger.Error("server stopped", "err", err)
		s.Close()
		return exitError{err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	go func() {
		select {
		case sig := <-sigs: // a second signal: stop waiting for in-flight requests
			logger.Warn("second signal: closing connections now", "signal", sig.String())
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := s.Shutdown(ctx); err != nil {
		logger.Error("shutdown", "err", err)
		return exitError{err}
	}
	logger.Info("stopped cleanly")
	return nil
}

// writeFileAtomic writes data to path through a temporary file and a rename, so that a
// reader never sees a partial file.
func writeFileAtomic(path, data string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// servePprof serves net/http/pprof's handlers on their own listener at addr (never on the
// Kafka listener), until stop.
func servePprof(addr string, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listen on %s: %w", addr, err)
	}
	// Sample blocking (one event per 10 us blocked) and 1% of mutex contention, so that
	// /debug/pprof/block and /debug/pprof/mutex have data; only when --pprof is given.
	runtime.SetBlockProfileRate(10_000)
	runtime.SetMutexProfileFraction(100)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("pprof listener stopped", "err", err)
		}
	}()
	logger.Info("pprof listening", "addr", ln.Addr().String())
	return func() {
		hs.Close()
		<-done
	}, nil
}
