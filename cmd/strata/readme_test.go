package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratalog/strata/client"
	"github.com/stratalog/strata/server"
)

// The quickstart blocks of README.md and docs/getting-started.md are executable: a fenced
// block right after an HTML comment "<!-- quickstart -->" is run, command by command,
// against a fresh broker by TestReadmeQuickstart, so the docs cannot rot.
//
// Inside a marked block:
//   - every line that is not blank and not a comment is a command; a line ending in "\" or
//     "|" continues on the next line. Each command runs alone in `bash -c` (with pipefail)
//     and must exit 0.
//   - "# → TEXT" right after a command starts its expected standard output, and each
//     following "#   TEXT" line (or a bare "#", an empty line) continues it. The output
//     must match exactly, line by line (trailing spaces ignored), where "…" matches any
//     text within a line and a line that is only "…" matches any number of lines.
//   - a command with no "# →" must print nothing on standard output.
//   - other "# comment" lines are prose.
//
// "<!-- quickstart: restart -->" instead restarts the broker (SIGINT, a clean exit, and a
// start on the same data directory, as Ctrl-C and `make run` again would) before running
// the block.
//
// The docs address the broker `make run` starts, 127.0.0.1:9092. The test runs its own
// broker on a free port instead: it sets STRATA_BROKERS to that address (the strata CLI's
// default is 127.0.0.1:9092, so the docs need not name it) and replaces 127.0.0.1:9092 in
// commands (kcat's -b) and expected output with it. TestReadmeQuickstart checks first that
// 127.0.0.1:9092 really is the default of `make run`, the broker and the CLI.

// docAddr is the broker address the docs use.
const docAddr = "127.0.0.1:9092"

// quickstartDocs are the files whose marked blocks TestReadmeQuickstart runs, relative to
// the repository root; each gets a fresh broker and working directory.
var quickstartDocs = []string{"README.md", "docs/getting-started.md"}

// docStep is one command of a marked block, or a broker restart.
type docStep struct {
	line    int // in the file, for messages
	restart bool
	command string
	want    []string // expected stdout lines; nil: none
}

var (
	markerRE = regexp.MustCompile(`^<!--\s*quickstart(?::\s*(\S+))?\s*-->\s*$`)
	fenceRE  = regexp.MustCompile("^```")
)

