"""hvfuzz serve: a device model as a vhost-user back-end (harness/serve).

Runs hvfuzz-serve (preset dev, or $HVFUZZ_SERVE_BIN) in the foreground with
its log on stderr; SIGINT/SIGTERM are passed on, and the server stops
cleanly (disk flushed, socket removed)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from . import build
from .common import UserError, bin_path
from .proc import _die_with_parent

DEVICES = ("virtio-blk",)
FAULTS = ("flip-read",)
SUN_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1


def check_socket(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"socket directory does not exist: {parent}")
    if len(os.fsencode(str(path))) > SUN_PATH_MAX:
        raise UserError(f"socket path is longer than {SUN_PATH_MAX} bytes: {path}")
    if path.exists() and not path.is_socket():
        raise UserError(f"{path} exists and is not a socket")


def check_disk(path: Path) -> None:
    if not path.exists():
        raise UserError(f"disk image not found: {path} (create one with: truncate -s 64M {path})")
    if not path.is_file():
        raise UserError(f"disk image is not a regular file: {path}")
    size = path.stat().st_size
    if size == 0 or size % 512:
        raise UserError(f"disk image {path}: size {size} is not a non-zero multiple of 512 bytes")


def server_binary() -> Path:
    env = os.environ.get("HVFUZZ_SERVE_BIN")
    if env:
        path = Path(env)
    else:
        build.bootstrap()
        build.ensure_built("dev")
        path = bin_path("dev", "hvfuzz-serve")
    return build.require_binary(path, "dev")


def command(args) -> list[str]:
    cmd = [str(server_binary()), args.device, "--vhost-user", str(args.vhost_user)]
    if args.disk:
        cmd += ["--disk", str(args.disk)]
    if args.size:
        cmd += ["--size", args.size]
    if args.read_only:
        cmd.append("--read-only")
    if args.queues != 1:
        cmd += ["--queues", str(args.queues)]
    if args.queue_size:
        cmd += ["--queue-size", str(args.queue_size)]
    if args.serial is not None:
        cmd += ["--serial", args.serial]
    for flag in ("trace", "verbose"):
        if getattr(args, flag):
            cmd.append(f"--{flag}")
    if args.inject_fault:
        cmd += ["--inject-fault", args.inject_fault]
    return cmd


def run(args) -> int:
    if args.device not in DEVICES:
        raise UserError(f"unknown device '{args.device}' (served devices: {', '.join(DEVICES)})")
    check_socket(args.vhost_user)
    if args.disk:
        if args.size:
            raise UserError("--size is for the RAM disk; a --disk has its file's size")
        check_disk(args.disk)
    cmd = command(args)
    # Own process group: a terminal's Ctrl-C reaches us once, and we pass it on.
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=_die_with_parent)

    def forward(signum, _frame):
        if proc.poll() is None:
            proc.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        rc = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return rc if rc >= 0 else 128 - rc
