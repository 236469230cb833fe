/*
 * Structure-aware virtio ops: virtq_setup (the virtio 1.2 driver init
 * sequence over the modern virtio-pci transport) and virtq_submit (a split
 * virtqueue descriptor chain, avail ring update and notify), expanded into
 * hv_exec_ops calls. See hv_program.h for the exact sequences.
 * Freestanding C: no libc, no malloc, no mutable globals.
 */
#include "harness/program/hv_program.h"
#include "harness/program/hv_program_internal.h"
#include "targets/virtio/virtio_regs.h"

struct vctx {
    const struct hv_layout *l;
    const struct hv_exec_ops *ops;
    void *ctx;
    uint64_t common; /* GPA of the common configuration structure */
    uint64_t notify; /* GPA of the notify area */
};

/* The layout's virtio region, if it is usable by the structure-aware ops
 * (holds the common cfg and HV_VIRTQ_MAX notify slots) and the DMA window
 * holds the rings plus a data area; and the host callbacks they use. */
static bool vctx_init(struct vctx *v, const struct hv_layout *l,
                      const struct hv_exec_ops *ops, void *ctx)
{
    if (l->virtio_region < 0 || l->virtio_region >= (int)l->nmmio)
        return false;
    const struct hv_layout_region *r = &l->mmio[l->virtio_region];
    if (r->size < VIRTIO_PCI_NOTIFY_OFF +
                      VIRTIO_PCI_NOTIFY_MULTIPLIER * HV_VIRTQ_MAX ||
        r->size < VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_SIZE)
        return false;
    if (l->dma_size < HV_VIRTQ_MIN_WINDOW)
        return false;
    if (!ops->mmio_read || !ops->mmio_write || !ops->mem_write ||
        !ops->mem_fill)
        return false;
    v->l = l;
    v->ops = ops;
    v->ctx = ctx;
    v->common = r->base + VIRTIO_PCI_COMMON_OFF;
    v->notify = r->base + VIRTIO_PCI_NOTIFY_OFF;
    return true;
}

static void cw(const struct vctx *v, unsigned reg, unsigned size, uint64_t val)
{
    v->ops->mmio_write(v->ctx, v->common + reg, size, val);
}

static uint64_t cr(const struct vctx *v, unsigned reg, unsigned size)
{
    uint64_t val = v->ops->mmio_read(v->ctx, v->common + reg, size);
    return size == 8 ? val : val & ((1ull << (8 * size)) - 1);
}

static unsigned pow2_floor(unsigned x)
{
    unsigned p = 1;
    if (x == 0)
        return 0;
    while (p <= x / 2)
        p <<= 1;
    return p;
}

static uint64_t queue_base(const struct hv_layout *l, unsigned q)
{
    return l->dma_base + (uint64_t)q * HV_VIRTQ_AREA;
}

bool hv_virtq_setup(const struct hv_layout *l, const struct hv_op *op,
                    const struct hv_exec_ops *ops, void *ctx,
                    struct hv_shadow *sh)
{
    struct vctx v;
    if (!vctx_init(&v, l, ops, ctx))
        return false;

    /* The device is reset: so is the shadow's queue state (the data area
     * cursor goes on). */
    hv_shadow_reset_queues(sh);

    /* pci_enable_device + pci_set_master: memory (and I/O, if the device
     * has an I/O region) decoding and bus mastering on. */
    const struct hv_layout_region *r = &l->mmio[l->virtio_region];
    hv_prog_pci_enable(l, r->dev, ops, ctx);

