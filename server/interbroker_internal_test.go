package server

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/share"
)

// TestInterBrokerAddrRetriable: a broker the image does not show on the inter-broker
// listener (registered with other listeners only, or not registered) has no address:
// a retriable outcome, not a hard failure. Share-partition states retry it, and a
// client whose request needed the broker is answered COORDINATOR_NOT_AVAILABLE (was
// UNKNOWN_SERVER_ERROR), as Kafka answers when its metadata cache has no node of the
// listener.
func TestInterBrokerAddrRetriable(t *testing.T) {
	ib := &interBroker{listener: Listener{Name: "PLAINTEXT"}}
	im := metadata.NewImage("c", 1,
		metadata.Broker{ID: 1, Endpoints: []metadata.Endpoint{{Listener: "SSL", Host: "h", Port: 1}}},
		metadata.Broker{ID: 2, Endpoints: []metadata.Endpoint{{Listener: "SSL", Host: "h", Port: 1}, {Listener: "PLAINTEXT", Host: "h", Port: 2}}})
	if addr, err := ib.addr(im, 2); addr != "h:2" || err != nil {
		t.Fatalf("broker 2: %q, %v", addr, err)
	}
	for _, id := range []int32{1, 3} {
		_, err := ib.addr(im, id)
		if !errors.Is(err, errNoEndpoint) || !retriableShareState(err) {
			t.Errorf("broker %d: %v, want a retriable errNoEndpoint", id, err)
		}
		if code := errorCode(&share.StoreError{Err: err}); code != kerr.CoordinatorNotAvailable.Code {
			t.Errorf("broker %d: a share-partition state's failure answered %v, want COORDINATOR_NOT_AVAILABLE", id, kerr.ErrorForCode(code))
		}
	}
}
