/*
 * What every structure-aware op's driver side needs (virtq.c, nvmeq.c,
 * e1000q.c): finding the device's region by model name, and
 * pci_enable_device + pci_set_master through config space.
 * Freestanding C: no libc.
 */
#include "harness/program/hv_program_internal.h"

#define PCI_COMMAND 0x04u
#define PCI_COMMAND_IO 0x1u
#define PCI_COMMAND_MEMORY 0x2u
#define PCI_COMMAND_MASTER 0x4u

const struct hv_layout_region *hv_prog_model_region(const struct hv_layout *l,
                                                    const char *model)
{
    for (unsigned i = 0; i < l->nmmio; i++) {
        const struct hv_layout_region *r = &l->mmio[i];
        if (r->bar == 0 && r->dev < l->ndevs &&
            hv_prog_str_eq(l->devs[r->dev].model, model))
            return r;
    }
    return NULL;
}

void hv_prog_pci_enable(const struct hv_layout *l, uint8_t dev,
                        const struct hv_exec_ops *ops, void *ctx)
{
    if (dev >= l->ndevs || l->devs[dev].bdf == HV_NO_BDF || !ops->cfg_read ||
        !ops->cfg_write)
        return;
    uint8_t bdf = l->devs[dev].bdf;
    uint32_t cmd = ops->cfg_read(ctx, bdf, PCI_COMMAND, 2) & 0xffffu;
    uint32_t want = cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    for (unsigned i = 0; i < l->npio; i++)
        if (l->pio[i].dev == dev)
            want |= PCI_COMMAND_IO;
    if (want != cmd)
        ops->cfg_write(ctx, bdf, PCI_COMMAND, 2, want);
}
