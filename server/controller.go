package server

import (
	"context"
	"time"
)

// defaultControllerTimeout bounds a metadata command of a request that names no timeout
// (AlterConfigs, IncrementalAlterConfigs): Kafka's request.timeout.ms default.
const defaultControllerTimeout = 30 * time.Second

// controllerCtx is the context of the metadata commands of request r on a cluster node:
// r's, ended after the request's own timeout (timeoutMs; 0 or less: the default). A
// cluster store retries a command while there is no controller, or the controller moves,
// until it ends, then fails with metadata.ErrNotController, which the client sees as
// REQUEST_TIMED_OUT (KIP-590: a client never sees NOT_CONTROLLER from a broker). A single
// node's store never waits for a controller: its commands get r's context as before.
func (s *Server) controllerCtx(r *request, timeoutMs int32) (context.Context, context.CancelFunc) {
	if s.opts.Cluster == nil {
		return r.ctx, func() {}
	}
	d := defaultControllerTimeout
	if timeoutMs > 0 {
		d = time.Duration(timeoutMs) * time.Millisecond
	}
	return context.WithTimeout(r.ctx, d)
}
