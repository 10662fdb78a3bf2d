package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Type is the type of a setting's value; the numbers are Kafka's ConfigType
// (DescribeConfigs v3+).
type Type int8

const (
	Boolean Type = 1
	String  Type = 2
	Int     Type = 3
	Short   Type = 4
	Long    Type = 5
	Double  Type = 6
	List    Type = 7
)

func (t Type) String() string {
	switch t {
	case Boolean:
		return "boolean"
	case String:
		return "string"
	case Int:
		return "int"
	case Short:
		return "short"
	case Long:
		return "long"
	case Double:
		return "double"
	case List:
		return "list"
	}
	return "unknown"
}

// Scope says where a setting may be set.
type Scope int8

const (
	// Broker settings are set on the broker only (Options, file, env, flags).
	Broker Scope = iota + 1
	// Topic settings are set per topic; their broker-level synonyms (Setting.Synonyms)
	// hold the broker-wide default.
	Topic
	// Group settings are set per group id (Kafka's GroupConfig: ConfigResource type
	// GROUP); their broker-level synonyms hold the default, and Bounds name the broker
	// settings that bound them.
	Group
)

func (s Scope) String() string {
	switch s {
	case Topic:
		return "topic"
	case Group:
		return "group"
	}
	return "broker"
}

// Source says where an effective value came from; the numbers are Kafka's ConfigSource
// (DescribeConfigs v1+).
type Source int8

const (
	SourceDynamicTopic         Source = 1 // DYNAMIC_TOPIC_CONFIG: a topic override
	SourceDynamicBroker        Source = 2 // DYNAMIC_BROKER_CONFIG: set at run time for one broker
	SourceDynamicDefaultBroker Source = 3 // DYNAMIC_DEFAULT_BROKER_CONFIG: set at run time for every broker
	SourceGroup                Source = 8 // GROUP_CONFIG: a group's own setting
	SourceStaticBroker         Source = 4 // STATIC_BROKER_CONFIG: broker settings at start
	SourceDefault              Source = 5 // DEFAULT_CONFIG: built-in default
	SourceUnknownConfig        Source = 0
)

// Synonym is a broker setting that holds the broker-wide default of a topic setting;
// a value of the synonym times Scale is a value of the topic setting (log.retention.hours
// times 3600000 is retention.ms).
type Synonym struct {
	Name  string
	Scale int64
}

// Setting is one entry of the registry.
type Setting struct {
	Name    string
	Type    Type
	Scope   Scope
	Default string
	Doc     string
	// ReadOnly settings cannot be changed at runtime (AlterConfigs). Broker settings that
	// are not read-only are Kafka's dynamic broker configs: set per broker or cluster-wide
	// in the cluster metadata (ApplyBroker, BrokerLayers).
	ReadOnly bool
	// Synonyms of a topic setting: broker settings that hold its default, in order of
	// precedence (Kafka's order: log.retention.ms before log.retention.minutes before
	// log.retention.hours).
	Synonyms []Synonym
	// Min and Max bound numeric values (inclusive) when HasMin / HasMax.
	Min, Max       float64
	HasMin, HasMax bool
	// Bounds name the broker settings holding the smallest and largest value a group
	// may set (group settings only; empty: none).
	Bounds [2]string
	// Enum lists the legal values (of each element for lists), case-sensitive.
	Enum []string
	// Check validates further; nil means none.
	Check func(v string) error
	// Field names the server.Options field (and CLI flag) that carries a setting the
	// server reads directly; such settings are not accepted in Options.Settings.
	Field string
	// Note is extra documentation for docs/configuration.md (where Strata differs from
	// Kafka).
	Note string
	// NoEffect marks a Kafka setting Strata accepts, stores and describes (with Kafka's
	// type, default and validation) but does not act on.
	NoEffect bool
	// PerListener settings may also be set for one listener, as
	// listener.name.<listener>.<setting> (ListenerValue).
	PerListener bool
	// Sensitive values (passwords) are never shown: DescribeConfigs answers null with
	// is_sensitive, as Kafka does for its password settings, and logs leave them out.
	Sensitive bool
}

