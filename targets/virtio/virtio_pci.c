/*
 * Virtio PCI transport: virtio 1.2 section 4.1 (4.1.2 PCI device
 * discovery, 4.1.4 capabilities: 4.1.4.3 common configuration, 4.1.4.4
 * notification, 4.1.4.5 ISR status, 4.1.4.6 device configuration, 4.1.4.8
 * PCI configuration access, 4.1.4.10 legacy interface; 4.1.5 MSI-X /
 * INTx notifications), section 2.1 device status (2.1.2 NEEDS_RESET) and
 * 2.2 feature negotiation, laid out exactly as QEMU 7.2's virtio-pci
 * (hw/virtio/virtio-pci.c): register semantics follow QEMU where the spec
 * leaves room, with these deliberate differences:
 *  - FEATURES_OK is refused (status reads back without it) if the driver
 *    accepted a feature that was not offered or omitted VERSION_1; QEMU
 *    silently masks unoffered bits.
 *  - a device reset (status 0) also clears the feature select / driver
 *    feature registers and config_generation (QEMU keeps them).
 *  - queue_size accepts only powers of two <= the maximum, and queue
 *    fields are read-only while the queue is enabled.
 *  - NEEDS_RESET stays set until reset, whatever the driver writes.
 * Invalid accesses (size not 1/2/4 or misaligned) read 0 and are dropped,
 * as QEMU's memory core does for these regions.
 */
#include "targets/virtio/virtio_pci.h"

#include <stdlib.h>
#include <string.h>

#include "targets/virtio/virtio_regs.h"

#define TRANSPORT_FEATURES                                                     \
    ((1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_EVENT_IDX) |         \
     (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_RESET))
/* What QEMU's legacy HOST_FEATURES register shows on top (low word). */
#define LEGACY_ONLY_FEATURES                                                   \
    ((1u << VIRTIO_F_NOTIFY_ON_EMPTY) | (1u << VIRTIO_F_ANY_LAYOUT) |          \
     (1u << VIRTIO_F_BAD_FEATURE))

static struct virtio_pci *to_vp(hv_dev *dev)
{
    return (struct virtio_pci *)dev;
}

static struct virtio_pci_queue *sel_queue(struct virtio_pci *vp)
{
    return vp->queue_sel < vp->p.num_queues ? &vp->queues[vp->queue_sel]
                                            : NULL;
}

struct virtq *virtio_pci_vq(struct virtio_pci *vp, uint16_t q)
{
    return q < vp->p.num_queues ? &vp->queues[q].vq : NULL;
}

bool virtio_pci_has_feature(const struct virtio_pci *vp, unsigned bit)
{
    return bit < 64 && (vp->features >> bit) & 1;
}

static bool access_ok(uint64_t off, unsigned size)
{
    return (size == 1 || size == 2 || size == 4) && (off & (size - 1)) == 0;
}

