"""hvfuzz record: what a real driver sent, as seed programs.

`hvfuzz record virtio-blk` boots Debian's kernel under QEMU TCG (the guest
of tests/realdrivers: busybox initramfs, Linux's own virtio_blk module)
against `hvfuzz-serve virtio-blk --record FILE`, lets the guest run a
workload, then converts the recording (format: harness/serve/vu_session.h)
into text programs for the virtio-blk target:

- `virtq_setup` with the negotiated features (low 32 bits; VERSION_1 is
  implied), the number of rings the driver started and their size; again
  where the driver renegotiated, the device was reset or the driver made
  its ring anew (started at index 0 after use: a rebind);
- one request per recorded chain, in order: `blk_read` / `blk_write` /
  `blk_flush` / `blk_get_id` / `blk_discard` / `blk_write_zeroes` when the
  chain is exactly that directive's layout, else `virtq_submit` with the
  recorded readable bytes and the recorded readable and writable lengths;
  `indirect` when the driver used an indirect table; chains the model
  popped on one kick share one (`nokick` on all but the last), as long as
  the program's own ring and data-area layout keeps them apart;
- SET_CONFIG writes as byte writes to the device configuration (bar4
  0x2000 + offset).

What the input format cannot hold is adapted and said so in a comment:
more than 7 readable or 7 writable segments, or a segment above 65535
bytes, are merged (header and status segments kept apart). Write payloads
are cut to --payload-max bytes after the request header (the bytes past
them are whatever the data area held): the model's paths do not depend on
them, and seeds stay small. The seeds are split at the guest's phase
markers (`HVT-PHASE name` on its console, matched by time; what comes
before the first marker is SeaBIOS's own virtio-blk driver: "firmware")
and every --max-requests requests (a kick's chains stay together):
PREFIX-<phase>-<K>.hvf.

`--from-recording FILE` converts an existing recording without booting.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .common import UserError, bin_path, display_path, info, repo_root

DEVICES = ("virtio-blk",)
MAX_SEG = 0xffff            # u16 segment lengths
MAX_SEGS = 7                # readable and writable segments per op
SPLIT_CHUNK = 127 * 512     # merged pieces: whole sectors, <= MAX_SEG
DATA_AREA = 0x30000         # 0x10000..0x40000 of the 256 KiB window
BATCH_BYTES = DATA_AREA - 0x10000  # no overlap inside a batch even after a wrap
IND_AREA = 256              # indirect entries (HV_VIRTQ_MAX_SIZE)
MAX_QSIZE = 256             # HV_VIRTQ_MAX_SIZE
DEV_CFG = 0x2000            # VIRTIO_PCI_DEVICE_OFF in bar4
DISK_BYTES = 16 << 20       # the fuzz target's disk: sectors stay in range
GUEST_TIMEOUT = 600

T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ = 0, 1, 4, 8, 11, 13


# ---- the recording ---------------------------------------------------------

@dataclass
class Req:
    t: int
    q: int
    segs: list[tuple[bool, int]]     # (writable, length)
    data: bytes
    indirect: bool = False
    trunc: int = 0                   # all readable bytes, when data was cut


@dataclass
class Recording:
    device: str
    queues: int
    qmax: int
    data_max: int
    events: list[tuple] = field(default_factory=list)  # (t, kind, ...) in order


_REQ = re.compile(r"req (\d+) head=\d+ (\S+)(.*) data=hex:([0-9a-f]*)$")


def parse(text: str) -> Recording:
    """The recording's lines (harness/serve/vu_session.h), phase lines
    (`T phase NAME`) included."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("hvrec 1 "):
        raise UserError("not an hvfuzz-serve recording (first line is not 'hvrec 1 ...')")
    head = lines[0].split()
    kv = dict(w.split("=", 1) for w in head[3:] if "=" in w)
    rec = Recording(device=head[2], queues=int(kv.get("queues", 1)),
                    qmax=int(kv.get("qmax", 256)), data_max=int(kv.get("data_max", 0)))
    for n, line in enumerate(lines[1:], 2):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            t_s, rest = line.split(" ", 1)
            t = int(t_s)
            word = rest.split()
            kind = word[0]
            if kind == "req":
                m = _REQ.match(rest)
                if not m:
                    raise ValueError("bad req line")
                segs = [] if m.group(2) == "-" else [
                    (s[0] == "w", int(s[1:])) for s in m.group(2).split(",")]
                flags = m.group(3).split()
                trunc = next((int(f[6:]) for f in flags if f.startswith("trunc=")), 0)
                rec.events.append((t, "req", Req(t, int(m.group(1)), segs,
                                                 bytes.fromhex(m.group(4)),
                                                 "indirect" in flags, trunc)))
            elif kind in ("features", "refused"):
                rec.events.append((t, kind, int(word[1], 16)))
            elif kind in ("ring", "stop"):
                kv = dict(w.split("=", 1) for w in word[2:])
                rec.events.append((t, kind, int(word[1]), int(kv.get("size", 0)),
                                   int(kv.get("base", 0))))
            elif kind == "kick":
                rec.events.append((t, kind, int(word[1])))
            elif kind == "config":
                rec.events.append((t, kind, int(word[1], 16),
                                   bytes.fromhex(word[2].split(":", 1)[1])))
            elif kind == "phase":
                rec.events.append((t, kind, word[1]))
            elif kind in ("reset", "error"):
                rec.events.append((t, kind, " ".join(word[1:])))
            # unknown kinds: newer recordings; skipped
        except (ValueError, IndexError) as e:
            raise UserError(f"recording line {n}: cannot read '{line[:80]}' ({e})") from None
    return rec


