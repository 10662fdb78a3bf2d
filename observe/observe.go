package observe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stratalog/strata/server"
)

// DefaultListen is the default address of the HTTP listener (http.listener): loopback
// only, since it authenticates its users only with Options.BasicAuth.
const DefaultListen = "127.0.0.1:9644"

// Options configures a Handler. The zero value (or nil) is valid.
type Options struct {
	// Logger receives the HTTP listener's logs; nil means slog.Default().
	Logger *slog.Logger
	// Pprof serves Go's profiles (net/http/pprof) under /debug/pprof/ (strata serve sets it
	// when --pprof does not give them a listener of their own).
	Pprof bool
	// Version is the broker's version, reported by strata_build_info and the console.
	Version string
	// BasicAuth makes every endpoint but /healthz and /readyz (left open for probes)
	// require HTTP basic authentication with a user's SCRAM credentials
	// (Server.CheckPassword: the password of SASL PLAIN), and the console act as the
	// logged-in user, User:<name>, checked against the ACLs.
	BasicAuth bool
}

// Handler serves the broker's HTTP endpoints. It is created before the broker (so that
// /healthz and /readyz answer while the storage recovers) and given the broker with
// Attach once it is open. Safe for concurrent use.
type Handler struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	reg  *prometheus.Registry
	srv  atomic.Pointer[server.Server]
	kc   kafkaClient // the console's in-process Kafka client (api.go)
}

// New returns a Handler without a broker: /healthz answers 200, /readyz 503, /metrics the
// process's own metrics, and the JSON API 503 until Attach.
func New(opts *Options) *Handler {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	h := &Handler{opts: o, log: o.Logger, mux: http.NewServeMux(), reg: prometheus.NewRegistry()}
	h.kc.h = h
	h.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{h: h},
	)
	h.mux.HandleFunc("GET /healthz", h.healthz)
	h.mux.HandleFunc("GET /readyz", h.readyz)
	h.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer{h.reg, stateGatherer{h}}, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	if o.Pprof {
		h.mux.HandleFunc("/debug/pprof/", pprof.Index)
		h.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		h.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		h.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		h.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	h.routeAPI()
	h.routeConsole()
	return h
}

// Attach gives the Handler its broker: from then on /readyz follows Server.Ready, and
// /metrics and the console report the broker.
func (h *Handler) Attach(s *server.Server) { h.srv.Store(s) }

// server returns the attached broker, nil before Attach.
func (h *Handler) server() *server.Server { return h.srv.Load() }

// ServeHTTP serves the endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if h.opts.BasicAuth && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
		p, err := h.login(r)
		if err != nil {
			if err.status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="strata", charset="UTF-8"`)
			}
			if strings.HasPrefix(r.URL.Path, "/api/") {
				writeError(w, err)
			} else {
				http.Error(w, err.msg, err.status)
			}
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
	}
	h.mux.ServeHTTP(w, r)
}

// principalKey is the context key of the logged-in user's principal (basic
// authentication).
type principalKey struct{}

// login checks the request's basic authentication against the broker's credentials.
func (h *Handler) login(r *http.Request) (server.Principal, *apiError) {
	user, password, ok := r.BasicAuth()
	if !ok {
		return server.Principal{}, apiErr(http.StatusUnauthorized, "authentication required: a user and password (HTTP basic authentication)")
	}
	s := h.server()
	if s == nil {
		return server.Principal{}, &apiError{status: http.StatusServiceUnavailable, msg: errNotAttached.Error()}
	}
	p, ok := s.CheckPassword(r.Context(), user, password)
	if !ok {
		h.log.Info("HTTP login failed", "user", user, "remote", r.RemoteAddr)
		return server.Principal{}, apiErr(http.StatusUnauthorized, "invalid user or password")
	}
	return p, nil
}

// Close releases what the Handler holds: the console's Kafka client.
func (h *Handler) Close() error {
	h.kc.close()
	return nil
}

func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// readyz answers 200 once the broker serves clients (storage recovered, every Kafka
// listener accepting), 503 before and from the moment it begins to shut down.
func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	s := h.server()
	switch {
	case s == nil:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready: opening the data directory")
	case !s.Ready():
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready: the Kafka listeners are not accepting (starting or shutting down)")
	default:
		fmt.Fprintln(w, "ok")
	}
}

// Listener is a running HTTP listener.
type Listener struct {
	ln   net.Listener
	hs   *http.Server
	done chan struct{}
	once sync.Once
}

// Listen binds addr and serves h on it in the background until Close.
func Listen(addr string, h http.Handler, logger *slog.Logger) (*Listener, error) {
	if logger == nil {
		logger = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.listener %s: %w", addr, err)
	}
	l := &Listener{
		ln: ln,
		hs: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(l.done)
		if err := l.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("HTTP listener stopped", "err", err)
		}
	}()
	return l, nil
}

// Addr is the address bound.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops the listener: requests in progress get up to a second to finish, then
// their connections are closed. It returns once the serving goroutine has ended.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err = l.hs.Shutdown(ctx); err != nil {
			err = l.hs.Close()
		}
		<-l.done
	})
	return err
}
