package client

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// An Admin manages topics and consumer groups. It is safe for concurrent use.
type Admin struct {
	cfg *config
	cl  *kgo.Client
	adm *kadm.Client

	closeOnce sync.Once
}

// NewAdmin returns an admin client. It does not connect until the first call;
// call Ping to check the brokers are reachable.
//
// Options: Brokers, ClientID, Logger, Timeout, KgoOptions.
func NewAdmin(opts ...Option) (*Admin, error) {
	cfg := newConfig(opts)
	cl, err := kgo.NewClient(append(cfg.kgoOpts(), cfg.extra...)...)
	if err != nil {
		return nil, fmt.Errorf("client: new admin: %w", err)
	}
	return &Admin{cfg: cfg, cl: cl, adm: kadm.NewClient(cl)}, nil
}

// Close releases the admin's connections. It is idempotent.
func (a *Admin) Close() { a.closeOnce.Do(a.cl.Close) }

// Ping checks that a broker answers, failing with an *UnreachableError if none does.
func (a *Admin) Ping(ctx context.Context) error { return ping(ctx, a.cfg, a.cl) }

// TopicSpec describes a topic to create. Zero values mean the broker's defaults
// (num.partitions, default.replication.factor).
type TopicSpec struct {
	Partitions        int32
	ReplicationFactor int16
	Configs           map[string]string // topic configs by Kafka name, e.g. "retention.ms"
}

// TopicSummary is one line of a topic listing.
type TopicSummary struct {
	Name              string `json:"name" yaml:"name"`
	Partitions        int    `json:"partitions" yaml:"partitions"`
	ReplicationFactor int    `json:"replication_factor" yaml:"replication_factor"`
	Internal          bool   `json:"internal,omitempty" yaml:"internal,omitempty"`
}

// TopicDescription is everything DescribeTopic knows about a topic.
type TopicDescription struct {
	Name              string          `json:"name" yaml:"name"`
	ID                string          `json:"id,omitempty" yaml:"id,omitempty"`
	Internal          bool            `json:"internal,omitempty" yaml:"internal,omitempty"`
	ReplicationFactor int             `json:"replication_factor" yaml:"replication_factor"`
	Partitions        []PartitionInfo `json:"partitions" yaml:"partitions"`
	Configs           []ConfigEntry   `json:"configs" yaml:"configs"`
	// Records is the sum over partitions of end - start offsets (an upper bound
	// on the record count: compaction and transaction markers leave gaps).
	Records int64 `json:"records" yaml:"records"`
	// Size is the bytes on disk over all partitions, or -1 if the broker does not
	// report log directories.
	Size int64 `json:"size" yaml:"size"`
}

// PartitionInfo describes one partition of a topic.
type PartitionInfo struct {
	Partition   int32   `json:"partition" yaml:"partition"`
	Leader      int32   `json:"leader" yaml:"leader"`
	LeaderEpoch int32   `json:"leader_epoch" yaml:"leader_epoch"`
	Replicas    []int32 `json:"replicas" yaml:"replicas"`
	ISR         []int32 `json:"isr" yaml:"isr"`
	// OfflineReplicas are the replicas on brokers that are down (fenced).
	OfflineReplicas []int32 `json:"offline_replicas" yaml:"offline_replicas"`
	StartOffset     int64   `json:"start_offset" yaml:"start_offset"`
	EndOffset       int64   `json:"end_offset" yaml:"end_offset"`
	Size            int64   `json:"size" yaml:"size"` // bytes on disk, -1 if unknown
}

// ConfigEntry is one topic configuration value.
type ConfigEntry struct {
	Name      string `json:"name" yaml:"name"`
	Value     string `json:"value" yaml:"value"`
	Source    string `json:"source" yaml:"source"` // e.g. DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG
	Sensitive bool   `json:"sensitive,omitempty" yaml:"sensitive,omitempty"`
}

// IsDefault reports whether the value is the broker's default rather than set
// on the topic.
func (e ConfigEntry) IsDefault() bool {
	return e.Source == "DEFAULT_CONFIG" || e.Source == "STATIC_BROKER_CONFIG" ||
		e.Source == "DYNAMIC_DEFAULT_BROKER_CONFIG" || e.Source == "DYNAMIC_BROKER_CONFIG"
}

