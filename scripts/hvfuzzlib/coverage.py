"""`hvfuzz coverage TARGET...`: clang source-based coverage of a corpus.

The `coverage` preset builds the replay binaries with -fprofile-instr-generate
-fcoverage-mapping (no sanitizers). The corpus is replayed in batches with
LLVM_PROFILE_FILE=<tmp>/%p-%m.profraw (one profile per process, nothing
overwritten); a batch that stops on a finding is replayed one input at a time
and the inputs that do not exit cleanly are left out (their profile is never
written). The profiles are merged with `llvm-profdata merge -sparse`; the
report covers device code only (targets/, the self-test device only for its
own target): HTML from `llvm-cov show` and the per-file summary from
`llvm-cov export -summary-only`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import build
from .common import (StatusLine, UserError, bin_path, check_target, display_path, input_files,
                     read_targets, repo_root, write_json)

PRESET = "coverage"
BATCH = 64  # inputs per replay process


def llvm_tool(name: str) -> str:
    for cand in (name, f"{name}-14"):
        path = shutil.which(cand)
        if path:
            return path
    raise UserError(f"{name} not found (scripts/bootstrap installs llvm)")


def replay_binary(target: str) -> Path:
    return bin_path(PRESET, f"fuzz-{target}")


def default_corpus(target: str) -> list[Path]:
    """corpora/<target>/ (if present) and the assembled seeds of the coverage build."""
    return [d for d in (repo_root() / "corpora" / target,
                        bin_path(PRESET, "x").parent.parent / "seeds" / target) if d.is_dir()]


def corpus_inputs(dirs: list[Path]) -> list[Path]:
    """Every input file in the given folders (or the files themselves)."""
    out: list[Path] = []
    for d in dirs:
        d = Path(d)
        if d.is_file():
            out.append(d)
        elif d.is_dir():
            out += [p for p in input_files(d) if p.suffix not in (".hvf", ".md", ".json")]
        else:
            raise UserError(f"no such corpus directory: {d}")
    return list(dict.fromkeys(p.absolute() for p in out))


def source_dirs(target: str) -> list[Path]:
    """Device code: targets/*/, without targets/selftest/ except for its own targets."""
    base = repo_root() / "targets"
    return sorted(d for d in base.iterdir() if d.is_dir() and
                  (d.name != "selftest" or target.startswith("selftest-")))


class Progress:
    """"<target>: replayed N/M inputs", for corpora larger than one batch."""

    def __init__(self, what: str, total: int):
        self.what, self.total = what, total
        self.out = StatusLine(0.0)

    def update(self, done: int) -> None:
        if self.total <= BATCH:
            return
        now = time.monotonic()
        if self.out.due(now) or done == self.total:
            self.out.write(f"{self.what}: replayed {done}/{self.total} inputs", now)
        if done == self.total:
            self.out.done()


def _replay(binary: Path, files: list[Path], env: dict) -> bool:
    proc = subprocess.run([str(binary), "--quiet", *map(str, files)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return proc.returncode == 0


def replay(target: str, files: list[Path], profdir: Path) -> int:
    """Replay `files` with profiles into profdir; returns how many were left out."""
    binary = build.require_binary(replay_binary(target), PRESET)
    env = dict(os.environ, LLVM_PROFILE_FILE=str(profdir / "%p-%m.profraw"))
    progress = Progress(target, len(files))
    failed = 0
    for i in range(0, len(files), BATCH):
        batch = files[i:i + BATCH]
        if not _replay(binary, batch, env):
            failed += sum(not _replay(binary, [f], env) for f in batch)
        progress.update(min(i + BATCH, len(files)))
    return failed


def summarize(target: str, binary: Path, profdata: Path) -> dict:
    """llvm-cov export -summary-only, restricted to device code."""
    proc = subprocess.run([llvm_tool("llvm-cov"), "export", "-summary-only",
                           f"-instr-profile={profdata}", str(binary),
                           *map(str, source_dirs(target))],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"llvm-cov export failed: {proc.stderr.strip()[-300:]}")
    root = repo_root()
    files = []
    for f in json.loads(proc.stdout)["data"][0]["files"]:
        s = f["summary"]
        if s["lines"]["count"] == 0:
            continue
        files.append({"file": os.path.relpath(f["filename"], root),
                      "lines": counts(s["lines"]), "branches": counts(s.get("branches", {})),
                      "regions": counts(s["regions"])})
    files.sort(key=lambda f: f["file"])
    return {"target": target, "lines": total(files, "lines"),
            "branches": total(files, "branches"), "regions": total(files, "regions"),
            "files": files}


def counts(s: dict) -> dict:
    covered, count = int(s.get("covered", 0)), int(s.get("count", 0))
    return {"covered": covered, "count": count,
            "percent": 100.0 * covered / count if count else 0.0}


def total(files: list[dict], key: str) -> dict:
    return counts({"covered": sum(f[key]["covered"] for f in files),
                   "count": sum(f[key]["count"] for f in files)})


def html_report(target: str, binary: Path, profdata: Path, outdir: Path) -> Path:
    """llvm-cov show -format=html of targets/ (branch counts where supported)."""
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [llvm_tool("llvm-cov"), "show", "-format=html", f"-output-dir={outdir}",
           f"-instr-profile={profdata}", "-show-line-counts-or-regions",
           f"-project-title=hvfuzz {target}", str(binary), *map(str, source_dirs(target))]
    proc = subprocess.run(cmd[:2] + ["-show-branches=count"] + cmd[2:], capture_output=True,
                          text=True)
    if proc.returncode != 0:  # an llvm-cov without branch coverage (LLVM < 12)
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"llvm-cov show failed: {proc.stderr.strip()[-300:]}")
    return outdir / "index.html"


def measure(target: str, corpus_dirs: list[Path] | None = None,
            html_dir: Path | None = None) -> dict:
    """Replay, merge, summarize (and the HTML report when html_dir is given).
    The summary dict gets "inputs", "left_out" and, with HTML, "html"."""
    check_target(target)
    build.ensure_built(PRESET)
    dirs = [Path(d) for d in corpus_dirs] if corpus_dirs else default_corpus(target)
    files = corpus_inputs(dirs)
    if not files:
        raise UserError(f"no corpus for '{target}' (looked in: "
                        f"{', '.join(display_path(d) for d in dirs) or 'corpora/' + target}); "
                        "give one with --corpus DIR")
    binary = build.require_binary(replay_binary(target), PRESET)
    with tempfile.TemporaryDirectory(prefix="hvfuzz-coverage-") as tmp:
        profdir = Path(tmp) / "raw"
        profdir.mkdir()
        left_out = replay(target, files, profdir)
        raws = sorted(profdir.glob("*.profraw"))
        if not raws:
            raise UserError(f"no profile written: every input of '{target}' stopped on a finding")
        profdata = Path(tmp) / f"{target}.profdata"
        proc = subprocess.run([llvm_tool("llvm-profdata"), "merge", "-sparse",
                               *map(str, raws), "-o", str(profdata)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise UserError(f"llvm-profdata merge failed: {proc.stderr.strip()[-300:]}")
        result = summarize(target, binary, profdata)
        result["inputs"], result["left_out"] = len(files), left_out
        if html_dir is not None:
            result["html"] = str(html_report(target, binary, profdata, html_dir))
            shutil.copy(profdata, html_dir / f"{target}.profdata")
            write_json(html_dir / "summary.json", result)
    return result


def line_summary(target: str, corpus_dirs: list[Path]) -> dict:
    """Line/branch coverage of device code by a corpus (default corpus when empty):
    {"lines": {"covered","count","percent"}, "branches": {...},
     "files": [{"file","lines","branches"}]} (plus "regions", "inputs", "left_out")."""
    return measure(target, corpus_dirs or None)


def pct(c: dict) -> str:
    return f"{c['percent']:5.1f}% ({c['covered']}/{c['count']})" if c["count"] else "n/a"


def table(result: dict) -> list[str]:
    """Per-file rows grouped by folder, a subtotal per folder, a TOTAL row."""
    files = result["files"]
    width = max([len(f["file"]) for f in files] + [24])
    rows = [f"{'file':<{width}}  {'lines':<22}  branches"]
    folders: dict[str, list[dict]] = {}
    for f in files:
        folders.setdefault(os.path.dirname(f["file"]), []).append(f)
    for folder, fs in sorted(folders.items()):
        for f in fs:
            rows.append(f"{f['file']:<{width}}  {pct(f['lines']):<22}  {pct(f['branches'])}")
        sub = f"{folder}/ total"
        rows.append(f"{sub:<{width}}  {pct(total(fs, 'lines')):<22}  "
                    f"{pct(total(fs, 'branches'))}")
    rows.append(f"{'TOTAL':<{width}}  {pct(result['lines']):<22}  {pct(result['branches'])}")
    return rows


def run(targets: list[str], corpus: list[Path], all_targets: bool, html: Path | None,
        verbose: bool = False) -> int:
    if all_targets:
        targets = list(dict.fromkeys(targets + [t for t, _ in read_targets()]))
    if not targets:
        raise UserError("name a target (or --all)")
    for t in targets:
        check_target(t)
    build.bootstrap()
    llvm_tool("llvm-profdata")
    llvm_tool("llvm-cov")
    build.ensure_built(PRESET, verbose)
    for t in targets:
        outdir = (html / t if html and len(targets) > 1 else html) if html else \
            repo_root() / "coverage" / t
        r = measure(t, corpus, outdir.absolute())
        note = f", {r['left_out']} left out (stopped on a finding)" if r["left_out"] else ""
        print(f"coverage of {t}: {r['inputs']} inputs{note}")
        print("\n".join(table(r)))
        print(f"HTML report: {display_path(Path(r['html']))}")
        sys.stdout.flush()
    return 0
