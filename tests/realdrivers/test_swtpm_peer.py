"""hvfuzz serve tpm against a hand-written swtpm front-end (no QEMU): the
control-channel sequence QEMU's TPM emulator backend runs (SET_DATAFD with
a socketpair end over SCM_RIGHTS, GET_CAPABILITY, STOP, SET_BUFFERSIZE,
INIT, GET_TPMESTABLISHED, SET_LOCALITY), TPM 2.0 commands over the data
channel (Startup, GetRandom, PCR_Read, HierarchyChangeAuth, two commands in
one write), then what a malicious or sloppy peer sends: commands before
INIT, a descriptor that is no socket, a second data channel, bad
localities, a buffer size change while running, unknown and unsupported
control commands, an oversized HASH_DATA, a control request cut short,
short, truncated and oversized TPM commands. Each is answered with the
protocol's error (or the TPM's) and a clear log line, or the peer is
dropped; the server keeps serving, leaks no descriptor, persists NV through
--state, refuses a corrupt state file, writes one command log per power
cycle, and stops cleanly on SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import realdriver as rd

(GET_CAPABILITY, INIT, SHUTDOWN, GET_TPMESTABLISHED, SET_LOCALITY, HASH_START, HASH_DATA,
 HASH_END, CANCEL_TPM_CMD, STORE_VOLATILE, RESET_TPMESTABLISHED, GET_STATEBLOB,
 SET_STATEBLOB, STOP, GET_CONFIG, SET_DATAFD, SET_BUFFERSIZE, GET_INFO) = range(1, 0x13)
SUCCESS, BAD_PARAMETER, BAD_ORDINAL, IOERROR, BAD_LOCALITY = 0, 3, 10, 31, 61
# What QEMU 7.2 requires of a TPM 2 emulator (tpm_emulator_check_caps).
QEMU_CAPS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 7) | (1 << 10) | (1 << 12) \
    | (1 << 13)
CAP_HASHING = 1 << 4

STARTUP = bytes.fromhex("80010000000c000001440000")
GETRANDOM16 = bytes.fromhex("80010000000c0000017b0010")
PCR_READ_SHA256_0 = bytes.fromhex("8001000000140000017e00000001000b03010000")
# SeaBIOS's TPM2_HierarchyChangeAuth(platform, 20 bytes) with an empty
# password session, from the recorded Linux boot: changes NV state.
CHANGE_AUTH = bytes.fromhex(
    "800200000031000001294000000c0000000940000009000001000000141aeea81ea3c48858c3814b2e"
    "5a9a0840d204e439")


class Peer:
    """The control channel (a connection to SOCKET) and, once set, the data
    channel (our end of a socketpair)."""

    def __init__(self, path: Path):
        self.ctrl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ctrl.settimeout(10)
        self.ctrl.connect(str(path))
        self.data: socket.socket | None = None

    def send(self, cmd: int, body: bytes = b"", fds=()) -> None:
        msg = struct.pack(">I", cmd) + body
        if fds:
            socket.send_fds(self.ctrl, [msg], list(fds))
        else:
            self.ctrl.sendall(msg)

    def recv(self, n: int, sock: socket.socket | None = None) -> bytes:
        sock = sock or self.ctrl
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
        return buf

    def call(self, cmd: int, body: bytes = b"", fds=(), out: int = 4) -> bytes:
        self.send(cmd, body, fds)
        return self.recv(out)

    def result(self, cmd: int, body: bytes = b"", fds=()) -> int:
        return struct.unpack(">I", self.call(cmd, body, fds))[0]

    def set_datafd(self) -> int:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        res = self.result(SET_DATAFD, fds=[theirs.fileno()])
        theirs.close()
        if res == SUCCESS:
            mine.settimeout(10)
            self.data = mine
        else:
            mine.close()
        return res

    def tpm(self, command: bytes) -> bytes:
        self.data.sendall(command)
        return self.tpm_response()

    def tpm_response(self) -> bytes:
        hdr = self.recv(10, self.data)
        size = struct.unpack_from(">I", hdr, 2)[0]
        assert 10 <= size <= 4096, f"response size {size}"
        return hdr + self.recv(size - 10, self.data)

    def close(self) -> None:
        if self.data:
            self.data.close()
        self.ctrl.close()


def rc(rsp: bytes) -> int:
    return struct.unpack_from(">I", rsp, 6)[0]


def qemu_sequence(p: Peer) -> None:
    """What QEMU 7.2's tpm_emulator does at start-up and machine reset."""
    assert p.result(SET_DATAFD) == BAD_PARAMETER, "SET_DATAFD without a descriptor"
    r, w = os.pipe()
    assert p.result(SET_DATAFD, fds=[r]) == BAD_PARAMETER, "SET_DATAFD with a pipe"
    os.close(r), os.close(w)
    assert p.set_datafd() == SUCCESS
    assert p.set_datafd() == IOERROR, "a second data channel was accepted"
    rsp = p.tpm(STARTUP)                      # QEMU's probe: the TPM is not running yet
    assert rsp == bytes.fromhex("80010000000a00000101"), rsp.hex()
    caps, = struct.unpack(">Q", p.call(GET_CAPABILITY, out=8))
    assert caps & QEMU_CAPS == QEMU_CAPS, f"caps {caps:#x} lack what QEMU needs"
    assert not caps & CAP_HASHING, f"caps {caps:#x} offer HASHING"
    assert p.result(GET_TPMESTABLISHED) == BAD_ORDINAL, "GET_TPMESTABLISHED before INIT"
    assert p.result(STOP) == SUCCESS
    assert struct.unpack(">IIII", p.call(SET_BUFFERSIZE, struct.pack(">I", 0), out=16)) \
        == (0, 4096, 2808, 4096)
    assert struct.unpack(">IIII", p.call(SET_BUFFERSIZE, struct.pack(">I", 100), out=16)) \
        == (0, 2808, 2808, 4096), "a buffer size below the minimum is not raised to it"
    assert struct.unpack(">IIII", p.call(SET_BUFFERSIZE, struct.pack(">I", 3968), out=16)) \
        == (0, 3968, 2808, 4096)
    assert p.result(INIT, struct.pack(">I", 0)) == SUCCESS
    est = p.call(GET_TPMESTABLISHED, out=8)
    assert est == bytes(8), est.hex()
    assert p.result(SET_LOCALITY, struct.pack(">I", 0)) == SUCCESS   # QEMU: the 4-byte union
    assert p.result(SET_LOCALITY, b"\x00") == SUCCESS                # swtpm: one byte is enough


