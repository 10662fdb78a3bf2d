package observe

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The per-partition, per-topic and per-group families (Server.StateMetrics). They are most
// of a scrape's series (four per partition), so stateGatherer builds them as metric
// families directly, with a few allocations per family instead of several per series
// (prometheus.MustNewConstMetric and the registry's copy), and the series of a partition
// (or a topic) share their labels.

// family is a metric family's name, help and type.
type family struct {
	name, help string
	typ        *dto.MetricType
}

var (
	gaugeType   = dto.MetricType_GAUGE
	counterType = dto.MetricType_COUNTER

	labelTopic, labelPartition, labelGroup = "topic", "partition", "group"
)

var (
	famProducedRecords = family{"strata_produced_records_total",
		"Records appended to the topic's partitions hosted here since they were opened (by producers; by the broker for internal topics); an idempotent retry counts once.",
		&counterType}
	famProducedBytes = family{"strata_produced_bytes_total",
		"Bytes of record batches appended to the topic, as stored (a compressed batch counts compressed).", &counterType}
	famFetchedBytes = family{"strata_fetched_bytes_total",
		"Bytes of record batches sent to Fetch requests from the topic.", &counterType}
	famLogEnd = family{"strata_partition_log_end_offset",
		"The partition's log end offset: the offset the next record gets.", &gaugeType}
	famLogStart = family{"strata_partition_log_start_offset",
		"The partition's log start offset: the first offset still stored.", &gaugeType}
	famHighWatermark = family{"strata_partition_high_watermark",
		"The partition's high watermark: the end of what consumers may read (durable records).", &gaugeType}
	famPartitionSize = family{"strata_partition_size_bytes",
		"Bytes of the partition's log segments on disk.", &gaugeType}
	famGroupLag = family{"strata_consumer_group_lag",
		"The group's lag on the topic: the sum over its partitions of high watermark - committed offset, or high watermark - log start offset where nothing is committed.",
		&gaugeType}
	famGroupMembers = family{"strata_consumer_group_members",
		"Members of the consumer group now.", &gaugeType}
)

// gatherer serves the registry's families and the state's, by name. The state's families
// are consistent by construction (names of their own, one type each, one series per
// partition, topic or group), so they skip the registry's checks (a hash per series).
type gatherer struct {
	reg   *prometheus.Registry
	state stateGatherer
}

func (g gatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := g.reg.Gather()
	state, _ := g.state.Gather()
	mfs = append(mfs, state...)
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return mfs, err
}

// stateGatherer gathers the families of the attached broker's state.
type stateGatherer struct{ h *Handler }

func (g stateGatherer) Gather() ([]*dto.MetricFamily, error) {
	s := g.h.server()
	if s == nil {
		return nil, nil
	}
	st := s.StateMetrics()
	parts := st.Partitions
	topics, lags, maxIndex := 0, 0, int32(0)
	for i := range parts {
		if i == 0 || parts[i].Topic != parts[i-1].Topic {
			topics++
		}
		maxIndex = max(maxIndex, parts[i].Partition)
	}
	indexes := partitionLabels(maxIndex)
	for _, gr := range st.Groups {
		lags += len(gr.Lag)
	}
	// Each partition's labels (partition, topic: sorted by name, as the exposition wants
	// them) are shared by its four series, each topic's by its three.
	partLabels, topicLabels := newLabelSets(len(parts), 2), newLabelSets(topics, 1)
	end, start := newFamily(famLogEnd, len(parts)), newFamily(famLogStart, len(parts))
	hw, size := newFamily(famHighWatermark, len(parts)), newFamily(famPartitionSize, len(parts))
	records, bytes, fetched := newFamily(famProducedRecords, topics), newFamily(famProducedBytes, topics), newFamily(famFetchedBytes, topics)
	var sumRecords, sumBytes, sumFetched uint64
	for i := range parts {
		p := &parts[i]
		labels := partLabels.next(&labelPartition, indexes[p.Partition], &labelTopic, &p.Topic)
		end.add(float64(p.EndOffset), labels)
		start.add(float64(p.StartOffset), labels)
		hw.add(float64(p.HighWatermark), labels)
		size.add(float64(p.SizeBytes), labels)
		sumRecords += p.ProducedRecords
		sumBytes += p.ProducedBytes
		sumFetched += p.FetchedBytes
		if i+1 == len(parts) || parts[i+1].Topic != p.Topic {
			labels := topicLabels.next(&labelTopic, &p.Topic)
			records.add(float64(sumRecords), labels)
			bytes.add(float64(sumBytes), labels)
			fetched.add(float64(sumFetched), labels)
			sumRecords, sumBytes, sumFetched = 0, 0, 0
		}
	}
	groupLabels, lagLabels := newLabelSets(len(st.Groups), 1), newLabelSets(lags, 2)
	members, lag := newFamily(famGroupMembers, len(st.Groups)), newFamily(famGroupLag, lags)
	for i := range st.Groups {
		gr := &st.Groups[i]
		members.add(float64(gr.Members), groupLabels.next(&labelGroup, &gr.Group))
		for j := range gr.Lag {
			lag.add(float64(gr.Lag[j].Lag), lagLabels.next(&labelGroup, &gr.Group, &labelTopic, &gr.Lag[j].Topic))
		}
	}
	var out []*dto.MetricFamily
	for _, f := range []*familyBuilder{records, bytes, fetched, end, start, hw, size, lag, members} {
		if len(f.mf.Metric) > 0 {
			out = append(out, f.mf)
		}
	}
	return out, nil
}

