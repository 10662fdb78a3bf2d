package observe

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
)

// The JSON API of the console, /api/v1 (docs/console.md). Fields are snake_case. Errors
// are a 4xx status (5xx only when the broker itself fails) with {"error": "…"}.

// consoleTimeout bounds each API call's Kafka requests; nothing in the API waits for new
// records.
const consoleTimeout = 10 * time.Second

// Limits of the API's parameters.
const (
	maxRecordsLimit     = 1000
	defaultRecordsLimit = 100
	maxBodyBytes        = 1 << 20 // a POST body: a produced record and its JSON overhead
	maxFetchRounds      = 64      // fetches per records request, whatever the batches
)

func (h *Handler) routeAPI() {
	h.mux.HandleFunc("GET /api/v1/overview", h.api(h.getOverview))
	h.mux.HandleFunc("GET /api/v1/brokers", h.api(h.getBrokers))
	h.mux.HandleFunc("GET /api/v1/topics", h.api(h.getTopics))
	h.mux.HandleFunc("POST /api/v1/topics", h.api(h.createTopic))
	h.mux.HandleFunc("GET /api/v1/topics/{name}", h.api(h.getTopic))
	h.mux.HandleFunc("DELETE /api/v1/topics/{name}", h.api(h.deleteTopic))
	h.mux.HandleFunc("GET /api/v1/topics/{name}/partitions/{p}/records", h.api(h.getRecords))
	h.mux.HandleFunc("POST /api/v1/topics/{name}/records", h.api(h.produce))
	h.mux.HandleFunc("GET /api/v1/groups", h.api(h.getGroups))
	h.mux.HandleFunc("GET /api/v1/groups/{id}", h.api(h.getGroup))
	h.mux.HandleFunc("POST /api/v1/groups/{id}/offsets", h.api(h.resetOffsets))
	h.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiErr(http.StatusNotFound, "no such API: %s %s", r.Method, r.URL.Path))
	})
}

// apiError is an error with its HTTP status.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func apiErr(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// call is one API request: the Kafka clients and a context bounded by consoleTimeout.
type call struct {
	ctx context.Context
	cl  *kgo.Client
	ad  *kadm.Client
	r   *http.Request
	w   http.ResponseWriter
}

// api adapts an API function: it gets the Kafka client, runs fn and writes its result
// (status 200, or the status fn set with created) or its error as JSON.
func (h *Handler) api(fn func(c *call) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(principalKey{}).(server.Principal)
		cl, ad, err := h.kc.get(p)
		if err != nil {
			writeError(w, &apiError{status: http.StatusServiceUnavailable, msg: err.Error()})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), consoleTimeout)
		defer cancel()
		// Metadata as the broker has it now, never kgo's cache (which would list a topic
		// just deleted, or miss one just created): kadm asks directly when authorized
		// operations are wanted.
		ctx = kadm.WithAuthorizedOps(ctx)
		out, err := fn(&call{ctx: ctx, cl: cl, ad: ad, r: r, w: w})
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// created marks a result as created: status 201.
type created struct{ v any }

