package server

import (
	"context"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire"
)

// request is one decoded request, handed to its API's handler.
type request struct {
	// ctx is cancelled when the connection closes or the server shuts down; handlers that
	// wait (long-poll fetch, group joins, durable produce) must return when it is done.
	ctx  context.Context
	hdr  wire.RequestHeader
	body kmsg.Request
	conn *conn
	// principal is who sent the request: the connection's principal when it was read
	// (never modified). With the listener (conn.listener) and the header it is what the
	// Authorizer sees: request is the RequestContext (auth.go).
	principal *Principal
	start     time.Time // when its frame was read
	size      int       // bytes of its frame, size prefix included
	// handled is how long its handler ran on the connection's reader goroutine (its
	// synchronous part): what request_percentage quotas count.
	handled time.Duration
}

// A reply is a handler's answer: a response ready now, a function that produces it later,
// a registration that completes it from another goroutine (async), or none at all
// (acks=0 produce). A later function runs in its own goroutine, so the connection goes on
// reading requests; an async function is called at once with done, which some callback
// (the log's flusher, a timer) calls exactly once with the response, without a goroutine
// waiting for it. Replies are still written in request order. Handlers run one at a time
// per connection, in request order, so whatever a handler does before returning
// (appending to a log, say) happens in request order too.
type reply struct {
	now   kmsg.Response
	later func() kmsg.Response
	async func(done func(kmsg.Response))
}

func now(r kmsg.Response) reply                    { return reply{now: r} }
func later(f func() kmsg.Response) reply           { return reply{later: f} }
func async(f func(done func(kmsg.Response))) reply { return reply{async: f} }
func (r reply) none() bool                         { return r.now == nil && r.later == nil && r.async == nil }

// noReply is the reply of requests that get no response.
var noReply = reply{}

// handlerFunc serves one API. The body is r.body, of the kmsg request type for the API
// at version r.hdr.APIVersion; the response's version is set by the caller.
type handlerFunc func(s *Server, r *request) reply

// api is one entry of the dispatch table.
type api struct {
	key      int16
	min, max int16
	handle   handlerFunc
}

// apis is the dispatch table, filled by register calls in the init functions of the
// per-API files (NN_name.go, NN being the API key). ApiVersions advertises exactly what is
// registered.
var apis = map[int16]api{}

// register adds an API to the dispatch table; it panics on a duplicate, which is a
// programming error caught by every test.
func register(key, minVersion, maxVersion int16, h handlerFunc) {
	if _, dup := apis[key]; dup {
		panic("server: API registered twice: " + kmsg.NameForKey(key))
	}
	if maxVersion > kmsg.RequestForKey(key).MaxVersion() {
		panic("server: " + kmsg.NameForKey(key) + " advertised above what kmsg decodes")
	}
	apis[key] = api{key: key, min: minVersion, max: maxVersion, handle: h}
}

// sortedAPIs returns the dispatch table ordered by key.
func sortedAPIs() []api {
	out := make([]api, 0, len(apis))
	for _, a := range apis {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}
