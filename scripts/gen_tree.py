#!/usr/bin/env python3
"""Generates a benchmark tree: N small files spread over folders, plus some large files.

usage: gen_tree.py DIR SMALL_FILES LARGE_FILES LARGE_MIB [same]
Small files are 256 B to 4 KiB with distinct contents (with `same`: the same 2 KiB each, one duplicates group);
large files are LARGE_MIB each. Deterministic, so runs compare.
"""
import os
import sys

def main():
    root, small, large, large_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    same = len(sys.argv) > 5 and sys.argv[5] == "same"
    per_dir = 1000
    chunk = os.urandom(4096)
    for i in range(small):
        d = os.path.join(root, "small", f"d{i // per_dir:04d}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:06d}.txt"), "wb") as f:
            if same:
                f.write(chunk[:2048])
            else:
                size = 256 + (i * 7919) % 3841
                f.write(i.to_bytes(8, "little") + chunk[: size - 8])
    block = os.urandom(1 << 20)
    os.makedirs(os.path.join(root, "large"), exist_ok=True)
    for j in range(large):
        with open(os.path.join(root, "large", f"big{j:02d}.bin"), "wb") as f:
            f.write(j.to_bytes(8, "little"))
            for _ in range(large_mib):
                f.write(block)

main()
