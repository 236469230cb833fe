"""scripts/bootstrap: quiet no-op when all is installed; clear message otherwise."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

from helpers import BOOTSTRAP


def run(*args, env_extra=None, user=None):
    env = dict(os.environ, **(env_extra or {}))
    if user is None:
        return subprocess.run(["bash", str(BOOTSTRAP), *args], capture_output=True, text=True,
                              env=env, timeout=60, stdin=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:  # a copy the other user can read
        os.chmod(tmp, 0o755)
        script = shutil.copy(BOOTSTRAP, os.path.join(tmp, "bootstrap"))
        os.chmod(script, 0o755)
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
               "bash", script, *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60,
                              stdin=subprocess.DEVNULL, cwd=tmp)


class Bootstrap(unittest.TestCase):
    def test_all_installed_is_silent_and_fast(self):
        start = time.monotonic()
        proc = run()
        elapsed = time.monotonic() - start
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout + proc.stderr, "")
        self.assertLess(elapsed, 5.0)  # generous: it is one dpkg-query

    def test_check_reports_missing(self):
        proc = run("--check", env_extra={"HVFUZZ_BOOTSTRAP_PACKAGES": "git hvfuzz-no-such-pkg"})
        self.assertEqual(proc.returncode, 1)
        self.assertIn("missing packages: hvfuzz-no-such-pkg", proc.stderr)
        self.assertNotIn("git", proc.stderr.replace("hvfuzz", ""))

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root and setpriv")
    def test_not_root_says_what_to_do(self):
        proc = run(env_extra={"HVFUZZ_BOOTSTRAP_PACKAGES": "hvfuzz-no-such-pkg"}, user=65534)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("run as root", proc.stderr)
        self.assertIn("apt-get install --no-install-recommends hvfuzz-no-such-pkg", proc.stderr)

    def test_unknown_option(self):
        proc = run("--frob")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("unknown option", proc.stderr)

    def test_help(self):
        proc = run("--help")
        self.assertEqual(proc.returncode, 0)
        self.assertIn("usage: scripts/bootstrap", proc.stdout)


if __name__ == "__main__":
    unittest.main()
