"""hvfuzz serve against a hand-written vhost-user front-end (no QEMU): the
protocol a well-behaved front-end runs (features, memory table on a memfd,
one ring, write / read / GET_ID requests served by the virtio-blk model,
GET_VRING_BASE and a restart), then what a malicious or sloppy one sends
(out-of-range indices, bad sizes, regions beyond their file, addresses in
no region, oversized payloads): each is refused with a clear message, the
server keeps serving, and SIGTERM stops it cleanly. A malformed descriptor
chain is the model's business: it sets DEVICE_NEEDS_RESET, the server says
why and signals the ring's error eventfd, and a device reset recovers."""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path

import realdriver as rd

GET_FEATURES, SET_FEATURES, SET_OWNER = 1, 2, 3
SET_MEM_TABLE, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE = 5, 8, 9, 10
GET_VRING_BASE, SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 11, 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM = 15, 16, 17
SET_VRING_ENABLE, GET_CONFIG = 18, 24
NEED_REPLY = 1 << 3
F_PROTOCOL, F_VERSION_1 = 1 << 30, 1 << 32
P_MQ, P_REPLY_ACK, P_CONFIG = 1 << 0, 1 << 3, 1 << 9

MEM = 1 << 20            # the fake guest's RAM: one memfd region
GPA = 0x40000000
UVA = 0x7f0000000000
DESC, AVAIL, USED, HDR, DATA, STATUS = 0x0, 0x1000, 0x2000, 0x3000, 0x4000, 0x5000
QSIZE = 8


class FrontEnd:
    def __init__(self, path: Path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(path))

    def send(self, req: int, payload: bytes = b"", fds=(), flags: int = 1) -> None:
        msg = struct.pack("<III", req, flags, len(payload)) + payload
        socket.send_fds(self.sock, [msg], list(fds)) if fds else self.sock.sendall(msg)

    def recv(self) -> tuple[int, bytes]:
        hdr = self._exact(12)
        req, flags, size = struct.unpack("<III", hdr)
        assert flags & 4, f"reply without the REPLY flag: {flags:#x}"
        return req, self._exact(size)

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
        return buf

    def call(self, req: int, payload: bytes = b"", fds=()) -> bytes:
        self.send(req, payload, fds)
        got, body = self.recv()
        assert got == req, f"reply to {got}, expected {req}"
        return body

    def u64(self, req: int) -> int:
        return struct.unpack("<Q", self.call(req))[0]

    def acked(self, req: int, payload: bytes = b"", fds=()) -> int:
        """Send with NEED_REPLY; the u64 REPLY_ACK status (0 = success)."""
        self.send(req, payload, fds, flags=1 | NEED_REPLY)
        got, body = self.recv()
        assert got == req and len(body) == 8, (got, body)
        return struct.unpack("<Q", body)[0]


def region(gpa: int, size: int, uva: int, off: int = 0) -> bytes:
    return struct.pack("<QQQQ", gpa, size, uva, off)


def mem_table(*regions: bytes) -> bytes:
    return struct.pack("<II", len(regions), 0) + b"".join(regions)


def state(index: int, num: int) -> bytes:
    return struct.pack("<II", index, num)


class Guest:
    """A split virtqueue in a memfd, driven the way virtio_blk drives it."""

    def __init__(self):
        self.fd = os.memfd_create("hvfuzz-peer-guest")
        os.ftruncate(self.fd, MEM)
        self.avail_idx = 0

    def write(self, off: int, data: bytes) -> None:
        os.pwrite(self.fd, data, off)

    def read(self, off: int, n: int) -> bytes:
        return os.pread(self.fd, n, off)

    def request(self, kind: int, sector: int, data_gpa: int, length: int, writable: bool):
        self.write(HDR, struct.pack("<IIQ", kind, 0, sector))
        self.write(STATUS, b"\xee")
        descs = [(GPA + HDR, 16, 1, 1), (data_gpa, length, 1 | (2 if writable else 0), 2),
                 (GPA + STATUS, 1, 2, 0)]
        for i, (addr, ln, fl, nxt) in enumerate(descs):
            self.write(DESC + 16 * i, struct.pack("<QIHH", addr, ln, fl, nxt))
        self.write(AVAIL + 4 + 2 * (self.avail_idx % QSIZE), struct.pack("<H", 0))
        self.avail_idx += 1
        self.write(AVAIL, struct.pack("<HH", 0, self.avail_idx & 0xffff))

    def used_idx(self) -> int:
        return struct.unpack("<H", self.read(USED + 2, 2))[0]

    def status(self) -> int:
        return self.read(STATUS, 1)[0]


