#!/usr/bin/env python3
"""Cross-mode under stock QEMU: every seed of each target, run by the guest
agent against QEMU's own device (the code path of `hvfuzz repro --mode
qemu`), issues the same op sequence (values read aside) as the in-process
replay of the same seed.

usage: qemu_crossmode.py [--values] [--known FILE] [--preset P|--agent ELF] --bindir DIR
                         --seeds DIR TARGET...
--known FILE lists seeds ("target/name.bin  reason") whose sequences are
known to differ, each for a documented reason (the model deliberately
answers otherwise than QEMU); a listed seed that now matches fails the
test too, so the list never goes stale. A line starting with "~" names a
timing-dependent seed instead (it rings doorbells with raw writes, so how
many of QEMU's asynchronous completions a later op finds depends on the
machine's load): its result is reported, never a failure.
With --values the values read must match too (a fidelity check of the
model against QEMU's device, not only of the op expansion).
Targets without a QEMU device (hvfuzzlib.qemu.DEVICES) are reported and
skipped. Exit 77 when qemu-system-x86_64 is not installed.
"""
from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
from hvfuzzlib import qemu  # noqa: E402

OP_RE = re.compile(r"^(mmio|pio|cfg|mem|clock|rx)_")


def ops(text: str, values: bool = False) -> list[str]:
    """The op lines of a trace, without the values read unless `values`."""
    return [line if values else line.split(" -> ")[0]
            for line in text.splitlines() if OP_RE.match(line)]


RUNS = 3


def check_seed(target: str, seed: Path, args) -> str | None:
    """None when the sequences match in one of RUNS tries, else the last
    report. QEMU's devices complete work asynchronously; where a program
    rings a doorbell with a raw write there is no wait point, so a loaded
    machine can shift a completion past the next op."""
    report = None
    for _ in range(RUNS):
        report = check_seed_once(target, seed, args)
        if report is None:
            return None
    return report


def check_seed_once(target: str, seed: Path, args) -> str | None:
    """None when the sequences match, else a short report."""
    with tempfile.TemporaryDirectory(prefix="hvfuzz-qemu-x-") as tmp:
        rc, serial, err = qemu.run(target, seed, args.preset, "tcg", 120, Path(tmp),
                                   agent=args.agent, quiet=True)
    if rc != qemu.EXIT_DONE:
        return f"{target}/{seed.name}: {qemu.describe(rc)}\n{serial[-2000:]}{err[-500:]}"
    inproc = subprocess.run([str(args.bindir / f"fuzz-{target}"), "--trace", str(seed)],
                            capture_output=True, text=True, errors="replace")
    if inproc.returncode != 0:
        return f"{target}/{seed.name}: the in-process replay failed:\n{inproc.stderr[-2000:]}"
    a, b = ops(inproc.stdout, args.values), ops(serial, args.values)
    if not a:
        return f"{target}/{seed.name}: no ops traced in-process"
    if a != b:
        diff = list(difflib.unified_diff(a, b, "in-process", "qemu", n=2, lineterm=""))
        return f"{target}/{seed.name}: op sequences differ:\n" + "\n".join(diff[:30])
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="dev", help="preset whose agent to boot")
    ap.add_argument("--agent", type=Path, help="the agent ELF (default: the preset's)")
    ap.add_argument("--bindir", type=Path, required=True, help="folder of fuzz-<target> replay binaries")
    ap.add_argument("--seeds", type=Path, required=True, help="assembled seeds, one folder per target")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--values", action="store_true",
                    help="also compare the values read (a model-vs-QEMU fidelity check)")
    ap.add_argument("--known", type=Path, help="seeds allowed to differ, with reasons")
    ap.add_argument("targets", nargs="+")
    args = ap.parse_args()
    known = read_known(args.known) if args.known else {}
    if shutil.which(qemu.QEMU) is None:
        print(f"SKIP: {qemu.QEMU} not installed (scripts/bootstrap installs qemu-system-x86)")
        return 77
    work = []
    for target in args.targets:
        if target not in qemu.DEVICES:
            print(f"{target}: no QEMU device, skipped")
            continue
        seeds = sorted((args.seeds / target).glob("*.bin"))
        if not seeds:
            print(f"{target}: no seeds in {args.seeds / target}")
            return 1
        work += [(target, s) for s in seeds]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        reports = list(pool.map(lambda ts: check_seed(ts[0], ts[1], args), work))
    failures, expected = [], 0
    for (target, seed), report in zip(work, reports):
        key = f"{target}/{seed.name}"
        if known.get("~" + key) is not None:
            expected += bool(report)
            print(f"{key}: timing-dependent, {'differs' if report else 'matches'} this time "
                  f"({known['~' + key]})")
        elif key in known and report:
            expected += 1
            print(f"{key}: differs as known ({known[key]})")
        elif key in known:
            failures.append(f"{key}: now matches QEMU: remove it from {args.known}")
        elif report:
            failures.append(report)
    for r in failures:
        print(r, file=sys.stderr)
    same = len(work) - len(failures) - expected
    print(f"qemu crossmode: {same}/{len(work)} seeds issue the same ops"
          f"{f', {expected} differ as known' if expected else ''}")
    return 1 if failures else 0


def read_known(path: Path) -> dict[str, str]:
    known = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, _, reason = line.partition(" ")
            known[key] = reason.strip() or "no reason given"
    return known


if __name__ == "__main__":
    sys.exit(main())
