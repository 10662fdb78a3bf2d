package server

import (
	"context"
	"encoding/binary"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire"
)

// TestReplicaRoundTripBuffer: a replica connection reads an answer into the buffer it is
// given when that is large enough (the fetchers reuse one), else into a new one, and
// decodes it either way.
func TestReplicaRoundTripBuffer(t *testing.T) {
	client, broker := net.Pipe()
	defer client.Close()
	defer broker.Close()
	go func() { // answers every request with ApiVersions v0: error 0, one key
		for {
			frame, err := wire.ReadFrame(broker, nil, 1<<20)
			if err != nil {
				return
			}
			corr := binary.BigEndian.Uint32(frame[4:])
			resp := kmsg.NewApiVersionsResponse()
			resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: 1, MinVersion: 0, MaxVersion: 16}}
			body := resp.AppendTo(binary.BigEndian.AppendUint32(nil, corr))
			if _, err := broker.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)); err != nil {
				return
			}
		}
	}()
	bc := &brokerConn{nc: client}
	check := func(buf []byte) []byte {
		t.Helper()
		req := kmsg.NewPtrApiVersionsRequest()
		resp, frame, err := bc.roundTrip(context.Background(), "test", req, buf)
		if err != nil {
			t.Fatal(err)
		}
		if r := resp.(*kmsg.ApiVersionsResponse); len(r.ApiKeys) != 1 || r.ApiKeys[0].MaxVersion != 16 {
			t.Fatalf("decoded %+v", r)
		}
		return frame
	}
	buf := make([]byte, 0, 4096)
	if frame := check(buf); &frame[:1][0] != &buf[:1][0] {
		t.Fatal("the answer was not read into the buffer given")
	}
	small := make([]byte, 0, 2)
	if frame := check(small); &frame[:1][0] == &small[:1][0] || len(frame) < 8 {
		t.Fatal("an answer larger than the buffer given must go to a new one")
	}
}
