"""A short campaign on virtio-blk writes a complete JSON summary.

usage: test_fuzz.py libfuzzer|afl
"""

import os
import pty
import subprocess
import sys
import unittest

from helpers import TempDirCase, hvfuzz, popen_hvfuzz, require_binary

ENGINE = sys.argv.pop(1) if len(sys.argv) > 1 else "libfuzzer"
SECONDS = {"libfuzzer": 5, "afl": 10}[ENGINE]


class Campaign(TempDirCase):
    def test_campaign_json(self):
        require_binary(ENGINE, "fuzz-virtio-blk")
        require_binary("libfuzzer", "fuzz-virtio-blk")  # coverage is measured with it
        out = self.tmp / "result.json"
        proc = hvfuzz("fuzz", "virtio-blk", "--engine", ENGINE, "--time", SECONDS,
                      "--workdir", self.tmp / "work", "--crashes-dir", self.tmp / "crashes",
                      "--json", out)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        data = self.check_campaign_json(out, "virtio-blk", ENGINE)
        # the summary also went to stderr, and the corpus is where --workdir says
        self.assertIn(f"virtio-blk / {ENGINE}", proc.stderr)
        corpus = self.tmp / "work" / "virtio-blk" / ENGINE
        self.assertTrue(corpus.is_dir())
        self.assertEqual(data["findings"], len(data["finding_list"]))
        for f in data["finding_list"]:  # findings (if the model has bugs) were stored whole
            self.assertTrue((self.tmp / "crashes" / "virtio-blk" / f["hash"] / "meta.json").is_file())

    def test_progress_on_a_tty_rewrites_one_line(self):
        require_binary(ENGINE, "fuzz-virtio-blk")
        master, slave = pty.openpty()
        proc = popen_hvfuzz("fuzz", "virtio-blk", "--engine", ENGINE, "--time", 3,
                            "--workdir", self.tmp / "work", "--crashes-dir",
                            self.tmp / "crashes", stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        self.assertEqual(proc.wait(timeout=60), 0)
        text = b"".join(chunks).decode(errors="replace")
        self.assertIn("\r[", text)
        self.assertIn("execs", text)


if __name__ == "__main__":
    unittest.main()
