"""`hvfuzz triage DIR`: replay a folder of crash inputs and bucket them by stack hash.

DIR may be an engine's artifacts dir (crash-*, timeout-*...), an AFL++
crashes/ or hangs/ dir, a crashes/<target>/ folder (<hash>/input.bin), or any
folder of inputs (.hvf text programs are assembled first). Each input is
replayed once with the replay binary (findings.replay_input, the same
classification and hash as a campaign); nothing is stored.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import build, findings
from .common import (DEFAULT_TARGET, StatusLine, UserError, check_target, display_path, read_json,
                     read_targets, replay_preset, write_json)

# files that sit beside inputs but are not inputs
NOT_INPUTS = {"README.txt", "meta.json", "report.txt", "repro.sh", "triaged.json",
              "fuzzer_stats", "fuzzer_setup", "fuzz_bitmap", "plot_data", "cmdline",
              "target_hash", "is_main_node"}
# subfolders that hold no crash inputs: corpora, AFL++ queue, logs
NOT_INPUT_DIRS = {"queue", "corpus", "logs", "input"}
NOT_INPUT_SUFFIXES = (".txt", ".json", ".sh", ".log", ".md")


class Progress:
    """`[done/total] what` on stderr: rewritten with \\r on a terminal, else a
    line every 10 s. Silent for short jobs (fewer than `min_total` items and
    quicker than 2 s)."""

    def __init__(self, total: int, what: str, min_total: int = 20):
        self.total = total
        self.what = what
        self.start = time.monotonic()
        self.min_total = min_total
        self.out = StatusLine(0.5)

    def show(self, done: int, extra: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if self.total < self.min_total and now - self.start < 2 and not force:
            return
        if not force and not self.out.due(now):
            return
        count = f"[{done}/{self.total}] " if self.total else ""
        self.out.write(f"{count}{self.what}{' ' + extra if extra else ''} "
                       f"({now - self.start:.0f}s)", now)

    def done(self) -> None:
        self.out.done()


def is_input_name(path: Path) -> bool:
    name = path.name
    return not (name.startswith(".") or name in NOT_INPUTS or name.endswith(NOT_INPUT_SUFFIXES))


def dir_inputs(d: Path) -> list[Path]:
    """Inputs of one folder: its input.bin when it is a stored finding, else
    every input-looking file (a .hvf only when no .bin of that name is beside it)."""
    if (d / "input.bin").is_file():
        return [d / "input.bin"]
    files = sorted(p for p in d.iterdir() if p.is_file() and is_input_name(p))
    names = {p.name for p in files}
    return [p for p in files if not (p.suffix == ".hvf" and p.stem + ".bin" in names)]


def collect_inputs(directory: Path) -> list[Path]:
    """The inputs in `directory` and, one level down, in its subfolders
    (crashes/<target>/<hash>/input.bin, AFL's <instance>/crashes/)."""
    if not directory.exists():
        raise UserError(f"no such directory: {directory}")
    if not directory.is_dir():
        raise UserError(f"not a directory: {directory} (use 'hvfuzz repro' for one file)")
    found = dir_inputs(directory)
    for sub in sorted(p for p in directory.iterdir() if p.is_dir() and
                      not p.name.startswith(".") and p.name not in NOT_INPUT_DIRS):
        inner = [sub / d for d in ("crashes", "hangs") if (sub / d).is_dir()]
        for d in inner or [sub]:  # an AFL++ instance: its crashes/ and hangs/
            found += dir_inputs(d)
    if not found:
        raise UserError(f"no inputs in {directory} (empty directory)")
    return found


def valid_target(name: str) -> bool:
    try:
        check_target(name)
        return True
    except UserError:
        return False


def infer_target(directory: Path, files: list[Path]) -> str | None:
    """meta.json of a stored finding, else the nearest path component that
    names a target (crashes/<target>/, out/<target>/<engine>/artifacts)."""
    for f in files[:50]:
        meta = read_json(f.parent / "meta.json")
        if isinstance(meta, dict) and meta.get("target") and valid_target(meta["target"]):
            return meta["target"]
    listed = {t for t, _ in read_targets()}
    parts = directory.resolve().parts
    engines = {"libfuzzer", "afl", "libfuzzer-vm", "afl-vm"}
    for i in range(len(parts) - 1, 0, -1):
        part = parts[i]
        beside = parts[i - 1] == "crashes" or (i + 1 < len(parts) and parts[i + 1] in engines)
        if part in listed or (beside and valid_target(part)):
            return part
    return None


def replay_all(target: str, files: list[Path], timeout: float, tmp: Path):
    """[(path, size, Replay)] in the order of `files`, replayed in parallel."""
    from .repro import assemble
    progress = Progress(len(files), "replayed")
    jobs = max(1, min(len(files), os.cpu_count() or 1))
    results: list = [None] * len(files)

    def one(i: int):
        f = files[i]
        binfile = f
        if f.suffix == ".hvf":
            sub = tmp / str(i)
            sub.mkdir()
            binfile = assemble(target, f, sub)
        return i, binfile.stat().st_size, findings.replay_input(target, binfile, timeout=timeout)

    done = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for i, size, rep in pool.map(one, range(len(files))):
            results[i] = (files[i], size, rep)
            done += 1
            progress.show(done)
    progress.show(done, force=len(files) >= progress.min_total)
    progress.done()
    return results


def bucket(results) -> tuple[list[dict], list[dict]]:
    buckets: dict[str, dict] = {}
    unrepro = []
    for path, size, rep in results:
        if not rep.tri.kind:
            unrepro.append({"path": str(path), "size": size})
            continue
        b = buckets.get(rep.tri.hash)
        if b is None:
            b = buckets[rep.tri.hash] = {
                "kind": rep.tri.kind, "hash": rep.tri.hash, "first_frame": rep.tri.first_frame,
                "summary": rep.tri.summary, "count": 0, "smallest": str(path),
                "smallest_size": size, "files": []}
        b["count"] += 1
        b["files"].append(str(path))
        if size < b["smallest_size"]:
            b["smallest"], b["smallest_size"] = str(path), size
    ordered = sorted(buckets.values(), key=lambda b: (-b["count"], b["kind"], b["hash"]))
    return ordered, unrepro


def print_buckets(target: str, directory: Path, nfiles: int, buckets: list[dict],
                  unrepro: list[dict]) -> None:
    print(f"triage of {display_path(directory)} (target {target}): {nfiles} input(s), "
          f"{len(buckets)} bucket(s), {len(unrepro)} unreproducible")
    if buckets:
        kw = max(len("kind"), *(len(b["kind"]) for b in buckets))
        fw = max(len("first frame"), *(len(b["first_frame"] or "?") for b in buckets))
        print(f"{'kind':<{kw}}  {'hash':<16}  {'first frame':<{fw}}  {'count':>5}  smallest input")
        for b in buckets:
            print(f"{b['kind']:<{kw}}  {b['hash']:<16}  {b['first_frame'] or '?':<{fw}}  "
                  f"{b['count']:>5}  {display_path(Path(b['smallest']))} "
                  f"({b['smallest_size']} bytes)")
    if unrepro:
        print(f"unreproducible ({len(unrepro)}): ran clean on replay")
        for u in unrepro:
            print(f"  {display_path(Path(u['path']))} ({u['size']} bytes)")


def run(directory: Path, target: str | None, json_path: Path | None, timeout: float) -> int:
    files = collect_inputs(directory)
    if target:
        target = check_target(target)
    else:
        target = infer_target(directory, files) or DEFAULT_TARGET
    build.bootstrap()
    build.ensure_built(replay_preset())
    build.require_binary(findings.replay_binary(target), replay_preset())
    with tempfile.TemporaryDirectory(prefix="hvfuzz-triage-") as tmp:
        results = replay_all(target, files, timeout, Path(tmp))
    buckets, unrepro = bucket(results)
    print_buckets(target, directory, len(files), buckets, unrepro)
    if json_path:
        write_json(json_path, {"target": target, "directory": str(directory),
                               "inputs": len(files), "buckets": buckets,
                               "unreproducible": unrepro})
    return 0
