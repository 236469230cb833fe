"""Bootstrap the toolchain and configure/build CMake presets when stale."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import UserError, build_dir, info, repo_root, require_tool

KNOWN_PRESETS = ("dev", "libfuzzer", "libfuzzer-nosan", "afl", "replay", "coverage")


def bootstrap() -> None:
    """Run scripts/bootstrap (fast no-op when everything is installed)."""
    if os.environ.get("HVFUZZ_NO_BOOTSTRAP") == "1":
        return
    script = repo_root() / "scripts" / "bootstrap"
    rc = subprocess.run(["bash", str(script), "--quiet"]).returncode
    if rc != 0:
        raise UserError("scripts/bootstrap failed (see above)")


SKIP_DIRS = {"build", "out", "crashes", "corpora", ".git", "__pycache__"}


def cmake_inputs(root: Path):
    """CMakePresets.json and every CMakeLists.txt / *.cmake of the source tree."""
    yield root / "CMakePresets.json"
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for name in filenames:
            if name == "CMakeLists.txt" or name.endswith(".cmake"):
                yield Path(dirpath) / name


def needs_configure(preset: str) -> bool:
    """No build yet, or a CMake file changed since the last configure (ninja
    re-runs CMake for the files it knows, not for a newly added CMakeLists.txt
    that an if(EXISTS) includes)."""
    ninja_file = build_dir(preset) / "build.ninja"
    if not (build_dir(preset) / "CMakeCache.txt").is_file() or not ninja_file.is_file():
        return True
    stamp = ninja_file.stat().st_mtime
    return any(p.is_file() and p.stat().st_mtime > stamp for p in cmake_inputs(repo_root()))


def run_logged(cmd: list[str], what: str, verbose: bool) -> None:
    """Run a build step; show its output only when it fails (or when verbose).
    Says what it is doing when the step takes more than a moment."""
    if verbose:
        info(what)
        rc = subprocess.run(cmd, cwd=repo_root(), stdout=sys.stderr).returncode
        out = ""
    else:
        with tempfile.TemporaryFile("w+", errors="replace") as log:
            proc = subprocess.Popen(cmd, cwd=repo_root(), stdout=log, stderr=subprocess.STDOUT)
            try:
                rc = proc.wait(timeout=1.5)
            except subprocess.TimeoutExpired:
                info(f"{what} ...")
                rc = proc.wait()
            log.seek(0)
            out = log.read()
    if rc != 0:
        sys.stderr.write(out)
        raise UserError(f"{what} failed (exit {rc}): {' '.join(cmd)}")


def ensure_built(preset: str, verbose: bool = False) -> Path:
    """Configure the preset if needed and let ninja rebuild what is stale.

    With HVFUZZ_NO_BUILD=1 (used by the tests, which run while ctest holds
    build/dev) nothing is built; a missing build is an error."""
    if preset not in KNOWN_PRESETS:
        raise UserError(f"unknown preset '{preset}' (known: {', '.join(KNOWN_PRESETS)})")
    bdir = build_dir(preset)
    if os.environ.get("HVFUZZ_NO_BUILD") == "1":
        if not (bdir / "bin").is_dir():
            raise UserError(f"build/{preset} is not built (HVFUZZ_NO_BUILD=1); "
                            f"run: cmake --preset {preset} && cmake --build build/{preset}")
        return bdir
    require_tool("cmake")
    require_tool("ninja")
    if needs_configure(preset):
        run_logged(["cmake", "--preset", preset], f"configuring preset {preset}", verbose)
    run_logged(["cmake", "--build", str(bdir)], f"building preset {preset}", verbose)
    return bdir


def require_binary(path: Path, preset: str) -> Path:
    if not path.is_file():
        raise UserError(f"{path} not found: the {preset} preset does not build it")
    return path
