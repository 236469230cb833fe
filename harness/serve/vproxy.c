/* A virtio-pci model driven through its registers; see vproxy.h. */
#include "harness/serve/vproxy.h"

#include "targets/virtio/virtio_pci.h"
#include "targets/virtio/virtio_regs.h"

#define MSIX_CTRL 2u      /* message control, in the MSI-X capability */
#define MSIX_ENTRY_CTRL 12u

static void common_w(struct vproxy *p, uint32_t off, unsigned size,
                     uint32_t val)
{
    hv_bus_mmio_write(p->m, VPROXY_BAR4 + VIRTIO_PCI_COMMON_OFF + off, size,
                      val);
}

static uint32_t common_r(struct vproxy *p, uint32_t off, unsigned size)
{
    return (uint32_t)hv_bus_mmio_read(p->m,
                                      VPROXY_BAR4 + VIRTIO_PCI_COMMON_OFF + off,
                                      size);
}

static void map_bars(hv_machine *m)
{
    hv_bus_cfg_write(m, VPROXY_BDF, HV_PCI_BAR0, 4, VPROXY_BAR0_PIO);
    hv_bus_cfg_write(m, VPROXY_BDF, HV_PCI_BAR0 + 4, 4, (uint32_t)VPROXY_BAR1);
    hv_bus_cfg_write(m, VPROXY_BDF, HV_PCI_BAR0 + 16, 4, (uint32_t)VPROXY_BAR4);
    hv_bus_cfg_write(m, VPROXY_BDF, HV_PCI_BAR0 + 20, 4,
                     (uint32_t)(VPROXY_BAR4 >> 32));
    hv_bus_cfg_write(m, VPROXY_BDF, HV_PCI_COMMAND, 2,
                     HV_PCI_CMD_IO | HV_PCI_CMD_MEM | HV_PCI_CMD_MASTER);
}

/* MSI-X on, every vector unmasked (data = vector, for the trace). */
static void enable_msix(struct vproxy *p, hv_dev *dev)
{
    for (uint16_t v = 0; v < dev->msix.nvec; v++) {
        uint64_t e = VPROXY_BAR1 + dev->msix.table_off +
                     (uint64_t)v * HV_MSIX_ENTRY_SIZE;

        hv_bus_mmio_write(p->m, e + 8, 4, v);
        hv_bus_mmio_write(p->m, e + MSIX_ENTRY_CTRL, 4, 0);
    }
    hv_bus_cfg_write(p->m, VPROXY_BDF, dev->msix.cap + MSIX_CTRL, 2,
                     HV_MSIX_CTRL_ENABLE);
}

void vproxy_init(struct vproxy *p, hv_machine *m, hv_dev *dev)
{
    p->m = m;
    p->vp = (struct virtio_pci *)dev; /* virtio models embed it first */
    map_bars(m);
    enable_msix(p, dev);
    vproxy_reset(p);
    p->num_queues = (uint16_t)common_r(p, VIRTIO_PCI_COMMON_NUMQ, 2);
    common_w(p, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    p->queue_max = (uint16_t)common_r(p, VIRTIO_PCI_COMMON_Q_SIZE, 2);
    common_w(p, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    p->offered = common_r(p, VIRTIO_PCI_COMMON_DF, 4);
    common_w(p, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    p->offered |= (uint64_t)common_r(p, VIRTIO_PCI_COMMON_DF, 4) << 32;
}

void vproxy_reset(struct vproxy *p)
{
    common_w(p, VIRTIO_PCI_COMMON_STATUS, 1, 0);
}

int vproxy_negotiate(struct vproxy *p, uint64_t features)
{
    uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

    vproxy_reset(p);
    common_w(p, VIRTIO_PCI_COMMON_STATUS, 1, st);
    for (uint32_t i = 0; i < 2; i++) {
        common_w(p, VIRTIO_PCI_COMMON_GFSELECT, 4, i);
        common_w(p, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(features >> (32 * i)));
    }
    st |= VIRTIO_STATUS_FEATURES_OK;
    common_w(p, VIRTIO_PCI_COMMON_STATUS, 1, st);
    if (!(common_r(p, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_FEATURES_OK))
        return -1;
    common_w(p, VIRTIO_PCI_COMMON_MSIX, 2, p->num_queues);
    common_w(p, VIRTIO_PCI_COMMON_STATUS, 1, st | VIRTIO_STATUS_DRIVER_OK);
    return 0;
}

static void set_addr(struct vproxy *p, uint32_t lo_off, uint64_t gpa)
{
    common_w(p, lo_off, 4, (uint32_t)gpa);
    common_w(p, lo_off + 4, 4, (uint32_t)(gpa >> 32));
}

void vproxy_queue_start(struct vproxy *p, uint16_t q, uint16_t size,
                        uint64_t desc, uint64_t avail, uint64_t used,
                        uint16_t base)
{
    common_w(p, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
    common_w(p, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
    set_addr(p, VIRTIO_PCI_COMMON_Q_DESCLO, desc);
    set_addr(p, VIRTIO_PCI_COMMON_Q_AVAILLO, avail);
    set_addr(p, VIRTIO_PCI_COMMON_Q_USEDLO, used);
    common_w(p, VIRTIO_PCI_COMMON_Q_MSIX, 2, q);
    common_w(p, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    virtq_resume_at(virtio_pci_vq(p->vp, q), base);
}

uint16_t vproxy_queue_stop(struct vproxy *p, uint16_t q)
{
    uint16_t base = virtio_pci_vq(p->vp, q)->last_avail_idx;

    common_w(p, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
    common_w(p, VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
    return base;
}

void vproxy_kick(struct vproxy *p, uint16_t q)
{
    /* One kick is one "input": its own work budget. */
    p->m->work_used = 0;
    p->m->budget_spent = false;
    hv_bus_mmio_write(p->m,
                      VPROXY_BAR4 + VIRTIO_PCI_NOTIFY_OFF +
                          (uint64_t)q * VIRTIO_PCI_NOTIFY_MULTIPLIER,
                      2, q);
}

void vproxy_config_read(struct vproxy *p, uint32_t off, uint8_t *buf,
                        uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        buf[i] = off + i < p->vp->p.config_len
                     ? (uint8_t)hv_bus_mmio_read(
                           p->m, VPROXY_BAR4 + VIRTIO_PCI_DEVICE_OFF + off + i, 1)
                     : 0;
}

void vproxy_config_write(struct vproxy *p, uint32_t off, const uint8_t *buf,
                         uint32_t len)
{
    for (uint32_t i = 0; i < len && off + i < p->vp->p.config_len; i++)
        hv_bus_mmio_write(p->m, VPROXY_BAR4 + VIRTIO_PCI_DEVICE_OFF + off + i,
                          1, buf[i]);
}

const char *vproxy_error(const struct vproxy *p)
{
    return p->vp->broken ? (p->vp->error ? p->vp->error : "device error")
                         : NULL;
}