// familyBuilder builds a family of a known number of series, in one allocation per kind
// of object. Its slices never grow, so the pointers into them stay valid.
type familyBuilder struct {
	mf       *dto.MetricFamily
	metrics  []dto.Metric
	values   []float64
	gauges   []dto.Gauge
	counters []dto.Counter
}

func newFamily(f family, series int) *familyBuilder {
	b := &familyBuilder{
		mf:      &dto.MetricFamily{Name: &f.name, Help: &f.help, Type: f.typ, Metric: make([]*dto.Metric, 0, series)},
		metrics: make([]dto.Metric, series),
		values:  make([]float64, series),
	}
	if *f.typ == dto.MetricType_COUNTER {
		b.counters = make([]dto.Counter, series)
	} else {
		b.gauges = make([]dto.Gauge, series)
	}
	return b
}

// add adds a series with its value and labels (from a labelSets; never modified after).
func (b *familyBuilder) add(v float64, labels []*dto.LabelPair) {
	i := len(b.mf.Metric)
	m := &b.metrics[i]
	m.Label = labels
	b.values[i] = v
	if b.counters != nil {
		b.counters[i].Value = &b.values[i]
		m.Counter = &b.counters[i]
	} else {
		b.gauges[i].Value = &b.values[i]
		m.Gauge = &b.gauges[i]
	}
	b.mf.Metric = append(b.mf.Metric, m)
}

// labelSets makes a known number of label sets of a known size, in one allocation of
// pairs and one of pointers.
type labelSets struct {
	pairs []dto.LabelPair
	ptrs  []*dto.LabelPair
	size  int
}

func newLabelSets(sets, size int) *labelSets {
	return &labelSets{pairs: make([]dto.LabelPair, 0, sets*size), ptrs: make([]*dto.LabelPair, 0, sets*size), size: size}
}

// next returns the next set: labels are name, value pointers, sorted by name.
func (l *labelSets) next(labels ...*string) []*dto.LabelPair {
	from := len(l.ptrs)
	for j := 0; j+1 < len(labels); j += 2 {
		l.pairs = append(l.pairs, dto.LabelPair{Name: labels[j], Value: labels[j+1]})
		l.ptrs = append(l.ptrs, &l.pairs[len(l.pairs)-1])
	}
	return l.ptrs[from:len(l.ptrs):len(l.ptrs)]
}

// partitionNames caches the partition label values ("0", "1", …): the same strings on
// every scrape, each made once and never modified.
var partitionNames struct {
	sync.Mutex
	s []*string
}

// partitionLabels returns the label values of partitions 0 to max (the slice is shared:
// read only).
func partitionLabels(max int32) []*string {
	partitionNames.Lock()
	defer partitionNames.Unlock()
	for int(max) >= len(partitionNames.s) {
		name := strconv.Itoa(len(partitionNames.s))
		partitionNames.s = append(partitionNames.s, &name)
	}
	return partitionNames.s
}
