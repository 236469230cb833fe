"""`hvfuzz ci`: time-boxed fuzzing for CI runners.

Per target: (1) regression gate: replay corpora/<target>/ and every stored
crashes/<target>/*/input.bin; (2) a campaign (campaign.Campaign) for the
target's share of --time in <workdir>/ci/<target>/; (3) merge the campaign
corpus into corpora/<target>/ with libFuzzer -merge=1, swapped in atomically
(corpus_swap.py); (4) findings deduplicated by stack hash against crashes/;
(5) coverage before/after; (6) report.json, report.md, report.sarif and a
plot per target in the report directory. Exit 1 on a new finding or a
regression, 0 otherwise (130 when interrupted with nothing found).

Regressions: a corpus entry that crashes is a regression (corpora/ holds
inputs that ran clean when they were merged). A stored finding is replayed
too: while it still crashes it is a known, open finding; when it runs clean
its meta.json gets "fixed": <date>; a finding marked fixed that crashes
again is a regression.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import build, campaign, corpus_swap, findings
from .common import (bin_path, binary_name, display_path, info, input_files, read_json,
                     replay_preset, repo_root, write_atomic, write_json)
from .proc import spawn

BATCH = 400                # corpus inputs per replay process
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass
class Options:
    targets: list
    time: int
    jobs: int
    engine: str
    mode: str
    workdir: Path
    crashes_dir: Path
    corpora_dir: Path
    report: Path
    timeout: int = 5
    line_coverage: bool = True
    verbose: bool = False


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def repro_for(path: Path, target: str, mode: str) -> str:
    """One command reproducing a corpus input (its target cannot be guessed
    from a corpora/ path, so it is named)."""
    shown = display_path(path)
    opt = " --mode vm" if mode == "vm" else ""
    if os.path.isabs(shown):
        return (f"{shlex.quote(str(repo_root() / 'scripts' / 'hvfuzz'))} repro --target "
                f"{target}{opt} {shlex.quote(shown)}")
    return f"scripts/hvfuzz repro --target {target}{opt} {shlex.quote(shown)}"


# -- (1) regression gate -----------------------------------------------------
def replay_batch(target: str, mode: str, files: list[Path], timeout: int) -> list[tuple[Path, findings.Replay]]:
    """Replay corpus inputs, many per process; every input that crashes is
    replayed alone to classify it. Returns (file, replay) of the crashing ones."""
    binary = findings.replay_binary(target, mode)
    bad = []
    queue = list(files)
    while queue:
        batch, queue = queue[:BATCH], queue[BATCH:]
        limit = 2 * timeout + 5 + 0.1 * len(batch)
        rc, out, _ = findings.run_replay(binary, batch[-1], limit, tuple(map(str, batch[:-1])))
        if rc == 0:
            continue
        index = 0
        for line in out.splitlines():
            if line.startswith("replay: ") and line.endswith(" bytes)"):
                name = line[len("replay: "):line.rindex(" (")]
                for i, f in enumerate(batch):
                    if str(f) == name:
                        index = i
        culprit = batch[index]
        rep = findings.replay_input(target, culprit, timeout=2 * timeout + 5, mode=mode)
        if rep.tri.kind:
            bad.append((culprit, rep))
        else:
            info(f"ci: {display_path(culprit)} failed in a batch but ran clean alone (flaky)")
        queue = batch[index + 1:] + queue
    return bad


def finding_entry(rep: findings.Replay, repro: str, **extra) -> dict:
    tri = rep.tri
    entry = {"kind": tri.kind, "hash": tri.hash, "first_frame": tri.first_frame,
             "summary": tri.summary, "repro": repro}
    entry.update(extra)
    return entry


def regression_gate(opts: Options, target: str) -> dict:
    corpus = opts.corpora_dir / target
    files = input_files(corpus)
    info(f"ci: {target}: regression gate: {len(files)} corpus input(s), "
         f"{len(stored_findings(opts.crashes_dir, target))} stored finding(s)")
    regressions, known, fixed, bad_files = [], [], [], []
    for path, rep in replay_batch(target, opts.mode, files, opts.timeout):
        bad_files.append(path)
        regressions.append(finding_entry(rep, repro_for(path, target, opts.mode),
                                         source="corpus", file=display_path(path)))
    for hdir, meta in stored_findings(opts.crashes_dir, target):
        rep = findings.replay_input(target, hdir / "input.bin", timeout=2 * opts.timeout + 5,
                                    mode=opts.mode)
        repro = meta.get("repro") or findings.repro_command(hdir / "input.bin", opts.mode)
        if not rep.tri.kind:
            if not meta.get("fixed"):
                meta["fixed"] = now()
                write_json(hdir / "meta.json", meta)
            fixed.append({"hash": hdir.name, "kind": meta.get("kind", ""), "fixed": meta["fixed"],
                          "dir": display_path(hdir)})
        elif meta.get("fixed"):
            regressions.append(finding_entry(rep, repro, source="crashes",
                                             file=display_path(hdir / "input.bin"),
                                             stored_hash=hdir.name, fixed=meta["fixed"]))
        else:
            known.append(finding_entry(rep, repro, new=False, dir=display_path(hdir),
                                       source="crashes"))
    for r in regressions:
        info(f"ci: REGRESSION kind={r['kind']} hash={r['hash']} in {r['file']}")
        info(f"  reproduce: {r['repro']}")
    return {"regressions": regressions, "known": known, "fixed": fixed, "bad_files": bad_files}


def stored_findings(crashes_dir: Path, target: str) -> list[tuple[Path, dict]]:
    base = crashes_dir / target
    if not base.is_dir():
        return []
    out = []
    for hdir in sorted(base.iterdir()):
        if (hdir / "input.bin").is_file():
            meta = read_json(hdir / "meta.json", {}) or {}
            out.append((hdir, meta if isinstance(meta, dict) else {}))
    return out


# -- (5) coverage ------------------------------------------------------------
def edge_coverage(target: str, directory: Path, exclude: list[Path], timeout: int):
    """libFuzzer's cov: over a corpus, leaving out inputs known to crash."""
    skip = {p.name for p in exclude}
    with tempfile.TemporaryDirectory(prefix="hvfuzz-ci-cov-") as tmp:
        d = Path(tmp) / "corpus"
        d.mkdir()
        for f in input_files(directory):
            if f.name not in skip:
                campaign.link_or_copy(f, d / f.name)
        return campaign.measure_coverage(target, [d], timeout).get("coverage_edges")


