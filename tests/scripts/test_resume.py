"""A campaign stopped by SIGTERM reports cleanly; one killed by SIGKILL resumes
with its whole corpus: libFuzzer keeps every file byte for byte; AFL++ keeps
every queue entry but may rewrite it (trimming keeps its path, not its bytes),
so there the check is the count and the coverage of the corpus.

usage: test_resume.py libfuzzer|afl
"""

import json
import signal
import subprocess
import sys
import time
import unittest

import shutil

from helpers import TempDirCase, content_hashes, popen_hvfuzz, hvfuzz, require_binary
from hvfuzzlib.campaign import measure_coverage

ENGINE = sys.argv.pop(1) if len(sys.argv) > 1 else "libfuzzer"


class Resume(TempDirCase):
    def setUp(self):
        super().setUp()
        require_binary(ENGINE, "fuzz-virtio-blk")
        require_binary("libfuzzer", "fuzz-virtio-blk")  # measures coverage
        self.work = self.tmp / "work"
        self.engine_dir = self.work / "virtio-blk" / ENGINE
        self.procs = []

    def tearDown(self):
        for proc in self.procs:  # a failed test leaves no campaign behind
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        super().tearDown()

    def corpus_dirs(self):
        if ENGINE == "libfuzzer":
            return [self.engine_dir / "corpus"]
        return sorted((self.engine_dir / "out").glob("*/queue"))

    def corpus(self) -> set:
        return set().union(*[content_hashes(d) for d in self.corpus_dirs()]) \
            if self.corpus_dirs() else set()

    def start(self, seconds, json_path=None):
        args = ["fuzz", "virtio-blk", "--engine", ENGINE, "--time", seconds,
                "--workdir", self.work, "--crashes-dir", self.tmp / "crashes"]
        if json_path:
            args += ["--json", json_path]
        proc = popen_hvfuzz(*args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        return proc

    def wait_for_corpus(self, proc, minimum=2, limit=40.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and proc.poll() is None:
            if len(self.corpus()) >= minimum and self.engine_running():
                return
            time.sleep(0.5)
        self.fail(f"corpus never reached {minimum} inputs (exit {proc.poll()})")

    def engine_running(self) -> bool:
        """libFuzzer's corpus is the copied seeds before it runs: wait for its
        log to say it has executed them. AFL++ creates its queue itself."""
        if ENGINE != "libfuzzer":
            return True
        log = self.engine_dir / "logs" / "worker-0.log"
        return log.is_file() and "INITED" in log.read_text(errors="replace")

    def test_sigkill_then_resume_keeps_corpus(self):
        proc = self.start(120)
        self.wait_for_corpus(proc)
        time.sleep(3)  # let it find a few more
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        time.sleep(1)  # the engine gets SIGTERM (parent-death signal) and saves its state
        before = self.corpus()
        self.assertTrue(before)
        snapshot = self.snapshot()
        out = self.tmp / "resumed.json"
        again = hvfuzz("fuzz", "virtio-blk", "--engine", ENGINE, "--time", 4,
                       "--workdir", self.work, "--crashes-dir", self.tmp / "crashes",
                       "--json", out)
        self.assertEqual(again.returncode, 0, again.stderr)
        after = self.corpus()
        if ENGINE == "libfuzzer":
            self.assertFalse(before - after, "inputs lost across the resume")
        self.assertGreaterEqual(self.count(), len(list(snapshot.iterdir())),
                                "fewer inputs after the resume")
        cov_before = measure_coverage("virtio-blk", [snapshot], 5)["coverage_edges"]
        cov_after = measure_coverage("virtio-blk", self.corpus_dirs(), 5)["coverage_edges"]
        self.assertGreater(cov_before, 0)
        self.assertGreaterEqual(cov_after, cov_before, "coverage lost across the resume")
        data = json.loads(out.read_text())
        self.assertGreaterEqual(data["corpus_size"], len(before))
        self.assertGreater(data["execs"], 0)

    def count(self) -> int:
        return sum(1 for d in self.corpus_dirs() for f in d.iterdir()
                   if f.is_file() and not f.name.startswith("."))

    def snapshot(self):
        """A copy of the corpus as the killed campaign left it."""
        snap = self.tmp / "snapshot"
        snap.mkdir()
        for d in self.corpus_dirs():
            for f in d.iterdir():
                if f.is_file() and not f.name.startswith("."):
                    shutil.copyfile(f, snap / f"{d.parent.name}-{f.name}")
        return snap

    def test_sigterm_stops_cleanly_with_summary(self):
        out = self.tmp / "stopped.json"
        proc = self.start(120, out)
        self.wait_for_corpus(proc)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        self.assertLess(time.monotonic() - started, 45)
        data = self.check_campaign_json(out, "virtio-blk", ENGINE)
        self.assertTrue(data["interrupted"])
        self.assertIn("stopping", err)
        self.assertNotIn("Traceback", err)


if __name__ == "__main__":
    unittest.main()
