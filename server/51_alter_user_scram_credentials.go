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
// Kafka's controller: ALTER on the cluster is required (CLUSTER_AUTHORIZATION_FAILED); a
// user named more than once in a request (deletions first, then upsertions) is
// DUPLICATE_RESOURCE, an empty name or iterations outside [4096, 16384]
// UNACCEPTABLE_CREDENTIAL, a mechanism other than SCRAM-SHA-256/512
// UNSUPPORTED_SASL_MECHANISM, the deletion of a missing credential RESOURCE_NOT_FOUND; a
// user's first error is its answer. The users without one are applied together.
func handleAlterUserScramCredentials(s *Server, r *request) reply {
	req := r.body.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	authorized := r.authorized(kmsg.ACLOperationAlter, kmsg.ACLResourceTypeCluster, ClusterResource)
	im := s.image()
	var order []string
	errs := map[string]error{}
	cmds := map[string]metadata.AlterScramCredentials{} // one entry per user
	add := func(name string, cmd metadata.AlterScramCredentials, err error) {
		if _, seen := errs[name]; seen {
			return // the user's first error stands
		}
		if _, dup := cmds[name]; dup {
			delete(cmds, name)
			errs[name] = fmt.Errorf("%w: a user credential cannot be altered twice in the same request", metadata.ErrDuplicateUser)
			return
		}
		order = append(order, name)
		if err == nil && !authorized {
			err = kerr.ClusterAuthorizationFailed
		}
		if err == nil {
			// The rules are pure: each user is checked alone, the store checks all again.
			_, err = (&metadata.Rules{}).AlterScramCredentials(im, &cmd)
		}
		if err != nil {
			errs[name] = err
			return
		}
		cmds[name] = cmd
	}
	for _, d := range req.Deletions {
		add(d.Name, metadata.AlterScramCredentials{Deletions: []metadata.ScramKey{{User: d.Name, Mechanism: mechanismName(d.Mechanism)}}}, nil)
	}
	for _, up := range req.Upsertions {
		mech := mechanismName(up.Mechanism)
		c := sasl.Credential{Mechanism: mech, Iterations: up.Iterations, Salt: up.Salt}
		var err error
		if _, ok := scramMechanisms[up.Mechanism]; ok {
			c, err = sasl.NewCredential(mech, up.Salt, up.SaltedPassword, up.Iterations)
		}
		add(up.Name, metadata.AlterScramCredentials{Upsertions: []metadata.ScramCredential{{User: up.Name, Credential: c}}}, err)
	}
	var all metadata.AlterScramCredentials
	for _, name := range order {
		if cmd, ok := cmds[name]; ok {
			all.Upsertions = append(all.Upsertions, cmd.Upsertions...)
			all.Deletions = append(all.Deletions, cmd.Deletions...)
		}
	}
	return later(func() kmsg.Response {
		if len(cmds) > 0 {
			if err := s.data.store.AlterScramCredentials(r.ctx, all); err != nil {
				for name := range cmds {
					errs[name] = err
				}
			}
		}
		for _, name := range order {
			res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			res.User = name
			if err := errs[name]; err != nil {
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
