"""scripts/oss-fuzz-build: OSS-Fuzz / ClusterFuzzLite conventions ($CC, $CFLAGS,
$LIB_FUZZING_ENGINE, $OUT): targets, seed corpora, dictionaries, options."""

import os
import shutil
import subprocess
import unittest
import zipfile

from helpers import ROOT, TempDirCase, targets


class OssFuzzBuild(TempDirCase):
    def test_build_and_run(self):
        if shutil.which("clang") is None:
            self.skipTest("clang missing")
        out = self.tmp / "out"
        env = dict(os.environ, CC="clang", CFLAGS="-O1 -fsanitize=address,fuzzer-no-link",
                   LIB_FUZZING_ENGINE="-fsanitize=fuzzer", OUT=str(out),
                   WORK=str(self.tmp / "work"))
        proc = subprocess.run([str(ROOT / "scripts" / "oss-fuzz-build")], env=env,
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:] + proc.stderr[-2000:])
        for t in targets():
            for name in (t, f"{t}_seed_corpus.zip", f"{t}.dict", f"{t}.options"):
                self.assertTrue((out / name).is_file(), f"{name} missing")
            self.assertTrue(os.access(out / t, os.X_OK))
            opts = (out / f"{t}.options").read_text().splitlines()
            self.assertEqual(opts, ["[libfuzzer]", f"dict = {t}.dict", "max_len = 4096"])
            with zipfile.ZipFile(out / f"{t}_seed_corpus.zip") as z:
                names = z.namelist()
            self.assertTrue(names and all("/" not in n for n in names), names)
        # one target on its seed corpus, as the runner would (dict + options)
        t = "virtio-blk"
        corpus = self.tmp / "corpus"
        with zipfile.ZipFile(out / f"{t}_seed_corpus.zip") as z:
            z.extractall(corpus)
        run = subprocess.run([str(out / t), "-runs=10", f"-dict={out / (t + '.dict')}",
                              "-max_len=4096", str(corpus)],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr[-2000:])
        self.assertIn("Done", run.stderr)
        self.assertIn("INITED", run.stderr)


if __name__ == "__main__":
    unittest.main()