    cw(&v, VIRTIO_PCI_COMMON_STATUS, 1, 0);
    cw(&v, VIRTIO_PCI_COMMON_STATUS, 1,
       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

    cw(&v, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    uint64_t dev = cr(&v, VIRTIO_PCI_COMMON_DF, 4);
    cw(&v, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    dev |= cr(&v, VIRTIO_PCI_COMMON_DF, 4) << 32;

    uint64_t drv = dev & ((1ull << VIRTIO_F_VERSION_1) | (op->val & 0xffffffffu));
    cw(&v, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    cw(&v, VIRTIO_PCI_COMMON_GF, 4, drv & 0xffffffffu);
    cw(&v, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    cw(&v, VIRTIO_PCI_COMMON_GF, 4, drv >> 32);
    sh->features = drv;

    const unsigned st_feat = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                             VIRTIO_STATUS_FEATURES_OK;
    cw(&v, VIRTIO_PCI_COMMON_STATUS, 1, st_feat);
    uint64_t st = cr(&v, VIRTIO_PCI_COMMON_STATUS, 1);
    if (!(st & VIRTIO_STATUS_FEATURES_OK)) {
        /* The device refused the features: Linux marks it FAILED. */
        cw(&v, VIRTIO_PCI_COMMON_STATUS, 1, (st | VIRTIO_STATUS_FAILED) & 0xff);
        return true;
    }

    unsigned numq = (unsigned)cr(&v, VIRTIO_PCI_COMMON_NUMQ, 2);
    unsigned nq = 1 + op->region % HV_VIRTQ_MAX;
    if (nq > numq)
        nq = numq;

    for (unsigned q = 0; q < nq; q++) {
        cw(&v, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        unsigned max = (unsigned)cr(&v, VIRTIO_PCI_COMMON_Q_SIZE, 2);
        if (max == 0)
            continue; /* queue not available */
        unsigned size = op->len ? pow2_floor(op->len & 0xffffu) : max;
        if (size > max)
            size = max;
        if (size > HV_VIRTQ_MAX_SIZE)
            size = HV_VIRTQ_MAX_SIZE;
        size = pow2_floor(size);
        cw(&v, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);

        uint64_t base = queue_base(l, q);
        uint64_t desc = base + HV_VIRTQ_DESC_OFF;
        uint64_t avail = base + HV_VIRTQ_AVAIL_OFF;
        uint64_t used = base + HV_VIRTQ_USED_OFF;
        ops->mem_fill(ctx, desc, 0, VIRTQ_DESC_SIZE * size);
        ops->mem_fill(ctx, avail, 0, VIRTQ_AVAIL_HDR + 2 * size + 2);
        ops->mem_fill(ctx, used, 0,
                      VIRTQ_USED_HDR + VIRTQ_USED_ELEM_SIZE * size + 2);

        cw(&v, VIRTIO_PCI_COMMON_Q_DESCLO, 4, desc & 0xffffffffu);
        cw(&v, VIRTIO_PCI_COMMON_Q_DESCHI, 4, desc >> 32);
        cw(&v, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, avail & 0xffffffffu);
        cw(&v, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, avail >> 32);
        cw(&v, VIRTIO_PCI_COMMON_Q_USEDLO, 4, used & 0xffffffffu);
        cw(&v, VIRTIO_PCI_COMMON_Q_USEDHI, 4, used >> 32);
        cw(&v, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
        sh->vq[q].size = (uint16_t)size;
    }
    sh->nvq = (uint8_t)nq;

    cw(&v, VIRTIO_PCI_COMMON_STATUS, 1, st_feat | VIRTIO_STATUS_DRIVER_OK);
    return true;
}

/* A buffer of `len` bytes from the data area (window offset). */
static uint64_t data_alloc(const struct hv_layout *l, struct hv_shadow *sh,
                           uint32_t len)
{
    uint64_t end = l->dma_size;
    if (end > 0x80000000u)
        end = 0x80000000u;
    uint64_t off = sh->data_next;
    if (off < HV_DATA_AREA_OFF || off > end || len > end - off)
        off = HV_DATA_AREA_OFF;
    sh->data_next = (uint32_t)((off + len + 15) & ~(uint64_t)15);
    return off;
}

static void put_desc(uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    hv_prog_st_le(p, 8, addr);
    hv_prog_st_le(p + 8, 4, len);
    hv_prog_st_le(p + 12, 2, flags);
    hv_prog_st_le(p + 14, 2, next);
}

bool hv_virtq_submit(const struct hv_layout *l, const struct hv_op *op,
                     const struct hv_exec_ops *ops, void *ctx,
                     struct hv_shadow *sh)
{
    struct vctx v;
    if (!vctx_init(&v, l, ops, ctx) || sh->nvq == 0)
        return false;
    unsigned q = op->region % sh->nvq;
    struct hv_virtq_shadow *s = &sh->vq[q];
    if (s->size == 0 || s->size > HV_VIRTQ_MAX_SIZE)
        return false;

    unsigned nout = op->nout & 7u, nin = op->nin & 7u;
    unsigned nseg = nout + nin;
    uint8_t tbl[HV_VIRTQ_MAX_SEGS * VIRTQ_DESC_SIZE];
    uint32_t dlen = op->data ? op->len : 0, dpos = 0;
    bool indirect = (op->flags & HV_SUBMIT_F_INDIRECT) || nseg > s->size;

    /* Buffers, out data, and the chain (with next = table index + 1). */
    for (unsigned i = 0; i < nseg; i++) {
        uint32_t len = op->seg[i];
        uint64_t gpa = l->dma_base + data_alloc(l, sh, len);
        if (i < nout && dpos < dlen && len) {
            uint32_t n = dlen - dpos < len ? dlen - dpos : len;
            ops->mem_write(ctx, gpa, op->data + dpos, n);
            dpos += n;
        }
        uint16_t fl = (uint16_t)((i + 1 < nseg ? VIRTQ_DESC_F_NEXT : 0) |
                                 (i >= nout ? VIRTQ_DESC_F_WRITE : 0));
        put_desc(tbl + i * VIRTQ_DESC_SIZE, gpa, len, fl,
                 (uint16_t)(i + 1 < nseg ? i + 1 : 0));
    }

    uint64_t base = queue_base(l, q);
    uint64_t desc = base + HV_VIRTQ_DESC_OFF;
    uint64_t avail = base + HV_VIRTQ_AVAIL_OFF;
    uint16_t head = s->next_desc;
    if (head >= s->size)
        head = 0;

    if (indirect) {
        unsigned c = s->next_ind;
        if (c + nseg > HV_VIRTQ_MAX_SIZE)
            c = 0;
        uint64_t ind = base + HV_VIRTQ_INDIRECT_OFF + c * VIRTQ_DESC_SIZE;
        if (nseg)
            ops->mem_write(ctx, ind, tbl, nseg * VIRTQ_DESC_SIZE);
        s->next_ind = (uint16_t)(c + nseg);
        uint8_t d[VIRTQ_DESC_SIZE];
        put_desc(d, ind, nseg * VIRTQ_DESC_SIZE, VIRTQ_DESC_F_INDIRECT, 0);
        ops->mem_write(ctx, desc + (uint64_t)head * VIRTQ_DESC_SIZE, d,
                       VIRTQ_DESC_SIZE);
        s->next_desc = (uint16_t)((head + 1) % s->size);
    } else if (nseg) {
        /* Slots head, head+1, ... mod size: next fields follow the slots. */
        for (unsigned i = 0; i + 1 < nseg; i++)
            hv_prog_st_le(tbl + i * VIRTQ_DESC_SIZE + 14, 2, (head + i + 1) % s->size);
        unsigned first = s->size - head < nseg ? s->size - head : nseg;
        ops->mem_write(ctx, desc + (uint64_t)head * VIRTQ_DESC_SIZE, tbl,
                       first * VIRTQ_DESC_SIZE);
        if (first < nseg)
            ops->mem_write(ctx, desc, tbl + first * VIRTQ_DESC_SIZE,
                           (nseg - first) * VIRTQ_DESC_SIZE);
        s->next_desc = (uint16_t)((head + nseg) % s->size);
    }

    /* Avail ring: flags, the entry, used_event (EVENT_IDX), then (last) the
     * index. With EVENT_IDX the device ignores the flags: used_event asks
     * for an interrupt when this request's used entry is written, or (for
     * NO_INTERRUPT) names the entry before it, which has passed. */
    bool noint = op->flags & HV_SUBMIT_F_NO_INTERRUPT;
    uint8_t w[2];
    hv_prog_st_le(w, 2, noint ? VIRTQ_AVAIL_F_NO_INTERRUPT : 0);
    ops->mem_write(ctx, avail, w, 2);
    hv_prog_st_le(w, 2, head);
    ops->mem_write(ctx, avail + VIRTQ_AVAIL_HDR + 2u * (s->avail_idx % s->size), w, 2);
    if (sh->features & (1ull << VIRTIO_F_EVENT_IDX)) {
        hv_prog_st_le(w, 2, (uint16_t)(s->avail_idx - (noint ? 1 : 0)));
        ops->mem_write(ctx, avail + VIRTQ_AVAIL_HDR + 2u * s->size, w, 2);
    }
    s->avail_idx++;
    hv_prog_st_le(w, 2, s->avail_idx);
    ops->mem_write(ctx, avail + 2, w, 2);

    if (!(op->flags & HV_SUBMIT_F_NOKICK))
        ops->mmio_write(ctx, v.notify + VIRTIO_PCI_NOTIFY_MULTIPLIER * q, 2, q);
    return true;
}
