package layers

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/stratalog/strata/"

// forbidden maps a package (and everything under it) to the packages it must not import,
// directly or not. Imports point down only: cmd → observe (the HTTP listener, a Kafka
// client of its own broker) → client, server → wire, metadata, replica, coord, group, txn,
// share, dlq → partition → log → segment → index; internal/* is below them all (txn, like coord,
// and share, knows no storage: it is wired to it by the server).
// Packages that do not exist yet are simply never matched.
var forbidden = map[string][]string{
	"internal":  {"server", "client", "cmd", "replica", "metadata", "coord", "group", "partition", "log", "segment", "index", "wire", "txn", "observe", "share"},
	"index":     {"segment", "log", "partition", "replica", "metadata", "coord", "group", "server", "client", "cmd", "txn", "observe", "share"},
	"segment":   {"log", "partition", "replica", "metadata", "coord", "group", "server", "client", "cmd", "txn", "observe", "share"},
	"log":       {"partition", "replica", "metadata", "coord", "group", "server", "client", "cmd", "txn", "observe", "share"},
	"partition": {"replica", "metadata", "coord", "group", "server", "client", "cmd", "txn", "observe", "share"},
	"metadata":  {"partition", "log", "segment", "index", "replica", "coord", "group", "server", "client", "cmd", "txn", "observe", "share"},
	"coord":     {"replica", "metadata", "partition", "log", "segment", "index", "group", "server", "client", "cmd", "txn", "observe", "share"},
	"group":     {"replica", "metadata", "server", "client", "cmd", "txn", "observe", "share"},
	"txn":       {"replica", "metadata", "partition", "log", "segment", "index", "group", "server", "client", "cmd", "observe", "share"},
	"share":     {"replica", "metadata", "partition", "log", "segment", "index", "group", "txn", "server", "client", "cmd", "observe"},
	"dlq":       {"replica", "metadata", "partition", "log", "segment", "index", "coord", "group", "txn", "share", "server", "client", "cmd", "observe"},
	"replica":   {"coord", "group", "server", "client", "cmd", "txn", "observe", "share"},
	"wire":      {"server", "client", "cmd", "replica", "metadata", "coord", "group", "partition", "log", "segment", "index", "txn", "observe", "share"},
	"client":    {"server", "cmd", "replica", "metadata", "coord", "group", "partition", "log", "segment", "index", "txn", "observe", "share"},
	"server":    {"client", "cmd", "observe"},
	"observe":   {"cmd"},
}

// TestLayersImportsPointDown fails for every package that imports (directly or through
// others) a package its layer must not know. Test files are not checked: tests may reach
// up (server/servertest is the broker kit, and it imports server).
func TestLayersImportsPointDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue
		}
		seen++
		for layer, bad := range forbidden {
			if !under(pkg, layer) {
				continue
			}
			for _, dep := range fields[1:] {
				d, ok := strings.CutPrefix(dep, module)
				if !ok {
					continue
				}
				for _, b := range bad {
					if under(d, b) {
						t.Errorf("%s imports %s: %s must not import %s", pkg, d, layer, b)
					}
				}
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list found %d packages of the module", seen)
	}
}

// notDirect maps a package (and everything under it) to packages it may depend on only
// through others: the server reaches storage through replica and partition, never the log,
// its segments or their indexes themselves.
var notDirect = map[string][]string{
	"server":  {"log", "segment", "index"},
	"observe": {"log", "segment", "index"},
}

// TestLayersNoDirectImports fails for every package that imports directly what it may
// reach only through the layers between (notDirect). Test files are not checked.
func TestLayersNoDirectImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue
		}
		for layer, bad := range notDirect {
			if !under(pkg, layer) {
				continue
			}
			for _, imp := range fields[1:] {
				d, ok := strings.CutPrefix(imp, module)
				if !ok {
					continue
				}
				for _, b := range bad {
					if under(d, b) {
						t.Errorf("%s imports %s directly: %s reaches %s only through the layers below it", pkg, d, layer, b)
					}
				}
			}
		}
	}
}

func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// TestLayersPackageDocs fails for every package of the module without a doc.go: each
// package says there what it owns and what it must not import.
func TestLayersPackageDocs(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Dir}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, line := range lines {
		pkg, dir, _ := strings.Cut(line, " ")
		if _, err := os.Stat(filepath.Join(dir, "doc.go")); err != nil {
			t.Errorf("%s has no doc.go", pkg)
		}
	}
	if len(lines) < 10 {
		t.Fatalf("go list found %d packages of the module", len(lines))
	}
}
