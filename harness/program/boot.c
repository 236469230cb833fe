/*
 * "Booting" a layout's devices, as firmware plus an OS would: every BAR of
 * the layout programmed to the layout's address, then I/O + memory decoding
 * and bus mastering on. Only through hv_exec_ops cfg_read/cfg_write (PCI
 * Local Bus 3.0 ch. 6, type 0 header), so the in-process host and the guest
 * agent run the very same code. Freestanding C.
 */
#include "harness/program/hv_program.h"

#define PCI_COMMAND 0x04
#define PCI_BAR0 0x10
#define PCI_NUM_BARS 6
#define PCI_CMD_IO 0x1u
#define PCI_CMD_MEM 0x2u
#define PCI_CMD_MASTER 0x4u
#define PCI_BAR_IO 0x1u        /* bit 0: I/O space BAR */
#define PCI_BAR_MEM_TYPE 0x6u  /* bits 2:1 of a memory BAR */
#define PCI_BAR_MEM_64 0x4u

static void program_regions(const struct hv_layout *l,
                            const struct hv_layout_region *rs, unsigned n,
                            const struct hv_exec_ops *ops, void *ctx)
{
    for (unsigned i = 0; i < n; i++) {
        const struct hv_layout_region *r = &rs[i];
        uint8_t bdf, off;
        uint32_t lo;

        if (r->dev >= l->ndevs || r->bar >= PCI_NUM_BARS)
            continue;
        bdf = l->devs[r->dev].bdf;
        if (bdf == HV_NO_BDF)
            continue;
        off = (uint8_t)(PCI_BAR0 + 4u * r->bar);
        lo = ops->cfg_read(ctx, bdf, off, 4);
        ops->cfg_write(ctx, bdf, off, 4, (uint32_t)r->base);
        if (!(lo & PCI_BAR_IO) && (lo & PCI_BAR_MEM_TYPE) == PCI_BAR_MEM_64 &&
            r->bar + 1 < PCI_NUM_BARS)
            ops->cfg_write(ctx, bdf, (uint8_t)(off + 4), 4,
                           (uint32_t)(r->base >> 32));
    }
}

void hv_program_boot(const struct hv_layout *l, const struct hv_exec_ops *ops,
                     void *ctx)
{
    if (!ops->cfg_read || !ops->cfg_write)
        return;
    program_regions(l, l->mmio, l->nmmio, ops, ctx);
    program_regions(l, l->pio, l->npio, ops, ctx);
    for (unsigned i = 0; i < l->ndevs; i++) {
        if (l->devs[i].bdf == HV_NO_BDF)
            continue;
        ops->cfg_write(ctx, l->devs[i].bdf, PCI_COMMAND, 2,
                       PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_MASTER);
    }
}
