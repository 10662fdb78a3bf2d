"""Produces, consumes and commits with kafka-python pinned to an old protocol version.

Usage: kafka_python_legacy.py ADDR API_VERSION TOPIC GROUP COMPRESSION N
API_VERSION is dotted (0.10.0); COMPRESSION is none, gzip, snappy or lz4.
Prints one JSON object: the messages consumed (offset, key, value, timestamp) and the
offset committed. Driven by server/kafka_python_test.go.
"""
import json
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

addr, version, topic, group, codec, n = sys.argv[1:7]
version = tuple(int(x) for x in version.split("."))
n = int(n)
timestamps = version >= (0, 10, 0)

producer = KafkaProducer(bootstrap_servers=addr, api_version=version, acks="all",
                         compression_type=None if codec == "none" else codec)
futures = [producer.send(topic, key=b"k%d" % i, value=b"v%d" % i,
                         timestamp_ms=1600000000000 + i if timestamps else None)
           for i in range(n)]
producer.flush()
for f in futures:
    f.get(timeout=30)
producer.close()

consumer = KafkaConsumer(topic, bootstrap_servers=addr, api_version=version, group_id=group,
                         auto_offset_reset="earliest", enable_auto_commit=False,
                         consumer_timeout_ms=30000)
got = []
for m in consumer:
    got.append({"offset": m.offset, "key": m.key.decode(), "value": m.value.decode(),
                "timestamp": m.timestamp})
    if len(got) == n:
        break
consumer.commit()
committed = consumer.committed(TopicPartition(topic, 0))
consumer.close()
print(json.dumps({"messages": got, "committed": committed}))
