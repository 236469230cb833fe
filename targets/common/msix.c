/*
 * MSI-X (PCI Local Bus 3.0, 6.8.2): capability, vector table and pending
 * bit array in one of the device's BARs. Delivery is a trace event: no host
 * takes interrupts (the agent polls).
 */
#include "targets/common/hv_device.h"

#include <stdlib.h>
#include <string.h>

#define MSIX_CAP_LEN 12u
#define MSIX_CTRL_OFF 2u
#define MSIX_TABLE_OFF 4u
#define MSIX_PBA_OFF 8u
#define ENTRY_ADDR_LO 0u
#define ENTRY_ADDR_HI 4u
#define ENTRY_DATA 8u
#define ENTRY_CTRL 12u

static size_t pba_bytes(uint16_t nvec)
{
    return ((size_t)nvec + 63) / 64 * 8;
}

static uint16_t msix_ctrl(const hv_dev *dev)
{
    return (uint16_t)hv_ld_le(dev->pci.cfg + dev->msix.cap + MSIX_CTRL_OFF, 2);
}

int hv_msix_init(hv_dev *dev, uint16_t nvec, uint8_t bar, uint32_t table_off,
                 uint32_t pba_off, uint8_t cap_offset)
{
    struct hv_msix *x = &dev->msix;
    uint8_t cap;

    if (nvec == 0 || nvec > 2048)
        return -1;
    cap = hv_pci_add_cap(dev, HV_PCI_CAP_ID_MSIX, cap_offset, MSIX_CAP_LEN);
    if (!cap)
        return -1;
    x->table = calloc(nvec, HV_MSIX_ENTRY_SIZE);
    x->pba = calloc(1, pba_bytes(nvec));
    if (!x->table || !x->pba) {
        hv_msix_free(dev);
        return -1;
    }
    x->nvec = nvec;
    x->cap = cap;
    x->bar = bar;
    x->table_off = table_off;
    x->pba_off = pba_off;
    hv_st_le(dev->pci.cfg + cap + MSIX_CTRL_OFF, 2, nvec - 1u);
    hv_st_le(dev->pci.wmask + cap + MSIX_CTRL_OFF, 2,
             HV_MSIX_CTRL_ENABLE | HV_MSIX_CTRL_MASKALL);
    hv_st_le(dev->pci.cfg + cap + MSIX_TABLE_OFF, 4, table_off | bar);
    hv_st_le(dev->pci.cfg + cap + MSIX_PBA_OFF, 4, pba_off | bar);
    hv_msix_reset(dev);
    return 0;
}

void hv_msix_free(hv_dev *dev)
{
    free(dev->msix.table);
    free(dev->msix.pba);
    dev->msix.table = NULL;
    dev->msix.pba = NULL;
    dev->msix.nvec = 0;
}

void hv_msix_reset(hv_dev *dev)
{
    struct hv_msix *x = &dev->msix;

    if (!x->nvec)
        return;
    memset(x->table, 0, (size_t)x->nvec * HV_MSIX_ENTRY_SIZE);
    memset(x->pba, 0, pba_bytes(x->nvec));
    for (unsigned v = 0; v < x->nvec; v++)
        x->table[v * HV_MSIX_ENTRY_SIZE + ENTRY_CTRL] = HV_MSIX_VECTOR_MASKED;
}

bool hv_msix_enabled(const hv_dev *dev)
{
    return dev->msix.nvec && (msix_ctrl(dev) & HV_MSIX_CTRL_ENABLE);
}

static bool vector_masked(const hv_dev *dev, uint16_t v)
{
    return (msix_ctrl(dev) & HV_MSIX_CTRL_MASKALL) ||
           (dev->msix.table[v * HV_MSIX_ENTRY_SIZE + ENTRY_CTRL] &
            HV_MSIX_VECTOR_MASKED);
}

static void deliver(hv_dev *dev, uint16_t v)
{
    const uint8_t *e = dev->msix.table + (size_t)v * HV_MSIX_ENTRY_SIZE;
    uint64_t addr = hv_ld_le(e + ENTRY_ADDR_LO, 4) |
                    ((uint64_t)hv_ld_le(e + ENTRY_ADDR_HI, 4) << 32);

    hv_trace(dev->machine, "irq %s msix vector=%u addr=0x%llx data=0x%x",
             dev->name, v, (unsigned long long)addr, hv_ld_le(e + ENTRY_DATA, 4));
    if (dev->machine->msi_fn)
        dev->machine->msi_fn(dev->machine->msi_opaque, dev, v);
}

