"""hvfuzz import-trace: a QEMU trace of a real driver as a program.

Data: tests/scripts/data/nvme-excerpt.trace, lines of ../shared/traces/nvme/
nvme.trace (SeaBIOS's BAR sizing and programming, the fw_cfg handoff, the
start of the Linux nvme driver's init) kept verbatim. Uses build/dev's
hvfuzz-asm and fuzz-nvme; builds nothing.
"""

import os
import subprocess
import sys
import unittest

from helpers import REPLAY, ROOT, TempDirCase, env, hvfuzz, require_binary

from hvfuzzlib import import_trace

EXCERPT = ROOT / "tests" / "scripts" / "data" / "nvme-excerpt.trace"

# --phase a0.. of the excerpt: the Linux driver from the init marker, in trace
# order; MSI-X table accesses (0xfebfa000..) land on bar0 + 0x2000.., the
# admin queue addresses are moved into the DMA window (0x10000000, 256 KiB:
# each guest page its own 16 KiB, in order of first use).
LINUX_HEAD = """\
pci_cfg_read nvme 0x64 2
pci_cfg_read nvme 0x4 2
pci_cfg_read nvme 0x3d 1
pci_cfg_read nvme 0x4 2
pci_cfg_read nvme 0x4 2
mmio_read bar0 0x1c 4
pci_cfg_read nvme 0x42 2
pci_cfg_read nvme 0x42 2
pci_cfg_write nvme 0x42 2 0xc040
pci_cfg_read nvme 0x42 2
pci_cfg_read nvme 0x44 4
pci_cfg_read nvme 0x42 2
mmio_read bar0 0x200c 4
mmio_write bar0 0x2000 4 0xfee01004
mmio_write bar0 0x2004 4 0x0
mmio_write bar0 0x2008 4 0xef
mmio_read bar0 0x2008 4
mmio_write bar0 0x225c 4 0x1""".splitlines()

LINUX_TAIL = """\
mmio_read bar0 0x8 4
mmio_write bar0 0x14 4 0x0
mmio_read bar0 0x1c 4
mmio_write bar0 0x24 4 0x1f001f
mmio_write bar0 0x28 4 0x10000000
mmio_write bar0 0x2c 4 0x0
mmio_write bar0 0x30 4 0x10004000
mmio_write bar0 0x34 4 0x0
mmio_read bar0 0x0 4
mmio_read bar0 0x4 4
mmio_write bar0 0x14 4 0x460060
mmio_read bar0 0x14 4
mmio_read bar0 0x0 4
mmio_read bar0 0x4 4
mmio_write bar0 0x14 4 0x460061""".splitlines()


def import_cmd(*args) -> subprocess.CompletedProcess:
    """`hvfuzz import-trace ARGS` through the module's own entry point (the
    same parser and error handling as the hvfuzz front-end)."""
    e = env(PYTHONPATH=str(ROOT / "scripts"), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "hvfuzzlib.import_trace", *map(str, args)],
                          capture_output=True, text=True, env=e, cwd=ROOT / "scripts",
                          stdin=subprocess.DEVNULL, timeout=60)


def ops(text: str) -> list[str]:
    """The op lines of a program, comments and directives left out."""
    out = []
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("."):
            out.append(line)
    return out


