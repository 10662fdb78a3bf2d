package metadata

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/stratalog/strata/internal/sasl"
)

// SCRAM credentials: the users the broker authenticates (SASL SCRAM-SHA-256/512, and
// PLAIN checked against them), Kafka's ScramCredential records of the metadata log.

// Sentinel errors of SCRAM credential commands (AlterUserScramCredentials answers).
var (
	// ErrUnknownCredential: a deletion of a credential that does not exist
	// (RESOURCE_NOT_FOUND).
	ErrUnknownCredential = errors.New("metadata: no such SCRAM credential")
	// ErrInvalidCredential: an empty user name, iterations out of range, or keys of the
	// wrong size (UNACCEPTABLE_CREDENTIAL).
	ErrInvalidCredential = errors.New("metadata: unacceptable SCRAM credential")
	// ErrUnsupportedMechanism: a mechanism other than SCRAM-SHA-256 and SCRAM-SHA-512
	// (UNSUPPORTED_SASL_MECHANISM).
	ErrUnsupportedMechanism = errors.New("metadata: unsupported SCRAM mechanism")
	// ErrDuplicateUser: a command that names one user twice (DUPLICATE_RESOURCE).
	ErrDuplicateUser = errors.New("metadata: user named more than once")
)

// ScramCredential is the stored SCRAM credential of one user for one mechanism.
type ScramCredential struct {
	User string
	sasl.Credential
}

// ScramKey names a credential: a user and a mechanism.
type ScramKey struct{ User, Mechanism string }

// Key returns c's key.
func (c *ScramCredential) Key() ScramKey { return ScramKey{c.User, c.Mechanism} }

// AlterScramCredentials is the command that sets and deletes SCRAM credentials
// (AlterUserScramCredentials, bootstrap.user): all of it applies or nothing does. A user
// may appear in one upsertion or deletion per mechanism, at most.
type AlterScramCredentials struct {
	Upsertions []ScramCredential
	Deletions  []ScramKey
}

// ScramStore is the part of Store that keeps SCRAM credentials; every Store implements
// it (kept apart so that the credential commands read as one addition).
type ScramStore interface {
	// AlterScramCredentials applies cmd; errors wrap ErrUnknownCredential,
	// ErrInvalidCredential, ErrUnsupportedMechanism or ErrDuplicateUser, and nothing
	// changes then.
	AlterScramCredentials(ctx context.Context, cmd AlterScramCredentials) error
}

// ScramCredential returns the credential of user for mechanism.
func (im *Image) ScramCredential(user, mechanism string) (ScramCredential, bool) {
	c, ok := im.scram[ScramKey{user, mechanism}]
	return c, ok
}

// ScramCredentials returns every credential, sorted by user, then mechanism.
func (im *Image) ScramCredentials() []ScramCredential {
	out := slices.Collect(maps.Values(im.scram))
	slices.SortFunc(out, func(a, b ScramCredential) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Mechanism, b.Mechanism))
	})
	return out
}

// PutScramCredential adds or replaces a credential. Its byte slices belong to the image
// from now on.
func (b *Builder) PutScramCredential(c ScramCredential) *Builder {
	b.editScram()
	b.im.scram[c.Key()] = c
	return b
}

// RemoveScramCredential removes a credential, if there is one.
func (b *Builder) RemoveScramCredential(k ScramKey) *Builder {
	b.editScram()
	delete(b.im.scram, k)
	return b
}

func (b *Builder) editScram() {
	if b.scram {
		return
	}
	b.im.scram = maps.Clone(b.im.scram)
	if b.im.scram == nil {
		b.im.scram = map[ScramKey]ScramCredential{}
	}
	b.scram = true
}

// AlterScramCredentials checks cmd against im and returns the image builder with the
// change applied (the store persists, then builds and publishes it).
func (r *Rules) AlterScramCredentials(im *Image, cmd *AlterScramCredentials) (*Builder, error) {
	seen := map[ScramKey]bool{}
	check := func(k ScramKey) error {
		switch {
		case k.User == "":
			return fmt.Errorf("%w: empty user name", ErrInvalidCredential)
		case k.Mechanism != sasl.ScramSHA256 && k.Mechanism != sasl.ScramSHA512:
			return fmt.Errorf("%w: %q", ErrUnsupportedMechanism, k.Mechanism)
		case seen[k]:
			return fmt.Errorf("%w: %s (%s)", ErrDuplicateUser, k.User, k.Mechanism)
		}
		seen[k] = true
		return nil
	}
	b := im.Edit()
	for _, c := range cmd.Upsertions {
		if err := check(c.Key()); err != nil {
			return nil, err
		}
		if c.Iterations < sasl.MinIterations || c.Iterations > sasl.MaxIterations {
			return nil, fmt.Errorf("%w: %s: iterations %d not in [%d, %d]", ErrInvalidCredential, c.User, c.Iterations, sasl.MinIterations, sasl.MaxIterations)
		}
		size := 32
		if c.Mechanism == sasl.ScramSHA512 {
			size = 64
		}
		if len(c.Salt) == 0 || len(c.StoredKey) != size || len(c.ServerKey) != size {
			return nil, fmt.Errorf("%w: %s: empty salt or keys of the wrong size", ErrInvalidCredential, c.User)
		}
		b.PutScramCredential(c)
	}
	for _, k := range cmd.Deletions {
		if err := check(k); err != nil {
			return nil, err
		}
		if _, ok := im.ScramCredential(k.User, k.Mechanism); !ok {
			return nil, fmt.Errorf("%w: %s (%s)", ErrUnknownCredential, k.User, k.Mechanism)
		}
		b.RemoveScramCredential(k)
	}
	return b, nil
}
