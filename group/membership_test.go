package group

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestGroupJoinSyncHeartbeatSingle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		start := time.Now()
		ch := e.joinNew(ctx, jreq("g", ""))
		synctest.Wait()
		mustNotBeReady(t, ch) // initial rebalance delay
		r := recv(t, ch)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if waited := time.Since(start); waited != testDelay {
			t.Fatalf("first rebalance took %v, want the initial delay %v", waited, testDelay)
		}
		if r.res.Generation != 1 || r.res.LeaderID != r.res.MemberID || r.res.Protocol != "range" || len(r.res.Members) != 1 {
			t.Fatalf("join result %+v", r.res)
		}
		if got := e.state("g"); got != StateCompletingRebalance {
			t.Fatalf("state %v", got)
		}
		// Heartbeats are fine while completing.
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: 1, MemberID: r.res.MemberID}); err != nil {
			t.Fatal(err)
		}
		sr, err := e.c.Sync(ctx, &SyncRequest{Group: "g", Generation: 1, MemberID: r.res.MemberID,
			Assignments: map[string][]byte{r.res.MemberID: []byte("x")}})
		if err != nil || string(sr.Assignment) != "x" || sr.Protocol != "range" || sr.ProtocolType != "consumer" {
			t.Fatalf("sync %+v %v", sr, err)
		}
		if got := e.state("g"); got != StateStable {
			t.Fatalf("state %v", got)
		}
		// A member that keeps heartbeating stays past many session timeouts.
		for i := 0; i < 5; i++ {
			time.Sleep(testSession / 2) // virtual time
			if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: 1, MemberID: r.res.MemberID}); err != nil {
				t.Fatalf("heartbeat %d: %v", i, err)
			}
		}
	})
}

func TestGroupThreeMembersOneGeneration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ids, gen := e.stableGroup(context.Background(), "g", 3)
		if gen != 1 || len(ids) != 3 {
			t.Fatalf("gen %d ids %v", gen, ids)
		}
		d := e.c.DescribeGroups([]string{"g"})[0]
		if d.State != StateStable || d.Protocol != "range" || len(d.Members) != 3 {
			t.Fatalf("describe %+v", d)
		}
		for _, m := range d.Members {
			if string(m.Assignment) != "a-"+m.MemberID {
				t.Fatalf("member %s assignment %q", m.MemberID, m.Assignment)
			}
		}
	})
}

func TestGroupNewMemberTriggersRebalance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		ids, gen := e.stableGroup(ctx, "g", 2)
		ch3 := e.joinNew(ctx, jreq("g", ""))
		synctest.Wait()
		mustNotBeReady(t, ch3)
		for _, id := range ids {
			err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: gen, MemberID: id})
			if !errors.Is(err, ErrRebalanceInProgress) {
				t.Fatalf("heartbeat during rebalance: %v", err)
			}
		}
		// SyncGroup and commits from the old generation during PreparingRebalance.
		if _, err := e.c.Sync(ctx, &SyncRequest{Group: "g", Generation: gen, MemberID: ids[0]}); !errors.Is(err, ErrRebalanceInProgress) {
			t.Fatalf("sync: %v", err)
		}
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: gen, MemberID: ids[1],
			Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 5, LeaderEpoch: -1}}}); err != nil {
			t.Fatalf("commit during preparing from the current generation: %v", err)
		}
		start := time.Now()
		var chs []<-chan joinRet
		for _, id := range ids {
			chs = append(chs, e.joinAsync(ctx, jreq("g", id)))
		}
		var leaders int
		for _, ch := range append(chs, ch3) {
			r := recv(t, ch)
			if r.err != nil || r.res.Generation != gen+1 {
				t.Fatalf("rejoin %+v %v", r.res, r.err)
			}
			if len(r.res.Members) > 0 {
				leaders++
				if len(r.res.Members) != 3 || r.res.LeaderID != ids[0] {
					t.Fatalf("leader result %+v (old leader %s)", r.res, ids[0])
				}
			}
		}
		if leaders != 1 || time.Since(start) != 0 {
			t.Fatalf("leaders %d, took %v (must complete as soon as all rejoined)", leaders, time.Since(start))
		}
		// Old generation is now illegal.
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: gen, MemberID: ids[0]}); !errors.Is(err, ErrIllegalGeneration) {
			t.Fatalf("old generation heartbeat: %v", err)
		}
	})
}

func TestGroupSessionExpiryEvicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		ids, gen := e.stableGroup(ctx, "g", 2)
		survivor, dead := ids[0], ids[1]
		start := time.Now()
		// Only the survivor heartbeats; the other member is gone without leaving.
		for {
			time.Sleep(time.Second) // virtual time
			err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: gen, MemberID: survivor})
			if errors.Is(err, ErrRebalanceInProgress) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 2*testSession {
				t.Fatal("dead member never evicted")
			}
		}
		if el := time.Since(start); el < testSession || el > testSession+time.Second {
			t.Fatalf("evicted after %v, session timeout %v", el, testSession)
		}
		r, err := e.c.Join(ctx, jreq("g", survivor))
		if err != nil || r.Generation != gen+1 || len(r.Members) != 1 {
			t.Fatalf("rejoin %+v %v", r, err)
		}
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: r.Generation, MemberID: dead}); !errors.Is(err, ErrUnknownMemberID) {
			t.Fatalf("evicted member heartbeat: %v", err)
		}
	})
}

func TestGroupRebalanceTimeoutEvictsLaggards(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		ids, _ := e.stableGroup(ctx, "g", 2)
		start := time.Now()
		// ids[0] rejoins with new metadata (forces a rebalance); ids[1] keeps heartbeating
		// (so its session never expires) but never rejoins.
		r := jreq("g", ids[0])
		r.Protocols[0].Metadata = consumerMeta("t", "u")
		ch := e.joinAsync(ctx, r)
		var res joinRet
	loop:
		for {
			select {
			case res = <-ch:
				break loop
			case <-time.After(3 * time.Second): // virtual time; 20s is not a multiple
				err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: 1, MemberID: ids[1]})
				if !errors.Is(err, ErrRebalanceInProgress) {
					t.Fatalf("laggard heartbeat after %v: %v", time.Since(start), err)
				}
			}
		}
		if res.err != nil || len(res.res.Members) != 1 {
			t.Fatalf("%+v %v", res.res, res.err)
		}
		if el := time.Since(start); el != testRebalance {
			t.Fatalf("completed after %v, want the rebalance timeout %v", el, testRebalance)
		}
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: 2, MemberID: ids[1]}); !errors.Is(err, ErrUnknownMemberID) {
			t.Fatalf("evicted laggard: %v", err)
		}
	})
}

func TestGroupLeaveRebalancesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		ids, gen := e.stableGroup(ctx, "g", 2)
		errs, err := e.c.Leave("g", []LeaveMember{{MemberID: ids[1]}, {MemberID: "nobody"}})
		if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnknownMemberID) {
			t.Fatalf("leave %v %v", errs, err)
		}
		start := time.Now()
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: gen, MemberID: ids[0]}); !errors.Is(err, ErrRebalanceInProgress) {
			t.Fatalf("heartbeat after leave: %v", err)
		}
		r, err := e.c.Join(ctx, jreq("g", ids[0]))
		if err != nil || len(r.Members) != 1 || time.Since(start) != 0 {
			t.Fatalf("rejoin %+v %v after %v", r, err, time.Since(start))
		}
		// Last member leaves: group goes Empty immediately.
		if _, err := e.c.Sync(ctx, &SyncRequest{Group: "g", Generation: r.Generation, MemberID: ids[0]}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Leave("g", []LeaveMember{{MemberID: ids[0]}}); err != nil {
			t.Fatal(err)
		}
		if got := e.state("g"); got != StateEmpty {
			t.Fatalf("state after last leave: %v", got)
		}
		// Leave of an unknown group.
		errs, _ = e.c.Leave("nope", []LeaveMember{{MemberID: "x"}})
		if !errors.Is(errs[0], ErrUnknownMemberID) {
			t.Fatal(errs)
		}
	})
}

