#!/usr/bin/env python3
"""Writes the hand-made seed inputs of fuzz/corpus/shm/ (shm_fuzzer's script format, described
at the top of shm_fuzzer.cpp). Run from the repository root:

    python3 fuzz/make_shm_seed_corpus.py

Seeds are named seed-*; inputs found by fuzzing and kept (tools/fuzz --target shm --merge) are
named by libFuzzer after their SHA-1.
"""

import os
import struct

ACCEPTS, CREATES = 0, 1
# Word indices in the region (8-byte words): ring r's control block is at 128 + r * 512 bytes.
HEAD0, TAIL0 = 128 // 8, (128 + 128) // 8
HEAD1, TAIL1 = (128 + 512) // 8, (128 + 512 + 128) // 8
RING0 = 4096 // 8


def poke(word, value, kind=0):
    return bytes([0]) + struct.pack("<HBQ", word, kind, value)


def commit(size):
    return bytes([1]) + struct.pack("<H", size)


def receive(buffer):
    return bytes([2]) + struct.pack("<H", buffer)


VIEW = bytes([3])


def read_bytes(buffer):
    return bytes([4, buffer])


def send(size):
    return bytes([5]) + struct.pack("<H", size)


CONSUME = bytes([6])
DIE = bytes([7])


def offer(flaws=0):
    return bytes([ACCEPTS]) + struct.pack("<H", flaws)


HONEST = (commit(10) + commit(0) + commit(2000) + receive(4096) + VIEW + receive(100) + send(5) +
          send(0) + send(2040) + CONSUME + commit(700) * 6 + VIEW * 3 + read_bytes(50) * 4 +
          receive(3000) * 3 + send(1000) * 5 + CONSUME + send(1000) * 3 + commit(9) + DIE +
          receive(64) + VIEW + VIEW)

SEEDS = {
    "accepts-honest": offer() + HONEST,
    "accepts-large-ring": offer(0x1000) + HONEST,
    "creates-honest": bytes([CREATES]) + HONEST,
    "creates-scribbled-tail": bytes([CREATES]) + send(1000) * 2 + poke(TAIL0, 1 << 20) +
    send(1000) * 4,
    "accepts-head-too-far": offer() + commit(5) + poke(HEAD0, 9000) + receive(64) + VIEW,
    "accepts-long-length": offer() + commit(5) + poke(RING0, 0xFFFF0, 0) + receive(64),
    "accepts-wrap-marker": offer() + commit(5) + poke(RING0, 0, 2) + receive(64),
    "creates-head-behind": bytes([CREATES]) + commit(100) + receive(200) +
    poke(HEAD1, 8, 1) + receive(64),
}
for bit in range(10):
    SEEDS["offer-flaw-%d" % bit] = offer(1 << bit) + HONEST

out = os.path.join("fuzz", "corpus", "shm")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, "seed-" + name), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(SEEDS), out))
