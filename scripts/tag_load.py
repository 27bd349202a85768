#!/usr/bin/env python3
"""Tag operations per second through setxattr on a spacefs mount, from N client threads.

usage: tag_load.py DIR THREADS OPS_PER_THREAD
DIR holds files f000000..; thread t sets user.xdg.tags on its own share of them, alternating two tag sets, so every
call is a real change that must be committed before it returns. Prints ops/s.
"""
import os
import sys
import threading
import time

def main():
    root, threads, per_thread = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    names = sorted(os.listdir(root))
    errors = []

    def client(t):
        mine = names[t::threads]
        try:
            for i in range(per_thread):
                path = os.path.join(root, mine[i % len(mine)])
                value = f"load{t},round{i % 2}".encode()
                os.setxattr(path, "user.xdg.tags", value)
        except OSError as e:
            errors.append(e)

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    if errors:
        print(f"errors: {errors[:3]}", file=sys.stderr)
        sys.exit(1)
    print(f"{threads * per_thread / elapsed:.0f}")

main()
