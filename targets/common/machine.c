/*
 * The machine: devices on one PCI bus (bus 0) plus fixed regions, the
 * guest-RAM DMA window with its own dirty-page record, the virtual clock,
 * the work budget. Address decoding follows the devices' current BARs and
 * command register, so a guest that moves or disables a BAR sees the effect.
 */
#include "targets/common/hv_device.h"

#include <stdlib.h>
#include <string.h>

void hv_dev_init(hv_dev *dev, hv_machine *m, const struct hv_dev_ops *ops,
                 const char *name)
{
    memset(dev, 0, sizeof(*dev));
    dev->ops = ops;
    dev->machine = m;
    dev->name = name;
    dev->dma_refuse_self = true;
}

hv_machine *hv_machine_create(const struct hv_machine_config *cfg)
{
    struct hv_machine_config def = {0};
    hv_machine *m;

    if (!cfg)
        cfg = &def;
    m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->dma_base = cfg->dma_base ? cfg->dma_base : HV_DMA_WINDOW_BASE;
    m->dma_size = cfg->dma_size ? cfg->dma_size : HV_DMA_WINDOW_SIZE;
    m->work_budget = cfg->work_budget ? cfg->work_budget : HV_WORK_BUDGET_DEFAULT;
    m->findings_fatal = true;
    m->ram = cfg->ram;
    if (!m->ram) {
        m->ram = calloc(1, m->dma_size);
        m->ram_owned = true;
    }
    m->dirty = calloc(1, (m->dma_size + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE);
    if (!m->ram || !m->dirty) {
        hv_machine_destroy(m);
        return NULL;
    }
    return m;
}

void hv_machine_destroy(hv_machine *m)
{
    if (!m)
        return;
    for (unsigned i = 0; i < m->ndevs; i++) {
        hv_msix_free(m->devs[i]);
        m->devs[i]->ops->destroy(m->devs[i]);
    }
    if (m->ram_owned)
        free(m->ram);
    free(m->dirty);
    free(m);
}

int hv_machine_add(hv_machine *m, hv_dev *dev, uint8_t bdf)
{
    if (m->ndevs >= HV_MAX_DEVICES || (dev->is_pci && hv_bus_find_bdf(m, bdf)))
        return -1;
    dev->machine = m;
    m->devs[m->ndevs] = dev;
    m->bdf[m->ndevs] = bdf;
    m->ndevs++;
    hv_bus_remap(m);
    return (int)m->ndevs - 1;
}

void hv_machine_set_trace(hv_machine *m, hv_trace_fn fn, void *opaque)
{
    m->trace_fn = fn;
    m->trace_opaque = opaque;
}

HV_NO_COVERAGE static void zero_dirty_ram(hv_machine *m)
{
    size_t pages = (m->dma_size + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE;

    for (size_t p = 0; p < pages; p++) {
        if (!m->dirty[p])
            continue;
        size_t start = p * HV_PAGE_SIZE;
        size_t len = m->dma_size - start < HV_PAGE_SIZE ? m->dma_size - start
                                                        : HV_PAGE_SIZE;
        memset(m->ram + start, 0, len);
        m->dirty[p] = 0;
    }
}

HV_NO_COVERAGE void hv_machine_reset(hv_machine *m)
{
    for (unsigned i = 0; i < m->ndevs; i++) {
        hv_dev *d = m->devs[i];

        if (d->is_pci)
            hv_pci_reset(d);
        hv_msix_reset(d);
        d->active = 0;
        d->intx_level = 0;
        d->ops->reset(d);
    }
    hv_bus_remap(m);
    zero_dirty_ram(m);
    m->clock_ns = 0;
    m->work_used = 0;
    m->budget_spent = false;
    m->findings = 0;
}

void hv_machine_set_reset_point(hv_machine *m)
{
    for (unsigned i = 0; i < m->ndevs; i++)
        if (m->devs[i]->is_pci)
            hv_pci_finalize(m->devs[i]);
}

void hv_machine_clock_advance(hv_machine *m, uint64_t ns)
{
    m->clock_ns += ns;
    for (unsigned i = 0; i < m->ndevs; i++) {
        hv_dev *d = m->devs[i];

        if (d->ops->clock_advanced) {
            d->active++;
            d->ops->clock_advanced(d, m->clock_ns);
            d->active--;
        }
    }
}

hv_dev *hv_machine_rx_inject(hv_machine *m, const uint8_t *frame, size_t len)
{
    for (unsigned i = 0; i < m->ndevs; i++) {
        hv_dev *d = m->devs[i];

        if (d->ops->rx) {
            d->active++;
            d->ops->rx(d, frame, len);
            d->active--;
            return d;
        }
    }
    return NULL;
}

uint64_t hv_clock_ns(const hv_dev *dev)
{
    return dev->machine->clock_ns;
}

void hv_machine_set_msi_sink(hv_machine *m, hv_msi_fn fn, void *opaque)
{
    m->msi_fn = fn;
    m->msi_opaque = opaque;
}

int hv_machine_set_ram_regions(hv_machine *m, const struct hv_ram_region *r,
                               unsigned n)
{
    if (n > HV_MAX_RAM_REGIONS)
        return -1;
    for (unsigned i = 0; i < n; i++)
        if (r[i].size == 0 || r[i].gpa + r[i].size - 1 < r[i].gpa || !r[i].host)
            return -1;
    if (n)
        memcpy(m->ram_regions, r, n * sizeof(*r));
    m->nram = n;
    return 0;
}

/* ---- guest RAM window -------------------------------------------------- */

HV_NO_COVERAGE static bool in_window(const hv_machine *m, uint64_t gpa, size_t len)
{
    return gpa >= m->dma_base && len <= m->dma_size &&
           gpa - m->dma_base <= m->dma_size - len;
}

HV_NO_COVERAGE void hv_mem_mark_dirty(hv_machine *m, uint64_t gpa, size_t len)
{
    if (len == 0 || m->nram || !in_window(m, gpa, len))
        return;
    uint64_t first = (gpa - m->dma_base) / HV_PAGE_SIZE;
    uint64_t last = (gpa - m->dma_base + len - 1) / HV_PAGE_SIZE;

    for (uint64_t p = first; p <= last; p++)
        m->dirty[p] = 1;
}

HV_NO_COVERAGE static uint8_t *ram_region_ptr(hv_machine *m, uint64_t gpa,
                                              size_t len)
{
    for (unsigned i = 0; i < m->nram; i++) {
        const struct hv_ram_region *r = &m->ram_regions[i];

        if (gpa >= r->gpa && len <= r->size && gpa - r->gpa <= r->size - len)
            return r->host + (gpa - r->gpa);
    }
    return NULL;
}

HV_NO_COVERAGE uint8_t *hv_dma_window_ptr(hv_machine *m, uint64_t gpa, size_t len)
{
    if (m->nram)
        return ram_region_ptr(m, gpa, len);
    return in_window(m, gpa, len) ? m->ram + (gpa - m->dma_base) : NULL;
}

void hv_mem_write(hv_machine *m, uint64_t gpa, const void *buf, size_t len)
{
    uint8_t *p = hv_dma_window_ptr(m, gpa, len);

    if (!p || len == 0)
        return;
    memcpy(p, buf, len);
    hv_mem_mark_dirty(m, gpa, len);
}

void hv_mem_fill(hv_machine *m, uint64_t gpa, uint8_t byte, size_t len)
{
    uint8_t *p = hv_dma_window_ptr(m, gpa, len);

    if (!p || len == 0)
        return;
    memset(p, byte, len);
    hv_mem_mark_dirty(m, gpa, len);
}

void hv_mem_read(hv_machine *m, uint64_t gpa, void *buf, size_t len)
{
    uint8_t *p = hv_dma_window_ptr(m, gpa, len);

    if (p)
        memcpy(buf, p, len);
    else
        memset(buf, 0, len);
}

/* ---- address decoding ---------------------------------------------------- */

struct hit {
    hv_dev *dev;
    int bar;
    uint64_t off;
};

HV_NO_COVERAGE static bool fits(uint64_t addr, unsigned size, uint64_t base, uint64_t len)
{
    return addr >= base && addr - base < len && size <= len - (addr - base);
}

HV_NO_COVERAGE static void add_map(hv_machine *m, hv_dev *d, int bar, bool pio,
                    uint64_t base, uint64_t size)
{
    if (m->nmaps < HV_MAX_MAPS)
        m->maps[m->nmaps++] = (struct hv_bus_map){base, size, d, bar, pio};
}

HV_NO_COVERAGE void hv_bus_remap(hv_machine *m)
{
    m->nmaps = 0;
    for (unsigned i = 0; i < m->ndevs; i++) {
        hv_dev *d = m->devs[i];

        for (int b = 0; d->is_pci && b < HV_PCI_NUM_BARS; b++) {
            const struct hv_bar *bar = &d->pci.bars[b];
            uint64_t base = bar->size ? hv_pci_bar_addr(d, b) : UINT64_MAX;

            if (base != UINT64_MAX)
                add_map(m, d, b, bar->type == HV_BAR_IO, base, bar->size);
        }
        for (unsigned f = 0; f < d->nfixed; f++)
            add_map(m, d, (int)f, d->fixed[f].is_pio, d->fixed[f].base,
                    d->fixed[f].size);
    }
}

/* First match wins, in device order (overlapping BARs: the earlier device). */
HV_NO_COVERAGE static bool decode(hv_machine *m, bool pio, uint64_t addr, unsigned size,
                   struct hit *h)
{
    for (unsigned i = 0; i < m->nmaps; i++) {
        const struct hv_bus_map *r = &m->maps[i];

        if (r->pio == pio && fits(addr, size, r->base, r->size)) {
            *h = (struct hit){r->dev, r->bar, addr - r->base};
            return true;
        }
    }
    return false;
}

/* Re-entrancy guard: a device may be entered once at a time. */
HV_NO_COVERAGE static bool enter(hv_machine *m, hv_dev *d, const char *what, uint64_t addr)
{
    if (d->active) {
        hv_finding(m, HV_FINDING_REENTRANCY, "bus",
                   "%s re-entered by %s at 0x%llx while its handler was active",
                   d->name, what, (unsigned long long)addr);
        return false;
    }
    d->active++;
    return true;
}

HV_NO_COVERAGE static uint64_t size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

HV_NO_COVERAGE uint64_t hv_bus_mmio_read(hv_machine *m, uint64_t gpa, unsigned size)
{
    struct hit h;
    uint64_t val = ~0ull;

    if (!decode(m, false, gpa, size, &h) || !enter(m, h.dev, "mmio read", gpa))
        return size_mask(size);
    if (!h.dev->is_pci || !hv_msix_mmio_read(h.dev, h.bar, h.off, size, &val))
        val = h.dev->ops->mmio_read ? h.dev->ops->mmio_read(h.dev, h.bar, h.off, size)
                                    : ~0ull;
    h.dev->active--;
    return val & size_mask(size);
}

HV_NO_COVERAGE void hv_bus_mmio_write(hv_machine *m, uint64_t gpa, unsigned size,
                       uint64_t val)
{
    struct hit h;

    if (!decode(m, false, gpa, size, &h) || !enter(m, h.dev, "mmio write", gpa))
        return;
    val &= size_mask(size);
    if (!h.dev->is_pci || !hv_msix_mmio_write(h.dev, h.bar, h.off, size, val)) {
        if (h.dev->ops->mmio_write)
            h.dev->ops->mmio_write(h.dev, h.bar, h.off, size, val);
    }
    h.dev->active--;
}

HV_NO_COVERAGE uint32_t hv_bus_pio_read(hv_machine *m, uint64_t port, unsigned size)
{
    struct hit h;
    uint32_t val = 0xffffffffu;

    if (!decode(m, true, port, size, &h) || !enter(m, h.dev, "pio read", port))
        return (uint32_t)size_mask(size);
    if (h.dev->ops->pio_read)
        val = h.dev->ops->pio_read(h.dev, h.bar, h.off, size);
    h.dev->active--;
    return val & (uint32_t)size_mask(size);
}

HV_NO_COVERAGE void hv_bus_pio_write(hv_machine *m, uint64_t port, unsigned size,
                      uint32_t val)
{
    struct hit h;

    if (!decode(m, true, port, size, &h) || !enter(m, h.dev, "pio write", port))
        return;
    if (h.dev->ops->pio_write)
        h.dev->ops->pio_write(h.dev, h.bar, h.off, size,
                              val & (uint32_t)size_mask(size));
    h.dev->active--;
}

HV_NO_COVERAGE bool hv_bus_mmio_claimed(hv_machine *m, uint64_t gpa, hv_dev **dev_out)
{
    struct hit h;

    if (!decode(m, false, gpa, 1, &h))
        return false;
    if (dev_out)
        *dev_out = h.dev;
    return true;
}

HV_NO_COVERAGE hv_dev *hv_bus_find_bdf(hv_machine *m, uint8_t bdf)
{
    for (unsigned i = 0; i < m->ndevs; i++)
        if (m->devs[i]->is_pci && m->bdf[i] == bdf)
            return m->devs[i];
    return NULL;
}

HV_NO_COVERAGE uint32_t hv_bus_cfg_read(hv_machine *m, uint8_t bdf, unsigned off,
                         unsigned size)
{
    hv_dev *d = hv_bus_find_bdf(m, bdf);

    if (!d)
        return (uint32_t)size_mask(size > 4 ? 4 : size);
    return hv_pci_cfg_read(d, off, size);
}

HV_NO_COVERAGE void hv_bus_cfg_write(hv_machine *m, uint8_t bdf, unsigned off, unsigned size,
                      uint32_t val)
{
    hv_dev *d = hv_bus_find_bdf(m, bdf);

    if (d)
        hv_pci_cfg_write(d, off, size, val);
}

/* ---- INTx ------------------------------------------------------------- */

void hv_irq_set_level(hv_dev *dev, int level)
{
    uint8_t lvl = level ? 1 : 0;

    if (dev->is_pci) {
        if (lvl)
            dev->pci.cfg[HV_PCI_STATUS] |= HV_PCI_STATUS_INTERRUPT;
        else
            dev->pci.cfg[HV_PCI_STATUS] &= (uint8_t)~HV_PCI_STATUS_INTERRUPT;
        if (hv_pci_command(dev) & HV_PCI_CMD_INTX_DISABLE)
            lvl = 0;
    }
    if (lvl == dev->intx_level)
        return;
    dev->intx_level = lvl;
    hv_trace(dev->machine, "irq %s intx level=%u", dev->name, lvl);
}
