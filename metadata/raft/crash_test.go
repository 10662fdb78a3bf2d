package raft

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/metadata"
)

// The node processes of TestRaftCrash are this test binary, started with these
// variables set (TestMain runs runCrashNode); the listener is inherited as fd 3.
const (
	crashNodeEnv   = "STRATA_RAFT_CRASH_NODE"
	crashVotersEnv = "STRATA_RAFT_CRASH_VOTERS"
	crashDirEnv    = "STRATA_RAFT_CRASH_DIR"
)

// runCrashNode is a node process: it opens its store on TCP and serves the parent's
// lines on stdin: "create" starts creating topics (one at a time, printing "ack <name>"
// for each acknowledged), "stop" stops that ("stopped"), "topics" prints "topics" and
// the sorted names of its image; end of input closes it.
func runCrashNode() int {
	id, _ := strconv.Atoi(os.Getenv(crashNodeEnv))
	voters, err := ParseVoters(os.Getenv(crashVotersEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	f := os.NewFile(3, "listener")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	nw := Serve(ln, voters[id-1].Addr, &NetworkOptions{Logger: quietLogger()})
	st, err := Open(&Options{NodeID: int32(id), Dir: os.Getenv(crashDirEnv), Voters: voters, Transport: nw.Transport(), Forwarder: nw, Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer st.Close()
	nw.Handle(st.ServeForward)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err = st.RegisterBroker(ctx, metadata.Broker{ID: int32(id)})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "register:", err)
		return 2
	}
	var mu sync.Mutex
	say := func(line string) { mu.Lock(); defer mu.Unlock(); fmt.Println(line) }
	say("ready")
	var stop chan struct{}
	var done chan struct{}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "create":
			stop, done = make(chan struct{}), make(chan struct{})
			go func(stop, done chan struct{}) {
				defer close(done)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := fmt.Sprintf("n%d-%d-%d", id, os.Getpid(), i)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_, err := st.CreateTopic(ctx, metadata.CreateTopic{Name: name, Partitions: 1, ReplicationFactor: 1})
					cancel()
					if err == nil {
						say("ack " + name)
					}
				}
			}(stop, done)
		case "stop":
			if stop != nil {
				close(stop)
				<-done
				stop = nil
			}
			say("stopped")
		case "topics":
			var names []string
			for _, t := range st.Image().Topics() {
				names = append(names, t.Name)
			}
			say("topics " + strings.Join(names, " "))
		}
	}
	return 0
}

type crashNode struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr syncBuffer
}

// syncBuffer is the node's stderr, written by exec's copying goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// TestRaftCrash: three node processes create topics through every node while one of
// them, then another, is killed with SIGKILL mid-write and restarted on its files and
// port; no acknowledged creation is lost and every node ends with the same topics.
func TestRaftCrash(t *testing.T) {
	const n = 3
	var voters []Voter
	var lns []net.Listener
	for i := 1; i <= n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		voters = append(voters, Voter{ID: int32(i), Addr: ln.Addr().String()})
	}
	var vs []string
	for _, v := range voters {
		vs = append(vs, v.String())
	}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	var mu sync.Mutex
	acked := map[string]bool{}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	nodes := make([]*crashNode, n)
	start := func(i int) {
		t.Helper()
		ln := lns[i]
		if ln == nil {
			// The port came from the ephemeral range: while the node was down another
			// test's outgoing connection may have taken it as its local port. Such
			// connections are short-lived here; retry for a while.
			var err error
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				if ln, err = net.Listen("tcp", voters[i].Addr); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("node %d listens again: %v", i+1, err)
				}
			}
		}
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		lns[i] = nil
		defer f.Close()
		nd := &crashNode{lines: make(chan string, 16)}
		nd.cmd = exec.Command(os.Args[0], "-test.run=^$")
		nd.cmd.Env = append(os.Environ(), crashNodeEnv+"="+strconv.Itoa(i+1), crashVotersEnv+"="+strings.Join(vs, ","), crashDirEnv+"="+dirs[i])
		nd.cmd.ExtraFiles = []*os.File{f}
		nd.cmd.Stderr = &nd.stderr
		if nd.stdin, err = nd.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		out, err := nd.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			defer close(nd.lines)
			sc := bufio.NewScanner(out)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if name, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
					mu.Lock()
					acked[name] = true
					mu.Unlock()
				} else {
					nd.lines <- sc.Text()
				}
			}
		}()
		nodes[i] = nd
	}
	create := func(i int) { // once the node registered (it needs a quorum)
		t.Helper()
		nodes[i].expect(t, "ready")
		nodes[i].send(t, "create")
	}
	kill := func(i int) {
		nodes[i].cmd.Process.Kill()
		for range nodes[i].lines { // its last acknowledgements
		}
		nodes[i].cmd.Wait()
		nodes[i] = nil
	}
	t.Cleanup(func() {
		for i, nd := range nodes {
			if nd != nil {
				nd.stdin.Close()
				for range nd.lines {
				}
				if err := nd.cmd.Wait(); err != nil {
					t.Errorf("node %d: %v\n%s", i+1, err, nd.stderr.String())
				}
			}
		}
	})
	for i := range n {
		start(i)
	}
	for i := range n {
		create(i)
	}
	for _, victim := range []int{0, 1} {
		base := count()
		waitFor(t, "creations", func() bool { return count() >= base+30 })
		before := count()
		kill(victim)
		waitFor(t, "creations after the kill", func() bool { return count() >= before+20 })
		start(victim)
		create(victim)
	}
	base := count()
	waitFor(t, "creations after the restarts", func() bool { return count() >= base+20 })
	for _, nd := range nodes {
		nd.send(t, "stop")
	}
	for _, nd := range nodes {
		nd.expect(t, "stopped")
	}
	var final []string
	waitFor(t, "the nodes to converge", func() bool {
		var lists [][]string
		for _, nd := range nodes {
			nd.send(t, "topics")
			lists = append(lists, strings.Fields(nd.expect(t, "topics"))[1:])
		}
		final = lists[0]
		return slices.Equal(lists[0], lists[1]) && slices.Equal(lists[0], lists[2])
	})
	mu.Lock()
	defer mu.Unlock()
	for name := range acked {
		if _, ok := slices.BinarySearch(final, name); !ok {
			t.Errorf("acknowledged topic %s lost", name)
		}
	}
	t.Logf("%d creations acknowledged across two SIGKILLs, %d topics on every node", len(acked), len(final))
}

func (nd *crashNode) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(nd.stdin, line+"\n"); err != nil {
		t.Fatalf("send %q: %v", line, err)
	}
}

// expect returns the node's next line that starts with prefix.
func (nd *crashNode) expect(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-nd.lines:
			if !ok {
				t.Fatalf("node exited waiting for %q: %s", prefix, nd.stderr.String())
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q from the node: %s", prefix, nd.stderr.String())
		}
	}
}
