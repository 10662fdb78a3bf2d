package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/client"
)

// shareFromEarliest sets share.auto.offset.reset=earliest on share group group.
func shareFromEarliest(t *testing.T, ctx context.Context, addr, group string) {
	t.Helper()
	admin, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	iac := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	res.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "share.auto.offset.reset", Value: kmsg.StringPtr("earliest")}}
	iac.Resources = append(iac.Resources, res)
	if r, err := iac.RequestWith(ctx, admin); err != nil || r.Resources[0].ErrorCode != 0 {
		t.Fatalf("setting share.auto.offset.reset: %v %v", err, r)
	}
}

// TestCLIShareGroups: `strata group list` and `group describe` show a share group
// (KIP-932): its type, state, members with their epochs and assignments, and per
// partition the start offset and lag; against Strata also the records in flight and
// archived (Strata's own counts; "-" from another broker).
func TestCLIShareGroups(t *testing.T) {
	eachCLIBroker(t, func(t *testing.T, addr string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cli(t, addr, codeOK, "", "topic", "create", "work", "-p", "1")
		cli(t, addr, codeOK, "0\n1\n2\n", "produce", "work", "--partition", "0")
		shareFromEarliest(t, ctx, addr, "workers")

		// 0 stays acquired, 1 accepted, 2 rejected.
		sc, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("work"), kgo.ShareGroup("workers"), kgo.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		for n := 0; n < 3 && ctx.Err() == nil; {
			sc.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				n++
				switch string(r.Value) {
				case "0":
					r.Ack(kgo.AckRenew)
				case "1":
					r.Ack(kgo.AckAccept)
				default:
					r.Ack(kgo.AckReject)
				}
			})
		}
		if err := sc.FlushAcks(ctx); err != nil {
			t.Fatal(err)
		}

		r := cli(t, addr, codeOK, "", "group", "list")
		mustContain(t, "group list", r.stdout, "TYPE", "workers", "share", "Stable")
		r = cli(t, addr, codeOK, "", "group", "describe", "workers")
		mustContain(t, "group describe", r.stdout, "protocol     share", "state        Stable", "members      1", "EPOCH", "work[0]",
			"START", "IN-FLIGHT", "ARCHIVED")
		r = cli(t, addr, codeOK, "", "group", "describe", "workers", "-o", "json")
		var d client.GroupDescription
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
			t.Fatalf("%v in %s", err, r.stdout)
		}
		want := client.ShareOffset{Topic: "work", Partition: 0, Start: 0, Lag: 1, InFlight: -1, Archived: -1}
		if strings.HasSuffix(t.Name(), "/strata") {
			want.InFlight, want.Archived = 1, 1
		}
		if d.Type != "share" || len(d.ShareOffsets) != 1 || d.ShareOffsets[0] != want || d.TotalLag != 1 {
			t.Fatalf("described %+v, want share offsets [%+v]", d, want)
		}
	})
}

// TestCLIShareGroupResetOffsets: `strata group reset-offsets` of a share group moves its
// start offset with AlterShareGroupOffsets (earliest, an offset, latest, a time ago), only
// once the group is empty (exit code 4 while a member is in it; a dry run is allowed), and
// the group's next member gets the records from the new start offset.
func TestCLIShareGroupResetOffsets(t *testing.T) {
	eachCLIBroker(t, func(t *testing.T, addr string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cli(t, addr, codeOK, "", "topic", "create", "jobs", "-p", "1")
		cli(t, addr, codeOK, "0\n1\n2\n3\n4\n", "produce", "jobs", "--partition", "0")
		// shareConsume gets n records as a member of the group, accepting them, and runs
		// inGroup (if not nil) before it leaves.
		shareConsume := func(n int, inGroup func()) []string {
			t.Helper()
			sc, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("jobs"), kgo.ShareGroup("resetters"),
				kgo.FetchMaxWait(200*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			var got []string
			for len(got) < n && ctx.Err() == nil {
				sc.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
					got = append(got, string(r.Value))
					r.Ack(kgo.AckAccept)
				})
			}
			if err := sc.FlushAcks(ctx); err != nil {
				t.Fatal(err)
			}
			if inGroup != nil {
				inGroup()
			}
			return got
		}
		shareFromEarliest(t, ctx, addr, "resetters")
		// While a member is in the group the reset is refused, the dry run is not.
		got := shareConsume(5, func() {
			r := cli(t, addr, codeConflict, "", "group", "reset-offsets", "resetters", "--to", "earliest")
			mustContain(t, "reset of an active share group", r.stderr, "has active members")
			r = cli(t, addr, codeOK, "", "group", "reset-offsets", "resetters", "--to", "earliest", "--dry-run")
			mustContain(t, "dry run", r.stdout, "dry run: nothing changed")
		})
		if len(got) != 5 {
			t.Fatalf("first member got %v", got)
		}

		start := func() int64 {
			t.Helper()
			var d client.GroupDescription
			r := cli(t, addr, codeOK, "", "group", "describe", "resetters", "-o", "json")
			if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
				t.Fatalf("%v in %s", err, r.stdout)
			}
			if d.Type != "share" || len(d.ShareOffsets) != 1 {
				t.Fatalf("described %+v", d)
			}
			return d.ShareOffsets[0].Start
		}
		reset := func(to string, want int64) {
			t.Helper()
			var plan client.ResetPlan
			r := cli(t, addr, codeOK, "", "group", "reset-offsets", "resetters", "--to", to, "-o", "json")
			if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
				t.Fatalf("%v in %s", err, r.stdout)
			}
			if len(plan.Changes) != 1 || plan.Changes[0].To != want || plan.State != "Empty" {
				t.Fatalf("reset to %s: %+v, want to %d", to, plan, want)
			}
			if got := start(); got != want {
				t.Fatalf("reset to %s: start offset %d, want %d", to, got, want)
			}
		}
		reset("earliest", 0)
		reset("latest", 5)
		reset("-1h", 0)
		reset("3", 3)
		if got := shareConsume(2, nil); len(got) != 2 || got[0] != "3" || got[1] != "4" {
			t.Fatalf("after the reset to 3 the next member got %v, want [3 4]", got)
		}
	})
}
