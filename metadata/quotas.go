package metadata

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
)

// Client quotas: the byte-rate, request-time and mutation-rate limits of users and client
// ids (AlterClientQuotas, DescribeClientQuotas), stored as the ClientQuotaRecords of
// Kafka's metadata log are.

// ErrInvalidQuota: an entity or a quota AlterClientQuotas refuses (INVALID_REQUEST).
var ErrInvalidQuota = errors.New("metadata: invalid client quota")

// Kafka's quota keys. The byte rates are whole bytes per second; request_percentage is a
// percentage of one request-handler thread's time per quota window; the mutation rate is
// partitions created or deleted per second; connection_creation_rate (IP entities only)
// connections per second.
const (
	QuotaProducerByteRate       = "producer_byte_rate"
	QuotaConsumerByteRate       = "consumer_byte_rate"
	QuotaRequestPercentage      = "request_percentage"
	QuotaControllerMutationRate = "controller_mutation_rate"
	QuotaConnectionCreationRate = "connection_creation_rate"
)

// quotaKeys are the keys of each kind of entity, and whether their values are whole.
var (
	userClientQuotaKeys = map[string]bool{QuotaProducerByteRate: true, QuotaConsumerByteRate: true, QuotaRequestPercentage: false, QuotaControllerMutationRate: false}
	ipQuotaKeys         = map[string]bool{QuotaConnectionCreationRate: true}
)

// QuotaName is one part of a quota entity: absent (the entity does not name this type),
// the default of the type (Kafka's null name, "<default>" in its tools), or a name.
type QuotaName struct {
	Set     bool // the entity names this type
	Default bool // the default entity of the type (Name is empty)
	Name    string
}

// QuotaEntity is whom quotas apply to: Kafka's ClientQuotaEntity, a user, a client id,
// both, or an IP address, each by name or the type's default.
type QuotaEntity struct {
	User, ClientID, IP QuotaName
}

// ClientQuota is one entity's quotas, by key.
type ClientQuota struct {
	Entity QuotaEntity
	Values map[string]float64
}

// QuotaOp sets (Value) or removes (Remove) one quota of an entity.
type QuotaOp struct {
	Key    string
	Value  float64
	Remove bool
}

// QuotaAlteration is the ops on one entity.
type QuotaAlteration struct {
	Entity QuotaEntity
	Ops    []QuotaOp
}

// AlterClientQuotas is the command that changes quotas: all of it applies or nothing
// does.
type AlterClientQuotas struct {
	Alterations []QuotaAlteration
}

// QuotaStore is the part of Store that keeps client quotas.
type QuotaStore interface {
	// AlterClientQuotas applies cmd; an invalid alteration (ErrInvalidQuota) changes
	// nothing.
	AlterClientQuotas(ctx context.Context, cmd AlterClientQuotas) error
}

// Validate applies Kafka's checks to an alteration (ClientQuotaControlManager): an
// entity of a user and/or a client id, or of an IP address alone; no empty name; each
// key once, one the entity's kind has; values above 0, whole for the byte and connection
// rates.
func (qa *QuotaAlteration) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidQuota, fmt.Sprintf(format, args...))
	}
	e := qa.Entity
	var keys map[string]bool
	switch {
	case e.IP.Set && (e.User.Set || e.ClientID.Set):
		return bad("an IP entity cannot be combined with a user or a client id")
	case e.IP.Set:
		if _, err := netip.ParseAddr(e.IP.Name); !e.IP.Default && err != nil {
			return bad("%q is not an IP address", e.IP.Name)
		}
		keys = ipQuotaKeys
	case e.User.Set || e.ClientID.Set:
		keys = userClientQuotaKeys
	default:
		return bad("empty client quota entity")
	}
	for typ, n := range map[string]QuotaName{"user": e.User, "client-id": e.ClientID, "ip": e.IP} {
		if n.Set && !n.Default && n.Name == "" {
			return bad("empty %s", typ)
		}
		if n.Default && n.Name != "" {
			return bad("the default %s has no name", typ)
		}
	}
	seen := map[string]bool{}
	for _, op := range qa.Ops {
		whole, ok := keys[op.Key]
		switch {
		case seen[op.Key]:
			return bad("duplicate quota key %s", op.Key)
		case !ok:
			return bad("invalid configuration key %s", op.Key)
		case op.Remove:
		case !(op.Value > 0) || math.IsInf(op.Value, 0):
			return bad("quota %s must be greater than 0", op.Key)
		case whole && math.Abs(math.Mod(op.Value, 1)) > 1e-6:
			return bad("%s cannot be a fractional value", op.Key)
		case whole && op.Value > math.MaxInt64:
			return bad("%s is too large", op.Key)
		}
		seen[op.Key] = true
	}
	return nil
}

