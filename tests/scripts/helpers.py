"""Shared helpers for the script tests: run hvfuzz, temp dirs, checks."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(os.environ.get("HVFUZZ_ROOT") or Path(__file__).resolve().parents[2])
HVFUZZ = ROOT / "scripts" / "hvfuzz"
BOOTSTRAP = ROOT / "scripts" / "bootstrap"
sys.path.insert(0, str(ROOT / "scripts"))

REPLAY = os.environ.get("HVFUZZ_REPLAY_PRESET", "dev")  # preset with the replay binaries
JSON_KEYS = ("target", "engine", "execs", "exec_per_sec", "coverage_edges",
             "corpus_size", "findings")


def env(**extra) -> dict:
    e = dict(os.environ)
    e.setdefault("HVFUZZ_NO_BUILD", "1")
    e.setdefault("HVFUZZ_REPLAY_PRESET", REPLAY)
    e.update(extra)
    return e


def hvfuzz(*args, timeout=120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(HVFUZZ), *map(str, args)], capture_output=True, text=True,
                          env=env(), timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def popen_hvfuzz(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([str(HVFUZZ), *map(str, args)], env=env(),
                            stdin=subprocess.DEVNULL, **kw)


def require_binary(preset: str, name: str) -> Path:
    path = ROOT / "build" / preset / "bin" / name
    if not path.is_file():
        raise AssertionError(f"{path} missing: build the presets first (scripts/hvfuzz test)")
    return path


def content_hashes(directory: Path) -> set[str]:
    """SHA-1 of every file; a file that a running engine removes meanwhile
    (libFuzzer's -reduce_inputs) is skipped."""
    if not directory.is_dir():
        return set()
    out = set()
    for p in directory.iterdir():
        if p.is_file() and not p.name.startswith("."):
            try:
                out.add(hashlib.sha1(p.read_bytes()).hexdigest())
            except FileNotFoundError:
                pass
    return out


def targets(listing: str = "targets.list") -> list[str]:
    lines = (ROOT / "harness" / "inproc" / listing).read_text().splitlines()
    return [l.split()[0] for l in lines if l.strip() and not l.startswith("#")]


class TempDirCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="hvfuzz-test-")
        self.tmp = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def assertOneLineError(self, proc, needle: str):
        self.assertEqual(proc.returncode, 2, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"expected one line, got: {proc.stderr!r}")
        self.assertTrue(lines[0].startswith("hvfuzz: error: "), lines[0])
        self.assertIn(needle, lines[0])
        self.assertNotIn("Traceback", proc.stderr)

    def check_campaign_json(self, path: Path, target: str, engine: str) -> dict:
        data = json.loads(path.read_text())
        for key in JSON_KEYS:
            self.assertIn(key, data)
        self.assertEqual(data["target"], target)
        self.assertEqual(data["engine"], engine)
        self.assertGreater(data["execs"], 0)
        self.assertGreater(data["exec_per_sec"], 0)
        self.assertIsInstance(data["coverage_edges"], int, data.get("coverage_error"))
        self.assertGreater(data["coverage_edges"], 0)
        self.assertGreater(data["corpus_size"], 0)
        self.assertIsInstance(data["findings"], int)
        return data
