/*
 * PCI configuration space, type 0 header (PCI Local Bus 3.0 ch. 6): BAR
 * sizing through write masks, a capability list built head-first as QEMU
 * does (so cap offsets and order match QEMU's devices), W1C status bits.
 */
#include "targets/common/hv_device.h"

#include <string.h>

#define CMD_WRITABLE 0x0547u /* IO, MEM, MASTER, PARITY, SERR, INTX_DISABLE */
#define STATUS_W1C 0xf900u
#define CAP_FIRST 0x40u

static void set_w(uint8_t *arr, unsigned off, unsigned size, uint32_t val)
{
    hv_st_le(arr + off, size, val);
}

void hv_pci_init(hv_dev *dev, uint16_t vendor, uint16_t device,
                 uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
                 uint16_t subsys_id)
{
    struct hv_pci *p = &dev->pci;

    memset(p, 0, sizeof(*p));
    dev->is_pci = true;
    set_w(p->cfg, HV_PCI_VENDOR_ID, 2, vendor);
    set_w(p->cfg, HV_PCI_DEVICE_ID, 2, device);
    p->cfg[HV_PCI_REVISION] = revision;
    set_w(p->cfg, HV_PCI_CLASS_PROG, 3, class_code);
    set_w(p->cfg, HV_PCI_SUBSYS_VENDOR_ID, 2, subsys_vendor);
    set_w(p->cfg, HV_PCI_SUBSYS_ID, 2, subsys_id);
    set_w(p->wmask, HV_PCI_COMMAND, 2, CMD_WRITABLE);
    set_w(p->w1cmask, HV_PCI_STATUS, 2, STATUS_W1C);
    p->wmask[0x0c] = 0xff; /* cache line size */
    p->wmask[HV_PCI_INTERRUPT_LINE] = 0xff;
    p->next_cap_end = CAP_FIRST;
}

void hv_pci_set_bar(hv_dev *dev, int bar, enum hv_bar_type type,
                    uint64_t size, bool prefetch)
{
    struct hv_pci *p = &dev->pci;
    unsigned off = HV_PCI_BAR0 + 4 * (unsigned)bar;
    uint32_t flags = 0;
    uint64_t mask = ~(size - 1);

    if (bar < 0 || bar >= HV_PCI_NUM_BARS || size == 0 ||
        (size & (size - 1)) != 0 || (type == HV_BAR_MEM64 && bar == 5))
        return;
    p->bars[bar] = (struct hv_bar){.type = type, .size = size,
                                   .prefetch = prefetch};
    if (type == HV_BAR_IO) {
        flags = 0x1;
        mask &= ~(uint64_t)0x3;
    } else {
        flags = (type == HV_BAR_MEM64 ? 0x4 : 0x0) | (prefetch ? 0x8 : 0x0);
        mask &= ~(uint64_t)0xf;
    }
    set_w(p->cfg, off, 4, flags);
    set_w(p->wmask, off, 4, (uint32_t)mask);
    if (type == HV_BAR_MEM64)
        set_w(p->wmask, off + 4, 4, (uint32_t)(mask >> 32));
}

void hv_pci_set_interrupt_pin(hv_dev *dev, uint8_t pin)
{
    dev->pci.cfg[HV_PCI_INTERRUPT_PIN] = pin;
}

uint8_t hv_pci_add_cap(hv_dev *dev, uint8_t id, uint8_t offset, uint8_t len)
{
    struct hv_pci *p = &dev->pci;
    unsigned at = offset ? offset : (p->next_cap_end + 3u) & ~3u;

    if (at < CAP_FIRST || len < 2 || at + len > HV_PCI_CFG_SIZE)
        return 0;
    p->cfg[at] = id;
    p->cfg[at + 1] = p->cfg[HV_PCI_CAP_PTR];
    p->cfg[HV_PCI_CAP_PTR] = (uint8_t)at;
    p->cfg[HV_PCI_STATUS] |= HV_PCI_STATUS_CAP_LIST;
    if (at + len > p->next_cap_end)
        p->next_cap_end = (uint8_t)(at + len);
    return (uint8_t)at;
}

