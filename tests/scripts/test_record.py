"""hvfuzz record --from-recording: a real driver's recording as seed programs.

Data: tests/scripts/data/virtio-blk-record.hvrec, lines of one recording
made by `hvfuzz record virtio-blk` (hvfuzz-serve --record under Debian's
Linux virtio_blk, QEMU TCG): SeaBIOS's read, the driver's probe, part of
the ext2 writes (batches of several chains per kick, chains of up to 53
segments, discards, flushes), the cache-mode switch (SET_CONFIG) and the
rebind, with the readable bytes cut to 48 per request (data_max=48). Uses
build/dev's hvfuzz-asm and fuzz-virtio-blk; boots nothing, builds nothing.
ServerRecording runs build/dev's hvfuzz-serve --record under the hand-written
vhost-user front-end of tests/realdrivers/test_vhost_user_peer.py (no QEMU)
and converts what it recorded.
"""

import os
import re
import signal
import subprocess
import sys
import unittest

from helpers import REPLAY, ROOT, TempDirCase, env, require_binary

from hvfuzzlib import record
from hvfuzzlib.common import UserError

DATA = ROOT / "tests" / "scripts" / "data" / "virtio-blk-record.hvrec"

PROBE = """\
virtq_setup features=0x30006e54 queues=1 size=128
virtq_submit vq=0 out=16 in=4096,1 data=le32:0+le32:0x4004+le64:0x0 indirect
virtq_submit vq=0 out=16 in=4096,1 data=le32:0+le32:0x4004+le64:0x8 indirect
virtq_submit vq=0 out=16 in=4096,1 data=le32:0+le32:0x4004+le64:0x18 indirect
blk_get_id len=20 indirect""".splitlines()

CACHE = """\
virtq_setup features=0x30006e54 queues=1 size=128
mmio_write bar4 0x2020 1 0x0
virtq_submit vq=0 out=16,4096 in=1 data=le32:1+le32:0x4004+le64:0x6d60+hex:aba88479a873e27153521c083435b99ff2d9d2ab2ee43ff9ab09be14479e14db indirect nokick
virtq_submit vq=0 out=16,4096 in=1 data=le32:1+le32:0x4004+le64:0x6d68+hex:a632d7636894bfe84d69b3986de827d60dcee488be213a8a9f76648e98df9496 indirect nokick
virtq_submit vq=0 out=16,4096 in=1 data=le32:1+le32:0x4004+le64:0x6d70+hex:254099b697d1a9d480d3a5909007d2ca2abf4064602c82d0b69e4ec02d1c2c64 indirect nokick
virtq_submit vq=0 out=16,4096 in=1 data=le32:1+le32:0x4004+le64:0x6d78+hex:d497254586419de9203bebe8ff897935e07a7f7f3e80c5a1f4e3ae3d8148c74e indirect
mmio_write bar4 0x2020 1 0x1""".splitlines()


def ops(text: str) -> list[str]:
    """The op lines of a program, comments and directives left out."""
    out = []
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("."):
            out.append(line)
    return out


def record_cmd(*args) -> subprocess.CompletedProcess:
    """`hvfuzz record ARGS` through the module's own entry point."""
    e = env(PYTHONPATH=str(ROOT / "scripts"), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "hvfuzzlib.record", "record", *map(str, args)],
                          capture_output=True, text=True, env=e, cwd=ROOT / "scripts",
                          stdin=subprocess.DEVNULL, timeout=60)


