/*
 * Replay QEMU 7.2's real-driver trace (SeaBIOS + Linux virtio_blk, see
 * data/README.txt) against the model: every PCI config and MMIO access in
 * order, comparing each value read with what QEMU answered.
 *
 * Robustness: the trace does not give config-access sizes, so a config read
 * matches if one of the aligned 1/2/4-byte reads at that offset returns the
 * value, and config writes use the width drivers use for that register.
 * Ring addresses written to queue_desc/avail/used point outside the test's
 * DMA window; they are moved into it (low 16 bits kept), where the rings are
 * all zeroes, so kicks find no request (the trace has no ring contents).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"
#include "hv_trace.h"

#ifndef VT_TRACE_FILE
#error "VT_TRACE_FILE must name the trace"
#endif

struct replay {
    hv_machine *m;
    unsigned line, reads, writes, mismatches;
};

static void mismatch(struct replay *r, const char *what, unsigned long long want,
                     unsigned long long got)
{
    r->mismatches++;
    fprintf(stderr, "%s:%u: %s: QEMU 0x%llx, model 0x%llx\n", VT_TRACE_FILE,
            r->line, what, want, got);
}

static unsigned cfg_write_size(unsigned off)
{
    if (off == HV_PCI_COMMAND || off == VIRTIO_PCI_CAP_MSIX_OFF + 2)
        return 2;
    if (off >= HV_PCI_BAR0 && off % 4 == 0)
        return 4;
    return 1;
}

static void cfg_read(struct replay *r, unsigned off, uint32_t want)
{
    uint32_t got;

    r->reads++;
    if (!hv_trace_cfg_read_matches(r->m, VT_BDF, off, want, &got))
        mismatch(r, "pci_cfg_read", want, got);
}

static bool is_ring_address(uint64_t addr)
{
    unsigned reg = (unsigned)(addr - VT_BAR4);

    return addr >= VT_BAR4 && reg < VIRTIO_PCI_REGION_SIZE &&
           (reg == VIRTIO_PCI_COMMON_Q_DESCLO || reg == VIRTIO_PCI_COMMON_Q_AVAILLO ||
            reg == VIRTIO_PCI_COMMON_Q_USEDLO);
}

static void mmio(struct replay *r, bool write, uint64_t addr, uint64_t val,
                 unsigned size, const char *name)
{
    if (strcmp(name, "io") == 0) /* the guest's phase markers, not ours */
        return;
    if (!write) {
        uint64_t got = hv_bus_mmio_read(r->m, addr, size);
        r->reads++;
        if (got != val)
            mismatch(r, name, val, got);
        return;
    }
    r->writes++;
    if (is_ring_address(addr))
        val = VT_DMA + (val & 0xffff);
    hv_bus_mmio_write(r->m, addr, size, val);
}

static void replay_line(struct replay *r, const char *s)
{
    const char *p;
    unsigned off, v, size;
    unsigned long long addr, val;
    char name[64];

    if ((p = strstr(s, "pci_cfg_read virtio-blk-pci 00:01.0 ")) &&
        sscanf(p, "pci_cfg_read virtio-blk-pci 00:01.0 @0x%x -> 0x%x", &off,
               &v) == 2) {
        cfg_read(r, off, v);
    } else if ((p = strstr(s, "pci_cfg_write virtio-blk-pci 00:01.0 ")) &&
               sscanf(p, "pci_cfg_write virtio-blk-pci 00:01.0 @0x%x <- 0x%x",
                      &off, &v) == 2) {
        r->writes++;
        hv_bus_cfg_write(r->m, VT_BDF, off, cfg_write_size(off), v);
    } else if ((p = strstr(s, "memory_region_ops_"))) {
        bool write = strncmp(p, "memory_region_ops_write", 23) == 0;
        const char *a = strstr(p, " addr ");
        if (a && sscanf(a, " addr 0x%llx value 0x%llx size %u name '%63[^']'",
                        &addr, &val, &size, name) == 4)
            mmio(r, write, addr, val, size, name);
    }
}

int main(void)
{
    struct replay r = {0};
    char line[1024];
    FILE *f = fopen(VT_TRACE_FILE, "r");
    hv_dev *d;

    if (!f) {
        perror(VT_TRACE_FILE);
        return 1;
    }
    r.m = hv_machine_create(NULL);
    d = virtio_blk_create(r.m);
    if (!d || hv_machine_add(r.m, d, VT_BDF) < 0)
        return 2;
    hv_machine_reset(r.m); /* power-on: BARs unprogrammed, as for SeaBIOS */
    while (fgets(line, sizeof(line), f)) {
        r.line++;
        replay_line(&r, line);
    }
    fclose(f);
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
