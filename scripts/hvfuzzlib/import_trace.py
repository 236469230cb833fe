"""`hvfuzz import-trace TRACE`: a QEMU "log" trace of a real driver as a program.

The trace (as in ../shared/traces: QEMU 7.2, `-trace enable=memory_region_ops_*`,
`pci_cfg_*`, `fw_cfg_select` and the device's own events) gives every register
access of the guest with its absolute address, value and size, and every PCI
config access of the device. This module replays them against the layout of an
hvfuzz target (harness/program/layouts.c):

- the guest's BAR addresses are learned from the config writes to 0x10..0x24
  as the trace goes (64-bit BARs; the sizing writes of 0xffffffff are not
  addresses), and each MMIO/PIO access becomes `mmio_*`/`pio_*` on the layout
  region of that BAR, at the same offset, in trace order; reads stay reads;
- config accesses become `pci_cfg_*` ops; a BAR address the guest writes is
  replaced by the layout's address for that BAR (so the device stays where
  the program's region ops reach it). The trace does not give the size of a
  config access: it is inferred from the value and the standard width of the
  field at that offset (header fields, MSI-X, PCIe and virtio capabilities,
  found in the trace's own capability reads);
- guest-physical addresses the driver hands the device in registers (NVMe
  ASQ/ACQ, e1000 TDBAL/RDBAL, virtio queue desc/driver/device, legacy virtio
  queue PFN) are relocated into the DMA window (each guest page its own slot,
  the offset in the page kept), so the device's DMA lands in the window
  rather than being refused;
- time between accesses over --clock-gap becomes `clock_advance` (the models'
  timers, e.g. the e1000 PHY autonegotiation, run on the program's clock).

QEMU 7.2 traces no DMA contents: submission entries, descriptors, packets are
not in the trace, so the device reads whatever the window holds (zeroes).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .common import UserError, bin_path, read_targets, repo_root

# ---- the layouts (harness/program/layouts.c) ----------------------------------


@dataclass
class Region:
    name: str
    dev: int
    bar: int
    base: int
    size: int
    pio: bool


@dataclass
class Layout:
    target: str
    devs: list[dict]
    mmio: list[Region]
    pio: list[Region]
    dma_base: int
    dma_size: int
    virtio_region: int = -1


def _c_int(text: str) -> int:
    return int(re.sub(r"(?i)(?<=[0-9a-f])u?l{0,2}$", "", text.strip()), 0)


def _fields(body: str) -> dict[str, str]:
    return {m.group(1): m.group(2).strip()
            for m in re.finditer(r"\.(\w+)\s*=\s*([^,{}]+)", body)}


def parse_layouts(text: str) -> dict[str, Layout]:
    """Every `struct hv_layout` of layouts.c, macros expanded."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    macros = {}
    for m in re.finditer(r"^#define\s+(\w+)\s+((?:[^\n]*\\\n)*[^\n]*)", text, flags=re.M):
        macros[m.group(1)] = m.group(2).replace("\\\n", " ")

    def expand(s: str) -> str:
        for _ in range(8):
            new = re.sub(r"\b[A-Z_][A-Z0-9_]*\b", lambda m: macros.get(m.group(0), m.group(0)), s)
            if new == s:
                break
            s = new
        return s

    arrays: dict[str, list[dict]] = {}
    for m in re.finditer(r"struct\s+hv_layout_(?:device|region)\s+(\w+)\[\]\s*=\s*\{(.*?)\};",
                         text, flags=re.S):
        arrays[m.group(1)] = [_fields(e) for e in re.findall(r"\{([^{}]*)\}", m.group(2))]
    layouts = {}
    for m in re.finditer(r"struct\s+hv_layout\s+(\w+)\s*=\s*\{(.*?)\};", text, flags=re.S):
        f = _fields(expand(m.group(2)))
        if "target" not in f:
            continue
        target = f["target"].strip('"')

        def regions(key: str, pio: bool) -> list[Region]:
            return [Region(e["name"].strip('"'), _c_int(e.get("dev", "0")), _c_int(e.get("bar", "0")),
                           _c_int(e["base"]), _c_int(e["size"]), pio)
                    for e in arrays.get(f.get(key, ""), [])]

        devs = [{"model": d.get("model", "").strip('"'), "name": d.get("name", "").strip('"'),
                 "bdf": _c_int(d.get("bdf", "0xff")) if d.get("bdf", "").strip() != "HV_NO_BDF"
                 else 0xff} for d in arrays.get(f.get("devs", ""), [])]
        layouts[target] = Layout(target, devs, regions("mmio", False), regions("pio", True),
                                 _c_int(f.get("dma_base", "0")), _c_int(f.get("dma_size", "0")),
                                 _c_int(f.get("virtio_region", "-1")))
    return layouts


