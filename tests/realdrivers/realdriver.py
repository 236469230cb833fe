"""Shared pieces of the real-driver tests: prerequisites, the initramfs,
the served model (through `hvfuzz serve`) and QEMU."""

from __future__ import annotations

import glob
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

SKIP = 77  # ctest SKIP_RETURN_CODE
HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("HVFUZZ_ROOT", HERE.parent.parent))
BUSYBOX = Path("/bin/busybox")
MODULES = ("virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
           "virtio_pci", "virtio_blk", "crc32c_generic", "crc16", "mbcache", "jbd2", "ext4")
# virtio-net (test_virtio_net.py): net_failover and failover are modules in
# Debian's kernel; virtio_net needs them.
NET_MODULES = ("virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
               "virtio_pci", "failover", "net_failover", "virtio_net")
DISK_BYTES = 64 << 20
PATTERN_BYTES = 256 << 10
DIO_OFFSET = 10240 * 4096  # guest_init.sh DIO_BLK
SERIAL = "hvfuzz-realdrv"
TEXT = "hvfuzz-real-driver-round-trip"


def skip(reason: str) -> None:
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def is_static_elf(path: Path) -> bool:
    """An ELF executable without a PT_INTERP program header."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != 3
               for i in range(phnum))


def find_kernel() -> tuple[Path, Path]:
    """Debian's newest /boot/vmlinuz-* with its modules directory."""
    for k in sorted(glob.glob("/boot/vmlinuz-*"), reverse=True):
        mods = Path("/lib/modules") / Path(k).name[len("vmlinuz-"):]
        if (mods / "modules.dep").is_file():
            return Path(k), mods
    skip("no /boot/vmlinuz-* with /lib/modules (apt-get install linux-image-amd64)")
    raise AssertionError


def prerequisites() -> tuple[Path, Path, str]:
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        skip("qemu-system-x86_64 not installed (apt-get install qemu-system-x86)")
    if not BUSYBOX.is_file() or not is_static_elf(BUSYBOX):
        skip("no static /bin/busybox (apt-get install busybox-static)")
    kernel, mods = find_kernel()
    if not os.access(kernel, os.R_OK):
        skip(f"{kernel} is not readable")
    return kernel, mods, qemu


def module_paths(mods: Path, names: tuple[str, ...] = MODULES) -> dict[str, Path]:
    """name -> .ko path, from modules.dep (a built-in module is absent)."""
    found = {}
    for line in (mods / "modules.dep").read_text().splitlines():
        rel = line.split(":", 1)[0]
        name = Path(rel).name.split(".ko")[0].replace("-", "_")
        if name in names:
            found[name] = mods / rel
    for name, path in found.items():
        if path.suffix != ".ko":
            skip(f"compressed kernel module {path}: the test loads plain .ko files")
    return found


# ---- initramfs (newc cpio, written here: no cpio tool needed) ----

def _cpio_entry(out: bytearray, ino: int, name: str, mode: int, data: bytes = b"",
                rdev: tuple[int, int] = (0, 0)) -> None:
    fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
    out += b"070701" + b"".join(b"%08x" % f for f in fields) + name.encode() + b"\0"
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)


def build_initramfs(path: Path, mods: Path, pattern: bytes, init: bytes | None = None,
                    modules: tuple[str, ...] = MODULES) -> None:
    """`init`: the guest's /init script (default guest_init.sh); `modules`:
    the kernel modules put in /m."""
    entries = [(d, 0o040755, b"") for d in ("bin", "dev", "proc", "sys", "mnt", "tmp", "m")]
    entries.append(("init", 0o100755, init if init is not None
                     else (HERE / "guest_init.sh").read_bytes()))
    entries.append(("bin/busybox", 0o100755, BUSYBOX.read_bytes()))
    entries.append(("pattern.bin", 0o100644, pattern))
    for name, ko in module_paths(mods, modules).items():
        entries.append((f"m/{name}.ko", 0o100644, ko.read_bytes()))
    out = bytearray()
    for ino, (name, mode, data) in enumerate(entries, 1):
        _cpio_entry(out, ino, name, mode, data)
    _cpio_entry(out, len(entries) + 1, "dev/console", 0o020600, rdev=(5, 1))
    _cpio_entry(out, 0, "TRAILER!!!", 0)
    path.write_bytes(bytes(out))


def make_pattern() -> bytes:
    return random.Random(20261126).randbytes(PATTERN_BYTES)


# ---- the server and QEMU ----

