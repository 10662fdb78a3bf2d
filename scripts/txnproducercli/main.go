package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// maxBlock bounds each wait on the brokers, as the Java client's max.block.ms (60 s)
// bounds initTransactions, commitTransaction and abortTransaction.
const maxBlock = 60 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exitError is the exit command: the program ends with code, producers left as they are.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run runs the program and answers its exit status. Producers are closed only when every
// command succeeded; on exit or an error they are left as a process exit leaves them
// (the caller is about to exit).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprintln(stderr, "usage: txnproducercli BOOTSTRAP COMMAND...")
		return 1
	}
	c := cli{
		bootstrap: strings.Split(args[0], ","), testid: "null", producers: map[string]*producer{},
		versions: os.Getenv("TXNPRODUCERCLI_VERSIONS"), stderr: stderr,
	}
	if c.versions != "" && c.versions != "latest" {
		fmt.Fprintf(stderr, "txnproducercli: TXNPRODUCERCLI_VERSIONS is %q: empty or latest\n", c.versions)
		return 1
	}
	for _, arg := range args[1:] {
		fmt.Fprintf(stdout, "txnproducercli: command: '%s'\n", arg)
		if err := c.do(arg); err != nil {
			var exit exitError
			if errors.As(err, &exit) {
				return exit.code
			}
			fmt.Fprintf(stderr, "txnproducercli: %s: %v\n", arg, err)
			return 1
		}
	}
	status := 0
	for name, p := range c.producers {
		if err := p.close(); err != nil {
			fmt.Fprintf(stderr, "txnproducercli: closing %s: %v\n", name, err)
			status = 1
		}
	}
	return status
}

type cli struct {
	bootstrap []string
	topic     string
	testid    string
	producers map[string]*producer
	versions  string // TXNPRODUCERCLI_VERSIONS
	stderr    io.Writer
}

// fieldSep splits a command as the Java program does (String.split("\\s*,\\s*")).
var fieldSep = regexp.MustCompile(`\s*,\s*`)

// txnTypes are the Java program's TransactionType names.
var txnTypes = map[string]bool{
	"None": true, "BeginAbort": true, "BeginCommit": true, "BeginOpen": true,
	"ContinueAbort": true, "ContinueCommit": true, "ContinueOpen": true,
}

// command is one PRODUCER command, parsed.
type command struct {
	producer                string
	partition               int32
	idStart, count          int
	transactional           bool
	flush                   bool
	begins, commits, aborts bool
}

// parseProducer reads a PRODUCER command's fields.
func parseProducer(f []string) (*command, error) {
	if len(f) < 6 {
		return nil, fmt.Errorf("producer command has %d fields, want 6", len(f))
	}
	partition, err := decode(f[1])
	if err != nil {
		return nil, err
	}
	idStart, err := decode(f[2])
	if err != nil {
		return nil, err
	}
	count, err := decode(f[3])
	if err != nil {
		return nil, err
	}
	if !txnTypes[f[4]] {
		return nil, fmt.Errorf("unknown transaction type %q", f[4])
	}
	if f[5] != "DoFlush" && f[5] != "DontFlush" {
		return nil, fmt.Errorf("unknown flush type %q", f[5])
	}
	return &command{
		producer:      f[0],
		partition:     int32(partition),
		idStart:       int(idStart),
		count:         int(count),
		transactional: f[4] != "None",
		flush:         f[5] == "DoFlush",
		begins:        strings.HasPrefix(f[4], "Begin"),
		commits:       strings.HasSuffix(f[4], "Commit"),
		aborts:        strings.HasSuffix(f[4], "Abort"),
	}, nil
}

// decode reads an int as Java's Integer.decode: an optional sign, then decimal, 0x, 0X or
// # hexadecimal, or 0-led octal.
func decode(s string) (int32, error) {
	t, neg := s, false
	switch {
	case strings.HasPrefix(t, "-"):
		t, neg = t[1:], true
	case strings.HasPrefix(t, "+"):
		t = t[1:]
	}
	base := 10
	switch {
	case strings.HasPrefix(t, "0x"), strings.HasPrefix(t, "0X"):
		t, base = t[2:], 16
	case strings.HasPrefix(t, "#"):
		t, base = t[1:], 16
	case len(t) > 1 && t[0] == '0':
		t, base = t[1:], 8
	}
	if t == "" || t[0] == '-' || t[0] == '+' {
		return 0, fmt.Errorf("bad number %q", s)
	}
	if neg {
		t = "-" + t
	}
	n, err := strconv.ParseInt(t, base, 32)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return int32(n), nil
}