static uint32_t size_mask(unsigned size)
{
    return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

/* ---- interrupts (4.1.5.3 MSI-X, 4.1.5.4 INTx) -------------------------- */

static void notify_vector(struct virtio_pci *vp, uint16_t vector)
{
    if (hv_msix_enabled(&vp->dev)) {
        if (vector != HV_MSIX_NO_VECTOR)
            hv_msix_notify(&vp->dev, vector);
    } else {
        hv_irq_set_level(&vp->dev, vp->isr & VIRTIO_PCI_ISR_QUEUE);
    }
}

void virtio_pci_notify_queue(struct virtio_pci *vp, uint16_t q)
{
    if (q >= vp->p.num_queues)
        return;
    vp->isr |= VIRTIO_PCI_ISR_QUEUE;
    notify_vector(vp, vp->queues[q].vector);
}

void virtio_pci_notify_config(struct virtio_pci *vp)
{
    if (!(vp->status & VIRTIO_STATUS_DRIVER_OK))
        return;
    /* QEMU sets both ISR bits, so INTx (level = bit 0) fires too. */
    vp->isr |= VIRTIO_PCI_ISR_QUEUE | VIRTIO_PCI_ISR_CONFIG;
    vp->generation++;
    notify_vector(vp, vp->config_vector);
}

void virtio_pci_set_error(struct virtio_pci *vp, const char *why)
{
    if (vp->broken)
        return;
    vp->broken = true;
    vp->error = why;
    vp->status |= VIRTIO_STATUS_NEEDS_RESET;
    hv_trace(vp->dev.machine, "virtio %s NEEDS_RESET: %s", vp->dev.name, why);
    virtio_pci_notify_config(vp);
}

/* ---- reset ---------------------------------------------------------------- */

static void queue_reset(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
    virtq_reset(&q->vq);
    q->vq.event_idx = virtio_pci_has_feature(vp, VIRTIO_F_EVENT_IDX);
    q->vector = HV_MSIX_NO_VECTOR;
}

void virtio_pci_reset(struct virtio_pci *vp, bool power_on)
{
    vp->dfselect = 0;
    vp->gfselect = 0;
    vp->gf[0] = vp->gf[1] = 0;
    vp->features = 0;
    vp->config_vector = HV_MSIX_NO_VECTOR;
    vp->queue_sel = 0;
    vp->status = 0;
    vp->generation = 0;
    vp->isr = 0;
    vp->broken = false;
    vp->error = NULL;
    for (uint16_t i = 0; i < vp->p.num_queues; i++)
        queue_reset(vp, &vp->queues[i]);
    memset(vp->config, 0, vp->p.config_len);
    if (power_on) {
        hv_pci_reset(&vp->dev);
        hv_msix_reset(&vp->dev);
    }
    hv_irq_set_level(&vp->dev, 0);
    vp->vops->reset(vp, power_on);
}

/* ---- features and status (2.1, 2.2, 3.1.1) ------------------------------ */

static void set_features(struct virtio_pci *vp, uint64_t val)
{
    vp->features = val & vp->host_features;
    for (uint16_t i = 0; i < vp->p.num_queues; i++)
        vp->queues[i].vq.event_idx =
            virtio_pci_has_feature(vp, VIRTIO_F_EVENT_IDX);
}

static bool features_acceptable(const struct virtio_pci *vp)
{
    uint64_t drv = vp->gf[0] | (uint64_t)vp->gf[1] << 32;

    return !(drv & ~vp->host_features) && (drv >> VIRTIO_F_VERSION_1) & 1;
}

static void apply_status(struct virtio_pci *vp, uint8_t val)
{
    vp->status = (uint8_t)(val | (vp->status & VIRTIO_STATUS_NEEDS_RESET));
    if (val == 0)
        vp->status = 0;
    if (vp->vops->status_changed)
        vp->vops->status_changed(vp, vp->status);
    if (val == 0)
        virtio_pci_reset(vp, false);
}

static void write_status(struct virtio_pci *vp, uint8_t val, bool modern)
{
    if (modern && !(vp->status & VIRTIO_STATUS_FEATURES_OK) &&
        (val & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(vp)) {
        hv_trace(vp->dev.machine, "virtio %s FEATURES_OK refused",
                 vp->dev.name);
        return;
    }
    apply_status(vp, val);
}

/* Queue notification: only a live device with bus mastering processes. */
static void kick(struct virtio_pci *vp, uint32_t q)
{
    if (q >= vp->p.num_queues || vp->broken ||
        !(vp->status & VIRTIO_STATUS_DRIVER_OK) ||
        !(hv_pci_command(&vp->dev) & HV_PCI_CMD_MASTER) ||
        !virtq_ready(&vp->queues[q].vq))
        return;
    vp->vops->queue_kick(vp, (uint16_t)q);
    for (uint16_t i = 0; i < vp->p.num_queues; i++) {
        const struct virtq *vq = &vp->queues[i].vq;

        if (vq->broken) {
            virtio_pci_set_error(vp, vq->error ? vq->error : "queue error");
            break;
        }
    }
}

static uint16_t checked_vector(const struct virtio_pci *vp, uint32_t val)
{
    return val < vp->dev.msix.nvec ? (uint16_t)val : HV_MSIX_NO_VECTOR;
}

/* ---- common configuration (4.1.4.3) -------------------------------------- */

static uint32_t queue_read(struct virtio_pci *vp, uint64_t off)
{
    struct virtio_pci_queue *q = sel_queue(vp);

    if (off == VIRTIO_PCI_COMMON_Q_NOFF)
        return vp->queue_sel; /* queues are mapped in order */
    if (off == VIRTIO_PCI_COMMON_Q_MSIX)
        return q ? q->vector : HV_MSIX_NO_VECTOR;
    if (!q)
        return 0;
    switch (off) {
    case VIRTIO_PCI_COMMON_Q_SIZE:
        return q->vq.size;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        return q->vq.enabled;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
        return (uint32_t)q->vq.desc;
    case VIRTIO_PCI_COMMON_Q_DESCHI:
        return (uint32_t)(q->vq.desc >> 32);
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
        return (uint32_t)q->vq.avail;
    case VIRTIO_PCI_COMMON_Q_AVAILHI:
        return (uint32_t)(q->vq.avail >> 32);
    case VIRTIO_PCI_COMMON_Q_USEDLO:
        return (uint32_t)q->vq.used;
    case VIRTIO_PCI_COMMON_Q_USEDHI:
        return (uint32_t)(q->vq.used >> 32);
    default: /* queue_notify_data, queue_reset (done at once) */
        return 0;
    }
}

static uint32_t common_read(struct virtio_pci *vp, uint64_t off)
{
    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        return vp->dfselect;
    case VIRTIO_PCI_COMMON_DF:
        return vp->dfselect <= 1
                   ? (uint32_t)(vp->host_features >> (32 * vp->dfselect))
                   : 0;
    case VIRTIO_PCI_COMMON_GFSELECT:
        return vp->gfselect;
    case VIRTIO_PCI_COMMON_GF:
        return vp->gfselect <= 1 ? vp->gf[vp->gfselect] : 0;
    case VIRTIO_PCI_COMMON_MSIX:
        return vp->config_vector;
    case VIRTIO_PCI_COMMON_NUMQ:
        return vp->p.num_queues;
    case VIRTIO_PCI_COMMON_STATUS:
        return vp->status;
    case VIRTIO_PCI_COMMON_CFGGENERATION:
        return vp->generation;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        return vp->queue_sel;
    default:
        return off >= VIRTIO_PCI_COMMON_Q_SIZE &&
                       off <= VIRTIO_PCI_COMMON_Q_RESET
                   ? queue_read(vp, off)
                   : 0;
    }
}

static void set_half(uint64_t *addr, bool high, uint32_t val)
{
    *addr = high ? (*addr & 0xffffffffull) | (uint64_t)val << 32
                 : (*addr & ~0xffffffffull) | val;
}

static void queue_enable(struct virtio_pci *vp, struct virtio_pci_queue *q,
                         uint32_t val)
{
    if (val != 1) { /* 4.1.4.3.2: the driver MUST NOT write 0 (QEMU: error) */
        virtio_pci_set_error(vp, "queue_enable written with a value other than 1");
        return;
    }
    if (!q || q->vq.enabled)
        return;
    q->vq.enabled = true;
    q->vq.event_idx = virtio_pci_has_feature(vp, VIRTIO_F_EVENT_IDX);
}

/* Fields of a disabled queue (a live queue's layout is fixed). */
static void queue_write_cfg(struct virtq *vq, uint64_t off, uint32_t val)
{
    if (vq->enabled)
        return;
    switch (off) {
    case VIRTIO_PCI_COMMON_Q_SIZE:
        if (val && val <= vq->max_size && (val & (val - 1)) == 0)
            vq->size = (uint16_t)val;
        break;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
    case VIRTIO_PCI_COMMON_Q_DESCHI:
        set_half(&vq->desc, off == VIRTIO_PCI_COMMON_Q_DESCHI, val);
        break;
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
    case VIRTIO_PCI_COMMON_Q_AVAILHI:
        set_half(&vq->avail, off == VIRTIO_PCI_COMMON_Q_AVAILHI, val);
        break;
    case VIRTIO_PCI_COMMON_Q_USEDLO:
    case VIRTIO_PCI_COMMON_Q_USEDHI:
        set_half(&vq->used, off == VIRTIO_PCI_COMMON_Q_USEDHI, val);
        break;
    default:
        break;
    }
}

static void queue_write(struct virtio_pci *vp, uint64_t off, uint32_t val)
{
    struct virtio_pci_queue *q = sel_queue(vp);

    if (off == VIRTIO_PCI_COMMON_Q_ENABLE) {
        queue_enable(vp, q, val);
        return;
    }
    if (!q)
        return;
    if (off == VIRTIO_PCI_COMMON_Q_MSIX)
        q->vector = checked_vector(vp, val);
    else if (off == VIRTIO_PCI_COMMON_Q_RESET) {
        if (val == 1)
            queue_reset(vp, q);
    } else
        queue_write_cfg(&q->vq, off, val);
}

static void common_write(struct virtio_pci *vp, uint64_t off, uint32_t val)
{
    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        vp->dfselect = val;
        break;
    case VIRTIO_PCI_COMMON_GFSELECT:
        vp->gfselect = val;
        break;
    case VIRTIO_PCI_COMMON_GF:
        if (vp->gfselect > 1)
            break;
        vp->gf[vp->gfselect] = val;
        if (!(vp->status & VIRTIO_STATUS_FEATURES_OK))
            set_features(vp, vp->gf[0] | (uint64_t)vp->gf[1] << 32);
        break;
    case VIRTIO_PCI_COMMON_MSIX:
        vp->config_vector = checked_vector(vp, val);
        break;
    case VIRTIO_PCI_COMMON_STATUS:
        write_status(vp, (uint8_t)val, true);
        break;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        if (val < VIRTIO_PCI_QUEUE_SEL_MAX)
            vp->queue_sel = (uint16_t)val;
        break;
    default:
        if (off >= VIRTIO_PCI_COMMON_Q_SIZE && off <= VIRTIO_PCI_COMMON_Q_RESET)
            queue_write(vp, off, val);
        break; /* read-only or reserved */
    }
}

