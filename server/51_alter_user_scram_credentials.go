package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/sasl"
	"github.com/stratalog/strata/metadata"
)

func init() { register(51, 0, 0, handleAlterUserScramCredentials) }

// handleAlterUserScramCredentials answers AlterUserScramCredentials v0: it stores the
// credentials the client salted (salt, salted password, iterations; the broker derives
// and keeps the stored and server keys) and deletes others, with one result per user, as
// Kafka: ALTER on the cluster is required (CLUSTER_AUTHORIZATION_FAILED); an empty name
// or iterations outside [4096, 16384] are UNACCEPTABLE_CREDENTIAL, a mechanism other than
// SCRAM-SHA-256/512 UNSUPPORTED_SASL_MECHANISM, a user named twice for one mechanism
// DUPLICATE_RESOURCE, the deletion of a missing credential RESOURCE_NOT_FOUND. A user
// with an error changes nothing; the others' changes are applied together.
func handleAlterUserScramCredentials(s *Server, r *request) reply {
	req := r.body.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	type userCmd struct {
		cmd metadata.AlterScramCredentials
		err error
	}
	var order []string
	users := map[string]*userCmd{}
	get := func(name string) *userCmd {
		u, ok := users[name]
		if !ok {
			u = &userCmd{}
			users[name] = u
			order = append(order, name)
		}
		return u
	}
	for _, d := range req.Deletions {
		u := get(d.Name)
		u.cmd.Deletions = append(u.cmd.Deletions, metadata.ScramKey{User: d.Name, Mechanism: mechanismName(d.Mechanism)})
	}
	for _, up := range req.Upsertions {
		u := get(up.Name)
		mech := mechanismName(up.Mechanism)
		c := sasl.Credential{Mechanism: mech, Iterations: up.Iterations, Salt: up.Salt}
		if _, ok := scramMechanisms[up.Mechanism]; ok {
			var err error
			if c, err = sasl.NewCredential(mech, up.Salt, up.SaltedPassword, up.Iterations); err != nil && u.err == nil {
				u.err = err
			}
		}
		u.cmd.Upsertions = append(u.cmd.Upsertions, metadata.ScramCredential{User: up.Name, Credential: c})
	}

	authorized := r.authorized(kmsg.ACLOperationAlter, kmsg.ACLResourceTypeCluster, ClusterResource)
	im := s.image()
	var all metadata.AlterScramCredentials
	var applied []string
	for _, name := range order {
		u := users[name]
		switch {
		case !authorized:
			u.err = kerr.ClusterAuthorizationFailed
		case u.err == nil:
			// Each user's part is checked on its own, so that one user's error leaves the
			// others be (the rules are pure: the store checks the whole again).
			_, u.err = (&metadata.Rules{}).AlterScramCredentials(im, &u.cmd)
		}
		if u.err == nil {
			all.Upsertions = append(all.Upsertions, u.cmd.Upsertions...)
			all.Deletions = append(all.Deletions, u.cmd.Deletions...)
			applied = append(applied, name)
		}
	}
	return later(func() kmsg.Response {
		if len(applied) > 0 {
			if err := s.data.store.AlterScramCredentials(r.ctx, all); err != nil {
				for _, name := range applied {
					users[name].err = err
				}
			}
		}
		for _, name := range order {
			res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			res.User = name
			if err := users[name].err; err != nil {
				res.ErrorCode, res.ErrorMessage = errorCode(err), errMessage(err)
			}
			resp.Results = append(resp.Results, res)
		}
		return resp
	})
}

// mechanismName is the name of a ScramMechanism code; unknown codes get a name the
// rules refuse (UNSUPPORTED_SASL_MECHANISM).
func mechanismName(code int8) string {
	if n, ok := scramMechanisms[code]; ok {
		return n
	}
	return fmt.Sprintf("UNKNOWN(%d)", code)
}
