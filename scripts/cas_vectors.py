#!/usr/bin/env python3
"""Computes cas_id reference vectors independently of spacefs (pip install blake3).

The bytes are the test pattern of src/library/cas.rs: byte i is (i * 31 + 7) mod 251. The sampled bytes are assembled
by hand here, following Spacedrive's description, so that the Rust implementation is checked against a second one.
"""
import sys
from blake3 import blake3

def pattern(n):
    return bytes((i * 31 + 7) % 251 for i in range(n))

def cas_id(data):
    size = len(data)
    msg = size.to_bytes(8, "little")
    if size <= 102400:
        msg += data
    else:
        msg += data[:8192]
        jump = (size - 16384) // 4
        for i in range(4):
            start = 8192 + i * jump
            msg += data[start:start + 10240]
        msg += data[size - 8192:]
    return blake3(msg).hexdigest()[:16]

for n in (0, 1, 102400, 102401, 5000000):
    print(f"cas_id size {n}: {cas_id(pattern(n))}")
print(f"full hash size 300000: {blake3(pattern(300000)).hexdigest()}")
