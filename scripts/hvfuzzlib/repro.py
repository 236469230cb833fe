"""`hvfuzz repro FILE...`: replay inputs, print text form, report, kind and hash
(in-process, in the VM, or under stock QEMU's own device through the agent)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from . import build, findings, qemu
from .common import (DEFAULT_TARGET, UserError, bin_path, check_mode, check_target, read_json,
                     read_targets, replay_preset)


def target_for(path: Path, explicit: str | None) -> str:
    """--target, else meta.json beside the file, else crashes/<target>/..., else default."""
    if explicit:
        return check_target(explicit)
    meta = read_json(path.parent / "meta.json")
    if isinstance(meta, dict) and meta.get("target"):
        return check_target(meta["target"])
    names = {t for t, _ in read_targets()}
    parts = path.resolve().parts
    for i, part in enumerate(parts[:-1]):
        if part == "crashes" and parts[i + 1] in names:
            return parts[i + 1]
    return DEFAULT_TARGET


def assemble(target: str, path: Path, tmp: Path) -> Path:
    """A .hvf text program is assembled first (hvfuzz-asm)."""
    for preset in (replay_preset(), "replay", "dev"):
        tool = bin_path(preset, "hvfuzz-asm")
        if tool.is_file():
            out = tmp / (path.stem + ".bin")
            proc = subprocess.run([str(tool), "-t", target, str(path), "-o", str(out)],
                                  capture_output=True, text=True, errors="replace")
            if proc.returncode != 0:
                raise UserError(f"hvfuzz-asm failed on {path}: {proc.stderr.strip()}")
            return out
    raise UserError(f"{path} is a text program but hvfuzz-asm is not built (build the dev preset)")


def mode_for(path: Path, explicit: str | None) -> str:
    """--mode, else meta.json beside the file ("vm" findings replay in the VM), else inproc."""
    if explicit:
        return explicit
    meta = read_json(path.parent / "meta.json")
    if isinstance(meta, dict) and meta.get("mode") in ("inproc", "vm"):
        return meta["mode"]
    return "inproc"


def repro_qemu(path: Path, binfile: Path, target: str, timeout: float, tmp: Path,
               accel: str) -> bool:
    """Run one program under stock QEMU; True when QEMU itself died."""
    print(f"=== {path} (target {target}, under QEMU's own device, {accel})")
    rc, serial, err = qemu.run(target, binfile, replay_preset(), accel, timeout, tmp)
    print(serial.rstrip("\n"))
    if err.strip():
        print(err.rstrip("\n"))
    print(f"--- {qemu.describe(rc)}")
    return rc < 0 or rc not in (qemu.EXIT_DONE, qemu.EXIT_AGENT_FAULT,
                                 qemu.EXIT_TRIPLE_FAULT, qemu.EXIT_TIMEOUT)


def repro_one(path: Path, target: str, timeout: float, trace: bool, tmp: Path,
              mode: str = "inproc", accel: str = "tcg", gdb: bool = False,
              pcap: Path | None = None) -> bool:
    """Replay one file; True when a finding reproduced."""
    binfile = assemble(target, path, tmp) if path.suffix == ".hvf" else path
    if mode == "qemu":
        return repro_qemu(path, binfile, target, timeout, tmp, accel)
    where = ", in the VM" if mode == "vm" else ""
    print(f"=== {path} (target {target}{where}, {binfile.stat().st_size} bytes)")
    text = findings.disasm(target, binfile)
    print(text.rstrip("\n") if text is not None else "(text form unavailable: hvfuzz-disasm not built)")
    extra = (("--trace",) if trace else ()) + (("--pcap", str(pcap)) if pcap else ())
    if gdb:  # under gdb, stopped at the finding (gdbrun.py)
        from . import gdbrun
        return gdbrun.run_gdb(findings.replay_binary(target, mode), binfile, timeout + 30,
                              extra)
    rep = findings.replay_input(target, binfile, timeout=timeout, extra=extra, mode=mode)
    print(f"--- replay: {' '.join(rep.command)}")
    if rep.report.strip():
        print(rep.report.rstrip("\n"))
    if rep.tri.kind:
        print(f"kind={rep.tri.kind} hash={rep.tri.hash}")
        if rep.tri.first_frame:
            print(f"first_frame={rep.tri.first_frame}")
        return True
    print("ran clean")
    return False


def run(files: list[str], target: str | None, timeout: float, trace: bool,
        mode: str | None = None, accel: str = "tcg", gdb: bool = False,
        pcap: Path | None = None) -> int:
    paths = [Path(f) for f in files]
    for p in paths:
        if not p.is_file():
            raise UserError(f"no such file: {p}")
    targets = [target_for(p, target) for p in paths]
    if mode == "qemu":
        if gdb or pcap:
            raise UserError(f"{'--gdb' if gdb else '--pcap'} needs the replay binary: "
                            "not with --mode qemu")
        modes = [mode] * len(paths)
        for t in set(targets):
            qemu.check_target(t)
    else:
        modes = [check_mode(t, mode_for(p, mode)) for p, t in zip(paths, targets)]
    build.bootstrap()
    build.ensure_built(replay_preset())
    for t, m in dict.fromkeys(zip(targets, modes)):
        if m != "qemu":
            build.require_binary(findings.replay_binary(t, m), replay_preset())
    reproduced = False
    with tempfile.TemporaryDirectory(prefix="hvfuzz-repro-") as tmp:
        for p, t, m in zip(paths, targets, modes):
            reproduced |= repro_one(p, t, timeout, trace, Path(tmp), m, accel, gdb, pcap)
            sys.stdout.flush()
    return 1 if reproduced else 0