void hv_pci_finalize(hv_dev *dev)
{
    memcpy(dev->pci.init, dev->pci.cfg, HV_PCI_CFG_SIZE);
}

void hv_pci_reset(hv_dev *dev)
{
    memcpy(dev->pci.cfg, dev->pci.init, HV_PCI_CFG_SIZE);
}

static bool cfg_range_ok(unsigned off, unsigned size)
{
    return (size == 1 || size == 2 || size == 4) && off < HV_PCI_CFG_SIZE &&
           size <= HV_PCI_CFG_SIZE - off;
}

uint32_t hv_pci_cfg_read(hv_dev *dev, unsigned off, unsigned size)
{
    if (!cfg_range_ok(off, size))
        return 0xffffffffu;
    if (dev->ops->cfg_read) {
        dev->active++;
        dev->ops->cfg_read(dev, off, size);
        dev->active--;
    }
    return hv_ld_le(dev->pci.cfg + off, size);
}

/* Command register or a BAR: the bus must decode again. */
HV_NO_COVERAGE static bool touches_decoding(unsigned off, unsigned size)
{
    unsigned end = off + size;

    return (off < HV_PCI_COMMAND + 2 && end > HV_PCI_COMMAND) ||
           (off < HV_PCI_BAR0 + 4 * HV_PCI_NUM_BARS && end > HV_PCI_BAR0);
}

void hv_pci_cfg_write(hv_dev *dev, unsigned off, unsigned size, uint32_t val)
{
    struct hv_pci *p = &dev->pci;

    if (!cfg_range_ok(off, size))
        return;
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = (uint8_t)(val >> (8 * i));
        uint8_t wm = p->wmask[off + i], w1c = p->w1cmask[off + i];

        p->cfg[off + i] = (uint8_t)((p->cfg[off + i] & ~wm) | (b & wm));
        p->cfg[off + i] &= (uint8_t)~(b & w1c);
    }
    if (dev->msix.nvec && off < dev->msix.cap + 4u && off + size > dev->msix.cap)
        hv_msix_cfg_written(dev);
    if (dev->machine && touches_decoding(off, size))
        hv_bus_remap(dev->machine);
    if (dev->ops->cfg_written) {
        dev->active++;
        dev->ops->cfg_written(dev, off, size, val);
        dev->active--;
    }
}

HV_NO_COVERAGE uint16_t hv_pci_command(const hv_dev *dev)
{
    return (uint16_t)hv_ld_le(dev->pci.cfg + HV_PCI_COMMAND, 2);
}

HV_NO_COVERAGE uint64_t hv_pci_bar_addr(const hv_dev *dev, int bar)
{
    const struct hv_pci *p = &dev->pci;
    unsigned off = HV_PCI_BAR0 + 4 * (unsigned)bar;
    uint16_t cmd = hv_pci_command(dev);
    uint64_t addr;

    if (bar < 0 || bar >= HV_PCI_NUM_BARS || p->bars[bar].size == 0)
        return UINT64_MAX;
    switch (p->bars[bar].type) {
    case HV_BAR_IO:
        if (!(cmd & HV_PCI_CMD_IO))
            return UINT64_MAX;
        addr = hv_ld_le(p->cfg + off, 4) & ~0x3u;
        break;
    case HV_BAR_MEM32:
        if (!(cmd & HV_PCI_CMD_MEM))
            return UINT64_MAX;
        addr = hv_ld_le(p->cfg + off, 4) & ~0xfu;
        break;
    case HV_BAR_MEM64:
        if (!(cmd & HV_PCI_CMD_MEM))
            return UINT64_MAX;
        addr = (hv_ld_le(p->cfg + off, 4) & ~0xfu) |
               ((uint64_t)hv_ld_le(p->cfg + off + 4, 4) << 32);
        break;
    default:
        return UINT64_MAX;
    }
    /* Address 0 and a BAR that wraps past the top mean "not mapped" (QEMU's
     * pci_bar_address does the same). */
    if (addr == 0 || addr + p->bars[bar].size - 1 < addr)
        return UINT64_MAX;
    return addr;
}
