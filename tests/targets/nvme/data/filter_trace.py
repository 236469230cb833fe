#!/usr/bin/env python3
"""Shrink QEMU's NVMe trace (shared/traces/nvme/nvme.trace) to what
test_nvme_trace.c replays, one event per line, in the original order:

  cfgr OFF VAL | cfgw OFF VAL          PCI config read (value QEMU returned) / write
  mr ADDR VAL SIZE REGION              MMIO read on 'nvme', 'msix-table', 'msix-pba'
  mw ADDR VAL SIZE REGION              MMIO write
  <event> ...                          pci_nvme_<event> text, prefix dropped, for
                                       the events that describe commands,
                                       completions, interrupts and shadow doorbells

Timestamps, the pci_nvme_mmio_* echoes of the accesses above and the guest's
phase markers on port 0x5f0 are dropped.
Usage: filter_trace.py nvme.trace > nvme-replay.txt
"""
import re
import sys

KEEP = (
    "admin_cmd", "io_cmd", "identify", "identify_ns", "identify_nslist",
    "identify_ns_descr_list", "identify_ns_csi", "identify_ctrl_csi",
    "create_sq", "create_cq", "del_sq", "del_cq", "get_log", "setfeat",
    "setfeat_timestamp", "map_prp", "read", "write", "dbbuf_config",
    "enqueue_req_completion", "irq_pin", "irq_msix", "irq_masked",
    "eventidx_sq", "shadow_doorbell_sq", "shadow_doorbell_cq", "aer",
)
MR = re.compile(r"memory_region_ops_(read|write) cpu \d+ mr 0x[0-9a-f]+ addr (0x[0-9a-f]+) "
                r"value (0x[0-9a-f]+) size (\d+) name '([^']+)'")
CFG = re.compile(r"pci_cfg_(read|write) nvme \S+ @(0x[0-9a-f]+) (?:->|<-) (0x[0-9a-f]+)")
EV = re.compile(r"pci_nvme_(\w+) ?(.*)")

for raw in open(sys.argv[1]):
    line = raw.split(":", 1)[1].strip() if "@" in raw.split(":", 1)[0] else raw.strip()
    m = MR.match(line)
    if m:
        if m.group(5) in ("nvme", "msix-table", "msix-pba"):
            kind = "mr" if m.group(1) == "read" else "mw"
            print(kind, *m.group(2, 3, 4, 5))
        continue
    m = CFG.match(line)
    if m:
        print("cfgr" if m.group(1) == "read" else "cfgw", m.group(2), m.group(3))
        continue
    m = EV.match(line)
    if m and m.group(1) in KEEP:
        text = re.sub(r" opname '[^']*'", "", m.group(2))
        print(m.group(1), text)
