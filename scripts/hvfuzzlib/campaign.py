"""`hvfuzz fuzz`: run a campaign, triage its findings, report."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import build, findings
from .common import (StatusLine, UserError, bin_path, binary_name, display_path, info, input_files,
                     read_json, repo_root, replay_preset, sha1_bytes, write_json)

INITED_RE = re.compile(r"INITED cov: (?P<cov>\d+)(?: ft: (?P<ft>\d+))?")
TTY_INTERVAL = 1.0
LOG_INTERVAL = 10.0


@dataclass
class Options:
    target: str
    engine: str
    time: int
    jobs: int
    workdir: Path
    json: Path | None
    crashes_dir: Path
    timeout: int
    verbose: bool = False
    extra_seeds: list = field(default_factory=list)
    mode: str = "inproc"  # or "vm": vm-<target> (hvfuzz-vmm + the guest agent)
    corpora_dir: Path | None = None  # checked-in corpora (default <repo>/corpora)
    use_dict: bool = True  # the target's dictionary, if it has one


# -- seeds -------------------------------------------------------------------
def seed_files(target: str, preset: str, corpora_dir: Path | None = None) -> list[Path]:
    """Assembled seeds of the build plus the checked-in corpus."""
    dirs = [repo_root() / "build" / preset / "seeds" / target,
            (corpora_dir or repo_root() / "corpora") / target]
    return [f for d in dirs for f in input_files(d)]


def extra_seed_files(target: str, dirs: list[Path], tmp: Path) -> list[Path]:
    """Files of --seeds directories; .hvf text programs are assembled."""
    from .repro import assemble
    files = []
    for d in dirs:
        if not d.is_dir():
            raise UserError(f"no such seed directory: {d}")
        for f in input_files(d):
            files.append(assemble(target, f, tmp) if f.suffix == ".hvf" else f)
    return files


def copy_seeds(files: list[Path], dest: Path) -> int:
    """Copy inputs into `dest` named by content hash (idempotent on resume)."""
    dest.mkdir(parents=True, exist_ok=True)
    added = 0
    for f in files:
        data = f.read_bytes()
        out = dest / sha1_bytes(data)
        if not out.exists():
            tmp = dest / f".{out.name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, out)
            added += 1
    return added


def dictionary(target: str) -> Path | None:
    """seeds/<target>.dict; an initialized variant <base>-init without its
    own uses its base target's (the same device, the same tokens)."""
    names = [target] + ([target[:-len("-init")]] if target.endswith("-init") else [])
    for name in names:
        path = repo_root() / "seeds" / f"{name}.dict"
        if path.is_file():
            return path
    return None