func TestGroupLeaveWhileJoining(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		ids, _ := e.stableGroup(ctx, "g", 2)
		r := jreq("g", ids[0])
		r.Protocols[0].Metadata = consumerMeta("other")
		ch := e.joinAsync(ctx, r)
		synctest.Wait()
		mustNotBeReady(t, ch)
		// ids[1] leaves instead of rejoining: the rebalance completes without waiting.
		if _, err := e.c.Leave("g", []LeaveMember{{MemberID: ids[1]}}); err != nil {
			t.Fatal(err)
		}
		res := recv(t, ch)
		if res.err != nil || len(res.res.Members) != 1 {
			t.Fatalf("%+v %v", res.res, res.err)
		}
	})
}

func TestGroupStaticMemberRejoinNoRebalance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		inst := []string{"i-0", "i-1"}
		var chs []<-chan joinRet
		for i := range inst {
			r := jreq("g", "")
			r.InstanceID = &inst[i]
			r.RequireKnownMemberID = true // static members skip MEMBER_ID_REQUIRED
			chs = append(chs, e.joinAsync(ctx, r))
		}
		var res []JoinResult
		for _, ch := range chs {
			r := recv(t, ch)
			if r.err != nil {
				t.Fatal(r.err)
			}
			res = append(res, r.res)
		}
		gen := res[0].Generation
		leader := res[0].LeaderID
		assign := map[string][]byte{}
		for _, r := range res {
			assign[r.MemberID] = []byte("a-" + r.MemberID)
		}
		var follower JoinResult
		var followerInst string
		for i, r := range res {
			if r.MemberID != leader {
				follower, followerInst = r, inst[i]
			}
		}
		sch := e.syncAsync(ctx, &SyncRequest{Group: "g", Generation: gen, MemberID: follower.MemberID})
		if _, err := e.c.Sync(ctx, &SyncRequest{Group: "g", Generation: gen, MemberID: leader, Assignments: assign}); err != nil {
			t.Fatal(err)
		}
		recv(t, sch)

		// The follower restarts: same instance ID, no member ID.
		r := jreq("g", "")
		r.InstanceID = &followerInst
		jr, err := e.c.Join(ctx, r)
		if err != nil || jr.Generation != gen || jr.MemberID == follower.MemberID || jr.LeaderID != leader {
			t.Fatalf("static rejoin %+v %v", jr, err)
		}
		if got := e.state("g"); got != StateStable {
			t.Fatalf("static rejoin caused state %v", got)
		}
		sr, err := e.c.Sync(ctx, &SyncRequest{Group: "g", Generation: gen, MemberID: jr.MemberID, InstanceID: &followerInst})
		if err != nil || string(sr.Assignment) != "a-"+follower.MemberID {
			t.Fatalf("old assignment not returned: %q %v", sr.Assignment, err)
		}
		// The old incarnation is fenced.
		err = e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: gen, MemberID: follower.MemberID, InstanceID: &followerInst})
		if !errors.Is(err, ErrFencedInstanceID) {
			t.Fatalf("old incarnation: %v", err)
		}
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: gen, MemberID: leader}); err != nil {
			t.Fatalf("leader heartbeat after static rejoin: %v", err)
		}
		// Static leader rejoin: gets the member list with SkipAssignment.
		lr := jreq("g", "")
		lr.InstanceID = &inst[0]
		if res[0].MemberID != leader {
			lr.InstanceID = &inst[1]
		}
		ljr, err := e.c.Join(ctx, lr)
		if err != nil || !ljr.SkipAssignment || len(ljr.Members) != 2 || ljr.LeaderID != ljr.MemberID || ljr.Generation != gen {
			t.Fatalf("static leader rejoin %+v %v", ljr, err)
		}
		// Leave by instance ID, with a wrong member ID: fenced.
		errs, _ := e.c.Leave("g", []LeaveMember{{MemberID: "wrong", InstanceID: &followerInst}})
		if !errors.Is(errs[0], ErrFencedInstanceID) {
			t.Fatal(errs)
		}
		errs, _ = e.c.Leave("g", []LeaveMember{{InstanceID: &followerInst}})
		if errs[0] != nil || e.state("g") != StatePreparingRebalance {
			t.Fatalf("%v %v", errs, e.state("g"))
		}
	})
}

func TestGroupErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		ids, gen := e.stableGroup(ctx, "g", 1)
		id := ids[0]
		inst := "static"

		r := jreq("g", "")
		r.SessionTimeout = time.Second
		if _, err := e.c.Join(ctx, r); !errors.Is(err, ErrInvalidSessionTimeout) {
			t.Errorf("short session: %v", err)
		}
		r.SessionTimeout = time.Hour
		if _, err := e.c.Join(ctx, r); !errors.Is(err, ErrInvalidSessionTimeout) {
			t.Errorf("long session: %v", err)
		}
		if _, err := e.c.Join(ctx, jreq("g", "ghost")); !errors.Is(err, ErrUnknownMemberID) {
			t.Errorf("unknown member join: %v", err)
		}
		if _, err := e.c.Join(ctx, jreq("nogroup", "ghost")); !errors.Is(err, ErrUnknownMemberID) {
			t.Errorf("unknown group join: %v", err)
		}
		if _, err := e.c.Join(ctx, jreq("g", "", "roundrobin")); !errors.Is(err, ErrInconsistentGroupProtocol) {
			t.Errorf("unsupported protocol: %v", err)
		}
		pt := jreq("g", "")
		pt.ProtocolType = "connect"
		if _, err := e.c.Join(ctx, pt); !errors.Is(err, ErrInconsistentGroupProtocol) {
			t.Errorf("other protocol type: %v", err)
		}
		empty := jreq("g2", "")
		empty.Protocols = nil
		if _, err := e.c.Join(ctx, empty); !errors.Is(err, ErrInconsistentGroupProtocol) {
			t.Errorf("no protocols: %v", err)
		}
		if _, err := e.c.Join(ctx, jreq("", "")); !errors.Is(err, ErrInvalidGroupID) {
			t.Errorf("empty group: %v", err)
		}
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: gen + 7, MemberID: id}); !errors.Is(err, ErrIllegalGeneration) {
			t.Errorf("heartbeat generation: %v", err)
		}
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", Generation: gen, MemberID: "ghost"}); !errors.Is(err, ErrUnknownMemberID) {
			t.Errorf("heartbeat member: %v", err)
		}
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "nogroup", Generation: gen, MemberID: id}); !errors.Is(err, ErrUnknownMemberID) {
			t.Errorf("heartbeat group: %v", err)
		}
		if _, err := e.c.Sync(ctx, &SyncRequest{Group: "g", Generation: gen + 1, MemberID: id}); !errors.Is(err, ErrIllegalGeneration) {
			t.Errorf("sync generation: %v", err)
		}
		if _, err := e.c.Sync(ctx, &SyncRequest{Group: "g", Generation: gen, MemberID: "ghost"}); !errors.Is(err, ErrUnknownMemberID) {
			t.Errorf("sync member: %v", err)
		}
		wrong := "roundrobin"
		if _, err := e.c.Sync(ctx, &SyncRequest{Group: "g", Generation: gen, MemberID: id, Protocol: &wrong}); !errors.Is(err, ErrInconsistentGroupProtocol) {
			t.Errorf("sync protocol: %v", err)
		}
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: gen + 1, MemberID: id,
			Offsets: []CommitOffset{{Topic: "t", Offset: 1}}}); !errors.Is(err, ErrIllegalGeneration) {
			t.Errorf("commit generation: %v", err)
		}
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: gen, MemberID: "ghost",
			Offsets: []CommitOffset{{Topic: "t", Offset: 1}}}); !errors.Is(err, ErrUnknownMemberID) {
			t.Errorf("commit member: %v", err)
		}
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: -1,
			Offsets: []CommitOffset{{Topic: "t", Offset: 1}}}); !errors.Is(err, ErrUnknownMemberID) {
			t.Errorf("simple commit to active group: %v", err)
		}
		if _, err := e.c.Commit(&CommitRequest{Group: "nogroup", Generation: 3, MemberID: "m",
			Offsets: []CommitOffset{{Topic: "t", Offset: 1}}}); !errors.Is(err, ErrIllegalGeneration) {
			t.Errorf("commit unknown group with generation: %v", err)
		}
		big := string(make([]byte, DefaultMaxMetadataBytes+1))
		errs, err := e.c.Commit(&CommitRequest{Group: "g", Generation: gen, MemberID: id,
			Offsets: []CommitOffset{{Topic: "t", Offset: 1, Metadata: &big}, {Topic: "t", Partition: 1, Offset: 2}}})
		if err != nil || !errors.Is(errs[0], ErrOffsetMetadataTooLarge) || errs[1] != nil {
			t.Errorf("metadata too large: %v %v", errs, err)
		}
		// Static member: a join with a member ID that does not own the instance is fenced.
		sr := jreq("g", "")
		sr.InstanceID = &inst
		jr, err := e.c.Join(ctx, sr)
		_ = jr
		var rej <-chan joinRet
		if err != nil {
			t.Fatal(err)
		}
		fr := jreq("g", id)
		fr.InstanceID = &inst
		rej = e.joinAsync(ctx, fr)
		if r := recv(t, rej); !errors.Is(r.err, ErrFencedInstanceID) {
			t.Errorf("fenced join: %v", r.err)
		}
		// MEMBER_ID_REQUIRED is covered by joinNew; sync of a group that does not exist:
		if _, err := e.c.Sync(ctx, &SyncRequest{Group: "nogroup", MemberID: "m"}); !errors.Is(err, ErrUnknownMemberID) {
			t.Errorf("sync unknown group: %v", err)
		}
	})
}

