"""Replace a corpus directory by a new set (a merge, a minimization) without
ever losing an entry. Used by `hvfuzz ci` and `hvfuzz minimize corpus`.

Order of operations (D = the corpus, e.g. corpora/<target>, N = .<name>.new,
O = .<name>.old beside it; all in one directory, so one filesystem):

  0. recover(D): repair whatever an earlier run left when it was killed (below).
  1. build the new set in N (e.g. libFuzzer -merge=1 N D <campaign corpus>),
     then fsync every file of N and N itself. D is not touched: a kill here
     leaves D as it was and an incomplete N, which recover() removes.
  2. swap, in one of two ways:
     a. renameat2(N, D, RENAME_EXCHANGE) (Linux >= 3.15, most filesystems):
        one atomic step; afterwards D is the merged set and N the old one;
     b. fallback when the filesystem refuses the exchange (or D did not
        exist): rename(D, O), then rename(N, D). A kill between the two
        leaves D missing, O = the old set, N = the complete merged set.
  3. fsync the parent directory, then remove N (2a) or O (2b), the old set.

recover(D), run before anything reads D:
  - D missing, N and O present: killed between the renames of 2b; N was
    complete before O was made (step 1 ends before step 2), so: rename N -> D;
  - D missing, only O present: rename O -> D (the old set comes back);
  - D missing, only N present: D did not exist before the run (nothing to
    lose); N may be incomplete, so it is removed (the campaign corpus stays
    in the workdir and the next run merges it again);
  - D present: a left-over N or O is either an incomplete merge (D is still
    the old set) or the old set after a finished swap (D is the complete
    merged set); either way D is right and the left-over is removed.
So at every instant, after recover(), D is either exactly the old set or
exactly the complete merged set, which keeps every feature of the old one.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import time
from pathlib import Path

from .common import info

AT_FDCWD = -100
RENAME_EXCHANGE = 2


def staging_dir(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.new")


def old_dir(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.old")


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """fsync every regular file directly inside `directory`, then the directory."""
    for p in directory.iterdir():
        if p.is_file():
            fsync_path(p)
    fsync_path(directory)


def exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (renameat2 RENAME_EXCHANGE). False when
    the kernel, libc or filesystem does not support it."""
    if os.environ.get("HVFUZZ_CI_NO_EXCHANGE") == "1":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(AT_FDCWD, os.fsencode(str(a)), AT_FDCWD, os.fsencode(str(b)), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def env_hold(step: str) -> None:
    """Test hook: HVFUZZ_CI_HOLD=<step> stops here (so a test can SIGKILL at a
    precise point of the protocol)."""
    if os.environ.get("HVFUZZ_CI_HOLD") == step:
        info(f"ci: holding at {step} (HVFUZZ_CI_HOLD)")
        while True:
            time.sleep(1)


def recover(dest: Path) -> str | None:
    """Repair the state a killed swap left; returns what was done (or None)."""
    new, old = staging_dir(dest), old_dir(dest)
    if not dest.exists():
        if new.is_dir() and old.is_dir():
            os.rename(new, dest)
            shutil.rmtree(old, ignore_errors=True)
            return "finished an interrupted swap (merged set moved into place)"
        if old.is_dir():
            os.rename(old, dest)
            return "restored the previous corpus"
        if new.is_dir():
            shutil.rmtree(new, ignore_errors=True)
            return "removed an incomplete merge"
        return None
    done = []
    for left in (new, old):
        if left.exists():
            shutil.rmtree(left, ignore_errors=True)
            done.append(f"removed {left.name}")
    return ", ".join(done) or None


def swap_in(dest: Path, new: Path, hook=env_hold) -> str:
    """Steps 2-3: put the complete set `new` (== staging_dir(dest), already
    fsynced) in place of `dest`. `hook(step)` runs between the steps (tests
    interrupt it there). Returns "exchange" or "rename"."""
    assert new == staging_dir(dest)
    parent = dest.parent
    hook("merged")
    if dest.exists() and exchange(new, dest):
        hook("exchanged")
        fsync_path(parent)
        shutil.rmtree(new)
        hook("cleaned")
        return "exchange"
    old = old_dir(dest)
    if dest.exists():
        os.rename(dest, old)
        hook("moved-old")
    os.rename(new, dest)
    hook("moved-new")
    fsync_path(parent)
    shutil.rmtree(old, ignore_errors=True)
    hook("cleaned")
    return "rename"