func writeJSON(w http.ResponseWriter, status int, v any) {
	if c, ok := v.(created); ok {
		status, v = http.StatusCreated, c.v
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError answers err: its status when it is an apiError or a Kafka error (statusOf),
// else 502 (the broker failed to answer).
func writeError(w http.ResponseWriter, err error) {
	status := http.StatusBadGateway
	var ae *apiError
	var ke *kerr.Error
	switch {
	case errors.As(err, &ae):
		status = ae.status
	case errors.As(err, &ke):
		status = statusOf(ke)
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// statusOf maps a Kafka error to an HTTP status.
func statusOf(e *kerr.Error) int {
	switch e {
	case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.GroupIDNotFound:
		return http.StatusNotFound
	case kerr.TopicAlreadyExists, kerr.UnknownMemberID, kerr.IllegalGeneration, kerr.RebalanceInProgress,
		kerr.NonEmptyGroup, kerr.GroupSubscribedToTopic:
		return http.StatusConflict
	case kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed,
		kerr.TopicDeletionDisabled:
		return http.StatusForbidden
	case kerr.OffsetOutOfRange:
		return http.StatusRequestedRangeNotSatisfiable
	case kerr.RequestTimedOut:
		return http.StatusGatewayTimeout
	case kerr.MessageTooLarge, kerr.RecordListTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	if !e.Retriable && (strings.HasPrefix(e.Message, "INVALID_") || e == kerr.PolicyViolation || e == kerr.UnsupportedCompressionType) {
		return http.StatusBadRequest
	}
	return http.StatusBadGateway
}

// intParam parses an integer query parameter in [lo, hi]; def when absent.
func intParam(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case (err != nil || n < lo) && hi >= 1<<31-1:
		return 0, apiErr(http.StatusBadRequest, "%s=%q: want an integer, at least %d", name, s, lo)
	case err != nil || n < lo || n > hi:
		return 0, apiErr(http.StatusBadRequest, "%s=%q: want an integer from %d to %d", name, s, lo, hi)
	}
	return n, nil
}

// decodeBody decodes a JSON request body into v, refusing unknown fields.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apiErr(http.StatusBadRequest, "request body: %v", err)
	}
	return nil
}

// ---- overview and brokers

type brokerJSON struct {
	NodeID     int32   `json:"node_id"`
	Host       string  `json:"host"`
	Port       int32   `json:"port"`
	Rack       *string `json:"rack"`
	Controller bool    `json:"controller"`
}

type overviewJSON struct {
	ClusterID    string       `json:"cluster_id"`
	ControllerID int32        `json:"controller_id"`
	Version      string       `json:"version"`
	Ready        bool         `json:"ready"`
	Brokers      []brokerJSON `json:"brokers"`
	Topics       int          `json:"topics"`
	Partitions   int          `json:"partitions"`
	Groups       int          `json:"groups"`
	SizeBytes    int64        `json:"size_bytes"`
}

func (h *Handler) getOverview(c *call) (any, error) {
	m, err := c.ad.Metadata(c.ctx)
	if err != nil {
		return nil, err
	}
	o := overviewJSON{ClusterID: m.Cluster, ControllerID: m.Controller, Version: h.opts.Version, Brokers: brokersOf(m)}
	if s := h.server(); s != nil {
		o.Ready = s.Ready()
	}
	for _, t := range m.Topics {
		o.Topics++
		o.Partitions += len(t.Partitions)
	}
	sizes, err := logSizes(c, nil)
	if err != nil {
		return nil, err
	}
	for _, n := range sizes {
		o.SizeBytes += n
	}
	groups, err := listGroups(c)
	if err != nil {
		return nil, err
	}
	o.Groups = len(groups)
	return o, nil
}

func (h *Handler) getBrokers(c *call) (any, error) {
	m, err := c.ad.Metadata(c.ctx)
	if err != nil {
		return nil, err
	}
	return brokersOf(m), nil
}

func brokersOf(m kadm.Metadata) []brokerJSON {
	out := make([]brokerJSON, 0, len(m.Brokers))
	for _, b := range m.Brokers {
		out = append(out, brokerJSON{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack, Controller: b.NodeID == m.Controller})
	}
	slices.SortFunc(out, func(a, b brokerJSON) int { return cmp.Compare(a.NodeID, b.NodeID) })
	return out
}

// ---- topics

type topicJSON struct {
	Name              string `json:"name"`
	TopicID           string `json:"topic_id"`
	Internal          bool   `json:"internal"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	SizeBytes         int64  `json:"size_bytes"`
	// Records is the sum over partitions of end - start offsets (records in the log, with
	// compaction's gaps counted).
	Records   int64 `json:"records"`
	EndOffset int64 `json:"end_offset"` // the sum of the partitions' end offsets
}

type partitionJSON struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
	StartOffset int64   `json:"start_offset"`
	EndOffset   int64   `json:"end_offset"`
	SizeBytes   int64   `json:"size_bytes"`
}

type configJSON struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"`
	Source    string  `json:"source"`
	ReadOnly  bool    `json:"read_only"`
	Sensitive bool    `json:"sensitive"`
}

type topicDetailJSON struct {
	Name       string          `json:"name"`
	TopicID    string          `json:"topic_id"`
	Internal   bool            `json:"internal"`
	Partitions []partitionJSON `json:"partitions"`
	Configs    []configJSON    `json:"configs"`
}

// getTopics lists the topics, sorted by name: all of them, or those whose name contains
// q (case-insensitive), from offset, at most limit; X-Total-Count is the number matched.
// Sizes and offsets are asked only for the topics returned.
func (h *Handler) getTopics(c *call) (any, error) {
	q := strings.ToLower(c.r.URL.Query().Get("q"))
	from, err := intParam(c.r, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(c.r, "limit", 1<<31-1, 1, 1<<31-1)
	if err != nil {
		return nil, err
	}
	internal := c.r.URL.Query().Get("internal") != "false"
	m, err := c.ad.Metadata(c.ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for name, t := range m.Topics {
		if (q == "" || strings.Contains(strings.ToLower(name), q)) && (internal || !t.IsInternal) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	c.w.Header().Set("X-Total-Count", strconv.Itoa(len(names)))
	names = names[min(int(from), len(names)):]
	names = names[:min(int(limit), len(names))]
	out := make([]topicJSON, 0, len(names))
	if len(names) == 0 {
		return out, nil
	}
	starts, ends, sizes, err := partitionFigures(c, names)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		t := m.Topics[name]
		tj := topicJSON{Name: name, TopicID: t.ID.String(), Internal: t.IsInternal, Partitions: len(t.Partitions)}
		for p, pd := range t.Partitions {
			tj.ReplicationFactor = max(tj.ReplicationFactor, len(pd.Replicas))
			tp := topicPartition{name, p}
			tj.SizeBytes += sizes[tp]
			if e, ok := ends.Lookup(name, p); ok && e.Err == nil {
				tj.EndOffset += e.Offset
				if s, ok := starts.Lookup(name, p); ok && s.Err == nil {
					tj.Records += e.Offset - s.Offset
				}
			}
		}
		out = append(out, tj)
	}
	return out, nil
}

type topicPartition struct {
	topic     string
	partition int32
}

// partitionFigures lists the start and end offsets and the sizes of the topics'
// partitions.
func partitionFigures(c *call, topics []string) (starts, ends kadm.ListedOffsets, sizes map[topicPartition]int64, err error) {
	if starts, err = c.ad.ListStartOffsets(c.ctx, topics...); err != nil {
		return nil, nil, nil, err
	}
	if ends, err = c.ad.ListEndOffsets(c.ctx, topics...); err != nil {
		return nil, nil, nil, err
	}
	if sizes, err = logSizes(c, topics); err != nil {
		return nil, nil, nil, err
	}
	return starts, ends, sizes, nil
}

// logSizes returns the size of each partition of the topics (all topics when nil), from
// DescribeLogDirs. A user who may not DESCRIBE the cluster (which DescribeLogDirs needs)
// gets no sizes (0) rather than no answer.
func logSizes(c *call, topics []string) (map[topicPartition]int64, error) {
	var set kadm.TopicsSet
	if topics != nil {
		m, err := c.ad.Metadata(c.ctx, topics...)
		if err != nil {
			return nil, err
		}
		set = m.Topics.TopicsSet()
	}
	dirs, err := c.ad.DescribeAllLogDirs(c.ctx, set)
	var se *kadm.ShardErrors
	if errors.As(err, &se) && !slices.ContainsFunc(se.Errs, func(e kadm.ShardError) bool {
		return !errors.Is(e.Err, kerr.UnknownTopicOrPartition) && !errors.Is(e.Err, kerr.ClusterAuthorizationFailed)
	}) || errors.Is(err, kerr.ClusterAuthorizationFailed) {
		err = nil // a topic deleted since the metadata was read: left out; not authorized: no sizes
	}
	if err != nil {
		return nil, err
	}
	out := map[topicPartition]int64{}
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			out[topicPartition{p.Topic, p.Partition}] += p.Size
		})
	})
	return out, nil
}