class Convert(TempDirCase):
    def seeds(self, **kw):
        return {s.phase: s for s in record.convert(record.parse(DATA.read_text()), **kw)}

    def test_phases_and_ops(self):
        seeds = self.seeds()
        self.assertEqual(list(seeds), ["firmware-1", "probe-1", "fs-write-1", "cache-1",
                                       "rebind-1"])
        self.assertEqual([s.requests for s in seeds.values()], [1, 4, 28, 9, 4])
        # SeaBIOS: no INDIRECT_DESC, no ioprio: the blk_read directive fits
        self.assertEqual(ops("\n".join(seeds["firmware-1"].lines)),
                         ["virtq_setup features=0x44 queues=1 size=128",
                          "blk_read sector=0x0 len=512"])
        self.assertEqual(ops("\n".join(seeds["probe-1"].lines)), PROBE)
        self.assertEqual(ops("\n".join(seeds["cache-1"].lines))[:len(CACHE)], CACHE)
        for s in seeds.values():
            self.assertIn(".target virtio-blk", s.lines)
            self.assertTrue(ops("\n".join(s.lines))[0].startswith("virtq_setup "))

    def test_batches_merges_discards(self):
        text = "\n".join(self.seeds()["fs-write-1"].lines)
        got = ops(text)
        # kick n=3: nokick on the first two chains of the batch only
        self.assertEqual(got[1:5], [
            "virtq_submit vq=0 out=16 in=1024,1 data=le32:0+le32:0x4004+le64:0x2 indirect",
            "virtq_submit vq=0 out=16 in=1024,1 data=le32:0+le32:0x4004+le64:0x4 indirect "
            "nokick",
            "virtq_submit vq=0 out=16 in=32768,1 data=le32:0+le32:0x4004+le64:0xc indirect "
            "nokick",
            "virtq_submit vq=0 out=16 in=1024,1 data=le32:0+le32:0x4004+le64:0xa indirect"])
        # a 131088-byte write in 33 segments: header kept, payload merged
        self.assertRegex(text, r"virtq_submit vq=0 out=16,61440,61440,8192 in=1 data=le32:1"
                         r"\+le32:0x4004\+le64:0x302\+hex:[0-9a-f]{64} indirect  # merged "
                         r"from 33 segments of 131088 bytes")
        # discards keep their 16-byte range segment; flushes are blk_flush
        self.assertIn("virtq_submit vq=0 out=16,16 in=1 data=le32:11+le32:0x4004+le64:0x0"
                      "+hex:24380000000000000200000000000000 indirect", got)
        self.assertEqual(got.count("blk_flush indirect"), 3)
        for line in got:  # the input format's limits
            m = re.match(r"virtq_submit vq=0 out=([\d,]+) in=([\d,]+)", line)
            if m:
                for lens in (m.group(1), m.group(2)):
                    self.assertLessEqual(len(lens.split(",")), 7, line)
                    self.assertTrue(all(int(l) <= 0xffff for l in lens.split(",")), line)

    def test_payload_and_split(self):
        seeds = self.seeds(payload_max=8, max_requests=5)
        self.assertTrue(all(s.requests <= 9 for s in seeds.values()))  # a batch stays whole
        self.assertIn("fs-write-6", seeds)
        text = "\n".join(l for s in seeds.values() for l in s.lines)
        self.assertIn("le64:0x6d60+hex:aba88479a873e271 indirect", text)

    def test_reinit_without_phases(self):
        """No phase markers: one seed, a new virtq_setup where the driver
        renegotiated (SeaBIOS -> Linux) and where it made its ring anew
        (the rebind: index 0 after use)."""
        text = "\n".join(l for l in DATA.read_text().splitlines() if " phase " not in l)
        seeds = record.convert(record.parse(text), max_requests=1000)
        self.assertEqual([s.phase for s in seeds], ["firmware-1"])
        setups = [l for l in ops("\n".join(seeds[0].lines)) if l.startswith("virtq_setup")]
        self.assertEqual(setups, ["virtq_setup features=0x44 queues=1 size=128"]
                         + ["virtq_setup features=0x30006e54 queues=1 size=128"] * 2)

    def test_fit(self):
        self.assertEqual(record.fit([16, 4096], True, False), ([16, 4096], ""))
        lens, note = record.fit([16] + [4096] * 70, True, False)
        self.assertEqual(lens, [16] + [61440] * 4 + [40960])
        self.assertIn("merged from 71 segments", note)
        lens, note = record.fit([16] + [65536] * 8, True, False)  # 512 KiB: too much
        self.assertEqual(len(lens), 7)
        self.assertTrue(all(l <= 0xffff and l % 512 == 0 for l in lens[1:]))
        self.assertIn("clipped", note)
        self.assertEqual(record.fit([2048] + [4096] * 8 + [1], False, True)[0][-1], 1)

    def test_data_text(self):
        self.assertEqual(record.data_text(b"\x01\x02" + bytes(20) + b"\x05"),
                         "hex:0102+0x00*20+hex:05")

    def test_bad_recording(self):
        with self.assertRaises(UserError):
            record.parse("not a recording\n")
        with self.assertRaises(UserError):
            record.parse("hvrec 1 virtio-blk queues=1\n12 req 0 head=1 r16 data=hex:zz\n")
        bad = self.tmp / "bad.hvrec"
        bad.write_text("hello\n")
        proc = record_cmd("virtio-blk", "--from-recording", bad, "--out", self.tmp / "x")
        self.assertEqual(proc.returncode, 2)
        self.assertRegex(proc.stderr.strip(), r"^hvfuzz: error: not an hvfuzz-serve recording")
        proc = record_cmd("nvme", "--from-recording", DATA)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("unknown device", proc.stderr)


