"""`hvfuzz repro FILE --gdb`: the replay binary under gdb, stopped at the finding.

The sanitizers are told to abort (abort_on_error=1) and gdb breaks where a
report ends (__sanitizer::Die: ASan, UBSan with halt_on_error), where an
hvfuzz finding is raised (hv_finding: assert, reentrancy, budget) and on
abort(); a SEGV stops gdb at the faulting instruction. On a terminal gdb
stays interactive after printing the backtrace; otherwise (CI, tests) it runs
in batch mode (`-batch -ex run -ex bt`) and the device frames of the
backtrace are listed after it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from .common import require_tool, sanitizer_env

BREAKPOINTS = ("__sanitizer::Die", "hv_finding", "abort")
GDB_ASAN = "abort_on_error=1:handle_abort=0:detect_leaks=0:symbolize=1"  # LSan fails under ptrace
GDB_UBSAN = "abort_on_error=1:halt_on_error=1:print_stacktrace=1"
STOP_RE = re.compile(r"^(Breakpoint \d+, |(Program|Thread .*) received signal )", re.M)
BT_FRAME_RE = re.compile(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\S+) \(.*\) at (\S+):(\d+)", re.M)


def gdb_env() -> dict:
    env = sanitizer_env()
    env["ASAN_OPTIONS"] += ":" + GDB_ASAN  # later options win
    env["UBSAN_OPTIONS"] += ":" + GDB_UBSAN
    return env


def gdb_command(binary: Path, path: Path, batch: bool, extra=()) -> list[str]:
    cmd = ["gdb", "-q", "-nx"]
    if batch:
        cmd.append("-batch")
    cmd += ["-ex", "set pagination off", "-ex", "set breakpoint pending on",
            "-ex", "set print thread-events off"]
    for bp in BREAKPOINTS:
        cmd += ["-ex", f"break {bp}"]
    cmd += ["-ex", "run", "-ex", "bt"]
    return cmd + ["--args", str(binary), *extra, str(path)]


def device_frames(text: str) -> list[str]:
    """Frames of gdb's backtrace whose source lies under targets/."""
    out = []
    bt = text[text.rfind("\n#0 ") + 1:] if "\n#0 " in text else text
    for m in BT_FRAME_RE.finditer(bt):
        src = m.group(3)
        i = src.find("targets/")
        if i >= 0:
            out.append(f"#{m.group(1)} {m.group(2)} {src[i:]}:{m.group(4)}")
    return out


def run_gdb(binary: Path, path: Path, timeout: float, extra=()) -> bool:
    """Run one input under gdb; True when gdb stopped at a finding (batch mode)."""
    require_tool("gdb")
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    cmd = gdb_command(binary, path, batch=not interactive, extra=extra)
    print(f"--- gdb: {' '.join(cmd)}", flush=True)
    if interactive:  # Ctrl-C belongs to gdb (it interrupts the program), not to hvfuzz
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            subprocess.run(cmd, env=gdb_env(), preexec_fn=lambda: signal.signal(
                signal.SIGINT, signal.SIG_DFL))
        finally:
            signal.signal(signal.SIGINT, old)
        return False
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=gdb_env(), start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        timed_out = True
    text = out.decode(errors="replace")
    print(text.rstrip("\n"))
    if timed_out:
        print(f"--- gdb did not finish within {timeout:.0f}s (a hang?): killed")
        return False
    stopped = bool(STOP_RE.search(text))
    frames = device_frames(text)
    if stopped:
        print("--- stopped at the finding; device frames of the backtrace:")
        for f in frames or ["(none under targets/)"]:
            print(f"  {f}")
    else:
        print("--- the program ran to its end under gdb (no finding)")
    return stopped