/* ---- ISR (4.1.4.5), device configuration (4.1.4.6) ----------------------- */

static uint32_t isr_read(struct virtio_pci *vp)
{
    uint8_t v = vp->isr;

    vp->isr = 0;
    hv_irq_set_level(&vp->dev, 0);
    return v;
}

static uint32_t devcfg_read(struct virtio_pci *vp, uint64_t off, unsigned size)
{
    if (off + size > vp->p.config_len)
        return size_mask(size);
    vp->vops->get_config(vp, vp->config);
    return hv_ld_le(vp->config + off, size);
}

static void devcfg_write(struct virtio_pci *vp, uint64_t off, unsigned size,
                         uint32_t val)
{
    if (off + size > vp->p.config_len || !vp->vops->set_config)
        return;
    vp->vops->get_config(vp, vp->config);
    hv_st_le(vp->config + off, size, val);
    vp->vops->set_config(vp, vp->config);
}

/* ---- BAR 4: the modern regions ------------------------------------------ */

static uint32_t modern_read(struct virtio_pci *vp, uint64_t off, unsigned size)
{
    uint64_t roff = off % VIRTIO_PCI_REGION_SIZE;

    switch (off - roff) {
    case VIRTIO_PCI_COMMON_OFF:
        return common_read(vp, roff) & size_mask(size);
    case VIRTIO_PCI_ISR_OFF:
        return isr_read(vp) & size_mask(size);
    case VIRTIO_PCI_DEVICE_OFF:
        return devcfg_read(vp, roff, size);
    default: /* notify: reads as 0 */
        return 0;
    }
}

