package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// RetryMode is how a RetryConsumer retries records and parks those that keep failing.
type RetryMode int8

const (
	// RetryAuto (the default) is RetryShare when the broker serves share groups and
	// KIP-1191 dead-letter topics and the options map onto them, RetryClassic otherwise.
	RetryAuto RetryMode = iota
	// RetryClassic is a consumer group whose handler is wrapped with Retry: retries
	// with backoff in the consumer, then the record is written to the dead-letter
	// topic by the consumer's producer.
	RetryClassic
	// RetryShare is a share group (KIP-932): a failed record is released to the group
	// (delivered again, maybe to another member) or, if its error is Permanent,
	// rejected; the broker archives it at the group's delivery count limit and writes
	// rejected and archived records to the group's dead-letter topic (KIP-1191).
	// Forcing it on a broker without them is an error.
	RetryShare
)

func (m RetryMode) String() string {
	switch m {
	case RetryClassic:
		return "classic"
	case RetryShare:
		return "share"
	default:
		return "auto"
	}
}

// Share-group delivery count limits of Kafka's broker (group.share.min and
// max.delivery.count.limit's defaults): MaxAttempts is clamped into them.
const (
	minShareDeliveries = 2
	maxShareDeliveries = 10
)

// A RetryConsumer consumes topics as a member of a group and hands each record to a
// Handler; a record whose handler fails is tried again, up to MaxAttempts times,
// and then parked in a dead-letter topic, so a poison message never blocks the
// others. The handler and options are the same in both of its modes (RetryMode):
// a share group with the broker's dead-letter topic where the broker has them, a
// consumer group with Retry otherwise. Mode says which one runs.
//
// Delivery is at-least-once in both modes: make the handler idempotent.
type RetryConsumer struct {
	group  string
	topics []string
	p      *Producer
	h      Handler
	opts   []Option
	cfg    *config
	admin  *Admin

	decide struct {
		sync.Mutex
		done bool
		mode RetryMode
		why  string
	}
	mu struct {
		sync.Mutex
		classic *Consumer
		cl      *kgo.Client             // share mode
		cancel  context.CancelCauseFunc // share mode: ends Run's context (Close)
		running bool
		closed  bool
	}
}

// NewRetryConsumer returns a RetryConsumer of topics in group (not empty) calling h;
// p writes dead letters in classic mode.
//
// Options: those of NewConsumer and Retry (MaxAttempts, Backoff, DeadLetterTopic),
// CreateDeadLetterTopic, RetryWith.
func NewRetryConsumer(group string, topics []string, p *Producer, h Handler, opts ...Option) (*RetryConsumer, error) {
	switch {
	case group == "":
		return nil, kindf(ErrInvalid, "new retry consumer: no group")
	case p == nil || h == nil:
		return nil, kindf(ErrInvalid, "new retry consumer: nil producer or handler")
	case len(topics) == 0:
		return nil, kindf(ErrInvalid, "new retry consumer: no topics")
	}
	cfg := newConfig(opts)
	if len(cfg.partitions) > 0 {
		return nil, kindf(ErrInvalid, "new retry consumer: Partitions cannot be used with a group")
	}
	adm, err := NewAdmin(opts...)
	if err != nil {
		return nil, err
	}
	return &RetryConsumer{group: group, topics: append([]string(nil), topics...), p: p, h: h,
		opts: append([]Option(nil), opts...), cfg: cfg, admin: adm}, nil
}

