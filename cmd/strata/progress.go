package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// progress reports a long operation on stderr, one line rewritten in place: records,
// bytes, rate and, when the total is known, percentage and ETA. It is shown only when
// stderr is a terminal or --progress is given.
type progress struct {
	w     io.Writer
	verb  string
	total int64 // bytes or records expected (see unitBytes); 0 if unknown
	bytes bool  // total counts bytes rather than records
	start time.Time

	records, size atomic.Int64

	stop chan struct{}
	wg   sync.WaitGroup
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// startProgress starts reporting on w if show or w is a terminal, and returns nil otherwise
// (every method is a no-op on nil).
func startProgress(w io.Writer, show bool, verb string, total int64, totalIsBytes bool) *progress {
	if !show && !isTerminal(w) {
		return nil
	}
	p := &progress{w: w, verb: verb, total: total, bytes: totalIsBytes, start: time.Now(), stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.print("\r")
			}
		}
	}()
	return p
}

func (p *progress) add(records, bytes int64) {
	if p != nil {
		p.records.Add(records)
		p.size.Add(bytes)
	}
}

func (p *progress) print(prefix string) {
	n, b := p.records.Load(), p.size.Load()
	el := time.Since(p.start).Seconds()
	if el <= 0 {
		el = 1e-9
	}
	line := fmt.Sprintf("%s %d records, %s, %.0f rec/s, %s/s", p.verb, n, humanBytes(b), float64(n)/el, humanBytes(int64(float64(b)/el)))
	done := n
	if p.bytes {
		done = b
	}
	if p.total > 0 && done > 0 {
		frac := min(float64(done)/float64(p.total), 1)
		eta := time.Duration(el/frac*(1-frac)) * time.Second
		line += fmt.Sprintf(", %.0f%%, ETA %s", 100*frac, eta.Round(time.Second))
	}
	fmt.Fprintf(p.w, "%s%-100s", prefix, line)
}

// finish stops the reports and prints the final line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.print("\r")
	fmt.Fprintln(p.w)
}
