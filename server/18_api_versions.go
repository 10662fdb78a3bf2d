package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(18, 0, 4, handleAPIVersions) }

// handleAPIVersions answers ApiVersions v0-v4 with the dispatch table. Requests above v4
// never get here: the connection answers them with a v0 UNSUPPORTED_VERSION response
// (KIP-511), see apiVersionsFallback.
func handleAPIVersions(s *Server, r *request) reply {
	resp := r.body.ResponseKind().(*kmsg.ApiVersionsResponse)
	s.fillAPIVersions(resp)
	s.fillFeatures(resp)
	return now(resp)
}

// txnVersionSetting is the transaction.version feature advertised.
const txnVersionSetting = "strata.transaction.version"

// fillFeatures lists the features (KIP-584, ApiVersions v3+) the broker supports and has
// finalized: transaction.version (KIP-890) when it runs the transaction coordinator,
// supported from 0 to 2 and finalized at strata.transaction.version (not listed at 0, as
// Kafka lists no feature at level 0; kgo and librdkafka use transactions v2 when it is
// finalized at 2); share.version (KIP-932) when it serves share groups, supported from 0
// to 1 and finalized at 1. The epoch is the metadata image's version.
func (s *Server) fillFeatures(resp *kmsg.ApiVersionsResponse) {
	feature := func(name string, maxSupported, finalized int16) {
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = name, 0, maxSupported
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		if finalized > 0 {
			ff := kmsg.NewApiVersionsResponseFinalizedFeature()
			ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = name, finalized, finalized
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
			resp.FinalizedFeaturesEpoch = max(s.image().Version(), 0)
		}
	}
	if s.data.shares != nil {
		feature("share.version", 1, 1)
	}
	if s.data.txns != nil {
		feature("transaction.version", 2, s.data.txnVersion)
	}
}

// txnAPIs are the APIs of transactions, advertised only when the broker runs the
// transaction coordinator (strata.transactions.enable): AddPartitionsToTxn,
// AddOffsetsToTxn, EndTxn, WriteTxnMarkers, TxnOffsetCommit, DescribeTransactions and
// ListTransactions.
var txnAPIs = map[int16]bool{24: true, 25: true, 26: true, 27: true, 28: true, 65: true, 66: true}

// describeQuorumKey is DescribeQuorum, advertised on a cluster node only.
const describeQuorumKey = 55

// quorumAPIs are the APIs of the controller quorum, advertised on a cluster node only:
// DescribeQuorum, AddRaftVoter and RemoveRaftVoter.
var quorumAPIs = map[int16]bool{describeQuorumKey: true, addRaftVoterKey: true, removeRaftVoterKey: true}

// consumerAPIs are the APIs of the consumer group protocol (KIP-848), advertised only when
// group.coordinator.rebalance.protocols lists consumer, as Kafka advertises them:
// ConsumerGroupHeartbeat and ConsumerGroupDescribe.
var consumerAPIs = map[int16]bool{68: true, 69: true}

// fillAPIVersions lists the dispatch table with each API's lowest version raised to its
// floor (strata.protocol.min.version), except Produce, listed from its lowest version
// whatever the floor (advertisedMin), without the transaction APIs when transactions are
// off, nor the quorum APIs on a single node, nor the consumer group protocol's or share
// groups' when they are not served.
func (s *Server) fillAPIVersions(resp *kmsg.ApiVersionsResponse) {
	for _, a := range sortedAPIs() {
		if txnAPIs[a.key] && s.data.txns == nil || quorumAPIs[a.key] && s.opts.Cluster == nil ||
			consumerAPIs[a.key] && !s.consumerProtocol() || shareAPIs[a.key] && !s.shareProtocol() {
			continue
		}
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, s.advertisedMin(a), a.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
}

// apiVersionsFallback is the KIP-511 answer to an ApiVersions request of a version this
// broker does not support: a v0 body with UNSUPPORTED_VERSION and the supported ranges,
// from which the client picks a version and asks again.
func (s *Server) apiVersionsFallback() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	s.fillAPIVersions(resp)
	return resp
}
