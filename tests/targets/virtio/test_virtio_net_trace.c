/*
 * Replay QEMU 7.2's real-driver trace of virtio-net-pci (SeaBIOS + Linux
 * 6.1 virtio_net, see data/README.txt) against the model: every PCI config,
 * MMIO and MSI-X access in order, comparing each value read with what QEMU
 * answered.
 *
 * As for virtio-blk (test_virtio_trace.c): config-access sizes are not in
 * the trace (a read matches if one of the aligned 1/2/4-byte reads at that
 * offset returns the value; writes use the width drivers use), and the
 * ring addresses written to queue_desc/avail/used are moved into the DMA
 * window (low 16 bits kept), where the rings are all zeroes: the trace has
 * no ring contents, so the notify writes find no buffers. The device's own
 * events (virtqueue_pop, virtio_notify, ...) are QEMU-internal and not
 * compared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv_test.h"
#include "hv_trace.h"
#include "targets/virtio/virtio_net.h"
#include "targets/virtio/virtio_regs.h"

#ifndef VT_TRACE_FILE
#error "VT_TRACE_FILE must name the trace"
#endif

#define NET_BDF 0x08
#define NET_BAR4 0xfebfc000ull /* where SeaBIOS put it in the trace */
#define DEV "virtio-net-pci 00:01.0 "

static const char *trace_file;

struct replay {
    hv_machine *m;
    unsigned line, reads, writes, mismatches, cfg_reads, mmio_reads;
};

static void mismatch(struct replay *r, const char *what, unsigned long long want,
                     unsigned long long got)
{
    r->mismatches++;
    fprintf(stderr, "%s:%u: %s: QEMU 0x%llx, model 0x%llx\n", trace_file,
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
    r->cfg_reads++;
    if (!hv_trace_cfg_read_matches(r->m, NET_BDF, off, want, &got))
        mismatch(r, "pci_cfg_read", want, got);
}

static bool is_ring_address(uint64_t addr)
{
    unsigned reg = (unsigned)(addr - NET_BAR4);

    return addr >= NET_BAR4 && reg < VIRTIO_PCI_REGION_SIZE &&
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
        r->mmio_reads++;
        if (got != val)
            mismatch(r, name, val, got);
        return;
    }
    r->writes++;
    if (is_ring_address(addr))
        val = HV_DMA_WINDOW_BASE + (val & 0xffff);
    hv_bus_mmio_write(r->m, addr, size, val);
}

static void replay_line(struct replay *r, const char *s)
{
    const char *p;
    unsigned off, v, size;
    unsigned long long addr, val;
    char name[64];

    if ((p = strstr(s, "pci_cfg_read " DEV)) &&
        sscanf(p, "pci_cfg_read " DEV "@0x%x -> 0x%x", &off, &v) == 2) {
        cfg_read(r, off, v);
    } else if ((p = strstr(s, "pci_cfg_write " DEV)) &&
               sscanf(p, "pci_cfg_write " DEV "@0x%x <- 0x%x", &off, &v) == 2) {
        r->writes++;
        hv_bus_cfg_write(r->m, NET_BDF, off, cfg_write_size(off), v);
    } else if ((p = strstr(s, "memory_region_ops_"))) {
        bool write = strncmp(p, "memory_region_ops_write", 23) == 0;
        const char *a = strstr(p, " addr ");
        if (a && sscanf(a, " addr 0x%llx value 0x%llx size %u name '%63[^']'",
                        &addr, &val, &size, name) == 4)
            mmio(r, write, addr, val, size, name);
    }
}

int main(int argc, char **argv)
{
    struct replay r = {0};
    char line[1024];
    FILE *f;

    trace_file = argc > 1 ? argv[1] : VT_TRACE_FILE; /* or another trace */
    f = fopen(trace_file, "r");
    hv_dev *d;

    if (!f) {
        perror(trace_file);
        return 1;
    }
    r.m = hv_machine_create(NULL);
    d = virtio_net_create(r.m);
    if (!d || hv_machine_add(r.m, d, NET_BDF) < 0)
        return 2;
    hv_machine_reset(r.m); /* power-on: BARs unprogrammed, as for SeaBIOS */
    while (fgets(line, sizeof(line), f)) {
        r.line++;
        replay_line(&r, line);
    }
    fclose(f);
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