def served_commands(p: Peer) -> None:
    assert rc(p.tpm(STARTUP)) == 0
    r1, r2 = p.tpm(GETRANDOM16), p.tpm(GETRANDOM16)
    assert rc(r1) == 0 and len(r1) == 28 and r1[10:12] == b"\x00\x10", r1.hex()
    assert r1 != r2, "two GetRandom answers are equal"
    pcr = p.tpm(PCR_READ_SHA256_0)
    assert rc(pcr) == 0 and len(pcr) == 62 and pcr[-32:] == bytes(32), pcr.hex()
    assert rc(p.tpm(CHANGE_AUTH)) == 0                      # NV changes: --state saves
    p.data.sendall(GETRANDOM16 + PCR_READ_SHA256_0)          # two commands, one write
    a, b = p.tpm_response(), p.tpm_response()
    assert rc(a) == 0 and len(a) == 28 and rc(b) == 0 and len(b) == 62, (a.hex(), b.hex())


def malformed_commands(p: Peer) -> None:
    """Commands whose length is not their commandSize: each is answered."""
    p.data.sendall(bytes.fromhex("8001000000"))              # 5 bytes, then silence
    short = p.tpm_response()
    assert len(short) == 10 and rc(short) != 0, short.hex()
    p.data.sendall(bytes.fromhex("80010000ffff0000017b0010"))  # claims 65535 bytes
    cut = p.tpm_response()                                   # after the 2 s deadline
    assert len(cut) == 10 and rc(cut) != 0, cut.hex()
    big = bytearray(4000)                                    # above the 3968-byte buffer
    big[:10] = bytes.fromhex("800100000fa00000017b")
    p.data.sendall(bytes(big))
    first, rest = p.tpm_response(), p.tpm_response()         # 3968 bytes, then 32 zeros
    assert rc(first) != 0 and rc(rest) != 0, (first.hex(), rest.hex())
    assert rc(p.tpm(GETRANDOM16)) == 0, "the data channel is out of step"


def refused_control(p: Peer) -> None:
    assert p.result(SET_BUFFERSIZE, struct.pack(">I", 4096)) == BAD_ORDINAL, \
        "the buffer size changed while the TPM runs"
    assert p.result(SET_LOCALITY, struct.pack(">I", 5 << 24)) == BAD_LOCALITY
    assert p.result(RESET_TPMESTABLISHED, struct.pack(">I", 0)) == BAD_LOCALITY
    assert p.result(RESET_TPMESTABLISHED, struct.pack(">I", 3 << 24)) == SUCCESS
    assert p.result(CANCEL_TPM_CMD) == SUCCESS
    assert p.call(GET_CONFIG, out=8) == bytes(8)
    assert p.result(HASH_START) == BAD_ORDINAL
    assert p.result(HASH_DATA, struct.pack(">I", 8) + bytes(8)) == BAD_ORDINAL
    assert p.result(HASH_END) == BAD_ORDINAL
    assert p.result(STORE_VOLATILE) == BAD_ORDINAL
    assert p.result(GET_STATEBLOB, bytes(12)) == BAD_ORDINAL
    assert p.result(GET_INFO, bytes(16)) == BAD_ORDINAL
    assert p.result(0x99, b"garbage that is not a request") == BAD_ORDINAL
    r, w = os.pipe()                                         # a descriptor with GET_CONFIG
    assert p.call(GET_CONFIG, fds=[r], out=8) == bytes(8)
    os.close(r), os.close(w)
    assert rc(p.tpm(GETRANDOM16)) == 0, "the TPM stopped serving after refused requests"