class AssembleReplay(TempDirCase):
    def test_written_seeds_assemble_and_replay(self):
        asm = require_binary(REPLAY, "hvfuzz-asm")
        replay = require_binary(REPLAY, "fuzz-virtio-blk")
        prefix = self.tmp / "seeds" / "40-recorded"
        proc = record_cmd("virtio-blk", "--from-recording", DATA, "--out", prefix,
                          "--check", "--build-dir", asm.parent.parent)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("46 requests", proc.stdout)
        files = sorted(prefix.parent.glob("40-recorded-*.hvf"))
        self.assertEqual([f.name for f in files], [
            "40-recorded-cache-1.hvf", "40-recorded-firmware-1.hvf",
            "40-recorded-fs-write-1.hvf", "40-recorded-probe-1.hvf",
            "40-recorded-rebind-1.hvf"])
        self.assertEqual(proc.stdout.count("replays clean"), 5)
        # every recorded request reaches the model and completes with OK
        statuses = []
        for f in files:
            out = self.tmp / (f.stem + ".bin")
            subprocess.run([str(asm), "-t", "virtio-blk", str(f), "-o", str(out)], check=True)
            trace = subprocess.run([str(replay), "--trace", str(out)], capture_output=True,
                                   text=True, timeout=60)
            self.assertEqual(trace.returncode, 0, trace.stderr[-2000:])
            statuses += re.findall(r"virtio-blk vq0 req head=\d+ type=(\d+) sector=\d+ "
                                   r"status=(\d+)", trace.stdout + trace.stderr)
        self.assertEqual(len(statuses), 46)
        self.assertEqual({s for _, s in statuses}, {"0"})
        self.assertEqual(sorted({t for t, _ in statuses}, key=int),
                         ["0", "1", "4", "8", "11"])
        # a second run replaces the earlier seeds instead of adding to them
        (prefix.parent / "40-recorded-old-1.hvf").write_text("# stale\n")
        proc = record_cmd("virtio-blk", "--from-recording", DATA, "--out", prefix)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(list(prefix.parent.glob("40-recorded-*.hvf"))), 5)


class ServerRecording(TempDirCase):
    def test_peer_session_recorded(self):
        serve = require_binary(REPLAY, "hvfuzz-serve")
        usage = subprocess.run([str(serve), "--help"], capture_output=True, text=True).stdout
        self.assertIn("--record FILE", usage, f"{serve} predates --record: rebuild the "
                      f"{REPLAY} preset")
        sys.path.insert(0, str(ROOT / "tests" / "realdrivers"))
        import realdriver as rd
        import test_vhost_user_peer as peer
        sock, disk, rec = self.tmp / "s.sock", self.tmp / "disk.img", self.tmp / "r.hvrec"
        with open(disk, "wb") as f:
            f.truncate(4 << 20)
        server = rd.Server(sock, disk, cmd=[str(serve), "virtio-blk", "--vhost-user", str(sock),
                                            "--disk", str(disk), "--serial", rd.SERIAL,
                                            "--record", str(rec), "--record-data", "32"])
        server.wait_ready()
        try:
            guest = peer.Guest()
            fe = peer.FrontEnd(sock)
            peer.negotiate(fe)
            self.assertEqual(fe.acked(peer.SET_MEM_TABLE, peer.mem_table(
                peer.region(peer.GPA, peer.MEM, peer.UVA)), [guest.fd]), 0)
            peer.served_requests(fe, guest, disk)  # write, read, IOERR read, GET_ID
            peer.device_error(fe, guest, server)   # malformed chain, reset, GET_ID
            fe.sock.close()
            os.close(guest.fd)
        finally:
            self.assertEqual(server.stop(sig=signal.SIGTERM), 0, server.log())
        text = rec.read_text()
        lines = [l.split(" ", 1)[1] for l in text.splitlines()[1:]]
        self.assertTrue(text.startswith("hvrec 1 virtio-blk queues=1 qmax=256 offered=0x"),
                        text[:80])
        reqs = [l for l in lines if l.startswith("req ")]
        hdr_w = "01000000000000000800000000000000"
        self.assertEqual(reqs[0], f"req 0 head=0 r16,r512,w1 trunc=528 data=hex:{hdr_w}"
                         + bytes(range(16)).hex())
        self.assertEqual(reqs[1], "req 0 head=0 r16,w512,w1 data=hex:"
                         "00000000000000000800000000000000")
        self.assertEqual(reqs[3], "req 0 head=0 r16,w20,w1 data=hex:"
                         "08000000000000000000000000000000")
        self.assertEqual(len(reqs), 5, "\n".join(lines))
        for want in ("features 0x100000000", "ring 0 size=8 base=0", "kick 0 n=1",
                     "stop 0 base=3", "ring 0 size=8 base=3", "ring 0 size=8 base=4",
                     "reset"):
            self.assertIn(want, lines)
        self.assertTrue(any(l.startswith("error 0 descriptor NEXT index out of range")
                            for l in lines), "\n".join(lines))
        seeds = record.convert(record.parse(text))
        # Whether two requests shared one kick depends on how fast the
        # server read the eventfd (it coalesces): `nokick` is timing.
        got = [g.removesuffix(" nokick")
               for g in ops("\n".join(l for s in seeds for l in s.lines))]
        self.assertEqual(got, [
            "virtq_setup features=0x0 queues=1 size=8",
            "blk_write sector=0x8 len=512 data=hex:000102030405060708090a0b0c0d0e0f",
            "blk_read sector=0x8 len=512", "blk_read sector=0x0 len=512",
            "blk_get_id len=20",
            "virtq_setup features=0x0 queues=1 size=8",
            "blk_get_id len=20"])


if __name__ == "__main__":
    unittest.main()
