package server_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/server/servertest"
)

// FuzzProduceRecords sends arbitrary bytes as the Records of a ProduceRequest.
// Invariants: the broker never panics nor drops the connection; every answer is either
// success (the bytes were valid batches, appended at the log end) or a per-partition
// error code; and the broker keeps serving a valid produce afterwards.
func FuzzProduceRecords(f *testing.F) {
	good := testutil.Batch(testutil.BatchOptions{Records: 3, KeySize: 4})
	f.Add(good)
	f.Add(testutil.Batches(2, testutil.BatchOptions{Records: 2}))
	f.Add(testutil.Batch(testutil.BatchOptions{ProducerID: 3, BaseSequence: 0}))
	f.Add(good[:len(good)-1])
	f.Add(good[:61])
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff})
	s := servertest.StartBroker(f, "", nil)
	cl := newClientTB(f, s)
	createTopicTB(f, s, cl, "fuzz")
	f.Fuzz(func(t *testing.T, records []byte) {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "fuzz"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = records
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := wireRequest(t, s, req).(*kmsg.ProduceResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("response shape %+v", resp)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode == 0 && p.BaseOffset < 0 {
			t.Fatalf("success without offset: %+v", p)
		}
		if p.ErrorCode == kerr.UnknownServerError.Code {
			t.Fatalf("unmapped error: %v", p.ErrorMessage)
		}
		if after := rawProduce(t, cl, "fuzz", 0, -1, testutil.Batch(testutil.BatchOptions{})); after.ErrorCode != 0 {
			t.Fatalf("valid produce after fuzz input: %+v", after)
		}
	})
}
