"""Shared helpers: repository paths, targets, user errors, small file utilities."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

ENGINES = ("libfuzzer", "afl")
MODES = ("inproc", "vm")  # in-process targets, or full-system (hvfuzz-vmm + agent)
ENGINE_PRESET = {"libfuzzer": "libfuzzer", "afl": "afl"}
DEFAULT_TARGET = "virtio-blk"


class StatusLine:
    """A status line on stderr: rewritten in place with \r on a terminal;
    elsewhere (CI logs) printed as its own line, at most every `log_interval`
    seconds unless forced."""

    def __init__(self, tty_interval: float, log_interval: float = 10.0):
        self.tty = sys.stderr.isatty()
        self.interval = tty_interval if self.tty else log_interval
        self.last = 0.0
        self.width = 0

    def due(self, now: float) -> bool:
        return now - self.last >= self.interval

    def write(self, line: str, now: float) -> None:
        self.last = now
        if self.tty:
            sys.stderr.write("\r" + line + " " * max(0, self.width - len(line)))
            self.width = len(line)
        else:
            sys.stderr.write(f"hvfuzz: {line}\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty and self.width:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.width = 0


class UserError(Exception):
    """An error the user can fix: printed as one line, exit code 2."""


def repo_root() -> Path:
    """The project root: $HVFUZZ_ROOT, else the parent of scripts/."""
    env = os.environ.get("HVFUZZ_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parent.parent.parent


def build_dir(preset: str) -> Path:
    return repo_root() / "build" / preset


def bin_path(preset: str, name: str) -> Path:
    return build_dir(preset) / "bin" / name


def replay_preset() -> str:
    """Preset whose fuzz-<target> binaries are standalone ASan+UBSan replayers."""
    return os.environ.get("HVFUZZ_REPLAY_PRESET", "replay")


def info(msg: str) -> None:
    print(f"hvfuzz: {msg}", file=sys.stderr, flush=True)


def read_targets(listing: str = "targets.list") -> list[tuple[str, str]]:
    """(name, description) for every line of harness/inproc/targets.list
    (the program targets), or of another listing there (native.list)."""
    path = repo_root() / "harness" / "inproc" / listing
    if not path.is_file():
        raise UserError(f"{path} not found")
    targets = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, desc = line.partition("\t")
        if not desc:
            name, _, desc = line.partition(" ")
        targets.append((name.strip(), desc.strip()))
    return targets


def read_native_targets() -> list[tuple[str, str]]:
    """Targets fed a device's native input (harness/inproc/native.list)."""
    return read_targets("native.list")


def check_target(name: str) -> str:
    """A target of targets.list or native.list, or an unlisted one that has a
    harness source (harness/inproc/fuzz_<name>.c: the self-test and benchmark
    targets)."""
    names = [t for t, _ in read_targets() + read_native_targets()]
    source = repo_root() / "harness" / "inproc" / f"fuzz_{name.replace('-', '_')}.c"
    if name not in names and not (name and "/" not in name and source.is_file()):
        raise UserError(f"unknown target '{name}' (known: {', '.join(names)})")
    return name


def binary_name(target: str, mode: str = "inproc") -> str:
    """fuzz-<target> (in-process) or vm-<target> (hvfuzz-vmm)."""
    return f"{'vm' if mode == 'vm' else 'fuzz'}-{target}"


def check_mode(target: str, mode: str) -> str:
    """Every listed target has a VM mode (harness/vmm/fuzz_vm_target.c); an
    unlisted one needs its own harness/vmm/fuzz_vm_<name>.c."""
    if mode == "vm" and target not in [t for t, _ in read_targets()]:
        source = repo_root() / "harness" / "vmm" / f"fuzz_vm_{target.replace('-', '_')}.c"
        if not source.is_file():
            raise UserError(f"target '{target}' has no VM mode (no {display_path(source)})")
    return mode


def engine_dir_name(engine: str, mode: str = "inproc") -> str:
    """Campaign folder of an engine: <engine>, or <engine>-vm in VM mode."""
    return f"{engine}-vm" if mode == "vm" else engine


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise UserError(f"'{name}' not found on PATH; run scripts/bootstrap")
    return path


def sha1_bytes(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write via a temporary file and rename, so a kill never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    mode = "w" if isinstance(data, str) else "wb"
    with open(tmp, mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path: Path, obj) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: Path, default=None):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default


def input_files(directory: Path) -> list[Path]:
    """Regular, non-hidden files directly inside `directory`."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir()
                  if p.is_file() and not p.name.startswith("."))


def display_path(path: Path) -> str:
    """`path` relative to the repo root when inside it, else absolute."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(repo_root()))
    except ValueError:
        return str(path)


def sanitizer_env(base: dict | None = None) -> dict:
    """Environment for replay binaries: symbolized ASan/UBSan reports with stacks."""
    env = dict(os.environ if base is None else base)
    ours_asan = "symbolize=1:detect_leaks=1:handle_abort=1:abort_on_error=0"
    ours_ubsan = "print_stacktrace=1:report_error_type=1:halt_on_error=1:symbolize=1"
    # ours last: later options win, and the hash needs symbolized stacks
    env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS", ""), ours_asan) if x)
    env["UBSAN_OPTIONS"] = ":".join(x for x in (env.get("UBSAN_OPTIONS", ""), ours_ubsan) if x)
    sym = shutil.which("llvm-symbolizer")
    if sym and "ASAN_SYMBOLIZER_PATH" not in env:
        env["ASAN_SYMBOLIZER_PATH"] = sym
    return env
