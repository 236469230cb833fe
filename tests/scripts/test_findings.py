"""The finding pipeline end to end on the self-test target (a planted heap
overflow: a copy of 17..32 bytes into a 16-byte buffer): fuzz -> replay ->
store -> repro gives the same hash every time, whichever engine found it.

libFuzzer starts from nothing; AFL++ (no CmpLog here) gets a near-miss seed
through --seeds (length 8: one mutation of one byte away from the bug).

usage: test_findings.py libfuzzer|afl
"""

import json
import re
import sys
import unittest

from helpers import REPLAY, TempDirCase, hvfuzz, require_binary

ENGINE = sys.argv.pop(1) if len(sys.argv) > 1 else "libfuzzer"
TARGET = "selftest-canary"
NEAR_MISS = """.target selftest-canary
mmio_write bar0 0x0 1 0x8
mmio_write bar0 0x8 8 0x1122334455667788
"""
CRASH = NEAR_MISS.replace("0x0 1 0x8", "0x0 1 0x14")
FILES = ("input.bin", "input.hvf", "report.txt", "meta.json", "repro.sh")
META_KEYS = ("target", "mode", "engine", "kind", "hash", "first_frame", "date", "size", "repro")


class Findings(TempDirCase):
    def setUp(self):
        super().setUp()
        for preset in (ENGINE, "libfuzzer", REPLAY):
            require_binary(preset, f"fuzz-{TARGET}")
        self.crashes = self.tmp / "crashes"

    def fuzz(self, seconds: int) -> dict:
        out = self.tmp / "result.json"
        extra = []
        if ENGINE == "afl":
            seeds = self.tmp / "seeds"
            seeds.mkdir(exist_ok=True)
            (seeds / "near-miss.hvf").write_text(NEAR_MISS)
            extra = ["--seeds", seeds]
        proc = hvfuzz("fuzz", TARGET, "--engine", ENGINE, "--time", seconds,
                      "--workdir", self.tmp / "work", "--crashes-dir", self.crashes,
                      "--json", out, *extra)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("reproduce: ", proc.stderr)
        return json.loads(out.read_text())

    def check_stored(self, hdir):
        for name in FILES:
            self.assertTrue((hdir / name).is_file(), f"{hdir}/{name} missing")
        meta = json.loads((hdir / "meta.json").read_text())
        for key in META_KEYS:
            self.assertIn(key, meta)
        self.assertEqual(meta["target"], TARGET)
        self.assertEqual(meta["mode"], "inproc")
        self.assertEqual(meta["engine"], ENGINE)
        self.assertEqual(meta["hash"], hdir.name)
        self.assertRegex(meta["hash"], r"^[0-9a-f]{16}$")
        self.assertEqual(meta["kind"], "heap-buffer-overflow")
        self.assertTrue(meta["first_frame"].split()[1].startswith("targets/"), meta["first_frame"])
        self.assertEqual(meta["size"], (hdir / "input.bin").stat().st_size)
        self.assertIn("repro", meta["repro"])
        self.assertIn("heap-buffer-overflow", (hdir / "report.txt").read_text())
        return meta

    def repro_hash(self, path, *extra) -> str:
        proc = hvfuzz("repro", path, *extra)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        m = re.search(r"^kind=(\S+) hash=([0-9a-f]+)$", proc.stdout, re.M)
        self.assertTrue(m, proc.stdout)
        self.assertEqual(m.group(1), "heap-buffer-overflow")
        return m.group(2)

    def test_finding_pipeline(self):
        data = self.fuzz(15)
        self.assertGreaterEqual(data["findings"], 1, data)
        dirs = sorted(p for p in (self.crashes / TARGET).iterdir() if p.is_dir())
        self.assertEqual(len(dirs), data["findings"])
        hdir = dirs[0]
        meta = self.check_stored(hdir)
        # repro: target from meta.json beside the file; same hash twice
        first = self.repro_hash(hdir / "input.bin")
        second = self.repro_hash(hdir / "input.bin", "--target", TARGET)
        self.assertEqual(first, hdir.name)
        self.assertEqual(second, hdir.name)
        # the same bug through a hand-written input: the same hash (engine-independent)
        crash = self.tmp / "crash.hvf"
        crash.write_text(CRASH)
        self.assertEqual(self.repro_hash(crash, "--target", TARGET), hdir.name)
        if ENGINE == "libfuzzer":
            self.check_duplicates_are_counted(hdir, meta)

    def check_duplicates_are_counted(self, hdir, meta):
        before = sorted(p.name for p in (self.crashes / TARGET).iterdir())
        data = self.fuzz(6)
        after = sorted(p.name for p in (self.crashes / TARGET).iterdir())
        seen = {f["hash"]: f for f in data["finding_list"]}
        if hdir.name in seen:  # found again: counted, not stored again
            self.assertFalse(seen[hdir.name]["new"])
            again = json.loads((hdir / "meta.json").read_text())
            self.assertGreater(again["count"], meta["count"])
            self.assertLessEqual(again["size"], meta["size"])
        self.assertTrue(set(before) <= set(after))


if __name__ == "__main__":
    unittest.main()
