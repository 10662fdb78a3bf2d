package client

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Client quotas are the byte rates the broker holds users and client ids to
// (AlterClientQuotas, DescribeClientQuotas; docs/security.md).

// DefaultEntity names the default user or client id of a quota, as Kafka's tools write
// it.
const DefaultEntity = "<default>"

// Quota is the quotas of one entity: a user, a client id or both, or an IP address
// (DefaultEntity for the default; empty for not part of the entity), each key's value
// (producer_byte_rate, consumer_byte_rate …; connection_creation_rate for an IP).
type Quota struct {
	User     string             `json:"user,omitempty" yaml:"user,omitempty"`
	ClientID string             `json:"client_id,omitempty" yaml:"client_id,omitempty"`
	IP       string             `json:"ip,omitempty" yaml:"ip,omitempty"`
	Values   map[string]float64 `json:"values" yaml:"values"`
}

func (q *Quota) entity() (kadm.ClientQuotaEntity, error) {
	var e kadm.ClientQuotaEntity
	for _, p := range []struct{ typ, name string }{{"user", q.User}, {"client-id", q.ClientID}, {"ip", q.IP}} {
		switch p.name {
		case "":
		case DefaultEntity:
			e = append(e, kadm.ClientQuotaEntityComponent{Type: p.typ})
		default:
			name := p.name
			e = append(e, kadm.ClientQuotaEntityComponent{Type: p.typ, Name: &name})
		}
	}
	if len(e) == 0 {
		return nil, kindf(ErrInvalid, "a quota needs a user, a client id or an IP address")
	}
	return e, nil
}

// SetQuotas sets the quotas of q's entity to q's values (other keys stay); remove lists
// keys to remove. A value or key the broker refuses is ErrInvalid.
func (a *Admin) SetQuotas(ctx context.Context, q Quota, remove ...string) error {
	e, err := q.entity()
	if err != nil {
		return err
	}
	entry := kadm.AlterClientQuotaEntry{Entity: e}
	for k, v := range q.Values {
		entry.Ops = append(entry.Ops, kadm.AlterClientQuotaOp{Key: k, Value: v})
	}
	for _, k := range remove {
		entry.Ops = append(entry.Ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
	}
	res, err := a.adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{entry})
	if err == nil && len(res) > 0 {
		err = withBrokerMessage(res[0].Err, res[0].ErrMessage)
	}
	if err != nil {
		return a.cfg.wrap(err, "set quotas of "+e.String(), "")
	}
	return nil
}

// ListQuotas returns every entity's quotas, sorted by user, then client id, then IP.
func (a *Admin) ListQuotas(ctx context.Context) ([]Quota, error) {
	d, err := a.adm.DescribeClientQuotas(ctx, false, nil)
	if err != nil {
		return nil, a.cfg.wrap(err, "list quotas", "")
	}
	out := []Quota{}
	for _, dq := range d {
		q := Quota{Values: map[string]float64{}}
		for _, c := range dq.Entity {
			name := DefaultEntity
			if c.Name != nil {
				name = *c.Name
			}
			switch c.Type {
			case "user":
				q.User = name
			case "client-id":
				q.ClientID = name
			case "ip":
				q.IP = name
			}
		}
		for _, v := range dq.Values {
			q.Values[v.Key] = v.Value
		}
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		if out[i].ClientID != out[j].ClientID {
			return out[i].ClientID < out[j].ClientID
		}
		return out[i].IP < out[j].IP
	})
	return out, nil
}