// Mode returns the mode Run uses, and why, deciding it the first time it is called
// (Run calls it): with RetryAuto it asks the brokers (ApiVersions: ShareGroupHeartbeat,
// ShareFetch v2, ShareAcknowledge v2, IncrementalAlterConfigs), creates the
// dead-letter topic if asked to (CreateDeadLetterTopic) and sets the group's settings
// (share.auto.offset.reset, share.delivery.count.limit and KIP-1191's
// errors.deadletterqueue.*, validated before anything is created), and the mode is
// RetryClassic if the brokers lack an API, refuse a setting, or an option has no
// share-group equivalent (StopAtEnd, AtMostOnce, StartAt(AtOffset), several
// dead-letter topics). An error (the brokers unreachable, RetryShare impossible)
// leaves the mode undecided.
func (rc *RetryConsumer) Mode(ctx context.Context) (RetryMode, string, error) {
	rc.decide.Lock()
	defer rc.decide.Unlock()
	if rc.decide.done {
		return rc.decide.mode, rc.decide.why, nil
	}
	mode, why := RetryClassic, "RetryWith(RetryClassic)"
	if rc.cfg.retryMode != RetryClassic {
		refused, err := rc.setupShare(ctx)
		switch {
		case err != nil:
			return RetryAuto, "", err
		case refused == "":
			mode, why = RetryShare, "the brokers serve share groups and dead-letter topics"
		case rc.cfg.retryMode == RetryShare:
			return RetryAuto, "", kindf(ErrInvalid, "retry consumer %q: share mode: %s", rc.group, refused)
		default:
			why = refused
		}
	}
	if rc.cfg.logger != nil {
		rc.cfg.logger.Info("retry consumer mode", "group", rc.group, "mode", mode.String(), "why", why)
	}
	rc.decide.done, rc.decide.mode, rc.decide.why = true, mode, why
	return mode, why, nil
}

// setupShare checks that share mode can run and sets the group's settings; refused
// says why it cannot, err is a failure to find out.
func (rc *RetryConsumer) setupShare(ctx context.Context) (refused string, err error) {
	cfg := rc.cfg
	switch {
	case cfg.stopAtEnd:
		return "StopAtEnd has no share-group equivalent", nil
	case cfg.atMostOnce:
		return "AtMostOnce has no share-group equivalent", nil
	}
	reset, ok := shareReset(cfg.start)
	if !ok {
		return fmt.Sprintf("StartAt(%s) has no share-group equivalent", cfg.start), nil
	}
	dlq := rc.shareDeadLetterTopic()
	if dlq == "" {
		return "DeadLetterTopic names several topics; a share group has one", nil
	}
	for _, api := range []struct {
		key, min int16
		name     string
	}{{76, 0, "ShareGroupHeartbeat"}, {78, 2, "ShareFetch v2"}, {79, 2, "ShareAcknowledge v2"}, {44, 0, "IncrementalAlterConfigs"}} {
		v, ok, err := rc.admin.apiMax(ctx, api.key)
		if err != nil {
			return "", cfg.wrap(err, "api versions", "")
		}
		if !ok || v < api.min {
			return "the brokers do not all serve " + api.name, nil
		}
	}
	limit := min(max(cfg.maxAttempts, minShareDeliveries), maxShareDeliveries)
	settings := map[string]string{
		"share.auto.offset.reset":                   reset,
		"share.delivery.count.limit":                strconv.Itoa(limit),
		"errors.deadletterqueue.copy.record.enable": "true",
	}
	// Validate first: a broker without KIP-1191 refuses its settings before the
	// dead-letter topic is created for nothing.
	if refused, err := rc.admin.setGroupConfigs(ctx, rc.group, settings, true); refused != "" || err != nil {
		return refused, err
	}
	if cfg.createDLQ {
		_, err := rc.admin.CreateTopic(ctx, dlq, TopicSpec{Configs: map[string]string{"errors.deadletterqueue.group.enable": "true"}})
		if err != nil && !errors.Is(err, ErrExists) {
			return "", err
		}
	}
	settings["errors.deadletterqueue.topic.name"] = dlq
	return rc.admin.setGroupConfigs(ctx, rc.group, settings, false)
}

// shareDeadLetterTopic is the group's dead-letter topic in share mode, or "" when
// DeadLetterTopic gives the topics different ones.
func (rc *RetryConsumer) shareDeadLetterTopic() string {
	if !rc.cfg.dlqNamed {
		if len(rc.topics) == 1 {
			return "dlq." + rc.topics[0]
		}
		return "dlq." + rc.group
	}
	name := rc.cfg.dlqTopic(rc.topics[0])
	for _, t := range rc.topics[1:] {
		if rc.cfg.dlqTopic(t) != name {
			return ""
		}
	}
	return name
}

