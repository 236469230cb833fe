"""hvfuzz coverage: replay a corpus with the coverage build, HTML + per-file summary."""

import json
import re
import unittest

from helpers import ROOT, TempDirCase, hvfuzz, require_binary

from hvfuzzlib import coverage


class Coverage(TempDirCase):
    def setUp(self):
        super().setUp()
        require_binary("coverage", "fuzz-virtio-blk")

    def test_report(self):
        html = self.tmp / "html"
        proc = hvfuzz("coverage", "virtio-blk", "--html", html, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue((html / "index.html").is_file(), proc.stdout)
        self.assertIn("Branch", "".join(p.read_text(errors="replace")
                                        for p in html.rglob("virtio_blk.c.html")))
        summary = json.loads((html / "summary.json").read_text())
        self.assertGreater(summary["lines"]["count"], 0)
        # the folder row of targets/virtio and the total row, with percentages
        virtio = re.search(r"^targets/virtio/ total\s+([\d.]+)%", proc.stdout, re.M)
        self.assertIsNotNone(virtio, proc.stdout)
        self.assertGreater(float(virtio[1]), 50.0, proc.stdout)
        total = re.search(r"^TOTAL\s+([\d.]+)% \((\d+)/(\d+)\)\s+([\d.]+)%", proc.stdout, re.M)
        self.assertIsNotNone(total, proc.stdout)
        self.assertEqual(int(total[3]), summary["lines"]["count"])
        self.assertFalse(any("selftest" in f["file"] for f in summary["files"]))

    def test_line_summary_and_corpus(self):
        one = self.tmp / "one"
        one.mkdir()
        seeds = ROOT / "build" / "coverage" / "seeds" / "virtio-blk"
        (one / "a").write_bytes((seeds / "01-linux-init-raw.bin").read_bytes())
        small = coverage.line_summary("virtio-blk", [one])
        full = coverage.line_summary("virtio-blk", [seeds])
        for s in (small, full):
            self.assertEqual(set(s["lines"]), {"covered", "count", "percent"})
            self.assertIn("branches", s)
            self.assertTrue(all(f["file"].startswith("targets/") for f in s["files"]))
        self.assertEqual(small["inputs"], 1)
        self.assertLess(small["lines"]["covered"], full["lines"]["covered"])

    def test_no_corpus(self):
        empty = self.tmp / "empty"
        empty.mkdir()
        self.assertOneLineError(hvfuzz("coverage", "virtio-blk", "--corpus", empty),
                                "no corpus")
        self.assertOneLineError(hvfuzz("coverage"), "target")


if __name__ == "__main__":
    unittest.main()