def merge_phases(text: str, phases: list[tuple[int, str]]) -> str:
    """Insert `T phase NAME` lines (T in microseconds) by time."""
    lines = text.splitlines()
    out, pi = [lines[0]], 0
    for line in lines[1:]:
        t = int(line.split(" ", 1)[0]) if line[:1].isdigit() else 0
        while pi < len(phases) and phases[pi][0] <= t:
            out.append(f"{phases[pi][0]} phase {phases[pi][1]}")
            pi += 1
        out.append(line)
    out += [f"{t} phase {name}" for t, name in phases[pi:]]
    return "\n".join(out) + "\n"


# ---- one request as a program line ------------------------------------------

def data_text(b: bytes) -> str:
    """DATA items: runs of 8+ equal bytes as 0xNN*COUNT, the rest hex:."""
    items, i, lit = [], 0, bytearray()
    while i < len(b):
        j = i
        while j < len(b) and b[j] == b[i]:
            j += 1
        if j - i >= 8:
            if lit:
                items.append("hex:" + lit.hex())
                lit = bytearray()
            items.append(f"{b[i]:#04x}*{j - i}")
        else:
            lit += b[i:j]
        i = j
    if lit:
        items.append("hex:" + lit.hex())
    return "+".join(items)


def fit(lens: list[int], keep_first: bool, keep_last: bool) -> tuple[list[int], str]:
    """Segment lengths the op can carry (at most 7, each <= 65535): the
    middle ones merged (then cut into whole-sector pieces) when needed.
    Returns the lengths and a note ('' when unchanged)."""
    if len(lens) <= MAX_SEGS and all(l <= MAX_SEG for l in lens):
        return lens, ""
    head = lens[:1] if keep_first and lens else []
    tail = lens[-1:] if keep_last and len(lens) > len(head) else []
    mid = lens[len(head):len(lens) - len(tail)]
    room = MAX_SEGS - len(head) - len(tail)
    bins: list[int] = []
    cur = 0
    for l in mid:
        while l > MAX_SEG:
            if cur:
                bins.append(cur)
                cur = 0
            bins.append(SPLIT_CHUNK)
            l -= SPLIT_CHUNK
        if cur + l > MAX_SEG:
            bins.append(cur)
            cur = 0
        cur += l
    if cur or not bins:
        bins.append(cur)
    total, note = sum(mid), f"{len(lens)} segments of {sum(lens)} bytes"
    if len(bins) > room:
        piece = min(SPLIT_CHUNK, -(-total // room + 511) // 512 * 512)
        kept = min(total, piece * room)
        bins = [piece] * (kept // piece) + ([kept % piece] if kept % piece else [])
        if kept < total:
            note += f" (clipped: {total - kept} bytes left out)"
    out = head + bins + tail
    return out, f"merged from {note}" if out != lens else ""


@dataclass
class Op:
    text: str
    alloc: int          # data-area bytes the op takes
    ind: int            # indirect-table entries (0: direct chain)
    desc: int           # descriptor-table entries


def request_op(r: Req, payload_max: int) -> Op:
    """The program line of one recorded chain (without nokick)."""
    outs = [l for w, l in r.segs if not w]
    ins = [l for w, l in r.segs if w]
    outs_f, note_o = fit(outs, True, False)
    ins_f, note_i = fit(ins, False, True)
    hdr = outs[0] if outs else 0
    data = r.data[:hdr + payload_max] if outs else b""
    flags = " indirect" if r.indirect else ""
    notes = [n for n in (note_o, note_i) if n]
    nseg = len(outs_f) + len(ins_f)
    op = Op("", sum((l + 15) & ~15 for l in outs_f + ins_f),
            nseg if r.indirect else 0, 1 if r.indirect else nseg)
    sugar = blk_sugar(r, outs_f, ins_f, data) if not note_o and not note_i else None
    if sugar:
        line = sugar + flags
    else:
        parts = [f"virtq_submit vq={r.q}"]
        if outs_f:
            parts.append("out=" + ",".join(map(str, outs_f)))
        if ins_f:
            parts.append("in=" + ",".join(map(str, ins_f)))
        if data:
            parts.append("data=" + (hdr_text(data) if hdr == 16 else data_text(data)))
        line = " ".join(parts) + flags
    if notes:
        line += "  # " + "; ".join(notes)
    op.text = line
    return op


def hdr_text(data: bytes) -> str:
    """A virtio-blk header (16 bytes) as le32+le32+le64, the rest as DATA."""
    if len(data) < 16:
        return data_text(data) if data else "hex:"
    t = int.from_bytes(data[0:4], "little")
    r = int.from_bytes(data[4:8], "little")
    s = int.from_bytes(data[8:16], "little")
    rest = data_text(data[16:])
    return f"le32:{t}+le32:{r:#x}+le64:{s:#x}" + (f"+{rest}" if rest else "")


def blk_sugar(r: Req, outs: list[int], ins: list[int], data: bytes) -> str | None:
    """The blk_* directive that assembles to exactly this chain, if any."""
    if r.q != 0 or not outs or outs[0] != 16 or len(data) < 16:
        return None
    typ = int.from_bytes(data[0:4], "little")
    if int.from_bytes(data[4:8], "little"):
        return None  # ioprio / reserved set: no directive writes it
    sector = int.from_bytes(data[8:16], "little")
    if typ == T_IN and outs == [16] and len(ins) == 2 and ins[1] == 1:
        return f"blk_read sector={sector:#x} len={ins[0]}"
    if typ == T_GET_ID and outs == [16] and len(ins) == 2 and ins[1] == 1 and sector == 0:
        return f"blk_get_id len={ins[0]}"
    if typ == T_FLUSH and outs == [16] and ins == [1]:
        return "blk_flush" + (f" sector={sector:#x}" if sector else "")
    if typ == T_OUT and len(outs) == 2 and ins == [1]:
        pay = data[16:]
        return (f"blk_write sector={sector:#x} len={outs[1]} "
                f"data={data_text(pay) if pay else 'hex:'}")
    if typ in (T_DISCARD, T_WZ) and outs == [16, 16] and ins == [1] and sector == 0 \
            and len(data) == 32:
        s = int.from_bytes(data[16:24], "little")
        num = int.from_bytes(data[24:28], "little")
        fl = int.from_bytes(data[28:32], "little")
        if typ == T_DISCARD:
            return f"blk_discard sector={s:#x} num={num}" + (f" dflags={fl:#x}" if fl else "")
        extra = (" unmap" if fl & 1 else "") + (f" dflags={fl & ~1:#x}" if fl & ~1 else "")
        return f"blk_write_zeroes sector={s:#x} num={num}{extra}"
    return None


# ---- the whole recording as programs ----------------------------------------

@dataclass
class Seed:
    phase: str
    lines: list[str]
    requests: int = 0


def convert(rec: Recording, payload_max: int = 64, max_requests: int = 150,
            source: str = "") -> list[Seed]:
    """Seeds in recording order, split at phases and every max_requests."""
    if rec.device != "virtio-blk":
        raise UserError(f"recordings of '{rec.device}' are not converted (known: virtio-blk)")
    features = None
    sizes: dict[int, int] = {}
    setup_due = True
    phase = "firmware"  # before the guest's first marker: SeaBIOS's own driver
    seeds: list[Seed] = []
    cur: Seed | None = None
    pending: list[Req] = []          # chains that shared one kick
    used: dict[int, bool] = {}       # requests on ring q since it started

    def setup_line() -> str:
        qs = (max(sizes) + 1) if sizes else 1
        size = sizes.get(0) or rec.qmax
        return (f"virtq_setup features={(features or 0) & 0xffffffff:#x} "
                f"queues={qs} size={min(size, MAX_QSIZE)}")

    def start_seed() -> Seed:
        s = Seed(phase, [])
        seeds.append(s)
        return s

    def emit_batch(reqs: list[Req]) -> None:
        nonlocal cur, setup_due
        ops = [request_op(r, payload_max) for r in reqs]
        size = min(sizes.get(0) or rec.qmax, MAX_QSIZE)
        groups: list[list[Op]] = []
        g: list[Op] = []
        for op in ops:  # a batch the program's layout can hold without overlap
            if op.desc > size:  # hv_virtq_submit goes indirect by itself
                op.ind, op.desc = op.desc, 1
            if g and (sum(o.alloc for o in g) + op.alloc > BATCH_BYTES
                      or sum(o.ind for o in g) + op.ind > IND_AREA - 2 * MAX_SEGS
                      or sum(o.desc for o in g) + op.desc > size
                      or len(g) + 1 > size):
                groups.append(g)
                g = []
            g.append(op)
        if g:
            groups.append(g)
        for g in groups:
            if cur is None or cur.requests + len(g) > max_requests and cur.requests:
                cur = start_seed()
                setup_due = True
            if setup_due:
                cur.lines.append(setup_line())
                setup_due = False
            for i, op in enumerate(g):
                line = op.text
                if i + 1 < len(g):
                    code, sep, comment = line.partition("  # ")
                    line = code + " nokick" + (sep + comment if sep else "")
                cur.lines.append(line)
            cur.requests += len(g)

    def flush() -> None:
        if pending:
            emit_batch(pending[:])
            pending.clear()

    for ev in rec.events:
        kind = ev[1]
        if kind == "req":
            r = ev[2]
            used[r.q] = True
            pending.append(r)
            continue
        flush()
        if kind == "kick":
            continue
        if kind == "features":  # the server negotiates only when asked to: a device start
            setup_due = True
            features = ev[2]
        elif kind == "reset":
            setup_due = True
        elif kind == "ring":
            # a new size, or the driver's ring made anew (index 0 after use)
            if sizes.get(ev[2]) != ev[3] or (ev[4] == 0 and used.get(ev[2])):
                setup_due = True
            sizes[ev[2]] = ev[3]
            used[ev[2]] = False
        elif kind == "phase":
            phase = re.sub(r"[^A-Za-z0-9_.-]", "-", ev[2]) or "phase"
            cur = None
        elif kind == "config":
            if cur is None:
                cur = start_seed()
                setup_due = True
            if setup_due:
                cur.lines.append(setup_line())
                setup_due = False
            for i, b in enumerate(ev[3]):
                cur.lines.append(f"mmio_write bar4 {DEV_CFG + ev[2] + i:#x} 1 {b:#x}"
                                 "  # SET_CONFIG")
        elif kind == "error":  # the queue is broken until the driver resets the device
            setup_due = True
            if cur is not None:
                cur.lines.append(f"# the model reported a device error here: {ev[2]}")
    flush()
    seeds = [s for s in seeds if s.requests]
    counts: dict[str, int] = {}
    for s in seeds:
        counts[s.phase] = counts.get(s.phase, 0) + 1
        k = counts[s.phase]
        s.lines[:0] = [
            f"# virtio-blk: recorded from a real driver (hvfuzz record{': ' + source if source else ''}),",
            f"# phase '{s.phase}', part {k}: {s.requests} request"
            f"{'s' if s.requests != 1 else ''} in the order the driver",
            "# submitted them (chains that shared one kick: nokick on all but the last;",
            f"# write payloads: the first {payload_max} bytes kept).",
            ".target virtio-blk"]
        s.phase = f"{s.phase}-{k}"
    return seeds


def write_seeds(seeds: list[Seed], prefix: Path) -> list[Path]:
    """PREFIX-<phase>-<K>.hvf; earlier PREFIX-*.hvf files are replaced."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    for old in prefix.parent.glob(prefix.name + "-*.hvf"):
        old.unlink()
    paths = []
    for s in seeds:
        p = prefix.parent / f"{prefix.name}-{s.phase}.hvf"
        p.write_text("\n".join(s.lines) + "\n")
        paths.append(p)
    return paths


def check_seeds(paths: list[Path], build: Path) -> list[str]:
    """Assemble each seed (hvfuzz-asm -t virtio-blk) and replay it
    (fuzz-virtio-blk --quiet); returns one line per seed."""
    asm, replay = build / "bin" / "hvfuzz-asm", build / "bin" / "fuzz-virtio-blk"
    for b in (asm, replay):
        if not b.is_file():
            raise UserError(f"{b} missing: build the dev preset (or give --build-dir)")
    out = []
    with tempfile.TemporaryDirectory(prefix="hvfuzz-record-") as tmp:
        for p in paths:
            binf = Path(tmp) / (p.stem + ".bin")
            a = subprocess.run([str(asm), "-t", "virtio-blk", str(p), "-o", str(binf)],
                               capture_output=True, text=True)
            if a.returncode:
                raise UserError(f"{display_path(p)} does not assemble: {a.stderr.strip()[:300]}")
            r = subprocess.run([str(replay), "--quiet", str(binf)], capture_output=True,
                               text=True, timeout=120)
            if r.returncode:
                raise UserError(f"{display_path(p)} does not replay clean (exit "
                                f"{r.returncode}): {r.stderr.strip()[-300:]}")
            out.append(f"{display_path(p)}: {binf.stat().st_size} bytes, replays clean")
    return out


# ---- booting the guest ------------------------------------------------------

GUEST_PRELUDE = r"""#!/bin/busybox sh
# /init of hvfuzz record's guest: Debian's modules and busybox drive the
# served virtio-blk model; `phase NAME` marks where the seeds are split.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
pass() { echo "HVT-RESULT PASS $1: $2"; }
fail() { echo "HVT-RESULT FAIL $1: $2"; }
note() { echo "HVT-NOTE $*"; }
phase() { sync; sleep 0.5; echo "HVT-PHASE $1"; sleep 0.5; }
PAT_BLKS=$((HVT_PATTERN_BYTES / 4096))
phase probe
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
         virtio_pci virtio_blk crc32c_generic crc16 mbcache jbd2 ext4; do
    insmod /m/$m.ko 2>/dev/null || note "insmod $m failed"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ -b /dev/vda ]; then
    pass probe "$(cat /sys/block/vda/size) sectors, serial '$(cat /sys/block/vda/serial)', cache '$(cat /sys/block/vda/cache_type)'"
else
    fail probe "no /dev/vda"; echo HVT-DONE; poweroff -f
fi
"""

# The real-driver test's workload (tests/realdrivers/guest_init.sh: direct
# I/O, discard, mke2fs + mount + file writes, remount and read, rebind),
# laid out for the fuzz target's 16 MiB disk; plus the
# cache mode switch (SET_CONFIG writeback), online discard and fstrim.
GUEST_WORKLOAD = r"""
DIO_BLK=2560        # 10 MiB
DISCARD_BLK=3072    # 12 MiB
phase dio
dd if=/pattern.bin of=/dev/vda bs=4096 seek=$DIO_BLK oflag=direct 2>/dev/null
dd if=/dev/vda of=/tmp/back.bin bs=4096 skip=$DIO_BLK count=$PAT_BLKS iflag=direct 2>/dev/null
cmp -s /pattern.bin /tmp/back.bin && pass dio "O_DIRECT round trip" || fail dio "O_DIRECT data differs"
phase discard
dd if=/pattern.bin of=/dev/vda bs=4096 seek=$DISCARD_BLK oflag=direct 2>/dev/null
blkdiscard -o $((DISCARD_BLK * 4096)) -l $HVT_PATTERN_BYTES /dev/vda 2>/dev/null &&
    pass discard "blkdiscard" || fail discard "blkdiscard failed"
dd if=/dev/vda of=/tmp/d.bin bs=4096 skip=$DISCARD_BLK count=$PAT_BLKS iflag=direct 2>/dev/null
phase mkfs
mke2fs -L hvfuzz /dev/vda 8192 > /dev/null 2>&1 && pass mkfs "mke2fs" || fail mkfs "mke2fs failed"
phase fs-write
if mount -t ext2 -o discard /dev/vda /mnt 2>/dev/null; then
    cp /pattern.bin /mnt/pattern.bin
    echo "$HVT_TEXT" > /mnt/hello.txt
    mkdir /mnt/dir
    for i in $(seq 1 50); do echo "file $i" > /mnt/dir/f$i; done
    sync
    rm /mnt/dir/f1 /mnt/dir/f2
    sync
    fstrim /mnt 2>/dev/null || note "fstrim failed"
    umount /mnt && pass fs-write "files written" || fail fs-write "umount failed"
else
    fail fs-write "mount failed"
fi
phase fs-read
echo 3 > /proc/sys/vm/drop_caches
if mount -t ext2 -o ro /dev/vda /mnt 2>/dev/null; then
    cmp -s /pattern.bin /mnt/pattern.bin && pass fs-read "remount: contents equal" ||
        fail fs-read "pattern.bin differs"
    cat /mnt/dir/f50 > /dev/null
    umount /mnt
else
    fail fs-read "remount failed"
fi
phase cache
echo "write through" > /sys/block/vda/cache_type 2>/dev/null || note "cache_type not writable"
dd if=/pattern.bin of=/dev/vda bs=4096 count=4 seek=3500 oflag=direct 2>/dev/null
echo "write back" > /sys/block/vda/cache_type 2>/dev/null
dd if=/pattern.bin of=/dev/vda bs=4096 count=4 seek=3504 oflag=direct conv=fsync 2>/dev/null
blockdev --flushbufs /dev/vda
pass cache "cache mode switched: $(cat /sys/block/vda/cache_type)"
phase rebind
rmmod virtio_blk 2>/dev/null
insmod /m/virtio_blk.ko 2>/dev/null
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
dd if=/dev/vda of=/tmp/back2.bin bs=4096 skip=$DIO_BLK count=$PAT_BLKS iflag=direct 2>/dev/null
cmp -s /pattern.bin /tmp/back2.bin && pass rebind "probed again, pattern reads back" ||
    fail rebind "pattern differs after the rebind"
"""

GUEST_EPILOGUE = r"""
phase end
echo HVT-DONE
poweroff -f
"""


def _realdriver():
    path = str(repo_root() / "tests" / "realdrivers")
    if path not in sys.path:
        sys.path.insert(0, path)
    import realdriver  # noqa: E402
    return realdriver


def _prereqs(rd):
    """realdriver's checks, as a UserError instead of a test skip."""
    try:
        return rd.prerequisites()
    except SystemExit:
        raise UserError("hvfuzz record needs qemu-system-x86_64, a Debian kernel with its "
                        "modules and a static /bin/busybox (scripts/bootstrap installs "
                        "them)") from None


def run_guest(cmd: list[str], timeout: float, log) -> tuple[list[str], list[tuple[int, str]], bool]:
    """QEMU's console lines, the phase markers (CLOCK_MONOTONIC µs, name)
    as they arrived, and whether the guest finished in time."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    lines: list[str] = []
    phases: list[tuple[int, str]] = []

    def reader():
        for raw in proc.stdout:
            now = time.monotonic_ns() // 1000
            line = raw.decode(errors="replace").rstrip("\r\n")
            lines.append(line)
            m = re.search(r"HVT-PHASE (\S+)", line)
            if m:
                phases.append((now, m.group(1)))
                log(f"phase {m.group(1)}")
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    try:
        proc.wait(timeout)
        finished = True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        finished = False
    th.join(5)
    return lines, phases, finished


def boot_and_record(args, recording: Path) -> tuple[list[str], str]:
    """Boot the guest against hvfuzz-serve --record; returns the guest's
    result lines and the kernel's version. The recording gets the phase
    markers merged in."""
    rd = _realdriver()
    kernel, mods, qemu = _prereqs(rd)
    from . import serve
    server_bin = serve.server_binary()
    body = args.script.read_text() if args.script else GUEST_WORKLOAD
    init = (GUEST_PRELUDE + body + GUEST_EPILOGUE).encode()
    with tempfile.TemporaryDirectory(prefix="hvfuzz-record-") as tmp:
        work = Path(tmp)
        initrd, sock = work / "initrd.cpio", work / "vblk.sock"
        rd.build_initramfs(initrd, mods, rd.make_pattern(), init=init)
        disk = args.disk
        if disk is None:
            disk = work / "disk.img"
            with open(disk, "wb") as f:
                f.truncate(DISK_BYTES)
        disk_bytes = disk.stat().st_size
        raw = work / "raw.hvrec"
        cmd = [str(server_bin), "virtio-blk", "--vhost-user", str(sock), "--disk", str(disk),
               "--serial", rd.SERIAL, "--record", str(raw),
               "--record-data", str(args.record_data)]
        server = rd.Server(sock, disk, cmd=cmd)
        server.wait_ready()
        info(f"record: booting {kernel.name} under QEMU TCG (up to {args.timeout} s)")
        try:
            lines, phases, finished = run_guest(
                rd.qemu_command(qemu, kernel, initrd, sock, disk_bytes), args.timeout,
                lambda m: info(f"record: guest: {m}"))
        finally:
            rc = server.stop()
        if rc != 0:
            raise UserError(f"hvfuzz-serve exited {rc}:\n{server.log()}")
        if not finished:
            tail = "\n".join(lines[-20:])
            raise UserError(f"the guest did not finish in {args.timeout} s:\n{tail}")
        recording.parent.mkdir(parents=True, exist_ok=True)
        recording.write_text(merge_phases(raw.read_text(), phases))
    return ([l[l.index("HVT-RESULT"):] for l in lines if "HVT-RESULT" in l],
            kernel.name[len("vmlinuz-"):])


# ---- command line -----------------------------------------------------------

def _count(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: '{text}'")
    return value


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "record", help="record what a real driver sends and turn it into seed programs",
        description="Boot Debian's kernel under QEMU TCG (the real-driver guest of "
        "tests/realdrivers) against hvfuzz-serve --record, let the guest run a workload, and "
        "turn what its virtio_blk driver submitted (chains, request headers, write data, "
        "negotiated features, ring sizes, SET_CONFIG) into seed programs: virtq_setup, then "
        "one virtq_submit (or blk_* directive) per recorded chain, in order, split at the "
        "guest's phases. --from-recording converts an existing recording without booting.",
        epilog="Recording format: harness/serve/vu_session.h. Example: hvfuzz record "
        "virtio-blk (boots, writes seeds/virtio-blk/40-recorded-<phase>-<K>.hvf); "
        "hvfuzz record virtio-blk --from-recording out/record/virtio-blk.hvrec --out /tmp/x")
    p.add_argument("device", metavar="DEVICE", help="the model: virtio-blk")
    p.add_argument("--out", type=Path, metavar="PREFIX",
                   help="seed files PREFIX-<phase>-<K>.hvf (a trailing .hvf is dropped; "
                   "earlier PREFIX-*.hvf are replaced; default seeds/<device>/40-recorded)")
    p.add_argument("--from-recording", type=Path, metavar="FILE",
                   help="convert this recording (hvfuzz-serve --record) instead of booting")
    p.add_argument("--recording", type=Path, metavar="FILE",
                   help="where a boot keeps its recording (default out/record/<device>.hvrec)")
    p.add_argument("--disk", type=Path, metavar="FILE", help="disk image the guest uses (raw; "
                   "default a fresh 16 MiB one, the fuzz target's size)")
    p.add_argument("--script", type=Path, metavar="SCRIPT",
                   help="guest workload (busybox sh, run after the driver probed /dev/vda; "
                   "'phase NAME' starts a new seed) instead of the default one: direct I/O, "
                   "discard, mke2fs, mount + file writes, remount + reads, cache mode, rebind")
    p.add_argument("--timeout", type=_count, default=GUEST_TIMEOUT, metavar="S",
                   help=f"guest time limit (default {GUEST_TIMEOUT})")
    p.add_argument("--record-data", type=_count, default=4096, metavar="BYTES",
                   help="readable bytes the server keeps per request (default 4096)")
    p.add_argument("--payload-max", type=_count, default=64, metavar="BYTES",
                   help="write payload bytes kept per request after its header "
                   "(default 64; the rest of the segment is whatever the data area held)")
    p.add_argument("--max-requests", type=_count, default=150, metavar="N",
                   help="requests per seed at most (default 150)")
    p.add_argument("--print", action="store_true", dest="print_",
                   help="print the programs instead of writing files")
    p.add_argument("--check", action="store_true",
                   help="assemble and replay every seed written (build/dev, or --build-dir)")
    p.add_argument("--build-dir", type=Path, metavar="DIR",
                   help="build folder with hvfuzz-asm and fuzz-virtio-blk (default build/dev)")
    return p


def run(args) -> int:
    if args.device not in DEVICES:
        raise UserError(f"unknown device '{args.device}' (recorded devices: "
                        f"{', '.join(DEVICES)})")
    root = repo_root()
    results: list[str] = []
    if args.from_recording:
        recording = args.from_recording
        if not recording.is_file():
            raise UserError(f"no such recording: {recording}")
        source = recording.name
    else:
        recording = args.recording or root / "out" / "record" / f"{args.device}.hvrec"
        if args.disk and not args.disk.is_file():
            raise UserError(f"disk image not found: {args.disk}")
        results, version = boot_and_record(args, recording)
        for r in results:
            info(f"record: {r}")
        source = f"Debian's Linux {version} virtio_blk, QEMU TCG, hvfuzz-serve"
    rec = parse(recording.read_text())
    seeds = convert(rec, args.payload_max, args.max_requests, source)
    if not seeds:
        raise UserError(f"{display_path(recording)}: no requests recorded")
    if args.print_:
        for s in seeds:
            print(f"# ---- {s.phase}")
            print("\n".join(s.lines))
        return 0
    prefix = args.out or root / "seeds" / args.device / "40-recorded"
    if prefix.suffix == ".hvf":
        prefix = prefix.with_suffix("")
    paths = write_seeds(seeds, prefix)
    nreq = sum(s.requests for s in seeds)
    print(f"hvfuzz record: {nreq} requests from {display_path(recording)} -> "
          f"{len(paths)} seeds:")
    for s, p in zip(seeds, paths):
        print(f"  {display_path(p)}: {s.requests} request{'s' if s.requests != 1 else ''}, "
              f"{p.stat().st_size} bytes")
    if args.check:
        for line in check_seeds(paths, args.build_dir or bin_path("dev", "x").parent.parent):
            print(f"  {line}")
    if any(r.startswith("HVT-RESULT FAIL") for r in results):
        print("hvfuzz record: some guest checks failed (see above); the seeds were written",
              file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (tests; before cli.py wires `hvfuzz record`)."""
    parser = argparse.ArgumentParser(prog="hvfuzz")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as e:
        print(f"hvfuzz: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
