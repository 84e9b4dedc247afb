#!/usr/bin/env python3
"""Wait until a Kafka broker answers a Metadata request (stdlib only).

An open port is not enough: a KRaft broker accepts TCP before it has joined
the quorum. We send ApiVersions (v0, accepted by every broker) to learn which
Metadata versions it speaks, then a Metadata request (v4..v8, the non-flexible
encoding), and call it ready once the answer lists at least one broker and a
controller. Used by scripts/stack.sh before the Python venv exists.

usage: kafka_ready.py [--host H] [--port P] [--timeout S] [--cluster-id ID] [--pid N] [-q]
exit 0 when ready, 1 on timeout.
"""

import argparse
import socket
import struct
import sys
import time

API_METADATA, API_VERSIONS = 3, 18
CLIENT_ID = b"fees-stack-ready"


class Reader:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, fmt):
        (val,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return val

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.buf[self.pos : self.pos + n].decode()
        self.pos += n
        return s


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        data += chunk
    return data


def call(sock, api_key, version, corr, body):
    # Request header v1: api_key, api_version, correlation_id, client_id.
    header = struct.pack(">hhih", api_key, version, corr, len(CLIENT_ID)) + CLIENT_ID
    msg = header + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    r = Reader(_recv_exact(sock, size))
    if r.take(">i") != corr:
        raise ValueError("correlation id mismatch")
    return r


def probe(host, port, timeout):
    """Return (cluster_id, controller_id, brokers) or raise."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        r = call(sock, API_VERSIONS, 0, 1, b"")
        err = r.take(">h")
        if err:
            raise RuntimeError(f"ApiVersions error {err}")
        versions = {}
        for _ in range(r.take(">i")):
            key, lo, hi = r.take(">h"), r.take(">h"), r.take(">h")
            versions[key] = (lo, hi)
        lo, hi = versions.get(API_METADATA, (0, -1))
        ver = min(hi, 8)
        if ver < max(lo, 4):
            raise RuntimeError(f"no usable Metadata version (broker: {lo}-{hi})")
        # Metadata v4-v7: topics=null (all), allow_auto_topic_creation=false;
        # v8 adds include_cluster/topic_authorized_operations booleans.
        body = struct.pack(">ib", -1, 0) + (b"\x00\x00" if ver >= 8 else b"")
        r = call(sock, API_METADATA, ver, 2, body)
        r.take(">i")  # throttle_time_ms
        brokers = []
        for _ in range(r.take(">i")):
            node, host_, port_ = r.take(">i"), r.string(), r.take(">i")
            r.string()  # rack
            brokers.append((node, host_, port_))
        cluster_id = r.string()
        controller = r.take(">i")
        return cluster_id, controller, brokers


def alive(pid):
    """True while pid runs (a zombie, i.e. exited but not yet reaped, counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=59092)
    ap.add_argument("--timeout", type=float, default=90.0, help="total seconds to wait")
    ap.add_argument("--cluster-id", help="also require this cluster id")
    ap.add_argument("--pid", type=int, help="give up at once if this process exits")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout
    last = "no attempt"
    while True:
        try:
            cid, ctrl, brokers = probe(a.host, a.port, 5.0)
            if not brokers or ctrl < 0:
                last = f"metadata without brokers/controller ({brokers}, {ctrl})"
            elif a.cluster_id and cid != a.cluster_id:
                last = f"cluster id {cid} != expected {a.cluster_id}"
            else:
                if not a.quiet:
                    print(f"kafka ready: cluster {cid}, controller {ctrl}, brokers {brokers}")
                return 0
        except (OSError, ValueError, RuntimeError, struct.error) as e:
            last = f"{type(e).__name__}: {e}"
        if a.pid and not alive(a.pid):
            print(f"kafka process {a.pid} exited before it was ready ({last})", file=sys.stderr)
            return 1
        if time.monotonic() >= deadline:
            print(
                f"kafka not ready at {a.host}:{a.port} after {a.timeout:g}s: {last}",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.25)


if __name__ == "__main__":
    sys.exit(main())
