package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/server/servertest"
)

// TestMain runs the program itself when the test binary is started as it (runCLI), so the
// tests see its exit status and what a process exit leaves on the broker.
func TestMain(m *testing.M) {
	if os.Getenv("TXNPRODUCERCLI_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

func TestTxnProducerCLIDecode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int32
		ok   bool
	}{
		{"0", 0, true}, {"16", 16, true}, {"-1", -1, true}, {"+7", 7, true},
		{"0x10", 16, true}, {"0X1f", 31, true}, {"#a0", 160, true}, {"-0x10", -16, true},
		{"010", 8, true}, {"0x0", 0, true},
		{"", 0, false}, {"0x", 0, false}, {"--1", 0, false}, {"-+1", 0, false}, {"08", 0, false},
		{"1_0", 0, false}, {"0b1", 0, false}, {"2147483648", 0, false}, {"ten", 0, false},
	} {
		got, err := decode(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("decode(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestTxnProducerCLIBadCommands: what makes the Java program throw ends this one with
// status 1 and a message, before any broker is dialed (the address is not one).
func TestTxnProducerCLIBadCommands(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"127.0.0.1:1", "bogus,1"},
		{"127.0.0.1:1", "producer1, 0, 0x10, 1, None, DoFlush"}, // no topic
		{"127.0.0.1:1", "topic,t", "producer1, 0, 0x10, 1, Maybe, DoFlush"},
		{"127.0.0.1:1", "topic,t", "producer1, 0, 0x10, 1, None, Later"},
		{"127.0.0.1:1", "topic,t", "producer1, 0, zz, 1, None, DoFlush"},
		{"127.0.0.1:1", "topic,t", "producer1, 0, 0x10"},
		{"127.0.0.1:1", "sleep"},
		{"127.0.0.1:1", "sleep,-5"},
		{"127.0.0.1:1", ""},
	} {
		t.Setenv("TXNPRODUCERCLI_VERSIONS", "")
		var out, errOut bytes.Buffer
		if got := run(args, &out, &errOut); got != 1 || errOut.Len() == 0 {
			t.Errorf("run(%q) = %d, stderr %q; want 1 and a message", args, got, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if got := run([]string{"127.0.0.1:1", "topic,t", "testid,x", "sleep,0x1", "exit,3", "bogus"}, &out, &errOut); got != 3 {
		t.Errorf("exit,3: status %d, stderr %q", got, errOut.String())
	}
	if n := strings.Count(out.String(), "command:"); n != 4 {
		t.Errorf("echoed %d commands, want 4 (none after exit):\n%s", n, out.String())
	}
}

// runCLI runs the program as a process against addr, as librdkafka's 0098 runs
// TransactionProducerCli, and answers its exit status.
func runCLI(t *testing.T, versions, addr, topic string, cmds ...string) int {
	t.Helper()
	args := append([]string{addr, "topic," + topic, "testid," + t.Name()}, cmds...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TXNPRODUCERCLI_MAIN=1", "TXNPRODUCERCLI_VERSIONS="+versions)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("txnproducercli %q:\n%s", cmds, out.String())
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatalf("run: %v", err)
	}
	return 0
}

// keys consumes partition p of topic from the start at isolation level iso and answers
// the first key byte of each record, up to and including the record keyed end, which the
// caller produced last without a transaction.
func keys(t *testing.T, addr, topic string, p int32, iso kgo.IsolationLevel, end byte) []byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.FetchIsolationLevel(iso),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []byte
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("poll %s[%d]: %v (so far %x)", topic, p, err, got)
		}
		for _, r := range fs.Records() {
			got = append(got, r.Key[0])
			if r.Key[0] == end {
				return got
			}
		}
	}
}

// TestTxnProducerCLIScenarios runs some of 0098's command lists and checks what
// read_committed and read_uncommitted consumers see, as 0098 does with its own consumer:
// with Kafka 3.6's versions (transactions v1) and kgo's newest (transactions v2).
func TestTxnProducerCLIScenarios(t *testing.T) {
	for _, versions := range []string{"", "latest"} {
		t.Run("versions="+versions, func(t *testing.T) { testTxnProducerCLIScenarios(t, versions) })
	}
}

func testTxnProducerCLIScenarios(t *testing.T, versions string) {
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	adm, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	admin := kadm.NewClient(adm)
	ctx := context.Background()

	for _, tc := range []struct {
		name       string
		partitions int32
		cmds       []string
		// per partition: keys read_committed and read_uncommitted see, before the end
		// record 0xee the test appends to each partition without a transaction
		committed, uncommitted [][]byte
	}{
		{"commit_abort", 1, []string{
			"producer1, -1, 0x0, 5, BeginCommit, DoFlush",
			"producer1, -1, 0x10, 5, BeginAbort, DoFlush",
		}, [][]byte{{0, 1, 2, 3, 4}}, [][]byte{{0, 1, 2, 3, 4, 0x10, 0x11, 0x12, 0x13, 0x14}}},
		{"rapid_unflushed", 1, []string{ // 0098's test 2: unflushed aborted records never leave
			"producer1, -1, 0x10, 1, BeginAbort, DontFlush",
			"producer1, -1, 0x20, 1, BeginCommit, DontFlush",
			"producer1, -1, 0x30, 1, BeginAbort, DontFlush",
			"producer1, -1, 0x40, 1, BeginCommit, DoFlush",
			"producer3, -1, 0xb0, 1, None, DontFlush",
		}, [][]byte{{0x20, 0x40, 0xb0}}, nil},
		{"cross_partition_abort", 2, []string{ // 0098's test 3.1
			"producer1, 0, 0x55, 1, BeginCommit, DoFlush",
			"producer1, 0, 0x10, 3, BeginOpen, DoFlush",
			"producer1, 1, 0x20, 3, ContinueOpen, DoFlush",
			"producer1, 0, 0x30, 3, ContinueAbort, DoFlush",
			"producer3, 0, 0x00, 1, None, DoFlush",
			"producer1, 1, 0x44, 1, BeginCommit, DoFlush",
		}, [][]byte{{0x55, 0x00}, {0x44}}, [][]byte{
			{0x55, 0x10, 0x11, 0x12, 0x30, 0x31, 0x32, 0x00}, {0x20, 0x21, 0x22, 0x44},
		}},
		{"simultaneous", 1, []string{ // 0098's test 4
			"producer3, 0, 0x10, 1, None, DoFlush",
			"producer1, 0, 0x20, 3, BeginOpen, DoFlush",
			"producer2, 0, 0x30, 3, BeginOpen, DoFlush",
			"producer1, 0, 0x40, 3, ContinueCommit, DoFlush",
			"producer2, 0, 0x50, 3, ContinueAbort, DoFlush",
		}, [][]byte{{0x10, 0x20, 0x21, 0x22, 0x40, 0x41, 0x42}}, [][]byte{
			{0x10, 0x20, 0x21, 0x22, 0x30, 0x31, 0x32, 0x40, 0x41, 0x42, 0x50, 0x51, 0x52},
		}},
		{"close_aborts_open", 1, []string{ // closed as the Java client closes: aborted
			"producer1, 0, 0x20, 3, BeginOpen, DontFlush",
		}, [][]byte{{}}, [][]byte{{0x20, 0x21, 0x22}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "txncli-" + tc.name
			if _, err := admin.CreateTopic(ctx, tc.partitions, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			if st := runCLI(t, versions, addr, topic, tc.cmds...); st != 0 {
				t.Fatalf("exit status %d", st)
			}
			for p := range tc.partitions {
				r := &kgo.Record{Topic: topic, Partition: p, Key: []byte{0xee}}
				if err := adm.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatal(err)
				}
				check := func(iso kgo.IsolationLevel, name string, want []byte) {
					got := keys(t, addr, topic, p, iso, 0xee)
					if want = append(slices.Clone(want), 0xee); !bytes.Equal(got, want) {
						t.Errorf("partition %d %s: keys %x, want %x", p, name, got, want)
					}
				}
				check(kgo.ReadCommitted(), "read_committed", tc.committed[p])
				if tc.uncommitted != nil {
					check(kgo.ReadUncommitted(), "read_uncommitted", tc.uncommitted[p])
				}
			}
		})
	}
}

// TestTxnProducerCLIExitLeavesOpen is 0098's test 6: exit ends the program with its
// status and leaves the transaction open, its records past the last stable offset.
func TestTxnProducerCLIExitLeavesOpen(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	admin := kadm.NewClient(cl)
	ctx := context.Background()
	const topic = "txncli-open"
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	if st := runCLI(t, "", addr, topic,
		"producer3, 0, 0x10, 1, None, DoFlush",
		"producer1, 0, 0x20, 3, BeginOpen, DoFlush",
		"exit,7",
		"producer1, 0, 0x30, 3, ContinueCommit, DoFlush", // never run
	); st != 7 {
		t.Fatalf("exit status %d, want 7", st)
	}
	end, err := admin.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	stable, err := admin.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	hw, _ := end.Lookup(topic, 0)
	lso, _ := stable.Lookup(topic, 0)
	if hw.Err != nil || lso.Err != nil || hw.Offset != 4 || lso.Offset != 1 {
		t.Fatalf("high watermark %d (%v), last stable offset %d (%v); want 4 and 1", hw.Offset, hw.Err, lso.Offset, lso.Err)
	}
	if got := keys(t, addr, topic, 0, kgo.ReadUncommitted(), 0x22); !bytes.Equal(got, []byte{0x10, 0x20, 0x21, 0x22}) {
		t.Fatalf("read_uncommitted keys %x", got)
	}
}

// FuzzTxnProducerCLICommand: a command's fields never panic the parsers; a number decode
// accepts prints back to itself in its base, and a producer command parsed keeps its
// fields.
func FuzzTxnProducerCLICommand(f *testing.F) {
	for _, s := range []string{
		"producer1, -1, 0x0, 5, BeginCommit, DoFlush", "producer3, 0, 0x70, 1, None, DoFlush",
		"producer1, 1, 0x20, 3, ContinueOpen, DontFlush", "producer1,0,#10,010,BeginAbort,DoFlush",
		"sleep,200", "exit,0", "producer1, 0, 0x, -, None", "producer1,,,,,", " , ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields := fieldSep.Split(s, -1)
		for _, field := range fields {
			n, err := decode(field)
			if err != nil {
				continue
			}
			if back, err := decode(strconv.FormatInt(int64(n), 10)); err != nil || back != n {
				t.Fatalf("decode(%q) = %d, but its decimal decodes to %d, %v", field, n, back, err)
			}
		}
		cmd, err := parseProducer(fields)
		if err != nil {
			return
		}
		ends := cmd.commits || cmd.aborts
		open := fields[4] == "None" || strings.HasSuffix(fields[4], "Open")
		if cmd.producer != fields[0] || cmd.transactional != (fields[4] != "None") ||
			cmd.flush != (fields[5] == "DoFlush") || ends == open || cmd.begins != strings.HasPrefix(fields[4], "Begin") {
			t.Fatalf("parseProducer(%q) = %+v", fields, cmd)
		}
	})
}