def load_layout(target: str) -> Layout:
    src = repo_root() / "harness" / "program" / "layouts.c"
    layouts = parse_layouts(src.read_text())
    listed = [t for t, _ in read_targets()]
    usable = [t for t in listed if t in layouts
              and any(d["bdf"] != 0xff for d in layouts[t].devs)]
    if target not in usable:
        raise UserError(f"unknown target '{target}' for import-trace (targets with a PCI "
                        f"device: {', '.join(usable)})")
    return layouts[target]


# ---- the trace --------------------------------------------------------------

PREFIX = re.compile(r"^(?:\d+@(\d+)\.(\d+):)?(\w+)(?: (.*))?$")
MEM = re.compile(r"cpu \S+ mr 0x[0-9a-f]+ addr (0x[0-9a-f]+) value (0x[0-9a-f]+) size (\d+) "
                 r"name '(.*)'$")
CFG = re.compile(r"(\S+) ([0-9a-f]{2}):([0-9a-f]{2})\.([0-7]) @(0x[0-9a-f]+) (->|<-) (0x[0-9a-f]+)$")
FWCFG = re.compile(r"\S+ key (0x[0-9a-f]+) '([^']*)'")
LINUXBOOT_KEY = re.compile(r"^(setup|initrd|initdr|kernel|cmdline)_")
MARKER_PORT = 0x5f0
HANDOFF = -1  # --phase name of the SeaBIOS -> Linux handoff
MARKERS = {0xa0: "init started", 0xa1: "modules loaded", 0xa2: "test started",
           0xa3: "progress 1", 0xa4: "progress 2", 0xaf: "before poweroff"}
# device events that only repeat a register access the memory_region_ops line gives
ECHO_EVENTS = re.compile(r"_mmio_(read|write)$")


@dataclass
class Line:
    no: int            # 1-based line number in the file
    ns: int | None     # timestamp
    kind: str          # mem, cfg, marker, fwcfg, event
    write: bool = False
    addr: int = 0
    val: int = 0
    size: int = 0
    name: str = ""     # region name (mem), device name (cfg), key name (fwcfg), event
    bdf: int = 0
    text: str = ""


def parse_trace(path: Path) -> list[Line]:
    if not path.is_file():
        raise UserError(f"no such trace file: {path}")
    out = []
    with open(path, errors="replace") as f:
        for no, raw in enumerate(f, 1):
            raw = raw.rstrip("\n")
            m = PREFIX.match(raw)
            if not m:
                continue
            ns = int(m.group(1)) * 10**9 + int(m.group(2).ljust(9, "0")[:9]) if m.group(1) else None
            ev, rest = m.group(3), m.group(4) or ""
            if ev in ("memory_region_ops_read", "memory_region_ops_write"):
                mm = MEM.match(rest)
                if not mm:
                    continue
                w = ev.endswith("write")
                addr, val, size, name = int(mm.group(1), 16), int(mm.group(2), 16), \
                    int(mm.group(3)), mm.group(4)
                if w and addr == MARKER_PORT and size == 1 and name == "io":
                    out.append(Line(no, ns, "marker", val=val))
                else:
                    out.append(Line(no, ns, "mem", w, addr, val, size, name))
            elif ev in ("pci_cfg_read", "pci_cfg_write"):
                mm = CFG.match(rest)
                if not mm:
                    continue
                bdf = int(mm.group(3), 16) << 3 | int(mm.group(4))
                if int(mm.group(2), 16) != 0:
                    bdf |= 0x100  # not bus 0: never the layout's device
                out.append(Line(no, ns, "cfg", ev.endswith("write"), int(mm.group(5), 16),
                                int(mm.group(7), 16), 0, mm.group(1), bdf))
            elif ev == "fw_cfg_select":
                mm = FWCFG.match(rest)
                out.append(Line(no, ns, "fwcfg", name=mm.group(2) if mm else "", text=rest))
            else:
                out.append(Line(no, ns, "event", name=ev, text=rest))
    return out


# ---- config access sizes --------------------------------------------------

HEADER_WIDTH = {0x00: 2, 0x02: 2, 0x04: 2, 0x06: 2, 0x08: 1, 0x09: 1, 0x0a: 2, 0x0b: 1,
                0x0c: 1, 0x0d: 1, 0x0e: 1, 0x0f: 1, 0x28: 4, 0x2c: 2, 0x2e: 2, 0x30: 4,
                0x34: 1, 0x38: 4, 0x3c: 1, 0x3d: 1, 0x3e: 1, 0x3f: 1,
                **{o: 4 for o in range(0x10, 0x28, 4)}}