def wait_call(call_fd: int, what: str) -> None:
    r, _, _ = select.select([call_fd], [], [], 10)
    assert r, f"no used-buffer notification on the call eventfd after {what}"
    os.eventfd_read(call_fd)


def kick(kick_fd: int) -> None:
    os.eventfd_write(kick_fd, 1)


def set_up_ring(fe: FrontEnd, guest: Guest, base: int) -> tuple[int, int]:
    assert fe.acked(SET_VRING_NUM, state(0, QSIZE)) == 0
    assert fe.acked(SET_VRING_ADDR, struct.pack("<IIQQQQ", 0, 0, UVA + DESC, UVA + USED,
                                                UVA + AVAIL, 0)) == 0
    assert fe.acked(SET_VRING_BASE, state(0, base)) == 0
    call_fd, kick_fd = os.eventfd(0, os.EFD_NONBLOCK), os.eventfd(0)
    assert fe.acked(SET_VRING_CALL, struct.pack("<Q", 0), [call_fd]) == 0
    assert fe.acked(SET_VRING_KICK, struct.pack("<Q", 0), [kick_fd]) == 0
    assert fe.acked(SET_VRING_ENABLE, state(0, 1)) == 0
    return call_fd, kick_fd


def device_error(fe: FrontEnd, guest: Guest, server: rd.Server) -> None:
    """A malformed chain breaks the model's queue (DEVICE_NEEDS_RESET): the
    server says why and signals the ring's error eventfd; SET_FEATURES (a
    front-end's device start) resets the device and it serves again."""
    call_fd, kick_fd = set_up_ring(fe, guest, 4)
    err_fd = os.eventfd(0, os.EFD_NONBLOCK)
    assert fe.acked(SET_VRING_ERR, struct.pack("<Q", 0), [err_fd]) == 0
    guest.request(8, 0, GPA + DATA, 20, writable=True)
    guest.write(DESC, struct.pack("<QIHH", GPA + HDR, 16, 1, 200))  # NEXT out of range
    kick(kick_fd)
    r, _, _ = select.select([err_fd], [], [], 10)
    assert r, "no signal on the error eventfd after a malformed chain"
    body = fe.call(GET_VRING_BASE, state(0, 0))
    assert struct.unpack("<II", body) == (0, 4), struct.unpack("<II", body)
    assert fe.acked(SET_FEATURES, struct.pack("<Q", F_VERSION_1 | F_PROTOCOL)) == 0
    guest.avail_idx = 0
    guest.write(AVAIL, struct.pack("<HH", 0, 0))
    guest.write(USED, struct.pack("<HH", 0, 0))
    guest.write(DATA, bytes(20))
    call_fd, kick_fd = set_up_ring(fe, guest, 0)
    guest.request(8, 0, GPA + DATA, 20, writable=True)
    kick(kick_fd)
    wait_call(call_fd, "GET_ID after the device reset")
    assert guest.read(DATA, 20).rstrip(b"\0") == rd.SERIAL.encode(), guest.read(DATA, 20)
    # A kick descriptor that is not a live eventfd (a pipe at end of file)
    # stops the ring instead of spinning the server.
    rfd, wfd = os.pipe()
    os.close(wfd)
    assert fe.acked(SET_VRING_KICK, struct.pack("<Q", 0), [rfd]) == 0
    os.close(rfd)
    time.sleep(0.3)
    fe.call(GET_VRING_BASE, state(0, 0))


