package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Users are the SASL SCRAM users of the broker (AlterUserScramCredentials and
// DescribeUserScramCredentials; docs/security.md).

// User is a user the broker authenticates, with a SCRAM credential per mechanism.
type User struct {
	Name       string          `json:"name" yaml:"name"`
	Mechanisms []UserMechanism `json:"mechanisms" yaml:"mechanisms"`
}

// UserMechanism is one of a user's SCRAM credentials.
type UserMechanism struct {
	Mechanism  string `json:"mechanism" yaml:"mechanism"` // SCRAM-SHA-256 or SCRAM-SHA-512
	Iterations int32  `json:"iterations" yaml:"iterations"`
}

// The SCRAM mechanisms of users.
const (
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

func scramMechanism(name string) (kadm.ScramMechanism, error) {
	switch name {
	case ScramSHA256:
		return kadm.ScramSha256, nil
	case ScramSHA512:
		return kadm.ScramSha512, nil
	}
	return 0, kindf(ErrInvalid, "unknown SCRAM mechanism %q (want %s or %s)", name, ScramSHA256, ScramSHA512)
}

// SetUser creates a user or sets its password, for each of mechanisms (both when none
// are given), salted here with iterations rounds (4096 when 0; the broker accepts 4096 to
// 16384). The password never leaves the client: the broker gets the salted keys.
func (a *Admin) SetUser(ctx context.Context, name, password string, iterations int32, mechanisms ...string) error {
	if name == "" || password == "" {
		return kindf(ErrInvalid, "a user needs a name and a password")
	}
	if iterations != 0 && (iterations < 4096 || iterations > 16384) {
		return kindf(ErrInvalid, "iterations %d: the broker accepts 4096 to 16384", iterations)
	}
	if len(mechanisms) == 0 {
		mechanisms = []string{ScramSHA256, ScramSHA512}
	}
	var sms []kadm.ScramMechanism
	for _, m := range mechanisms {
		sm, err := scramMechanism(m)
		if err != nil {
			return err
		}
		sms = append(sms, sm)
	}
	// One request per mechanism: Kafka refuses a user named twice in one request.
	for _, sm := range sms {
		res, err := a.adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: name, Mechanism: sm, Iterations: iterations, Password: password}})
		if err == nil {
			err = res[name].Err
		}
		if errors.Is(err, kerr.UnacceptableCredential) || errors.Is(err, kerr.UnsupportedSaslMechanism) {
			return &kindError{kind: ErrInvalid, msg: fmt.Sprintf("set user %q: %s", name, brokerReason(err)), err: err}
		}
		if err != nil {
			return a.cfg.wrap(err, fmt.Sprintf("set user %q", name), "")
		}
	}
	return nil
}

// DeleteUser deletes every SCRAM credential of a user; a user without any is
// ErrNotFound.
func (a *Admin) DeleteUser(ctx context.Context, name string) error {
	users, err := a.ListUsers(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(users, func(u User) bool { return u.Name == name })
	if i < 0 {
		return kindf(ErrNotFound, "user %q does not exist", name)
	}
	// One request per mechanism: Kafka refuses a user named twice in one request.
	for _, m := range users[i].Mechanisms {
		sm, err := scramMechanism(m.Mechanism)
		if err != nil {
			return err
		}
		res, err := a.adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: name, Mechanism: sm}}, nil)
		if err == nil {
			err = res[name].Err
		}
		if errors.Is(err, kerr.ResourceNotFound) {
			return kindf(ErrNotFound, "user %q does not exist", name)
		}
		if err != nil {
			return a.cfg.wrap(err, fmt.Sprintf("delete user %q", name), "")
		}
	}
	return nil
}

// ListUsers returns every user, sorted by name, with its mechanisms.
func (a *Admin) ListUsers(ctx context.Context) ([]User, error) {
	described, err := a.adm.DescribeUserSCRAMs(ctx)
	if err == nil {
		err = described.Error()
	}
	if err != nil {
		return nil, a.cfg.wrap(err, "list users", "")
	}
	var out []User
	for _, d := range described.Sorted() {
		u := User{Name: d.User}
		for _, ci := range d.CredInfos {
			u.Mechanisms = append(u.Mechanisms, UserMechanism{Mechanism: ci.Mechanism.String(), Iterations: ci.Iterations})
		}
		slices.SortFunc(u.Mechanisms, func(a, b UserMechanism) int { return strings.Compare(a.Mechanism, b.Mechanism) })
		out = append(out, u)
	}
	return out, nil
}
