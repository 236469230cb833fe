"""Child processes that die with hvfuzz and stop on request."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGTERM when hvfuzz dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def spawn(cmd: list[str], log: Path, env: dict | None = None, cwd: Path | None = None,
          append: bool = False) -> subprocess.Popen:
    """Start `cmd` in its own process group (so a terminal's Ctrl-C reaches only
    hvfuzz, which then stops it cleanly), output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab" if append else "wb") as f:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                env=env, cwd=cwd, start_new_session=True,
                                preexec_fn=_die_with_parent)


def stop_all(procs: list[subprocess.Popen], grace: float = 15.0) -> None:
    """SIGINT every running engine process (it saves its state and stops its
    own children), then SIGKILL the process group of whatever is still running
    after `grace` seconds."""
    for p in procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(p, signal.SIGKILL)
            p.wait()


def _signal_group(p: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            p.send_signal(sig)
        except ProcessLookupError:
            pass


class LogTail:
    """Reads what a process appended to its log since the last call."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.partial = ""

    def reset(self) -> None:
        self.offset = 0
        self.partial = ""

    def new_lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        text = self.partial + data.decode(errors="replace").replace("\r", "\n")
        lines = text.split("\n")
        self.partial = lines.pop()
        return lines
