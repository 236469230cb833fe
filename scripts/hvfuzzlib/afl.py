"""AFL++ engine: one afl-fuzz instance per job (-M main -S s1.. when N > 1).

afl-fuzz writes each queue entry, crash and hang to disk when it finds it;
a stopped or killed campaign resumes from its output directory
(AFL_AUTORESUME, i.e. `-i -`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .common import bin_path, engine_dir_name, input_files, read_native_targets, require_tool
from .proc import LogTail, spawn, stop_all

AFL_ENV = {
    "AFL_NO_UI": "1",
    "AFL_AUTORESUME": "1",
    "AFL_SKIP_CPUFREQ": "1",                       # no cpufreq governor in VMs
    "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES": "1",  # core_pattern may pipe to a handler
    "AFL_NO_AFFINITY": "1",                        # shared 2-core machines: don't pin
    "AFL_SKIP_CRASHES": "1",                       # a crashing seed is not fatal
    "AFL_FAST_CAL": "1",
    "AFL_IMPORT_FIRST": "1",
}
# afl-fuzz's recommended sanitizer settings (it refuses symbolize=1 or
# abort_on_error=0); findings are re-run with the replay binary for reports.
AFL_ASAN = ("abort_on_error=1:detect_leaks=0:symbolize=0:allocator_may_return_null=1:"
            "detect_odr_violation=0:malloc_context_size=0")
AFL_UBSAN = "halt_on_error=1:abort_on_error=1:symbolize=0:malloc_context_size=0"


def read_stats(path: Path) -> dict:
    stats = {}
    try:
        for line in path.read_text(errors="replace").splitlines():
            key, sep, val = line.partition(":")
            if sep:
                stats[key.strip()] = val.strip()
    except OSError:
        pass
    return stats


def num(value, default=0):
    try:
        return float(str(value).rstrip("%")) if "." in str(value) else int(value)
    except (TypeError, ValueError):
        return default


class AflEngine:
    name = "afl"

    def __init__(self, opts, binary: Path, dict_path: Path | None):
        self.opts = opts
        self.binary = binary
        self.dict_path = dict_path
        self.dir = opts.workdir / opts.target / engine_dir_name(
            "afl", getattr(opts, "mode", "inproc"))
        self.out = self.dir / "out"
        self.input = self.dir / "input"
        self.names = ["default"] if opts.jobs == 1 else \
            ["main"] + [f"s{i}" for i in range(1, opts.jobs)]
        self.procs: dict[str, object] = {}
        self.tails: dict[str, LogTail] = {}
        self.execs_before: dict[str, int] = {}
        self.last_lines: list[str] = []

    # -- campaign interface -------------------------------------------------
    def prepare(self, seeds: list[Path]) -> None:
        """-i for instances that start fresh: the seeds plus every queue entry of
        earlier instances (another --jobs count), so no input is left behind."""
        from .campaign import copy_seeds
        require_tool("afl-fuzz")
        self.out.mkdir(parents=True, exist_ok=True)
        copy_seeds(seeds + self.all_queue_files(), self.input)
        if not input_files(self.input):
            (self.input / "empty").write_bytes(b"\0")
        for name in self.names:
            self.execs_before[name] = num(read_stats(self.out / name / "fuzzer_stats")
                                          .get("execs_done", 0))

    def start(self, deadline: float) -> None:
        seconds = max(1, int(deadline - time.monotonic()))
        for name in self.names:
            log = self.dir / "logs" / f"afl-{name}.log"
            self.procs[name] = spawn(self._command(name, seconds), log, env=self._env(),
                                     cwd=self.dir)
            self.tails[name] = LogTail(log)

    def poll(self, deadline: float) -> bool:
        for tail in self.tails.values():
            self.last_lines = (self.last_lines + tail.new_lines())[-40:]
        return any(p.poll() is None for p in self.procs.values())

    def stop(self) -> None:
        stop_all(list(self.procs.values()))
        self.poll(0)

    def progress(self) -> dict:
        """Counts from the directories (live) and execs from fuzzer_stats, which
        afl-fuzz rewrites about once a minute and at exit."""
        execs = 0
        cov = 0
        for name in self.names:
            stats = read_stats(self.out / name / "fuzzer_stats")
            if stats:
                execs += max(0, num(stats.get("execs_done", 0)) - self.execs_before.get(name, 0))
                cov = max(cov, num(stats.get("edges_found", 0)))
        return {"execs": execs, "cov": cov, "corpus": len(self.queue_files(self.names[0])),
                "crashes": len(self.artifacts())}

    def artifacts(self) -> list[tuple[str, Path]]:
        found = []
        for inst in sorted(p for p in self.out.iterdir() if p.is_dir()) if self.out.is_dir() else []:
            for sub in ("crashes", "hangs"):
                for f in input_files(inst / sub):
                    if f.name.startswith("id:"):
                        found.append((f"{inst.name}/{sub}/{f.name}", f))
        return found

    def corpus_dirs(self) -> list[Path]:
        return [self.out / name / "queue" for name in self.names]

    def extra_stats(self) -> dict:
        per = {}
        for name in self.names:
            stats = read_stats(self.out / name / "fuzzer_stats")
            per[name] = {k: stats.get(k) for k in ("execs_done", "execs_per_sec", "corpus_count",
                                                  "edges_found", "total_edges", "bitmap_cvg",
                                                  "saved_crashes", "saved_hangs", "stability")}
        cov = max((num(s.get("edges_found")) for s in per.values() if s.get("edges_found")), default=0)
        return {"instances": per, "engine_coverage": cov}

    def failure(self) -> str | None:
        if self.procs and all(p.poll() not in (None, 0) for p in self.procs.values()):
            tail = "\n".join(line for line in self.last_lines[-15:])
            return f"afl-fuzz exited with an error; last output:\n{tail}"
        return None

    # -- helpers --------------------------------------------------------------
    def queue_files(self, name: str) -> list[Path]:
        return [f for f in input_files(self.out / name / "queue") if f.name.startswith("id:")]

    def all_queue_files(self) -> list[Path]:
        if not self.out.is_dir():
            return []
        return [f for inst in sorted(self.out.iterdir()) if inst.is_dir()
                for f in self.queue_files(inst.name)]

    def _command(self, name: str, seconds: int) -> list[str]:
        cmd = ["afl-fuzz", "-i", str(self.input), "-o", str(self.out),
               "-t", str(self.opts.timeout * 1000), "-m", "none", "-V", str(seconds)]
        if len(self.names) > 1:
            cmd += ["-M" if name == "main" else "-S", name]
        if self.dict_path:
            cmd += ["-x", str(self.dict_path)]
        return cmd + ["--", str(self.binary)]

    def _env(self) -> dict:
        env = dict(os.environ)
        env.update(AFL_ENV)
        env["ASAN_OPTIONS"] = AFL_ASAN
        env["UBSAN_OPTIONS"] = AFL_UBSAN
        if os.environ.get("HVFUZZ_MUTATOR") == "units":  # harness/inproc/afl_mutator.c
            env["AFL_CUSTOM_MUTATOR_LIBRARY"] = str(bin_path("afl", "hvfuzz-afl-mutator.so"))
            if self.opts.target in {t for t, _ in read_native_targets()}:
                env["HVFUZZ_UNITS"] = "tpm"
        return env
