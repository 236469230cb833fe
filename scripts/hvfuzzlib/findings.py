"""Replay an input with the replay binary, classify it, and store findings.

A stored finding is crashes/<target>/<hash>/ with input.bin, input.hvf (text
form), report.txt (symbolized report), meta.json and repro.sh (one line).
"""

from __future__ import annotations

import datetime
import os
import shlex
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import triage
from .common import (bin_path, binary_name, display_path, read_json, replay_preset, repo_root,
                     sanitizer_env, write_atomic, write_json)

TIMEOUT_SAMPLES = 2
# A budget finding is replayed once more with this many times the default
# per-input work budget (HV_WORK_BUDGET_DEFAULT, 1 << 22 units; 1023 times
# is the largest budget a uint32 holds) and at least RECHECK_TIMEOUT
# seconds: a hang exhausts any budget (or the time), a merely heavy input
# finishes and is dropped as not reproducible. e1000 TSO storms of tiny
# segments with loopback need 64 to 256 times the budget on the clean
# model (QEMU's e1000 has no bound there either).
BUDGET_RECHECK_FACTOR = 1023
DEFAULT_WORK_BUDGET = 1 << 22
RECHECK_TIMEOUT = 60.0


@dataclass
class Replay:
    report: str           # stderr of the replay (the sanitizer report)
    tri: triage.Triage    # kind "" when it ran clean
    returncode: int
    command: list[str]


def replay_binary(target: str, mode: str = "inproc") -> Path:
    return bin_path(replay_preset(), binary_name(target, mode))