// parseQuickstart extracts the steps of the marked blocks of a markdown document.
func parseQuickstart(doc string) ([]docStep, error) {
	lines := strings.Split(doc, "\n")
	var steps []docStep
	for i := 0; i < len(lines); i++ {
		m := markerRE.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		switch m[1] {
		case "":
		case "restart":
			steps = append(steps, docStep{line: i + 1, restart: true})
		default:
			return nil, fmt.Errorf("line %d: unknown quickstart marker %q", i+1, m[1])
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j == len(lines) || !fenceRE.MatchString(lines[j]) {
			return nil, fmt.Errorf("line %d: quickstart marker not followed by a fenced block", i+1)
		}
		j++
		var cur *docStep
		inWant := false
		for ; j < len(lines) && !fenceRE.MatchString(lines[j]); j++ {
			l := strings.TrimRight(lines[j], " \t")
			switch {
			case strings.HasPrefix(l, "# → ") || l == "# →":
				if cur == nil {
					return nil, fmt.Errorf("line %d: expected output before any command", j+1)
				}
				if inWant || cur.want != nil {
					return nil, fmt.Errorf("line %d: second expected output of one command", j+1)
				}
				cur.want, inWant = []string{strings.TrimPrefix(strings.TrimPrefix(l, "# →"), " ")}, true
			case inWant && (l == "#" || strings.HasPrefix(l, "#   ")):
				cur.want = append(cur.want, strings.TrimPrefix(strings.TrimPrefix(l, "#"), "   "))
			case l == "" || strings.HasPrefix(l, "#"):
				inWant = false
			default:
				inWant = false
				start := j
				cmd := l
				for (strings.HasSuffix(strings.TrimSpace(stripComment(l)), `\`) || strings.HasSuffix(strings.TrimSpace(stripComment(l)), "|")) && j+1 < len(lines) {
					j++
					l = strings.TrimRight(lines[j], " \t")
					cmd += "\n" + l
				}
				steps = append(steps, docStep{line: start + 1, command: cmd})
				cur = &steps[len(steps)-1]
			}
		}
		if j == len(lines) {
			return nil, fmt.Errorf("line %d: quickstart block not closed", i+1)
		}
		i = j
	}
	return steps, nil
}

// stripComment drops a trailing "  # comment" (two spaces or more before the #) from a
// command line, for finding its continuation character.
func stripComment(l string) string {
	if i := strings.Index(l, "  #"); i >= 0 {
		return l[:i]
	}
	return l
}

// outputRE compiles expected output lines into a regexp over the whole output.
func outputRE(want []string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`\A`)
	for _, w := range want {
		if w == "…" {
			b.WriteString(`(?:.*\n)*`)
			continue
		}
		parts := strings.Split(w, "…")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		b.WriteString(strings.Join(parts, `.*`) + `\n`)
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String())
}

// normalizeOutput drops trailing spaces on each line and trailing empty lines, and ends
// every line with "\n".
func normalizeOutput(s string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		b.WriteString(strings.TrimRight(sc.Text(), " \t") + "\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func TestReadmeParseQuickstart(t *testing.T) {
	doc := "text\n<!-- quickstart -->\n```bash\n# prose\n" +
		"strata topic create a   # comment\n# → created topic a\n" +
		"printf 'x\\n' |\n  strata produce a\n# → …\n#   PARTITION\n#\n#   end\n" +
		"strata consume a\n```\n<!-- quickstart: restart -->\n\n```\nstrata topic list\n```\n"
	steps, err := parseQuickstart(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []docStep{
		{line: 5, command: "strata topic create a   # comment", want: []string{"created topic a"}},
		{line: 7, command: "printf 'x\\n' |\n  strata produce a", want: []string{"…", "PARTITION", "", "end"}},
		{line: 13, command: "strata consume a"},
		{line: 15, restart: true},
		{line: 18, command: "strata topic list"},
	}
	if !reflect.DeepEqual(steps, want) {
		t.Fatalf("steps:\n%#v\nwant:\n%#v", steps, want)
	}
	re := outputRE([]string{"…", "A  …  C", "end"})
	for s, ok := range map[string]bool{"A  1  C\nend\n": true, "x\ny\nA  b  C\nend\n": true, "A  b  C\nend\nmore\n": false, "": false} {
		if re.MatchString(s) != ok {
			t.Errorf("%q matches %v, want %v", s, !ok, ok)
		}
	}
	for _, bad := range []string{"<!-- quickstart -->\ntext\n", "<!-- quickstart -->\n```\n# → x\n```\n", "<!-- quickstart: nope -->\n```\n```\n"} {
		if _, err := parseQuickstart(bad); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

// TestReadmeQuickstart runs the quickstart of README.md and of docs/getting-started.md,
// verbatim, with the strata binary built from this tree and kcat, against a fresh broker.
func TestReadmeQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	// The docs talk to the broker `make run` starts with the CLI's default address.
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^LISTEN\s*\?=\s*(\S+)`).FindSubmatch(makefile); m == nil || string(m[1]) != docAddr {
		t.Fatalf("Makefile: LISTEN default is %q, the docs say `make run` listens on %s", m, docAddr)
	}
	if client.DefaultBrokers != docAddr || server.DefaultListen != docAddr {
		t.Fatalf("defaults: CLI brokers %s, broker listen %s; the docs say %s", client.DefaultBrokers, server.DefaultListen, docAddr)
	}
	// make test installs kcat first (the kcat target); without it the kcat steps cannot run.
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatalf("kcat is not on PATH (run `make kcat`, which `make test` does): %v", err)
	}
	bin := buildStrata(t)

	for _, name := range quickstartDocs {
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join("../..", name))
			if err != nil {
				t.Fatal(err)
			}
			steps, err := parseQuickstart(string(doc))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var strata, kcat bool
			for _, s := range steps {
				strata = strata || strings.Contains(s.command, "strata ")
				kcat = kcat || strings.Contains(s.command, "kcat ")
			}
			if !strata || !kcat {
				t.Fatalf("%s: the quickstart blocks must use both the strata CLI and kcat (strata %v, kcat %v)", name, strata, kcat)
			}
			runQuickstart(t, name, bin, steps)
		})
	}
}

func runQuickstart(t *testing.T, name, bin string, steps []docStep) {
	dataDir, work := t.TempDir(), t.TempDir()
	b := startStrata(t, bin, dataDir)
	env := []string{"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATA_") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	for _, s := range steps {
		if s.restart {
			restartStrata(t, bin, dataDir, &b)
			continue
		}
		cmdText := strings.ReplaceAll(s.command, docAddr, b.addr)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, "bash", "-c", "set -o pipefail\n"+cmdText)
		cmd.Dir = work
		cmd.Env = append(env, "STRATA_BROKERS="+b.addr)
		cmd.WaitDelay = 5 * time.Second
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		cancel()
		t.Logf("%s:%d: %s (%v)", name, s.line, s.command, time.Since(start).Round(time.Millisecond))
		if err != nil {
			t.Fatalf("%s:%d: %s\nfailed: %v\nstdout:\n%s\nstderr:\n%s", name, s.line, s.command, err, stdout.String(), stderr.String())
		}
		got := normalizeOutput(stdout.String())
		if s.want == nil {
			if strings.TrimSpace(stdout.String()) != "" {
				t.Fatalf("%s:%d: %s\nprinted, where the doc shows no output:\n%s\nstderr:\n%s", name, s.line, s.command, stdout.String(), stderr.String())
			}
			continue
		}
		want := make([]string, len(s.want))
		for i, w := range s.want {
			want[i] = strings.ReplaceAll(w, docAddr, b.addr)
		}
		if !outputRE(want).MatchString(got) {
			t.Fatalf("%s:%d: %s\noutput:\n%s\nthe doc expects:\n%s\nstderr:\n%s", name, s.line, s.command, got, strings.Join(want, "\n"), stderr.String())
		}
	}
}

// restartStrata stops the broker with SIGINT, as Ctrl-C in its terminal would, checks that
// it exits 0 after a clean shutdown, and starts it again on the same data directory.
func restartStrata(t *testing.T, bin, dataDir string, b **broker) {
	t.Helper()
	old := *b
	if err := old.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-old.done:
		old.done <- err // for startStrata's cleanup
		if err != nil {
			t.Fatalf("broker exit after SIGINT: %v\n%s", err, old.log)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("broker still running 40 s after SIGINT\n%s", old.log)
	}
	if !bytes.Contains(old.log.Bytes(), []byte("stopped cleanly")) {
		t.Fatalf("no clean stop in the broker's log:\n%s", old.log)
	}
	*b = startStrata(t, bin, dataDir)
}
