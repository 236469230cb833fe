"""`hvfuzz triage DIR`: crash inputs bucketed by stack hash (self-test target)."""

import json
import unittest

from helpers import REPLAY, ROOT, TempDirCase, hvfuzz, require_binary

TARGET = "selftest-canary"
CANARY = ROOT / "tests" / "harness" / "inproc" / "data" / "canary-overflow.bin"


class TriageCmd(TempDirCase):
    def setUp(self):
        super().setUp()
        require_binary(REPLAY, f"fuzz-{TARGET}")

    def test_ten_crashes_one_bucket(self):
        crashes = self.tmp / "artifacts"
        crashes.mkdir()
        data = CANARY.read_bytes()
        for i in range(10):  # the crashing ops come first: any tail leaves the bug alike
            (crashes / f"crash-{i}").write_bytes(data + bytes([i % 7]) * (3 * (9 - i)))
        (crashes / "clean-input").write_bytes(b"\0")
        out = self.tmp / "triage.json"
        proc = hvfuzz("triage", crashes, "--target", TARGET, "--json", out)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        result = json.loads(out.read_text())
        self.assertEqual(len(result["buckets"]), 1, result)
        b = result["buckets"][0]
        self.assertEqual(b["kind"], "heap-buffer-overflow")
        self.assertEqual(b["count"], 10)
        self.assertTrue(b["smallest"].endswith("crash-9"), b)
        self.assertEqual(b["smallest_size"], len(data))
        self.assertIn("canary_copy", b["first_frame"])
        self.assertEqual([u["path"] for u in result["unreproducible"]],
                         [str(crashes / "clean-input")])
        # the printed line: kind, hash, first frame, count, smallest input
        line = next(l for l in proc.stdout.splitlines() if l.startswith("heap-buffer-overflow"))
        for part in (b["hash"], "canary_copy", " 10 ", "crash-9", f"({len(data)} bytes)"):
            self.assertIn(part, line)
        self.assertIn("unreproducible (1)", proc.stdout)

    def test_stored_findings_layout(self):
        # crashes/<target>/<hash>/input.bin: the target comes from the path
        for name in ("a", "b"):
            d = self.tmp / "crashes" / TARGET / name
            d.mkdir(parents=True)
            (d / "input.bin").write_bytes(CANARY.read_bytes())
            (d / "report.txt").write_text("not an input\n")
        proc = hvfuzz("triage", self.tmp / "crashes" / TARGET)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn(f"(target {TARGET}): 2 input(s), 1 bucket(s)", proc.stdout)

    def test_errors(self):
        empty = self.tmp / "empty"
        empty.mkdir()
        self.assertOneLineError(hvfuzz("triage", empty, "--target", TARGET), "no inputs in")
        self.assertOneLineError(hvfuzz("triage", self.tmp / "nope"), "no such directory")


if __name__ == "__main__":
    unittest.main()