def line_coverage(target: str, directory: Path) -> tuple[dict | None, str | None]:
    """coverage.line_summary of targets/ when that module provides it."""
    try:
        from . import coverage as cov_mod  # written by the coverage command
        fn = getattr(cov_mod, "line_summary")
    except Exception as e:  # noqa: BLE001 (absent, or not importable yet)
        return None, f"line coverage unavailable ({type(e).__name__}: {e})"
    try:
        return fn(target, [directory]), None
    except Exception as e:  # noqa: BLE001 (a report must still be written)
        return None, f"line coverage failed: {e}"


# -- (2) fuzzing with a progress sampler ---------------------------------------
class Sampler:
    """Writes `seconds execs exec_per_sec cov corpus` every `interval` seconds."""

    def __init__(self, path: Path, interval: float):
        self.path = path
        self.interval = interval
        self.next = min(1.0, interval)  # no sample at 0 s: no rate yet
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as f:
            f.write("# seconds execs exec_per_sec(average) coverage(edges) corpus\n")

    def sample(self, elapsed: float, prog: dict, force: bool = False) -> None:
        if not force and elapsed < self.next:
            return
        self.next = elapsed + self.interval
        eps = prog["execs"] / elapsed if elapsed > 0 else 0.0
        with open(self.path, "a") as f:
            f.write(f"{elapsed:.1f} {prog['execs']} {eps:.1f} {prog['cov']} {prog['corpus']}\n")