static void modern_write(struct virtio_pci *vp, uint64_t off, unsigned size,
                         uint32_t val)
{
    uint64_t roff = off % VIRTIO_PCI_REGION_SIZE;

    val &= size_mask(size);
    switch (off - roff) {
    case VIRTIO_PCI_COMMON_OFF:
        common_write(vp, roff, val);
        break;
    case VIRTIO_PCI_DEVICE_OFF:
        devcfg_write(vp, roff, size, val);
        break;
    case VIRTIO_PCI_NOTIFY_OFF: /* 4.1.4.4: the address names the queue */
        kick(vp, (uint32_t)(roff / VIRTIO_PCI_NOTIFY_MULTIPLIER));
        break;
    default: /* ISR is read-only */
        break;
    }
}

/* QEMU's virtio-pci regions take at most 4 bytes at a time: its memory core
 * splits an aligned 8-byte access into two, low half first. So do we. */
static bool split_wide(int bar, uint64_t off, unsigned size)
{
    return bar == VIRTIO_PCI_MODERN_BAR && size == 8 && (off & 7) == 0;
}

static uint64_t vp_mmio_read(hv_dev *dev, int bar, uint64_t off, unsigned size)
{
    if (split_wide(bar, off, size))
        return vp_mmio_read(dev, bar, off, 4) |
               vp_mmio_read(dev, bar, off + 4, 4) << 32;
    if (bar != VIRTIO_PCI_MODERN_BAR || !access_ok(off, size) ||
        off >= VIRTIO_PCI_MODERN_BAR_SIZE)
        return 0; /* also holes of the MSI-X BAR */
    return modern_read(to_vp(dev), off, size);
}

static void vp_mmio_write(hv_dev *dev, int bar, uint64_t off, unsigned size,
                          uint64_t val)
{
    if (split_wide(bar, off, size)) {
        vp_mmio_write(dev, bar, off, 4, val & 0xffffffffu);
        vp_mmio_write(dev, bar, off + 4, 4, val >> 32);
        return;
    }
    if (bar != VIRTIO_PCI_MODERN_BAR || !access_ok(off, size) ||
        off >= VIRTIO_PCI_MODERN_BAR_SIZE)
        return;
    modern_write(to_vp(dev), off, size, (uint32_t)val);
}