def power_cycle(p: Peer) -> None:
    assert p.result(STOP) == SUCCESS
    rsp = p.tpm(GETRANDOM16)
    assert rsp == bytes.fromhex("80010000000a00000101"), "a stopped TPM answered " + rsp.hex()
    assert p.result(INIT, struct.pack(">I", 1)) == SUCCESS
    assert rc(p.tpm(GETRANDOM16)) == 0x100, "no TPM_RC_INITIALIZE after a power cycle"
    assert rc(p.tpm(STARTUP)) == 0
    assert p.result(SHUTDOWN) == SUCCESS


def dropped(path: Path) -> None:
    """Peers the server drops: each must see the connection closed."""
    for what, msg in (("an oversized HASH_DATA", struct.pack(">II", HASH_DATA, 1 << 20)),
                      ("an INIT cut short", struct.pack(">I", INIT) + b"\x00")):
        p = Peer(path)
        p.ctrl.sendall(msg)
        try:
            left = p.ctrl.recv(1)
        except ConnectionResetError:
            left = b""
        assert left == b"", f"the server kept a peer that sent {what}"
        p.close()


def state_file_checks(server_bin: list[str], tmp: Path, state: Path) -> None:
    assert state.read_bytes()[:4] == b"HVNV", "no NV state after HierarchyChangeAuth"
    sock = tmp / "again.sock"
    srv = rd.Server(sock, None, cmd=server_bin + ["--swtpm", str(sock), "--state", str(state)])
    srv.wait_ready()
    assert srv.stop() == 0
    assert any("NV loaded from" in l for l in srv.lines), srv.log()
    state.write_bytes(state.read_bytes()[:-1] + b"\x00")     # seal broken
    out = subprocess.run(server_bin + ["--swtpm", str(sock), "--state", str(state)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "refusing to start" in out.stderr, out.stderr
    assert not sock.exists()
    print(f"corrupt state file refused: {out.stderr.strip()}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="hvfuzz-swtpm-peer-") as tmp_name:
        tmp = Path(tmp_name)
        sock, state, log = tmp / "swtpm.sock", tmp / "tpm.nv", tmp / "cmds.bin"
        server_bin = [str(rd.ROOT / "scripts" / "hvfuzz"), "serve", "tpm"]
        server = rd.Server(sock, None, cmd=server_bin + [
            "--swtpm", str(sock), "--state", str(state), "--log-commands", str(log),
            "--verbose"])
        server.wait_ready()
        try:
            fds_idle = server.open_fds()
            p = Peer(sock)
            qemu_sequence(p)
            served_commands(p)
            malformed_commands(p)
            refused_control(p)
            power_cycle(p)
            p.close()
            dropped(sock)
            p = Peer(sock)                                   # and it takes the next one
            assert p.result(GET_TPMESTABLISHED) == BAD_ORDINAL   # TPM off until INIT
            p.close()
            time.sleep(0.3)
            assert server.open_fds() == fds_idle, \
                f"descriptors leaked: {server.open_fds()} open, {fds_idle} before"
        finally:
            rc_stop = server.stop(sig=signal.SIGINT)
        text = server.log()
        for t in ("SET_DATAFD (0x10) refused with 3: no descriptor came with it",
                  "the descriptor is no stream socket", "a data channel is already set",
                  "while the TPM is not running (no CMD_INIT): answered TPM_RC_FAILURE",
                  "GET_TPMESTABLISHED (0x04) refused with 10: the TPM is not running",
                  "SET_BUFFERSIZE (0x11) refused with 10: the TPM is running",
                  "SET_LOCALITY (0x05) refused with 61: locality above 4",
                  "only localities 3 and 4 may reset tpmEstablished",
                  "HASH_START (0x06) refused with 10: not supported: the model has no H-CRTM",
                  "GET_INFO (0x12) refused with 10: not supported",
                  "unknown (0x99) refused with 10", "a descriptor came with GET_CONFIG",
                  "incomplete command: 12 of 3968 bytes after 2000 ms",
                  "HASH_DATA longer than 4096 bytes",
                  "stopped in the middle of a control request",
                  "power cycle 2: its commands go to", "<- TPM cmd", "GetRandom",
                  "front-end disconnected", "Interrupt: stopping", "stopped"):
            assert t in text, f"the server log does not say '{t}':\n{text}"
        assert rc_stop == 0 and not sock.exists(), f"exit {rc_stop} on SIGINT\n{text}"
        cycle2 = Path(str(log) + ".2").read_bytes()
        assert cycle2.startswith(GETRANDOM16 + STARTUP), cycle2.hex()
        assert log.read_bytes().startswith(STARTUP + GETRANDOM16), "command log of cycle 1"
        state_file_checks(server_bin, tmp, state)
    print("swtpm peer: QEMU's control sequence and TPM commands served, bad input refused "
          "with clear errors, NV persisted, stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
