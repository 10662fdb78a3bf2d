package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/client"
	"github.com/stratalog/strata/server/servertest"
)

// Burrow 1.2.1 and ZooKeeper, from Debian (make test installs them: legacy-clients).
const (
	burrowBin    = "/usr/bin/Burrow"
	zookeeperJar = "/usr/share/java/zookeeper.jar"
)

// burrowVersions are the kafka-version settings TestBurrowLag runs Burrow with: in short
// (make test) 0.10.0, whose Sarama sends ListOffsets v0 and Fetch v2 (message format 1),
// the case of issue 21; with STRATA_BURROW=long (make burrow) every protocol era
// Burrow's Sarama knows.
func burrowVersions() []string {
	if os.Getenv("STRATA_BURROW") == "long" {
		return []string{"0.8.2", "0.9.0", "0.10.0", "0.10.1", "0.11.0", "1.0.0", "2.0.0"}
	}
	return []string{"0.10.0"}
}

// TestBurrowLag runs Burrow 1.2.1 (LinkedIn's consumer-lag monitor, as Debian ships it,
// with its own ZooKeeper) against the broker: it finds the topic and its end offsets
// (Metadata, ListOffsets v0/v1), reads the group's commits from __consumer_offsets
// (Fetch v0-v4, offset commit values v3) and reports for each partition the lag that
// strata group describe reports.
func TestBurrowLag(t *testing.T) {
	java, err := exec.LookPath("java")
	for _, f := range []string{burrowBin, zookeeperJar} {
		if _, serr := os.Stat(f); serr != nil && err == nil {
			err = serr
		}
	}
	if err != nil {
		t.Fatalf("Burrow and ZooKeeper are not installed (make test installs them: apt-get install -y burrow zookeeper): %v", err)
	}
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	zk := startZooKeeper(t, java)
	ctx := testCtx(t)

	const topic = "burrow-lag"
	createTopic(t, s, topic, 2, nil)
	cl := newClient(t, s, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(2) {
		for i := range 10 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	adm, err := client.NewAdmin(client.Brokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()

	for _, version := range burrowVersions() {
		t.Run(version, func(t *testing.T) {
			group := "burrow-group-" + version
			b := startBurrow(t, addr, zk, version)
			// Burrow drops commits of partitions it does not know yet: commit once it
			// lists the topic.
			waitFor(t, "Burrow to list the topic", 60*time.Second, func() bool {
				var r struct{ Topics []string }
				return b.get(t, "/v3/kafka/strata/topic", &r) && strings.Contains(strings.Join(r.Topics, ","), topic)
			})
			commit := kadm.Offsets{}
			commit.Add(kadm.Offset{Topic: topic, Partition: 0, At: 3, LeaderEpoch: -1})
			commit.Add(kadm.Offset{Topic: topic, Partition: 1, At: 8, LeaderEpoch: -1})
			if resp, err := kadm.NewClient(cl).CommitOffsets(ctx, group, commit); err != nil || resp.Error() != nil {
				t.Fatalf("commit: %v, %v", err, resp.Error())
			}
			desc, err := adm.DescribeGroup(ctx, group)
			if err != nil {
				t.Fatal(err)
			}
			want := map[int32]int64{}
			for _, o := range desc.Offsets {
				want[o.Partition] = o.Lag
			}
			if desc.TotalLag != 9 || want[0] != 7 || want[1] != 2 {
				t.Fatalf("strata group describe: %+v", desc)
			}
			var lag burrowLag
			waitFor(t, "Burrow to report the group's lag", 60*time.Second, func() bool {
				lag = burrowLag{}
				if !b.get(t, "/v3/kafka/strata/consumer/"+group+"/lag", &lag) || len(lag.Status.Partitions) != 2 {
					return false
				}
				for _, p := range lag.Status.Partitions {
					if p.CurrentLag != want[p.Partition] {
						return false
					}
				}
				return lag.Status.TotalLag == desc.TotalLag
			})
		})
	}
}

type burrowLag struct {
	Status struct {
		Partitions []struct {
			Topic      string
			Partition  int32
			CurrentLag int64 `json:"current_lag"`
		}
		TotalLag int64 `json:"totallag"`
	}
}

// freePort returns a loopback port free a moment ago, for programs that take a port
// rather than a listener.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startZooKeeper runs a standalone ZooKeeper on a free loopback port until the test ends
// and returns its address.
func startZooKeeper(t *testing.T, java string) string {
	t.Helper()
	dir := t.TempDir()
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	cfg := filepath.Join(dir, "zoo.cfg")
	conf := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\n", filepath.Join(dir, "data"), port)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	startProcess(t, filepath.Join(dir, "zookeeper.log"), java, "-cp", zookeeperJar, "org.apache.zookeeper.server.ZooKeeperServerMain", cfg)
	waitFor(t, "ZooKeeper to serve", 60*time.Second, func() bool { // the srvr command
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("srvr")); err != nil {
			return false
		}
		b, _ := io.ReadAll(c)
		return strings.Contains(string(b), "Mode: standalone")
	})
	return addr
}

type burrow struct{ http string }

// startBurrow runs Burrow with the broker as its cluster "strata", the given
// kafka-version, refreshing offsets every second, until the test ends.
func startBurrow(t *testing.T, broker, zk, version string) burrow {
	t.Helper()
	dir := t.TempDir()
	b := burrow{http: freePort(t)}
	conf := fmt.Sprintf(`[general]
pidfile=%[1]q
[logging]
filename=%[2]q
level="info"
[zookeeper]
servers=[%[3]q]
timeout=6
root-path="/burrow-%[4]s"
[client-profile.old]
client-id="burrow-test"
kafka-version=%[4]q
[cluster.strata]
class-name="kafka"
servers=[%[5]q]
client-profile="old"
topic-refresh=1
offset-refresh=1
[consumer.strata]
class-name="kafka"
cluster="strata"
servers=[%[5]q]
client-profile="old"
start-latest=false
[httpserver.default]
address=%[6]q
[storage.default]
class-name="inmemory"
workers=2
intervals=10
min-distance=1
`, filepath.Join(dir, "burrow.pid"), filepath.Join(dir, "burrow.log"), zk, version, broker, b.http)
	if err := os.WriteFile(filepath.Join(dir, "burrow.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	startProcess(t, filepath.Join(dir, "stdout.log"), burrowBin, "--config-dir", dir)
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "burrow.log"))
			t.Logf("burrow.log:\n%s", log)
		}
	})
	return b
}

// get decodes the JSON answer of Burrow's HTTP API at path into v; false if there is none
// yet or Burrow reports an error.
func (b burrow) get(t *testing.T, path string, v any) bool {
	t.Helper()
	resp, err := http.Get("http://" + b.http + path)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var e struct{ Error bool }
	var raw json.RawMessage
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&raw) != nil ||
		json.Unmarshal(raw, &e) != nil || e.Error {
		return false
	}
	return json.Unmarshal(raw, v) == nil
}

// startProcess starts a program whose output goes to logFile and stops it (SIGKILL) and
// waits for it when the test ends.
func startProcess(t *testing.T, logFile, name string, args ...string) {
	t.Helper()
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		out.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		out.Close()
	})
}