func (h *Handler) getTopic(c *call) (any, error) {
	name := c.r.PathValue("name")
	m, err := c.ad.Metadata(c.ctx, name)
	if err != nil {
		return nil, err
	}
	t, ok := m.Topics[name]
	if !ok || t.Err != nil {
		return nil, unknownTopic(name, t.Err)
	}
	starts, ends, sizes, err := partitionFigures(c, []string{name})
	if err != nil {
		return nil, err
	}
	d := topicDetailJSON{Name: name, TopicID: t.ID.String(), Internal: t.IsInternal, Partitions: []partitionJSON{}, Configs: []configJSON{}}
	for _, p := range t.Partitions.Sorted() {
		pj := partitionJSON{Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR), StartOffset: -1, EndOffset: -1, SizeBytes: sizes[topicPartition{name, p.Partition}]}
		if s, ok := starts.Lookup(name, p.Partition); ok && s.Err == nil {
			pj.StartOffset = s.Offset
		}
		if e, ok := ends.Lookup(name, p.Partition); ok && e.Err == nil {
			pj.EndOffset = e.Offset
		}
		d.Partitions = append(d.Partitions, pj)
	}
	var rc kadm.ResourceConfig
	rcs, err := c.ad.DescribeTopicConfigs(c.ctx, name)
	if err == nil {
		rc, err = rcs.On(name, nil)
	}
	if err == nil {
		err = rc.Err
	}
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		// A user who may not DESCRIBE_CONFIGS the topic sees it without its configs.
	case err != nil:
		return nil, err
	}
	for _, cf := range rc.Configs {
		d.Configs = append(d.Configs, configJSON{Name: cf.Key, Value: cf.Value, Source: cf.Source.String(),
			Sensitive: cf.Sensitive})
	}
	slices.SortFunc(d.Configs, func(a, b configJSON) int { return cmp.Compare(a.Name, b.Name) })
	return d, nil
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// unknownTopic is the 404 of an unknown topic (err: the Kafka error, if any).
func unknownTopic(name string, err error) error {
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return err
	}
	return apiErr(http.StatusNotFound, "unknown topic %q", name)
}