// shareReset is share.auto.offset.reset for a StartAt position.
func shareReset(p Position) (string, bool) {
	switch p.kind {
	case posEarliest:
		return "earliest", true
	case posLatest:
		return "latest", true
	case posTime:
		return "by_duration:PT" + strconv.FormatInt(int64(math.Ceil(max(time.Since(p.time).Seconds(), 0))), 10) + "S", true
	}
	return "", false
}

// Run consumes until ctx is done (returning ctx's error), Close is called
// (returning ErrClosed), MaxRecords says it is done (returning nil; in share mode
// records fetched but not handled are released), or, in classic mode, StopAtEnd
// says so or a dead-letter write fails. In share mode a record is accepted when the
// handler returns nil, rejected when its error is Permanent (or MaxAttempts is 1),
// and otherwise released after the backoff for its delivery count (held under its
// lock meanwhile, at most until shortly before the lock expires).
func (rc *RetryConsumer) Run(ctx context.Context) error {
	mode, _, err := rc.Mode(ctx)
	if err != nil {
		return err
	}
	if mode == RetryClassic {
		return rc.runClassic(ctx)
	}
	return rc.runShare(ctx)
}

func (rc *RetryConsumer) runClassic(ctx context.Context) error {
	rc.mu.Lock()
	c, closed := rc.mu.classic, rc.mu.closed
	if c == nil && !closed {
		var err error
		if c, err = NewConsumer(rc.group, rc.topics, rc.opts...); err != nil {
			rc.mu.Unlock()
			return err
		}
		rc.mu.classic = c
	}
	rc.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if rc.cfg.createDLQ {
		for _, t := range rc.topics {
			if _, err := rc.admin.CreateTopic(ctx, rc.cfg.dlqTopic(t), TopicSpec{}); err != nil && !errors.Is(err, ErrExists) {
				return err
			}
		}
	}
	return c.Run(ctx, Retry(rc.p, rc.h, rc.opts...))
}