// CreateTopic creates a topic, failing with ErrExists if it already exists, and
// returns its summary as the broker created it.
func (a *Admin) CreateTopic(ctx context.Context, name string, spec TopicSpec) (TopicSummary, error) {
	op, subj := fmt.Sprintf("create topic %q", name), fmt.Sprintf("topic %q", name)
	p, rf := spec.Partitions, spec.ReplicationFactor
	if p == 0 {
		p = -1
	}
	if rf == 0 {
		rf = -1
	}
	if p < -1 || rf < -1 {
		return TopicSummary{}, kindf(ErrInvalid, "%s: partitions and replication factor must be positive", op)
	}
	var cfgs map[string]*string
	if len(spec.Configs) > 0 {
		cfgs = make(map[string]*string, len(spec.Configs))
		for k, v := range spec.Configs {
			cfgs[k] = kadm.StringPtr(v)
		}
	}
	resp, err := a.adm.CreateTopic(ctx, p, rf, cfgs, name)
	a.cl.PurgeTopicsFromClient(name) // kadm caches metadata; the next call must see the change
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return TopicSummary{}, a.cfg.wrap(withBrokerMessage(err, resp.ErrMessage), op, subj)
	}
	s := TopicSummary{Name: name, Partitions: int(resp.NumPartitions), ReplicationFactor: int(resp.ReplicationFactor)}
	if s.Partitions <= 0 { // old brokers do not echo the layout
		if td, err := a.adm.ListTopics(ctx, name); err == nil {
			if d, ok := td[name]; ok {
				s.Partitions, s.ReplicationFactor = len(d.Partitions), d.Partitions.NumReplicas()
			}
		}
	}
	return s, nil
}

// ListTopics lists topics sorted by name; internal topics only if internal is true.
func (a *Admin) ListTopics(ctx context.Context, internal bool) ([]TopicSummary, error) {
	var (
		td  kadm.TopicDetails
		err error
	)
	if internal {
		td, err = a.adm.ListTopicsWithInternal(ctx)
	} else {
		td, err = a.adm.ListTopics(ctx)
	}
	if err != nil {
		return nil, a.cfg.wrap(err, "list topics", "")
	}
	out := make([]TopicSummary, 0, len(td))
	for _, d := range td.Sorted() {
		if d.Err != nil { // a topic known to the metadata cache but gone
			continue
		}
		out = append(out, TopicSummary{
			Name:              d.Topic,
			Partitions:        len(d.Partitions),
			ReplicationFactor: d.Partitions.NumReplicas(),
			Internal:          d.IsInternal,
		})
	}
	return out, nil
}

// DescribeTopic returns a topic's partitions with their offsets and sizes, and
// its configuration. It fails with ErrNotFound if the topic does not exist.
func (a *Admin) DescribeTopic(ctx context.Context, name string) (*TopicDescription, error) {
	op, subj := fmt.Sprintf("describe topic %q", name), fmt.Sprintf("topic %q", name)
	td, err := a.adm.ListTopicsWithInternal(ctx, name)
	if err != nil {
		return nil, a.cfg.wrap(err, op, subj)
	}
	d, ok := td[name]
	if !ok {
		return nil, kindf(ErrNotFound, "%s does not exist", subj)
	}
	if d.Err != nil {
		a.cl.PurgeTopicsFromClient(name)
		return nil, a.cfg.wrap(d.Err, op, subj)
	}
	out := &TopicDescription{
		Name:              name,
		Internal:          d.IsInternal,
		ReplicationFactor: d.Partitions.NumReplicas(),
		Size:              -1,
	}
	if d.ID != (kadm.TopicID{}) {
		out.ID = base64.RawURLEncoding.EncodeToString(d.ID[:]) // as Kafka's tools print it
	}
	starts, ends, err := a.bounds(ctx, name)
	if err != nil {
		return nil, a.cfg.wrap(err, op, subj)
	}
	sizes := a.sizes(ctx, name, d.Partitions.Numbers())
	for _, p := range d.Partitions.Sorted() {
		pi := PartitionInfo{
			Partition:       p.Partition,
			Leader:          p.Leader,
			LeaderEpoch:     p.LeaderEpoch,
			Replicas:        p.Replicas,
			ISR:             p.ISR,
			OfflineReplicas: p.OfflineReplicas,
			StartOffset:     -1,
			EndOffset:       -1,
			Size:            -1,
		}
		if o, ok := starts.Lookup(name, p.Partition); ok && o.Err == nil {
			pi.StartOffset = o.Offset
		}
		if o, ok := ends.Lookup(name, p.Partition); ok && o.Err == nil {
			pi.EndOffset = o.Offset
		}
		if pi.StartOffset >= 0 && pi.EndOffset >= pi.StartOffset {
			out.Records += pi.EndOffset - pi.StartOffset
		}
		if sz, ok := sizes[p.Partition]; ok {
			pi.Size = sz
			if out.Size < 0 {
				out.Size = 0
			}
			out.Size += sz
		}
		out.Partitions = append(out.Partitions, pi)
	}
	rcs, err := a.adm.DescribeTopicConfigs(ctx, name)
	if err == nil {
		if rc, err2 := rcs.On(name, nil); err2 == nil && rc.Err == nil {
			for _, c := range rc.Configs {
				out.Configs = append(out.Configs, ConfigEntry{
					Name: c.Key, Value: c.MaybeValue(), Source: c.Source.String(), Sensitive: c.Sensitive,
				})
			}
			sort.Slice(out.Configs, func(i, j int) bool { return out.Configs[i].Name < out.Configs[j].Name })
		}
	}
	return out, nil
}