/* ---- BAR 0: legacy interface (4.1.4.10) ----------------------------------- */

static unsigned legacy_cfg_off(const struct virtio_pci *vp)
{
    return hv_msix_enabled(&vp->dev) ? VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX
                                     : VIRTIO_PCI_LEGACY_CONFIG_OFF;
}

static uint32_t legacy_reg_read(struct virtio_pci *vp, uint64_t off)
{
    struct virtio_pci_queue *q = sel_queue(vp);

    switch (off) {
    case VIRTIO_PCI_LEGACY_HOST_FEATURES:
        return (uint32_t)vp->host_features | LEGACY_ONLY_FEATURES;
    case VIRTIO_PCI_LEGACY_GUEST_FEATURES:
        return (uint32_t)vp->features;
    case VIRTIO_PCI_LEGACY_QUEUE_PFN:
        return q ? (uint32_t)(q->vq.desc >> VIRTIO_PCI_LEGACY_PFN_SHIFT) : 0;
    case VIRTIO_PCI_LEGACY_QUEUE_NUM:
        return q ? q->vq.size : 0;
    case VIRTIO_PCI_LEGACY_QUEUE_SEL:
        return vp->queue_sel;
    case VIRTIO_PCI_LEGACY_STATUS:
        return vp->status;
    case VIRTIO_PCI_LEGACY_ISR:
        return isr_read(vp);
    case VIRTIO_PCI_LEGACY_MSIX_CONFIG:
        return vp->config_vector;
    case VIRTIO_PCI_LEGACY_MSIX_QUEUE:
        return q ? q->vector : HV_MSIX_NO_VECTOR;
    default:
        return 0xffffffffu;
    }
}

/* Legacy ring layout (2.7.2 legacy): desc, avail (+ used_event), then the
 * used ring at the next 4 KiB boundary. PFN 0 resets the device (QEMU). */
static void legacy_set_pfn(struct virtio_pci *vp, uint32_t pfn)
{
    struct virtio_pci_queue *q = sel_queue(vp);
    uint64_t pa = (uint64_t)pfn << VIRTIO_PCI_LEGACY_PFN_SHIFT;
    const uint64_t align = VIRTIO_PCI_LEGACY_VRING_ALIGN;

    if (pa == 0) {
        virtio_pci_reset(vp, false);
        return;
    }
    if (!q)
        return;
    q->vq.desc = pa;
    q->vq.avail = pa + (uint64_t)VIRTQ_DESC_SIZE * q->vq.size;
    q->vq.used = (q->vq.avail + VIRTQ_AVAIL_HDR + 2ull * q->vq.size + 2 +
                  align - 1) & ~(align - 1);
    q->vq.enabled = true;
    q->vq.event_idx = virtio_pci_has_feature(vp, VIRTIO_F_EVENT_IDX);
}

static void legacy_write_status(struct virtio_pci *vp, uint8_t val)
{
    write_status(vp, val, false);
    /* QEMU: old Linux drivers forget bus mastering; turn it on for them. */
    if (val == (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER))
        vp->dev.pci.cfg[HV_PCI_COMMAND] |= HV_PCI_CMD_MASTER;
}

static void legacy_reg_write(struct virtio_pci *vp, uint64_t off, uint32_t val)
{
    struct virtio_pci_queue *q = sel_queue(vp);

    switch (off) {
    case VIRTIO_PCI_LEGACY_GUEST_FEATURES:
        set_features(vp, val & ((uint32_t)vp->host_features | LEGACY_ONLY_FEATURES));
        break;
    case VIRTIO_PCI_LEGACY_QUEUE_PFN:
        legacy_set_pfn(vp, val);
        break;
    case VIRTIO_PCI_LEGACY_QUEUE_SEL:
        if (val < VIRTIO_PCI_QUEUE_SEL_MAX)
            vp->queue_sel = (uint16_t)val;
        break;
    case VIRTIO_PCI_LEGACY_QUEUE_NOTIFY:
        kick(vp, val & 0xffffu);
        break;
    case VIRTIO_PCI_LEGACY_STATUS:
        legacy_write_status(vp, (uint8_t)val);
        break;
    case VIRTIO_PCI_LEGACY_MSIX_CONFIG:
        vp->config_vector = checked_vector(vp, val & 0xffffu);
        break;
    case VIRTIO_PCI_LEGACY_MSIX_QUEUE:
        if (q)
            q->vector = checked_vector(vp, val & 0xffffu);
        break;
    default: /* read-only or not a register */
        break;
    }
}

