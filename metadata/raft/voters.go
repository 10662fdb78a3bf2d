package raft

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Errors of a quorum change (AddVoter, RemoveVoter), Kafka's DUPLICATE_VOTER and
// VOTER_NOT_FOUND.
var (
	ErrDuplicateVoter = errors.New("raft: the node is a voter already")
	ErrVoterNotFound  = errors.New("raft: the node is not a voter")
)

// Voter is one entry of controller.quorum.voters: a node id and the address of its Raft
// listener (host:port).
type Voter struct {
	ID   int32
	Addr string
}

// String formats the voter as controller.quorum.voters has it: id@host:port.
func (v Voter) String() string { return strconv.Itoa(int(v.ID)) + "@" + v.Addr }

// ParseVoters parses controller.quorum.voters, Kafka's format: comma-separated
// id@host:port entries, ids and addresses unique, ids not negative.
func ParseVoters(s string) ([]Voter, error) {
	var out []Voter
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		idStr, addr, ok := strings.Cut(e, "@")
		if !ok {
			return nil, fmt.Errorf("raft: controller.quorum.voters entry %q: want id@host:port", e)
		}
		id, err := strconv.ParseInt(idStr, 10, 32)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("raft: controller.quorum.voters entry %q: bad node id %q", e, idStr)
		}
		host, port, err := net.SplitHostPort(addr)
		if p, perr := strconv.ParseUint(port, 10, 16); err != nil || host == "" || perr != nil || p == 0 {
			return nil, fmt.Errorf("raft: controller.quorum.voters entry %q: bad address %q, want host:port", e, addr)
		}
		for _, v := range out {
			if v.ID == int32(id) {
				return nil, fmt.Errorf("raft: controller.quorum.voters: node id %d listed twice", id)
			}
			if v.Addr == addr {
				return nil, fmt.Errorf("raft: controller.quorum.voters: address %s listed twice", addr)
			}
		}
		out = append(out, Voter{ID: int32(id), Addr: addr})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("raft: controller.quorum.voters is empty")
	}
	slices.SortFunc(out, func(a, b Voter) int { return int(a.ID) - int(b.ID) })
	return out, nil
}
