package server

import (
	"github.com/stratalog/strata/internal/config"
)

// The version floor (strata.protocol.min.version): an operator may refuse the request
// versions older than a Kafka release's clients send, up to Kafka 4's floor (KIP-896,
// internal/config.ProtocolFloors). A request below the floor closes the connection, as
// Kafka 4 closes one of a version it does not support; ApiVersions advertises the floor.

// protocolFloors reads the floors of the broker setting (validated by openData).
func (s *Server) protocolFloors() map[int16]int16 {
	floors, err := config.ProtocolFloors(s.data.broker.String(config.ProtocolMinVersion))
	if err != nil {
		s.log.Warn("ignoring "+config.ProtocolMinVersion, "err", err) // validated: unreachable
		return nil
	}
	return floors
}

// minVersion is the lowest version of a accepted: its own lowest, or the floor.
func (s *Server) minVersion(a api) int16 { return max(a.min, s.floors[a.key]) }

// advertisedMin is the lowest version of a that ApiVersions lists: minVersion, except for
// Produce, listed from its lowest version whatever the floor, as Kafka 4 lists Produce v0
// though it refuses v0-v2 (KAFKA-18659): librdkafka enables compression only when
// Produce v0 is listed. Clients pick the highest version both sides know, never v0.
func (s *Server) advertisedMin(a api) int16 {
	if a.key == 0 {
		return a.min
	}
	return s.minVersion(a)
}