// ClientQuotas returns every entity's quotas, sorted by entity (user, client id, IP;
// defaults before names).
func (im *Image) ClientQuotas() []ClientQuota {
	out := make([]ClientQuota, 0, len(im.quotas))
	for e, v := range im.quotas {
		out = append(out, ClientQuota{Entity: e, Values: v})
	}
	slices.SortFunc(out, func(a, b ClientQuota) int { return compareQuotaEntities(a.Entity, b.Entity) })
	return out
}

// HasClientQuotas reports whether any entity has a quota.
func (im *Image) HasClientQuotas() bool { return len(im.quotas) > 0 }

// ClientQuota returns the quotas of exactly entity (not those it inherits); nil for none.
// The map belongs to the image.
func (im *Image) ClientQuota(e QuotaEntity) map[string]float64 { return im.quotas[e] }

func compareQuotaEntities(a, b QuotaEntity) int {
	name := func(n QuotaName) int {
		switch {
		case !n.Set:
			return 0
		case n.Default:
			return 1
		}
		return 2
	}
	c := func(x, y QuotaName) int { return cmp.Or(cmp.Compare(name(x), name(y)), cmp.Compare(x.Name, y.Name)) }
	return cmp.Or(c(a.User, b.User), c(a.ClientID, b.ClientID), c(a.IP, b.IP))
}

// PutClientQuota sets the quotas of an entity (replacing them); no values removes it.
func (b *Builder) PutClientQuota(q ClientQuota) *Builder {
	b.editQuotas()
	if len(q.Values) == 0 {
		delete(b.im.quotas, q.Entity)
	} else {
		b.im.quotas[q.Entity] = maps.Clone(q.Values)
	}
	return b
}

func (b *Builder) editQuotas() {
	if b.quotas {
		return
	}
	b.im.quotas = maps.Clone(b.im.quotas)
	if b.im.quotas == nil {
		b.im.quotas = map[QuotaEntity]map[string]float64{}
	}
	b.quotas = true
}

// AlterClientQuotas checks cmd and returns the builder of the image with the quotas
// changed, and the entities' new quotas (in the order of cmd, once each; no values for an
// entity left without quotas) for the stores to persist or log.
func (r *Rules) AlterClientQuotas(im *Image, cmd *AlterClientQuotas) (*Builder, []ClientQuota, error) {
	b := im.Edit()
	next := map[QuotaEntity]map[string]float64{}
	var order []QuotaEntity
	for i := range cmd.Alterations {
		qa := &cmd.Alterations[i]
		if err := qa.Validate(); err != nil {
			return nil, nil, err
		}
		v, ok := next[qa.Entity]
		if !ok {
			v = maps.Clone(im.quotas[qa.Entity])
			if v == nil {
				v = map[string]float64{}
			}
			order = append(order, qa.Entity)
		}
		for _, op := range qa.Ops {
			if op.Remove {
				delete(v, op.Key)
			} else {
				v[op.Key] = op.Value
			}
		}
		next[qa.Entity] = v
	}
	changed := make([]ClientQuota, 0, len(order))
	for _, e := range order {
		q := ClientQuota{Entity: e, Values: next[e]}
		b.PutClientQuota(q)
		changed = append(changed, q)
	}
	return b, changed, nil
}
