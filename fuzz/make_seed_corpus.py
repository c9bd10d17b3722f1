#!/usr/bin/env python3
"""Writes the hand-made seed inputs of fuzz/corpus/receive/ (receive_fuzzer's script format,
described at the top of receive_fuzzer.cpp). Run from the repository root:

    python3 fuzz/make_seed_corpus.py

Seeds are named seed-*; inputs found by fuzzing and kept (tools/fuzz --merge) are named by
libFuzzer after their SHA-1.
"""

import os
import struct

STREAM, SEQPACKET, DGRAM, FRAMED = 0, 1, 2, 3
PASSCRED, PASSPIDFD, NO_CLOEXEC = 1, 2, 4


def framed_flags(max_index, read_index):
    return (max_index << 3) | (read_index << 6)


def send(size, fds=0, creds=0):
    return bytes([0]) + struct.pack("<HBB", size, fds, creds)


def raw(data):
    return bytes([1, len(data)]) + data


SHUT = bytes([2])
CLOSE = bytes([3])


def recv(api, size):
    return bytes([4, api]) + struct.pack("<H", size)


def recv_limited(free, api, size):
    return bytes([5, free, api]) + struct.pack("<H", size)


def frame(size):
    return bytes([6]) + struct.pack("<H", size)


def drain(api, size):
    return bytes([7, api]) + struct.pack("<H", size)


SEEDS = {
    "stream-bytes-then-eof": bytes([STREAM, 0]) + send(100) + recv(0, 64) + recv(1, 36) + SHUT
    + recv(0, 10),
    "stream-exact-cut-by-close": bytes([STREAM, 0]) + send(50) + CLOSE + recv(1, 80),
    "stream-fds-fit": bytes([STREAM, 0]) + send(10, 3) + recv(3, 100),
    "stream-fds-overflow": bytes([STREAM, 0]) + send(10, 10) + recv(3, 100) + send(5) + drain(0, 8),
    "stream-vector-253": bytes([STREAM, NO_CLOEXEC]) + send(1, 253) + recv(4, 1),
    "stream-peek": bytes([STREAM, 0]) + send(20) + recv(2, 8) + recv(0, 20),
    "stream-emfile": bytes([STREAM, 0]) + send(4, 6) + recv_limited(2, 3, 16),
    "seqpacket-fds-and-truncation": bytes([SEQPACKET, 0]) + send(1000, 2) + recv(3, 2000)
    + send(5000) + recv(0, 100) + SHUT + recv(1, 10),
    "seqpacket-credentials-pidfd": bytes([SEQPACKET, PASSCRED | PASSPIDFD]) + send(8, 1, 1)
    + recv(3, 64) + send(8, 0, 1) + recv(4, 64),
    "seqpacket-emfile": bytes([SEQPACKET, 0]) + send(1, 1) * 3 + recv_limited(0, 3, 4)
    + recv_limited(1, 4, 4) + recv_limited(3, 3, 4),
    "seqpacket-flood-253": bytes([SEQPACKET, 0]) + send(3, 253) + recv(4, 16) + send(3) + recv(1, 3),
    "seqpacket-empties-then-end": bytes([SEQPACKET, 0]) + send(0) * 5 + CLOSE + drain(1, 4),
    "seqpacket-batch": bytes([SEQPACKET, 0]) + send(10) + send(300) + send(0) + SHUT + drain(5, 400),
    "dgram-batch-truncated": bytes([DGRAM, 0]) + send(30) + send(3000) + send(7) + recv(5, 4000),
    "dgram-messages": bytes([DGRAM, PASSCRED]) + send(0) + send(64, 2) + drain(3, 64)
    + recv(1, 64),
    "framed-frames": bytes([FRAMED, framed_flags(4, 1)]) + frame(10) + frame(0) + frame(4000)
    + SHUT + drain(0, 0),
    "framed-too-large": bytes([FRAMED, framed_flags(3, 2)]) + raw(b"\xff\xff\xff\xff!")
    + recv(0, 0) + recv(0, 0),
    "framed-cut-prefix": bytes([FRAMED, framed_flags(6, 0)]) + raw(b"\x05\x00") + CLOSE + recv(0, 0)
    + recv(0, 0),
    "framed-cut-payload": bytes([FRAMED, framed_flags(5, 3)]) + raw(b"\x02\x00\x00\x00ok\xe8\x03\x00\x00abc")
    + SHUT + drain(0, 0),
    "framed-limit-zero": bytes([FRAMED, framed_flags(0, 0)]) + frame(0) + frame(1) + drain(0, 0),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "receive")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {out}")


if __name__ == "__main__":
    main()