// bounds lists the start and end offsets of topics.
func (a *Admin) bounds(ctx context.Context, topics ...string) (starts, ends kadm.ListedOffsets, err error) {
	if starts, err = a.adm.ListStartOffsets(ctx, topics...); err != nil {
		return nil, nil, err
	}
	if ends, err = a.adm.ListEndOffsets(ctx, topics...); err != nil {
		return nil, nil, err
	}
	return starts, ends, nil
}

// sizes returns the on-disk size of each partition of topic, or nil if the broker
// does not describe log directories.
func (a *Admin) sizes(ctx context.Context, topic string, partitions []int32) map[int32]int64 {
	set := make(kadm.TopicsSet)
	set.Add(topic, partitions...)
	dirs, err := a.adm.DescribeAllLogDirs(ctx, set)
	if err != nil {
		return nil
	}
	out := make(map[int32]int64)
	dirs.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil {
			return
		}
		for _, ps := range d.Topics {
			for p, dp := range ps {
				if dp.Topic == topic {
					out[p] += dp.Size
				}
			}
		}
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// AlterTopicConfig sets and removes (returns to the default) topic configs,
// incrementally: configs not named are left alone.
func (a *Admin) AlterTopicConfig(ctx context.Context, name string, set map[string]string, remove []string) error {
	op, subj := fmt.Sprintf("alter config of topic %q", name), fmt.Sprintf("topic %q", name)
	var alters []kadm.AlterConfig
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(set[k])})
	}
	for _, k := range remove {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if len(alters) == 0 {
		return kindf(ErrInvalid, "%s: nothing to change", op)
	}
	resps, err := a.adm.AlterTopicConfigs(ctx, alters, name)
	if err != nil {
		return a.cfg.wrap(err, op, subj)
	}
	for _, r := range resps {
		if r.Err != nil {
			return a.cfg.wrap(withBrokerMessage(r.Err, r.ErrMessage), op, subj)
		}
	}
	return nil
}

// AddPartitions adds n partitions to a topic and returns the new total.
// Records keep their partitions: keys hashed before the change may map to a
// different partition after it.
func (a *Admin) AddPartitions(ctx context.Context, name string, n int) (int, error) {
	op, subj := fmt.Sprintf("add partitions to topic %q", name), fmt.Sprintf("topic %q", name)
	if n <= 0 {
		return 0, kindf(ErrInvalid, "%s: count must be positive, got %d", op, n)
	}
	resps, err := a.adm.CreatePartitions(ctx, n, name)
	a.cl.PurgeTopicsFromClient(name)
	if err != nil {
		return 0, a.cfg.wrap(err, op, subj)
	}
	r, err := resps.On(name, nil)
	if err == nil {
		err = withBrokerMessage(r.Err, r.ErrMessage)
	}
	if err != nil {
		return 0, a.cfg.wrap(err, op, subj)
	}
	td, err := a.adm.ListTopics(ctx, name)
	if err != nil {
		return 0, a.cfg.wrap(err, op, subj)
	}
	return len(td[name].Partitions), nil
}