CAP_WIDTH = {
    0x01: {2: 2, 4: 2, 6: 1, 7: 1},                                  # power management
    0x05: {2: 2, 4: 4},                                              # MSI
    0x09: {2: 1, 3: 1, 4: 1, 5: 1, 8: 4, 0xc: 4, 0x10: 4},           # vendor (virtio)
    0x10: {2: 2, 4: 4, 8: 2, 0xa: 2, 0xc: 4, 0x10: 2, 0x12: 2, 0x14: 4, 0x18: 2, 0x1a: 2,
           0x1c: 2, 0x1e: 2, 0x20: 4, 0x24: 4, 0x28: 2, 0x2a: 2, 0x2c: 4, 0x30: 2, 0x32: 2,
           0x34: 4, 0x38: 2, 0x3a: 2},                               # PCI Express
    0x11: {2: 2, 4: 4, 8: 4},                                        # MSI-X
}


def find_caps(cfg: list[Line]) -> dict[int, int]:
    """Capability offset -> ID, from the trace's own reads of 0x34 and of
    each capability's header."""
    byte = {}
    for l in cfg:
        if l.write:
            continue
        if l.addr == 0x34 or l.addr >= 0x40:
            byte.setdefault(l.addr, l.val & 0xff)
            if l.val > 0xff and l.addr % 2 == 0:
                byte.setdefault(l.addr + 1, (l.val >> 8) & 0xff)
    caps, ptr = {}, byte.get(0x34, 0) & 0xfc
    while 0x40 <= ptr < 0x100 and ptr not in caps and ptr in byte:
        caps[ptr] = byte[ptr]
        ptr = byte.get(ptr + 1, 0) & 0xfc
    return caps


def cfg_size(off: int, val: int, caps: dict[int, int]) -> int:
    need = 1 if val <= 0xff else 2 if val <= 0xffff else 4
    width = HEADER_WIDTH.get(off, 1)
    base = max((b for b in caps if b <= off < b + 0x40), default=None)  # the enclosing one
    if base is not None:
        width = CAP_WIDTH.get(caps[base], {}).get(off - base, 1)
    size = max(need, width)
    while size > 1 and off % size:
        size //= 2
    return size


# ---- registers holding guest-physical addresses ---------------------------

# (model, bar or "virtio") -> {offset: "lo" | "hi" | "pfn"}
DMA_REGS = {
    ("nvme", 0): {0x28: "lo", 0x2c: "hi", 0x30: "lo", 0x34: "hi"},           # ASQ, ACQ
    ("e1000", 0): {0x2800: "lo", 0x2804: "hi", 0x3800: "lo", 0x3804: "hi"},  # RDBA, TDBA
    ("virtio", "common"): {0x20: "lo", 0x24: "hi", 0x28: "lo", 0x2c: "hi", 0x30: "lo",
                           0x34: "hi"},                                      # queue addrs
    ("virtio", "legacy"): {0x08: "pfn"},                                     # queue PFN
}


def dma_kind(layout: Layout, region: Region, off: int, size: int) -> str | None:
    if size != 4:
        return None
    model = layout.devs[region.dev]["model"] if region.dev < len(layout.devs) else ""
    if model.startswith("virtio"):
        if (not region.pio and layout.virtio_region >= 0
                and layout.mmio[layout.virtio_region] is region):
            return DMA_REGS[("virtio", "common")].get(off)
        if region.pio and region.bar == 0:
            return DMA_REGS[("virtio", "legacy")].get(off)
        return None
    return DMA_REGS.get((model, region.bar), {}).get(off)


DMA_SLOT = 0x4000  # window bytes given to each guest page a DMA address points into


class Relocator:
    """Guest-physical addresses -> the DMA window: each guest page an address
    register points into gets its own DMA_SLOT of the window, in order of
    first use (the offset in the page kept), so distinct rings stay apart."""

    def __init__(self, layout: Layout):
        self.base, self.size = layout.dma_base, layout.dma_size
        self.slots: dict[int, int] = {}

    def gpa(self, addr: int) -> int:
        page = addr >> 12
        if page not in self.slots:
            self.slots[page] = (len(self.slots) * DMA_SLOT) % max(self.size, DMA_SLOT)
        return self.base + self.slots[page] + (addr & 0xfff)

    def __call__(self, kind: str, val: int) -> int:
        if val == 0:
            return 0  # a cleared address stays cleared
        if kind == "lo":
            return self.gpa(val) & 0xffffffff
        if kind == "hi":
            return self.base >> 32
        return self.gpa(val << 12) >> 12  # pfn


# ---- the import ------------------------------------------------------------


@dataclass
class Bar:
    lo: int | None = None
    hi: int = 0
    flags: int | None = None  # low bits of a read value

    def is64(self) -> bool:
        return self.flags is not None and self.flags & 1 == 0 and self.flags & 6 == 4

    def address(self, pio: bool) -> int | None:
        if self.lo is None:
            return None
        a = self.lo & ~0x3 if pio else (self.lo & ~0xf) | (self.hi << 32 if self.is64() else 0)
        return a or None


@dataclass
class Result:
    text: str
    ops: int
    counts: dict = field(default_factory=dict)
    reads: list = field(default_factory=list)  # (op index, traced value) of mmio/pio reads


