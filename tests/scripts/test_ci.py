"""`hvfuzz ci` end to end, in temporary workdir, crashes, corpora and report dirs.

usage: test_ci.py canary|virtio|regression|kill
  canary      a new finding is reported once (exit 1), then as known (exit 0)
  virtio      virtio-blk: corpus created and merged, coverage kept, plot written
  regression  a crashing corpus input and a re-broken "fixed" finding are regressions
  kill        the corpora swap: interrupted at every step, and SIGKILLed for real
"""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import unittest
from pathlib import Path

from helpers import REPLAY, ROOT, TempDirCase, env, hvfuzz, popen_hvfuzz, require_binary
from hvfuzzlib import corpus_swap

GROUP = sys.argv.pop(1) if len(sys.argv) > 1 else "canary"
CANARY = "selftest-canary"
CRASH = """.target selftest-canary
mmio_write bar0 0x0 1 0x14
mmio_write bar0 0x8 8 0x1122334455667788
"""
CLEAN = CRASH.replace("0x0 1 0x14", "0x0 1 0x4")


class CiCase(TempDirCase):
    def setUp(self):
        super().setUp()
        self.work = self.tmp / "work"
        self.crashes = self.tmp / "crashes"
        self.corpora = self.tmp / "corpora"
        self.report = self.tmp / "report"

    def args(self, target, seconds, *extra):
        return ["ci", "--targets", target, "--time", seconds, "--workdir", self.work,
                "--crashes-dir", self.crashes, "--corpora-dir", self.corpora,
                "--report", self.report, *extra]

    def ci(self, target, seconds, *extra, timeout=120):
        proc = hvfuzz(*self.args(target, seconds, *extra), timeout=timeout)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertTrue((self.report / "report.json").is_file(), proc.stderr)
        data = json.loads((self.report / "report.json").read_text())
        self.assertEqual(data["exit_code"], proc.returncode, proc.stderr)
        return proc, data

    def assemble(self, text: str, out: Path) -> Path:
        src = self.tmp / "prog.hvf"
        src.write_text(text)
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(require_binary("dev", "hvfuzz-asm")), "-t", CANARY, str(src),
                        "-o", str(out)], check=True)
        return out

    def repro_hash(self, command: str) -> str:
        proc = subprocess.run(shlex.split(command), capture_output=True, text=True, env=env(),
                              cwd=ROOT, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        m = re.search(r"^kind=(\S+) hash=([0-9a-f]+)$", proc.stdout, re.M)
        self.assertTrue(m, proc.stdout)
        return m.group(2)


@unittest.skipUnless(GROUP == "canary", "group canary")
class NewThenKnown(CiCase):
    def test_new_finding_once_then_known(self):
        for preset in ("libfuzzer", REPLAY):
            require_binary(preset, f"fuzz-{CANARY}")
        proc, data = self.ci(CANARY, 8, "--no-line-coverage")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        (t,) = data["targets"]
        self.assertEqual(len(t["new_findings"]), 1, t["new_findings"])  # many crashes, one bug
        self.assertEqual(data["new_findings"], 1)
        new = t["new_findings"][0]
        self.assertEqual(new["kind"], "heap-buffer-overflow")
        self.assertEqual(len(list((self.crashes / CANARY).iterdir())), 1)
        # SARIF 2.1.0: one result at the first frame, relative to the repo root
        sarif = json.loads((self.report / "report.sarif").read_text())
        self.assertEqual(sarif["version"], "2.1.0")
        (result,) = sarif["runs"][0]["results"]
        self.assertEqual(result["ruleId"], new["kind"])
        self.assertEqual(result["level"], "error")
        self.assertIn(new["repro"], result["message"]["text"])
        loc = result["locations"][0]["physicalLocation"]
        self.assertEqual(loc["artifactLocation"]["uri"], "targets/selftest/canary.c")
        self.assertGreater(loc["region"]["startLine"], 0)
        self.assertTrue((ROOT / loc["artifactLocation"]["uri"]).is_file())
        # report.md names the repro command, which reproduces the same hash
        md = (self.report / "report.md").read_text()
        self.assertIn(new["repro"], md)
        self.assertIn(new["hash"], md)
        self.assertEqual(self.repro_hash(new["repro"]), new["hash"])
        self.assertTrue(list((self.corpora / CANARY).iterdir()), "corpus not merged")
        # again: the bug is found again (and replayed by the gate), but it is known now
        proc, data = self.ci(CANARY, 3, "--no-line-coverage")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        (t,) = data["targets"]
        self.assertEqual(t["new_findings"], [])
        self.assertEqual(t["regressions"], [])
        self.assertIn(new["hash"], [f["hash"] for f in t["known_findings"]])
        sarif = json.loads((self.report / "report.sarif").read_text())
        self.assertEqual(sarif["runs"][0]["results"], [])
        self.assertEqual(len(list((self.crashes / CANARY).iterdir())), 1)


@unittest.skipUnless(GROUP == "virtio", "group virtio")
class VirtioBlk(CiCase):
    def test_corpus_merged_and_coverage_kept(self):
        require_binary("libfuzzer", "fuzz-virtio-blk")
        proc, data = self.ci("virtio-blk", 4, "--no-line-coverage")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        first = self.corpora / "virtio-blk"
        self.assertTrue(any(first.iterdir()), "corpora/virtio-blk not created")
        # a second run merges into the existing corpus (with line coverage, if available)
        proc, data = self.ci("virtio-blk", 3)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        (t,) = data["targets"]
        cov = t["coverage"]
        self.assertIsInstance(cov["edges_before"], int)
        self.assertGreater(cov["edges_before"], 0)
        self.assertGreaterEqual(cov["edges_after"], cov["edges_before"])
        self.assertTrue(t["corpus"]["merged"])
        self.assertEqual(t["corpus"]["after"], len(list(first.iterdir())))
        self.assertGreater(t["execs"], 0)
        self.assertGreater(t["exec_per_sec"], 0)
        if cov["lines_before"] and cov["lines_after"]:
            self.assertGreaterEqual(cov["lines_after"]["lines"]["covered"],
                                    cov["lines_before"]["lines"]["covered"])
        self.assertEqual([p.name for p in self.corpora.iterdir()], ["virtio-blk"])  # no leftovers
        dat = (self.report / "virtio-blk.dat").read_text().splitlines()
        self.assertGreaterEqual(len(dat), 3)
        if shutil.which("gnuplot"):
            svg = self.report / "virtio-blk.svg"
            self.assertTrue(svg.is_file())
            self.assertIn("<svg", svg.read_text())
            self.assertIn("virtio-blk.svg", (self.report / "report.md").read_text())
        sarif = json.loads((self.report / "report.sarif").read_text())
        self.assertEqual(sarif["runs"][0]["results"], [])


@unittest.skipUnless(GROUP == "regression", "group regression")
class Regression(CiCase):
    def test_crashing_corpus_input_and_refixed_finding(self):
        require_binary(REPLAY, f"fuzz-{CANARY}")
        bad = self.assemble(CRASH, self.corpora / CANARY / "crashing-entry")
        self.assemble(CLEAN, self.corpora / CANARY / "clean-entry")
        # a stored finding marked fixed that crashes again, and one that now runs clean
        refixed = self.crashes / CANARY / "00000000000000aa"
        self.assemble(CRASH, refixed / "input.bin")
        (refixed / "meta.json").write_text(json.dumps({"target": CANARY, "kind": "x",
                                                       "fixed": "2026-01-01T00:00:00+00:00"}))
        gone = self.crashes / CANARY / "00000000000000bb"
        self.assemble(CLEAN, gone / "input.bin")
        (gone / "meta.json").write_text(json.dumps({"target": CANARY, "kind": "x"}))
        proc, data = self.ci(CANARY, 2, "--no-line-coverage")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        (t,) = data["targets"]
        sources = {r["source"]: r for r in t["regressions"]}
        self.assertEqual(set(sources), {"corpus", "crashes"}, t["regressions"])
        reg = sources["corpus"]
        self.assertEqual(reg["kind"], "heap-buffer-overflow")
        self.assertTrue(reg["file"].endswith("crashing-entry"))
        self.assertRegex(reg["hash"], r"^[0-9a-f]{16}$")
        self.assertIn("REGRESSION", proc.stderr)
        self.assertEqual(self.repro_hash(reg["repro"]), reg["hash"])
        self.assertEqual(sources["crashes"]["hash"], reg["hash"])
        self.assertEqual([f["hash"] for f in t["fixed"]], ["00000000000000bb"])
        self.assertIn("fixed", json.loads((gone / "meta.json").read_text()))
        self.assertTrue(bad.is_file(), "the crashing entry was merged away")
        self.assertIsInstance(t["coverage"]["edges_before"], int)
        sarif = json.loads((self.report / "report.sarif").read_text())
        kinds = [r["properties"]["category"] for r in sarif["runs"][0]["results"]]
        self.assertEqual(kinds.count("regression"), 2)
        self.assertIn("## Regressions", (self.report / "report.md").read_text())


@unittest.skipUnless(GROUP == "kill", "group kill")
class Usage(CiCase):
    def test_usage_errors(self):
        self.assertOneLineError(hvfuzz(*self.args("no-such-target", 1)), "unknown target")
        self.assertOneLineError(hvfuzz(*self.args(",", 1)), "no target")
        self.assertOneLineError(hvfuzz(*self.args(CANARY, 0)), "at least 1")
        self.assertFalse(self.report.exists())


class Interrupted(Exception):
    pass


@unittest.skipUnless(GROUP == "kill", "group kill")
class SwapSteps(TempDirCase):
    """Simulated kills: the swap interrupted after each step, then recovery."""

    OLD = {"a": b"1", "b": b"22", "c": b"333"}
    NEW = {"c": b"333", "d": b"4444"}

    def fill(self, directory: Path, files: dict) -> None:
        directory.mkdir(parents=True)
        for name, data in files.items():
            (directory / name).write_bytes(data)

    def contents(self, directory: Path) -> dict:
        return {p.name: p.read_bytes() for p in directory.iterdir()} if directory.is_dir() else None

    def test_every_step(self):
        for exchange in (True, False):
            for stop in ("merged", "exchanged", "moved-old", "moved-new", "cleaned", None):
                with self.subTest(exchange=exchange, stop=stop):
                    self.check(exchange, stop)

    def check(self, exchange: bool, stop):
        base = self.tmp / f"{exchange}-{stop}"
        dest = base / "target"
        self.fill(dest, self.OLD)
        self.fill(corpus_swap.staging_dir(dest), self.NEW)
        seen = []

        def hook(step):
            seen.append(step)
            if step == stop:
                raise Interrupted(step)

        os.environ["HVFUZZ_CI_NO_EXCHANGE"] = "0" if exchange else "1"
        try:
            corpus_swap.swap_in(dest, corpus_swap.staging_dir(dest), hook=hook)
        except Interrupted:
            pass
        finally:
            del os.environ["HVFUZZ_CI_NO_EXCHANGE"]
        corpus_swap.recover(dest)
        self.assertIn(self.contents(dest), (self.OLD, self.NEW), seen)
        if stop is None or seen[-1] not in ("merged", "moved-old"):
            self.assertEqual(self.contents(dest), self.NEW, seen)  # the swap had happened
        self.assertEqual(sorted(p.name for p in base.iterdir()), ["target"])

    def test_incomplete_merge_is_dropped(self):
        dest = self.tmp / "target"
        self.fill(dest, self.OLD)
        self.fill(corpus_swap.staging_dir(dest), {"half": b"x"})
        corpus_swap.recover(dest)
        self.assertEqual(self.contents(dest), self.OLD)
        self.assertFalse(corpus_swap.staging_dir(dest).exists())


@unittest.skipUnless(GROUP == "kill", "group kill")
class SigkillDuringMerge(CiCase):
    """SIGKILL `hvfuzz ci` at the two riskiest points of the merge phase."""

    def tearDown(self):
        for proc in getattr(self, "procs", []):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        super().tearDown()

    def run_until(self, step: str, **extra_env):
        os.environ.update(HVFUZZ_CI_HOLD=step, **extra_env)
        try:
            proc = popen_hvfuzz(*self.args(CANARY, 2, "--no-line-coverage"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        finally:
            for key in ("HVFUZZ_CI_HOLD", *extra_env):
                del os.environ[key]
        self.procs = getattr(self, "procs", []) + [proc]
        for line in proc.stderr:
            if f"holding at {step}" in line:
                break
        else:
            self.fail(f"hvfuzz ci never reached {step} (exit {proc.wait()})")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()

    def entries(self, directory: Path) -> dict:
        return {p.name: p.read_bytes() for p in directory.iterdir()} if directory.is_dir() else {}

    def test_sigkill(self):
        require_binary("libfuzzer", f"fuzz-{CANARY}")
        dest = self.corpora / CANARY
        dest.mkdir(parents=True)
        for i in range(5):
            (dest / f"entry-{i}").write_bytes(bytes([i]) * (i + 1))
        before = self.entries(dest)
        # 1. killed with the merged set complete, before the swap: nothing changed
        self.run_until("merged")
        self.assertEqual(self.entries(dest), before)
        self.assertTrue(corpus_swap.staging_dir(dest).is_dir())
        corpus_swap.recover(dest)
        self.assertEqual(self.entries(dest), before)
        # 2. killed between the two renames of the fallback swap: corpora/<target>
        # is briefly missing; the old set and the complete merged set are on disk
        self.run_until("moved-old", HVFUZZ_CI_NO_EXCHANGE="1")
        self.assertFalse(dest.exists())
        self.assertEqual(self.entries(corpus_swap.old_dir(dest)), before)
        merged = self.entries(corpus_swap.staging_dir(dest))
        self.assertTrue(merged)
        # the next run recovers first: the merged set is moved into place
        proc, data = self.ci(CANARY, 1, "--no-line-coverage")
        self.assertIn("interrupted swap", proc.stderr)
        self.assertEqual(sorted(p.name for p in self.corpora.iterdir()), [CANARY])
        (t,) = data["targets"]
        self.assertEqual(t["corpus"]["before"], len(merged))
        self.assertTrue(t["corpus"]["merged"])


if __name__ == "__main__":
    unittest.main()