// Election is the outcome of a leader election for one partition (ElectLeaders).
type Election struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Err is nil when the partition got a new leader; kerr.ElectionNotNeeded when its
	// leader is the one the election would pick already; else why it failed
	// (kerr.PreferredLeaderNotAvailable, kerr.EligibleLeadersNotAvailable, ErrNotFound).
	Err error `json:"-"`
}

// ElectLeaders moves the leadership of the topics' partitions (every partition of the
// cluster when topics is empty) back to their preferred replicas, or, unclean, gives
// partitions without a leader one (an in-sync replica, else any live replica, whose
// records may lack some the lost replicas had). Elections that were not needed are left
// out when topics is empty. It needs ALTER on the cluster.
func (a *Admin) ElectLeaders(ctx context.Context, unclean bool, topics ...string) ([]Election, error) {
	how := kadm.ElectPreferredReplica
	if unclean {
		how = kadm.ElectLiveReplica
	}
	var set kadm.TopicsSet
	if len(topics) > 0 {
		td, err := a.adm.ListTopics(ctx, topics...)
		if err != nil {
			return nil, a.cfg.wrap(err, "elect leaders", "")
		}
		set = kadm.TopicsSet{}
		for _, name := range topics {
			t, ok := td[name]
			if !ok || errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
				return nil, kindf(ErrNotFound, "topic %q does not exist", name)
			}
			if t.Err != nil {
				return nil, a.cfg.wrap(t.Err, "elect leaders", fmt.Sprintf("topic %q", name))
			}
			set.Add(name, t.Partitions.Numbers()...)
		}
	}
	res, err := a.adm.ElectLeaders(ctx, how, set)
	if err != nil {
		return nil, a.cfg.wrap(err, "elect leaders", "")
	}
	var out []Election
	for _, ps := range res {
		for _, r := range ps {
			out = append(out, Election{Topic: r.Topic, Partition: r.Partition, Err: r.Err})
		}
	}
	slices.SortFunc(out, func(x, y Election) int {
		return cmp.Or(strings.Compare(x.Topic, y.Topic), cmp.Compare(x.Partition, y.Partition))
	})
	for i := range out {
		e := &out[i]
		if errors.Is(e.Err, kerr.UnknownTopicOrPartition) {
			e.Err = kindf(ErrNotFound, "partition %d of topic %q does not exist", e.Partition, e.Topic)
		}
	}
	return out, nil
}

// DeleteTopics deletes topics and their data. It deletes what it can and returns
// the errors of the others joined; a missing topic is ErrNotFound.
func (a *Admin) DeleteTopics(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	resps, err := a.adm.DeleteTopics(ctx, names...)
	a.cl.PurgeTopicsFromClient(names...)
	if err != nil {
		return a.cfg.wrap(err, "delete topics", "")
	}
	var errs []error
	for _, n := range names {
		r, ok := resps[n]
		switch {
		case !ok:
			errs = append(errs, kindf(ErrNotFound, "topic %q does not exist", n))
		case r.Err != nil:
			errs = append(errs, a.cfg.wrap(r.Err, fmt.Sprintf("delete topic %q", n), fmt.Sprintf("topic %q", n)))
		}
	}
	return errors.Join(errs...)
}

