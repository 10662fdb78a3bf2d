package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Group settings are Kafka's GroupConfig: per group id, set with IncrementalAlterConfigs
// (or AlterConfigs) on resource type GROUP and shown by DescribeConfigs. A group's value
// takes precedence over its broker synonym (consumer.session.timeout.ms over
// group.consumer.session.timeout.ms), which takes precedence over the default.

// sessionHeartbeat pairs the group settings whose session timeout must exceed the
// heartbeat interval (Kafka's GroupConfig cross-check).
var sessionHeartbeat = [][2]string{
	{"consumer.session.timeout.ms", "consumer.heartbeat.interval.ms"},
	{"share.session.timeout.ms", "share.heartbeat.interval.ms"},
}

// groupSetting returns the group setting name, or Kafka's error for an unknown one.
func groupSetting(name string) (*Setting, error) {
	if s, ok := byName[name]; ok && s.Scope == Group {
		return s, nil
	}
	return nil, fmt.Errorf("%w: Unknown group config name: %s", ErrUnknown, name)
}

// ValidateGroup checks a group's settings as Kafka's GroupConfig.validate does: every name
// a group setting, every value valid and within the bounds the broker settings set
// (consumer.session.timeout.ms between group.consumer.min.session.timeout.ms and
// group.consumer.max.session.timeout.ms, …), and each session timeout above its
// heartbeat interval (the broker's value standing for one the group does not set).
// Errors wrap ErrUnknown or ErrInvalid, with the reason.
func ValidateGroup(broker, overrides map[string]string) error {
	for _, k := range sortedKeys(overrides) {
		s, err := groupSetting(k)
		if err != nil {
			return err
		}
		v := overrides[k]
		if err := s.Validate(v); err != nil {
			return err
		}
		if lo, hi, ok := s.bounds(broker); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if n < lo || n > hi {
				return fmt.Errorf("%w: %s must be in the range %d to %d inclusive (%s, %s)", ErrInvalid, k, lo, hi, s.Bounds[0], s.Bounds[1])
			}
		}
	}
	for _, p := range sessionHeartbeat {
		_, setS := overrides[p[0]]
		_, setH := overrides[p[1]]
		if !setS && !setH {
			continue
		}
		r := Resolved{}
		for _, name := range p {
			r[name] = GroupValue(byName[name], broker, overrides).Value
		}
		if r.Int64(p[0]) <= r.Int64(p[1]) {
			return fmt.Errorf("%w: %s must be greater than %s", ErrInvalid, p[0], p[1])
		}
	}
	return nil
}

// bounds returns the smallest and largest value the broker lets a group set, when s has
// bounds.
func (s *Setting) bounds(broker map[string]string) (lo, hi int64, ok bool) {
	if s.Bounds[0] == "" {
		return 0, 0, false
	}
	r := Resolved{}
	for _, b := range s.Bounds {
		v, _ := BrokerValue(b, broker)
		r[b] = v.Value
	}
	return r.Int64(s.Bounds[0]), r.Int64(s.Bounds[1]), true
}

// ApplyGroup applies alters to a copy of a group's settings (SET and DELETE; APPEND and
// SUBTRACT apply to list settings, which groups have none of) and validates the result
// (ValidateGroup).
func ApplyGroup(broker, overrides map[string]string, alters []Alter) (map[string]string, error) {
	out := make(map[string]string, len(overrides)+len(alters))
	for k, v := range overrides {
		out[k] = v
	}
	for _, a := range alters {
		if _, err := groupSetting(a.Name); err != nil {
			return nil, err
		}
		switch a.Op {
		case OpSet:
			out[a.Name] = a.Value
		case OpDelete:
			delete(out, a.Name)
		default:
			return nil, fmt.Errorf("%w: %s: APPEND and SUBTRACT apply to list settings only", ErrInvalid, a.Name)
		}
	}
	if err := ValidateGroup(broker, out); err != nil {
		return nil, err
	}
	return out, nil
}

// GroupValue resolves a group setting: the group's own value, else its broker synonym's
// value (set, or its default), else the setting's default.
func GroupValue(s *Setting, broker, overrides map[string]string) Value {
	if v, ok := overrides[s.Name]; ok {
		return Value{Name: s.Name, Value: v, Source: SourceGroup, From: s.Name}
	}
	for _, syn := range s.Synonyms {
		if v, ok := BrokerValue(syn.Name, broker); ok {
			v.Name = s.Name
			return v
		}
	}
	return Value{Name: s.Name, Value: s.Default, Source: SourceDefault, From: s.Name}
}

// ResolveGroup returns the effective value of every group setting for a group with the
// given settings. A value outside the broker's bounds (set before the bounds changed) is
// brought within them, as Kafka's GroupConfig.evaluate does.
func ResolveGroup(broker, overrides map[string]string) Resolved {
	r := Resolved{}
	for _, s := range table {
		if s.Scope != Group {
			continue
		}
		v := GroupValue(s, broker, overrides).Value
		if lo, hi, ok := s.bounds(broker); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil && (n < lo || n > hi) {
				v = strconv.FormatInt(min(max(n, lo), hi), 10)
			}
		}
		r[s.Name] = v
	}
	return r
}

// DescribeGroup describes every group setting (or only names, when not empty) of a group,
// as Kafka's DescribeConfigs does for a GROUP resource: the group's value (GROUP_CONFIG),
// else the broker synonym's (STATIC_BROKER_CONFIG), else the default. Unknown names are
// skipped.
func DescribeGroup(broker, overrides map[string]string, names []string) []Describe {
	var out []Describe
	for _, s := range selected(Group, names) {
		d := Describe{Setting: s, Value: GroupValue(s, broker, overrides)}
		if v, ok := overrides[s.Name]; ok {
			d.Synonyms = append(d.Synonyms, Value{Name: s.Name, Value: v, Source: SourceGroup, From: s.Name})
		}
		for _, syn := range s.Synonyms {
			if v, ok := broker[syn.Name]; ok {
				d.Synonyms = append(d.Synonyms, Value{Name: syn.Name, Value: v, Source: SourceStaticBroker, From: syn.Name})
			}
		}
		d.Synonyms = append(d.Synonyms, defaultSynonym(s))
		out = append(out, d)
	}
	return out
}