def fuzz(opts: Options, target: str, seconds: int, dat: Path) -> tuple[dict, bool]:
    copts = campaign.Options(target=target, engine=opts.engine, time=seconds, jobs=opts.jobs,
                             workdir=opts.workdir / "ci", json=None,
                             crashes_dir=opts.crashes_dir, timeout=opts.timeout,
                             verbose=opts.verbose, mode=opts.mode, corpora_dir=opts.corpora_dir)
    camp = campaign.Campaign(copts)
    sampler = Sampler(dat, max(1.0, min(5.0, seconds / 20)))
    camp.on_progress = sampler.sample
    result = camp.run()
    sampler.sample(result["seconds"], {"execs": result["execs"],
                                       "cov": result.get("engine_coverage") or 0,
                                       "corpus": result["corpus_size"]}, force=True)
    return result, bool(camp.stop_requested)


# -- (3) merge -----------------------------------------------------------------
def merge(opts: Options, target: str, campaign_dirs: list[Path], keep: list[Path]) -> dict:
    """libFuzzer -merge=1 of corpora/<target> and the campaign corpus into a
    staging directory, then the atomic swap (see corpus_swap)."""
    dest = opts.corpora_dir / target
    new = corpus_swap.staging_dir(dest)
    note = corpus_swap.recover(dest)
    if note:
        info(f"ci: {display_path(dest)}: {note}")
    inputs = [d for d in [dest, *campaign_dirs] if input_files(d)]
    if not inputs:
        return {"merged": False, "note": "nothing to merge"}
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir()
    logs = opts.workdir / "ci" / target / "logs"
    arts = opts.workdir / "ci" / target / "merge-artifacts"
    arts.mkdir(parents=True, exist_ok=True)
    binary = bin_path("libfuzzer", f"fuzz-{target}")
    cmd = [str(binary), "-merge=1", f"-timeout={opts.timeout}", "-rss_limit_mb=2048",
           f"-artifact_prefix={arts}/", str(new), *map(str, inputs)]
    info(f"ci: {target}: merging {' + '.join(display_path(d) for d in inputs)} (libFuzzer -merge=1)")
    corpus_swap.env_hold("merging")
    proc = spawn(cmd, logs / "merge.log", cwd=opts.workdir / "ci" / target)
    rc = proc.wait()
    if rc != 0 or not input_files(new):
        shutil.rmtree(new, ignore_errors=True)
        return {"merged": False, "note": f"libFuzzer -merge=1 failed (exit {rc}); corpus kept as it "
                f"was; see {display_path(logs / 'merge.log')}"}
    for f in keep:  # crashing corpus entries stay until fixed: the gate keeps reporting them
        if f.is_file():
            shutil.copyfile(f, new / f.name)
    corpus_swap.fsync_tree(new)
    how = corpus_swap.swap_in(dest, new)
    return {"merged": True, "swap": how}


