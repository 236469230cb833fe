"""hvfuzz serve: a device model as a vhost-user back-end, or the TPM model
behind swtpm's protocol for QEMU's `-tpmdev emulator` (harness/serve).

Runs hvfuzz-serve (preset dev, or $HVFUZZ_SERVE_BIN) in the foreground with
its log on stderr; SIGINT/SIGTERM are passed on, and the server stops
cleanly (disk flushed or NV state closed, socket removed)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from . import build
from .common import UserError, bin_path
from .proc import _die_with_parent

DEVICES = ("virtio-blk", "virtio-net", "tpm")
FAULTS = {"virtio-blk": ("flip-read",), "virtio-net": ("corrupt-tx",), "tpm": ("rc-failure",)}
BLK_ONLY = ("disk", "size", "read_only", "serial", "trace", "queue_size")
TPM_ONLY = ("state", "log_commands", "seed")
NET_ONLY = ("pcap", "rx_pcap", "rx_delay")
NOT_NET = ("disk", "size", "read_only", "serial", "queue_size", "queues")
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


def tpm_command(args) -> list[str]:
    cmd = [str(server_binary()), "tpm", "--swtpm", str(args.swtpm)]
    if args.state:
        cmd += ["--state", str(args.state)]
    if args.log_commands:
        cmd += ["--log-commands", str(args.log_commands)]
    if args.seed is not None:
        cmd += ["--seed", str(args.seed)]
    if args.verbose:
        cmd.append("--verbose")
    if args.inject_fault:
        cmd += ["--inject-fault", args.inject_fault]
    return cmd


def check_args(args) -> None:
    """Each device's own options; a fault that is not the device's."""
    def given(name):
        v = getattr(args, name, None)
        return v not in (None, False) and not (name == "queues" and v == 1)

    def flag(name):
        return "--" + name.replace("_", "-")

    if args.device == "tpm":
        if not args.swtpm:
            raise UserError("serve tpm needs --swtpm SOCKET (QEMU: -chardev socket,id=chrtpm,"
                            "path=SOCKET -tpmdev emulator,id=tpm0,chardev=chrtpm)")
        wrong = [flag(n) for n in BLK_ONLY + NET_ONLY + ("vhost_user", "queues") if given(n)]
        if wrong:
            raise UserError(f"{', '.join(wrong)}: not an option of serve tpm")
    else:
        if not args.vhost_user:
            raise UserError(f"serve {args.device} needs --vhost-user SOCKET")
        wrong = [flag(n) for n in TPM_ONLY + ("swtpm",) if given(n)]
        if wrong:
            raise UserError(f"{', '.join(wrong)}: only for serve tpm")
        if args.device == "virtio-net":
            wrong = [flag(n) for n in NOT_NET if given(n)]
            if wrong:
                raise UserError(f"{', '.join(wrong)}: not an option of serve virtio-net")
        else:
            wrong = [flag(n) for n in NET_ONLY if given(n)]
            if wrong:
                raise UserError(f"{', '.join(wrong)}: only for serve virtio-net")
    if args.inject_fault and args.inject_fault not in FAULTS[args.device]:
        raise UserError(f"--inject-fault {args.inject_fault}: not a fault of {args.device} "
                        f"(known: {', '.join(FAULTS[args.device])})")


def command(args) -> list[str]:
    if args.device == "tpm":
        return tpm_command(args)
    cmd = [str(server_binary()), args.device, "--vhost-user", str(args.vhost_user)]
    if getattr(args, "pcap", None):
        cmd += ["--pcap", str(args.pcap)]
    if getattr(args, "rx_pcap", None):
        cmd += ["--rx-pcap", str(args.rx_pcap)]
    if getattr(args, "rx_delay", None) is not None:
        cmd += ["--rx-delay", str(args.rx_delay)]
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
    check_args(args)
    if args.device == "tpm":
        check_socket(args.swtpm)
        if args.state:
            state_dir = args.state.parent if str(args.state.parent) else Path(".")
            if not state_dir.is_dir():
                raise UserError(f"--state: directory does not exist: {state_dir}")
            if args.state.exists() and not args.state.is_file():
                raise UserError(f"--state: {args.state} is not a regular file")
        if args.log_commands:
            log_dir = args.log_commands.parent if str(args.log_commands.parent) else Path(".")
            if not log_dir.is_dir():
                raise UserError(f"--log-commands: directory does not exist: {log_dir}")
    else:
        check_socket(args.vhost_user)
    if getattr(args, "pcap", None):
        pcap_dir = args.pcap.parent if str(args.pcap.parent) else Path(".")
        if not pcap_dir.is_dir():
            raise UserError(f"--pcap: directory does not exist: {pcap_dir}")
        if args.pcap.exists() and not args.pcap.is_file():
            raise UserError(f"--pcap: {args.pcap} is not a regular file")
    if getattr(args, "rx_pcap", None) and not args.rx_pcap.is_file():
        raise UserError(f"--rx-pcap: no such file: {args.rx_pcap}")
    if args.device != "tpm" and args.disk:
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
