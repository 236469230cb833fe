"""Real-driver test: SeaBIOS and Debian's Linux tpm_crb driver (under QEMU
TCG, -device tpm-crb with QEMU's TPM emulator backend) against hvfuzz's own
TPM 2.0 model served by `hvfuzz serve tpm --swtpm` (swtpm's control and
data channels). The guest (guest_init.sh, HVT_TEST=tpm) checks that
tpm_crb probes (/dev/tpm0, /dev/tpmrm0), that /sys/class/tpm/tpm0/pcr-sha1
and pcr-sha256 0..9 read, that PCR 0 holds SeaBIOS's measurements, and that
raw TPM2_GetRandom and TPM2_PCR_Read written to /dev/tpm0 are answered. The
host then checks the server's log (control commands, TPM commands), the NV
state file written through --state, and runs every command the model
executed (--log-commands) through hvfuzz-tpm-diff: libtpms must give the
same response codes.

  test_tpm_crb.py good     every check passes
  test_tpm_crb.py broken   the server answers every command TPM_RC_FAILURE
                           (--inject-fault rc-failure): the guest's probe
                           check must FAIL and say why

Exit 77 (skip) when QEMU, a Debian kernel or busybox-static is missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import realdriver as rd

GUEST_TIMEOUT = 90
CHECKS = ("tpm_probe", "tpm_pcrs", "tpm_measured", "tpm_getrandom", "tpm_pcrread")
# What the server logs for the control commands QEMU sends (swtpm protocol).
CONTROL = ("CMD_SET_DATAFD", "CMD_GET_CAPABILITY", "CMD_STOP", "CMD_SET_BUFFERSIZE",
           "CMD_INIT", "CMD_SHUTDOWN")


def server_command(sock: Path, extra: list[str]) -> list[str]:
    return [str(rd.ROOT / "scripts" / "hvfuzz"), "serve", "tpm", "--swtpm", str(sock), *extra]


def boot(mode: str, work: Path) -> tuple[str, bool, rd.Server]:
    kernel, mods, qemu = rd.prerequisites()
    initrd, sock = work / "initrd.cpio", work / "tpm.sock"
    rd.build_initramfs(initrd, mods, b"")
    extra = ["--verbose", "--state", str(work / "tpm.nv"),
             "--log-commands", str(work / "commands.bin")]
    if mode == "broken":
        extra += ["--inject-fault", "rc-failure"]
    server = rd.Server(sock, None, cmd=server_command(sock, extra))
    server.wait_ready()
    serial, finished = rd.run_guest(rd.tpm_qemu_command(qemu, kernel, initrd, sock),
                                    GUEST_TIMEOUT)
    return serial, finished, server


def explain(serial: str, server: rd.Server) -> str:
    tail = "\n".join("  guest| " + l for l in serial.splitlines()[-40:])
    return f"{tail}\n{server.log()}"


def check_server_stops(server: rd.Server, sock: Path) -> None:
    rc = server.stop()
    assert rc == 0, f"the server exited {rc} on SIGTERM:\n{server.log()}"
    assert not sock.exists(), "the server left its socket behind"
    assert any("stopped" in l for l in server.lines), server.log()


def diff_binary() -> Path | None:
    env = os.environ.get("HVFUZZ_TPM_DIFF_BIN")
    path = Path(env) if env else rd.ROOT / "build" / "dev" / "bin" / "hvfuzz-tpm-diff"
    return path if path.is_file() else None


def oracle(log: Path, executed: int) -> str:
    """Every command the model executed, through hvfuzz's model and libtpms
    from a fresh state: no response code may differ."""
    tool = diff_binary()
    if not tool:
        return "hvfuzz-tpm-diff not built (libtpms-dev missing): oracle not run"
    out = subprocess.run([str(tool), str(log)], capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    assert out.returncode == 0, f"hvfuzz-tpm-diff found a divergence (exit " \
        f"{out.returncode}) on the commands of the boot:\n{out.stdout}{out.stderr}"
    verdicts = {}
    for l in lines:
        m = re.match(r"\s+\d+\s+cc 0x\w+\s+hvfuzz 0x\w+\s+libtpms 0x\w+\s+(\S+)", l)
        if m:
            verdicts[m.group(1)] = verdicts.get(m.group(1), 0) + 1
    total = sum(verdicts.values())
    assert total == executed, f"hvfuzz-tpm-diff compared {total} commands, the server " \
        f"executed {executed}:\n{out.stdout}"
    assert verdicts.get("gap", 0) == 0 and verdicts.get("desynced", 0) == 0, out.stdout
    return (f"hvfuzz-tpm-diff: {total} commands of the boot, response codes identical in "
            f"hvfuzz and libtpms ({', '.join(f'{v} {k}' for k, v in sorted(verdicts.items()))})")


def run_good(work: Path) -> None:
    start = time.monotonic()
    serial, finished, server = boot("good", work)
    res = rd.results(serial)
    try:
        assert finished, "the guest did not finish in time\n" + explain(serial, server)
        assert "HVT-DONE" in serial, "the guest did not reach the end\n" + explain(serial, server)
        for name in CHECKS:
            assert name in res, f"no result for check '{name}'\n" + explain(serial, server)
            status, msg = res[name]
            print(f"guest {status} {name}: {msg}")
            assert status == "PASS", f"guest check {name} failed: {msg}\n" \
                + explain(serial, server)
    finally:
        check_server_stops(server, work / "tpm.sock")
    log = "\n".join(server.lines)
    for text in CONTROL:
        assert text in log, f"the server log does not show {text}:\n{server.log()}"
    cmds = [l for l in server.lines if "<- TPM cmd" in l]
    names = {m.group(1) for l in cmds if (m := re.search(r"cc 0x\w+ (\w+),", l))}
    for name in ("Startup", "SelfTest", "GetCapability", "PCR_Extend", "PCR_Read", "GetRandom"):
        assert name in names, f"the server log shows no {name} command:\n{server.log()}"
    failed = [l for l in cmds if "-> rc 0x000," not in l]
    assert not failed, "commands of the boot failed:\n" + "\n".join(failed)
    print(f"host  PASS server log: {', '.join(CONTROL)}; {len(cmds)} TPM commands "
          f"({', '.join(sorted(names))}), all rc 0")
    state = work / "tpm.nv"
    assert state.is_file() and state.read_bytes()[:4] == b"HVNV", \
        f"no NV state file {state} after the shutdown\n{server.log()}"
    print(f"host  PASS --state: {state.name} holds the NV state after shutdown "
          f"({state.stat().st_size} bytes, magic HVNV)")
    print(f"host  PASS {oracle(work / 'commands.bin', len(cmds))}")
    print(f"real-driver tpm-crb: all checks passed in {time.monotonic() - start:.1f} s")


def run_broken(work: Path) -> None:
    serial, finished, server = boot("broken", work)
    res = rd.results(serial)
    try:
        assert any("FAULT INJECTED" in l for l in server.lines), server.log()
        assert finished and "HVT-DONE" in serial, \
            "the guest did not finish\n" + explain(serial, server)
        status, msg = res.get("tpm_probe", ("missing", ""))
        assert status == "FAIL", f"the probe check did not fail ({status}: {msg}) although " \
            "every TPM command answered TPM_RC_FAILURE\n" + explain(serial, server)
        assert "no /dev/tpm0" in msg and "A TPM error (257)" in msg, \
            f"the probe check does not say that the TPM answered TPM_RC_FAILURE: {msg}"
        print(f"guest FAIL tpm_probe (as it must): {msg}")
        passed = [n for n in CHECKS if res.get(n, ("",))[0] == "PASS"]
        assert not passed, f"checks passed on a failing TPM: {passed}"
    finally:
        check_server_stops(server, work / "tpm.sock")
    print("broken model detected: the guest-side checks fail with a clear message")


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "good"
    rd.prerequisites()
    with tempfile.TemporaryDirectory(prefix="hvfuzz-realdrv-tpm-") as tmp:
        (run_good if mode == "good" else run_broken)(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
