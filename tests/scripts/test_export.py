"""hvfuzz export --qtest: a program as a QEMU qtest script that QEMU accepts."""

import re
import shutil
import subprocess
import unittest

from helpers import REPLAY, ROOT, TempDirCase, hvfuzz, require_binary

from hvfuzzlib import export

SEED = ROOT / "build" / REPLAY / "seeds" / "virtio-blk" / "03-read-sector.bin"
STATUS = 0xfebf8014  # virtio common cfg device_status (bar4 + 0x14)


class Export(TempDirCase):
    def setUp(self):
        super().setUp()
        require_binary(REPLAY, "fuzz-virtio-blk")

    def export(self):
        out = self.tmp / "03.qtest"
        proc = hvfuzz("export", SEED, "--qtest", "-o", out)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("qemu-system-x86_64", proc.stdout)
        return out, out.read_text().splitlines()

    def test_script(self):
        out, lines = self.export()
        header = [l for l in lines if l.startswith("#")]
        body = [l for l in lines if not l.startswith("#")]
        self.assertTrue(any("-qtest stdio" in l and "virtio-blk-pci" in l for l in header))
        self.assertEqual(lines[:len(header)], header, "comments only in the header")
        # the boot first: BAR4 (64-bit), BAR1, BAR0, then command = 7
        self.assertEqual(body[0:4], ["outl 0xcf8 0x80000820", "inl 0xcfc",
                                     "outl 0xcf8 0x80000820", "outl 0xcfc 0xfebf8000"])
        self.assertIn("outw 0xcfc 0x7", body)
        for op in ("writeb 0xfebf8014 0x0", "readb 0xfebf8014", "writel 0xfebf8020 0x10000000"):
            self.assertIn(op, body)
        writes = [l for l in body if l.startswith("write ")]
        self.assertTrue(writes)
        for w in writes:  # write ADDR LEN 0xHEX with exactly LEN bytes
            _, addr, n, data = w.split()
            self.assertEqual(len(data), 2 + 2 * int(n), w)
        self.assertEqual(body[-1], "outb 0xcf9 0x6")
        self.assertTrue((self.tmp / "03.qtest.disk.img").is_file())

    @unittest.skipIf(shutil.which("qemu-system-x86_64") is None, "qemu-system-x86_64 missing")
    def test_qemu_accepts_it(self):
        out, lines = self.export()
        cmd = export.qemu_command("virtio-blk", self.tmp / "03.qtest.disk.img")
        with open(out) as f:
            proc = subprocess.run(cmd, stdin=f, capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        answers = proc.stdout.splitlines()
        self.assertEqual(len(answers), len(lines), proc.stdout[-500:])
        status_reads = []
        for line, ans in zip(lines, answers):
            if line.startswith("#"):
                self.assertTrue(ans.startswith("FAIL Unknown command '#'"), ans)
                continue
            self.assertTrue(ans.startswith("OK"), f"{line}: {ans}")
            if line == f"readb {STATUS:#x}":
                status_reads.append(int(ans.split()[1], 16))
        # in-process: device_status read back after FEATURES_OK is 0xb
        trace = subprocess.run([str(ROOT / "build" / REPLAY / "bin" / "fuzz-virtio-blk"),
                                "--trace", str(SEED)], capture_output=True, text=True).stdout
        inproc = [int(v, 16) for v in re.findall(rf"^mmio_read {STATUS:#x} 1 -> (0x[0-9a-f]+)$",
                                                  trace, re.M)]
        self.assertEqual(inproc, [0xb])
        self.assertEqual(status_reads, inproc)

    def test_usage(self):
        self.assertOneLineError(hvfuzz("export", SEED), "--qtest")
        self.assertOneLineError(hvfuzz("export", self.tmp / "nope.bin", "--qtest"), "no such file")
        self.assertOneLineError(hvfuzz("export", SEED, "--qtest", "--target", "selftest-canary"),
                                "no QEMU device")


if __name__ == "__main__":
    unittest.main()
