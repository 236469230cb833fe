/*
 * Driver-side helpers for the virtio tests: a machine with virtio-blk at
 * 00:01.0 and QEMU's BAR addresses, common-config accessors, and a tiny
 * split-ring driver that writes descriptors and rings with hv_mem_write and
 * kicks through the notify region, as a guest driver would.
 */
#ifndef HV_TEST_VIRTIO_VTEST_H
#define HV_TEST_VIRTIO_VTEST_H

#include <stdlib.h>
#include <string.h>

#include "hv_test.h"
#include "targets/common/hv_device.h"
#include "targets/virtio/virtio_blk.h"
#include "targets/virtio/virtio_regs.h"

#define VT_BDF 0x08
#define VT_BAR0 0xc000u
#define VT_BAR1 0xfebfe000ull
#define VT_BAR4 0xfebf8000ull
#define VT_COMMON (VT_BAR4 + VIRTIO_PCI_COMMON_OFF)
#define VT_ISR (VT_BAR4 + VIRTIO_PCI_ISR_OFF)
#define VT_DEVCFG (VT_BAR4 + VIRTIO_PCI_DEVICE_OFF)
#define VT_NOTIFY (VT_BAR4 + VIRTIO_PCI_NOTIFY_OFF)
#define VT_DMA HV_DMA_WINDOW_BASE
#define VT_QAREA 0x4000u            /* per queue: desc, avail, used, indirect */
#define VT_DATA (VT_DMA + 0x20000u) /* data buffers */

/* ---- machine ---------------------------------------------------------- */

static inline void vt_program_bars(hv_machine *m)
{
    hv_bus_cfg_write(m, VT_BDF, HV_PCI_BAR0, 4, VT_BAR0);
    hv_bus_cfg_write(m, VT_BDF, HV_PCI_BAR0 + 4, 4, (uint32_t)VT_BAR1);
    hv_bus_cfg_write(m, VT_BDF, HV_PCI_BAR0 + 16, 4, (uint32_t)VT_BAR4);
    hv_bus_cfg_write(m, VT_BDF, HV_PCI_BAR0 + 20, 4, 0);
    hv_bus_cfg_write(m, VT_BDF, HV_PCI_COMMAND, 2,
                     HV_PCI_CMD_IO | HV_PCI_CMD_MEM | HV_PCI_CMD_MASTER);
}

/* A machine with one virtio-blk (params may be NULL), BARs programmed. */
static inline hv_machine *vt_machine(const struct virtio_blk_params *p,
                                     hv_dev **dev_out)
{
    hv_machine *m = hv_machine_create(NULL);
    hv_dev *d = m ? virtio_blk_create_ex(m, p) : NULL;

    if (!d || hv_machine_add(m, d, VT_BDF) < 0) {
        fprintf(stderr, "cannot build the machine\n");
        exit(2);
    }
    hv_machine_reset(m);
    vt_program_bars(m);
    if (dev_out)
        *dev_out = d;
    return m;
}

static inline uint32_t vt_cr(hv_machine *m, unsigned off, unsigned size)
{
    return (uint32_t)hv_bus_mmio_read(m, VT_COMMON + off, size);
}

static inline void vt_cw(hv_machine *m, unsigned off, unsigned size,
                         uint32_t val)
{
    hv_bus_mmio_write(m, VT_COMMON + off, size, val);
}

static inline uint32_t vt_cfg(hv_machine *m, unsigned off, unsigned size)
{
    return hv_bus_cfg_read(m, VT_BDF, off, size);
}

static inline uint8_t vt_status(hv_machine *m)
{
    return (uint8_t)vt_cr(m, VIRTIO_PCI_COMMON_STATUS, 1);
}

