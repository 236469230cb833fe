"""Real-driver test: Debian's Linux virtio_net driver (under QEMU TCG, QEMU's
virtio-net-pci with a vhost-user netdev) against hvfuzz's own virtio-net
model served by `hvfuzz serve virtio-net --pcap FILE`. The guest
(guest_init.sh, HVT_TEST=net) checks that the driver probes the interface
with the MAC QEMU gives it, brings it up as 10.0.2.15/24 and sends 3 ARP
requests (arping 10.0.2.2) and 3 ICMP echo requests of 1000 bytes filled
with 0xa5 (ping, to a static neighbour: nothing answers). The host then
reads the server's pcap (plain Python) and checks that it holds exactly the
frames the driver counted (tx_packets, tx_bytes) and that they are byte for
byte what was sent: each ARP request equal to the 42 bytes expected, each
ICMP echo request with the expected Ethernet and IP addresses, valid IP and
ICMP checksums (over every byte but the Ethernet header), sequence 0, 1, 2
and the pattern. RX: the server delivers 2 frames of --rx-pcap, an ARP
request and an ICMP echo request from 10.0.2.2; the driver must count
exactly those (rx_packets, rx_bytes) and the guest's kernel answers both:
its ARP reply must be in the pcap byte for byte and its echo reply must
carry the injected identifier, sequence and 300-byte payload unchanged
(what the model wrote into the RX buffers is what the guest received).

  test_virtio_net.py good     every check passes
  test_virtio_net.py broken   the server corrupts every transmitted frame
                              (--inject-fault corrupt-tx): the pcap check
                              must find every frame differing and say where
  test_virtio_net.py peer     no QEMU: a hand-written vhost-user front-end
                              (test_vhost_user_peer.py's) negotiates as
                              QEMU 7.2's vhost-user-net does, puts frames
                              on the TX ring (one descriptor; header and
                              frame split over three) and finds them in the
                              pcap byte for byte; a second front-end's
                              frames are appended, not a truncated file;
                              RX: the --rx-pcap frames land in the RX
                              ring's buffers byte for byte behind a
                              12-byte header (num_buffers 1)

Exit 77 (skip) when QEMU, a Debian kernel or busybox-static is missing
(good, broken)."""

from __future__ import annotations

import struct
import sys
import tempfile
import time
from pathlib import Path

import realdriver as rd

GUEST_TIMEOUT = 90
MAC = "52:54:00:12:34:56"
PEER_MAC = "52:55:0a:00:02:02"   # guest_init.sh NET_PEER_MAC (static ARP entry)
GUEST_IP, PEER_IP = "10.0.2.15", "10.0.2.2"
PING_SIZE, PING_PATTERN = 1000, 0xa5
RX_DELAY_MS = 1000   # the guest's address and routes are in place by then


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def ip_bytes(ip: str) -> bytes:
    return bytes(int(x) for x in ip.split("."))


def expected_arp() -> bytes:
    """busybox arping's request: broadcast, target hardware address all ones."""
    return (b"\xff" * 6 + mac_bytes(MAC) + b"\x08\x06"
            + b"\x00\x01\x08\x00\x06\x04\x00\x01"
            + mac_bytes(MAC) + ip_bytes(GUEST_IP) + b"\xff" * 6 + ip_bytes(PEER_IP))


def write_pcap(path: Path, frames: list[bytes]) -> None:
    out = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", i, 0, len(f), len(f)) + f
    path.write_bytes(out)


ECHO_ID, ECHO_SEQ = 0x4856, 7
ECHO_DATA = b"hvfuzz-rx-echo:" + bytes((3 * i + 1) & 0xff for i in range(285))


def inet_csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def arp(op: int, sha: str, spa: str, tha: bytes, tpa: str, dst: bytes) -> bytes:
    return (dst + mac_bytes(sha) + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op)
            + mac_bytes(sha) + ip_bytes(spa) + tha + ip_bytes(tpa))


