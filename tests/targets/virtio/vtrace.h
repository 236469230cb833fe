/*
 * Replay of a QEMU 7.2 real-driver trace of a virtio-pci device (SeaBIOS +
 * Linux, see data/README.txt) against a model: every PCI config and MMIO
 * access in order, each value read compared with what QEMU answered.
 *
 * The trace does not give config-access sizes, so a config read matches if
 * one of the aligned 1/2/4-byte reads at that offset returns the value, and
 * config writes use the width drivers use for that register. Ring addresses
 * written to queue_desc/avail/used point outside the test's DMA window; they
 * are moved into it (low 16 bits kept), where the rings are all zeroes, so
 * kicks find no buffers (the trace has no ring contents). The device's own
 * events (virtqueue_pop, virtio_notify, ...) are QEMU-internal and not
 * compared; writes of one byte to the "io" region are the guest's phase
 * markers.
 */
#ifndef HV_VTRACE_H
#define HV_VTRACE_H
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hv_trace.h"
#include "targets/common/hv_device.h"
#include "targets/virtio/virtio_pci.h"
#include "targets/virtio/virtio_regs.h"

struct vtrace {
    hv_machine *m;
    const char *file;
    const char *dev; /* as the trace names it: "virtio-blk-pci 00:01.0" */
    uint8_t bdf;
    uint64_t bar4, dma; /* where SeaBIOS put BAR4; the test's DMA window */
    unsigned line, reads, writes, mismatches, cfg_reads, mmio_reads;
};

static inline void vtrace_mismatch(struct vtrace *r, const char *what,
                                   unsigned long long want,
                                   unsigned long long got)
{
    r->mismatches++;
    fprintf(stderr, "%s:%u: %s: QEMU 0x%llx, model 0x%llx\n", r->file, r->line,
            what, want, got);
}

static inline unsigned vtrace_cfg_write_size(unsigned off)
{
    if (off == HV_PCI_COMMAND || off == VIRTIO_PCI_CAP_MSIX_OFF + 2)
        return 2;
    if (off >= HV_PCI_BAR0 && off % 4 == 0)
        return 4;
    return 1;
}

static inline bool vtrace_is_ring_address(const struct vtrace *r, uint64_t addr)
{
    unsigned reg = (unsigned)(addr - r->bar4);

    return addr >= r->bar4 && reg < VIRTIO_PCI_REGION_SIZE &&
           (reg == VIRTIO_PCI_COMMON_Q_DESCLO || reg == VIRTIO_PCI_COMMON_Q_AVAILLO ||
            reg == VIRTIO_PCI_COMMON_Q_USEDLO);
}

static inline void vtrace_cfg(struct vtrace *r, bool write, unsigned off,
                              uint32_t val)
{
    uint32_t got;

    if (write) {
        r->writes++;
        hv_bus_cfg_write(r->m, r->bdf, off, vtrace_cfg_write_size(off), val);
        return;
    }
    r->reads++;
    r->cfg_reads++;
    if (!hv_trace_cfg_read_matches(r->m, r->bdf, off, val, &got))
        vtrace_mismatch(r, "pci_cfg_read", val, got);
}

static inline void vtrace_mmio(struct vtrace *r, bool write, uint64_t addr,
                               uint64_t val, unsigned size, const char *name)
{
    if (strcmp(name, "io") == 0) /* the guest's phase markers, not ours */
        return;
    if (!write) {
        uint64_t got = hv_bus_mmio_read(r->m, addr, size);

        r->reads++;
        r->mmio_reads++;
        if (got != val)
            vtrace_mismatch(r, name, val, got);
        return;
    }
    r->writes++;
    if (vtrace_is_ring_address(r, addr))
        val = r->dma + (val & 0xffff);
    hv_bus_mmio_write(r->m, addr, size, val);
}

static inline void vtrace_line(struct vtrace *r, const char *s)
{
    char want[96], fmt[160], name[64];
    const char *p;
    unsigned off, v, size;
    unsigned long long addr, val;

    for (int write = 0; write < 2; write++) {
        snprintf(want, sizeof(want), "pci_cfg_%s %s ", write ? "write" : "read",
                 r->dev);
        snprintf(fmt, sizeof(fmt), "%s@0x%%x %s 0x%%x", want, write ? "<-" : "->");
        if ((p = strstr(s, want)) && sscanf(p, fmt, &off, &v) == 2) {
            vtrace_cfg(r, write, off, v);
            return;
        }
    }
    if ((p = strstr(s, "memory_region_ops_"))) {
        bool write = strncmp(p, "memory_region_ops_write", 23) == 0;
        const char *a = strstr(p, " addr ");

        if (a && sscanf(a, " addr 0x%llx value 0x%llx size %u name '%63[^']'",
                        &addr, &val, &size, name) == 4)
            vtrace_mmio(r, write, addr, val, size, name);
    }
}

/* Replays r->file on r->m; -1 when the file cannot be read. */
static inline int vtrace_run(struct vtrace *r)
{
    char line[1024];
    FILE *f = fopen(r->file, "r");

    if (!f) {
        perror(r->file);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        r->line++;
        vtrace_line(r, line);
    }
    fclose(f);
    return 0;
}
#endif