// resolve turns pos into an exact offset for every partition of topics (all
// partitions, or only those in parts), clamped to [start, end]; it also returns
// each partition's end offset. Missing topics fail with ErrNotFound.
func (a *Admin) resolve(ctx context.Context, topics []string, parts []int32, pos Position) (at, ends map[string]map[int32]int64, err error) {
	starts, endsL, err := a.bounds(ctx, topics...)
	if err != nil {
		return nil, nil, a.cfg.wrap(err, "list offsets", "")
	}
	var times kadm.ListedOffsets
	if pos.kind == posTime {
		if times, err = a.adm.ListOffsetsAfterMilli(ctx, pos.time.UnixMilli(), topics...); err != nil {
			return nil, nil, a.cfg.wrap(err, "list offsets by time", "")
		}
	}
	at = make(map[string]map[int32]int64)
	ends = make(map[string]map[int32]int64)
	for _, t := range topics {
		eps, ok := endsL[t]
		if !ok || len(eps) == 0 {
			return nil, nil, kindf(ErrNotFound, "topic %q does not exist", t)
		}
		at[t], ends[t] = make(map[int32]int64), make(map[int32]int64)
		for p, e := range eps {
			if e.Err != nil {
				return nil, nil, a.cfg.wrap(e.Err, fmt.Sprintf("list offsets of topic %q", t), fmt.Sprintf("topic %q", t))
			}
			if len(parts) > 0 && !slices.Contains(parts, p) {
				continue
			}
			start := e.Offset
			if s, ok := starts.Lookup(t, p); ok && s.Err == nil {
				start = s.Offset
			}
			var o int64
			switch pos.kind {
			case posEarliest:
				o = start
			case posLatest:
				o = e.Offset
			case posOffset:
				o = min(max(pos.offset, start), e.Offset)
			case posTime:
				o = e.Offset
				if x, ok := times.Lookup(t, p); ok && x.Err == nil && x.Offset >= 0 {
					o = min(max(x.Offset, start), e.Offset)
				}
			}
			at[t][p], ends[t][p] = o, e.Offset
		}
		for _, p := range parts {
			if _, ok := eps[p]; !ok {
				return nil, nil, noPartition(t, len(eps), p)
			}
		}
	}
	return at, ends, nil
}

// GroupSummary is one line of a group listing.
type GroupSummary struct {
	Name         string `json:"name" yaml:"name"`
	State        string `json:"state" yaml:"state"`
	ProtocolType string `json:"protocol_type" yaml:"protocol_type"`
	Coordinator  int32  `json:"coordinator" yaml:"coordinator"`
}

// GroupDescription is everything DescribeGroup knows about a consumer group.
type GroupDescription struct {
	Name         string `json:"name" yaml:"name"`
	State        string `json:"state" yaml:"state"` // Empty, Stable, PreparingRebalance … (consumer groups: Assigning, Reconciling …)
	Protocol     string `json:"protocol" yaml:"protocol"`
	ProtocolType string `json:"protocol_type" yaml:"protocol_type"`
	// Type is the group protocol: classic, consumer (KIP-848: the broker assigns; Epoch
	// and AssignmentEpoch are then the group epoch and its target assignment's) or share
	// (KIP-932: likewise; ShareOffsets instead of Offsets).
	Type            string        `json:"type" yaml:"type"`
	Epoch           int32         `json:"epoch,omitempty" yaml:"epoch,omitempty"`
	AssignmentEpoch int32         `json:"assignment_epoch,omitempty" yaml:"assignment_epoch,omitempty"`
	Coordinator     int32         `json:"coordinator" yaml:"coordinator"`
	Members         []GroupMember `json:"members" yaml:"members"`
	Offsets         []GroupOffset `json:"offsets" yaml:"offsets"`
	ShareOffsets    []ShareOffset `json:"share_offsets,omitempty" yaml:"share_offsets,omitempty"` // a share group's
	TotalLag        int64         `json:"total_lag" yaml:"total_lag"`
}

// GroupMember is one member of a group and the partitions assigned to it.
type GroupMember struct {
	ID         string            `json:"id" yaml:"id"`
	InstanceID string            `json:"instance_id,omitempty" yaml:"instance_id,omitempty"`
	ClientID   string            `json:"client_id" yaml:"client_id"`
	Host       string            `json:"host" yaml:"host"`
	Assigned   []TopicPartitions `json:"assigned" yaml:"assigned"`
	// Epoch and Target are a consumer group member's epoch and the assignment it moves
	// towards (equal to Assigned once it has reconciled).
	Epoch  int32             `json:"epoch,omitempty" yaml:"epoch,omitempty"`
	Target []TopicPartitions `json:"target,omitempty" yaml:"target,omitempty"`
}

// TopicPartitions is a topic and some of its partitions.
type TopicPartitions struct {
	Topic      string  `json:"topic" yaml:"topic"`
	Partitions []int32 `json:"partitions" yaml:"partitions"`
}

// GroupOffset is a group's position in one partition.
type GroupOffset struct {
	Topic     string `json:"topic" yaml:"topic"`
	Partition int32  `json:"partition" yaml:"partition"`
	Committed int64  `json:"committed" yaml:"committed"` // -1 if nothing is committed
	End       int64  `json:"end" yaml:"end"`             // the partition's end offset
	Lag       int64  `json:"lag" yaml:"lag"`             // End - Committed (End - start if nothing committed)
	MemberID  string `json:"member_id,omitempty" yaml:"member_id,omitempty"`
}

