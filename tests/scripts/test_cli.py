"""hvfuzz command line: errors are one line and exit 2; --help everywhere; list."""

import shutil
import unittest

from helpers import REPLAY, ROOT, TempDirCase, hvfuzz, require_binary, targets

SUBCOMMANDS = ("test", "fuzz", "repro", "list", "ci", "triage", "minimize", "coverage", "export")


class CliErrors(TempDirCase):
    def test_unknown_target(self):
        self.assertOneLineError(hvfuzz("fuzz", "no-such-target", "--workdir", self.tmp),
                                "unknown target 'no-such-target'")

    def test_unknown_engine(self):
        self.assertOneLineError(hvfuzz("fuzz", "--engine", "honggfuzz", "--workdir", self.tmp),
                                "invalid choice: 'honggfuzz'")

    def test_bad_time(self):
        self.assertOneLineError(hvfuzz("fuzz", "--time", "0"), "--time")
        self.assertOneLineError(hvfuzz("fuzz", "--jobs", "many"), "--jobs")

    def test_missing_file(self):
        missing = self.tmp / "nope.bin"
        self.assertOneLineError(hvfuzz("repro", missing), f"no such file: {missing}")

    def test_repro_unknown_target(self):
        f = self.tmp / "in.bin"
        f.write_bytes(b"\0")
        self.assertOneLineError(hvfuzz("repro", "--target", "nope", f), "unknown target 'nope'")

    def test_unknown_command(self):
        self.assertOneLineError(hvfuzz("frobnicate"), "invalid choice: 'frobnicate'")

    def test_repro_needs_a_file(self):
        self.assertOneLineError(hvfuzz("repro"), "FILE")


class CliHelp(unittest.TestCase):
    def test_help_everywhere(self):
        top = hvfuzz("--help")
        self.assertEqual(top.returncode, 0, top.stderr)
        for sub in SUBCOMMANDS:
            self.assertIn(sub, top.stdout)
            proc = hvfuzz(sub, "--help")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn(f"usage: hvfuzz {sub}", proc.stdout)

    def test_fuzz_help_lists_options(self):
        out = hvfuzz("fuzz", "--help").stdout
        for opt in ("--engine", "--time", "--jobs", "--workdir", "--json", "--crashes-dir"):
            self.assertIn(opt, out)


class CliList(unittest.TestCase):
    def test_list_matches_targets_list(self):
        proc = hvfuzz("list")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        listed = [line.split("\t")[0] for line in proc.stdout.splitlines()]
        self.assertEqual(listed, targets() + targets("native.list"))
        self.assertIn("virtio-blk", listed)


class CliRepro(TempDirCase):
    def test_clean_seed_exits_0(self):
        require_binary(REPLAY, "fuzz-virtio-blk")
        seeds = sorted((ROOT / "build" / REPLAY / "seeds" / "virtio-blk").glob("*.bin"))
        self.assertTrue(seeds, f"no assembled seeds in build/{REPLAY}/seeds/virtio-blk")
        proc = hvfuzz("repro", "--target", "virtio-blk", seeds[0])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("ran clean", proc.stdout)

    def test_text_program_is_assembled(self):
        require_binary(REPLAY, "hvfuzz-asm")
        hvf = sorted((ROOT / "seeds" / "virtio-blk").glob("*.hvf"))
        self.assertTrue(hvf, "no seeds/virtio-blk/*.hvf")
        proc = hvfuzz("repro", "--target", "virtio-blk", hvf[0])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("ran clean", proc.stdout)

    @unittest.skipIf(shutil.which("qemu-system-x86_64") is None,
                     "qemu-system-x86_64 not installed (scripts/bootstrap installs it)")
    def test_seed_under_qemu(self):
        seed = ROOT / "build" / REPLAY / "seeds" / "virtio-blk" / "03-read-sector.bin"
        self.assertTrue(seed.is_file(), f"no seed {seed}")
        proc = hvfuzz("repro", "--mode", "qemu", "--target", "virtio-blk", seed)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        # QEMU's own virtio-blk answered: the three reads completed
        self.assertIn("hvfuzz-agent: vq0 avail 3 used 3", proc.stdout)
        self.assertIn("the agent ran the program to its end", proc.stdout)

    def test_qemu_mode_needs_a_qemu_device(self):
        f = self.tmp / "in.bin"
        f.write_bytes(b"\0")
        self.assertOneLineError(hvfuzz("repro", "--mode", "qemu", "--target", "selftest-canary", f),
                                "has no QEMU device")


if __name__ == "__main__":
    unittest.main()
