package bench

import (
	"context"
	"fmt"
	"time"
)

// localBroker prepares c for a workload that measures a local broker process (b, or else
// c.BrokerPID): the defaults, d being the default duration, and the broker's PID.
func (c *Config) localBroker(mode string, b *Broker, d time.Duration) error {
	if c.Duration <= 0 && c.Count <= 0 {
		c.Duration = d
	}
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		return err
	}
	if b != nil {
		c.BrokerPID = b.PID()
	}
	if c.BrokerPID <= 0 {
		return fmt.Errorf("bench: %s needs --broker-pid or --start-broker", mode)
	}
	return nil
}

// Idle measures the footprint of an idle broker holding many partitions: it creates a
// topic of c.Partitions partitions (timed), lets the broker settle for 2 s, then measures
// its CPU and RSS over c.Duration with no client connected. When the bench started the
// broker (b is not nil), it then restarts it cleanly on the same data and reports the time
// from SIGTERM to the exit, and from exec to the ready file and to a metadata response
// listing every partition.
func Idle(ctx context.Context, c Config, b *Broker) (*Result, error) {
	if c.Partitions <= 0 {
		c.Partitions = 1000
	}
	if err := c.localBroker("idle", b, 10*time.Second); err != nil {
		return nil, err
	}
	want := c.Partitions
	t0 := time.Now()
	if err := ensureTopic(ctx, &c); err != nil {
		return nil, err
	}
	is := &IdleStats{Partitions: c.Partitions, CreateSeconds: time.Since(t0).Seconds()}
	if b != nil {
		is.FirstStartupMs = float64(b.StartupTime) / 1e6
	}
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	meter, err := startMeter(c.BrokerPID)
	if err != nil {
		return nil, err
	}
	if c.Progress != nil {
		c.Progress.Write([]byte("idle: measuring for " + c.Duration.String() + "\n"))
	}
	select {
	case <-time.After(c.Duration):
	case <-ctx.Done():
	}
	bs, err := meter.finish(0)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	is.IdleSeconds = c.Duration.Seconds()
	is.CPUPercent = bs.CPUPercent
	is.RSSMiB = bs.PeakRSSMiB

	if b != nil {
		if c.Progress != nil {
			c.Progress.Write([]byte("idle: restarting the broker\n"))
		}
		if err := b.Restart(ctx); err != nil {
			return nil, err
		}
		start := time.Now().Add(-b.StartupTime)
		is.StopMs = float64(b.StopTime) / 1e6
		is.StartupMs = float64(b.StartupTime) / 1e6
		c.Brokers, c.BrokerPID = []string{b.Addr}, b.PID()
		adm, cl, err := admin(&c)
		if err != nil {
			return nil, err
		}
		_, err = waitTopic(ctx, adm, c.Topic, want)
		cl.Close()
		if err != nil {
			return nil, err
		}
		is.RestartMetadata = float64(time.Since(start)) / 1e6
		if s, err := ReadProc(b.PID()); err == nil {
			is.RestartRSSMiB = float64(s.RSSBytes) / (1 << 20)
		}
	}
	cleanup(&c, "")
	r := &Result{Idle: is, BrokerStats: bs}
	r.fill(&c, "idle")
	return r, nil
}
