/*
 * Device DMA through the machine's region table: the guest-RAM window, or
 * MMIO of a device (routed through the bus, as on real hardware, where the
 * re-entrancy guard applies). Everything else fails without moving a byte:
 * the IOMMU-style reference monitor of DESIGN.md.
 */
#include "targets/common/hv_device.h"

#include <string.h>

HV_NO_COVERAGE static bool range_ok(uint64_t gpa, size_t len)
{
    return len != 0 && gpa + len - 1 >= gpa;
}

/* A PCI device masters the bus only while the command register allows. */
static bool may_master(hv_dev *dev)
{
    if (!dev->is_pci || (hv_pci_command(dev) & HV_PCI_CMD_MASTER))
        return true;
    hv_trace(dev->machine, "dma %s refused: bus mastering is off", dev->name);
    return false;
}

/* The whole range must decode to one device; refuse the device's own BARs
 * when asked (QEMU's fix for CVE-2021-3929). */
static hv_dev *mmio_target(hv_dev *dev, uint64_t gpa, size_t len)
{
    hv_dev *first = NULL, *last = NULL;

    if (len > HV_DMA_MMIO_MAX || !hv_bus_mmio_claimed(dev->machine, gpa, &first) ||
        !hv_bus_mmio_claimed(dev->machine, gpa + len - 1, &last) || first != last)
        return NULL;
    if (first == dev && dev->dma_refuse_self) {
        hv_trace(dev->machine, "dma %s refused: 0x%llx+%zu is its own BAR",
                 dev->name, (unsigned long long)gpa, len);
        return NULL;
    }
    return first;
}

HV_NO_COVERAGE static unsigned chunk_size(uint64_t gpa, size_t left)
{
    if (left >= 4 && (gpa & 3) == 0)
        return 4;
    if (left >= 2 && (gpa & 1) == 0)
        return 2;
    return 1;
}

static int dma_mmio(hv_dev *dev, uint64_t gpa, uint8_t *buf, size_t len,
                    bool write)
{
    if (!mmio_target(dev, gpa, len))
        return -1;
    hv_trace(dev->machine, "dma %s %s mmio 0x%llx+%zu", dev->name,
             write ? "write" : "read", (unsigned long long)gpa, len);
    for (size_t done = 0; done < len;) {
        unsigned n = chunk_size(gpa + done, len - done);

        if (write)
            hv_bus_mmio_write(dev->machine, gpa + done, n, hv_ld_le(buf + done, n));
        else
            hv_st_le(buf + done, n, hv_bus_mmio_read(dev->machine, gpa + done, n));
        done += n;
    }
    return 0;
}

/* One transfer between the device and [gpa, gpa+len): the window directly,
 * MMIO through the bus, anything else refused. */
static int dma_access(hv_dev *dev, uint64_t gpa, uint8_t *buf, size_t len,
                      bool write)
{
    hv_machine *m = dev->machine;
    uint8_t *p;

    if (len == 0)
        return 0;
    if (!range_ok(gpa, len) || !may_master(dev))
        return -1;
    p = hv_dma_window_ptr(m, gpa, len);
    if (!p)
        return dma_mmio(dev, gpa, buf, len, write);
    if (write) {
        memcpy(p, buf, len);
        hv_mem_mark_dirty(m, gpa, len);
    } else {
        memcpy(buf, p, len);
    }
    if (hv_tracing(m))
        hv_trace(m, "dma %s %s 0x%llx+%zu", dev->name, write ? "write" : "read",
                 (unsigned long long)gpa, len);
    return 0;
}

int hv_dma_read(hv_dev *dev, uint64_t gpa, void *buf, size_t len)
{
    return dma_access(dev, gpa, buf, len, false);
}

/* dma_access only reads from buf when writing. */
int hv_dma_write(hv_dev *dev, uint64_t gpa, const void *buf, size_t len)
{
    return dma_access(dev, gpa, (uint8_t *)(uintptr_t)buf, len, true);
}