def negotiate(fe: FrontEnd) -> None:
    features = fe.u64(GET_FEATURES)
    assert features & F_PROTOCOL and features & F_VERSION_1, hex(features)
    proto = fe.u64(GET_PROTOCOL_FEATURES)
    assert proto & P_REPLY_ACK and proto & P_CONFIG and proto & P_MQ, hex(proto)
    fe.send(SET_PROTOCOL_FEATURES, struct.pack("<Q", P_REPLY_ACK | P_CONFIG | P_MQ))
    assert fe.u64(GET_QUEUE_NUM) == 1
    assert fe.acked(SET_OWNER) == 0
    cfg = fe.call(GET_CONFIG, struct.pack("<III", 0, 60, 0) + bytes(60))
    assert len(cfg) == 72, len(cfg)
    capacity, = struct.unpack_from("<Q", cfg, 12)
    assert capacity == (4 << 20) // 512, capacity
    assert fe.acked(SET_FEATURES, struct.pack("<Q", F_VERSION_1 | F_PROTOCOL)) == 0


def served_requests(fe: FrontEnd, guest: Guest, disk: Path) -> None:
    call_fd, kick_fd = set_up_ring(fe, guest, 0)
    data = bytes(range(256)) * 2
    guest.write(DATA, data)
    guest.request(1, 8, GPA + DATA, 512, writable=False)       # OUT: write sector 8
    kick(kick_fd)
    wait_call(call_fd, "a write request")
    assert guest.used_idx() == 1 and guest.status() == 0, (guest.used_idx(), guest.status())
    assert disk.read_bytes()[8 * 512:9 * 512] == data, "the write did not reach the disk file"
    guest.write(DATA, bytes(512))
    guest.request(0, 8, GPA + DATA, 512, writable=True)        # IN: read it back
    kick(kick_fd)
    wait_call(call_fd, "a read request")
    assert guest.status() == 0 and guest.read(DATA, 512) == data, "read back differs"
    guest.request(0, 0, 0x90000000, 512, writable=True)        # data in no region
    kick(kick_fd)
    wait_call(call_fd, "a request whose buffer is in no memory region")
    assert guest.used_idx() == 3 and guest.status() == 1, "expected VIRTIO_BLK_S_IOERR"
    body = fe.call(GET_VRING_BASE, state(0, 0))
    assert struct.unpack("<II", body) == (0, 3), struct.unpack("<II", body)
    call_fd, kick_fd = set_up_ring(fe, guest, 3)               # restart at base 3
    guest.request(8, 0, GPA + DATA, 20, writable=True)         # GET_ID
    kick(kick_fd)
    wait_call(call_fd, "GET_ID after a restart at base 3")
    assert guest.read(DATA, 20).rstrip(b"\0") == rd.SERIAL.encode(), guest.read(DATA, 20)
    body = fe.call(GET_VRING_BASE, state(0, 0))                # stopped again
    assert struct.unpack("<II", body) == (0, 4), struct.unpack("<II", body)


