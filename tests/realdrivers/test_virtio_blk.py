"""Real-driver test: Debian's Linux virtio_blk driver (under QEMU TCG, through
vhost-user-blk-pci) against hvfuzz's own virtio-blk model served by
`hvfuzz serve`. The guest (guest_init.sh) checks probe, O_DIRECT round trip,
discard, an ext2 round trip and a driver unbind/rebind (device reset, rings
stopped and restarted); the host then finds the data in the disk image and
runs e2fsck on it.

  test_virtio_blk.py good     every check passes, the data is on the host
  test_virtio_blk.py broken   the server corrupts reads (--inject-fault
                              flip-read): the O_DIRECT check must FAIL and
                              say that the data differs

Exit 77 (skip) when QEMU, a Debian kernel or busybox-static is missing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import realdriver as rd

GUEST_TIMEOUT = 120


def boot(mode: str, work: Path) -> tuple[str, bool, rd.Server, Path, bytes]:
    kernel, mods, qemu = rd.prerequisites()
    pattern = rd.make_pattern()
    initrd, disk, sock = work / "initrd.cpio", work / "disk.img", work / "vblk.sock"
    rd.build_initramfs(initrd, mods, pattern)
    with open(disk, "wb") as f:
        f.truncate(rd.DISK_BYTES)
    server = rd.Server(sock, disk, ["--inject-fault", "flip-read"] if mode == "broken"
                       else ["--verbose"])
    server.wait_ready()
    serial, finished = rd.run_guest(rd.qemu_command(qemu, kernel, initrd, sock), GUEST_TIMEOUT)
    return serial, finished, server, disk, pattern


def check_server_stops(server: rd.Server, sock: Path) -> None:
    rc = server.stop()
    assert rc == 0, f"the server exited {rc} on SIGTERM:\n{server.log()}"
    assert not sock.exists(), "the server left its socket behind"
    assert any("stopped" in l for l in server.lines), server.log()


def host_checks(disk: Path, pattern: bytes) -> list[str]:
    """What the guest wrote, seen in the image file: the raw O_DIRECT pattern,
    and the ext2 file system (e2fsck -fn clean, files readable by debugfs)."""
    done = []
    with open(disk, "rb") as f:
        f.seek(rd.DIO_OFFSET)
        assert f.read(len(pattern)) == pattern, \
            "the O_DIRECT pattern is not at its offset in the host disk file"
    done.append(f"O_DIRECT pattern found in the image at {rd.DIO_OFFSET:#x}")
    if not (shutil.which("e2fsck") and shutil.which("debugfs")):
        return done + ["e2fsprogs not installed: no host-side fsck"]
    fsck = subprocess.run(["e2fsck", "-fn", str(disk)], capture_output=True, text=True)
    assert fsck.returncode == 0, f"e2fsck -fn on the image: exit {fsck.returncode}\n" \
        + fsck.stdout + fsck.stderr
    cat = subprocess.run(["debugfs", "-R", "cat /pattern.bin", str(disk)],
                         capture_output=True)
    assert cat.stdout == pattern, "debugfs: /pattern.bin in the image differs"
    text = subprocess.run(["debugfs", "-R", "cat /hello.txt", str(disk)],
                          capture_output=True, text=True).stdout
    assert text.strip() == rd.TEXT, f"debugfs: /hello.txt is {text!r}"
    return done + ["e2fsck -fn clean; debugfs reads /pattern.bin and /hello.txt"]


def explain(serial: str, server: rd.Server) -> str:
    tail = "\n".join("  guest| " + l for l in serial.splitlines()[-40:])
    return f"{tail}\n{server.log()}"


def run_good(work: Path) -> None:
    start = time.monotonic()
    serial, finished, server, disk, pattern = boot("good", work)
    res = rd.results(serial)
    try:
        assert finished, "the guest did not finish in time\n" + explain(serial, server)
        assert "HVT-DONE" in serial, "the guest did not reach the end\n" + explain(serial, server)
        for name in ("probe", "dio", "discard", "fs", "rebind"):
            assert name in res, f"no result for check '{name}'\n" + explain(serial, server)
            status, msg = res[name]
            print(f"guest {status} {name}: {msg}")
            assert status == "PASS", f"guest check {name} failed: {msg}\n" \
                + explain(serial, server)
        starts = sum("vring 0 started" in l for l in server.lines)
        stops = sum("<- GET_VRING_BASE" in l for l in server.lines)
        assert starts >= 2 and stops >= 1, "the rebind did not stop and restart the ring " \
            f"({starts} starts, {stops} GET_VRING_BASE)\n" + server.log()
        print(f"server: ring 0 started {starts} times, stopped {stops} times (GET_VRING_BASE)")
    finally:
        check_server_stops(server, work / "vblk.sock")
    for line in host_checks(disk, pattern):
        print(f"host  PASS {line}")
    print(f"real-driver virtio-blk: all checks passed in {time.monotonic() - start:.1f} s")


def run_broken(work: Path) -> None:
    serial, finished, server, _, _ = boot("broken", work)
    res = rd.results(serial)
    try:
        assert any("FAULT INJECTED" in l for l in server.lines), server.log()
        assert "probe" in res and res["probe"][0] == "PASS", \
            "the driver should still probe a device whose reads are corrupted\n" \
            + explain(serial, server)
        status, msg = res.get("dio", ("missing", ""))
        assert status == "FAIL", f"the O_DIRECT check did not fail ({status}) although " \
            "every read was corrupted\n" + explain(serial, server)
        assert "differs from what was written" in msg, msg
        print(f"guest FAIL dio (as it must): {msg}")
        fs = res.get("fs", ("missing", ""))
        assert fs[0] != "PASS", "the ext2 round trip passed on corrupted reads"
        print(f"guest {fs[0]} fs: {fs[1]}")
    finally:
        check_server_stops(server, work / "vblk.sock")
    print("broken model detected: the guest-side checks fail with a clear message")


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "good"
    rd.prerequisites()
    with tempfile.TemporaryDirectory(prefix="hvfuzz-realdrv-") as tmp:
        (run_good if mode == "good" else run_broken)(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
