package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/wire"
)

// Options configures a Server. The zero value (or nil) is a broker on 127.0.0.1:9092 with
// its data in ./data.
type Options struct {
	// Listen is the address to listen on (listeners). Port 0 picks a free port.
	Listen string
	// Advertised is the host:port clients are told to connect to (advertised.listeners);
	// empty means the address actually bound.
	Advertised string
	// DataDir is the data directory (log.dirs).
	DataDir string
	// NodeID is this broker's node id (node.id).
	NodeID int32
	// MaxRequestBytes is the largest request frame accepted (socket.request.max.bytes).
	MaxRequestBytes int32
	// MaxConnections caps concurrently open client connections (max.connections).
	MaxConnections int
	// IdleTimeout closes connections that send nothing for this long
	// (connections.max.idle.ms).
	IdleTimeout time.Duration
	// Settings holds every other broker setting by its Kafka name
	// (e.g. "auto.create.topics.enable": "false"); see docs/configuration.md.
	Settings map[string]string
	// Logger receives the broker's logs; nil means slog.Default().
	Logger *slog.Logger
	// Listener, if set, is used instead of listening on Listen (tests inject one).
	Listener net.Listener
	// FS is the file system holding DataDir; nil means vfs.Default (fault tests inject
	// one, e.g. errorfs).
	FS vfs.FS
}

// Defaults of the connection-level settings.
const (
	DefaultListen         = "127.0.0.1:9092"
	DefaultDataDir        = "./data"
	DefaultMaxConnections = 10000
	DefaultIdleTimeout    = 10 * time.Minute
)

// EnsureDefaults fills in unset fields.
func (o *Options) EnsureDefaults() {
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = wire.DefaultMaxRequestSize
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Settings == nil {
		o.Settings = map[string]string{}
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
}

// Validate reports the first invalid field.
func (o *Options) Validate() error {
	var errs []error
	if o.MaxRequestBytes < 1024 {
		errs = append(errs, fmt.Errorf("socket.request.max.bytes %d: must be at least 1024", o.MaxRequestBytes))
	}
	if o.MaxConnections < 1 {
		errs = append(errs, fmt.Errorf("max.connections %d: must be positive", o.MaxConnections))
	}
	if o.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("connections.max.idle.ms %v: must not be negative", o.IdleTimeout))
	}
	if o.NodeID < 0 {
		errs = append(errs, fmt.Errorf("node.id %d: must not be negative", o.NodeID))
	}
	return errors.Join(errs...)
}