// EnvName is the environment variable that sets s: STRATA_ and the upper-case name with
// dots as underscores.
func (s *Setting) EnvName() string { return EnvName(s.Name) }

// EnvName is the environment variable for a setting name.
func EnvName(name string) string {
	return "STRATA_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(name))
}

// Errors. Validation errors wrap ErrUnknown or ErrInvalid and name the setting.
var (
	ErrUnknown = errors.New("config: unknown setting")
	ErrInvalid = errors.New("config: invalid value")
	// ErrReadOnly is returned when altering a setting that cannot change at runtime.
	ErrReadOnly = errors.New("config: setting is read-only")
)

var (
	table     []*Setting
	byName    = map[string]*Setting{}
	synonymOf = map[string]*Setting{} // broker synonym -> topic setting
)

func init() {
	for i := range settings {
		s := &settings[i]
		if _, dup := byName[s.Name]; dup {
			panic("config: duplicate setting " + s.Name)
		}
		byName[s.Name] = s
		table = append(table, s)
		for _, syn := range s.Synonyms {
			if s.Scope == Topic { // a group setting's synonyms are broker settings of their own
				synonymOf[syn.Name] = s
			}
		}
		if err := s.validate(s.Default); err != nil {
			panic(fmt.Sprintf("config: bad default of %s: %v", s.Name, err))
		}
	}
	sort.Slice(table, func(i, j int) bool { return table[i].Name < table[j].Name })
}

// All returns every setting, sorted by name. Broker synonyms of topic settings are listed
// by Synonyms, not as settings of their own.
func All() []*Setting { return slices.Clone(table) }

// Lookup returns the setting by name.
func Lookup(name string) (*Setting, bool) {
	s, ok := byName[name]
	return s, ok
}

// TopicSettingFor returns the topic setting a broker synonym holds the default of.
func TopicSettingFor(brokerName string) (*Setting, Synonym, bool) {
	s, ok := synonymOf[brokerName]
	if !ok {
		return nil, Synonym{}, false
	}
	for _, syn := range s.Synonyms {
		if syn.Name == brokerName {
			return s, syn, true
		}
	}
	return nil, Synonym{}, false
}

// Validate checks one value of s.
func (s *Setting) Validate(v string) error {
	if err := s.validate(v); err != nil {
		if s.Sensitive {
			return fmt.Errorf("%w: %s (value hidden): %v", ErrInvalid, s.Name, err)
		}
		return fmt.Errorf("%w: %s=%q: %v", ErrInvalid, s.Name, v, err)
	}
	return nil
}

func (s *Setting) validate(v string) error {
	switch s.Type {
	case Boolean:
		if v != "true" && v != "false" {
			return errors.New("must be true or false")
		}
	case Short, Int, Long:
		bits := map[Type]int{Short: 16, Int: 32, Long: 64}[s.Type]
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, bits)
		if err != nil {
			return fmt.Errorf("not a %d-bit integer", bits)
		}
		if err := s.checkRange(float64(n)); err != nil {
			return err
		}
	case Double:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return errors.New("not a number")
		}
		if err := s.checkRange(f); err != nil {
			return err
		}
	case List:
		for _, e := range SplitList(v) {
			if len(s.Enum) > 0 && !slices.Contains(s.Enum, e) {
				return fmt.Errorf("%q is not one of %s", e, strings.Join(s.Enum, ", "))
			}
		}
	case String:
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
			return fmt.Errorf("must be one of %s", strings.Join(s.Enum, ", "))
		}
	}
	if s.Check != nil {
		return s.Check(v)
	}
	return nil
}

