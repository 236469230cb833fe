"""`hvfuzz minimize corpus|crash`: shrink a corpus (libFuzzer -merge=1 or
afl-cmin) or one crashing input (libFuzzer -minimize_crash=1 or afl-tmin).

A minimized crash is accepted only when the replay binary gives it the SAME
stack hash as the original (an engine may drift to another crash on the way);
a corpus is written to a new folder first and swapped in with renames, so a
kill at any moment leaves the old corpus or the new one, never half of one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import build, corpus_swap, findings
from .afl import AFL_ASAN, AFL_ENV, AFL_UBSAN
from .common import (UserError, bin_path, check_target, display_path, info, input_files,
                     read_json, replay_preset, repo_root, require_tool, write_atomic, write_json)
from .proc import LogTail, spawn
from .triage_cmd import Progress



# -- helpers -------------------------------------------------------------------
def afl_env() -> dict:
    env = dict(os.environ)
    env.update({k: v for k, v in AFL_ENV.items() if k != "AFL_AUTORESUME"})
    env["AFL_ALLOW_TMP"] = "1"  # our work dirs may live under /tmp
    env["ASAN_OPTIONS"] = AFL_ASAN
    env["UBSAN_OPTIONS"] = AFL_UBSAN
    return env


def engine_binary(target: str, engine: str, afl_tool: str) -> Path:
    """The engine's build of fuzz-<target> (built when stale)."""
    build.bootstrap()
    build.ensure_built(engine)
    if engine == "afl":
        require_tool(afl_tool)
    return build.require_binary(bin_path(engine, f"fuzz-{target}"), engine)


def run_tool(cmd: list[str], log: Path, what: str, env: dict | None = None,
             parse=None) -> int:
    """Run an engine tool (dies with hvfuzz), show a progress line on long runs."""
    proc = spawn(cmd, log, env=env, cwd=log.parent)
    tail = LogTail(log)
    progress = Progress(0, what, min_total=1 << 30)
    state = ""
    try:
        while proc.poll() is None:
            time.sleep(0.25)
            for line in tail.new_lines():
                state = (parse(line) if parse else None) or state
            progress.show(0, state)
    except BaseException:
        proc.terminate()
        proc.wait()
        raise
    finally:
        progress.done()
    return proc.returncode


def log_tail(log: Path, n: int = 12) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def dir_stats(d: Path) -> tuple[int, int]:
    files = input_files(d)
    return len(files), sum(f.stat().st_size for f in files)