func TestGroupSyncDuringCompletingWaitsForLeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		a := e.joinNew(ctx, jreq("g", ""))
		b := e.joinNew(ctx, jreq("g", ""))
		ra, rb := recv(t, a), recv(t, b)
		follower := ra.res
		if len(ra.res.Members) > 0 {
			follower = rb.res
		}
		ch := e.syncAsync(ctx, &SyncRequest{Group: "g", Generation: follower.Generation, MemberID: follower.MemberID})
		synctest.Wait()
		mustNotBeReady(t, ch)
		// A third member joins before the leader syncs: the waiting follower is told to rejoin.
		c := e.joinNew(ctx, jreq("g", ""))
		if r := recv(t, ch); !errors.Is(r.err, ErrRebalanceInProgress) {
			t.Fatalf("follower sync: %v", r.err)
		}
		// Nobody else rejoins: after the rebalance timeout only the newcomer remains.
		r := recv(t, c)
		if r.err != nil || len(r.res.Members) != 1 {
			t.Fatalf("%+v %v", r.res, r.err)
		}
	})
}

func TestGroupProtocolSelection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		a := e.joinNew(ctx, jreq("g", "", "cooperative-sticky", "range"))
		b := e.joinNew(ctx, jreq("g", "", "cooperative-sticky", "range"))
		c := e.joinNew(ctx, jreq("g", "", "range", "cooperative-sticky", "roundrobin"))
		for _, ch := range []<-chan joinRet{a, b, c} {
			r := recv(t, ch)
			if r.err != nil || r.res.Protocol != "cooperative-sticky" {
				t.Fatalf("%+v %v", r.res, r.err)
			}
		}
	})
}

func TestGroupCloseAndContextUnblock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		ch := e.joinNew(ctx, jreq("g", ""))
		synctest.Wait()
		cancel()
		if r := recv(t, ch); !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled join: %v", r.err)
		}
		ids, _ := e.stableGroup(context.Background(), "h", 1)
		rj := jreq("h", ids[0])
		rj.Protocols[0].Metadata = consumerMeta("zzz")
		ch2 := e.joinNew(context.Background(), jreq("h", ""))
		synctest.Wait()
		mustNotBeReady(t, ch2)
		e.c.Close()
		if r := recv(t, ch2); !errors.Is(r.err, ErrCoordinatorNotAvailable) {
			t.Fatalf("join after close: %v", r.err)
		}
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "h", MemberID: ids[0], Generation: 1}); !errors.Is(err, ErrCoordinatorNotAvailable) {
			t.Fatal(err)
		}
		e.c.Close() // idempotent
	})
}
