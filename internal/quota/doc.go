// Package quota is Kafka's client-quota arithmetic (KIP-13, KIP-55, KIP-124, KIP-219) as
// pure code: which quota applies to a user and client id (the eight places Kafka looks,
// most specific first), the windowed rate Kafka measures against it (Rate over a
// SampledStat: quota.window.num samples of quota.window.size.seconds), and the throttle
// time of a client over its quota: (rate - bound) / bound × the rate's window.
//
//	m := quota.NewManager(quota.Config{Samples: 11, Window: time.Second})
//	d := m.Record("producer_byte_rate", "alice", "app", float64(n), time.Now(), lookup)
//
// It does no I/O and imports nothing of Strata: the server looks quotas up in the
// metadata image, records what clients send and fetch, and mutes the connection for d.
package quota
