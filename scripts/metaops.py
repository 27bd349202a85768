"""Single-process metadata operations per second in a folder: what `scripts/bench write` compares between the real
folder, bindfs and spacefs's locations/. Usage: metaops.py DIR [N]. Prints one line per operation: name ops/s."""
import os
import sys
import time

root = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
work = os.path.join(root, "metaops-%d" % time.time_ns())
os.mkdir(work)
f = os.path.join(work, "f")
with open(f, "wb") as out:
    out.write(b"x")


def rate(name, ops, run):
    start = time.perf_counter()
    run()
    took = time.perf_counter() - start
    print(f"{name} {ops / took:.0f}")


def setxattr():
    for i in range(n):
        os.setxattr(f, "user.bench", b"%d" % i)


def rename():
    a, b = f, os.path.join(work, "g")
    for _ in range(n // 2):
        os.rename(a, b)
        os.rename(b, a)


def create_unlink():
    for i in range(n):
        p = os.path.join(work, "c%d" % i)
        os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))
        os.unlink(p)


def link_unlink():
    for i in range(n):
        p = os.path.join(work, "l%d" % i)
        os.link(f, p)
        os.unlink(p)


def append():
    # Small writes to one open file (a log, a shell's >>): each write(2) is one operation.
    fd = os.open(os.path.join(work, "log"), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    for i in range(n):
        os.write(fd, b"line %d\n" % i)
    os.close(fd)


def mkdir_rmdir():
    for i in range(n):
        p = os.path.join(work, "d%d" % i)
        os.mkdir(p)
        os.rmdir(p)


rate("setxattr", n, setxattr)
rate("rename", n // 2 * 2, rename)
rate("create+unlink", n, create_unlink)
rate("link+unlink", n, link_unlink)
rate("mkdir+rmdir", n, mkdir_rmdir)
rate("append", n, append)