type createTopicJSON struct {
	Name              string            `json:"name"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
	Configs           map[string]string `json:"configs"`
}

func (h *Handler) createTopic(c *call) (any, error) {
	var req createTopicJSON
	if err := decodeBody(c.r, &req); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, apiErr(http.StatusBadRequest, "a topic needs a name")
	}
	if req.Partitions == 0 {
		req.Partitions = -1 // the broker's num.partitions
	}
	if req.ReplicationFactor == 0 {
		req.ReplicationFactor = -1
	}
	if req.Partitions < -1 || req.ReplicationFactor < -1 {
		return nil, apiErr(http.StatusBadRequest, "partitions and replication_factor must be positive")
	}
	configs := map[string]*string{}
	for k, v := range req.Configs {
		configs[k] = &v
	}
	res, err := c.ad.CreateTopic(c.ctx, req.Partitions, req.ReplicationFactor, configs, req.Name)
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, kafkaErr(res.Err, res.ErrMessage)
	}
	c.cl.PurgeTopicsFromClient(res.Topic) // any cached metadata of an earlier topic of that name
	return created{topicJSON{Name: res.Topic, TopicID: res.ID.String(), Partitions: int(res.NumPartitions), ReplicationFactor: int(res.ReplicationFactor)}}, nil
}

// kafkaErr wraps a Kafka error with the broker's message.
func kafkaErr(err error, msg string) error {
	if msg == "" {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}

func (h *Handler) deleteTopic(c *call) (any, error) {
	name := c.r.PathValue("name")
	res, err := c.ad.DeleteTopic(c.ctx, name)
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		if errors.Is(res.Err, kerr.UnknownTopicOrPartition) {
			return nil, unknownTopic(name, nil)
		}
		return nil, kafkaErr(res.Err, res.ErrMessage)
	}
	c.cl.PurgeTopicsFromClient(name) // its cached metadata: the next page must not list it
	return map[string]string{"deleted": name}, nil
}

// ---- records

type headerJSON struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

type recordJSON struct {
	Partition int32        `json:"partition"`
	Offset    int64        `json:"offset"`
	Timestamp int64        `json:"timestamp"`
	Key       *string      `json:"key"`
	Value     *string      `json:"value"`
	Headers   []headerJSON `json:"headers"`
	// Encoding is "base64" when the key, the value or a header value is not text (UTF-8
	// without control characters but tab, LF and CR): then all of them are base64
	// (standard encoding); absent otherwise.
	Encoding string `json:"encoding,omitempty"`
}

// getRecords reads records of one partition from offset (or from the first record at or
// after timestamp, epoch ms), at most limit (1..1000, default 100). It never waits: an
// offset equal to the end gives []; one outside [start, end] is a 416.
func (h *Handler) getRecords(c *call) (any, error) {
	name := c.r.PathValue("name")
	p, err := strconv.ParseInt(c.r.PathValue("p"), 10, 32)
	if err != nil || p < 0 {
		return nil, apiErr(http.StatusBadRequest, "partition %q: want a partition number", c.r.PathValue("p"))
	}
	limit, err := intParam(c.r, "limit", defaultRecordsLimit, 1, maxRecordsLimit)
	if err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	if q.Has("offset") && q.Has("timestamp") {
		return nil, apiErr(http.StatusBadRequest, "give offset or timestamp, not both")
	}
	start, end, loc, err := partitionRange(c, name, int32(p))
	if err != nil {
		return nil, err
	}
	offset := start
	switch {
	case q.Has("timestamp"):
		ts, err := intParam(c.r, "timestamp", 0, -1<<62, 1<<62)
		if err != nil {
			return nil, err
		}
		lo, err := c.ad.ListOffsetsAfterMilli(c.ctx, ts, name)
		if err != nil {
			return nil, err
		}
		o, ok := lo.Lookup(name, int32(p))
		if !ok || o.Err != nil {
			return nil, cmp.Or(o.Err, error(apiErr(http.StatusNotFound, "partition %d of %q not found", p, name)))
		}
		offset = o.Offset
		if offset < 0 {
			offset = end
		}
	case q.Has("offset"):
		if offset, err = intParam(c.r, "offset", 0, 0, 1<<62); err != nil {
			return nil, err
		}
	}
	if offset < start || offset > end {
		return nil, apiErr(http.StatusRequestedRangeNotSatisfiable, "offset %d is outside partition %d of %q: its records are at offsets %d to %d", offset, p, name, start, end-1)
	}
	out := make([]recordJSON, 0, min(limit, end-offset))
	for round := 0; offset < end && int64(len(out)) < limit && round < maxFetchRounds; round++ {
		recs, next, err := fetchOnce(c, loc, offset)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if int64(len(out)) == limit || r.Offset >= end {
				break
			}
			out = append(out, recordOf(r))
		}
		if next <= offset {
			break
		}
		offset = next
	}
	return out, nil
}

// partitionLoc says where a partition is: its topic's name and id, and its leader.
type partitionLoc struct {
	topic     string
	id        kadm.TopicID
	partition int32
	leader    int32
}

// partitionRange returns a partition's start and end offsets and where it is, or a 404.
func partitionRange(c *call, topic string, p int32) (start, end int64, loc partitionLoc, err error) {
	m, err := c.ad.Metadata(c.ctx, topic)
	if err != nil {
		return 0, 0, loc, err
	}
	t, ok := m.Topics[topic]
	if !ok || t.Err != nil {
		return 0, 0, loc, unknownTopic(topic, t.Err)
	}
	pd, ok := t.Partitions[p]
	if !ok {
		return 0, 0, loc, apiErr(http.StatusNotFound, "topic %q has no partition %d (it has %d)", topic, p, len(t.Partitions))
	}
	starts, err := c.ad.ListStartOffsets(c.ctx, topic)
	if err != nil {
		return 0, 0, loc, err
	}
	ends, err := c.ad.ListEndOffsets(c.ctx, topic)
	if err != nil {
		return 0, 0, loc, err
	}
	s, _ := starts.Lookup(topic, p)
	e, _ := ends.Lookup(topic, p)
	if err := cmp.Or(s.Err, e.Err); err != nil {
		return 0, 0, loc, err
	}
	return s.Offset, e.Offset, partitionLoc{topic: topic, id: t.ID, partition: p, leader: pd.Leader}, nil
}

// fetchOnce sends one Fetch (no wait) for a partition from offset to its leader and
// returns its records and the offset to fetch next.
func fetchOnce(c *call, loc partitionLoc, offset int64) ([]*kgo.Record, int64, error) {
	topic, p := loc.topic, loc.partition
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = 4 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, loc.id // by name before Fetch v13, by id from it
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, offset, 1<<20
	rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := c.cl.Broker(int(loc.leader)).Request(c.ctx, req)
	if err != nil {
		return nil, 0, err
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, 0, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, 0, fmt.Errorf("fetch of %s/%d: unexpected response", topic, p)
	}
	rpr := &resp.Topics[0].Partitions[0]
	fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Offset: offset, Topic: topic, Partition: p}, rpr, kgo.DefaultDecompressor(), nil)
	if fp.Err != nil {
		return nil, 0, fp.Err
	}
	return fp.Records, next, nil
}

// recordOf renders a record: text, or base64 when some part is not (isText).
func recordOf(r *kgo.Record) recordJSON {
	text := isText(r.Key) && isText(r.Value)
	for _, h := range r.Headers {
		text = text && isText(h.Value)
	}
	enc := func(b []byte) *string {
		if b == nil {
			return nil
		}
		s := string(b)
		if !text {
			s = base64.StdEncoding.EncodeToString(b)
		}
		return &s
	}
	rj := recordJSON{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(),
		Key: enc(r.Key), Value: enc(r.Value), Headers: make([]headerJSON, 0, len(r.Headers))}
	for _, h := range r.Headers {
		rj.Headers = append(rj.Headers, headerJSON{Key: h.Key, Value: enc(h.Value)})
	}
	if !text {
		rj.Encoding = "base64"
	}
	return rj
}

// isText reports whether b is UTF-8 without control characters other than tab, line
// feed and carriage return: what a browser can show as it is.
func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}

type produceJSON struct {
	// Partition is the partition to write to; absent (or -1): by the key's hash, or any.
	Partition *int32       `json:"partition"`
	Key       *string      `json:"key"`
	Value     *string      `json:"value"`
	Headers   []headerJSON `json:"headers"`
	// Encoding "base64" means key, value and header values are base64; else UTF-8 text.
	Encoding string `json:"encoding"`
}

// produce writes one record (acks=all) and answers where it went.
func (h *Handler) produce(c *call) (any, error) {
	name := c.r.PathValue("name")
	var req produceJSON
	if err := decodeBody(c.r, &req); err != nil {
		return nil, err
	}
	var dec func(*string) ([]byte, error)
	switch req.Encoding {
	case "", "utf-8", "text":
		dec = func(s *string) ([]byte, error) {
			if s == nil {
				return nil, nil
			}
			return []byte(*s), nil
		}
	case "base64":
		dec = func(s *string) ([]byte, error) {
			if s == nil {
				return nil, nil
			}
			return base64.StdEncoding.DecodeString(*s)
		}
	default:
		return nil, apiErr(http.StatusBadRequest, "encoding %q: want utf-8 or base64", req.Encoding)
	}
	rec := &kgo.Record{Topic: name, Partition: -1}
	var err error
	if rec.Key, err = dec(req.Key); err != nil {
		return nil, apiErr(http.StatusBadRequest, "key: %v", err)
	}
	if rec.Value, err = dec(req.Value); err != nil {
		return nil, apiErr(http.StatusBadRequest, "value: %v", err)
	}
	for _, hd := range req.Headers {
		v, err := dec(hd.Value)
		if err != nil {
			return nil, apiErr(http.StatusBadRequest, "header %q: %v", hd.Key, err)
		}
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: hd.Key, Value: v})
	}
	m, err := c.ad.Metadata(c.ctx, name)
	if err != nil {
		return nil, err
	}
	t, ok := m.Topics[name]
	if !ok || t.Err != nil {
		return nil, unknownTopic(name, t.Err)
	}
	if t.IsInternal {
		return nil, apiErr(http.StatusForbidden, "topic %q is internal: only the broker writes it", name)
	}
	if req.Partition != nil && *req.Partition >= 0 {
		if _, ok := t.Partitions[*req.Partition]; !ok {
			return nil, apiErr(http.StatusNotFound, "topic %q has no partition %d (it has %d)", name, *req.Partition, len(t.Partitions))
		}
		rec.Partition = *req.Partition
	}
	res := c.cl.ProduceSync(c.ctx, rec)
	if err := res.FirstErr(); err != nil {
		return nil, err
	}
	return created{recordOf(rec)}, nil
}

// ---- groups

type groupJSON struct {
	GroupID      string `json:"group_id"`
	State        string `json:"state"`
	Members      int    `json:"members"`
	Type         string `json:"type"`
	ProtocolType string `json:"protocol_type"`
	Coordinator  int32  `json:"coordinator"`
}

type assignmentJSON struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

type memberJSON struct {
	MemberID    string           `json:"member_id"`
	InstanceID  *string          `json:"instance_id"`
	ClientID    string           `json:"client_id"`
	ClientHost  string           `json:"client_host"`
	Assignments []assignmentJSON `json:"assignments"`
}

type groupOffsetJSON struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// CommittedOffset is -1 when the group has committed nothing for the partition.
	CommittedOffset int64 `json:"committed_offset"`
	EndOffset       int64 `json:"end_offset"`
	// Lag is end - committed, or end - start without a committed offset.
	Lag int64 `json:"lag"`
}

type groupDetailJSON struct {
	GroupID      string            `json:"group_id"`
	State        string            `json:"state"`
	Type         string            `json:"type"`
	ProtocolType string            `json:"protocol_type"`
	Protocol     string            `json:"protocol"`
	Coordinator  int32             `json:"coordinator"`
	Members      []memberJSON      `json:"members"`
	Offsets      []groupOffsetJSON `json:"offsets"`
	Lag          int64             `json:"lag"`
}

func (h *Handler) getGroups(c *call) (any, error) {
	return listGroups(c)
}

// listGroups lists every group (ListGroups, for the group type), sorted by id.
func listGroups(c *call) ([]groupJSON, error) {
	req := kmsg.NewPtrListGroupsRequest()
	shards := c.cl.RequestSharded(c.ctx, req)
	var out []groupJSON
	var ids []string
	for _, sh := range shards {
		if sh.Err != nil {
			return nil, sh.Err
		}
		resp := sh.Resp.(*kmsg.ListGroupsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return nil, err
		}
		for _, g := range resp.Groups {
			out = append(out, groupJSON{GroupID: g.Group, State: g.GroupState, Type: cmp.Or(g.GroupType, "classic"),
				ProtocolType: g.ProtocolType, Coordinator: sh.Meta.NodeID})
			ids = append(ids, g.Group)
		}
	}
	if len(ids) > 0 {
		described, err := c.ad.DescribeGroups(c.ctx, ids...)
		if err != nil {
			return nil, err
		}
		for i := range out {
			if d, ok := described[out[i].GroupID]; ok {
				out[i].Members = len(d.Members)
			}
		}
	}
	slices.SortFunc(out, func(a, b groupJSON) int { return cmp.Compare(a.GroupID, b.GroupID) })
	if out == nil {
		out = []groupJSON{}
	}
	return out, nil
}

func (h *Handler) getGroup(c *call) (any, error) {
	id := c.r.PathValue("id")
	described, err := c.ad.DescribeGroups(c.ctx, id)
	if err != nil {
		return nil, err
	}
	d, ok := described[id]
	if !ok {
		return nil, apiErr(http.StatusNotFound, "unknown group %q", id)
	}
	if d.Err != nil {
		if errors.Is(d.Err, kerr.GroupIDNotFound) {
			return nil, apiErr(http.StatusNotFound, "unknown group %q", id)
		}
		return nil, kafkaErr(d.Err, d.ErrMessage)
	}
	committed, err := c.ad.FetchOffsets(c.ctx, id)
	if err != nil {
		return nil, err
	}
	if err := committed.Error(); err != nil {
		return nil, err
	}
	if d.State == "Dead" && len(d.Members) == 0 && len(committed) == 0 {
		return nil, apiErr(http.StatusNotFound, "unknown group %q", id)
	}
	g := groupDetailJSON{GroupID: id, State: d.State, Type: "classic", ProtocolType: d.ProtocolType, Protocol: d.Protocol,
		Coordinator: d.Coordinator.NodeID, Members: []memberJSON{}, Offsets: []groupOffsetJSON{}}
	// The partitions of a group are those of every topic it is assigned, subscribes to or
	// has committed to, as kadm's Lag counts them: a partition without a commit is lag
	// from its start.
	var topics []string
	addTopic := func(t string) {
		if !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
	}
	for _, m := range d.Members {
		mj := memberJSON{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assignments: []assignmentJSON{}}
		if ca, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range ca.Topics {
				ps := slices.Clone(t.Partitions)
				slices.Sort(ps)
				mj.Assignments = append(mj.Assignments, assignmentJSON{Topic: t.Topic, Partitions: ps})
				addTopic(t.Topic)
			}
		}
		if j, ok := m.Join.AsConsumer(); ok {
			for _, t := range j.Topics {
				addTopic(t)
			}
		}
		g.Members = append(g.Members, mj)
	}
	committed.Each(func(o kadm.OffsetResponse) { addTopic(o.Topic) })
	if len(topics) > 0 {
		starts, err := c.ad.ListStartOffsets(c.ctx, topics...)
		if err != nil {
			return nil, err
		}
		ends, err := c.ad.ListEndOffsets(c.ctx, topics...)
		if err != nil {
			return nil, err
		}
		ends.Each(func(e kadm.ListedOffset) {
			if e.Err != nil || e.Partition < 0 {
				return // a topic deleted since the commit
			}
			o := groupOffsetJSON{Topic: e.Topic, Partition: e.Partition, CommittedOffset: -1, EndOffset: e.Offset}
			if co, ok := committed.Lookup(e.Topic, e.Partition); ok && co.Err == nil && co.At >= 0 {
				o.CommittedOffset = co.At
				o.Lag = max(0, e.Offset-co.At)
			} else if s, ok := starts.Lookup(e.Topic, e.Partition); ok && s.Err == nil {
				o.Lag = max(0, e.Offset-s.Offset)
			} else {
				o.Lag = e.Offset
			}
			g.Lag += o.Lag
			g.Offsets = append(g.Offsets, o)
		})
	}
	slices.SortFunc(g.Offsets, func(a, b groupOffsetJSON) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return g, nil
}

type resetJSON struct {
	Topic string `json:"topic"`
	// Partitions to reset; empty: all of the topic's.
	Partitions []int32 `json:"partitions"`
	// To is earliest, latest, offset (Offset) or timestamp (Timestamp, epoch ms: the first
	// record at or after it, else the end).
	To        string `json:"to"`
	Offset    *int64 `json:"offset"`
	Timestamp *int64 `json:"timestamp"`
}

// resetOffsets commits new offsets for a group that has no members (Empty, or unknown:
// then the group is created with them), as kafka-consumer-groups.sh --reset-offsets does;
// an active group is a 409. An offset outside the partition is moved to its nearest end,
// as Kafka's tool does.
func (h *Handler) resetOffsets(c *call) (any, error) {
	id := c.r.PathValue("id")
	var req resetJSON
	if err := decodeBody(c.r, &req); err != nil {
		return nil, err
	}
	switch req.To {
	case "earliest", "latest":
	case "offset":
		if req.Offset == nil {
			return nil, apiErr(http.StatusBadRequest, `"to": "offset" needs "offset"`)
		}
	case "timestamp":
		if req.Timestamp == nil {
			return nil, apiErr(http.StatusBadRequest, `"to": "timestamp" needs "timestamp"`)
		}
	default:
		return nil, apiErr(http.StatusBadRequest, `"to" %q: want earliest, latest, offset or timestamp`, req.To)
	}
	described, err := c.ad.DescribeGroups(c.ctx, id)
	if err != nil {
		return nil, err
	}
	if d, ok := described[id]; ok && d.Err == nil && d.State != "Empty" && d.State != "Dead" {
		return nil, apiErr(http.StatusConflict, "group %q is %s with %d members: offsets can be reset only while it has none (stop its consumers first)", id, d.State, len(d.Members))
	}
	m, err := c.ad.Metadata(c.ctx, req.Topic)
	if err != nil {
		return nil, err
	}
	t, ok := m.Topics[req.Topic]
	if !ok || t.Err != nil {
		return nil, unknownTopic(req.Topic, t.Err)
	}
	parts := req.Partitions
	if len(parts) == 0 {
		for p := range t.Partitions {
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	for _, p := range parts {
		if _, ok := t.Partitions[p]; !ok {
			return nil, apiErr(http.StatusNotFound, "topic %q has no partition %d", req.Topic, p)
		}
	}
	starts, err := c.ad.ListStartOffsets(c.ctx, req.Topic)
	if err != nil {
		return nil, err
	}
	ends, err := c.ad.ListEndOffsets(c.ctx, req.Topic)
	if err != nil {
		return nil, err
	}
	var at kadm.ListedOffsets
	if req.To == "timestamp" {
		if at, err = c.ad.ListOffsetsAfterMilli(c.ctx, *req.Timestamp, req.Topic); err != nil {
			return nil, err
		}
	}
	offsets := make(kadm.Offsets)
	out := make([]groupOffsetJSON, 0, len(parts))
	for _, p := range parts {
		s, _ := starts.Lookup(req.Topic, p)
		e, _ := ends.Lookup(req.Topic, p)
		if err := cmp.Or(s.Err, e.Err); err != nil {
			return nil, err
		}
		var o int64
		switch req.To {
		case "earliest":
			o = s.Offset
		case "latest":
			o = e.Offset
		case "offset":
			o = *req.Offset
		case "timestamp":
			o = e.Offset
			if a, ok := at.Lookup(req.Topic, p); ok && a.Err == nil && a.Offset >= 0 {
				o = a.Offset
			}
		}
		o = min(max(o, s.Offset), e.Offset)
		offsets.AddOffset(req.Topic, p, o, -1)
		out = append(out, groupOffsetJSON{Topic: req.Topic, Partition: p, CommittedOffset: o, EndOffset: e.Offset, Lag: e.Offset - o})
	}
	res, err := c.ad.CommitOffsets(c.ctx, id, offsets)
	if err != nil {
		return nil, err
	}
	if err := res.Error(); err != nil {
		return nil, err
	}
	return map[string]any{"group_id": id, "offsets": out}, nil
}
