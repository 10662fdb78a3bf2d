package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stratalog/strata/client"
)

func TestAdminTopics(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		a := newAdmin(t, addr)
		ctx := testCtx(t)

		s, err := a.CreateTopic(ctx, "events", client.TopicSpec{Partitions: 2, Configs: map[string]string{"retention.ms": "3600000"}})
		if err != nil {
			t.Fatal(err)
		}
		if s.Partitions != 2 {
			t.Errorf("created %d partitions, want 2", s.Partitions)
		}
		_, err = a.CreateTopic(ctx, "events", client.TopicSpec{Partitions: 1})
		wantErr(t, "create twice", err, client.ErrExists, `client: topic "events" already exists`)
		if _, err := a.CreateTopic(ctx, "other", client.TopicSpec{Partitions: 1}); err != nil {
			t.Fatal(err)
		}

		ts, err := a.ListTopics(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tp := range ts {
			names = append(names, tp.Name)
		}
		if !slices.Equal(names, []string{"events", "other"}) {
			t.Errorf("list: %q", names)
		}

		produce(t, addr, "events", "a", "b", "c")
		d, err := a.DescribeTopic(ctx, "events")
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Partitions) != 2 || d.Records != 3 {
			t.Errorf("describe: %d partitions, %d records; want 2, 3", len(d.Partitions), d.Records)
		}
		if v := configValue(d, "retention.ms"); v != "3600000" {
			t.Errorf("retention.ms = %q", v)
		}

		if err := a.AlterTopicConfig(ctx, "events", map[string]string{"retention.ms": "60000", "cleanup.policy": "compact"}, nil); err != nil {
			t.Fatal(err)
		}
		d, _ = a.DescribeTopic(ctx, "events")
		if v := configValue(d, "retention.ms"); v != "60000" {
			t.Errorf("after alter retention.ms = %q", v)
		}
		if err := a.AlterTopicConfig(ctx, "events", nil, []string{"cleanup.policy"}); err != nil {
			t.Fatal(err)
		}

		n, err := a.AddPartitions(ctx, "events", 3)
		if err != nil || n != 5 {
			t.Errorf("add partitions: %d, %v; want 5", n, err)
		}

		_, err = a.DescribeTopic(ctx, "missing")
		wantErr(t, "describe missing", err, client.ErrNotFound, `client: topic "missing" does not exist`)
		err = a.AlterTopicConfig(ctx, "missing", map[string]string{"retention.ms": "1"}, nil)
		wantErr(t, "alter missing", err, client.ErrNotFound, `client: topic "missing" does not exist`)
		_, err = a.AddPartitions(ctx, "missing", 1)
		wantErr(t, "add partitions to missing", err, client.ErrNotFound, `client: topic "missing" does not exist`)
		_, err = a.AddPartitions(ctx, "events", 0)
		wantErr(t, "add no partitions", err, client.ErrInvalid, `client: add partitions to topic "events": count must be positive, got 0`)
		err = a.DeleteTopics(ctx, "other", "missing")
		wantErr(t, "delete missing", err, client.ErrNotFound, `client: topic "missing" does not exist`)
		if err := a.DeleteTopics(ctx, "events"); err != nil {
			t.Fatal(err)
		}
		ts, _ = a.ListTopics(ctx, false)
		if len(ts) != 0 {
			t.Errorf("after delete: %v", ts)
		}
	})
}

// wantErr fails the test unless err is kind and reads exactly msg: messages
// read as sentences, with neither the sentinel's text nor the Kafka error's
// repeating them.
func wantErr(t *testing.T, what string, err, kind error, msg string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: %v, want %v", what, err, kind)
	} else if err.Error() != msg {
		t.Errorf("%s: message\n%s\nwant\n%s", what, err, msg)
	}
}

func configValue(d *client.TopicDescription, name string) string {
	for _, c := range d.Configs {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func TestAdminGroups(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		a := newAdmin(t, addr)
		ctx := testCtx(t)
		createTopic(t, addr, "jobs", 2)
		produceTo(t, addr, "jobs", 0, "1", "2", "3")
		produceTo(t, addr, "jobs", 1, "4", "5", "6")
		time.Sleep(20 * time.Millisecond)
		mid := time.Now()
		produceTo(t, addr, "jobs", 0, "7")
		produceTo(t, addr, "jobs", 1, "8")

		if _, err := runGroup(t, addr, "workers", "jobs", nil, client.MaxRecords(8)); err != nil {
			t.Fatal(err)
		}
		gs, err := a.ListGroups(ctx)
		if err != nil || len(gs) != 1 || gs[0].Name != "workers" {
			t.Fatalf("list groups: %+v, %v", gs, err)
		}
		d, err := a.DescribeGroup(ctx, "workers")
		if err != nil {
			t.Fatal(err)
		}
		if d.State != "Empty" || d.TotalLag != 0 || len(d.Offsets) != 2 {
			t.Fatalf("describe: %+v", d)
		}

		// Dry run: a plan, nothing committed.
		plan, err := a.ResetOffsets(ctx, "workers", nil, client.Earliest, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Changes) != 2 || plan.Changes[0].To != 0 || plan.Changes[0].From != 4 {
			t.Fatalf("dry-run plan: %+v", plan)
		}
		if d, _ := a.DescribeGroup(ctx, "workers"); d.TotalLag != 0 {
			t.Fatalf("dry run changed offsets: lag %d", d.TotalLag)
		}

		for _, tc := range []struct {
			pos     client.Position
			wantLag int64
		}{
			{client.Earliest, 8},
			{client.Latest, 0},
			{client.AtOffset(1), 6}, // 3 + 3
			{client.AtTime(mid), 2},
		} {
			if _, err := a.ResetOffsets(ctx, "workers", []string{"jobs"}, tc.pos, false); err != nil {
				t.Fatalf("reset to %s: %v", tc.pos, err)
			}
			d, err := a.DescribeGroup(ctx, "workers")
			if err != nil {
				t.Fatal(err)
			}
			if d.TotalLag != tc.wantLag {
				t.Errorf("after reset to %s: lag %d, want %d", tc.pos, d.TotalLag, tc.wantLag)
			}
		}

		// A group with a live member cannot be reset.
		c, err := client.NewConsumer("workers", []string{"jobs"}, client.Brokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		started := make(chan struct{}, 1)
		done := make(chan error, 1)
		go func() {
			done <- c.Run(runCtx, func(context.Context, *client.Record) error {
				select {
				case started <- struct{}{}:
				default:
				}
				return nil
			})
		}()
		<-started
		_, err = a.ResetOffsets(ctx, "workers", nil, client.Earliest, false)
		wantErr(t, "reset active group", err, client.ErrGroupNotEmpty, `client: group "workers" has active members (state Stable)`)
		err = a.DeleteGroup(ctx, "workers")
		wantErr(t, "delete active group", err, client.ErrGroupNotEmpty, `client: group "workers" has active members`)
		if d, err := a.DescribeGroup(ctx, "workers"); err != nil || len(d.Members) != 1 || len(d.Members[0].Assigned) != 1 {
			t.Errorf("describe active group: %+v, %v", d, err)
		}
		stop()
		<-done
		c.Close()

		if err := a.DeleteGroup(ctx, "workers"); err != nil {
			t.Fatal(err)
		}
		_, err = a.DescribeGroup(ctx, "workers")
		wantErr(t, "describe deleted group", err, client.ErrNotFound, `client: group "workers" does not exist`)
		err = a.DeleteGroup(ctx, "workers")
		wantErr(t, "delete missing group", err, client.ErrNotFound, `client: group "workers" does not exist`)
	})
}