func (c *cli) do(arg string) error {
	f := fieldSep.Split(arg, -1)
	for len(f) > 1 && f[len(f)-1] == "" { // split drops trailing empty fields
		f = f[:len(f)-1]
	}
	need := func(n int) error {
		if len(f) < n {
			return fmt.Errorf("%s needs %d fields", f[0], n)
		}
		return nil
	}
	switch {
	case f[0] == "sleep":
		if err := need(2); err != nil {
			return err
		}
		ms, err := decode(f[1])
		if err != nil {
			return err
		}
		if ms < 0 {
			return fmt.Errorf("negative sleep %d", ms)
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
	case f[0] == "exit":
		if err := need(2); err != nil {
			return err
		}
		code, err := decode(f[1])
		if err != nil {
			return err
		}
		return exitError{int(code) & 0xff}
	case f[0] == "topic":
		if err := need(2); err != nil {
			return err
		}
		c.topic = f[1]
	case f[0] == "testid":
		if err := need(2); err != nil {
			return err
		}
		c.testid = f[1]
	case strings.HasPrefix(f[0], "producer"):
		cmd, err := parseProducer(f)
		if err != nil {
			return err
		}
		if c.topic == "" {
			return errors.New("no topic command before the first producer command")
		}
		p := c.producers[cmd.producer]
		if p == nil {
			if p, err = c.newProducer(cmd.producer, cmd.transactional); err != nil {
				return err
			}
			c.producers[cmd.producer] = p
		}
		return p.send(c.topic, cmd)
	default:
		return fmt.Errorf("unknown command %q", f[0])
	}
	return nil
}

// producer is one PRODUCER's client and the first error of its transaction's records.
type producer struct {
	cl            *kgo.Client
	transactional bool
	stderr        io.Writer

	mu     sync.Mutex
	failed error // first record of the current transaction that failed
	inTxn  bool
}

func (c *cli) newProducer(name string, transactional bool) (*producer, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.bootstrap...),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.RecordDeliveryTimeout(2 * time.Minute), // delivery.timeout.ms
		kgo.RecordPartitioner(partitioner()),
	}
	if c.versions != "latest" {
		opts = append(opts, kgo.MaxVersions(kversion.V3_6_0()))
	}
	if !transactional {
		opts = append(opts, kgo.ClientID("producer-"+name))
	} else {
		opts = append(opts,
			kgo.ClientID("transactional-producer-"+name),
			kgo.TransactionalID("test-transactional-id-"+c.testid+"-"+name),
			kgo.TransactionTimeout(60*time.Second))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	p := &producer{cl: cl, transactional: transactional, stderr: c.stderr}
	if transactional {
		ctx, cancel := context.WithTimeout(context.Background(), maxBlock)
		defer cancel()
		if _, _, err := cl.ProducerID(ctx); err != nil {
			return nil, fmt.Errorf("init transactions: %w", err)
		}
	}
	return p, nil
}

// partitioner sends a record to its Partition, or by its key's murmur2 hash when that is
// -1, as the Java client's default partitioner sends a keyed record.
func partitioner() kgo.Partitioner {
	byKey := kgo.StickyKeyPartitioner(nil)
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		hash := byKey.ForTopic(topic)
		return func(r *kgo.Record, n int) int {
			if r.Partition >= 0 {
				return int(r.Partition)
			}
			return hash.Partition(r, n)
		}
	})
}

func (p *producer) send(topic string, cmd *command) error {
	if cmd.begins {
		if err := p.cl.BeginTransaction(); err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		p.mu.Lock()
		p.failed, p.inTxn = nil, true
		p.mu.Unlock()
	}
	for i := range cmd.count {
		r := &kgo.Record{
			Topic:     topic,
			Partition: cmd.partition,
			Key:       []byte{byte(cmd.idStart + i)},
			Value:     []byte{0x10, 0x20, 0x30, 0x40},
		}
		p.cl.Produce(context.Background(), r, p.delivered)
	}
	ctx, cancel := context.WithTimeout(context.Background(), maxBlock)
	defer cancel()
	if cmd.flush {
		if err := p.cl.Flush(ctx); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
	}
	switch {
	case cmd.commits:
		return p.end(ctx, kgo.TryCommit)
	case cmd.aborts:
		return p.end(ctx, kgo.TryAbort)
	}
	return nil
}

// delivered reports a record that failed. A transactional record's failure is kept: the
// commit fails then, as the Java client's commitTransaction does after a failed send.
func (p *producer) delivered(r *kgo.Record, err error) {
	if err == nil || errors.Is(err, kgo.ErrAborting) {
		return
	}
	fmt.Fprintf(p.stderr, "txnproducercli: record key %#x to %s[%d]: %v\n", r.Key, r.Topic, r.Partition, err)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.transactional && p.failed == nil {
		p.failed = err
	}
}

// end commits (after flushing every record, as commitTransaction) or aborts (after
// dropping the records not yet sent, as abortTransaction) the open transaction.
func (p *producer) end(ctx context.Context, commit kgo.TransactionEndTry) error {
	if commit {
		if err := p.cl.Flush(ctx); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		p.mu.Lock()
		failed := p.failed
		p.mu.Unlock()
		if failed != nil {
			return fmt.Errorf("commit transaction: a record failed: %w", failed)
		}
	} else if err := p.cl.AbortBufferedRecords(ctx); err != nil {
		return fmt.Errorf("abort buffered records: %w", err)
	}
	if err := p.cl.EndTransaction(ctx, commit); err != nil {
		return fmt.Errorf("end transaction (commit %v): %w", bool(commit), err)
	}
	p.mu.Lock()
	p.inTxn = false
	p.mu.Unlock()
	return nil
}

// close flushes the records still buffered and aborts a transaction still open, as the
// Java client's close does, then closes the client.
func (p *producer) close() error {
	defer p.cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), maxBlock)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	p.mu.Lock()
	open := p.inTxn
	p.mu.Unlock()
	if open {
		if err := p.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
			return fmt.Errorf("abort open transaction: %w", err)
		}
	}
	return nil
}