def parse_phase(text: str) -> tuple[int | None, int | None]:
    m = re.fullmatch(r"\s*(\w*)\s*\.\.\s*(\w*)\s*", text or "")
    if not m:
        raise UserError(f"--phase: expected A..B (marker bytes, e.g. a0..a1), not '{text}'")

    def one(s):
        if not s:
            return None
        if s == "handoff":
            return HANDOFF
        try:
            v = int(s, 16)
        except ValueError:
            raise UserError(f"--phase: not a marker byte: '{s}'") from None
        if not 0 <= v <= 0xff:
            raise UserError(f"--phase: not a marker byte: '{s}'")
        return v

    return one(m.group(1)), one(m.group(2))


def infer_target(path: Path, lines: list[Line]) -> str:
    names = [t for t, _ in read_targets()]
    for cand in (path.parent.name, path.stem):
        if cand in names:
            return cand
    for t in sorted(names, key=len, reverse=True):
        if path.stem.startswith(t + "-") or path.parent.name.startswith(t + "-"):
            return t
    devs = {l.name for l in lines if l.kind == "cfg"}
    for d in sorted(devs):
        base = re.sub(r"-pci$", "", d)
        if base in names:
            return base
    raise UserError(f"cannot tell the target of {path} (devices in it: "
                    f"{', '.join(sorted(devs)) or 'none'}): give --target")