def run_replay(binary: Path, path: Path, timeout: float, extra=(),
               env: dict | None = None) -> tuple[int | None, str, str]:
    """(returncode or None on timeout, stdout, stderr). On timeout the replay is
    interrupted with SIGABRT, which ASan (handle_abort=1) turns into a stack."""
    cmd = [str(binary), *extra, str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=sanitizer_env(env), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        return None, out.decode(errors="replace"), err.decode(errors="replace")


def signal_triage(returncode: int) -> triage.Triage:
    """A replay that died without a report: kind "crash" (killed by a signal)."""
    if returncode < 0 or returncode > 128:
        signum = -returncode if returncode < 0 else returncode - 128
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        return triage.Triage(kind="crash", hash=triage.hash_names(["crash", name]),
                             summary=f"killed by {name}")
    return triage.Triage(kind="crash", hash=triage.hash_names(["crash", f"exit {returncode}"]),
                         summary=f"exit status {returncode} without a report")


def replay_input(target: str, path: Path, timeout: float = 25.0, extra=(),
                 mode: str = "inproc") -> Replay:
    """Replay one input (in-process, or in the VM) and classify the outcome."""
    binary = replay_binary(target, mode)
    cmd = [str(binary), *extra, str(path)]
    rc, out, err = run_replay(binary, path, timeout, extra)
    if rc is None:
        reports = [err]
        for i in range(1, TIMEOUT_SAMPLES):
            rc2, _, err2 = run_replay(binary, path, timeout * (1 + 0.5 * i), extra)
            if rc2 is not None:  # finished after all: flaky slowness, not a hang
                return Replay(err2, classify_finished(rc2, err2), rc2, cmd)
            reports.append(err2)
        text = "\n".join(f"--- hang sample {i + 1} (interrupted after the timeout) ---\n{r}"
                         for i, r in enumerate(reports))
        return Replay(text, triage.triage_timeout(reports), -1, cmd)
    tri = classify_finished(rc, err)
    if tri.kind == "hang" and "kind=budget" in err:
        return recheck_budget(binary, path, timeout, extra, Replay(err, tri, rc, cmd))
    return Replay(err, tri, rc, cmd)


def recheck_budget(binary: Path, path: Path, timeout: float, extra, first: Replay) -> Replay:
    """The budget ran out: again with BUDGET_RECHECK_FACTOR times the budget.
    Finishing clean then means a heavy input, not a hang: no finding."""
    budget = str(BUDGET_RECHECK_FACTOR * DEFAULT_WORK_BUDGET)
    env = dict(os.environ, HVFUZZ_WORK_BUDGET=budget)
    rc, _, err = run_replay(binary, path, max(timeout, RECHECK_TIMEOUT), extra, env)
    if rc == 0 and not classify_finished(rc, err).kind:
        note = (f"{first.report}\n--- replayed with HVFUZZ_WORK_BUDGET={budget}: finished "
                f"clean, so a heavy input, not a hang ---\n{err}")
        return Replay(note, triage.Triage(kind=""), 0, first.command)
    return first


def classify_finished(rc: int, err: str) -> triage.Triage:
    tri = triage.triage_report(err)
    if not tri.kind and rc != 0:
        tri = signal_triage(rc)
    return tri


def raw_input_text(target: str, path: Path, limit: int = 512) -> str:
    """A target that takes a device's native input (tpm-cmd: raw TPM
    commands) has no program text form: a hex dump stands in for it."""
    data = path.read_bytes()
    rows = [data[i:i + 32].hex() for i in range(0, min(len(data), limit), 32)]
    more = f"\n# ... {len(data) - limit} more bytes" if len(data) > limit else ""
    return (f"# {target} takes raw input (no program text form): {len(data)} bytes, hex\n"
            + "\n".join(rows) + more + "\n")


def disasm(target: str, path: Path) -> str | None:
    """Text form of a program via hvfuzz-disasm (a hex dump for targets
    without a layout), or None when hvfuzz-disasm is not built."""
    for preset in (replay_preset(), "replay", "dev"):
        tool = bin_path(preset, "hvfuzz-disasm")
        if tool.is_file():
            layouts = subprocess.run([str(tool), "-l"], capture_output=True, text=True,
                                     errors="replace").stdout.split()
            if target not in layouts:
                return raw_input_text(target, path)
            proc = subprocess.run([str(tool), "-t", target, str(path)], capture_output=True,
                                  text=True, errors="replace")
            if proc.returncode == 0:
                return proc.stdout
            return f"# hvfuzz-disasm failed (exit {proc.returncode}): {proc.stderr.strip()}\n"
    return None


def repro_command(input_path: Path, mode: str = "inproc") -> str:
    """One command that reproduces the finding from anywhere in the repo."""
    shown = display_path(input_path)
    opt = " --mode vm" if mode == "vm" else ""
    if os.path.isabs(shown):
        return (f"{shlex.quote(str(repo_root() / 'scripts' / 'hvfuzz'))} repro{opt} "
                f"{shlex.quote(shown)}")
    return f"scripts/hvfuzz repro{opt} {shlex.quote(shown)}"


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Stored:
    directory: Path
    new: bool
    meta: dict


def store_finding(crashes_dir: Path, target: str, engine: str, data: bytes,
                  rep: Replay, source: str, mode: str = "inproc") -> Stored:
    """Store a finding, or count it when its hash is already stored (keeping
    the smaller input)."""
    tri = rep.tri
    hdir = crashes_dir / target / tri.hash
    meta_path = hdir / "meta.json"
    meta = read_json(meta_path)
    repro = repro_command(hdir / "input.bin", mode)
    if meta:
        meta["count"] = int(meta.get("count", 1)) + 1
        meta["last_seen"] = now()
        if len(data) < int(meta.get("size", len(data) + 1)):
            write_files(hdir, target, data, rep, repro)
            meta["size"] = len(data)
            meta["source"] = source
        write_json(meta_path, meta)
        return Stored(hdir, False, meta)
    write_files(hdir, target, data, rep, repro)
    meta = {
        "target": target, "mode": mode, "engine": engine, "kind": tri.kind,
        "hash": tri.hash, "first_frame": tri.first_frame,
        "frames": [str(f) for f in tri.frames], "site": tri.site,
        "summary": tri.summary, "date": now(), "last_seen": now(), "size": len(data),
        "count": 1, "source": source, "repro": repro,
    }
    write_json(meta_path, meta)
    write_repro_script(hdir, repro)
    return Stored(hdir, True, meta)


def write_repro_script(hdir: Path, repro: str) -> None:
    """repro.sh: the one-line command, run from the repo root."""
    cd = "" if repro.startswith("/") else \
        f'cd "$(dirname "$0")/{os.path.relpath(repo_root(), hdir)}" && '
    write_atomic(hdir / "repro.sh", f"#!/bin/sh\n{cd}exec {repro}\n")
    os.chmod(hdir / "repro.sh", 0o755)


def write_files(hdir: Path, target: str, data: bytes, rep: Replay, repro: str) -> None:
    write_atomic(hdir / "input.bin", data)
    text = disasm(target, hdir / "input.bin")
    write_atomic(hdir / "input.hvf", text if text is not None else
                 "# text form unavailable: build the dev or replay preset (hvfuzz-disasm)\n")
    header = f"# kind={rep.tri.kind} hash={rep.tri.hash}\n# reproduce: {repro}\n"
    write_atomic(hdir / "report.txt", header + rep.report)
