package client

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// The replication throttle of a reassignment (KIP-73), as kafka-reassign-partitions
// --throttle sets it: the cluster-wide dynamic broker settings
// leader.replication.throttled.rate and follower.replication.throttled.rate, and on the
// topic the moving partition's current replicas in leader.replication.throttled.replicas
// and its new ones in follower.replication.throttled.replicas.
const (
	leaderThrottledRate       = "leader.replication.throttled.rate"
	followerThrottledRate     = "follower.replication.throttled.rate"
	leaderThrottledReplicas   = "leader.replication.throttled.replicas"
	followerThrottledReplicas = "follower.replication.throttled.replicas"
)

// ThrottleReassignment throttles the move of partition of topic to replicas to rate
// bytes per second (on every broker, cluster-wide); call it before Reassign.
// ClearReassignmentThrottle removes it once every move is done. It needs ALTER_CONFIGS
// on the cluster and on the topic.
func (a *Admin) ThrottleReassignment(ctx context.Context, topic string, partition int32, replicas []int32, rate int64) error {
	op, subj := "throttle reassignment", fmt.Sprintf("partition %d of topic %q", partition, topic)
	td, err := a.adm.ListTopics(ctx, topic)
	if err != nil {
		return a.cfg.wrap(err, op, subj)
	}
	p, ok := td[topic].Partitions[partition]
	if t, exists := td[topic]; !exists || t.Err != nil || !ok {
		return kindf(ErrNotFound, "%s: %s does not exist", op, subj)
	}
	pairs := func(brokers []int32) string {
		var out []string
		for _, b := range brokers {
			out = append(out, fmt.Sprintf("%d:%d", partition, b))
		}
		return strings.Join(out, ",")
	}
	var adding []int32
	for _, b := range replicas {
		if !slices.Contains(p.Replicas, b) {
			adding = append(adding, b)
		}
	}
	r := kadm.StringPtr(strconv.FormatInt(rate, 10))
	bres, err := a.adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: leaderThrottledRate, Value: r}, {Op: kadm.SetConfig, Name: followerThrottledRate, Value: r}})
	if err = a.firstConfigErr(err, bres); err != nil {
		return a.cfg.wrap(err, op, "the cluster's replication throttle rates")
	}
	alters := []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: leaderThrottledReplicas, Value: kadm.StringPtr(pairs(p.Replicas))}}
	if len(adding) > 0 {
		alters = append(alters, kadm.AlterConfig{Op: kadm.AppendConfig, Name: followerThrottledReplicas, Value: kadm.StringPtr(pairs(adding))})
	}
	tres, err := a.adm.AlterTopicConfigs(ctx, alters, topic)
	return a.cfg.wrap(a.firstConfigErr(err, tres), op, subj)
}

// ClearReassignmentThrottle removes the replication throttle of reassignments when no
// partition is moving any more (as kafka-reassign-partitions --verify does): the
// cluster-wide throttle rates and every topic's throttled replicas. It reports whether
// it did; while some partition moves it changes nothing.
func (a *Admin) ClearReassignmentThrottle(ctx context.Context) (bool, error) {
	op := "clear the reassignment throttle"
	moving, err := a.Reassignments(ctx)
	if err != nil || len(moving) > 0 {
		return false, err
	}
	bres, err := a.adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: leaderThrottledRate}, {Op: kadm.DeleteConfig, Name: followerThrottledRate}})
	if err = a.firstConfigErr(err, bres); err != nil {
		return false, a.cfg.wrap(err, op, "the cluster's replication throttle rates")
	}
	td, err := a.adm.ListTopics(ctx)
	if err != nil {
		return false, a.cfg.wrap(err, op, "")
	}
	rcs, err := a.adm.DescribeTopicConfigs(ctx, td.Names()...)
	if err != nil {
		return false, a.cfg.wrap(err, op, "")
	}
	for _, rc := range rcs {
		var alters []kadm.AlterConfig
		for _, c := range rc.Configs {
			if (c.Key == leaderThrottledReplicas || c.Key == followerThrottledReplicas) && c.Source == 1 { // DYNAMIC_TOPIC_CONFIG
				alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: c.Key})
			}
		}
		if len(alters) == 0 {
			continue
		}
		tres, err := a.adm.AlterTopicConfigs(ctx, alters, rc.Name)
		if err = a.firstConfigErr(err, tres); err != nil {
			return false, a.cfg.wrap(err, op, fmt.Sprintf("topic %q", rc.Name))
		}
	}
	return true, nil
}

// firstConfigErr is err, else the first error of an alter's answers.
func (a *Admin) firstConfigErr(err error, resps kadm.AlterConfigsResponses) error {
	if err != nil {
		return err
	}
	for _, r := range resps {
		if r.Err != nil {
			return withBrokerMessage(r.Err, r.ErrMessage)
		}
	}
	return nil
}