# -- per target ------------------------------------------------------------------
def run_target(opts: Options, target: str, seconds: int, before_hashes: set) -> dict:
    corpus = opts.corpora_dir / target
    note = corpus_swap.recover(corpus)
    if note:
        info(f"ci: {display_path(corpus)}: {note}")
    notes = []
    gate = regression_gate(opts, target)
    size_before = len(input_files(corpus))
    edges_before = edge_coverage(target, corpus, gate["bad_files"], opts.timeout)
    lines_before = None
    if opts.line_coverage and size_before:
        lines_before, why = line_coverage(target, corpus)
        if why:
            notes.append(f"before: {why}")
    dat = opts.report / f"{target}.dat"
    result, interrupted = fuzz(opts, target, seconds, dat)
    campaign_dirs = [repo_root() / d if not os.path.isabs(d) else Path(d)
                     for d in result["corpus_dirs"]]
    merged = merge(opts, target, campaign_dirs, gate["bad_files"])
    if merged.get("note"):
        notes.append(merged["note"])
    edges_after = edge_coverage(target, corpus, gate["bad_files"], opts.timeout)
    lines_after = None
    if opts.line_coverage and input_files(corpus):
        lines_after, why = line_coverage(target, corpus)
        if why:
            notes.append(f"after: {why}")
    new, known = [], {f["hash"]: f for f in gate["known"]}
    for f in result["finding_list"]:
        entry = {"kind": f["kind"], "hash": f["hash"], "first_frame": f["first_frame"],
                 "repro": f["repro"], "count": f["count"], "dir": f["dir"]}
        if f["new"] and f["hash"] not in before_hashes:
            new.append(dict(entry, new=True))
        elif f["hash"] in known:
            known[f["hash"]]["count"] = f["count"]
        else:
            known[f["hash"]] = dict(entry, new=False, source="campaign")
    plot = plot_target(opts, target, dat)
    if plot.get("note"):
        notes.append(plot["note"])
    return {
        "target": target, "mode": opts.mode, "engine": opts.engine, "jobs": opts.jobs,
        "seconds": result["seconds"], "execs": result["execs"],
        "exec_per_sec": result["exec_per_sec"],
        "coverage": {"edges_before": edges_before, "edges_after": edges_after,
                     "lines_before": lines_before, "lines_after": lines_after},
        "corpus": {"dir": display_path(corpus), "before": size_before,
                   "after": len(input_files(corpus)), "campaign": result["corpus_size"],
                   "merged": merged.get("merged", False), "swap": merged.get("swap")},
        "new_findings": new, "known_findings": list(known.values()),
        "regressions": gate["regressions"], "fixed": gate["fixed"],
        "duplicates": result["duplicates"], "unreproducible": result["unreproducible"],
        "workdir": display_path(opts.workdir / "ci" / target),
        "progress_data": dat.name, "plot": plot.get("svg"),
        "interrupted": interrupted, "notes": notes,
    }


# -- (6) reports -------------------------------------------------------------------
def plot_target(opts: Options, target: str, dat: Path) -> dict:
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return {"note": "plot skipped: gnuplot not found (scripts/bootstrap installs gnuplot-nox)"}
    svg = dat.with_suffix(".svg")
    script = "\n".join([
        "set terminal svg size 900,420 dynamic background rgb 'white'",
        f"set output '{svg}'",
        f"set title '{target}: coverage and exec/s ({opts.engine}, {opts.mode})' noenhanced",
        "set xlabel 'seconds'", "set ylabel 'coverage (edges)'",
        "set y2label 'exec/s (average since start)'",
        "set ytics nomirror", "set y2tics", "set key right bottom opaque box", "set grid",
        "set yrange [0:*]", "set y2range [0:*]",
        f"plot '{dat}' using 1:4 with lines lw 2 title 'coverage (edges)' axes x1y1, "
        f"'' using 1:3 with lines lw 2 title 'exec/s' axes x1y2",
    ]) + "\n"
    proc = subprocess.run([gnuplot], input=script, capture_output=True, text=True)
    if proc.returncode != 0 or not svg.is_file():
        return {"note": f"plot failed: {proc.stderr.strip()[:200]}"}
    return {"svg": svg.name}


def fmt(value) -> str:
    return "?" if value is None else str(value)


def lines_text(summary) -> str:
    try:
        lines = summary["lines"]
        return f"{lines['covered']}/{lines['count']} ({lines['percent']:.1f}%)"
    except (TypeError, KeyError, ValueError):
        return "-"


