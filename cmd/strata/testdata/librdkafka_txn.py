"""librdkafka (confluent-kafka) against a three-node Strata cluster: a topic of
replication factor 3 created with the AdminClient, transactions committed and aborted by
a transactional producer, and a read_committed consumer group that reads exactly the
committed records, each once. Run by TestClusterProcessLibrdkafka (cmd/strata) with
BROKERS set; prints OK and exits 0, or prints what failed and exits 1."""
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

brokers = os.environ["BROKERS"]
topic, parts = "rdk-rf3", 3


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


admin = AdminClient({"bootstrap.servers": brokers})
for f in admin.create_topics([NewTopic(topic, parts, 3)], operation_timeout=30).values():
    f.result(timeout=60)
deadline = time.time() + 30
while True:  # every partition with three replicas, all in sync
    md = admin.list_topics(topic, timeout=10).topics[topic]
    if md.error is None and len(md.partitions) == parts and all(
        len(p.replicas) == 3 and len(p.isrs) == 3 and p.leader >= 0 for p in md.partitions.values()
    ):
        break
    if time.time() > deadline:
        fail("topic not in sync: %s" % {i: (p.leader, p.replicas, p.isrs) for i, p in md.partitions.items()})
    time.sleep(0.2)

p = Producer({"bootstrap.servers": brokers, "transactional.id": "rdk-txn", "acks": "all",
              "enable.idempotence": True, "linger.ms": 5})
p.init_transactions(30)
committed = set()
for name, n, commit in (("c1", 300, True), ("a1", 50, False), ("c2", 60, True)):
    p.begin_transaction()
    for i in range(n):
        v = "%s-%d" % (name, i)
        p.produce(topic, value=v.encode(), key=str(i).encode(), partition=i % parts)
        if commit:
            committed.add(v)
    p.flush(30)
    if commit:
        p.commit_transaction(30)
    else:
        p.abort_transaction(30)

c = Consumer({"bootstrap.servers": brokers, "group.id": "rdk-rf3-group", "isolation.level": "read_committed",
              "auto.offset.reset": "earliest", "enable.auto.commit": False})
c.subscribe([topic])
seen, dups = set(), 0
deadline = time.time() + 60
while len(seen) < len(committed) and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        raise KafkaException(m.error())
    v = m.value().decode()
    if v in seen:
        dups += 1
    seen.add(v)
time.sleep(1)  # anything past the committed records (an aborted one) shows up now
for m in c.consume(num_messages=100, timeout=1):
    if not m.error():
        seen.add(m.value().decode())
c.commit(asynchronous=False)
c.close()
if seen != committed or dups:
    fail("read %d records (%d duplicated), want the %d committed; aborted read: %d, committed missing: %d"
         % (len(seen), dups, len(committed), len(seen - committed), len(committed - seen)))
print("OK %d committed records read once, none of the %d aborted" % (len(committed), 50))
