package server

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/sasl"
	"github.com/stratalog/strata/metadata"
)

func init() { register(50, 0, 0, handleDescribeUserScramCredentials) }

// scramMechanisms are Kafka's ScramMechanism codes of AlterUserScramCredentials and
// DescribeUserScramCredentials.
var scramMechanisms = map[int8]string{1: sasl.ScramSHA256, 2: sasl.ScramSHA512}

func scramMechanismCode(name string) int8 {
	for code, n := range scramMechanisms {
		if n == name {
			return code
		}
	}
	return 0
}

// handleDescribeUserScramCredentials answers DescribeUserScramCredentials v0 from the
// metadata image: each user's mechanisms and iterations (never salts or keys), for the
// users named or, with none, every user. As Kafka: DESCRIBE on the cluster is required
// (CLUSTER_AUTHORIZATION_FAILED), a user without credentials is RESOURCE_NOT_FOUND and a
// user named twice DUPLICATE_RESOURCE.
func handleDescribeUserScramCredentials(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !r.authorized(kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeCluster, ClusterResource) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return now(resp)
	}
	byUser := map[string][]metadata.ScramCredential{}
	var all []string
	for _, c := range s.image().ScramCredentials() { // sorted by user
		if _, ok := byUser[c.User]; !ok {
			all = append(all, c.User)
		}
		byUser[c.User] = append(byUser[c.User], c)
	}
	users := all
	if len(req.Users) > 0 {
		users = nil
		for _, u := range req.Users {
			users = append(users, u.Name)
		}
	}
	for i, u := range users {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = u
		switch creds := byUser[u]; {
		case slices.Contains(users[:i], u) || slices.Contains(users[i+1:], u):
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = kmsg.StringPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + u)
		case len(creds) == 0:
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("Attempt to describe a user credential that does not exist: %s", u))
		default:
			for _, c := range creds {
				ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				ci.Mechanism, ci.Iterations = scramMechanismCode(c.Mechanism), c.Iterations
				res.CredentialInfos = append(res.CredentialInfos, ci)
			}
		}
		resp.Results = append(resp.Results, res)
	}
	return now(resp)
}
