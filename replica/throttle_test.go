package replica

import (
	"math"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

// TestThrottleQuota: the rate is the bytes of the window's samples over the time they
// span, at least num-1 samples; old samples leave the window.
func TestThrottleQuota(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	q := newQuota(3, time.Second) // measured over at least 2 s
	q.record(1<<30, t0)
	if q.exceeded(t0) {
		t.Fatal("an unbounded quota is exceeded")
	}
	q = newQuota(3, time.Second)
	q.setBound(1000)
	for _, step := range []struct {
		ms       int
		record   int64
		exceeded bool
	}{
		{0, 1500, false},    // 1500 B over 2 s
		{500, 600, true},    // 2100 B over 2 s
		{1200, 0, true},     // a second sample; still 2100 over 2 s
		{2100, 0, false},    // 2100 over 2.1 s
		{3000, 1000, false}, // the first sample left the window (ended before 0 s): 1000 over 2 s
		{3100, 1001, true},  // 2001 over 2 s
		{6000, 0, false},    // every sample gone
	} {
		if step.record > 0 {
			q.record(step.record, at(step.ms))
		}
		if got := q.exceeded(at(step.ms)); got != step.exceeded {
			t.Fatalf("at %d ms: exceeded %v, want %v", step.ms, got, step.exceeded)
		}
	}
	q.setBound(math.MaxInt64)
	q.record(1<<40, at(7000))
	if q.exceeded(at(7000)) {
		t.Fatal("exceeded after the bound was lifted")
	}
}

// TestThrottleManager: the rates follow the dynamic broker settings (this broker's over
// the cluster-wide ones over the static ones), and LeaderThrottle holds back a throttled
// replica's follower out of the ISR only while the rate is above the bound.
func TestThrottleManager(t *testing.T) {
	clock := &testClock{t: time.Unix(1000, 0)}
	n, err := openNode(vfs.NewMem(), map[string]string{"replication.quota.window.num": "2", "leader.replication.throttled.rate": "1"}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer closeManager(t, n)
	if _, err := n.CreateTopic("t", 2, map[string]*string{
		"leader.replication.throttled.replicas":   ptr("1:0"),
		"follower.replication.throttled.replicas": ptr("*"),
	}, false); err != nil {
		t.Fatal(err)
	}
	im := n.store.Image()
	top, _ := im.Topic("t")
	if l, f := n.ThrottleRates(); l != 1 || f != math.MaxInt64 {
		t.Fatalf("static rates %d %d", l, f)
	}
	alter := func(broker, name, value string) {
		t.Helper()
		if err := n.store.AlterBrokerConfigs(t.Context(), metadata.AlterBrokerConfigs{Broker: broker,
			Alters: []config.Alter{{Name: name, Op: config.OpSet, Value: value}}}); err != nil {
			t.Fatal(err)
		}
	}
	alter("", "leader.replication.throttled.rate", "500")
	alter("0", "leader.replication.throttled.rate", "1000")
	alter("", "follower.replication.throttled.rate", "2000")
	alter("1", "follower.replication.throttled.rate", "7") // another broker's
	waitFor(t, "the dynamic rates", func() bool {
		return n.leaderQuota.exceeded(clock.Now()) == false && n.leaderQuota.bound() == 1000 && n.followerQuota.bound() == 2000
	})
	if !n.followerThrottled(tp{top.ID, 0}) || n.followerThrottled(tp{metadata.TopicID{1}, 0}) {
		t.Fatal("follower.replication.throttled.replicas=* does not throttle partition 0")
	}
	if th, hold := n.LeaderThrottle(top.ID, 0, 1); th || hold {
		t.Fatalf("partition 0 (not listed): throttled %v hold %v", th, hold)
	}
	if th, hold := n.LeaderThrottle(top.ID, 1, 1); !th || hold {
		t.Fatalf("partition 1 under the rate: throttled %v hold %v", th, hold)
	}
	n.RecordLeaderThrottled(1500) // over 1 s: above 1000 B/s
	if th, hold := n.LeaderThrottle(top.ID, 1, 1); !th || !hold {
		t.Fatalf("partition 1 above the rate, follower 1 out of the ISR: throttled %v hold %v", th, hold)
	}
	if _, hold := n.LeaderThrottle(top.ID, 1, testNode); hold {
		t.Fatal("a member of the ISR held back") // the single node's ISR is itself
	}
	clock.Add(2 * time.Second)
	if _, hold := n.LeaderThrottle(top.ID, 1, 1); hold {
		t.Fatal("held back once the window passed")
	}
}

// TestThrottleFollowerHold: the follower leaves out of its fetch the throttled replicas
// behind the leader's high watermark while the rate is above the bound, and only those.
func TestThrottleFollowerHold(t *testing.T) {
	now := time.Unix(1000, 0)
	q := newQuota(2, time.Second)
	throttled := map[tp]bool{{index: 0}: true, {index: 1}: true}
	f := &fetcher{throttle: fetchThrottle{quota: q, throttled: func(k tp) bool { return throttled[k] }, now: func() time.Time { return now }}}
	p := newTestPartition(t)
	behind := &follow{p: p, leaderHW: 10}  // log end 0 < 10
	inSync := &follow{p: p, leaderHW: 0}   // log end 0 >= 0
	unknown := &follow{p: p, leaderHW: -1} // no answer yet: behind
	ready := func() map[tp]*follow {
		return map[tp]*follow{{index: 0}: behind, {index: 1}: inSync, {index: 2}: unknown}
	}
	if r := ready(); f.holdThrottled(r) || len(r) != 3 {
		t.Fatalf("unbounded: held %v", r)
	}
	q.setBound(100)
	q.record(101, now)
	r := ready()
	if none := f.holdThrottled(r); none || len(r) != 2 || r[tp{index: 0}] != nil {
		t.Fatalf("above the rate: left %v", r)
	}
	r = map[tp]*follow{{index: 0}: behind}
	if !f.holdThrottled(r) {
		t.Fatal("no partition left, not reported")
	}
}

// newTestPartition opens an empty partition in memory.
func newTestPartition(t *testing.T) *partition.Partition {
	t.Helper()
	o := partition.Options{Topic: "t"}
	o.Log.FS = vfs.NewMem()
	p, err := partition.Open("/p", &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