def rx_exchange() -> tuple[list[bytes], bytes]:
    """What the server delivers to the booted guest (an ARP request and an
    ICMP echo request from 10.0.2.2) and the ARP reply the guest must send."""
    req = arp(1, PEER_MAC, PEER_IP, bytes(6), GUEST_IP, b"\xff" * 6)
    reply = arp(2, MAC, GUEST_IP, mac_bytes(PEER_MAC), PEER_IP, mac_bytes(PEER_MAC))
    icmp = struct.pack("!BBHHH", 8, 0, 0, ECHO_ID, ECHO_SEQ) + ECHO_DATA
    icmp = icmp[:2] + struct.pack("!H", inet_csum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0x1234, 0x4000, 64, 1, 0,
                     ip_bytes(PEER_IP), ip_bytes(GUEST_IP))
    ip = ip[:10] + struct.pack("!H", inet_csum(ip)) + ip[12:]
    echo = mac_bytes(MAC) + mac_bytes(PEER_MAC) + b"\x08\x00" + ip + icmp
    return [req, echo], reply


def check_echo_reply(f: bytes) -> str | None:
    """None when f is the guest's answer to the injected echo request."""
    want_len = 14 + 20 + 8 + len(ECHO_DATA)
    if len(f) != want_len:
        return f"{len(f)} bytes, expected {want_len}"
    eth = mac_bytes(PEER_MAC) + mac_bytes(MAC) + b"\x08\x00"
    if f[:14] != eth:
        return "Ethernet header: " + first_diff(f[:14], eth)
    ip = f[14:34]
    if ip[0] != 0x45 or ip[9] != 1 or ip[12:16] != ip_bytes(GUEST_IP) \
            or ip[16:20] != ip_bytes(PEER_IP) or not csum_ok(ip):
        return f"IP header {ip.hex()}: not a valid ICMP header {GUEST_IP} > {PEER_IP}"
    want = struct.pack("!BBHHH", 0, 0, 0, ECHO_ID, ECHO_SEQ) + ECHO_DATA
    got = f[34:36] + b"\0\0" + f[38:]
    if got != want:
        return "ICMP echo reply (the injected id, sequence and data echoed): " \
            + first_diff(got, want)
    if not csum_ok(f[34:]):
        return "ICMP checksum wrong"
    return None


def rx_frames() -> list[bytes]:
    """What the server delivers to the guest: EtherType 0x88b5 (local
    experimental), unicast to the guest and broadcast, 60 to 1514 bytes."""
    src = mac_bytes(PEER_MAC) + b"\x88\xb5"
    return [mac_bytes(MAC) + src + b"hvfuzz-rx-1".ljust(46, b"."),
            b"\xff" * 6 + src + bytes(range(186)),
            mac_bytes(MAC) + src + bytes((7 * i) & 0xff for i in range(1500))]