// ListGroups lists consumer groups sorted by name.
func (a *Admin) ListGroups(ctx context.Context) ([]GroupSummary, error) {
	gs, err := a.adm.ListGroups(ctx)
	if err != nil {
		return nil, a.cfg.wrap(err, "list groups", "")
	}
	out := make([]GroupSummary, 0, len(gs))
	for _, g := range gs.Sorted() {
		out = append(out, GroupSummary{Name: g.Group, State: g.State, ProtocolType: g.ProtocolType, Coordinator: g.Coordinator})
	}
	return out, nil
}

// DescribeGroup returns a group's members and their assignments, and its
// committed offset and lag in every partition it has committed to or is
// assigned; for a share group (KIP-932), its start offset, lag and (from Strata) the
// records in flight and archived in every partition it has state for. It fails with
// ErrNotFound if the group does not exist.
func (a *Admin) DescribeGroup(ctx context.Context, name string) (*GroupDescription, error) {
	op, subj := fmt.Sprintf("describe group %q", name), fmt.Sprintf("group %q", name)
	lags, err := a.adm.Lag(ctx, name)
	if err != nil {
		return nil, a.cfg.wrap(err, op, subj)
	}
	l, ok := lags[name]
	if !ok || l.State == "Dead" || errors.Is(l.DescribeErr, kerr.GroupIDNotFound) {
		// Not a classic group (DescribeGroups answers Dead): a share group?
		d := &GroupDescription{Name: name, Members: []GroupMember{}, Offsets: []GroupOffset{}}
		if ok {
			d.Coordinator = l.Coordinator.NodeID
		}
		share, err := a.describeShareGroup(ctx, d)
		switch {
		case err != nil:
			return nil, a.cfg.wrap(err, op, subj)
		case !share:
			return nil, kindf(ErrNotFound, "%s does not exist", subj)
		}
		return d, nil
	}
	if err := l.Error(); err != nil {
		return nil, a.cfg.wrap(err, op, subj)
	}
	out := &GroupDescription{
		Name: name, State: l.State, Protocol: l.Protocol, ProtocolType: l.ProtocolType, Type: "classic",
		Coordinator: l.Coordinator.NodeID,
		Members:     []GroupMember{},
		Offsets:     []GroupOffset{},
	}
	for _, m := range l.Members {
		gm := GroupMember{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: []TopicPartitions{}}
		if m.InstanceID != nil {
			gm.InstanceID = *m.InstanceID
		}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				ps := slices.Clone(t.Partitions)
				slices.Sort(ps)
				gm.Assigned = append(gm.Assigned, TopicPartitions{Topic: t.Topic, Partitions: ps})
			}
			sort.Slice(gm.Assigned, func(i, j int) bool { return gm.Assigned[i].Topic < gm.Assigned[j].Topic })
		}
		out.Members = append(out.Members, gm)
	}
	if l.ProtocolType == "consumer" {
		if err := a.describeConsumerGroup(ctx, out); err != nil {
			return nil, a.cfg.wrap(err, op, subj)
		}
	}
	for _, ml := range l.Lag.Sorted() {
		o := GroupOffset{
			Topic: ml.Topic, Partition: ml.Partition,
			Committed: ml.Commit.At, End: ml.End.Offset, Lag: ml.Lag,
		}
		if ml.Member != nil {
			o.MemberID = ml.Member.MemberID
		}
		if o.Lag > 0 {
			out.TotalLag += o.Lag
		}
		out.Offsets = append(out.Offsets, o)
	}
	return out, nil
}

// ResetPlan is what ResetOffsets did, or would do on a dry run.
type ResetPlan struct {
	Group   string         `json:"group" yaml:"group"`
	To      string         `json:"to" yaml:"to"`
	DryRun  bool           `json:"dry_run" yaml:"dry_run"`
	State   string         `json:"state" yaml:"state"` // the group's state when planned
	Changes []OffsetChange `json:"changes" yaml:"changes"`
}

