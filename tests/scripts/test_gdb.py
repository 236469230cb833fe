"""`hvfuzz repro FILE --gdb` without a terminal: gdb in batch mode stops at the
finding and prints a backtrace with the device frames."""

import shutil
import unittest

from helpers import REPLAY, ROOT, TempDirCase, hvfuzz, require_binary

CANARY = ROOT / "tests" / "harness" / "inproc" / "data" / "canary-overflow.bin"


@unittest.skipIf(shutil.which("gdb") is None, "gdb not installed")
class ReproGdb(TempDirCase):
    def test_backtrace_of_canary_crash(self):
        require_binary(REPLAY, "fuzz-selftest-canary")
        crash = self.tmp / "crash.bin"
        crash.write_bytes(CANARY.read_bytes())
        proc = hvfuzz("repro", crash, "--target", "selftest-canary", "--gdb", timeout=90)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("-batch", proc.stdout)
        self.assertRegex(proc.stdout, r"(?m)^Breakpoint \d+, .*__sanitizer::Die")
        bt = proc.stdout[proc.stdout.index("\n#0 "):]
        self.assertRegex(bt, r"(?m)^#\d+ .*canary_copy .* at \S*targets/selftest/canary\.c:\d+")
        self.assertIn("stopped at the finding", proc.stdout)
        self.assertIn("canary_copy targets/selftest/canary.c", proc.stdout)

    def test_gdb_not_with_qemu(self):
        f = self.tmp / "in.bin"
        f.write_bytes(b"\0")
        self.assertOneLineError(hvfuzz("repro", "--mode", "qemu", "--gdb", "--target",
                                       "virtio-blk", f), "--gdb")


if __name__ == "__main__":
    unittest.main()