class Server:
    """`hvfuzz serve virtio-blk` in the background, its log collected."""

    def __init__(self, sock: Path, disk: Path, extra: list[str] = (),
                 cmd: list[str] | None = None):
        """`cmd`: the whole server command instead of `hvfuzz serve` (hvfuzz
        record runs hvfuzz-serve itself, with --record)."""
        cmd = cmd or [str(ROOT / "scripts" / "hvfuzz"), "serve", "virtio-blk",
                      "--vhost-user", str(sock), "--disk", str(disk), "--serial", SERIAL,
                      *extra]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if "waiting for a" in line and "front-end" in line:  # vhost-user / swtpm
                self.ready.set()
        self.ready.set()

    def wait_ready(self, timeout: float = 30) -> None:
        if not self.ready.wait(timeout) or self.proc.poll() is not None:
            raise AssertionError("the server did not start:\n" + self.log())

    def stop(self, timeout: float = 20, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the server did not stop on SIGTERM:\n" + self.log())

    def open_fds(self) -> int:
        """Descriptors open in hvfuzz-serve (the CLI's child)."""
        pid = self.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return len(os.listdir(f"/proc/{children[0]}/fd"))

    def log(self) -> str:
        time.sleep(0.1)
        return "\n".join("  server| " + l for l in self.lines)


def qemu_command(qemu: str, kernel: Path, initrd: Path, sock: Path,
                 disk_bytes: int = DISK_BYTES) -> list[str]:
    append = (f"console=ttyS0 panic=-1 quiet HVT_SECTORS={disk_bytes // 512} "
              f"HVT_SERIAL={SERIAL} HVT_PATTERN_BYTES={PATTERN_BYTES} "
              f"HVT_TEXT={TEXT}")
    return [qemu, "-accel", "tcg", "-M", "q35", "-m", "512M",
            "-object", "memory-backend-memfd,id=mem,size=512M,share=on",
            "-numa", "node,memdev=mem",
            "-chardev", f"socket,id=c,path={sock}",
            "-device", "vhost-user-blk-pci,chardev=c",
            "-nographic", "-no-reboot", "-nic", "none",
            "-kernel", str(kernel), "-initrd", str(initrd), "-append", append]


def net_qemu_command(qemu: str, kernel: Path, initrd: Path, sock: Path, mac: str,
                     append: str = "") -> list[str]:
    """Debian's kernel with QEMU's virtio-net-pci whose back-end is the
    vhost-user server on sock (`hvfuzz serve virtio-net`); guest RAM shared.
    The guest runs its network checks (guest_init.sh, HVT_TEST=net).
    vectors=0 (INTx): QEMU 7.2's vhost-user-net with MSI-X under TCG
    segfaults in vhost_net_start (msix_set_vector_notifiers) when the driver
    sets DRIVER_OK, before any ring message reaches the back-end (with or
    without the control queue); vhost-user-blk-pci is not affected. romfile=:
    no iPXE option ROM (faster boot)."""
    return [qemu, "-accel", "tcg", "-M", "q35", "-m", "256M",
            "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
            "-numa", "node,memdev=mem",
            "-chardev", f"socket,id=c,path={sock}",
            "-netdev", "vhost-user,id=n0,chardev=c",
            "-device", f"virtio-net-pci,netdev=n0,mac={mac},vectors=0,romfile=",
            "-nographic", "-no-reboot",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", f"console=ttyS0 panic=-1 quiet HVT_TEST=net HVT_MAC={mac} {append}"]


def tpm_qemu_command(qemu: str, kernel: Path, initrd: Path, sock: Path) -> list[str]:
    """SeaBIOS + Debian's kernel with a tpm-crb whose backend is QEMU's TPM
    emulator (swtpm's protocol) on sock; the guest runs its TPM checks
    (guest_init.sh, HVT_TEST=tpm)."""
    return [qemu, "-accel", "tcg", "-M", "q35", "-m", "256M",
            "-chardev", f"socket,id=chrtpm,path={sock}",
            "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
            "-device", "tpm-crb,tpmdev=tpm0",
            "-nographic", "-no-reboot", "-nic", "none",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyS0 panic=-1 quiet HVT_TEST=tpm"]


def run_guest(cmd: list[str], timeout: float) -> tuple[str, bool]:
    """QEMU's serial output, and whether the guest finished in time."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return out.decode(errors="replace"), True
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return out.decode(errors="replace"), False


RESULT = re.compile(r"HVT-RESULT (PASS|FAIL) (\w+): (.*)")


def results(serial: str) -> dict[str, tuple[str, str]]:
    """check name -> (PASS|FAIL, message), from the guest's serial output."""
    found = {}
    for line in serial.splitlines():
        m = RESULT.search(line)
        if m:
            found[m.group(2)] = (m.group(1), m.group(3).strip())
    return found
