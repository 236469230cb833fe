"""`hvfuzz repro --mode qemu FILE`: the same program against QEMU's own device.

The guest agent boots under stock QEMU through its PVH entry
(`qemu-system-x86_64 -kernel hvfuzz-agent.elf`), gets the target and the
program through -fw_cfg files, runs the program as real MMIO/PIO/config
accesses and prints the per-op trace (in-process format) on COM1; it stops
QEMU through isa-debug-exit. TCG by default: on these machines guest CPL 0
code (SeaBIOS, the PVH stub) is slow under nested KVM; --accel kvm is for
hosts with hardware virtualization.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .common import UserError, bin_path

QEMU = "qemu-system-x86_64"

# The QEMU device of each target, at the PCI address its layout names
# (harness/program/layouts.c). {disk} is a fresh 16 MiB raw image, {disk2}
# a 1 MiB one (make_disks).
DEVICES = {
    "virtio-blk": ["-device", "virtio-blk-pci,drive=d0,addr=01.0",
                   "-drive", "file={disk},if=none,id=d0,format=raw"],
}
DEVICES["virtio-blk-init"] = DEVICES["virtio-blk"]
# NVMe: namespace 1 on the controller's drive (512-byte blocks, 16 MiB) and
# namespace 2 of 4 KiB blocks on a 1 MiB DISK2, as the model has them.
DEVICES["nvme"] = ["-device", "nvme,id=nv0,drive=n0,serial=deadbeef,addr=01.0",
                   "-drive", "file={disk},if=none,id=n0,format=raw",
                   "-device", "nvme-ns,bus=nv0,drive=n1,nsid=2,logical_block_size=4096,"
                   "physical_block_size=4096",
                   "-drive", "file={disk2},if=none,id=n1,format=raw"]
# No netdev: frames the guest sends go nowhere and nothing arrives unasked
# (rx_inject cannot reach QEMU's NIC: the agent only prints it).
DEVICES["e1000"] = ["-device", "e1000,addr=01.0,mac=52:54:00:12:34:56"]
# virtio-net: QEMU's default offer for a netdev without vnet header (as the
# reference trace's user netdev), on a hub port that has no other port:
# frames the guest sends go nowhere and nothing arrives unasked.
DEVICES["virtio-net"] = ["-netdev", "hubport,id=n0,hubid=0",
                         "-device", "virtio-net-pci,netdev=n0,addr=01.0,"
                         "mac=52:54:00:12:34:56"]
for _base in ("nvme", "e1000"):
    DEVICES[f"{_base}-init"] = DEVICES[_base]

# isa-debug-exit: QEMU exits with (value << 1) | 1
EXIT_DONE, EXIT_AGENT_FAULT, EXIT_TRIPLE_FAULT, EXIT_TIMEOUT = 1, 3, 0, 124


def check_target(target: str) -> None:
    if target not in DEVICES:
        raise UserError(f"target '{target}' has no QEMU device (qemu mode: "
                        f"{', '.join(sorted(DEVICES))})")
    if shutil.which(QEMU) is None:
        raise UserError(f"{QEMU} not found (scripts/bootstrap installs qemu-system-x86)")


def agent_path(preset: str) -> Path:
    return bin_path(preset, "x").parent.parent / "agent" / "hvfuzz-agent.elf"


DISK_SIZE, DISK2_SIZE = 16 << 20, 1 << 20


def disk2_of(disk: Path) -> Path:
    return Path(disk).with_name(Path(disk).name + ".ns2")


def device_args(target: str, disk: Path) -> list[str]:
    """The target's QEMU device options, with its scratch disk(s)."""
    return [a.format(disk=disk, disk2=disk2_of(disk)) for a in DEVICES[target]]


def disk_sizes(target: str, disk: Path) -> list[tuple[Path, int]]:
    """The scratch images the target's devices use, with their sizes."""
    sizes = [(Path(disk), DISK_SIZE)]
    if any("{disk2}" in a for a in DEVICES[target]):
        sizes.append((disk2_of(disk), DISK2_SIZE))
    return sizes


def make_disks(target: str, disk: Path) -> None:
    """Fresh (all-zero, sparse) scratch images, as the models' RAM disks."""
    for path, size in disk_sizes(target, disk):
        with open(path, "wb") as f:
            f.truncate(size)


def command(target: str, agent: Path, program: Path, disk: Path, accel: str) -> list[str]:
    return [QEMU, "-M", "q35", "-accel", accel, "-m", "512", "-display", "none",
            "-no-reboot", "-nodefaults", "-serial", "stdio", "-kernel", str(agent),
            *device_args(target, disk),
            "-device", "isa-debug-exit,iobase=0x501",
            "-fw_cfg", f"name=opt/hvfuzz/target,string={target}",
            "-fw_cfg", f"name=opt/hvfuzz/input,file={program}"]


def describe(rc: int) -> str:
    return {EXIT_DONE: "the agent ran the program to its end",
            EXIT_AGENT_FAULT: "the agent reported a fault (see the serial log)",
            EXIT_TRIPLE_FAULT: "the guest triple-faulted",
            EXIT_TIMEOUT: "QEMU did not finish in time"}.get(
                rc, f"QEMU exited with status {rc}" if rc >= 0 else f"QEMU died of signal {-rc}")


def run(target: str, program: Path, preset: str, accel: str, timeout: float,
        tmp: Path, agent: Path | None = None, quiet: bool = False) -> tuple[int, str, str]:
    """Boot the agent (default: the preset's) once; returns (QEMU's status,
    serial log, QEMU's stderr)."""
    agent = agent or agent_path(preset)
    if not agent.is_file():
        raise UserError(f"no guest agent at {agent} (build the {preset} preset)")
    disk = tmp / "qemu-disk.img"
    make_disks(target, disk)
    cmd = command(target, agent, program, disk, accel)
    if not quiet:
        print(f"--- qemu: {' '.join(cmd)}")
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, errors="replace", timeout=timeout)
        return proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return EXIT_TIMEOUT, out, ""