// OffsetChange is one partition's committed offset before and after a reset.
type OffsetChange struct {
	Topic     string `json:"topic" yaml:"topic"`
	Partition int32  `json:"partition" yaml:"partition"`
	From      int64  `json:"from" yaml:"from"` // -1 if nothing was committed
	To        int64  `json:"to" yaml:"to"`
}

// ResetOffsets moves group's committed offsets in topics (every topic the group
// has committed to, if topics is empty) to pos, and returns the plan. With dryRun
// it only computes the plan. The group must have no active members
// (ErrGroupNotEmpty), except on a dry run; a group that does not exist yet is
// created by the commit, so a new consumer group can start anywhere. For a share group
// (KIP-932) it moves the start offset of each partition (AlterShareGroupOffsets, as
// Kafka's kafka-share-groups.sh --reset-offsets; every topic the group has state for, if
// topics is empty): the group must be Empty.
func (a *Admin) ResetOffsets(ctx context.Context, group string, topics []string, pos Position, dryRun bool) (*ResetPlan, error) {
	op, subj := fmt.Sprintf("reset offsets of group %q", group), fmt.Sprintf("group %q", group)
	plan := &ResetPlan{Group: group, To: pos.String(), DryRun: dryRun, State: "Dead", Changes: []OffsetChange{}}
	dg, err := a.adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, a.cfg.wrap(err, op, subj)
	}
	if g, ok := dg[group]; ok && g.Err == nil {
		plan.State = g.State
	}
	from := map[string]map[int32]int64{} // the current committed (or start) offsets
	var share *GroupDescription
	if plan.State == "Dead" { // not a classic or consumer group: a share group?
		d := &GroupDescription{Name: group}
		ok, err := a.describeShareGroup(ctx, d)
		if err != nil {
			return nil, a.cfg.wrap(err, op, subj)
		}
		if ok {
			share, plan.State = d, d.State
			for _, o := range d.ShareOffsets {
				if from[o.Topic] == nil {
					from[o.Topic] = map[int32]int64{}
				}
				from[o.Topic][o.Partition] = o.Start
			}
		}
	}
	if !dryRun && plan.State != "Empty" && (share != nil || plan.State != "Dead") {
		return plan, kindf(ErrGroupNotEmpty, "%s has active members (state %s)", subj, plan.State)
	}
	if share == nil {
		committed, err := a.adm.FetchOffsets(ctx, group)
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return nil, a.cfg.wrap(err, op, subj)
		}
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil {
				if from[o.Topic] == nil {
					from[o.Topic] = map[int32]int64{}
				}
				from[o.Topic][o.Partition] = o.At
			}
		})
	}
	if len(topics) == 0 {
		topics = slices.Sorted(maps.Keys(from))
		if len(topics) == 0 {
			return nil, kindf(ErrInvalid, "%s: the group has no committed offsets; name the topics", op)
		}
	}
	at, _, err := a.resolve(ctx, topics, nil, pos)
	if err != nil {
		return nil, err
	}
	offsets := make(kadm.Offsets)
	for _, t := range topics {
		for _, p := range slices.Sorted(maps.Keys(at[t])) {
			ch := OffsetChange{Topic: t, Partition: p, From: -1, To: at[t][p]}
			if c, ok := from[t][p]; ok {
				ch.From = c
			}
			plan.Changes = append(plan.Changes, ch)
			offsets.Add(kadm.Offset{Topic: t, Partition: p, At: ch.To, LeaderEpoch: -1})
		}
	}
	switch {
	case dryRun:
	case share != nil:
		rs, aerr := a.adm.AlterShareGroupOffsets(ctx, group, offsets)
		err = cmp.Or(aerr, rs.Error())
	default:
		err = a.adm.CommitAllOffsets(ctx, group, offsets)
	}
	if err != nil {
		return nil, a.cfg.wrap(err, op, subj)
	}
	return plan, nil
}

// DeleteGroup deletes a group and its committed offsets. The group must have no
// active members (ErrGroupNotEmpty); a missing group is ErrNotFound.
func (a *Admin) DeleteGroup(ctx context.Context, name string) error {
	r, err := a.adm.DeleteGroup(ctx, name)
	if err == nil {
		err = r.Err
	}
	return a.cfg.wrap(err, fmt.Sprintf("delete group %q", name), fmt.Sprintf("group %q", name))
}

