package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/client"
	"github.com/stratalog/strata/server/servertest"
)

// cliBrokers are the brokers every CLI test runs against: each command must work against
// Strata and against any Kafka-protocol broker (kfake stands in for the latter).
var cliBrokers = []struct {
	name  string
	start func(t *testing.T) string
}{
	{"kfake", func(t *testing.T) string {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c.ListenAddrs()[0]
	}},
	{"strata", func(t *testing.T) string {
		s := servertest.StartBroker(t, "", map[string]string{"group.initial.rebalance.delay.ms": "0"})
		return s.Addr().String()
	}},
}

func eachCLIBroker(t *testing.T, fn func(t *testing.T, addr string)) {
	t.Helper()
	for _, b := range cliBrokers {
		t.Run(b.name, func(t *testing.T) { fn(t, b.start(t)) })
	}
}

// cliResult is what one in-process run of the strata command produced.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the strata command in process, as main does, with stdin and the args.
func runCLI(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.Execute()
	if err != nil {
		var ee exitError
		if !errors.As(err, &ee) {
			fmt.Fprintln(&errb, "strata:", err)
		}
	}
	return cliResult{out.String(), errb.String(), exitCode(err)}
}

// cli runs strata against addr and fails the test unless it exits with want.
func cli(t *testing.T, addr string, want int, stdin string, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, stdin, append(args, "--brokers", addr)...)
	if r.code != want {
		t.Fatalf("strata %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: missing %q in:\n%s", what, w, got)
		}
	}
}