static uint32_t vp_pio_read(hv_dev *dev, int bar, uint64_t off, unsigned size)
{
    struct virtio_pci *vp = to_vp(dev);
    unsigned cfg = legacy_cfg_off(vp);

    if (bar != VIRTIO_PCI_LEGACY_BAR || !access_ok(off, size))
        return 0;
    if (off < cfg)
        return legacy_reg_read(vp, off) & size_mask(size);
    return devcfg_read(vp, off - cfg, size);
}

static void vp_pio_write(hv_dev *dev, int bar, uint64_t off, unsigned size,
                         uint32_t val)
{
    struct virtio_pci *vp = to_vp(dev);
    unsigned cfg = legacy_cfg_off(vp);

    if (bar != VIRTIO_PCI_LEGACY_BAR || !access_ok(off, size))
        return;
    val &= size_mask(size);
    if (off < cfg)
        legacy_reg_write(vp, off, val);
    else
        devcfg_write(vp, off - cfg, size, val);
}

/* ---- PCI configuration space hooks --------------------------------------- */

static bool covers(unsigned off, unsigned size, unsigned byte)
{
    return byte >= off && byte - off < size;
}

/* 4.1.4.8: an access of cap.length bytes at cap.offset in BAR cap.bar. */
struct cfg_window {
    uint8_t bar;
    uint32_t off, len;
};

static bool cfg_window(const struct virtio_pci *vp, struct cfg_window *w)
{
    const uint8_t *c = vp->dev.pci.cfg + VIRTIO_PCI_CAP_PCICFG_OFF;
    uint64_t bar_size;

    w->bar = c[VIRTIO_PCI_CAP_BAR];
    w->len = hv_ld_le(c + VIRTIO_PCI_CAP_LENGTH, 4);
    w->off = hv_ld_le(c + VIRTIO_PCI_CAP_OFFSET, 4);
    if ((w->len != 1 && w->len != 2 && w->len != 4) ||
        w->bar >= HV_PCI_NUM_BARS)
        return false;
    w->off &= ~(w->len - 1); /* QEMU aligns, the driver MUST anyway */
    bar_size = vp->dev.pci.bars[w->bar].size;
    return w->off < bar_size && w->len <= bar_size - w->off;
}

static uint32_t bar_read(struct virtio_pci *vp, const struct cfg_window *w)
{
    uint64_t v = 0;

    if (w->bar == VIRTIO_PCI_LEGACY_BAR)
        return vp_pio_read(&vp->dev, w->bar, w->off, w->len);
    if (hv_msix_mmio_read(&vp->dev, w->bar, w->off, w->len, &v))
        return (uint32_t)v;
    return (uint32_t)vp_mmio_read(&vp->dev, w->bar, w->off, w->len);
}

static void bar_write(struct virtio_pci *vp, const struct cfg_window *w,
                      uint32_t val)
{
    if (w->bar == VIRTIO_PCI_LEGACY_BAR)
        vp_pio_write(&vp->dev, w->bar, w->off, w->len, val);
    else if (!hv_msix_mmio_write(&vp->dev, w->bar, w->off, w->len, val))
        vp_mmio_write(&vp->dev, w->bar, w->off, w->len, val);
}

/* PCI_CFG capability reads (4.1.4.8): load pci_cfg_data from the BAR
 * window before the config read returns. */
static void vp_cfg_read(hv_dev *dev, unsigned off, unsigned size)
{
    struct virtio_pci *vp = to_vp(dev);
    uint8_t *data = dev->pci.cfg + VIRTIO_PCI_CAP_PCICFG_OFF +
                    VIRTIO_PCI_CAP_CFG_DATA;
    struct cfg_window w;

    if (!covers(off, size, VIRTIO_PCI_CAP_PCICFG_OFF + VIRTIO_PCI_CAP_CFG_DATA) ||
        !cfg_window(vp, &w))
        return;
    hv_st_le(data, w.len, bar_read(vp, &w));
}

