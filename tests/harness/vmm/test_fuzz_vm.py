"""`hvfuzz fuzz virtio-blk --mode vm` and `hvfuzz repro --mode vm`.

usage: test_fuzz_vm.py libfuzzer|afl   (exit 77 without /dev/kvm)
"""

import json
import os
import sys
import unittest
from pathlib import Path

ROOT = Path(os.environ.get("HVFUZZ_ROOT") or Path(__file__).resolve().parents[3])
sys.path.insert(0, str(ROOT / "tests" / "scripts"))
from helpers import TempDirCase, hvfuzz, require_binary  # noqa: E402

ENGINE = sys.argv.pop(1) if len(sys.argv) > 1 else "libfuzzer"
REPLAY = os.environ.get("HVFUZZ_REPLAY_PRESET", "dev")


class VmMode(TempDirCase):
    def test_campaign_json(self):
        require_binary(ENGINE, "vm-virtio-blk")
        require_binary("libfuzzer", "fuzz-virtio-blk")  # coverage is measured with it
        out = self.tmp / "result.json"
        proc = hvfuzz("fuzz", "virtio-blk", "--mode", "vm", "--engine", ENGINE, "--time", 10,
                      "--workdir", self.tmp / "work", "--crashes-dir", self.tmp / "crashes",
                      "--json", out, timeout=180)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        data = json.loads(out.read_text())
        self.assertEqual(data["mode"], "vm")
        self.assertEqual(data["engine"], ENGINE)
        self.assertGreater(data["execs"], 0)
        self.assertTrue((self.tmp / "work" / "virtio-blk" / f"{ENGINE}-vm").is_dir())
        for f in data["finding_list"]:
            meta = json.loads((self.tmp / "crashes" / "virtio-blk" / f["hash"] /
                               "meta.json").read_text())
            self.assertEqual(meta["mode"], "vm")
            self.assertIn("--mode vm", meta["repro"])

    def test_repro_in_the_vm(self):
        require_binary(REPLAY, "vm-virtio-blk")
        seed = ROOT / "build" / REPLAY / "seeds" / "virtio-blk" / "03-read-sector.bin"
        proc = hvfuzz("repro", "--mode", "vm", "--trace", seed, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("in the VM", proc.stdout)
        self.assertIn("vm-virtio-blk", proc.stdout)
        self.assertIn("ran clean", proc.stdout)

    def test_same_finding_hash_in_both_modes(self):
        """A device finding happens in the VMM process and hashes as in-process."""
        require_binary(REPLAY, "vm-selftest-canary")
        data = ROOT / "tests" / "harness" / "inproc" / "data" / "canary-overflow.bin"
        lines = {}
        for mode in ("inproc", "vm"):
            proc = hvfuzz("repro", "--target", "selftest-canary", "--mode", mode, data,
                          timeout=120)
            self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
            found = [l for l in proc.stdout.splitlines() if l.startswith("kind=")]
            self.assertEqual(len(found), 1, proc.stdout)
            lines[mode] = found[0]
        self.assertIn("heap-buffer-overflow", lines["vm"])
        self.assertEqual(lines["inproc"], lines["vm"])

    def test_no_vm_mode_is_one_line(self):
        proc = hvfuzz("fuzz", "empty", "--mode", "vm", "--time", 1)
        self.assertOneLineError(proc, "has no VM mode")


if __name__ == "__main__":
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm is not available (VM mode needs KVM)")
        sys.exit(77)
    unittest.main()
