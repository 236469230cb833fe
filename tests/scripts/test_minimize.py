"""`hvfuzz minimize crash|corpus`: a padded canary crash shrinks and keeps its
stack hash (both engines, and inside a stored finding); a corpus merge keeps
libFuzzer's coverage with fewer files; errors are one line."""

import json
import re
import unittest

from helpers import REPLAY, ROOT, TempDirCase, hvfuzz, require_binary
from hvfuzzlib.campaign import measure_coverage

TARGET = "selftest-canary"
CANARY = ROOT / "tests" / "harness" / "inproc" / "data" / "canary-overflow.bin"
# harmless ops before the crashing ones: prefix trimming cannot drop them, the engine must
PADDED_HVF = """.target selftest-canary
mmio_read bar0 0x0 1
mmio_write bar0 0x8 8 0x1
mmio_read bar0 0x10 4
mmio_write bar0 0x0 1 0x14
mmio_write bar0 0x8 8 0x1122334455667788
"""


class MinimizeCrash(TempDirCase):
    def setUp(self):
        super().setUp()
        for preset in (REPLAY, "libfuzzer", "afl"):
            require_binary(preset, f"fuzz-{TARGET}")

    def repro_hash(self, path) -> str:
        proc = hvfuzz("repro", path, "--target", TARGET)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        return re.search(r"^kind=\S+ hash=([0-9a-f]{16})$", proc.stdout, re.M).group(1)

    def test_stored_finding_shrinks_with_same_hash(self):
        padded = CANARY.read_bytes() + bytes(range(256)) + b"\xff" * 40  # junk tail
        probe = self.tmp / "probe.bin"
        probe.write_bytes(padded)
        digest = self.repro_hash(probe)
        hdir = self.tmp / "crashes" / TARGET / digest
        hdir.mkdir(parents=True)
        (hdir / "input.bin").write_bytes(padded)
        (hdir / "meta.json").write_text(json.dumps({"target": TARGET, "hash": digest,
                                                    "mode": "inproc", "size": len(padded)}))
        proc = hvfuzz("minimize", "crash", hdir / "input.bin", "--time", 20)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        mini = hdir / "input.min.bin"
        self.assertLess(mini.stat().st_size, len(padded))
        self.assertEqual(self.repro_hash(mini), digest)
        self.assertIn(f"-> {mini.stat().st_size} bytes", proc.stdout)
        self.assertIn("mmio_write bar0 0x0 1 0x14", proc.stdout)  # the text form
        # the stored finding now holds the smaller input; the original is kept
        self.assertEqual((hdir / "input.orig.bin").read_bytes(), padded)
        self.assertEqual((hdir / "input.bin").read_bytes(), mini.read_bytes())
        self.assertIn("0x14", (hdir / "input.hvf").read_text())
        self.assertEqual(json.loads((hdir / "meta.json").read_text())["size"],
                         mini.stat().st_size)

    def check_engine_shrinks(self, engine):
        src = self.tmp / f"padded-{engine}.hvf"
        src.write_text(PADDED_HVF)
        out = self.tmp / f"min-{engine}.bin"
        # afl-tmin stops by itself when done, so a generous limit costs
        # nothing on an idle machine and keeps a loaded one from cutting it
        # short; libFuzzer's -minimize_crash runs for the whole limit.
        limit = 120 if engine == "afl" else 20
        proc = hvfuzz("minimize", "crash", src, "--target", TARGET, "--engine", engine,
                      "--time", limit, "--out", out)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn(f"{engine} round", proc.stderr)
        self.assertLessEqual(out.stat().st_size, CANARY.stat().st_size)
        self.assertEqual(self.repro_hash(out), self.repro_hash(src))

    def test_libfuzzer_drops_leading_ops(self):
        self.check_engine_shrinks("libfuzzer")

    def test_afl_tmin_drops_leading_ops(self):
        self.check_engine_shrinks("afl")

    def test_errors(self):
        seed = ROOT / "build" / REPLAY / "seeds" / "virtio-blk" / "02-virtq-setup.bin"
        self.assertOneLineError(hvfuzz("minimize", "crash", seed, "--target", "virtio-blk"),
                                "no longer reproduces")
        self.assertOneLineError(hvfuzz("minimize", "crash", self.tmp / "nope.bin"),
                                "no such file")


class MinimizeCorpus(TempDirCase):
    def setUp(self):
        super().setUp()
        require_binary("libfuzzer", "fuzz-virtio-blk")
        require_binary("afl", "fuzz-virtio-blk")
        seeds = sorted((ROOT / "build" / REPLAY / "seeds" / "virtio-blk").glob("*.bin"))
        self.assertTrue(seeds)
        self.corpus = self.tmp / "corpus"
        self.corpus.mkdir()
        n = 0
        while n < 30:  # copies and small mutations of the seeds
            for s in seeds:
                data = s.read_bytes()
                (self.corpus / f"in-{n:03d}").write_bytes(data + bytes([n % 3]) * (n // 17))
                n += 1

    def count(self, d):
        return len([p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")])

    def test_merge_in_place_keeps_coverage(self):
        before = self.count(self.corpus)
        cov = measure_coverage("virtio-blk", [self.corpus], 5)["coverage_edges"]
        proc = hvfuzz("minimize", "corpus", "virtio-blk", "--corpus", self.corpus)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        after = self.count(self.corpus)
        self.assertLess(after, before)
        self.assertEqual(measure_coverage("virtio-blk", [self.corpus], 5)["coverage_edges"], cov)
        self.assertIn(f"{before} -> {after} files", proc.stdout)
        self.assertIn(f"{cov} before, {cov} after", proc.stdout)
        self.assertEqual(sorted(p.name for p in self.tmp.iterdir()), ["corpus"])  # no leftovers

    def test_afl_cmin_to_out(self):
        before = self.count(self.corpus)
        out = self.tmp / "min"
        proc = hvfuzz("minimize", "corpus", "virtio-blk", "--engine", "afl",
                      "--corpus", self.corpus, "--out", out)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(self.count(self.corpus), before)  # untouched
        self.assertLess(self.count(out), before)
        self.assertGreater(self.count(out), 0)

    def test_empty_corpus(self):
        empty = self.tmp / "empty"
        empty.mkdir()
        self.assertOneLineError(hvfuzz("minimize", "corpus", "virtio-blk", "--corpus", empty),
                                "is empty")


if __name__ == "__main__":
    unittest.main()