static void set_pending(hv_dev *dev, uint16_t v, bool on)
{
    uint8_t bit = (uint8_t)(1u << (v % 8));

    if (on)
        dev->msix.pba[v / 8] |= bit;
    else
        dev->msix.pba[v / 8] &= (uint8_t)~bit;
}

static bool pending(const hv_dev *dev, uint16_t v)
{
    return dev->msix.pba[v / 8] & (1u << (v % 8));
}

void hv_msix_notify(hv_dev *dev, uint16_t vector)
{
    if (!hv_msix_enabled(dev) || vector >= dev->msix.nvec)
        return;
    if (vector_masked(dev, vector)) {
        set_pending(dev, vector, true);
        return;
    }
    deliver(dev, vector);
}

/* Unmasking delivers what became pending meanwhile (spec 6.8.2.9). */
static void deliver_unmasked_pending(hv_dev *dev)
{
    if (!hv_msix_enabled(dev))
        return;
    for (uint16_t v = 0; v < dev->msix.nvec; v++) {
        if (pending(dev, v) && !vector_masked(dev, v)) {
            set_pending(dev, v, false);
            deliver(dev, v);
        }
    }
}

HV_NO_COVERAGE static bool in_range(uint64_t off, unsigned size, uint64_t start,
                                    uint64_t len)
{
    return off >= start && off - start < len && size <= len - (off - start);
}

/* Which part of the MSI-X structure an access hits: plumbing, run by the
 * bus before every BAR access, kept out of the coverage signal. */
enum msix_part { MSIX_NONE, MSIX_TABLE, MSIX_PBA };

HV_NO_COVERAGE static enum msix_part msix_part(const hv_dev *dev, int bar,
                                               uint64_t off, unsigned size)
{
    const struct hv_msix *x = &dev->msix;

    if (!x->nvec || bar != x->bar || size > 8)
        return MSIX_NONE;
    if (in_range(off, size, x->table_off, (uint64_t)x->nvec * HV_MSIX_ENTRY_SIZE))
        return MSIX_TABLE;
    if (in_range(off, size, x->pba_off, pba_bytes(x->nvec)))
        return MSIX_PBA;
    return MSIX_NONE;
}

static uint64_t ld_bytes(const uint8_t *p, unsigned size)
{
    return size == 8 ? (hv_ld_le(p, 4) | (uint64_t)hv_ld_le(p + 4, 4) << 32)
                     : hv_ld_le(p, size);
}

bool hv_msix_mmio_read(hv_dev *dev, int bar, uint64_t off, unsigned size,
                       uint64_t *val)
{
    struct hv_msix *x = &dev->msix;

    switch (msix_part(dev, bar, off, size)) {
    case MSIX_TABLE:
        *val = ld_bytes(x->table + (off - x->table_off), size);
        return true;
    case MSIX_PBA:
        *val = ld_bytes(x->pba + (off - x->pba_off), size);
        return true;
    default:
        return false;
    }
}

bool hv_msix_mmio_write(hv_dev *dev, int bar, uint64_t off, unsigned size,
                        uint64_t val)
{
    struct hv_msix *x = &dev->msix;
    enum msix_part part = msix_part(dev, bar, off, size);

    if (part == MSIX_NONE)
        return false;
    if (part == MSIX_PBA)
        return true; /* PBA is read-only */
    for (unsigned i = 0; i < size; i++) {
        uint64_t o = off - x->table_off + i;
        uint8_t b = (uint8_t)(val >> (8 * i));

        if (o % HV_MSIX_ENTRY_SIZE == ENTRY_CTRL)
            b &= HV_MSIX_VECTOR_MASKED; /* only the mask bit is writable */
        else if (o % HV_MSIX_ENTRY_SIZE > ENTRY_CTRL)
            b = 0;
        x->table[o] = b;
    }
    deliver_unmasked_pending(dev);
    return true;
}

void hv_msix_cfg_written(hv_dev *dev)
{
    deliver_unmasked_pending(dev);
}