static void vp_cfg_written(hv_dev *dev, unsigned off, unsigned size,
                           uint32_t val)
{
    struct virtio_pci *vp = to_vp(dev);
    struct cfg_window w;

    (void)val;
    /* QEMU: bus mastering off stops the device (DRIVER_OK cleared). */
    if (covers(off, size, HV_PCI_COMMAND) &&
        !(hv_pci_command(dev) & HV_PCI_CMD_MASTER) &&
        (vp->status & VIRTIO_STATUS_DRIVER_OK))
        apply_status(vp, vp->status & (uint8_t)~VIRTIO_STATUS_DRIVER_OK);
    if (covers(off, size, VIRTIO_PCI_CAP_PCICFG_OFF + VIRTIO_PCI_CAP_CFG_DATA) &&
        cfg_window(vp, &w))
        bar_write(vp, &w,
                  hv_ld_le(dev->pci.cfg + VIRTIO_PCI_CAP_PCICFG_OFF +
                               VIRTIO_PCI_CAP_CFG_DATA, w.len));
}

/* ---- hv_dev ops ----------------------------------------------------------- */

static void vp_reset(hv_dev *dev)
{
    virtio_pci_reset(to_vp(dev), true);
}

static void vp_free(struct virtio_pci *vp)
{
    free(vp->queues);
    free(vp->config);
    hv_msix_free(&vp->dev);
    vp->queues = NULL;
    vp->config = NULL;
}

static void vp_destroy(hv_dev *dev)
{
    struct virtio_pci *vp = to_vp(dev);

    vp->vops->destroy(vp);
    vp_free(vp);
    free(vp);
}

/* Snapshots: the model's struct (which starts with the transport) is copied
 * whole, then the queue array and the config buffer. Every pointer in it
 * was set at creation and never changes, so a byte copy is exact. */
static size_t queues_bytes(const struct virtio_pci *vp)
{
    return (size_t)vp->p.num_queues * sizeof(*vp->queues);
}

static void *vp_save(const hv_dev *dev)
{
    const struct virtio_pci *vp = (const struct virtio_pci *)dev;
    size_t qb = queues_bytes(vp);
    uint8_t *s;

    if (vp->p.state_size < sizeof(*vp)) /* the model did not say its size */
        return NULL;
    s = malloc(vp->p.state_size + qb + vp->p.config_len);
    if (!s)
        return NULL;
    memcpy(s, vp, vp->p.state_size);
    memcpy(s + vp->p.state_size, vp->queues, qb);
    memcpy(s + vp->p.state_size + qb, vp->config, vp->p.config_len);
    return s;
}

static void vp_load(hv_dev *dev, const void *state)
{
    struct virtio_pci *vp = to_vp(dev);
    const uint8_t *s = state;
    size_t qb = queues_bytes(vp);

    memcpy(vp, s, vp->p.state_size);
    memcpy(vp->queues, s + vp->p.state_size, qb);
    memcpy(vp->config, s + vp->p.state_size + qb, vp->p.config_len);
    if (vp->vops->restored)
        vp->vops->restored(vp);
}

static const struct hv_dev_ops virtio_pci_dev_ops = {
    .mmio_read = vp_mmio_read,
    .mmio_write = vp_mmio_write,
    .pio_read = vp_pio_read,
    .pio_write = vp_pio_write,
    .cfg_read = vp_cfg_read,
    .cfg_written = vp_cfg_written,
    .reset = vp_reset,
    .destroy = vp_destroy,
    .save = vp_save,
    .load = vp_load,
};

/* ---- construction ---------------------------------------------------------- */

static void add_vendor_cap(hv_dev *dev, uint8_t at, uint8_t len, uint8_t type,
                           uint8_t bar, uint32_t off, uint32_t length)
{
    uint8_t *c = dev->pci.cfg + at;

    hv_pci_add_cap(dev, HV_PCI_CAP_ID_VNDR, at, len);
    c[2] = len;
    c[VIRTIO_PCI_CAP_CFG_TYPE] = type;
    c[VIRTIO_PCI_CAP_BAR] = bar;
    hv_st_le(c + VIRTIO_PCI_CAP_OFFSET, 4, off);
    hv_st_le(c + VIRTIO_PCI_CAP_LENGTH, 4, length);
}

