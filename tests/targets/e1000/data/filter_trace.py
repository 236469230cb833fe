#!/usr/bin/env python3
"""Compact QEMU 7.2's e1000 trace (shared/traces/e1000/e1000.trace) into
the records test_e1000_trace replays. Usage: filter_trace.py IN > OUT

Each output line keeps the input line number (so failures point into the
original trace) and one of:
  N CR off value          pci_cfg_read  e1000 00:01.0
  N CW off value          pci_cfg_write e1000 00:01.0
  N R|W addr value size M memory_region_ops_read/write, region e1000-mmio
  N R|W addr value size I                                region e1000-io
  N NEGDONE               e1000x_link_negotiation_done (QEMU's 500 ms timer)
  N RX proto mac          e1000x_rx_flt_ucast_match after
                          e1000x_vlan_is_vlan_pkt (a frame was accepted)
Timestamps, thread ids, MemoryRegion pointers, phase markers (region 'io')
and fw_cfg lines are dropped.
"""
import re
import sys

CFG = re.compile(r"pci_cfg_(read|write) e1000 00:01\.0 @(0x[0-9a-f]+) (?:->|<-) (0x[0-9a-f]+)")
MEM = re.compile(r"memory_region_ops_(read|write) .* addr (0x[0-9a-f]+) value (0x[0-9a-f]+) "
                 r"size (\d) name 'e1000-(mmio|io)'")
PROTO = re.compile(r"e1000x_vlan_is_vlan_pkt .*ETH proto: (0x[0-9A-Fa-f]+)")
UCAST = re.compile(r"e1000x_rx_flt_ucast_match unicast match\[\d+\]: ([0-9a-f:]+)")


def main():
    proto = "0x0"
    with open(sys.argv[1]) as f:
        for n, line in enumerate(f, 1):
            m = CFG.search(line)
            if m:
                kind = "CR" if m.group(1) == "read" else "CW"
                print(n, kind, m.group(2), m.group(3))
                continue
            m = MEM.search(line)
            if m:
                rw = "R" if m.group(1) == "read" else "W"
                region = "M" if m.group(5) == "mmio" else "I"
                print(n, rw, m.group(2), m.group(3), m.group(4), region)
                continue
            if "e1000x_link_negotiation_done" in line:
                print(n, "NEGDONE")
                continue
            m = PROTO.search(line)
            if m:
                proto = m.group(1).lower()
                continue
            m = UCAST.search(line)
            if m:
                print(n, "RX", proto, m.group(1))


if __name__ == "__main__":
    main()