func (s *Setting) checkRange(f float64) error {
	if s.HasMin && f < s.Min {
		return fmt.Errorf("must be at least %s", fmtNum(s.Min))
	}
	if s.HasMax && f > s.Max {
		return fmt.Errorf("must be at most %s", fmtNum(s.Max))
	}
	return nil
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// SplitList splits a list value on commas, trimming spaces and dropping empty elements.
func SplitList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// ValidateBroker checks broker settings (server.Options.Settings): every key must be a
// broker setting or the broker synonym of a topic setting, not one carried by an Options
// field, and every value valid. Kafka's broker settings that Strata does not implement
// (and those Kafka 4.0 removed) are accepted unchecked: IgnoredBroker lists them. Any
// other name is refused, naming the closest known ones. The error lists every problem.
func ValidateBroker(settings map[string]string) error {
	var errs []error
	for _, k := range sortedKeys(settings) {
		v := settings[k]
		if _, base, ok := SplitListenerSetting(k); ok {
			if s, ok := byName[base]; ok && s.PerListener {
				if err := s.Validate(v); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", k, err))
				}
			} else if BrokerKind(k) == KindUnknown {
				errs = append(errs, fmt.Errorf("%w: %q: %q is not a setting Strata or Kafka takes per listener", ErrUnknown, k, base))
			}
			continue
		}
		if ts, syn, ok := TopicSettingFor(k); ok {
			if err := ts.validateScaled(v, syn); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s=%q: %v", ErrInvalid, k, v, err))
			}
			continue
		}
		s, ok := byName[k]
		switch {
		case !ok && BrokerKind(k) != KindUnknown:
			// A Kafka setting without effect in Strata (IgnoredBroker).
		case !ok:
			errs = append(errs, fmt.Errorf("%w (see docs/configuration.md)", unknownError(k, Broker)))
		case s.Scope == Topic:
			hint := ""
			if len(s.Synonyms) > 0 {
				hint = "; its broker-wide default is " + s.Synonyms[0].Name
			}
			errs = append(errs, fmt.Errorf("%w: %q is a topic setting%s", ErrUnknown, k, hint))
		case s.Field != "":
			errs = append(errs, fmt.Errorf("%w: %q is set through %s, not Settings", ErrUnknown, k, s.Field))
		default:
			if err := s.Validate(v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 {
		errs = append(errs, checkShareBroker(settings))
	}
	return errors.Join(errs...)
}

// checkShareBroker applies Kafka's start-up checks of the share group settings
// (ShareGroupConfig and GroupCoordinatorConfig): each default within its bounds, the
// heartbeat interval below the session timeout, group.share.max.share.sessions at least
// group.share.max.size.
func checkShareBroker(settings map[string]string) error {
	r := Resolved{}
	for _, s := range table {
		if s.Scope == Broker && strings.HasPrefix(s.Name, "group.share.") {
			v, _ := BrokerValue(s.Name, settings)
			r[s.Name] = v.Value
		}
	}
	var errs []error
	for _, name := range []string{"record.lock.duration.ms", "delivery.count.limit", "partition.max.record.locks", "session.timeout.ms", "heartbeat.interval.ms"} {
		v, lo, hi := "group.share."+name, "group.share.min."+name, "group.share.max."+name
		if r.Int64(v) < r.Int64(lo) || r.Int64(v) > r.Int64(hi) {
			errs = append(errs, fmt.Errorf("%w: %s=%d must be between %s=%d and %s=%d", ErrInvalid, v, r.Int64(v), lo, r.Int64(lo), hi, r.Int64(hi)))
		}
	}
	if r.Int64("group.share.heartbeat.interval.ms") >= r.Int64("group.share.session.timeout.ms") {
		errs = append(errs, fmt.Errorf("%w: group.share.heartbeat.interval.ms must be less than group.share.session.timeout.ms", ErrInvalid))
	}
	if r.Int64("group.share.max.share.sessions") < r.Int64("group.share.max.size") {
		errs = append(errs, fmt.Errorf("%w: group.share.max.share.sessions must be greater than or equal to group.share.max.size", ErrInvalid))
	}
	return errors.Join(errs...)
}

// listenerPrefix starts a setting set for one listener: listener.name.<listener>.<setting>.
const listenerPrefix = "listener.name."

// SplitListenerSetting splits a per-listener setting name, listener.name.<listener>.<name>,
// into the listener name (upper case, as Kafka normalises listener names) and the
// setting's name.
func SplitListenerSetting(key string) (listener, name string, ok bool) {
	rest, ok := strings.CutPrefix(key, listenerPrefix)
	if !ok {
		return "", "", false
	}
	listener, name, ok = strings.Cut(rest, ".")
	if !ok || listener == "" || name == "" {
		return "", "", false
	}
	return strings.ToUpper(listener), name, true
}

// ListenerValue resolves a PerListener setting for one listener: its
// listener.name.<listener>.<name> value (the listener name in any case), else the broker
// setting, else the built-in default.
func ListenerValue(name, listener string, broker map[string]string) Value {
	for _, k := range sortedKeys(broker) {
		if l, n, ok := SplitListenerSetting(k); ok && n == name && strings.EqualFold(l, listener) {
			return Value{Name: name, Value: broker[k], Source: SourceStaticBroker, From: k}
		}
	}
	v, _ := BrokerValue(name, broker)
	return v
}

// validateScaled validates a broker synonym's value as a value of s.
func (s *Setting) validateScaled(v string, syn Synonym) error {
	if syn.Scale <= 1 {
		return s.validate(v)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return errors.New("not an integer")
	}
	return s.validate(scale(n, syn.Scale))
}

func scale(n, by int64) string {
	if n > 0 && n > math.MaxInt64/by {
		return strconv.FormatInt(math.MaxInt64, 10)
	}
	if n < 0 {
		return strconv.FormatInt(n, 10) // -1 means unlimited at every scale
	}
	return strconv.FormatInt(n*by, 10)
}

// ValidateTopic checks topic overrides: every key must be a topic setting (one Strata acts
// on, or a Kafka setting it stores without effect) and every value valid. The error lists
// every problem.
func ValidateTopic(overrides map[string]string) error {
	var errs []error
	for _, k := range sortedKeys(overrides) {
		s, err := topicSetting(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.Validate(overrides[k]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// topicSetting returns the topic setting name, or an error saying why there is none.
func topicSetting(name string) (*Setting, error) {
	if s, ok := byName[name]; ok && s.Scope == Topic {
		return s, nil
	}
	if TopicKind(name) == KindRemoved {
		return nil, fmt.Errorf("%w: %q %s", ErrUnknown, name, reasonRemoved)
	}
	return nil, unknownError(name, Topic)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Value is one resolved setting.
type Value struct {
	Name   string
	Value  string
	Source Source
	// From is the setting name the value was taken from: Name itself, or a broker
	// synonym.
	From string
}

// BrokerValue resolves a broker setting (or a broker synonym) from the broker settings:
// the setting itself, else its built-in default. For a broker synonym of a topic setting
// without a value, it reports the topic setting's default (scaled back is not needed:
// Value holds the topic setting's unit).
func BrokerValue(name string, broker map[string]string) (Value, bool) {
	if v, ok := broker[name]; ok {
		return Value{Name: name, Value: v, Source: SourceStaticBroker, From: name}, true
	}
	if s, ok := byName[name]; ok && s.Scope == Broker {
		return Value{Name: name, Value: s.Default, Source: SourceDefault, From: name}, true
	}
	return Value{}, false
}

// TopicValue resolves a topic setting: the topic override, else the first broker synonym
// set, else the built-in default.
func TopicValue(s *Setting, broker, overrides map[string]string) Value {
	if v, ok := overrides[s.Name]; ok {
		return Value{Name: s.Name, Value: v, Source: SourceDynamicTopic, From: s.Name}
	}
	for _, syn := range s.Synonyms {
		if v, ok := broker[syn.Name]; ok {
			if syn.Scale > 1 {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					v = scale(n, syn.Scale)
				}
			}
			return Value{Name: s.Name, Value: v, Source: SourceStaticBroker, From: syn.Name}
		}
	}
	return Value{Name: s.Name, Value: s.Default, Source: SourceDefault, From: s.Name}
}

// Resolved is a set of effective values by setting name, with typed getters. The getters
// return the zero value for a name that is not there or does not parse, which cannot
// happen for values that passed validation.
type Resolved map[string]string

// ResolveTopic returns the effective value of every topic setting.
func ResolveTopic(broker, overrides map[string]string) Resolved {
	r := Resolved{}
	for _, s := range table {
		if s.Scope == Topic {
			r[s.Name] = TopicValue(s, broker, overrides).Value
		}
	}
	return r
}

// ResolveBroker returns the effective value of every broker setting (those carried by
// Options fields included, at their defaults unless present in broker).
func ResolveBroker(broker map[string]string) Resolved {
	r := Resolved{}
	for _, s := range table {
		if s.Scope == Broker {
			v, _ := BrokerValue(s.Name, broker)
			r[s.Name] = v.Value
		}
	}
	return r
}

// String returns the value of name.
func (r Resolved) String(name string) string { return r[name] }

// Bool returns the value of name as a bool.
func (r Resolved) Bool(name string) bool { return r[name] == "true" }

// Int64 returns the value of name as an integer.
func (r Resolved) Int64(name string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(r[name]), 10, 64)
	return n
}

// Float returns the value of name as a float.
func (r Resolved) Float(name string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(r[name]), 64)
	return f
}

// List returns the value of name as a list.
func (r Resolved) List(name string) []string { return SplitList(r[name]) }

// Millis returns the value of name, in milliseconds, as a Duration; values too large for a
// Duration saturate, negative values stay negative (-1: unlimited).
func (r Resolved) Millis(name string) time.Duration { return Millis(r.Int64(name)) }

// Millis converts milliseconds to a Duration, saturating.
func Millis(ms int64) time.Duration {
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return math.MaxInt64
	}
	if ms < math.MinInt64/int64(time.Millisecond) {
		return math.MinInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// Describe is one entry of a DescribeConfigs answer.
type Describe struct {
	Setting  *Setting
	Value    Value
	Synonyms []Value // in precedence order, the effective one first; only those set
}

// DescribeTopic describes every topic setting (or only names, when not empty) of a topic.
// Unknown names are skipped, as Kafka does.
func DescribeTopic(broker, overrides map[string]string, names []string) []Describe {
	var out []Describe
	for _, s := range selected(Topic, names) {
		d := Describe{Setting: s, Value: TopicValue(s, broker, overrides)}
		if v, ok := overrides[s.Name]; ok {
			d.Synonyms = append(d.Synonyms, Value{Name: s.Name, Value: v, Source: SourceDynamicTopic, From: s.Name})
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

// defaultSynonym is the DEFAULT_CONFIG synonym of a topic setting, named like Kafka by its
// first broker synonym.
func defaultSynonym(s *Setting) Value {
	name := s.Name
	if len(s.Synonyms) > 0 {
		name = s.Synonyms[0].Name
		if s.Synonyms[0].Scale > 1 {
			// The default is stated in the topic setting's unit; name the setting
			// itself rather than a scaled synonym.
			name = s.Name
		}
	}
	return Value{Name: name, Value: s.Default, Source: SourceDefault, From: name}
}

// DescribeBroker describes the broker settings (or only names, when not empty): the broker
// settings themselves and the broker synonyms of topic settings, with the values of l.
func DescribeBroker(l BrokerLayers, names []string) []Describe {
	var out []Describe
	for _, s := range selected(Broker, names) {
		v, _ := l.Value(s.Name)
		d := Describe{Setting: s, Value: v}
		for _, layer := range l.layers() {
			if lv, ok := layer.values[s.Name]; ok {
				d.Synonyms = append(d.Synonyms, Value{Name: s.Name, Value: lv, Source: layer.source, From: s.Name})
			}
		}
		d.Synonyms = append(d.Synonyms, Value{Name: s.Name, Value: s.Default, Source: SourceDefault, From: s.Name})
		out = append(out, d)
	}
	static := l.Static
	// Broker synonyms of topic settings (log.retention.ms, ...), by the synonym's name.
	for _, ts := range table {
		if ts.Scope != Topic {
			continue
		}
		for _, syn := range ts.Synonyms {
			if len(names) > 0 && !slices.Contains(names, syn.Name) {
				continue
			}
			bs := synonymSetting(ts, syn)
			v, ok := static[syn.Name]
			val := Value{Name: syn.Name, Value: v, Source: SourceStaticBroker, From: syn.Name}
			if !ok {
				if syn.Scale > 1 {
					continue // log.retention.hours unset: log.retention.ms says it all
				}
				val = Value{Name: syn.Name, Value: ts.Default, Source: SourceDefault, From: syn.Name}
			}
			d := Describe{Setting: bs, Value: val}
			if ok {
				d.Synonyms = append(d.Synonyms, val)
			}
			if syn.Scale <= 1 {
				d.Synonyms = append(d.Synonyms, Value{Name: syn.Name, Value: ts.Default, Source: SourceDefault, From: syn.Name})
			}
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Value.Name < out[j].Value.Name })
	return out
}

// synonymSetting describes a broker synonym as a Setting of its own (for its type, doc
// and read-only flag).
func synonymSetting(ts *Setting, syn Synonym) *Setting {
	doc := "The broker-wide default of the topic setting " + ts.Name + "."
	if syn.Scale > 1 {
		doc = fmt.Sprintf("The broker-wide default of the topic setting %s, in units of %d ms.", ts.Name, syn.Scale)
	}
	return &Setting{Name: syn.Name, Type: ts.Type, Scope: Broker, Default: ts.Default, Doc: doc, ReadOnly: true}
}

func selected(scope Scope, names []string) []*Setting {
	var out []*Setting
	for _, s := range table {
		if s.Scope == scope && (len(names) == 0 || slices.Contains(names, s.Name)) {
			out = append(out, s)
		}
	}
	return out
}

// Op is one IncrementalAlterConfigs operation; the numbers are Kafka's.
type Op int8

const (
	OpSet      Op = 0
	OpDelete   Op = 1
	OpAppend   Op = 2
	OpSubtract Op = 3
)

// Alter is one change to a topic's overrides.
type Alter struct {
	Name  string
	Op    Op
	Value string
}

// ApplyTopic applies alters to a copy of overrides (as IncrementalAlterConfigs does) and
// validates the result. broker is needed for APPEND/SUBTRACT on a setting that has no
// override yet (they start from the effective value).
func ApplyTopic(broker, overrides map[string]string, alters []Alter) (map[string]string, error) {
	out := make(map[string]string, len(overrides)+len(alters))
	for k, v := range overrides {
		out[k] = v
	}
	for _, a := range alters {
		s, err := topicSetting(a.Name)
		if err != nil {
			return nil, err
		}
		switch a.Op {
		case OpSet:
			out[a.Name] = a.Value
		case OpDelete:
			delete(out, a.Name)
		case OpAppend, OpSubtract:
			if s.Type != List {
				return nil, fmt.Errorf("%w: %s: APPEND and SUBTRACT apply to list settings only", ErrInvalid, a.Name)
			}
			cur := SplitList(TopicValue(s, broker, out).Value)
			for _, e := range SplitList(a.Value) {
				if a.Op == OpAppend && !slices.Contains(cur, e) {
					cur = append(cur, e)
				}
				if a.Op == OpSubtract {
					cur = slices.DeleteFunc(cur, func(x string) bool { return x == e })
				}
			}
			out[a.Name] = strings.Join(cur, ",")
		default:
			return nil, fmt.Errorf("%w: %s: unknown operation %d", ErrInvalid, a.Name, a.Op)
		}
	}
	if err := ValidateTopic(out); err != nil {
		return nil, err
	}
	return out, nil
}