// NoEffectGroup returns the group settings of overrides that Strata stores and describes
// without acting on them (yet).
func NoEffectGroup[V any](overrides map[string]V) []Ignored {
	var out []Ignored
	for _, k := range sortedKeys(overrides) {
		if s, ok := byName[k]; ok && s.Scope == Group && s.NoEffect {
			out = append(out, Ignored{k, reasonNoEffect})
		}
	}
	return out
}

// ShareOffsetReset is a value of share.auto.offset.reset.
type ShareOffsetReset struct {
	// Strategy is latest, earliest or by_duration.
	Strategy string
	// Duration is by_duration's: the group starts at the first record at most this old.
	Duration time.Duration
}

// ParseShareAutoOffsetReset reads a value of share.auto.offset.reset (case-insensitive, as
// Kafka's validator): latest, earliest or by_duration:<ISO-8601 duration>, not negative.
func ParseShareAutoOffsetReset(v string) (ShareOffsetReset, error) {
	lv := strings.ToLower(strings.TrimSpace(v))
	switch lv {
	case "latest", "earliest":
		return ShareOffsetReset{Strategy: lv}, nil
	}
	iso, ok := strings.CutPrefix(lv, "by_duration:")
	if !ok {
		return ShareOffsetReset{}, errors.New("must be latest, earliest or by_duration:<ISO-8601 duration>")
	}
	d, err := ParseISODuration(iso)
	if err != nil {
		return ShareOffsetReset{}, err
	}
	return ShareOffsetReset{Strategy: "by_duration", Duration: d}, nil
}

func shareAutoOffsetReset(v string) error {
	_, err := ParseShareAutoOffsetReset(v)
	return err
}

// isoDuration is Java's Duration.parse syntax without signs inside: PnDTnHnMn.nS.
var isoDuration = regexp.MustCompile(`^([-+]?)p(?:(\d+)d)?(?:t(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)(?:[.,](\d{1,9}))?s)?)?$`)

// ParseISODuration reads an ISO-8601 duration as Java's Duration.parse does (days, hours,
// minutes and seconds with up to nine decimals; "P1DT2H", "PT0.5S"), case-insensitive; a
// negative duration is refused, as by_duration refuses it.
func ParseISODuration(v string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(strings.ToLower(v))
	if m == nil || m[2] == "" && m[3] == "" && m[4] == "" && m[5] == "" || strings.HasSuffix(strings.ToLower(v), "t") {
		return 0, fmt.Errorf("%q is not an ISO-8601 duration (PnDTnHnMn.nS)", v)
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[i+2] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+2], 10, 64)
		if err != nil || n > int64(1<<62)/int64(unit) {
			return 0, fmt.Errorf("%q is too long a duration", v)
		}
		if d += time.Duration(n) * unit; d < 0 {
			return 0, fmt.Errorf("%q is too long a duration", v)
		}
	}
	if frac := m[6]; frac != "" {
		ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		d += time.Duration(ns)
	}
	if m[1] == "-" && d != 0 {
		return 0, fmt.Errorf("%q: a negative duration is not allowed", v)
	}
	return d, nil
}

// ShareGroup is a share group's effective settings (ResolveShareGroup): its group
// settings over the broker's group.share.* defaults, within the broker's bounds.
type ShareGroup struct {
	// AutoOffsetReset is share.auto.offset.reset (ParseShareAutoOffsetReset reads it).
	AutoOffsetReset string
	// ReadCommitted is share.isolation.level=read_committed.
	ReadCommitted           bool
	RecordLockDuration      time.Duration // share.record.lock.duration.ms
	DeliveryCountLimit      int16         // share.delivery.count.limit
	PartitionMaxRecordLocks int           // share.partition.max.record.locks
	SessionTimeout          time.Duration // share.session.timeout.ms
	HeartbeatInterval       time.Duration // share.heartbeat.interval.ms
	RenewAcknowledge        bool          // share.renew.acknowledge.enable
	// DLQTopic is errors.deadletterqueue.topic.name (empty: none) and DLQCopyRecord
	// errors.deadletterqueue.copy.record.enable.
	DLQTopic      string
	DLQCopyRecord bool
}

// ResolveShareGroup returns the effective settings of a share group whose own settings
// are overrides (nil: none), with the broker settings broker.
func ResolveShareGroup(broker, overrides map[string]string) ShareGroup {
	r := ResolveGroup(broker, overrides)
	return ShareGroup{
		AutoOffsetReset:         r.String("share.auto.offset.reset"),
		ReadCommitted:           r.String("share.isolation.level") == "read_committed",
		RecordLockDuration:      r.Millis("share.record.lock.duration.ms"),
		DeliveryCountLimit:      int16(r.Int64("share.delivery.count.limit")),
		PartitionMaxRecordLocks: int(r.Int64("share.partition.max.record.locks")),
		SessionTimeout:          r.Millis("share.session.timeout.ms"),
		HeartbeatInterval:       r.Millis("share.heartbeat.interval.ms"),
		RenewAcknowledge:        r.Bool("share.renew.acknowledge.enable"),
		DLQTopic:                r.String("errors.deadletterqueue.topic.name"),
		DLQCopyRecord:           r.Bool("errors.deadletterqueue.copy.record.enable"),
	}
}