func TestCLITopicLifecycle(t *testing.T) {
	eachCLIBroker(t, func(t *testing.T, addr string) {
		r := cli(t, addr, codeOK, "", "topic", "create", "orders", "-p", "3", "-c", "retention.ms=86400000")
		mustContain(t, "create", r.stdout, "created topic orders (3 partitions")
		r = cli(t, addr, codeConflict, "", "topic", "create", "orders")
		mustContain(t, "create twice", r.stderr, "already exists")
		cli(t, addr, codeOK, "", "topic", "create", "orders", "--if-not-exists")
		cli(t, addr, codeOK, "", "topic", "create", "payments", "-p", "1")

		r = cli(t, addr, codeOK, "", "topic", "list")
		mustContain(t, "list", r.stdout, "TOPIC", "PARTITIONS", "orders", "payments")
		r = cli(t, addr, codeOK, "", "topic", "list", "-o", "json")
		var list []struct {
			Name       string `json:"name"`
			Partitions int    `json:"partitions"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 2 || list[0].Name != "orders" || list[0].Partitions != 3 {
			t.Fatalf("list -o json: %v %+v\n%s", err, list, r.stdout)
		}
		r = cli(t, addr, codeOK, "", "topic", "list", "-o", "yaml")
		mustContain(t, "list -o yaml", r.stdout, "- name: orders", "partitions: 3")

		cli(t, addr, codeOK, "a\nb\nc\n", "produce", "orders")
		r = cli(t, addr, codeOK, "", "topic", "describe", "orders")
		mustContain(t, "describe", r.stdout, "topic       orders", "records     3", "PARTITION", "retention.ms", "86400000")

		cli(t, addr, codeOK, "", "topic", "alter-config", "orders", "--set", "retention.ms=60000")
		r = cli(t, addr, codeOK, "", "topic", "describe", "orders", "-o", "json")
		mustContain(t, "describe after alter", r.stdout, `"value": "60000"`)
		cli(t, addr, codeUsage, "", "topic", "alter-config", "orders")

		r = cli(t, addr, codeOK, "", "topic", "add-partitions", "orders", "--count", "2")
		mustContain(t, "add-partitions", r.stdout, "5 in total")

		// A single node's partitions are led by their only replica: nothing to elect
		// (kfake answers every election as done).
		r = cli(t, addr, codeOK, "", "topic", "elect-leaders", "orders")
		mustContain(t, "elect-leaders", r.stdout, "TOPIC", "RESULT", "orders  4")
		if strings.HasSuffix(t.Name(), "/strata") {
			mustContain(t, "elect-leaders on strata", r.stdout, "not needed")
			r = cli(t, addr, codeOK, "", "topic", "elect-leaders", "-o", "json")
			mustContain(t, "elect-leaders everything", r.stdout, "[]")
		}
		cli(t, addr, codeNotFound, "", "topic", "elect-leaders", "nope")

		// Reassignment: nothing is moving, so a cancel is refused (kfake too); on a
		// single Strata node the only valid target is the node itself.
		r = cli(t, addr, codeError, "", "topic", "reassign", "orders", "--partition", "0", "--cancel")
		mustContain(t, "reassign --cancel", r.stderr, "reassign", "NO_REASSIGNMENT_IN_PROGRESS")
		cli(t, addr, codeUsage, "", "topic", "reassign", "orders", "--partition", "0")
		cli(t, addr, codeUsage, "", "topic", "reassign", "orders", "--replicas", "1", "--cancel")
		r = cli(t, addr, codeOK, "", "topic", "reassignments", "-o", "json")
		mustContain(t, "reassignments", r.stdout, "[]")
		cli(t, addr, codeNotFound, "", "topic", "reassignments", "nope")
		if strings.HasSuffix(t.Name(), "/strata") {
			r = cli(t, addr, codeUsage, "", "topic", "reassign", "orders", "--partition", "0", "--replicas", "0,99")
			mustContain(t, "reassign to an unknown broker", r.stderr, "broker 99")
			r = cli(t, addr, codeOK, "", "topic", "reassign", "orders", "--partition", "0", "--replicas", "0")
			mustContain(t, "reassign to the node itself", r.stdout, "reassigning partition 0 of topic orders to [0]")

			// --throttle: the rates cluster-wide, the replicas on the topic; cleared once
			// nothing moves (--clear-throttle).
			cli(t, addr, codeUsage, "", "topic", "reassign", "orders", "--partition", "0", "--replicas", "0", "--throttle", "0")
			r = cli(t, addr, codeOK, "", "topic", "reassign", "orders", "--partition", "1", "--replicas", "0", "--throttle", "1048576")
			mustContain(t, "reassign --throttle", r.stdout, "reassigning partition 1 of topic orders to [0]")
			r = cli(t, addr, codeOK, "", "topic", "describe", "orders", "-o", "json")
			mustContain(t, "throttled replicas", r.stdout, `"name": "leader.replication.throttled.replicas"`, `"value": "1:0"`)
			r = cli(t, addr, codeOK, "", "topic", "reassignments", "--clear-throttle")
			mustContain(t, "reassignments --clear-throttle", r.stderr, "removed the replication throttle")
			r = cli(t, addr, codeOK, "", "topic", "describe", "orders", "-o", "json")
			if strings.Contains(r.stdout, `"value": "1:0"`) {
				t.Fatalf("throttled replicas left after --clear-throttle:\n%s", r.stdout)
			}
		}

		r = cli(t, addr, codeOK, "", "topic", "delete", "orders", "payments")
		mustContain(t, "delete", r.stdout, "deleted topic orders", "deleted topic payments")
		r = cli(t, addr, codeNotFound, "", "topic", "describe", "orders")
		mustContain(t, "describe deleted", r.stderr, `topic "orders" does not exist`)
		cli(t, addr, codeNotFound, "", "topic", "delete", "orders")
		cli(t, addr, codeOK, "", "topic", "delete", "orders", "--if-exists")
	})
}

func TestCLIProduceConsume(t *testing.T) {
	eachCLIBroker(t, func(t *testing.T, addr string) {
		cli(t, addr, codeOK, "", "topic", "create", "scores", "-p", "2")
		r := cli(t, addr, codeOK, "alice:1\nbob:2\nalice:3\n", "produce", "scores", "--key-delimiter", ":", "-H", "src=test", "-H", "v=2")
		mustContain(t, "produce summary", r.stdout, "produced 3 records", "PARTITION", "FIRST", "LAST")

		// alice's records share a partition, in order.
		r = cli(t, addr, codeOK, "", "consume", "scores", "--format", `{{.Key}}={{.Value}} {{index .Headers "src"}}`)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 {
			t.Fatalf("consume: %q", r.stdout)
		}
		var alice []string
		for _, l := range lines {
			if strings.HasPrefix(l, "alice=") {
				alice = append(alice, l)
			}
			if !strings.HasSuffix(l, " test") {
				t.Errorf("header missing in %q", l)
			}
		}
		if strings.Join(alice, ",") != "alice=1 test,alice=3 test" {
			t.Errorf("alice's records out of order: %q", alice)
		}

		r = cli(t, addr, codeOK, "", "consume", "scores", "--format", "json", "--count", "2")
		var n int
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			var v struct {
				Topic   string            `json:"topic"`
				Offset  int64             `json:"offset"`
				Key     string            `json:"key"`
				Headers map[string]string `json:"headers"`
			}
			if err := json.Unmarshal([]byte(l), &v); err != nil || v.Topic != "scores" || v.Headers["v"] != "2" {
				t.Errorf("json line %q: %v %+v", l, err, v)
			}
			n++
		}
		if n != 2 {
			t.Errorf("--count 2 printed %d records", n)
		}

		// Partition choice, offsets, time positions.
		cli(t, addr, codeOK, "x\ny\nz\n", "produce", "scores", "--partition", "1", "--compression", "gzip", "--acks", "1")
		r = cli(t, addr, codeOK, "", "consume", "scores", "-p", "1", "--from", "end")
		if r.stdout != "" {
			t.Errorf("--from end printed %q", r.stdout)
		}
		r = cli(t, addr, codeOK, "", "consume", "scores", "-p", "1", "--from", "-1h", "--format", "{{.Value}}")
		mustContain(t, "--from -1h", r.stdout, "x\ny\nz\n")
		r = cli(t, addr, codeOK, "", "consume", "scores", "-p", "1", "--from", time.Now().Add(time.Hour).Format("2006-01-02T15:04"))
		if r.stdout != "" {
			t.Errorf("--from in an hour printed %q", r.stdout)
		}

		// --file, and a summary in JSON.
		file := filepath.Join(t.TempDir(), "in.txt")
		if err := os.WriteFile(file, []byte("f1\nf2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r = cli(t, addr, codeOK, "", "produce", "scores", "--file", file, "-o", "json", "--progress")
		var sum produceSummary
		if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || sum.Records != 2 {
			t.Errorf("produce --file -o json: %v %+v", err, sum)
		}
		mustContain(t, "--progress", r.stderr, "produced 2 records")

		// Bad input is a usage error.
		cli(t, addr, codeUsage, "", "consume", "scores", "--from", "yesterday-ish")
		cli(t, addr, codeUsage, "", "consume", "scores", "--format", "{{.Nope}}")
		cli(t, addr, codeUsage, "x\n", "produce", "scores", "--compression", "brotli")
		cli(t, addr, codeUsage, "x\n", "produce", "scores", "-H", "novalue")
		cli(t, addr, codeNotFound, "", "consume", "nope")
	})
}

func TestCLIGroups(t *testing.T) {
	eachCLIBroker(t, func(t *testing.T, addr string) {
		cli(t, addr, codeOK, "", "topic", "create", "jobs", "-p", "2")
		cli(t, addr, codeOK, "1\n2\n3\n4\n", "produce", "jobs", "--partition", "0")
		time.Sleep(20 * time.Millisecond)
		mid := time.Now()
		cli(t, addr, codeOK, "5\n6\n", "produce", "jobs", "--partition", "1")

		r := cli(t, addr, codeOK, "", "consume", "jobs", "--group", "billing")
		if got := len(strings.Fields(r.stdout)); got != 6 {
			t.Fatalf("group consume printed %d records:\n%s", got, r.stdout)
		}
		// Committed: a second run has nothing to read.
		r = cli(t, addr, codeOK, "", "consume", "jobs", "--group", "billing")
		if r.stdout != "" {
			t.Fatalf("second group consume printed %q", r.stdout)
		}

		r = cli(t, addr, codeOK, "", "group", "list")
		mustContain(t, "group list", r.stdout, "GROUP", "billing", "Empty")
		r = cli(t, addr, codeOK, "", "group", "describe", "billing")
		mustContain(t, "group describe", r.stdout, "protocol     classic", "state        Empty", "total lag    0", "COMMITTED", "jobs")

		r = cli(t, addr, codeOK, "", "group", "reset-offsets", "billing", "--to", "earliest", "--dry-run")
		mustContain(t, "dry run", r.stdout, "FROM", "TO", "-4", "-2", "dry run: nothing changed")
		r = cli(t, addr, codeOK, "", "group", "describe", "billing", "-o", "json")
		mustContain(t, "lag after dry run", r.stdout, `"total_lag": 0`)

		cli(t, addr, codeOK, "", "group", "reset-offsets", "billing", "--to", mid.Format(time.RFC3339Nano), "--topic", "jobs")
		r = cli(t, addr, codeOK, "", "group", "describe", "billing", "-o", "json")
		mustContain(t, "lag after reset to time", r.stdout, `"total_lag": 2`)
		r = cli(t, addr, codeOK, "", "consume", "jobs", "--group", "billing")
		if strings.Fields(r.stdout)[0] != "5" {
			t.Errorf("after reset to mid, consumed %q", r.stdout)
		}
		cli(t, addr, codeOK, "", "group", "reset-offsets", "billing", "--to", "1")
		r = cli(t, addr, codeOK, "", "group", "describe", "billing", "-o", "yaml")
		mustContain(t, "lag after reset to offset 1", r.stdout, "total_lag: 4")
		cli(t, addr, codeUsage, "", "group", "reset-offsets", "billing")

		r = cli(t, addr, codeOK, "", "group", "delete", "billing")
		mustContain(t, "group delete", r.stdout, "deleted group billing")
		cli(t, addr, codeNotFound, "", "group", "describe", "billing")
	})
}

// TestCLIErrorMessages checks that the errors users meet most read as one sentence,
// without Kafka's error names or the client package's sentinels in the middle, and
// exit with the documented codes.
func TestCLIErrorMessages(t *testing.T) {
	eachCLIBroker(t, func(t *testing.T, addr string) {
		wantStderr := func(r cliResult, want string) {
			t.Helper()
			if r.stderr != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
			}
		}
		cli(t, addr, codeOK, "", "topic", "create", "orders", "-p", "1")
		wantStderr(cli(t, addr, codeConflict, "", "topic", "create", "orders"),
			"strata: topic \"orders\" already exists\n")
		wantStderr(cli(t, addr, codeNotFound, "x\n", "produce", "orders", "-p", "9"),
			"strata: topic \"orders\" has 1 partition; partition 9 does not exist\n")
		wantStderr(cli(t, addr, codeNotFound, "", "consume", "orders", "-p", "9"),
			"strata: topic \"orders\" has 1 partition; partition 9 does not exist\n")
		wantStderr(cli(t, addr, codeNotFound, "", "consume", "nope"),
			"strata: topic \"nope\" does not exist\n")
		wantStderr(cli(t, addr, codeNotFound, "", "topic", "describe", "nope"),
			"strata: topic \"nope\" does not exist\n")
		wantStderr(cli(t, addr, codeNotFound, "", "topic", "delete", "nope"),
			"strata: topic \"nope\" does not exist\n")
		wantStderr(cli(t, addr, codeNotFound, "", "topic", "add-partitions", "nope", "--count", "1"),
			"strata: topic \"nope\" does not exist\n")
		wantStderr(cli(t, addr, codeNotFound, "", "group", "describe", "nope"),
			"strata: group \"nope\" does not exist\n")
		wantStderr(cli(t, addr, codeNotFound, "", "group", "delete", "nope"),
			"strata: group \"nope\" does not exist\n")

		// A group with a live member can be neither reset nor deleted.
		cli(t, addr, codeOK, "x\n", "produce", "orders")
		c, err := client.NewConsumer("busy", []string{"orders"}, client.Brokers(addr), client.StartAt(client.Earliest))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		started := make(chan struct{})
		var once sync.Once
		go func() {
			_ = c.Run(context.Background(), func(context.Context, *client.Record) error {
				once.Do(func() { close(started) })
				return nil
			})
		}()
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			t.Fatal("the group's consumer read nothing")
		}
		hint := "hint: stop the group's consumers first; `strata group describe GROUP` lists them\n"
		wantStderr(cli(t, addr, codeConflict, "", "group", "delete", "busy"),
			"strata: group \"busy\" has active members\n"+hint)
		wantStderr(cli(t, addr, codeConflict, "", "group", "reset-offsets", "busy", "--to", "earliest"),
			"strata: group \"busy\" has active members (state Stable)\n"+hint)
	})
}

func TestCLIFollow(t *testing.T) {
	eachCLIBroker(t, func(t *testing.T, addr string) {
		cli(t, addr, codeOK, "", "topic", "create", "live", "-p", "1")
		done := make(chan cliResult, 1)
		go func() {
			done <- runCLI(t, "", "consume", "live", "--follow", "--count", "2", "--from", "end", "--brokers", addr)
		}()
		deadline := time.After(20 * time.Second)
		for {
			cli(t, addr, codeOK, "tick\n", "produce", "live")
			select {
			case r := <-done:
				if r.code != codeOK || r.stdout != "tick\ntick\n" {
					t.Fatalf("follow: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
				}
				return
			case <-deadline:
				t.Fatal("consume --follow --count 2 did not return")
			case <-time.After(200 * time.Millisecond):
			}
		}
	})
}

func TestCLIErrorsAndUsage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused

	for _, args := range [][]string{
		{"topic", "list"}, {"topic", "create", "x"}, {"group", "list"},
		{"consume", "x"}, {"produce", "x"},
	} {
		r := runCLI(t, "x\n", append(args, "--brokers", dead)...)
		if r.code != codeUnreachable {
			t.Errorf("%v against nothing: exit %d, want %d\n%s", args, r.code, codeUnreachable, r.stderr)
		}
		mustContain(t, fmt.Sprint(args), r.stderr, "is a broker running at "+dead, "strata serve")
	}

	t.Setenv(envBrokers, dead)
	r := runCLI(t, "", "topic", "list")
	mustContain(t, "STRATA_BROKERS", r.stderr, "is a broker running at "+dead)

	for _, args := range [][]string{
		{"topic", "lst"},
		{"topic", "list", "--nope"},
		{"topic", "describe"},
		{"topic", "create"},
		{"consume"},
		{"produce", "a", "b"},
		{"topic", "list", "-o", "xml"},
		{"group", "reset-offsets", "g", "--to", "whenever"},
		{"completion", "tcsh"},
		{"nosuchcommand"},
	} {
		if r := runCLI(t, "", args...); r.code != codeUsage {
			t.Errorf("%v: exit %d, want %d (usage)\n%s", args, r.code, codeUsage, r.stderr)
		}
	}
	r = runCLI(t, "", "topic", "lst")
	mustContain(t, "suggestion", r.stderr, "Did you mean this?", "list")
}

func TestCLICompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := runCLI(t, "", "completion", sh)
		if r.code != codeOK || !strings.Contains(r.stdout, "strata") {
			t.Errorf("completion %s: exit %d, %d bytes", sh, r.code, len(r.stdout))
		}
	}
}

func TestCLIParsePosition(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.Local)
	for in, want := range map[string]string{
		"beginning":        "earliest",
		"earliest":         "earliest",
		"end":              "latest",
		"42":               "offset 42",
		"-1h":              now.Add(-time.Hour).Format(time.RFC3339Nano),
		"-2d":              now.Add(-48 * time.Hour).Format(time.RFC3339Nano),
		"2026-11-21T10:00": time.Date(2026, 11, 21, 10, 0, 0, 0, time.Local).Format(time.RFC3339Nano),
		"2026-11-21":       time.Date(2026, 11, 21, 0, 0, 0, 0, time.Local).Format(time.RFC3339Nano),
		"@1000":            time.UnixMilli(1000).Format(time.RFC3339Nano),
	} {
		p, err := parsePosition(in, now)
		if err != nil || p.String() != want {
			t.Errorf("parsePosition(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "-x", "tomorrow", "@x", "-5"} {
		if _, err := parsePosition(bad, now); exitCode(err) != codeUsage {
			t.Errorf("parsePosition(%q): %v, want a usage error", bad, err)
		}
	}
}

func TestCLITransactions(t *testing.T) {
	eachCLIBroker(t, func(t *testing.T, addr string) {
		cli(t, addr, codeOK, "", "topic", "create", "pay", "-p", "2")
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("payments-etl"), kgo.DefaultProduceTopic("pay"),
			kgo.TransactionTimeout(20*time.Second), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x"), Partition: 1}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		r := cli(t, addr, codeOK, "", "txn", "list")
		mustContain(t, "txn list", r.stdout, "TRANSACTIONAL-ID", "payments-etl", "Ongoing")
		r = cli(t, addr, codeOK, "", "txn", "describe", "payments-etl")
		mustContain(t, "txn describe", r.stdout, "state             Ongoing", "timeout           20s", "partitions        pay[1]")
		r = cli(t, addr, codeOK, "", "txn", "describe", "payments-etl", "-o", "json")
		mustContain(t, "txn describe json", r.stdout, `"state": "Ongoing"`, `"timeout_ms": 20000`)
		pid, _, err := cl.ProducerID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		auditPID := committedTxn(ctx, t, addr, "audit-log")
		idle := "idle-etl" // InitProducerId only: Empty, no transaction yet
		ip := kmsg.NewPtrInitProducerIDRequest()
		ip.TransactionalID, ip.TransactionTimeoutMillis = &idle, 20000
		if resp, err := ip.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 {
			t.Fatalf("InitProducerId: %v %+v", err, resp)
		}
		for _, c := range []struct {
			args      []string
			want, not []string
		}{
			{nil, []string{"payments-etl", "audit-log", "idle-etl"}, nil},
			{[]string{"--state", "Ongoing"}, []string{"payments-etl"}, []string{"audit-log", "idle-etl"}},
			{[]string{"--state", "Ongoing,PrepareCommit", "--state", "PrepareAbort"}, []string{"payments-etl"}, []string{"audit-log", "idle-etl"}},
			{[]string{"--producer-id", fmt.Sprint(auditPID)}, []string{"audit-log"}, []string{"payments-etl", "idle-etl"}},
			{[]string{"--producer-id", fmt.Sprint(auditPID), "--producer-id", fmt.Sprint(pid)}, []string{"audit-log", "payments-etl"}, []string{"idle-etl"}},
			// Started less than an hour ago: out. An id with no transaction passes, as in Kafka.
			{[]string{"--duration-filter", "3600000"}, []string{"idle-etl"}, []string{"payments-etl"}},
			{[]string{"--transactional-id-pattern", "pay.*"}, []string{"payments-etl"}, []string{"audit-log", "idle-etl"}},
		} {
			what := "txn list " + strings.Join(c.args, " ")
			r := cli(t, addr, codeOK, "", append([]string{"txn", "list"}, c.args...)...)
			mustContain(t, what, r.stdout, c.want...)
			for _, n := range c.not {
				if strings.Contains(r.stdout, n) {
					t.Errorf("%s lists %s:\n%s", what, n, r.stdout)
				}
			}
		}
		// pay[1]: payments-etl's open transaction, from offset 0.
		r = cli(t, addr, codeOK, "", "txn", "producers", "--topic", "pay", "--partition", "1")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "TOPIC PARTITION PRODUCER-ID EPOCH LAST-SEQUENCE LAST-TIMESTAMP COORDINATOR-EPOCH TXN-START-OFFSET" {
			t.Fatalf("txn producers --partition 1:\n%s", r.stdout)
		}
		if f := strings.Fields(lines[1]); f[0] != "pay" || f[1] != "1" || f[2] != fmt.Sprint(pid) || f[3] != "0" || f[4] != "0" || f[7] != "0" {
			t.Errorf("txn producers --partition 1: %q, want pay 1 %d 0 0 … 0", lines[1], pid)
		}
		// Both partitions: audit-log's committed transaction leaves it with none open (-1).
		r = cli(t, addr, codeOK, "", "txn", "producers", "-t", "pay", "-o", "json")
		var parts []client.PartitionProducers
		if err := json.Unmarshal([]byte(r.stdout), &parts); err != nil {
			t.Fatalf("txn producers json: %v\n%s", err, r.stdout)
		}
		if len(parts) != 2 || parts[1].Partition != 1 || len(parts[1].Producers) != 1 ||
			parts[1].Producers[0].ProducerID != pid || parts[1].Producers[0].TxnStartOffset != 0 || parts[1].Producers[0].LastTimestamp <= 0 {
			t.Fatalf("txn producers json: %+v, want producer %d with a transaction open at 0 in pay[1]", parts, pid)
		}
		// kfake forgets a producer when its transaction ends; Kafka and Strata keep it.
		if !strings.HasSuffix(t.Name(), "/kfake") &&
			(len(parts[0].Producers) != 1 || parts[0].Producers[0].ProducerID != auditPID || parts[0].Producers[0].TxnStartOffset != -1) {
			t.Errorf("txn producers json: pay[0] %+v, want producer %d with no open transaction (-1)", parts[0], auditPID)
		}
		cli(t, addr, codeNotFound, "", "txn", "producers", "--topic", "nosuchtopic")
		r = cli(t, addr, codeNotFound, "", "txn", "producers", "--topic", "pay", "--partition", "9")
		mustContain(t, "txn producers --partition 9", r.stderr, `topic "pay" or its partition 9 does not exist`)
		cli(t, addr, codeUsage, "", "txn", "producers")
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		cli(t, addr, codeNotFound, "", "txn", "describe", "nobody")
	})
}

// committedTxn commits one transaction of transactional id id (one record to pay[0]) and
// returns its producer id.
func committedTxn(ctx context.Context, t *testing.T, addr, id string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID(id), kgo.DefaultProduceTopic("pay"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("y"), Partition: 0}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	pid, _, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestCLITxnListRefused: a state Kafka does not know and a pattern that does not compile
// are usage errors (Strata answers both; kfake ignores unknown states).
func TestCLITxnListRefused(t *testing.T) {
	addr := servertest.StartBroker(t, "", nil).Addr().String()
	r := cli(t, addr, codeUsage, "", "txn", "list", "--state", "Ongoing,Bogus")
	mustContain(t, "unknown state", r.stderr, "unknown transaction state Bogus")
	r = cli(t, addr, codeUsage, "", "txn", "list", "--transactional-id-pattern", "(ab(cd")
	mustContain(t, "bad pattern", r.stderr, "list transactions")
}

// TestCLIConsumerGroupDescribe: group describe of a KIP-848 consumer group shows the
// protocol, the group and target assignment epochs, and each member's epoch, assignment
// and target.
func TestCLIConsumerGroupDescribe(t *testing.T) {
	addr := servertest.StartBroker(t, "", map[string]string{
		"group.coordinator.rebalance.protocols": "classic,consumer",
	}).Addr().String()
	cli(t, addr, codeOK, "", "topic", "create", "kip848", "-p", "2")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("nextgen"), kgo.ConsumeTopics("kip848"), kgo.ServerSideBalancer())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		// Until the member's first heartbeat the group does not exist (exit 3).
		r := runCLI(t, "", "group", "describe", "nextgen", "--brokers", addr)
		if r.code == codeOK && strings.Contains(r.stdout, "kip848[0,1]  kip848[0,1]") {
			mustContain(t, "group describe", r.stdout, "protocol     consumer", "state        Stable", "epoch        1 (target assignment 1)",
				"assignor     uniform", "EPOCH", "TARGET")
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the member never got both partitions: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		time.Sleep(50 * time.Millisecond) // the client joins in the background
	}
}