/* QEMU's order, each new capability at the head of the list. */
static void add_caps(hv_dev *dev)
{
    const uint8_t b = VIRTIO_PCI_MODERN_BAR;
    const uint32_t rs = VIRTIO_PCI_REGION_SIZE;
    uint8_t *wm = dev->pci.wmask + VIRTIO_PCI_CAP_PCICFG_OFF;

    add_vendor_cap(dev, VIRTIO_PCI_CAP_COMMON_OFF, VIRTIO_PCI_CAP_LEN,
                   VIRTIO_PCI_CAP_COMMON_CFG, b, VIRTIO_PCI_COMMON_OFF, rs);
    add_vendor_cap(dev, VIRTIO_PCI_CAP_ISR_OFF, VIRTIO_PCI_CAP_LEN,
                   VIRTIO_PCI_CAP_ISR_CFG, b, VIRTIO_PCI_ISR_OFF, rs);
    add_vendor_cap(dev, VIRTIO_PCI_CAP_DEVICE_OFF, VIRTIO_PCI_CAP_LEN,
                   VIRTIO_PCI_CAP_DEVICE_CFG, b, VIRTIO_PCI_DEVICE_OFF, rs);
    add_vendor_cap(dev, VIRTIO_PCI_CAP_NOTIFY_OFF, VIRTIO_PCI_NOTIFY_CAP_LEN,
                   VIRTIO_PCI_CAP_NOTIFY_CFG, b, VIRTIO_PCI_NOTIFY_OFF, rs);
    hv_st_le(dev->pci.cfg + VIRTIO_PCI_CAP_NOTIFY_OFF +
                 VIRTIO_PCI_CAP_NOTIFY_MULT, 4, VIRTIO_PCI_NOTIFY_MULTIPLIER);
    /* PCI_CFG: bar, offset, length and data are driver-writable. */
    add_vendor_cap(dev, VIRTIO_PCI_CAP_PCICFG_OFF, VIRTIO_PCI_CFG_CAP_LEN,
                   VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0);
    wm[VIRTIO_PCI_CAP_BAR] = 0xff;
    memset(wm + VIRTIO_PCI_CAP_OFFSET, 0xff, 12); /* offset, length, data */
}

static uint32_t pow2ceil(uint32_t v)
{
    uint32_t p = 1;

    while (p < v)
        p <<= 1;
    return p;
}

static bool params_ok(const struct virtio_pci_params *p)
{
    return p->num_queues >= 1 && p->num_queues <= VIRTIO_PCI_MAX_QUEUES &&
           p->queue_max_size >= 1 && p->queue_max_size <= VIRTQ_MAX_SIZE &&
           (p->queue_max_size & (p->queue_max_size - 1)) == 0 &&
           p->config_len >= 1 && p->config_len <= VIRTIO_PCI_REGION_SIZE;
}

static void build_pci(struct virtio_pci *vp)
{
    hv_dev *dev = &vp->dev;
    const struct virtio_pci_params *p = &vp->p;

    hv_pci_init(dev, VIRTIO_PCI_VENDOR_ID, p->pci_device_id, p->class_code, 0,
                VIRTIO_PCI_VENDOR_ID, p->virtio_id);
    hv_pci_set_bar(dev, VIRTIO_PCI_LEGACY_BAR, HV_BAR_IO,
                   pow2ceil(VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX + p->config_len),
                   false);
    hv_pci_set_bar(dev, VIRTIO_PCI_MSIX_BAR, HV_BAR_MEM32,
                   VIRTIO_PCI_MSIX_BAR_SIZE, false);
    hv_pci_set_bar(dev, VIRTIO_PCI_MODERN_BAR, HV_BAR_MEM64,
                   VIRTIO_PCI_MODERN_BAR_SIZE, true);
    hv_pci_set_interrupt_pin(dev, 1);
    add_caps(dev);
}

int virtio_pci_init(struct virtio_pci *vp, hv_machine *m,
                    const struct virtio_dev_ops *vops,
                    const struct virtio_pci_params *p)
{
    if (!params_ok(p))
        return -1;
    hv_dev_init(&vp->dev, m, &virtio_pci_dev_ops, p->name);
    vp->vops = vops;
    vp->p = *p;
    vp->host_features = TRANSPORT_FEATURES | p->device_features;
    vp->queues = calloc(p->num_queues, sizeof(*vp->queues));
    vp->config = calloc(1, p->config_len);
    build_pci(vp);
    if (!vp->queues || !vp->config ||
        hv_msix_init(&vp->dev, (uint16_t)(p->num_queues + 1),
                     VIRTIO_PCI_MSIX_BAR, 0, VIRTIO_PCI_MSIX_PBA_OFF,
                     VIRTIO_PCI_CAP_MSIX_OFF) < 0) {
        vp_free(vp);
        return -1;
    }
    hv_pci_finalize(&vp->dev);
    for (uint16_t i = 0; i < p->num_queues; i++)
        virtq_init(&vp->queues[i].vq, &vp->dev, i, p->queue_max_size);
    return 0;
}