func (rc *RetryConsumer) runShare(ctx context.Context) error {
	cfg := rc.cfg
	cl, err := kgo.NewClient(append(append(cfg.kgoOpts(), kgo.ShareGroup(rc.group), kgo.ConsumeTopics(rc.topics...)), cfg.extra...)...)
	if err != nil {
		return fmt.Errorf("client: retry consumer: %w", err)
	}
	rc.mu.Lock()
	if rc.mu.closed || rc.mu.running {
		running := rc.mu.running
		rc.mu.Unlock()
		cl.Close()
		if running {
			return kindf(ErrInvalid, "retry consumer: Run called twice")
		}
		return ErrClosed
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rc.mu.cl, rc.mu.running, rc.mu.cancel = cl, true, cancel
	rc.mu.Unlock()
	defer func() {
		cl.MarkAcks(kgo.AckRelease) // the records of the last poll not handled go back to the group
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.timeout)
		_ = cl.FlushAcks(fctx) // Close would send them too; flushing first waits for the answers
		cancel()
		cl.Close()
	}()

	attempts := int32(max(cfg.maxAttempts, 1))
	handled := 0
	for {
		fs := cl.PollRecords(ctx, cfg.maxPoll)
		if fs.IsClientClosed() || errors.Is(context.Cause(ctx), ErrClosed) {
			return ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := cfg.fetchErr(fs); err != nil {
			return err
		}
		for _, kr := range fs.Records() {
			if err := rc.handleShared(ctx, kr, attempts); err != nil {
				if errors.Is(context.Cause(ctx), ErrClosed) {
					return ErrClosed
				}
				return err
			}
			if handled++; cfg.maxRecords > 0 && handled >= cfg.maxRecords {
				return nil
			}
		}
	}
}

// handleShared hands one record of a share group to the handler and acknowledges it;
// it fails only when ctx is done (the record is then released).
func (rc *RetryConsumer) handleShared(ctx context.Context, kr *kgo.Record, attempts int32) error {
	err := rc.h(ctx, fromKgo(kr))
	if err == nil {
		kr.Ack(kgo.AckAccept)
		return nil
	}
	if ctx.Err() != nil {
		kr.Ack(kgo.AckRelease)
		return ctx.Err()
	}
	n := kr.DeliveryCount()
	reject := errors.Is(err, ErrPermanent) || attempts == 1
	if l := rc.cfg.logger; l != nil {
		l.LogAttrs(ctx, slog.LevelWarn, "retry consumer: handler failed", slog.String("group", rc.group),
			slog.String("record", fromKgo(kr).String()), slog.Int("delivery", int(n)),
			slog.Bool("rejected", reject), slog.String("error", err.Error()))
	}
	if reject {
		kr.Ack(kgo.AckReject)
		return nil
	}
	if n < attempts {
		wait := rc.cfg.backoffMin // doubled for each delivery before this one, as Retry does
		for i := int32(1); i < n && wait < rc.cfg.backoffMax; i++ {
			wait *= 2
		}
		wait = min(wait, rc.cfg.backoffMax)
		// Hold the record under its lock (lest another member take it at once),
		// releasing it a little before the lock would expire.
		if until := time.Until(kr.AcquisitionDeadline()) - 2*time.Second; wait > until {
			wait = max(until, 0)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	kr.Ack(kgo.AckRelease)
	return ctx.Err()
}

// Close stops the RetryConsumer and makes a running Run return ErrClosed; in share
// mode it also ends the handler's context, and the records it holds go back to the
// group. Close is idempotent.
func (rc *RetryConsumer) Close() {
	rc.mu.Lock()
	already := rc.mu.closed
	rc.mu.closed = true
	classic, cl, cancel := rc.mu.classic, rc.mu.cl, rc.mu.cancel
	rc.mu.Unlock()
	if already {
		return
	}
	if cancel != nil {
		cancel(ErrClosed) // the handler's context: a handler that waits on it returns
	}
	if classic != nil {
		classic.Close()
	}
	if cl != nil {
		cl.Close()
	}
	rc.admin.Close()
}

// apiMax is the highest version of API key that every broker serves; ok is false if
// one does not serve it.
func (a *Admin) apiMax(ctx context.Context, key int16) (v int16, ok bool, err error) {
	vs, err := a.adm.ApiVersions(ctx)
	if err != nil {
		return 0, false, err
	}
	v, ok = math.MaxInt16, true
	vs.Each(func(b kadm.BrokerApiVersions) {
		m, served := b.KeyMaxVersion(key)
		ok = ok && served && b.Err == nil
		v = min(v, m)
	})
	return v, ok, nil
}

// setGroupConfigs sets a group's settings (IncrementalAlterConfigs, resource type
// GROUP), or with validateOnly only checks them; refused is the broker's reason when
// it refuses them.
func (a *Admin) setGroupConfigs(ctx context.Context, group string, set map[string]string, validateOnly bool) (refused string, err error) {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.ValidateOnly = validateOnly
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	for k, v := range set {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		res.Configs = append(res.Configs, c)
	}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return "", a.cfg.wrap(err, fmt.Sprintf("set group %q settings", group), "")
	}
	for _, r := range resp.Resources {
		kerrCode := kerr.ErrorForCode(r.ErrorCode)
		switch {
		case kerrCode == nil:
			continue
		case kerr.IsRetriable(kerrCode):
			return "", a.cfg.wrap(kerrCode, fmt.Sprintf("set group %q settings", group), "")
		}
		msg := kerrCode.Error()
		if r.ErrorMessage != nil && *r.ErrorMessage != "" {
			msg = *r.ErrorMessage
		}
		return "the brokers refuse the group's settings: " + msg, nil
	}
	return "", nil
}