static inline uint64_t vt_device_features(hv_machine *m)
{
    uint64_t f;

    vt_cw(m, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    f = vt_cr(m, VIRTIO_PCI_COMMON_DF, 4);
    vt_cw(m, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    return f | (uint64_t)vt_cr(m, VIRTIO_PCI_COMMON_DF, 4) << 32;
}

static inline void vt_write_features(hv_machine *m, uint64_t f)
{
    vt_cw(m, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    vt_cw(m, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)f);
    vt_cw(m, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    vt_cw(m, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(f >> 32));
}

/* ---- a split ring, driver side ------------------------------------------- */

struct vt_queue {
    hv_machine *m;
    uint16_t q, size;
    uint64_t desc, avail, used, indirect;
    uint16_t avail_idx;
};

static inline void vt_put(hv_machine *m, uint64_t gpa, unsigned size,
                          uint64_t v)
{
    uint8_t b[8];

    hv_st_le(b, size, v);
    hv_mem_write(m, gpa, b, size);
}

static inline uint64_t vt_get(hv_machine *m, uint64_t gpa, unsigned size)
{
    uint8_t b[8] = {0};

    hv_mem_read(m, gpa, b, size);
    return hv_ld_le(b, size > 4 ? 4 : size) |
           (size > 4 ? (uint64_t)hv_ld_le(b + 4, 4) << 32 : 0);
}

static inline void vt_queue_layout(struct vt_queue *vq, hv_machine *m,
                                   uint16_t q, uint16_t size)
{
    uint64_t base = VT_DMA + (uint64_t)q * VT_QAREA;

    memset(vq, 0, sizeof(*vq));
    vq->m = m;
    vq->q = q;
    vq->size = size;
    vq->desc = base;
    vq->avail = base + 0x1000;
    vq->used = base + 0x2000;
    vq->indirect = base + 0x3000;
    hv_mem_fill(m, base, 0, VT_QAREA);
}

/* Program queue q through the common config and enable it. */
static inline void vt_queue_setup(struct vt_queue *vq, hv_machine *m,
                                  uint16_t q, uint16_t size)
{
    vt_queue_layout(vq, m, q, size);
    vt_cw(m, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
    vt_cw(m, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
    vt_cw(m, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)vq->desc);
    vt_cw(m, VIRTIO_PCI_COMMON_Q_DESCHI, 4, (uint32_t)(vq->desc >> 32));
    vt_cw(m, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)vq->avail);
    vt_cw(m, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, (uint32_t)(vq->avail >> 32));
    vt_cw(m, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)vq->used);
    vt_cw(m, VIRTIO_PCI_COMMON_Q_USEDHI, 4, (uint32_t)(vq->used >> 32));
    vt_cw(m, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

/* Linux's init sequence (3.1.1) accepting `features`; queues 0..nq-1.
 * Returns the status read back after FEATURES_OK. */
static inline uint8_t vt_driver_init(hv_machine *m, uint64_t features,
                                     struct vt_queue *qs, uint16_t nq,
                                     uint16_t qsize)
{
    uint8_t st;

    vt_cw(m, VIRTIO_PCI_COMMON_STATUS, 1, 0);
    vt_cw(m, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
    vt_cw(m, VIRTIO_PCI_COMMON_STATUS, 1,
          VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    vt_write_features(m, features);
    vt_cw(m, VIRTIO_PCI_COMMON_STATUS, 1,
          VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
              VIRTIO_STATUS_FEATURES_OK);
    st = vt_status(m);
    if (!(st & VIRTIO_STATUS_FEATURES_OK))
        return st;
    for (uint16_t q = 0; q < nq; q++)
        vt_queue_setup(&qs[q], m, q, qsize);
    vt_cw(m, VIRTIO_PCI_COMMON_STATUS, 1, st | VIRTIO_STATUS_DRIVER_OK);
    return st;
}

static inline void vt_desc(const struct vt_queue *vq, uint64_t table,
                           uint16_t i, uint64_t addr, uint32_t len,
                           uint16_t flags, uint16_t next)
{
    uint8_t d[VIRTQ_DESC_SIZE];

    hv_st_le(d, 8, addr);
    hv_st_le(d + 8, 4, len);
    hv_st_le(d + 12, 2, flags);
    hv_st_le(d + 14, 2, next);
    hv_mem_write(vq->m, table + (uint64_t)i * VIRTQ_DESC_SIZE, d, sizeof(d));
}

/* Make `head` available (ring entry, then avail->idx). */
static inline void vt_avail(struct vt_queue *vq, uint16_t head)
{
    vt_put(vq->m, vq->avail + VIRTQ_AVAIL_HDR + 2u * (vq->avail_idx % vq->size),
           2, head);
    vq->avail_idx++;
    vt_put(vq->m, vq->avail + 2, 2, vq->avail_idx);
}

static inline void vt_kick(const struct vt_queue *vq)
{
    hv_bus_mmio_write(vq->m, VT_NOTIFY + VIRTIO_PCI_NOTIFY_MULTIPLIER * vq->q,
                      2, vq->q);
}

static inline uint16_t vt_used_idx(const struct vt_queue *vq)
{
    return (uint16_t)vt_get(vq->m, vq->used + 2, 2);
}

static inline void vt_used_elem(const struct vt_queue *vq, uint16_t i,
                                uint32_t *id, uint32_t *len)
{
    uint64_t e = vq->used + VIRTQ_USED_HDR +
                 (uint64_t)VIRTQ_USED_ELEM_SIZE * (i % vq->size);

    *id = (uint32_t)vt_get(vq->m, e, 4);
    *len = (uint32_t)vt_get(vq->m, e + 4, 4);
}

/* ---- trace capture -------------------------------------------------------- */

struct vt_trace {
    char buf[16384];
    size_t len;
};

static inline void vt_trace_fn(void *opaque, const char *line)
{
    struct vt_trace *t = opaque;
    size_t n = strlen(line);

    if (t->len + n + 2 < sizeof(t->buf)) {
        memcpy(t->buf + t->len, line, n);
        t->len += n;
        t->buf[t->len++] = '\n';
        t->buf[t->len] = 0;
    }
}

static inline void vt_trace_clear(struct vt_trace *t)
{
    t->len = 0;
    t->buf[0] = 0;
}

#endif
