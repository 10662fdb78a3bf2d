package config

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"

	"github.com/twmb/franz-go/pkg/kversion"
)

// ProtocolMinVersion is the broker setting that refuses request versions older than a
// Kafka release's clients send (ProtocolFloors).
const ProtocolMinVersion = "strata.protocol.min.version"

// kip896Floors are the lowest request versions Kafka 4 accepts (KIP-896: the versions of
// Kafka 2.1's clients; kversion's b40 and b41), for the APIs whose floor is above 0.
// Kafka 4.0 also removed JoinGroup v0-v1; 4.1 gave them back (KAFKA-19444), as here.
// Kafka 4 still advertises Produce v0-v2 in ApiVersions (KAFKA-18659: librdkafka enables
// compression only if Produce v0 is listed) but refuses the requests.
var kip896Floors = map[int16]int16{
	0:  3, // Produce
	1:  4, // Fetch
	2:  1, // ListOffsets
	8:  2, // OffsetCommit
	9:  1, // OffsetFetch
	19: 2, // CreateTopics
	20: 1, // DeleteTopics
	23: 2, // OffsetForLeaderEpoch
	27: 1, // WriteTxnMarkers
	29: 1, // DescribeAcls
	30: 1, // CreateAcls
	31: 1, // DeleteAcls
	32: 1, // DescribeConfigs
	34: 1, // AlterReplicaLogDirs
	35: 1, // DescribeLogDirs
	38: 1, // CreateDelegationToken
	39: 1, // RenewDelegationToken
	40: 1, // ExpireDelegationToken
	41: 1, // DescribeDelegationToken
}

var protocolRelease = regexp.MustCompile(`^(?:0\.(8|9|10|11)(?:\.(\d+))?(?:\.\d+)?|([12])\.(\d+)(?:\.\d+)?)$`)

// ProtocolFloors returns, for a value of strata.protocol.min.version (a Kafka release:
// "0.8", "0.10.0", "0.11.0.3", "1.1", "2.1", …), the lowest version of each API key to
// accept, keys with floor 0 left out: the oldest version a client of that release sends,
// which is the highest version the release knew (kversion's tables), but never above
// Kafka 4's floor (KIP-896); "2.1" is Kafka 4's floor. An API the release did not have
// has no floor. Releases after 2.1 are refused: Kafka 4's floor is the highest there is.
func ProtocolFloors(release string) (map[int16]int16, error) {
	m := protocolRelease.FindStringSubmatch(release)
	if m == nil {
		return nil, fmt.Errorf("%q is not a Kafka release from 0.8.0 to 2.1 (such as 0.8, 0.10.0, 0.11.0, 1.1, 2.1)", release)
	}
	var name string
	if m[1] != "" { // 0.x[.y[.z]]: y selects 0.8.0-0.8.2 and 0.10.0-0.10.2
		patch := m[2]
		if patch == "" {
			patch = "0"
		}
		name = "0." + m[1] + "." + patch
	} else {
		major, _ := strconv.Atoi(m[3])
		minor, err := strconv.Atoi(m[4])
		if err != nil || major == 2 && minor > 1 || major == 1 && minor > 1 {
			return nil, fmt.Errorf("%q: the highest floor is Kafka 4's, 2.1 (KIP-896)", release)
		}
		name = fmt.Sprintf("%d.%d", major, minor)
	}
	if name == "2.1" {
		// Kafka 4's floor exactly (it is above 2.1's own versions for WriteTxnMarkers,
		// a broker-to-broker API).
		return maps.Clone(kip896Floors), nil
	}
	vs := kversion.FromString(name)
	if vs == nil {
		return nil, fmt.Errorf("%q: unknown Kafka release", release)
	}
	out := map[int16]int16{}
	for key, floor := range kip896Floors {
		if max, ok := vs.LookupMaxKeyVersion(key); ok && min(max, floor) > 0 {
			out[key] = min(max, floor)
		}
	}
	return out, nil
}

func protocolMinVersion(v string) error {
	_, err := ProtocolFloors(v)
	return err
}