# -- coverage ----------------------------------------------------------------
def measure_coverage(target: str, dirs: list[Path], timeout: int) -> dict:
    """Edges as libFuzzer counts them (`cov:` of -runs=0 over the corpus), the
    same measure whichever engine built the corpus."""
    binary = bin_path("libfuzzer", f"fuzz-{target}")
    files = [f for d in dirs for f in input_files(d)]
    with tempfile.TemporaryDirectory(prefix="hvfuzz-cov-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i, f in enumerate(files):
            link_or_copy(f, corpus / f"{i:06d}")
        cmd = [str(binary), "-runs=0", f"-timeout={timeout}", "-rss_limit_mb=2048",
               f"-artifact_prefix={tmp}/", str(corpus)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace", cwd=tmp)
    m = INITED_RE.search(proc.stdout)
    if not m:
        return {"coverage_edges": None, "coverage_features": None,
                "coverage_error": proc.stdout.strip().splitlines()[-1:] or ["no output"]}
    return {"coverage_edges": int(m.group("cov")),
            "coverage_features": int(m.group("ft")) if m.group("ft") else None}


def mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


# -- progress ----------------------------------------------------------------
class ProgressLine:
    """The campaign's live line: one line rewritten with \\r on a TTY, a line
    every LOG_INTERVAL otherwise."""

    def __init__(self, total: int):
        self.total = total
        self.out = StatusLine(TTY_INTERVAL, LOG_INTERVAL)

    def show(self, elapsed: float, prog: dict, nfind: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and not self.out.due(now):
            return
        eps = prog["execs"] / elapsed if elapsed > 0 else 0
        self.out.write(f"[{elapsed:5.0f}/{self.total}s] execs {prog['execs']}  exec/s {eps:.0f}  "
                       f"cov {prog['cov']}  corpus {prog['corpus']}  findings {nfind}"
                       f" (crash files {prog['crashes']})", now)

    def done(self) -> None:
        self.out.done()


# -- findings ----------------------------------------------------------------
class Triager:
    """Replays each new engine artifact once; remembers what it did in
    triaged.json so a resumed campaign triages only what is new."""

    def __init__(self, opts: Options, engine_dir: Path):
        self.opts = opts
        self.record_path = engine_dir / "triaged.json"
        self.record = read_json(self.record_path, {}) or {}
        self.seen: dict[str, dict] = {}     # hash -> finding summary (this campaign)
        self.unreproducible: list[str] = []
        self.duplicates = 0
        self.artifacts = 0

    def pending(self, artifacts: list[tuple[str, Path]], settle: float = 0.0) -> list[tuple[str, Path]]:
        """Artifacts not triaged yet; with `settle`, only those unchanged for
        that many seconds (the engine may still be writing the newest one)."""
        now = time.time()
        return [(k, p) for k, p in artifacts
                if k not in self.record and (not settle or now - mtime(p) >= settle)]

    def triage(self, key: str, path: Path, engine: str, progress=None) -> None:
        try:
            data = path.read_bytes()
        except OSError:
            return  # gone (the engine moved it): nothing to triage
        # replay exactly the bytes that will be stored
        with tempfile.TemporaryDirectory(prefix="hvfuzz-triage-") as tmp:
            copy = Path(tmp) / "input.bin"
            copy.write_bytes(data)
            rep = findings.replay_input(self.opts.target, copy,
                                        timeout=2 * self.opts.timeout + 5,
                                        mode=self.opts.mode)
        self.artifacts += 1
        if not rep.tri.kind:
            self.unreproducible.append(str(path))
            self.record[key] = {"reproducible": False}
        else:
            stored = findings.store_finding(self.opts.crashes_dir, self.opts.target, engine,
                                            data, rep, source=str(path), mode=self.opts.mode)
            self.note(stored, rep, progress)
            self.record[key] = {"reproducible": True, "hash": rep.tri.hash, "kind": rep.tri.kind}
        write_json(self.record_path, self.record)

    def note(self, stored: findings.Stored, rep: findings.Replay, progress) -> None:
        h = rep.tri.hash
        if h in self.seen:
            self.duplicates += 1
            self.seen[h]["count"] += 1
            return
        if not stored.new:
            self.duplicates += 1
        self.seen[h] = {"hash": h, "kind": rep.tri.kind, "first_frame": rep.tri.first_frame,
                        "new": stored.new, "dir": display_path(stored.directory),
                        "repro": stored.meta["repro"], "count": 1}
        if progress is not None:
            progress.done()
        state = "new" if stored.new else "known"
        info(f"finding ({state}) kind={rep.tri.kind} hash={h} at {rep.tri.first_frame or '?'}")
        info(f"  reproduce: {stored.meta['repro']}")


# -- the campaign --------------------------------------------------------------
class Campaign:
    def __init__(self, opts: Options):
        self.opts = opts
        self.stop_requested = 0
        self.engine = None
        self.on_progress = None  # optional callback(elapsed, engine.progress()) per loop turn

    def build(self) -> None:
        build.bootstrap()
        presets = [self.opts.engine if self.opts.engine != "afl" else "afl", "libfuzzer",
                   replay_preset()]
        for preset in dict.fromkeys(presets):
            build.ensure_built(preset, self.opts.verbose)
        name = binary_name(self.opts.target, self.opts.mode)
        for preset in dict.fromkeys(presets):
            build.require_binary(bin_path(preset, name), preset)
        if self.opts.mode == "vm":  # coverage is measured in-process
            build.require_binary(bin_path("libfuzzer", f"fuzz-{self.opts.target}"), "libfuzzer")

    def make_engine(self):
        from .afl import AflEngine
        from .libfuzzer import LibFuzzerEngine
        binary = bin_path(self.opts.engine, binary_name(self.opts.target, self.opts.mode))
        cls = LibFuzzerEngine if self.opts.engine == "libfuzzer" else AflEngine
        return cls(self.opts, binary,
                   dictionary(self.opts.target) if self.opts.use_dict else None)

    def on_signal(self, signum, frame) -> None:
        self.stop_requested += 1
        if self.stop_requested == 1:
            info(f"{signal.Signals(signum).name}: stopping (again to skip the remaining triage)")

    def run(self) -> dict:
        opts = self.opts
        # Handlers first: a signal during the build or while the seeds are
        # copied must still end in a summary, not in a Python traceback.
        old = {s: signal.signal(s, self.on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.build()
            self.engine = engine = self.make_engine()
            with tempfile.TemporaryDirectory(prefix="hvfuzz-seeds-") as tmp:
                seeds = seed_files(opts.target, opts.engine, opts.corpora_dir) + \
                    extra_seed_files(opts.target, opts.extra_seeds, Path(tmp))
                engine.prepare(seeds)
            triager = Triager(opts, engine.dir)
            elapsed = self.fuzz_loop(engine, triager)
            self.final_triage(engine, triager)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        return self.summary(engine, triager, elapsed)

    def fuzz_loop(self, engine, triager: Triager) -> float:
        opts = self.opts
        start = time.monotonic()
        deadline = start + opts.time
        progress = ProgressLine(opts.time)
        mode = " in the VM (hvfuzz-vmm)" if opts.mode == "vm" else ""
        info(f"fuzzing {opts.target}{mode} with {opts.engine} for {opts.time}s, {opts.jobs} job(s); "
             f"corpus in {display_path(engine.dir)}")
        engine.start(deadline)
        while not self.stop_requested and time.monotonic() < deadline:
            running = engine.poll(deadline)
            for key, path in triager.pending(engine.artifacts(), settle=1.0):
                if self.stop_requested:
                    break
                triager.triage(key, path, opts.engine, progress)
            progress.show(time.monotonic() - start, engine.progress(), len(triager.seen))
            if self.on_progress is not None:
                self.on_progress(time.monotonic() - start, engine.progress())
            if not running:
                break
            time.sleep(0.25)
        engine.stop()
        elapsed = time.monotonic() - start
        engine.poll(0)
        progress.show(elapsed, engine.progress(), len(triager.seen), force=True)
        progress.done()
        failure = engine.failure()
        if failure and not self.stop_requested:
            raise UserError(failure)
        return elapsed

    def final_triage(self, engine, triager: Triager) -> None:
        for key, path in triager.pending(engine.artifacts()):
            if self.stop_requested > 1:
                info("triage skipped; the next run of this campaign triages the rest")
                return
            triager.triage(key, path, self.opts.engine)

    def summary(self, engine, triager: Triager, elapsed: float) -> dict:
        opts = self.opts
        prog = engine.progress()
        result = {
            "target": opts.target, "mode": opts.mode, "engine": opts.engine, "jobs": opts.jobs,
            "seconds": round(elapsed, 1), "execs": prog["execs"],
            "exec_per_sec": round(prog["execs"] / elapsed, 1) if elapsed > 0 else 0.0,
            "corpus_size": prog["corpus"], "corpus_dirs": [display_path(d) for d in engine.corpus_dirs()],
            "findings": len(triager.seen), "new_findings": sum(f["new"] for f in triager.seen.values()),
            "finding_list": list(triager.seen.values()), "duplicates": triager.duplicates,
            "artifacts_triaged": triager.artifacts, "unreproducible": triager.unreproducible,
            "crashes_dir": display_path(opts.crashes_dir / opts.target),
            "interrupted": bool(self.stop_requested),
        }
        result.update(measure_coverage(opts.target, engine.corpus_dirs(), opts.timeout))
        result.update(engine.extra_stats())
        return result


def print_summary(result: dict) -> None:
    cov = result["coverage_edges"]
    lines = [
        f"{result['target']} / {result['engine']}: {result['seconds']}s, "
        f"{result['execs']} execs ({result['exec_per_sec']:.0f}/s), "
        f"coverage {cov if cov is not None else '?'} edges, corpus {result['corpus_size']}",
        f"findings: {result['findings']} unique ({result['new_findings']} new), "
        f"{result['duplicates']} duplicate(s), {len(result['unreproducible'])} unreproducible",
    ]
    for f in result["finding_list"]:
        lines.append(f"  {f['kind']} {f['hash']} {f['first_frame']}  ->  {f['repro']}")
    for line in lines:
        info(line)


def run(opts: Options) -> int:
    result = Campaign(opts).run()
    print_summary(result)
    if opts.json:
        write_json(opts.json, result)
    return 0