def md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_markdown(path: Path, report: dict) -> None:
    out = ["# hvfuzz ci report", "",
           f"{report['date']}: engine {report['engine']}, mode {report['mode']}, "
           f"{report['time']} s of fuzzing over {len(report['targets'])} target(s), "
           f"{report['jobs']} job(s). Result: **{report['verdict']}** (exit {report['exit_code']}).",
           "", "| target | execs | exec/s | edges before → after | lines before → after | "
           "corpus before → after | new | known | regressions |",
           "| --- | ---: | ---: | --- | --- | --- | ---: | ---: | ---: |"]
    for t in report["targets"]:
        c = t["coverage"]
        out.append(f"| {t['target']} | {t['execs']} | {t['exec_per_sec']:.0f} | "
                   f"{fmt(c['edges_before'])} → {fmt(c['edges_after'])} | "
                   f"{lines_text(c['lines_before'])} → {lines_text(c['lines_after'])} | "
                   f"{t['corpus']['before']} → {t['corpus']['after']} | {len(t['new_findings'])} | "
                   f"{len(t['known_findings'])} | {len(t['regressions'])} |")
    sections = [("New findings", "new_findings", ("kind", "hash", "first_frame", "repro")),
                ("Regressions", "regressions", ("kind", "hash", "first_frame", "file", "repro")),
                ("Known findings (already in the crashes directory)", "known_findings",
                 ("kind", "hash", "first_frame", "repro"))]
    for title, key, cols in sections:
        rows = [(t["target"], f) for t in report["targets"] for f in t[key]]
        out += ["", f"## {title}", ""]
        if not rows:
            out.append("None.")
            continue
        out.append("| target | " + " | ".join(c.replace("_", " ") for c in cols) + " |")
        out.append("| --- " * (len(cols) + 1) + "|")
        for target, f in rows:
            cells = [f"`{md_cell(f.get(c, ''))}`" if c in ("hash", "repro") else
                     md_cell(f.get(c, "")) for c in cols]
            out.append(f"| {target} | " + " | ".join(cells) + " |")
    fixed = [(t["target"], f) for t in report["targets"] for f in t["fixed"]]
    if fixed:
        out += ["", "## Stored findings that now run clean (marked fixed)", ""]
        out += [f"- {target}: {f['kind']} `{f['hash']}` ({f['dir']})" for target, f in fixed]
    out += ["", "## Coverage and exec/s over time", ""]
    for t in report["targets"]:
        if t["plot"]:
            out.append(f"![{t['target']}]({t['plot']})")
        else:
            out.append(f"- {t['target']}: no plot (data in {t['progress_data']})")
    notes = [(t["target"], n) for t in report["targets"] for n in t["notes"]]
    if notes:
        out += ["", "## Notes", ""] + [f"- {target}: {n}" for target, n in notes]
    write_atomic(path, "\n".join(out) + "\n")


def parse_frame(first_frame: str) -> tuple[str, int | None]:
    """'func targets/x/y.c:12' -> ('targets/x/y.c', 12)."""
    parts = (first_frame or "").split()
    loc = parts[-1] if len(parts) >= 2 else (parts[0] if parts else "")
    path, _, line = loc.rpartition(":")
    if path and line.isdigit():
        return path, int(line)
    return loc, None


def sarif(report: dict) -> dict:
    results, rules = [], {}
    for t in report["targets"]:
        for what, entries in (("new finding", t["new_findings"]), ("regression", t["regressions"])):
            for f in entries:
                rules.setdefault(f["kind"], len(rules))
                path, line = parse_frame(f["first_frame"])
                loc = {"artifactLocation": {"uri": path or "targets", "uriBaseId": "SRCROOT"}}
                if line:
                    loc["region"] = {"startLine": line}
                results.append({
                    "ruleId": f["kind"], "ruleIndex": rules[f["kind"]], "level": "error",
                    "message": {"text": f"{t['target']}: {what}: {f['kind']} (stack hash "
                                        f"{f['hash']}) at {f['first_frame'] or '?'}. "
                                        f"Reproduce: {f['repro']}"},
                    "locations": [{"physicalLocation": loc}],
                    "partialFingerprints": {"hvfuzzStackHash/v1": f["hash"]},
                    "properties": {"target": t["target"], "category": what,
                                   "repro": f["repro"]},
                })
    return {
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "hvfuzz",
                "rules": [{"id": k, "name": k, "shortDescription": {"text": f"hvfuzz finding: {k}"},
                           "defaultConfiguration": {"level": "error"}}
                          for k, _ in sorted(rules.items(), key=lambda kv: kv[1])]}},
            "originalUriBaseIds": {"SRCROOT": {"uri": repo_root().as_uri() + "/"}},
            "results": results,
        }],
    }