def import_trace(path: Path, target: str | None = None, phase: str | None = None,
                 limit: int | None = None, skip_firmware: bool = False,
                 device: str | None = None, bars: dict[int, int] | None = None,
                 events: bool = True, clock_gap_us: int = 1000,
                 relocate_dma: bool = True, skip_ops: int = 0,
                 clock_max_us: int = 1000000) -> Result:
    path = Path(path)
    lines = parse_trace(path)
    target = target or infer_target(path, lines)
    layout = load_layout(target)
    devi = next(i for i, d in enumerate(layout.devs) if d["bdf"] != 0xff)
    ldev = layout.devs[devi]

    # which traced device is the layout's
    cfgdevs = {}
    for l in lines:
        if l.kind == "cfg":
            cfgdevs.setdefault((l.name, l.bdf), 0)
            cfgdevs[(l.name, l.bdf)] += 1
    if device:
        cands = [k for k in cfgdevs if k[0] == device]
    else:
        model = ldev["model"]
        cands = [k for k in cfgdevs if re.sub(r"-pci$", "", k[0]) == model]
        cands = cands or [k for k in cfgdevs if k[1] == ldev["bdf"]]
    seen = ", ".join(sorted({k[0] for k in cfgdevs})) or "none"
    if not cands and bars:  # no config access at all, the BARs given by hand
        cands = [(device or ldev["model"], ldev["bdf"])]
        cfgdevs[cands[0]] = 0
    if not cands:
        hint = ("; for a trace of register accesses only, give the BARs with --bar N=ADDR"
                if any(l.kind == "mem" for l in lines) else "")
        raise UserError(f"no accesses of the {device or ldev['model']} device found in {path} "
                        f"(PCI devices in it: {seen}){hint}")
    tdev = max(cands, key=lambda k: cfgdevs[k])
    regions = [r for r in layout.mmio + layout.pio if r.dev == devi]

    cfg = [l for l in lines if l.kind == "cfg" and (l.name, l.bdf) == tdev]
    caps = find_caps(cfg)

    # window: --skip-firmware, --phase
    start, end = 0, len(lines)
    notes = []
    hand = [i for i, l in enumerate(lines) if l.kind == "fwcfg" and LINUXBOOT_KEY.match(l.name)]

    def no_handoff(opt):
        return UserError(f"{opt}: no fw_cfg_select of the kernel/initrd keys in {path} (the "
                         "SeaBIOS -> Linux handoff; trace with -trace enable=fw_cfg_select)")

    if skip_firmware:
        if not hand:
            raise no_handoff("--skip-firmware")
        start = hand[-1] + 1
        notes.append(f"--skip-firmware (from line {lines[hand[-1]].no}, fw_cfg_select "
                     f"'{lines[hand[-1]].name}': SeaBIOS -> Linux)")
    if phase:
        a, b = parse_phase(phase)
        present = [f"{l.val:#x}" for l in lines if l.kind == "marker"]

        def where(v, after):
            if v == HANDOFF:
                if not hand:
                    raise no_handoff("--phase")
                return hand[-1] if hand[-1] >= after else None
            idx = [i for i, l in enumerate(lines) if l.kind == "marker" and l.val == v
                   and i >= after]
            return idx[0] if idx else None

        if a is not None:
            i = where(a, 0)
            if i is None:
                raise UserError(f"--phase: no marker {a:#x} in {path} (markers: "
                                f"{', '.join(present) or 'none'})")
            start = max(start, i)
        if b is not None:
            i = where(b, start)
            if i is None:
                what = "handoff" if b == HANDOFF else f"marker {b:#x}"
                raise UserError(f"--phase: no {what} after the start in {path} (markers: "
                                f"{', '.join(present) or 'none'})")
            end = min(end, i + 1)
        notes.append(f"--phase {phase} (trace lines {lines[start].no if start < len(lines) else '-'}"
                     f"..{lines[end - 1].no if end else '-'})")
    if skip_ops:
        notes.append(f"--skip {skip_ops}")

    barst: dict[int, Bar] = {}
    for n, addr in (bars or {}).items():
        barst[n] = Bar(lo=addr & 0xffffffff, hi=addr >> 32, flags=4 if addr >> 32 else None)
    layout_bar = {r.bar: r for r in regions}
    programmed_any = bool(bars)
    changed_bar_writes = 0

    def bar_write(l: Line) -> int:
        """Track a BAR write; return the value to emit."""
        nonlocal programmed_any, changed_bar_writes
        n = (l.addr - 0x10) // 4
        prev = barst.get(n - 1)
        upper = n - 1 in layout_bar and n not in layout_bar and (prev is None or prev.flags is None
                                                                 or prev.is64())
        if upper:
            if l.val != 0xffffffff:
                barst.setdefault(n - 1, Bar()).hi = l.val
            reg = layout_bar[n - 1]
            if l.val in (0, 0xffffffff):
                return l.val
            out = reg.base >> 32
        else:
            b = barst.setdefault(n, Bar())
            if l.val == 0xffffffff:
                return l.val
            b.lo = l.val
            reg = layout_bar.get(n)
            if reg is None or b.address(reg.pio) is None:
                return l.val
            programmed_any = True
            out = (reg.base & 0xffffffff & ~(0x3 if reg.pio else 0xf)) | \
                (l.val & (0x3 if reg.pio else 0xf))
        if out != l.val:
            changed_bar_writes += 1
        return out

    def find_region(l: Line):
        for r in regions:
            b = barst.get(r.bar)
            base = b.address(r.pio) if b else None
            if base is None or (l.addr < 0x10000) != r.pio:
                continue
            if base <= l.addr < base + r.size:
                return r, l.addr - base
        return None, None

    counts = {k: 0 for k in ("mmio_read", "mmio_write", "pio_read", "pio_write",
                             "pci_cfg_read", "pci_cfg_write", "clock_advance")}
    dropped = {"outside": 0, "ext_cfg": 0, "other_dev": 0, "limit": 0, "before": 0, "skip": 0,
               "after": 0, "events": 0}
    relocated = 0
    relocate = Relocator(layout)
    body: list[str] = []
    reads: list[tuple[int, int]] = []
    nops = 0
    skipped = 0
    last_ns = None
    unattributed = 0
    devname = ldev["name"]
    gap_ns = clock_gap_us * 1000 if clock_gap_us else None

    def emit(l: Line, op: str, comment: str = ""):
        nonlocal nops, last_ns
        if gap_ns and l.ns is not None and last_ns is not None and l.ns - last_ns >= gap_ns:
            body.append(f"clock_advance {min(l.ns - last_ns, clock_max_us * 1000, 0xffffffff)}")
            counts["clock_advance"] += 1
        if l.ns is not None:
            last_ns = l.ns
        body.append(f"{op:<38} # {comment}".rstrip() if comment else op)
        nops += 1

    def skipping() -> bool:
        nonlocal skipped
        if skipped < skip_ops:
            skipped += 1
            dropped["skip"] += 1
            return True
        return False

    for i, l in enumerate(lines):
        inwin = start <= i < end
        full = limit is not None and nops >= limit
        quiet = full or skipped < skip_ops  # no comments while skipping or past the limit
        if l.kind == "cfg":
            if (l.name, l.bdf) != tdev:
                if inwin:
                    dropped["other_dev"] += 1
                continue
            val = l.val
            if l.write and 0x10 <= l.addr <= 0x24 and l.addr % 4 == 0:
                val = bar_write(l)
            elif not l.write and 0x10 <= l.addr <= 0x24 and l.addr % 4 == 0:
                b = barst.setdefault((l.addr - 0x10) // 4, Bar())
                b.flags = l.val & (0x3 if l.val & 1 else 0xf)
            if not inwin:
                dropped["before" if i < start else "after"] += 1
                continue
            if l.addr > 0xff:
                dropped["ext_cfg"] += 1
                continue
            if full:
                dropped["limit"] += 1
                continue
            if skipping():
                continue
            size = cfg_size(l.addr, l.val, caps)
            if l.write:
                note = "" if val == l.val else f"guest {l.val:#x}: BAR at the layout's address"
                emit(l, f"pci_cfg_write {devname} {l.addr:#x} {size} {val:#x}", note)
                counts["pci_cfg_write"] += 1
            else:
                emit(l, f"pci_cfg_read {devname} {l.addr:#x} {size}", f"-> {l.val:#x}")
                counts["pci_cfg_read"] += 1
        elif l.kind == "mem":
            r, off = find_region(l)
            if r is None:
                if inwin:
                    unattributed += 1
                    dropped["outside"] += 1
                continue
            if not inwin:
                dropped["before" if i < start else "after"] += 1
                continue
            if full:
                dropped["limit"] += 1
                continue
            if skipping():
                continue
            kind = "pio" if r.pio else "mmio"
            if l.write:
                val, note = l.val, ""
                dk = dma_kind(layout, r, off, l.size) if relocate_dma else None
                if dk:
                    val = relocate(dk, l.val)
                    if val != l.val:
                        relocated += 1
                        note = f"guest {l.val:#x}: DMA address moved into the window"
                emit(l, f"{kind}_write {r.name} {off:#x} {l.size} {val:#x}", note)
                counts[f"{kind}_write"] += 1
            else:
                reads.append((nops, l.val))
                emit(l, f"{kind}_read {r.name} {off:#x} {l.size}", f"-> {l.val:#x}")
                counts[f"{kind}_read"] += 1
        elif l.kind == "marker":
            if inwin and not quiet:
                body.append(f"# --- phase marker {l.val:#x} ({MARKERS.get(l.val, 'guest')}), "
                            f"trace line {l.no}")
        elif l.kind == "fwcfg":
            if inwin and not quiet and l.name == "cmdline_data":
                body.append(f"# --- SeaBIOS -> Linux handoff (fw_cfg '{l.name}'), "
                            f"trace line {l.no}")
        elif l.kind == "event":
            if not inwin or quiet or ECHO_EVENTS.search(l.name):
                continue
            if events:
                body.append(f"# ev {l.name} {l.text}".rstrip())
            else:
                dropped["events"] += 1

    if not programmed_any and dropped["outside"]:
        raise UserError(f"no BAR of {tdev[0]} is ever programmed in {path} (no pci_cfg_write of "
                        f"an address to 0x10..0x24), so its {dropped['outside']} MMIO/PIO "
                        f"accesses cannot be placed: give the guest's address with --bar N=ADDR")
    if nops == 0:
        raise UserError(f"no accesses of {tdev[0]} found in {path} within the selected part "
                        f"(check --phase / --skip-firmware)")
    never = [f"BAR{r.bar} ({r.name})" for r in regions
             if not (barst.get(r.bar) and barst[r.bar].address(r.pio))]

    # header
    shown, rel = str(path), path.resolve()
    for base, prefix in ((repo_root(), ""), (repo_root().parent, "../")):
        if rel.is_relative_to(base):
            shown = prefix + str(rel.relative_to(base))
            break
    h = [f"# Imported by `hvfuzz import-trace` from {shown}",
         f"# (QEMU \"log\" trace of a real driver) for target {target}: trace device "
         f"'{tdev[0]}' 00:{tdev[1] >> 3:02x}.{tdev[1] & 7} -> layout device '{devname}'.",
         f"# Options: {' '.join(n for n in notes) or 'whole trace'}"
         f"{f', --limit {limit}' if limit is not None else ''}"
         f"{', --no-events' if not events else ''}"
         f"{', --no-relocate' if not relocate_dma else ''}"
         f"{f', --clock-gap {clock_gap_us}' if clock_gap_us != 1000 else ''}.",
         "# BARs (guest address in the trace -> layout region):"]
    for r in regions:
        b = barst.get(r.bar)
        a = b.address(r.pio) if b else None
        h.append(f"#   BAR{r.bar} {'port' if r.pio else 'mem'} "
                 f"{f'{a:#x}' if a else 'never programmed'} -> {r.name} {r.base:#x} "
                 f"(+{r.size:#x})")
    h += ["# QEMU 7.2's trace records no DMA contents (queue entries, descriptors, data,",
          "# packets): those ops are still emitted as the register accesses that started",
          "# them, and the device then reads whatever the DMA window holds (zeroes).",
          "# Config access sizes are inferred (the trace gives none): value and field width.",
          f"# Kept {nops} ops: " + ", ".join(f"{k} {v}" for k, v in counts.items()
                                              if v and k != "clock_advance")
          + (f"; plus {counts['clock_advance']} clock_advance (gaps of at least "
             f"{clock_gap_us} us between accesses, each at most {clock_max_us} us)."
             if gap_ns else "."),
          f"# BAR address writes moved to the layout's addresses: {changed_bar_writes}; "
          f"DMA addresses moved into the window: {relocated} (each guest page its own "
          f"{DMA_SLOT // 1024} KiB of the window, in order of first use).",
          "# Reads keep the value the trace recorded as '-> VALUE'."]
    drop = []
    if dropped["before"] or dropped["after"]:
        drop.append(f"{dropped['before'] + dropped['after']} device accesses outside the "
                    "selected part")
    if dropped["skip"]:
        drop.append(f"the first {dropped['skip']} (--skip)")
    if dropped["limit"]:
        drop.append(f"{dropped['limit']} past --limit")
    if dropped["ext_cfg"]:
        drop.append(f"{dropped['ext_cfg']} config accesses above 0xff (extended space: the "
                    "op's offset is one byte)")
    if dropped["outside"]:
        drop.append(f"{dropped['outside']} MMIO/PIO accesses outside the device's BARs")
    if dropped["other_dev"]:
        drop.append(f"{dropped['other_dev']} config accesses of other devices")
    if dropped["events"]:
        drop.append(f"{dropped['events']} device trace events")
    h.append("# Dropped: " + ("; ".join(drop) if drop else "nothing") + ".")
    if never:
        h.append(f"# Never programmed in the trace: {', '.join(never)}.")
    if events:
        h.append("# '# ev' lines: the device's own trace events, for reading only.")
    text = "\n".join(h) + f"\n.target {target}\n\n" + "\n".join(body) + "\n"
    return Result(text, nops, {**counts, "relocated": relocated, "bar_writes": changed_bar_writes,
                               **{f"dropped_{k}": v for k, v in dropped.items()}}, reads)


# ---- checking an imported program against the trace ------------------------

TRACE_READ = re.compile(r"^(mmio|pio)_read (0x[0-9a-f]+) (\d+) -> (0x[0-9a-f]+)")
HVF_READ = re.compile(r"^(mmio|pio)_read .*# -> (0x[0-9a-f]+)")


@dataclass
class Verified:
    same: int          # reads that returned the traced value
    total: int         # reads in the program
    status: str        # "ran clean" or what went wrong
    mismatches: list   # (read index, read line of the program, traced, replayed)


def verify(target: str, hvf: Path, preset: str | None = None) -> Verified:
    """Assemble `hvf` and replay it with fuzz-TARGET --trace (build/PRESET;
    default $HVFUZZ_REPLAY_PRESET, else dev, else replay): compare every
    MMIO/PIO read's value with the one the trace recorded."""
    presets = [preset] if preset else [p for p in (os.environ.get("HVFUZZ_REPLAY_PRESET"), "dev",
                                                   "replay") if p]
    for preset in presets:
        asm, fuzz = bin_path(preset, "hvfuzz-asm"), bin_path(preset, f"fuzz-{target}")
        if asm.is_file() and fuzz.is_file():
            break
    else:
        raise UserError(f"hvfuzz-asm / fuzz-{target} are not built in build/{presets[0]} "
                        f"(build the {presets[0]} preset)")
    rlines = [l for l in Path(hvf).read_text().splitlines() if HVF_READ.match(l)]
    expect = [int(HVF_READ.match(l).group(2), 16) for l in rlines]
    with tempfile.TemporaryDirectory(prefix="hvfuzz-import-") as tmp:
        out = Path(tmp) / "prog.bin"
        p = subprocess.run([str(asm), "-t", target, str(hvf), "-o", str(out)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise UserError(f"hvfuzz-asm failed on {hvf}: {p.stderr.strip()}")
        p = subprocess.run([str(fuzz), "--trace", str(out)], capture_output=True, text=True,
                           errors="replace", timeout=600)
    got = [int(m.group(4), 16) for m in map(TRACE_READ.match, p.stdout.splitlines()) if m]
    same = sum(1 for a, b in zip(expect, got) if a == b)
    mism = [(i, rlines[i].split("#")[0].strip(), a, b)
            for i, (a, b) in enumerate(zip(expect, got)) if a != b]
    status = "ran clean" if p.returncode == 0 else f"exit {p.returncode}: " + \
        (p.stderr.strip().splitlines() or ["?"])[-1]
    if len(got) != len(expect):
        status += f" ({len(got)} reads replayed, {len(expect)} in the program)"
    return Verified(same, len(expect), status, mism)


# ---- command line ----------------------------------------------------------


def _bar(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d)=(0x[0-9a-fA-F]+|\d+)", text)
    if not m or int(m.group(1)) > 5:
        raise argparse.ArgumentTypeError(f"expected N=ADDR (BAR 0..5), not '{text}'")
    return int(m.group(1)), int(m.group(2), 0)


def _count(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0: '{text}'")
    return v


def _positive(text: str) -> int:
    v = _count(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: '{text}'")
    return v


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "import-trace", help="turn a QEMU trace of a real driver into a program",
        description="Read a QEMU 'log' trace of a real driver (memory_region_ops_read/write, "
        "pci_cfg_read/write, fw_cfg_select and the device's own events, as in "
        "../shared/traces/*/*.trace) and print it as a text program (.hvf) for an hvfuzz "
        "target: config accesses as pci_cfg_* ops, MMIO/PIO accesses on the layout's "
        "regions (the guest's BAR addresses learned from the config writes), in trace "
        "order, reads kept as reads with the traced value in a comment. QEMU 7.2 traces "
        "no DMA contents: the device reads zeroes where the driver had written queue "
        "entries or descriptors. Assemble the result with hvfuzz-asm -t TARGET.",
        epilog="Phase markers: the traced guest wrote one byte to port 0x5f0 at each phase "
        "(a0 init, a1 modules loaded, a2 test, a3/a4 progress, af poweroff). Example: "
        "hvfuzz import-trace ../shared/traces/nvme/nvme.trace --phase a0..a1 -o init.hvf")
    p.add_argument("trace", type=Path, metavar="TRACE", help="the trace file")
    p.add_argument("--target", "-t", help="hvfuzz target (default: from the trace's folder or "
                   "file name, else from the traced device's name)")
    p.add_argument("--phase", metavar="A..B", help="only what lies between the guest's phase "
                   "markers A and B (bytes written to port 0x5f0, hex: a0..a1; either side "
                   "may be left out: a2..; 'handoff' is the SeaBIOS -> Linux handoff: "
                   "..handoff is the firmware's part)")
    p.add_argument("--skip-firmware", action="store_true", help="drop what SeaBIOS did before "
                   "the kernel (up to the fw_cfg_select of the kernel/initrd/cmdline keys)")
    p.add_argument("--skip", type=_count, default=0, metavar="N", help="leave out the first "
                   "N register/config ops of the selected part")
    p.add_argument("--limit", type=_positive, metavar="N", help="at most N register/config ops")
    p.add_argument("--device", metavar="NAME", help="the traced device's name in pci_cfg_* "
                   "lines (default: the one named after the target's model, else the one at "
                   "the layout's PCI address)")
    p.add_argument("--bar", type=_bar, action="append", default=[], metavar="N=ADDR",
                   help="the guest's address of BAR N, for a trace that does not program it "
                   "(repeatable)")
    p.add_argument("--no-events", action="store_true", help="leave out the '# ev' comments "
                   "(the device's own trace events)")
    p.add_argument("--clock-gap", type=_count, default=1000, metavar="US",
                   help="a gap of at least US microseconds between two accesses becomes a "
                   "clock_advance of that length (default 1000; 0: none), at most "
                   "--clock-max")
    p.add_argument("--clock-max", type=_count, default=1000000, metavar="US",
                   help="longest clock_advance emitted, in microseconds (default 1000000: "
                   "the guest's boot pauses are not worth replaying)")
    p.add_argument("--no-relocate", action="store_true", help="keep the guest-physical "
                   "addresses written to the device's DMA address registers as they are "
                   "(default: moved into the DMA window)")
    p.add_argument("--verify", action="store_true", help="then assemble the program, replay "
                   "it with fuzz-TARGET --trace (build/dev, or $HVFUZZ_REPLAY_PRESET) and "
                   "report how many MMIO/PIO reads return the traced value (needs -o)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="write the program to FILE (default stdout)")
    return p


def run(args) -> int:
    res = import_trace(args.trace, target=args.target, phase=args.phase, limit=args.limit,
                       skip_firmware=args.skip_firmware, device=args.device,
                       bars=dict(args.bar), events=not args.no_events,
                       clock_gap_us=args.clock_gap, relocate_dma=not args.no_relocate,
                       skip_ops=args.skip, clock_max_us=args.clock_max)
    if args.output:
        args.output.write_text(res.text)
        print(f"hvfuzz: {res.ops} ops written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(res.text)
    if args.verify:
        if not args.output:
            raise UserError("--verify needs -o FILE")
        target = re.search(r"^\.target (\S+)", res.text, flags=re.M).group(1)
        v = verify(target, args.output)
        print(f"hvfuzz: replay {v.status}; {v.same} of {v.total} MMIO/PIO reads return the "
              "traced value", file=sys.stderr)
        for i, line, traced, got in v.mismatches[:10]:
            print(f"hvfuzz:   read {i + 1}: {line}: traced {traced:#x}, replayed {got:#x}",
                  file=sys.stderr)
        if len(v.mismatches) > 10:
            print(f"hvfuzz:   ... {len(v.mismatches) - 10} more", file=sys.stderr)
        return 0 if v.status == "ran clean" else 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (python3 -m hvfuzzlib.import_trace), errors as `hvfuzz import-trace`
    prints them."""
    class Parser(argparse.ArgumentParser):
        def error(self, message: str):
            raise UserError(f"{message} (see '{self.prog} --help')")

    parser = Parser(prog="hvfuzz")
    add_parser(parser.add_subparsers(dest="command", parser_class=Parser))
    try:
        return run(parser.parse_args(["import-trace", *(sys.argv[1:] if argv is None else argv)]))
    except UserError as e:
        sys.stdout.flush()
        print(f"hvfuzz: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"hvfuzz: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
