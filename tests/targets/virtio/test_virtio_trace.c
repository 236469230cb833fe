/*
 * Replay QEMU 7.2's real-driver trace (SeaBIOS + Linux virtio_blk, see
 * data/README.txt) against the virtio-blk model (vtrace.h): every PCI
 * config and MMIO access in order, each value read compared with QEMU's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"
#include "vtrace.h"

#ifndef VT_TRACE_FILE
#error "VT_TRACE_FILE must name the trace"
#endif

int main(void)
{
    struct vtrace r = {.file = VT_TRACE_FILE, .dev = "virtio-blk-pci 00:01.0",
                       .bdf = VT_BDF, .bar4 = VT_BAR4, .dma = VT_DMA};
    hv_dev *d;

    r.m = hv_machine_create(NULL);
    d = virtio_blk_create(r.m);
    if (!d || hv_machine_add(r.m, d, VT_BDF) < 0)
        return 2;
    hv_machine_reset(r.m); /* power-on: BARs unprogrammed, as for SeaBIOS */
    if (vtrace_run(&r) < 0)
        return 1;
    printf("replayed %u lines: %u reads compared, %u writes\n", r.line, r.reads,
           r.writes);
    CHECK(r.reads >= 300); /* the whole trace was understood */
    CHECK(r.writes >= 100);
    CHECK_EQ(r.mismatches, 0);
    /* where Linux left it: reset by the shutdown path */
    CHECK_EQ(vt_status(r.m), 0);
    hv_machine_destroy(r.m);
    return hv_test_done("test_virtio_trace");
}