def read_pcap(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert len(data) >= 24, f"{path}: {len(data)} bytes, no pcap header"
    magic, major, minor, _, _, snap, link = struct.unpack_from("<IHHiIII", data)
    assert magic == 0xa1b2c3d4 and (major, minor) == (2, 4) and link == 1, \
        f"{path}: not a little-endian pcap 2.4 of Ethernet frames " \
        f"(magic {magic:#x}, version {major}.{minor}, link type {link})"
    frames, off = [], 24
    while off < len(data):
        assert off + 16 <= len(data), f"{path}: truncated record header at {off}"
        _, _, incl, orig = struct.unpack_from("<IIII", data, off)
        assert incl == orig and off + 16 + incl <= len(data), \
            f"{path}: record at {off}: {incl} of {orig} bytes, file ends at {len(data)}"
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def csum_ok(b: bytes) -> bool:
    """Internet checksum over b (checksum field included) is all ones."""
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s == 0xffff


def first_diff(got: bytes, want: bytes) -> str:
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return f"byte {i} is {g:#04x}, expected {w:#04x}"
    return f"{len(got)} bytes, expected {len(want)}"


def check_icmp(f: bytes) -> str | None:
    """None when f is one of the guest's echo requests, byte for byte
    (timestamp, IP id/flags/TTL only checked through the checksums); else why
    not."""
    want_len = 14 + 20 + 8 + PING_SIZE
    if len(f) != want_len:
        return f"{len(f)} bytes, expected {want_len}"
    eth = mac_bytes(PEER_MAC) + mac_bytes(MAC) + b"\x08\x00"
    if f[:14] != eth:
        return "Ethernet header: " + first_diff(f[:14], eth)
    ip = f[14:34]
    if ip[0] != 0x45 or struct.unpack("!H", ip[2:4])[0] != 20 + 8 + PING_SIZE or ip[9] != 1 \
            or ip[12:16] != ip_bytes(GUEST_IP) or ip[16:20] != ip_bytes(PEER_IP):
        return f"IP header {ip.hex()} is not ICMP {GUEST_IP} > {PEER_IP}, " \
            f"{20 + 8 + PING_SIZE} bytes"
    if not csum_ok(ip):
        return f"IP header checksum wrong (header {ip.hex()})"
    icmp = f[34:]
    # busybox ping fills the whole ICMP message with the pattern, then sets
    # type, checksum, id, sequence and the timestamp: the code byte is the
    # pattern too.
    if icmp[0] != 8 or icmp[1] != PING_PATTERN:
        return f"ICMP type {icmp[0]} code {icmp[1]}, expected echo request 8 with " \
            f"busybox's code byte {PING_PATTERN}"
    pat = bytes([PING_PATTERN]) * (PING_SIZE - 4)
    if icmp[12:] != pat:
        at = next((i for i, (a, b) in enumerate(zip(icmp[12:], pat)) if a != b), 0)
        return "ICMP data (after the 4-byte timestamp): " + first_diff(icmp[12:], pat) \
            + f" (frame byte {46 + at})"
    if not csum_ok(icmp):
        return "ICMP checksum wrong"
    return None


def check_pcap(frames: list[bytes], sent: tuple[int, int] | None) -> tuple[list[str], list[str]]:
    """(what matched, problems): the frames against what the guest sent."""
    arp, ok, problems = expected_arp(), [], []
    n_arp, seqs, ids = 0, [], set()
    _, arp_reply = rx_exchange()
    n_reply = n_echo = 0
    for i, f in enumerate(frames, 1):
        etype = f[12:14] if len(f) >= 14 else b""
        if etype == b"\x08\x06" and len(f) > 21 and f[21] == 2:
            if f == arp_reply:
                n_reply += 1
            else:
                problems.append(f"frame {i} ({len(f)} bytes) differs from the ARP reply "
                                f"expected to the injected request: {first_diff(f, arp_reply)}")
        elif etype == b"\x08\x06":
            if f == arp:
                n_arp += 1
            else:
                problems.append(f"frame {i} ({len(f)} bytes) differs from the ARP request "
                                f"the guest sent: {first_diff(f, arp)}")
        elif etype == b"\x08\x00" and len(f) > 34 and f[23] == 1 and f[34] == 0:
            why = check_echo_reply(f)
            if why:
                problems.append(f"frame {i} ({len(f)} bytes) differs from the echo reply "
                                f"expected to the injected request: {why}")
            else:
                n_echo += 1
        elif etype == b"\x08\x00" and len(f) > 34 and f[23] == 1:
            why = check_icmp(f)
            if why:
                problems.append(f"frame {i} ({len(f)} bytes) differs from the ICMP echo "
                                f"request the guest sent: {why}")
            else:
                seqs.append(struct.unpack("!H", f[40:42])[0])
                ids.add(f[38:40])
        else:
            problems.append(f"frame {i}: unexpected, {len(f)} bytes: {f[:42].hex()}...")
    if n_arp != 3:
        problems.append(f"{n_arp} of the 3 ARP requests (who-has {PEER_IP} tell {GUEST_IP} "
                        f"from {MAC}) are in the pcap byte for byte")
    else:
        ok.append(f"3 ARP requests equal to the expected 42 bytes ({arp.hex()})")
    if seqs != [0, 1, 2] or len(ids) != 1:
        problems.append(f"ICMP echo requests intact in the pcap: sequence numbers {seqs}, "
                        f"{len(ids)} ids; expected 0, 1, 2 from one ping")
    else:
        ok.append(f"3 ICMP echo requests {GUEST_IP} > {PEER_IP} ({PING_SIZE} bytes of "
                  f"{PING_PATTERN:#x}, seq 0-2): headers as sent, IP and ICMP checksums valid")
    if (n_reply, n_echo) != (1, 1):
        problems.append(f"answers to the injected frames: {n_reply} ARP replies, {n_echo} echo "
                        "replies intact in the pcap; expected one of each")
    else:
        ok.append(f"the guest's answers to the 2 injected frames: the ARP reply equal to the "
                  f"expected 42 bytes, the echo reply with the injected id, sequence and "
                  f"{len(ECHO_DATA)} bytes of data")
    if sent:
        total = sum(map(len, frames))
        if (len(frames), total) != sent:
            problems.append(f"the pcap holds {len(frames)} frames, {total} bytes; the driver "
                            f"counted {sent[0]} frames, {sent[1]} bytes sent")
        else:
            ok.append(f"{len(frames)} frames, {total} bytes: what the driver counted "
                      "(tx_packets, tx_bytes)")
    return ok, problems


def guest_sent(serial: str) -> tuple[int, int] | None:
    for line in serial.splitlines():
        if "HVT-TX packets=" in line:
            words = dict(w.split("=", 1) for w in line.split("HVT-TX", 1)[1].split() if "=" in w)
            return int(words["packets"]), int(words["bytes"])
    return None


def guest_received(serial: str) -> tuple[int, int] | None:
    for line in serial.splitlines():
        if "HVT-RX packets=" in line:
            words = dict(w.split("=", 1) for w in line.split("HVT-RX", 1)[1].split() if "=" in w)
            return int(words["packets"]), int(words["bytes"])
    return None


def explain(serial: str, server: rd.Server) -> str:
    tail = "\n".join("  guest| " + l for l in serial.splitlines()[-40:])
    return f"{tail}\n{server.log()}"


def run(mode: str, work: Path) -> None:
    start = time.monotonic()
    kernel, mods, qemu = rd.prerequisites()
    initrd, sock, pcap = work / "initrd.cpio", work / "vnet.sock", work / "tx.pcap"
    rd.build_initramfs(initrd, mods, b"", modules=rd.NET_MODULES)
    extra = ["--inject-fault", "corrupt-tx"] if mode == "broken" else ["--verbose"]
    rx, _ = rx_exchange()
    write_pcap(work / "rx.pcap", rx)
    extra += ["--rx-pcap", str(work / "rx.pcap"), "--rx-delay", str(RX_DELAY_MS)]
    server = rd.Server(sock, None, cmd=[str(rd.ROOT / "scripts" / "hvfuzz"), "serve",
                                        "virtio-net", "--vhost-user", str(sock),
                                        "--pcap", str(pcap), *extra])
    try:
        server.wait_ready()
        cmd = rd.net_qemu_command(qemu, kernel, initrd, sock, MAC,
                                  f"HVT_PING_SIZE={PING_SIZE} HVT_PING_PATTERN={PING_PATTERN:02x} "
                                  f"HVT_RX_FRAMES={len(rx)}")
        serial, finished = rd.run_guest(cmd, GUEST_TIMEOUT)
        res = rd.results(serial)
        assert finished, "the guest did not finish in time\n" + explain(serial, server)
        assert "HVT-DONE" in serial, "the guest did not reach the end\n" + explain(serial, server)
        for name in ("net_probe", "net_tx", "net_rx"):
            assert name in res, f"no result for check '{name}'\n" + explain(serial, server)
            status, msg = res[name]
            print(f"guest {status} {name}: {msg}")
            assert status == "PASS", f"guest check {name} failed: {msg}\n" \
                + explain(serial, server)
        for line in serial.splitlines():
            if "HVT-SENT" in line:
                print("guest " + line[line.index("HVT-SENT"):])
        sent = guest_sent(serial)
        assert sent, "the guest did not print HVT-TX\n" + explain(serial, server)
        got = guest_received(serial)
        want = (len(rx), sum(map(len, rx)))
        assert got == want, f"the driver counted {got} frames/bytes received, the server " \
            f"delivered {want}\n" + explain(serial, server)
        print(f"host  PASS the driver received the {want[0]} --rx-pcap frames, {want[1]} bytes")
    finally:
        rc = server.stop()
    assert rc == 0, f"the server exited {rc} on SIGTERM:\n{server.log()}"
    assert not sock.exists(), "the server left its socket behind"
    summary = [l for l in server.lines if "frames transmitted" in l]
    assert summary, "the server did not report its frame count\n" + server.log()
    print("server: " + summary[-1].split("hvfuzz-serve: ", 1)[-1])
    frames = read_pcap(pcap)
    ok, problems = check_pcap(frames, sent)
    if mode == "broken":
        assert any("FAULT INJECTED" in l for l in server.lines), server.log()
        assert problems and any("differs from" in p for p in problems), \
            "every frame was corrupted before the pcap, yet the pcap check passed:\n" \
            + "\n".join(ok)
        for p in problems:
            print(f"host  FAIL (as it must) {p}")
        print("broken model detected: the pcap check fails with a clear message")
        return
    for line in ok:
        print(f"host  PASS {line}")
    assert not problems, "the pcap does not hold what the guest sent:\n  " \
        + "\n  ".join(problems) + "\n" + explain(serial, server)
    print(f"real-driver virtio-net: all checks passed in {time.monotonic() - start:.1f} s")


# ---- peer: the vhost-user side without QEMU ----

VNET_HDR = 12           # virtio_net_hdr_mrg_rxbuf (VERSION_1)
F_MRG_RXBUF = 1 << 15
TXQ = 1                 # queue pair 0: RX 0, TX 1


def peer_frames() -> list[bytes]:
    """Two frames: a small one and a full-size one with a counting payload."""
    eth = mac_bytes(PEER_MAC) + mac_bytes(MAC) + b"\x88\xb5"   # local experimental type
    return [eth + b"hvfuzz-peer-frame-1".ljust(46, b"."),
            eth + bytes(i & 0xff for i in range(1500))]


RXQ, RX_RING, RX_BUF = 0, 0x10000, 0x20000   # RX ring and its 2 KiB buffers


def peer_rx(fe, guest, rx: list[bytes], server: rd.Server) -> None:
    """Three writable 2 KiB buffers on RX ring 0: the server delivers the
    --rx-pcap frames into them as the ring starts."""
    import os
    import test_vhost_user_peer as vp

    for i in range(len(rx)):
        guest.write(RX_RING + 16 * i, struct.pack("<QIHH", vp.GPA + RX_BUF + 0x800 * i,
                                                  0x800, 2, 0))
        guest.write(RX_RING + 0x1000 + 4 + 2 * i, struct.pack("<H", i))
    guest.write(RX_RING + 0x1000, struct.pack("<HH", 0, len(rx)))
    assert fe.acked(vp.SET_VRING_NUM, vp.state(RXQ, vp.QSIZE)) == 0
    assert fe.acked(vp.SET_VRING_ADDR, struct.pack(
        "<IIQQQQ", RXQ, 0, vp.UVA + RX_RING, vp.UVA + RX_RING + 0x2000,
        vp.UVA + RX_RING + 0x1000, 0)) == 0
    assert fe.acked(vp.SET_VRING_BASE, vp.state(RXQ, 0)) == 0
    call_fd, kick_fd = os.eventfd(0, os.EFD_NONBLOCK), os.eventfd(0)
    assert fe.acked(vp.SET_VRING_CALL, struct.pack("<Q", RXQ), [call_fd]) == 0
    assert fe.acked(vp.SET_VRING_KICK, struct.pack("<Q", RXQ), [kick_fd]) == 0
    assert fe.acked(vp.SET_VRING_ENABLE, vp.state(RXQ, 1)) == 0
    deadline = time.monotonic() + 10
    used = lambda: struct.unpack("<H", guest.read(RX_RING + 0x2000 + 2, 2))[0]
    while used() != len(rx) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert used() == len(rx), f"RX used index {used()}, expected {len(rx)}\n" + server.log()
    hdr = struct.pack("<BBHHHHH", 0, 0, 0, 0, 0, 0, 1)   # num_buffers 1
    for i, frame in enumerate(rx):
        head, ln = struct.unpack("<II", guest.read(RX_RING + 0x2000 + 4 + 8 * i, 8))
        assert (head, ln) == (i, VNET_HDR + len(frame)), \
            f"RX used entry {i}: id {head} len {ln}, expected {i}, {VNET_HDR + len(frame)}"
        got = guest.read(RX_BUF + 0x800 * i, ln)
        assert got[:VNET_HDR] == hdr, f"RX frame {i + 1}: header {got[:VNET_HDR].hex()}"
        assert got[VNET_HDR:] == frame, f"RX frame {i + 1}: " + first_diff(got[VNET_HDR:], frame)
    fe.call(vp.GET_VRING_BASE, vp.state(RXQ, 0))
    print(f"RX: the {len(rx)} --rx-pcap frames are in the RX buffers byte for byte "
          "(12-byte header, num_buffers 1)")


def run_peer(work: Path) -> None:
    import os
    import select
    import test_vhost_user_peer as vp

    sock, pcap = work / "vnet.sock", work / "tx.pcap"
    frames, rx = peer_frames(), rx_frames()
    write_pcap(work / "rx.pcap", rx)
    server = rd.Server(sock, None, cmd=[str(rd.ROOT / "scripts" / "hvfuzz"), "serve",
                                        "virtio-net", "--vhost-user", str(sock),
                                        "--pcap", str(pcap), "--rx-pcap", str(work / "rx.pcap")])
    try:
        server.wait_ready()
        for round_ in (1, 2):     # a second front-end: the pcap is appended to
            guest = vp.Guest()
            fe = vp.FrontEnd(sock)
            features = fe.u64(vp.GET_FEATURES)
            assert features & vp.F_VERSION_1 and features & F_MRG_RXBUF, hex(features)
            proto = fe.u64(vp.GET_PROTOCOL_FEATURES)
            assert not proto & vp.P_CONFIG, f"CONFIG offered to virtio-net ({proto:#x})"
            fe.send(vp.SET_PROTOCOL_FEATURES, struct.pack("<Q", vp.P_REPLY_ACK | vp.P_MQ))
            assert fe.u64(vp.GET_QUEUE_NUM) >= 2
            assert fe.acked(vp.SET_OWNER) == 0
            assert fe.acked(vp.SET_FEATURES, struct.pack(
                "<Q", vp.F_VERSION_1 | F_MRG_RXBUF | vp.F_PROTOCOL)) == 0
            assert fe.acked(vp.SET_MEM_TABLE, vp.mem_table(vp.region(vp.GPA, vp.MEM, vp.UVA)),
                            [guest.fd]) == 0
            q = vp.QSIZE
            assert fe.acked(vp.SET_VRING_NUM, vp.state(TXQ, q)) == 0
            assert fe.acked(vp.SET_VRING_ADDR, struct.pack(
                "<IIQQQQ", TXQ, 0, vp.UVA + vp.DESC, vp.UVA + vp.USED, vp.UVA + vp.AVAIL, 0)) == 0
            assert fe.acked(vp.SET_VRING_BASE, vp.state(TXQ, 0)) == 0
            call_fd, kick_fd = os.eventfd(0, os.EFD_NONBLOCK), os.eventfd(0)
            assert fe.acked(vp.SET_VRING_CALL, struct.pack("<Q", TXQ), [call_fd]) == 0
            assert fe.acked(vp.SET_VRING_KICK, struct.pack("<Q", TXQ), [kick_fd]) == 0
            assert fe.acked(vp.SET_VRING_ENABLE, vp.state(TXQ, 1)) == 0
            # Chain 0: header and frame in one descriptor. Chain 1: the
            # header, then the frame in two pieces (descriptors 1, 2, 3).
            small, big = frames
            guest.write(vp.DATA, bytes(VNET_HDR) + small)
            guest.write(vp.HDR, bytes(VNET_HDR))
            guest.write(vp.DATA + 0x800, big[:700])
            guest.write(vp.DATA + 0x1000 + 0x100, big[700:])
            descs = [(vp.DATA, VNET_HDR + len(small), 0, 0),
                     (vp.HDR, VNET_HDR, 1, 2), (vp.DATA + 0x800, 700, 1, 3),
                     (vp.DATA + 0x1100, len(big) - 700, 0, 0)]
            for i, (off, ln, fl, nxt) in enumerate(descs):
                guest.write(vp.DESC + 16 * i, struct.pack("<QIHH", vp.GPA + off, ln, fl, nxt))
            guest.write(vp.AVAIL + 4, struct.pack("<HH", 0, 1))
            guest.write(vp.AVAIL, struct.pack("<HH", 0, 2))
            vp.kick(kick_fd)
            r, _, _ = select.select([call_fd], [], [], 10)
            assert r, "no used-buffer notification after two TX chains\n" + server.log()
            deadline = time.monotonic() + 10   # a notification may come per chain
            while guest.used_idx() != 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert guest.used_idx() == 2, f"used index {guest.used_idx()}, expected 2"
            body = fe.call(vp.GET_VRING_BASE, vp.state(TXQ, 0))
            assert struct.unpack("<II", body) == (TXQ, 2), struct.unpack("<II", body)
            if round_ == 1:
                peer_rx(fe, guest, rx, server)
            fe.sock.close()
            time.sleep(0.3)
            got = read_pcap(pcap)
            want = frames * round_
            assert got == want, f"after front-end {round_}: the pcap holds " \
                f"{[len(f) for f in got]} byte frames, expected {[len(f) for f in want]}" \
                + "".join(f"\n  frame {i + 1}: {first_diff(g, w)}"
                          for i, (g, w) in enumerate(zip(got, want)) if g != w)
            print(f"front-end {round_}: 2 TX chains (1 and 3 descriptors) -> pcap holds "
                  f"{len(got)} frames, byte for byte")
    finally:
        rc = server.stop()
    assert rc == 0 and not sock.exists(), f"exit {rc} on SIGTERM\n{server.log()}"
    assert any("4 frames transmitted" in l and "4 written to the pcap" in l
               for l in server.lines), server.log()
    assert any("3 of 3 --rx-pcap frames delivered" in l for l in server.lines), server.log()
    print("vhost-user peer, virtio-net: TX frames in the pcap and --rx-pcap frames in the RX "
          "buffers, byte for byte")


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "good"
    if mode not in ("good", "broken", "peer"):
        print(f"usage: {sys.argv[0]} [good|broken|peer]")
        return 2
    if mode == "peer":
        with tempfile.TemporaryDirectory(prefix="hvfuzz-peer-") as tmp:
            run_peer(Path(tmp))
        return 0
    rd.prerequisites()
    with tempfile.TemporaryDirectory(prefix="hvfuzz-realdrv-") as tmp:
        run(mode, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
