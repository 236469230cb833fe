"""libFuzzer engine: N single-process workers sharing one corpus directory.

Each worker writes every new input to the corpus directory the moment it
finds it (nothing is lost on a kill), picks up the other workers' inputs
(-reload), and is restarted with the remaining time when it stops on a
finding. Crash/timeout/oom/leak files go to artifacts/. An input of the
corpus itself that crashes (a seed that finds a bug: libFuzzer would die on
it at every start) is moved to quarantine/ before the restart; its artifact
is triaged like any other.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from .common import UserError, engine_dir_name, input_files
from .proc import LogTail, spawn, stop_all

STATUS_RE = re.compile(r"^#(?P<execs>\d+)\s+(?P<event>\w+)\s.*?cov: (?P<cov>\d+)"
                       r"(?:.*?corp: (?P<corp>\d+)/)?(?:.*?exec/s: (?P<eps>\d+))?")
STAT_RE = re.compile(r"^stat::(?P<key>\w+):\s+(?P<val>\d+)")
MIN_RUN_SECONDS = 2  # a run shorter than this that saved nothing is a start-up failure


@dataclass
class Worker:
    index: int
    log: Path
    proc: object = None
    tail: LogTail | None = None
    started: float = 0.0
    run_execs: int = 0        # latest known execs of the current run
    done_execs: int = 0       # executions of finished runs
    cov: int = 0
    runs: int = 0
    quick_failures: int = 0
    last_lines: list = field(default_factory=list)


class LibFuzzerEngine:
    name = "libfuzzer"

    def __init__(self, opts, binary: Path, dict_path: Path | None):
        self.opts = opts
        self.binary = binary
        self.dict_path = dict_path
        self.dir = opts.workdir / opts.target / engine_dir_name(
            "libfuzzer", getattr(opts, "mode", "inproc"))
        self.corpus = self.dir / "corpus"
        self.artifacts_dir = self.dir / "artifacts"
        self.quarantine = self.dir / "quarantine"
        self.workers = [Worker(i, self.dir / "logs" / f"worker-{i}.log") for i in range(opts.jobs)]

    # -- campaign interface -------------------------------------------------
    def prepare(self, seeds: list[Path]) -> None:
        from .campaign import copy_seeds
        self.corpus.mkdir(parents=True, exist_ok=True)
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        copy_seeds(seeds, self.corpus)
        for bad in input_files(self.quarantine) if self.quarantine.is_dir() else []:
            (self.corpus / bad.name).unlink(missing_ok=True)

    def start(self, deadline: float) -> None:
        for w in self.workers:
            self._start_worker(w, deadline)

    def poll(self, deadline: float) -> bool:
        """Update stats; restart workers that stopped on a finding. True while any runs."""
        running = False
        for w in self.workers:
            self._read_log(w)
            if w.proc is None:
                continue
            if w.proc.poll() is None:
                running = True
                continue
            self._finish_run(w)
            self._quarantine_crashing_inputs(w)
            if deadline - time.monotonic() >= 1 and w.quick_failures < 3:
                self._start_worker(w, deadline)
                running = True
        return running

    def stop(self) -> None:
        stop_all([w.proc for w in self.workers if w.proc is not None])
        for w in self.workers:
            if w.proc is not None:
                self._read_log(w)
                self._finish_run(w)

    def progress(self) -> dict:
        return {"execs": sum(w.done_execs + w.run_execs for w in self.workers),
                "cov": max((w.cov for w in self.workers), default=0),
                "corpus": len(input_files(self.corpus)),
                "crashes": len(self.artifacts())}

    def artifacts(self) -> list[tuple[str, Path]]:
        return [(p.name, p) for p in input_files(self.artifacts_dir)]

    def corpus_dirs(self) -> list[Path]:
        return [self.corpus]

    def extra_stats(self) -> dict:
        return {"worker_runs": sum(w.runs for w in self.workers),
                "engine_coverage": max((w.cov for w in self.workers), default=0)}

    def failure(self) -> str | None:
        """An error message when every worker failed to start properly."""
        if all(w.quick_failures >= 3 for w in self.workers):
            w = self.workers[0]
            tail = "\n".join(w.last_lines[-15:])
            return f"libFuzzer keeps exiting at start-up; last output ({w.log}):\n{tail}"
        return None

    # -- workers --------------------------------------------------------------
    def _command(self, seconds: int) -> list[str]:
        cmd = [str(self.binary), f"-artifact_prefix={self.artifacts_dir}/",
               "-print_final_stats=1", f"-max_total_time={seconds}",
               f"-timeout={self.opts.timeout}", "-rss_limit_mb=2048", "-reload=1"]
        if self.dict_path:
            cmd.append(f"-dict={self.dict_path}")
        return cmd + [str(self.corpus)]

    def _start_worker(self, w: Worker, deadline: float) -> None:
        seconds = int(deadline - time.monotonic())
        if seconds < 1:
            w.proc = None
            return
        w.proc = spawn(self._command(seconds), w.log, append=w.runs > 0, cwd=self.dir)
        if w.tail is None:
            w.tail = LogTail(w.log)
        w.started = time.monotonic()
        w.run_execs = 0
        w.runs += 1

    def _read_log(self, w: Worker) -> None:
        if w.tail is None:
            return
        for line in w.tail.new_lines():
            w.last_lines = (w.last_lines + [line])[-40:]
            m = STATUS_RE.match(line)
            if m:
                w.run_execs = int(m.group("execs"))
                w.cov = max(w.cov, int(m.group("cov")))
                continue
            m = STAT_RE.match(line)
            if m and m.group("key") == "number_of_executed_units":
                w.run_execs = int(m.group("val"))

    def _finish_run(self, w: Worker) -> None:
        rc = w.proc.returncode if w.proc else None
        lasted = time.monotonic() - w.started
        w.done_execs += w.run_execs
        w.run_execs = 0
        if rc not in (0, None) and lasted < MIN_RUN_SECONDS and not self._any_new_artifact(w):
            w.quick_failures += 1
        else:
            w.quick_failures = 0
        w.proc = None

    def _quarantine_crashing_inputs(self, w: Worker) -> None:
        """Corpus files (named by their SHA-1) whose bytes the run's new
        artifacts repeat: they would crash the restarted worker again."""
        for _, art in self.artifacts():
            try:
                if art.stat().st_mtime < w.started - 1:
                    continue
                digest = hashlib.sha1(art.read_bytes()).hexdigest()
            except OSError:
                continue
            src = self.corpus / digest
            if src.is_file():
                self.quarantine.mkdir(parents=True, exist_ok=True)
                src.replace(self.quarantine / digest)

    def _any_new_artifact(self, w: Worker) -> bool:
        return any(p.stat().st_mtime >= w.started - 1 for _, p in self.artifacts())


def check_binary(binary: Path) -> None:
    if not binary.is_file():
        raise UserError(f"{binary} not found")
