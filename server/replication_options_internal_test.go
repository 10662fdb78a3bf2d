package server

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/replica"
)

// TestClusterFetchOptions: the replica.fetch.* broker settings (Kafka's names and
// defaults), replica.lag.time.max.ms and strata.replica.page.cache.keep reach the follower fetchers' options, and a
// long poll longer than replica.lag.time.max.ms is refused, as Kafka refuses it.
func TestClusterFetchOptions(t *testing.T) {
	cluster := (&ClusterOptions{}).settings()
	resolve := func(set map[string]string) config.Resolved {
		m := maps.Clone(cluster)
		maps.Copy(m, set)
		return config.ResolveBroker(m)
	}
	got, err := fetchOptions(resolve(nil))
	want := replica.FetchOptions{MaxWait: 500 * time.Millisecond, MinBytes: 1, PartitionMaxBytes: 1 << 20,
		ResponseMaxBytes: 10 << 20, Backoff: time.Second, LagTimeMax: 30 * time.Second}
	if err != nil || got != want {
		t.Errorf("defaults: %+v, %v; want %+v", got, err, want)
	}
	got, err = fetchOptions(resolve(map[string]string{
		"replica.fetch.wait.max.ms": "50", "replica.fetch.min.bytes": "1024", "replica.fetch.max.bytes": "4096",
		"replica.fetch.response.max.bytes": "65536", "replica.fetch.backoff.ms": "20", "replica.lag.time.max.ms": "2000",
		"strata.replica.page.cache.keep": "true",
	}))
	want = replica.FetchOptions{MaxWait: 50 * time.Millisecond, MinBytes: 1024, PartitionMaxBytes: 4096,
		ResponseMaxBytes: 65536, Backoff: 20 * time.Millisecond, LagTimeMax: 2 * time.Second, KeepPageCache: true}
	if err != nil || got != want {
		t.Errorf("set: %+v, %v; want %+v", got, err, want)
	}
	if _, err := fetchOptions(resolve(map[string]string{"replica.fetch.wait.max.ms": "2001", "replica.lag.time.max.ms": "2000"})); err == nil ||
		!strings.Contains(err.Error(), "must not exceed replica.lag.time.max.ms") {
		t.Errorf("wait above the lag time: %v", err)
	}
}

// TestClusterFetchSettingsChecked: a cluster node refuses to start with replica.fetch.*
// settings out of range or a long poll longer than replica.lag.time.max.ms.
func TestClusterFetchSettingsChecked(t *testing.T) {
	for _, tc := range []struct {
		set  map[string]string
		lag  time.Duration
		want string
	}{
		{map[string]string{"replica.fetch.max.bytes": "0"}, 0, "replica.fetch.max.bytes"},
		{map[string]string{"replica.fetch.backoff.ms": "-1"}, 0, "replica.fetch.backoff.ms"},
		{map[string]string{"replica.fetch.wait.max.ms": "1500"}, time.Second, "must not exceed replica.lag.time.max.ms"},
	} {
		lns, voters := quorumListeners(t, 1)
		o := clusterOptions(voters, lns[0], 1, t.TempDir())
		o.Cluster.ReplicaLagTimeMax = tc.lag
		maps.Copy(o.Settings, tc.set)
		s, err := Start(o)
		if err == nil {
			s.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %q", tc.set, err, tc.want)
		}
	}
}