// served reports whether a broker of the cluster advertises API key in ApiVersions.
func (a *Admin) served(ctx context.Context, key int16) (bool, error) {
	vs, err := a.adm.ApiVersions(ctx)
	if err != nil {
		return false, err
	}
	served := false
	vs.Each(func(v kadm.BrokerApiVersions) {
		_, ok := v.KeyMaxVersion(key)
		served = served || ok && v.Err == nil
	})
	return served, nil
}

// describeConsumerGroup adds what ConsumerGroupDescribe tells of a consumer group
// (KIP-848) to d: the epochs and each member's epoch and target assignment. A classic
// group of protocol type consumer is left as it is.
func (a *Admin) describeConsumerGroup(ctx context.Context, d *GroupDescription) error {
	if served, err := a.served(ctx, 69); err != nil || !served {
		return err // !served: a broker without KIP-848
	}
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{d.Name}
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return err
	}
	if len(resp.Groups) != 1 {
		return fmt.Errorf("ConsumerGroupDescribe answered %d groups", len(resp.Groups))
	}
	g := resp.Groups[0]
	switch err := kerr.ErrorForCode(g.ErrorCode); {
	case errors.Is(err, kerr.GroupIDNotFound), errors.Is(err, kerr.UnsupportedVersion):
		return nil // a classic group
	case err != nil:
		return err
	}
	d.Type, d.State, d.Protocol, d.Epoch, d.AssignmentEpoch = "consumer", g.State, g.AssignorName, g.Epoch, g.AssignmentEpoch
	topics := func(a kmsg.Assignment) []TopicPartitions {
		out := []TopicPartitions{}
		for _, tp := range a.TopicPartitions {
			out = append(out, TopicPartitions{Topic: tp.Topic, Partitions: slices.Sorted(slices.Values(tp.Partitions))})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
		return out
	}
	for _, m := range g.Members {
		for i := range d.Members {
			if d.Members[i].ID == m.MemberID {
				d.Members[i].Epoch, d.Members[i].Assigned, d.Members[i].Target = m.MemberEpoch, topics(m.Assignment), topics(m.TargetAssignment)
			}
		}
	}
	return nil
}

// Reassignment is an ongoing move of one partition's replicas (KIP-455): its replicas
// while it moves (the target followed by the removing ones), the replicas being added
// and those being removed.
type Reassignment struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
	Adding    []int32 `json:"adding"`
	Removing  []int32 `json:"removing"`
}

// Reassign moves a partition's replicas onto the brokers given (preferred leader first;
// AlterPartitionReassignments): the new ones copy the partition from its leader, and once
// they are in sync the others drop theirs. Nil replicas cancel the partition's ongoing
// move. It needs ALTER on the cluster.
func (a *Admin) Reassign(ctx context.Context, topic string, partition int32, replicas []int32) error {
	op, subj := "reassign", fmt.Sprintf("partition %d of topic %q", partition, topic)
	req := kadm.AlterPartitionAssignmentsReq{}
	req.Assign(topic, partition, replicas)
	res, err := a.adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return a.cfg.wrap(err, op, subj)
	}
	r, ok := res[topic][partition]
	if !ok {
		return fmt.Errorf("%s: no answer for %s", op, subj)
	}
	return a.cfg.wrap(withBrokerMessage(r.Err, r.ErrMessage), op, subj)
}

// Reassignments lists the ongoing partition moves of the topics (of every topic when
// none is given), by topic and partition. It needs DESCRIBE on the cluster.
func (a *Admin) Reassignments(ctx context.Context, topics ...string) ([]Reassignment, error) {
	td, err := a.adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, a.cfg.wrap(err, "list reassignments", "")
	}
	set := kadm.TopicsSet{}
	for _, name := range topics {
		if t, ok := td[name]; !ok || t.Err != nil {
			return nil, kindf(ErrNotFound, "topic %q does not exist", name)
		}
	}
	for name, t := range td {
		if t.Err == nil {
			set.Add(name, t.Partitions.Numbers()...)
		}
	}
	res, err := a.adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		return nil, a.cfg.wrap(err, "list reassignments", "")
	}
	var out []Reassignment
	for _, r := range res.Sorted() {
		out = append(out, Reassignment{Topic: r.Topic, Partition: r.Partition, Replicas: r.Replicas, Adding: r.AddingReplicas, Removing: r.RemovingReplicas})
	}
	return out, nil
}