def human(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# -- corpus --------------------------------------------------------------------
def merge_progress(line: str) -> str | None:
    line = line.strip()
    if line.startswith("MERGE-OUTER:") or line.startswith("MERGE-INNER:"):
        return line.split(":", 1)[1].strip()[:70]
    if line.startswith("#") and "pulse" in line or "LOADED" in line:
        return line[:70]
    return None


def cmin_progress(line: str) -> str | None:
    line = line.strip()
    if line.startswith(("Processing", "[*]", "[+]")):
        return line[:70]
    return None


def minimize_corpus(target: str, engine: str, corpus: Path | None, out: Path | None,
                    timeout: int) -> int:
    from .campaign import measure_coverage
    check_target(target)
    corpus = (corpus or repo_root() / "corpora" / target).absolute()
    out = out.absolute() if out is not None else None
    for d in {out or corpus, corpus}:
        note = corpus_swap.recover(d)
        if note:
            info(f"{display_path(d)}: {note} (an earlier run was interrupted)")
    hint = f" (a campaign's corpus: --corpus out/{target}/libfuzzer/corpus)"
    if not corpus.is_dir():
        raise UserError(f"no such corpus directory: {corpus}{hint}")
    n_before, size_before = dir_stats(corpus)
    if n_before == 0:
        raise UserError(f"corpus {corpus} is empty: nothing to minimize{hint}")
    if out is not None:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UserError(f"--out {out} exists and is not an empty directory")
    binary = engine_binary(target, engine, "afl-cmin")
    dest = out or corpus
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = corpus_swap.staging_dir(dest)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    info(f"minimizing corpus {display_path(corpus)} ({n_before} files, {human(size_before)}) "
         f"with {'libFuzzer -merge=1' if engine == 'libfuzzer' else 'afl-cmin'}")
    try:
        with tempfile.TemporaryDirectory(prefix="hvfuzz-cmin-") as tmp:
            log = Path(tmp) / "tool.log"
            if engine == "libfuzzer":
                cmd = [str(binary), "-merge=1", f"-timeout={timeout}", "-rss_limit_mb=2048",
                       f"-artifact_prefix={tmp}/", str(work), str(corpus)]
                rc = run_tool(cmd, log, "merging", parse=merge_progress)
            else:
                os.rmdir(work)  # afl-cmin creates its output folder
                cmd = ["afl-cmin", "-i", str(corpus), "-o", str(work), "-t",
                       str(timeout * 1000), "-m", "none", "--", str(binary)]
                rc = run_tool(cmd, log, "afl-cmin", env=afl_env(), parse=cmin_progress)
            if rc != 0:
                raise UserError(f"{' '.join(cmd[:2])} failed (exit {rc}); last output:\n"
                                f"{log_tail(log)}")
        shutil.rmtree(work / ".traces", ignore_errors=True)
        n_after, size_after = dir_stats(work)
        if n_after == 0:
            raise UserError("the minimized corpus is empty (every input crashed?): "
                            f"{display_path(corpus)} left unchanged")
        cov_before = measure_coverage(target, [corpus], timeout).get("coverage_edges")
        cov_after = measure_coverage(target, [work], timeout).get("coverage_edges")
        if out is None:
            corpus_swap.fsync_tree(work)
            corpus_swap.swap_in(corpus, work)
        else:
            if out.exists():
                out.rmdir()  # checked empty above
            os.replace(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{target}: corpus {display_path(dest)}: {n_before} -> {n_after} files, "
          f"{human(size_before)} -> {human(size_after)}")
    print(f"coverage (libFuzzer cov: edges): {'?' if cov_before is None else cov_before} "
          f"before, {'?' if cov_after is None else cov_after} after")
    return 0


# -- crash ---------------------------------------------------------------------
class CrashMinimizer:
    def __init__(self, target: str, engine: str, timeout: float, tmp: Path, orig_hash: str):
        self.target = target
        self.engine = engine
        self.timeout = timeout
        self.tmp = tmp
        self.hash = orig_hash
        self.tries = 0
        self.drifted: list[str] = []  # engine outputs with another outcome

    def replay(self, data: bytes) -> findings.Replay:
        self.tries += 1
        path = self.tmp / f"cand-{self.tries}.bin"
        path.write_bytes(data)
        return findings.replay_input(self.target, path, timeout=self.timeout)

    def same_bug(self, data: bytes) -> bool:
        """True when `data` replays with the original stack hash."""
        rep = self.replay(data)
        return bool(rep.tri.kind) and rep.tri.hash == self.hash

    def trim_prefix(self, data: bytes, deadline: float) -> bytes:
        """Truncation ends a program: the shortest prefix with the same hash
        (binary search; each accepted step is verified)."""
        lo, hi = 0, len(data)  # data[:hi] reproduces
        while lo + 1 < hi and time.monotonic() < deadline:
            mid = (lo + hi) // 2
            if self.same_bug(data[:mid]):
                hi = mid
            else:
                lo = mid
        return data[:hi]

    def drop_ops(self, data: bytes, deadline: float) -> bytes:
        """Op-aware pass the engines cannot do: delete whole ops (lines of
        the text form, `.bytes` runs included), one at a time, keeping each
        deletion that still gives the same hash. Engines cut bytes, and a
        cut inside an op turns the rest into other ops."""
        from .repro import assemble
        src = self.tmp / "ops-in.bin"
        src.write_bytes(data)
        text = findings.disasm(self.target, src)
        if not text or text.startswith("# hvfuzz-disasm failed"):
            return data
        lines = [line.split("  #")[0].rstrip() for line in text.splitlines()]
        lines = [line for line in lines if line and not line.startswith("#")]
        best, i = data, 1  # lines[0] is ".target NAME"
        while i < len(lines) and time.monotonic() < deadline:
            trial = lines[:i] + lines[i + 1:]
            hvf = self.tmp / "ops-try.hvf"
            hvf.write_text("\n".join(trial) + "\n")
            try:
                cand = assemble(self.target, hvf, self.tmp).read_bytes()
            except UserError:
                i += 1
                continue
            if len(cand) < len(best) and self.same_bug(cand):
                best, lines = cand, trial
            else:
                i += 1
        return best

    def engine_round(self, data: bytes, binary: Path, deadline: float) -> bytes | None:
        """One run of the engine's crash minimizer; its output, or None."""
        src = self.tmp / "round-in.bin"
        out = self.tmp / "round-out.bin"
        src.write_bytes(data)
        out.unlink(missing_ok=True)
        log = self.tmp / "round.log"
        left = max(1, int(deadline - time.monotonic()))
        if self.engine == "libfuzzer":
            cmd = [str(binary), "-minimize_crash=1", "-runs=10000", f"-max_total_time={left}",
                   f"-timeout={int(self.timeout)}", f"-exact_artifact_path={out}", str(src)]
            env = None
        else:
            cmd = ["afl-tmin", "-i", str(src), "-o", str(out), "-t",
                   str(int(self.timeout * 1000)), "-m", "none", "--", str(binary)]
            env = afl_env()
        proc = spawn(cmd, log, env=env, cwd=self.tmp)
        try:
            proc.wait(timeout=left + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        try:
            return out.read_bytes()
        except OSError:
            return None

    def minimize(self, data: bytes, binary: Path, seconds: float) -> bytes:
        deadline = time.monotonic() + seconds
        best = self.trim_prefix(data, deadline)
        if len(best) < len(data):
            info(f"prefix trim: {len(data)} -> {len(best)} bytes")
        fruitless = 0
        rounds = 0
        while fruitless < 2 and time.monotonic() < deadline and len(best) > 1:
            rounds += 1
            cand = self.engine_round(best, binary, deadline)
            if cand is None or len(cand) >= len(best):
                fruitless += 1
                continue
            rep = self.replay(cand)
            if rep.tri.kind and rep.tri.hash == self.hash:
                info(f"{self.engine} round {rounds}: {len(best)} -> {len(cand)} bytes, same hash")
                best = cand
                fruitless = 0
            else:
                got = f"{rep.tri.kind} {rep.tri.hash}" if rep.tri.kind else "ran clean"
                info(f"{self.engine} round {rounds}: {len(cand)} bytes rejected ({got})")
                self.drifted.append(got)
                fruitless += 1
        smaller = self.drop_ops(best, deadline)
        if len(smaller) < len(best):
            info(f"op deletion: {len(best)} -> {len(smaller)} bytes, same hash")
        return smaller


def default_output(path: Path) -> Path:
    """input.bin -> input.min.bin, crash-abc -> crash-abc.min.bin."""
    stem = path.stem if path.suffix in (".bin", ".hvf") else path.name
    return path.with_name(f"{stem}.min.bin")


def update_finding_dir(hdir: Path, target: str, data: bytes, rep: findings.Replay) -> bool:
    """A stored finding (crashes/<target>/<hash>/) gets the smaller input;
    the original stays as input.orig.bin."""
    meta = read_json(hdir / "meta.json")
    if not isinstance(meta, dict) or meta.get("hash") != rep.tri.hash:
        return False
    current = (hdir / "input.bin").read_bytes()
    if len(data) >= len(current):
        return False
    if not (hdir / "input.orig.bin").exists():
        write_atomic(hdir / "input.orig.bin", current)
    repro = meta.get("repro") or findings.repro_command(hdir / "input.bin", meta.get("mode", "inproc"))
    findings.write_files(hdir, target, data, rep, repro)
    meta["size"] = len(data)
    meta["minimized"] = findings.now()
    write_json(hdir / "meta.json", meta)
    return True


def minimize_crash(path: Path, target: str | None, engine: str, seconds: int,
                   out: Path | None, timeout: int) -> int:
    from .repro import assemble, target_for
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    target = target_for(path, target)
    build.bootstrap()
    build.ensure_built(replay_preset())
    build.require_binary(findings.replay_binary(target), replay_preset())
    binary = engine_binary(target, engine, "afl-tmin")
    with tempfile.TemporaryDirectory(prefix="hvfuzz-tmin-") as tmpdir:
        tmp = Path(tmpdir)
        binfile = assemble(target, path, tmp) if path.suffix == ".hvf" else path
        data = binfile.read_bytes()
        orig_copy = tmp / "orig.bin"
        orig_copy.write_bytes(data)
        orig = findings.replay_input(target, orig_copy, timeout=timeout)
        if not orig.tri.kind:
            raise UserError(f"{path} no longer reproduces (ran clean on replay with "
                            f"{display_path(findings.replay_binary(target))})")
        info(f"minimizing {display_path(path)} ({len(data)} bytes, kind={orig.tri.kind} "
             f"hash={orig.tri.hash}) with "
             f"{'libFuzzer -minimize_crash=1' if engine == 'libfuzzer' else 'afl-tmin'}, "
             f"up to {seconds}s")
        mini = CrashMinimizer(target, engine, timeout, tmp, orig.tri.hash)
        best = mini.minimize(data, binary, seconds)
        final = tmp / "final.bin"
        final.write_bytes(best)
        rep = findings.replay_input(target, final, timeout=timeout)  # verify once more
        if rep.tri.hash != orig.tri.hash:
            best, rep = data, orig
        dest = (out or default_output(path)).absolute()
        write_atomic(dest, best)
        text = findings.disasm(target, dest)
        updated = len(best) < len(data) and path.name == "input.bin" and \
            update_finding_dir(path.parent.absolute(), target, best, rep)
    print(text.rstrip("\n") if text is not None else "(text form unavailable: hvfuzz-disasm not built)")
    drift = f"; {len(mini.drifted)} drifted candidate(s) rejected" if mini.drifted else ""
    if len(best) < len(data):
        print(f"minimized: {len(data)} -> {len(best)} bytes, kind={rep.tri.kind} "
              f"hash={rep.tri.hash} (same as the original{drift})")
    else:
        print(f"no smaller input with hash {orig.tri.hash} found ({len(data)} bytes{drift})")
    print(f"written: {display_path(dest)}")
    if updated:
        print(f"updated {display_path(path.parent)}/input.bin and input.hvf "
              f"(the original is input.orig.bin)")
    return 0
