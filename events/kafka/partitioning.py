"""Key -> partition exactly as Kafka's Java client does it (murmur2, positive, modulo count).

The relay chooses partitions itself so it can hand aiokafka whole per-partition batches; using the
standard function keeps our placement identical to what any other Kafka producer would choose.
aiokafka's own murmur2 handles one byte at a time in Python; this one unpacks 32-bit words at once
(about 3x faster, equal on every input: a unit test compares them).
"""

import struct

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    length = len(data)
    h = (_SEED ^ length) & _MASK
    body_length = length & ~3
    for (k,) in struct.iter_unpack("<I", data[:body_length]):
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = data[body_length:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(key: bytes, partition_count: int) -> int:
    """The partition Kafka's default partitioner picks for a non-null key."""
    return (murmur2(key) & 0x7FFFFFFF) % partition_count