def write_reports(opts: Options, report: dict) -> None:
    opts.report.mkdir(parents=True, exist_ok=True)
    write_json(opts.report / "report.json", report)
    write_markdown(opts.report / "report.md", report)
    write_atomic(opts.report / "report.sarif", json.dumps(sarif(report), indent=2) + "\n")


# -- the command -------------------------------------------------------------------
def check_build(opts: Options) -> None:
    build.bootstrap()
    presets = [opts.engine, "libfuzzer", replay_preset()]
    for preset in dict.fromkeys(presets):
        build.ensure_built(preset, opts.verbose)
    for target in opts.targets:
        build.require_binary(findings.replay_binary(target, opts.mode), replay_preset())
        build.require_binary(bin_path("libfuzzer", f"fuzz-{target}"), "libfuzzer")
        build.require_binary(bin_path(opts.engine, binary_name(target, opts.mode)), opts.engine)


def run(opts: Options) -> int:
    check_build(opts)
    share = max(1, opts.time // len(opts.targets))
    info(f"ci: {', '.join(opts.targets)}: {share}s of {opts.engine} each ({opts.mode}), "
         f"{opts.jobs} job(s); report in {display_path(opts.report)}")
    results, interrupted = [], False
    for i, target in enumerate(opts.targets):
        before = {h.name for h, _ in stored_findings(opts.crashes_dir, target)}
        info(f"ci: [{i + 1}/{len(opts.targets)}] {target}")
        res = run_target(opts, target, share, before)
        results.append(res)
        print_target(res)
        if res["interrupted"]:
            interrupted = True
            skipped = opts.targets[i + 1:]
            if skipped:
                info(f"ci: interrupted; skipped {', '.join(skipped)}")
            break
    nnew = sum(len(r["new_findings"]) for r in results)
    nreg = sum(len(r["regressions"]) for r in results)
    code = 1 if nnew or nreg else (130 if interrupted else 0)
    verdict = ("FAIL: " + ", ".join(x for x in (f"{nnew} new finding(s)" if nnew else "",
                                                 f"{nreg} regression(s)" if nreg else "") if x)
               if code == 1 else "interrupted" if code == 130 else "pass")
    report = {"version": 1, "date": now(), "engine": opts.engine, "mode": opts.mode,
              "time": opts.time, "jobs": opts.jobs, "targets": results,
              "new_findings": nnew, "regressions": nreg, "interrupted": interrupted,
              "exit_code": code, "verdict": verdict,
              "crashes_dir": display_path(opts.crashes_dir),
              "corpora_dir": display_path(opts.corpora_dir)}
    write_reports(opts, report)
    info(f"ci: {verdict}; report: {display_path(opts.report / 'report.md')} "
         f"(also report.json, report.sarif)")
    return code


def print_target(r: dict) -> None:
    c = r["coverage"]
    info(f"ci: {r['target']}: {r['execs']} execs ({r['exec_per_sec']:.0f}/s), edges "
         f"{fmt(c['edges_before'])} -> {fmt(c['edges_after'])}, corpus {r['corpus']['before']} -> "
         f"{r['corpus']['after']}, {len(r['new_findings'])} new finding(s), "
         f"{len(r['known_findings'])} known, {len(r['regressions'])} regression(s)")
    for f in r["new_findings"]:
        info(f"  NEW {f['kind']} {f['hash']} {f['first_frame']}  ->  {f['repro']}")
    for f in r["regressions"]:
        info(f"  REGRESSION {f['kind']} {f['hash']} {f['first_frame']}  ->  {f['repro']}")