def refused(fe: FrontEnd, guest: Guest) -> None:
    """Each must get a non-zero REPLY_ACK (the server logs why)."""
    small = os.memfd_create("hvfuzz-peer-small")
    os.ftruncate(small, 4096)
    cases = [
        (SET_VRING_NUM, state(5, 8), []),                        # index out of range
        (SET_VRING_NUM, state(0, 3), []),                        # not a power of two
        (SET_VRING_BASE, state(0, 1 << 20), []),                 # base above 65535
        (SET_VRING_ENABLE, state(0, 7), []),
        (SET_FEATURES, struct.pack("<Q", F_VERSION_1 | (1 << 60)), []),
        (SET_VRING_CALL, struct.pack("<Q", 0), []),              # no fd, no NOFD bit
        (SET_VRING_KICK, struct.pack("<Q", 0x100), []),          # polling: unsupported
        (SET_MEM_TABLE, mem_table(region(GPA, MEM, UVA)), []),   # region without fd
        (SET_MEM_TABLE, mem_table(region(0, 1 << 20, UVA)), [small]),  # beyond its file
        (SET_MEM_TABLE, mem_table(*[region(i << 20, 4096, UVA) for i in range(9)]), [small] * 8),
        (SET_MEM_TABLE, mem_table(region(0, 4096, UVA), region(0, 4096, UVA)),
         [small, small]),                                        # overlapping
        (SET_MEM_TABLE, struct.pack("<II", 1, 0), [small]),      # size mismatch
        (99, b"", []),                                           # unknown request
    ]
    for req, payload, fds in cases:
        assert fe.acked(req, payload, fds) != 0, f"request {req} {payload.hex()} accepted"
    # Ring addresses are checked when the ring starts (here: on its kick fd).
    assert fe.acked(SET_VRING_ADDR, struct.pack("<IIQQQQ", 0, 0, 0x1000, 0x2000, 0x3000,
                                                0)) == 0
    kick_fd = os.eventfd(0)
    assert fe.acked(SET_VRING_KICK, struct.pack("<Q", 0), [kick_fd]) != 0, \
        "a ring whose descriptor table is in no memory region started"
    os.close(kick_fd)
    assert fe.call(GET_CONFIG, struct.pack("<III", 250, 60, 0) + bytes(60)) == b"", \
        "GET_CONFIG beyond 256 bytes must get an empty reply"
    os.close(small)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="hvfuzz-peer-") as tmp:
        sock, disk = Path(tmp) / "peer.sock", Path(tmp) / "disk.img"
        with open(disk, "wb") as f:
            f.truncate(4 << 20)
        server = rd.Server(sock, disk)
        server.wait_ready()
        try:
            fds_idle = server.open_fds()
            guest = Guest()
            fe = FrontEnd(sock)
            negotiate(fe)
            assert fe.acked(SET_MEM_TABLE, mem_table(region(GPA, MEM, UVA)), [guest.fd]) == 0
            served_requests(fe, guest, disk)
            device_error(fe, guest, server)
            refused(fe, guest)
            fe.send(SET_OWNER, bytes(4096))                  # oversized: dropped
            try:
                left = fe.sock.recv(1)
            except ConnectionResetError:  # closed with our payload unread
                left = b""
            assert left == b"", "the server kept a connection with a bad payload"
            fe = FrontEnd(sock)                              # and takes the next one
            assert fe.u64(GET_QUEUE_NUM) == 1
            fe.sock.close()
            time.sleep(0.3)
            assert server.open_fds() == fds_idle, \
                f"descriptors leaked: {server.open_fds()} open, {fds_idle} before"

        finally:
            rc = server.stop(sig=signal.SIGINT)  # Ctrl-C, through `hvfuzz serve`
        log = server.log()
        for text in ("vring index 5 out of range", "not a power of two in 1..256 (the model's largest ring",
                     "base 1048576 above 65535", "enable value 7 is neither 0 nor 1",
                     "were not offered", "is in no memory region",
                     "expected one file descriptor, got 0",
                     "1 regions but 0 file descriptors", "is beyond its file",
                     "overlap in guest memory", "request 99 is not supported",
                     "9 regions in a payload", "1 regions in a payload of 8 bytes",
                     "offset 250 size 60",
                     "polling (no kick descriptor) is not supported",
                     "payload larger than 1024 bytes", "front-end disconnected",
                     "DEVICE_NEEDS_RESET: descriptor NEXT index out of range",
                     "the kick descriptor is closed or broken (end of file)",
                     "Interrupt: stopping", "stopped"):
            assert text in log, f"the server log does not say '{text}':\n{log}"
        assert rc == 0 and not sock.exists(), f"exit {rc} on SIGINT\n{log}"
    print("vhost-user peer: served requests, refused bad input with clear errors, "
          "stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
