/*
 * Replay QEMU 7.2's real-driver trace of virtio-net-pci (SeaBIOS + Linux
 * 6.1 virtio_net, see data/README.txt) against the model: every PCI config,
 * MMIO and MSI-X access in order, comparing each value read with what QEMU
 * answered.
 * (vtrace.h says how sizes and ring addresses are handled).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv_test.h"
#include "vtrace.h"
#include "targets/virtio/virtio_net.h"
#include "targets/virtio/virtio_regs.h"

#ifndef VT_TRACE_FILE
#error "VT_TRACE_FILE must name the trace"
#endif

#define NET_BDF 0x08
#define NET_BAR4 0xfebfc000ull /* where SeaBIOS put it in the trace */

int main(int argc, char **argv)
{
    struct vtrace r = {.file = argc > 1 ? argv[1] : VT_TRACE_FILE, /* or another */
                       .dev = "virtio-net-pci 00:01.0", .bdf = NET_BDF,
                       .bar4 = NET_BAR4, .dma = HV_DMA_WINDOW_BASE};
    hv_dev *d;

    r.m = hv_machine_create(NULL);
    d = virtio_net_create(r.m);
    if (!d || hv_machine_add(r.m, d, NET_BDF) < 0)
        return 2;
    hv_machine_reset(r.m); /* power-on: BARs unprogrammed, as for SeaBIOS */
    if (vtrace_run(&r) < 0)
        return 1;
    printf("replayed %u lines: %u reads compared (%u config, %u MMIO), "
           "%u writes, %u mismatches\n",
           r.line, r.reads, r.cfg_reads, r.mmio_reads, r.writes, r.mismatches);
    CHECK(r.cfg_reads >= 240); /* the whole trace was understood */
    CHECK(r.mmio_reads >= 40);
    CHECK(r.writes >= 150);
    CHECK_EQ(r.mismatches, 0);
    /* where Linux left it: reset by the shutdown path */
    CHECK_EQ(hv_bus_mmio_read(r.m, NET_BAR4 + VIRTIO_PCI_COMMON_STATUS, 1), 0);
    hv_machine_destroy(r.m);
    return hv_test_done("test_virtio_net_trace");
}