class ImportTrace(TempDirCase):
    def run_ok(self, *args) -> str:
        out = self.tmp / "out.hvf"
        proc = import_cmd(*args, "-o", out)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(f"ops written to {out}", proc.stderr)
        return out.read_text()

    def test_order_and_translation(self):
        text = self.run_ok(EXCERPT, "--target", "nvme", "--phase", "a0..", "--no-events",
                           "--clock-gap", "0")
        self.assertIn("\n.target nvme\n", text)
        got = ops(text)
        self.assertEqual(got[:len(LINUX_HEAD)], LINUX_HEAD)
        self.assertEqual(got[-len(LINUX_TAIL):], LINUX_TAIL)
        self.assertNotIn("0xfebf", "\n".join(got), "absolute addresses left in ops")
        # reads keep the traced value as a comment; the header tells about DMA
        self.assertRegex(text, r"mmio_read bar0 0x1c 4 +# -> 0x1\n")
        self.assertIn("records no DMA contents", text)
        self.assertIn("DMA addresses moved into the window: 2", text)
        self.assertRegex(text, r"Dropped: .*config accesses above 0xff")

    def test_whole_excerpt(self):
        """SeaBIOS's BAR sizing kept (0xffffffff is not taken for an address),
        the handoff and the phase marker as comments, ordering across them."""
        text = self.run_ok(EXCERPT)  # target from the file name
        self.assertIn("\n.target nvme\n", text)
        self.assertIn("BAR0 mem 0xfebf8000 -> bar0 0xfebf8000", text)
        got = ops(text)
        i = got.index("pci_cfg_write nvme 0x10 4 0xffffffff")
        self.assertEqual(got[i - 1:i + 3], ["pci_cfg_read nvme 0x10 4",
                                            "pci_cfg_write nvme 0x10 4 0xffffffff",
                                            "pci_cfg_read nvme 0x10 4",
                                            "pci_cfg_write nvme 0x10 4 0x4"])
        self.assertIn("pci_cfg_write nvme 0x10 4 0xfebf8000", got)
        self.assertLess(got.index("pci_cfg_write nvme 0x10 4 0xfebf8000"),
                        got.index("mmio_read bar0 0x8 4"))
        lines = text.splitlines()
        hand = next(i for i, l in enumerate(lines) if "SeaBIOS -> Linux handoff" in l)
        mark = next(i for i, l in enumerate(lines) if "phase marker 0xa0" in l)
        self.assertLess(hand, mark)
        self.assertTrue(any(l.startswith("# ev pci_nvme_") for l in lines))
        # --skip-firmware starts right after the handoff
        text2 = self.run_ok(EXCERPT, "--skip-firmware", "--no-events", "--clock-gap", "0")
        self.assertEqual(ops(text2)[:2], ["pci_cfg_read nvme 0x64 2", "pci_cfg_read nvme 0x4 2"])
        # --limit / --skip count ops
        text3 = self.run_ok(EXCERPT, "--skip-firmware", "--skip", "5", "--limit", "3")
        self.assertEqual([o for o in ops(text3) if not o.startswith("clock_advance")],
                         LINUX_HEAD[5:8])

    def test_bar_elsewhere(self):
        """A guest that put BAR0 elsewhere: the BAR write gets the layout's
        address and the accesses the same region offsets."""
        moved = self.tmp / "moved.trace"
        moved.write_text(EXCERPT.read_text().replace("0xfebf8", "0xfe008")
                         .replace("0xfebfa", "0xfe00a"))
        text = self.run_ok(moved, "-t", "nvme", "--no-events", "--clock-gap", "0")
        self.assertIn("BAR0 mem 0xfe008000 -> bar0 0xfebf8000", text)
        self.assertRegex(text, r"pci_cfg_write nvme 0x10 4 0xfebf8000 +# guest 0xfe008000")
        self.assertIn("BAR address writes moved to the layout's addresses: 1", text)
        orig = self.run_ok(EXCERPT, "-t", "nvme", "--no-events", "--clock-gap", "0")
        self.assertEqual(ops(text), ops(orig))

    def test_assembles_and_replays(self):
        asm = require_binary(REPLAY, "hvfuzz-asm")
        fuzz = require_binary(REPLAY, "fuzz-nvme")
        hvf = self.tmp / "out.hvf"
        self.run_ok(EXCERPT)
        binf = self.tmp / "out.bin"
        proc = subprocess.run([str(asm), "-t", "nvme", str(hvf), "-o", str(binf)],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = subprocess.run([str(fuzz), "--quiet", str(binf)], capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        v = import_trace.verify("nvme", hvf, REPLAY)
        self.assertEqual(v.status, "ran clean")
        self.assertEqual(v.total, 16)
        # all but CSTS right after the handoff (SeaBIOS enabled the controller
        # in lines this excerpt leaves out; the model starts from reset)
        self.assertEqual(v.same, 15, v.mismatches)

    def test_errors(self):
        def error(proc, needle):
            self.assertEqual(proc.returncode, 2, proc.stderr)
            lines = proc.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, proc.stderr)
            self.assertTrue(lines[0].startswith("hvfuzz: error: "), lines[0])
            self.assertIn(needle, lines[0])
            self.assertNotIn("Traceback", proc.stderr)

        error(import_cmd(self.tmp / "nope.trace", "-t", "nvme"), "no such trace file")
        other = self.tmp / "other.trace"  # the same lines, another device
        other.write_text(EXCERPT.read_text().replace("nvme 00:01.0", "e1000 00:02.0"))
        error(import_cmd(other, "-t", "nvme"),
              "no accesses of the nvme device found")
        error(import_cmd(EXCERPT, "-t", "no-such-target"), "unknown target 'no-such-target'")
        error(import_cmd(EXCERPT, "--phase", "a5.."), "no marker 0xa5")
        # the Linux part only: nothing programs BAR0
        linux = self.tmp / "nvme-linux.trace"
        lines = EXCERPT.read_text().splitlines(keepends=True)
        cut = next(i for i, l in enumerate(lines) if "cmdline_data" in l)
        linux.write_text("".join(lines[cut:]))
        proc = import_cmd(linux)
        error(proc, "no BAR of nvme is ever programmed")
        self.assertIn("--bar N=ADDR", proc.stderr)  # and says what to do
        text = self.run_ok(linux, "--bar", "0=0xfebf8000", "--no-events", "--clock-gap", "0")
        self.assertEqual(ops(text)[:len(LINUX_HEAD)], LINUX_HEAD)

    def test_cli_help(self):
        proc = import_cmd("--help")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for opt in ("--target", "--phase", "--limit", "--skip-firmware", "--output"):
            self.assertIn(opt, proc.stdout)
        if "import-trace" in hvfuzz("--help").stdout:  # wired into the front-end
            proc = hvfuzz("import-trace", EXCERPT, "--phase", "a0..", "--no-events",
                          "--clock-gap", "0")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(ops(proc.stdout)[:len(LINUX_HEAD)], LINUX_HEAD)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    unittest.main()
