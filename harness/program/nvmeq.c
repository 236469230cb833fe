/*
 * Structure-aware NVMe ops: nvme_setup (Linux 6.1's controller enable and
 * I/O queue creation) and nvme_submit (one SQ entry with a PRP or SGL data
 * pointer, the doorbell, completion reaping), expanded into hv_exec_ops
 * calls. See hv_program.h for the exact sequences and the window layout.
 * Freestanding C: no libc, no malloc, no mutable globals.
 */
#include "harness/program/hv_program.h"
#include "harness/program/hv_program_internal.h"

/* controller registers (NVMe 1.4, 3.1) */
#define NVME_CAP 0x00u
#define NVME_VS 0x08u
#define NVME_CC 0x14u
#define NVME_CSTS 0x1cu
#define NVME_AQA 0x24u
#define NVME_ASQ 0x28u
#define NVME_ACQ 0x30u
#define NVME_DB 0x1000u
#define NVME_MIN_BAR 0x1010u

#define NVME_CC_LINUX 0x460061u /* IOCQES 4, IOSQES 6, CSS 6, EN */
#define NVME_CC_NVM 0x460001u   /* the same with CSS 0 (NVM only) */

#define SQE_SIZE 64u
#define CQE_SIZE 16u
#define PSDT_SGL 1u

#define ADM_CREATE_SQ 0x01u
#define ADM_CREATE_CQ 0x05u
#define ADM_IDENTIFY 0x06u
#define ADM_SET_FEATURES 0x09u
#define ADM_DBBUF_CONFIG 0x7cu
#define FEAT_NUM_QUEUES 0x07u
#define CNS_CTRL 0x01u
#define QUEUE_PC 0x1u
#define CQ_IEN 0x2u

#define SGL_DATA 0x0u
#define SGL_BIT_BUCKET 0x1u
#define SGL_SEGMENT 0x2u
#define SGL_LAST_SEGMENT 0x3u
#define SGL_DESC 16u

#define SETTLE_MAX 4096u /* settle calls per completion awaited */
#define PCI_CAP_PTR 0x34u
#define PCI_CAP_MIN 0x40u
#define PCI_CAP_MAX 48u
#define PCI_CAP_ID_MSIX 0x11u
#define PCI_MSIX_ENABLE 0x8000u

/* at most ceil((HV_NVME_BUF_OFFSET + 2 + HV_NVME_MAX_XFER) / page) pages */
#define MAX_PAGES ((HV_NVME_BUF_OFFSET + 2 + HV_NVME_MAX_XFER) / HV_NVME_PAGE + 1)

struct nctx {
    const struct hv_layout *l;
    const struct hv_exec_ops *ops;
    void *ctx;
    struct hv_shadow *sh;
    const struct hv_layout_region *r; /* the register BAR */
    uint64_t win;                     /* GPA of the DMA window */
};

/* The last completion a reap consumed. */
struct cqe {
    bool seen;
    uint32_t dw0;
    uint16_t status; /* with the phase bit */
};

static bool nctx_init(struct nctx *n, const struct hv_layout *l,
                      const struct hv_exec_ops *ops, void *ctx,
                      struct hv_shadow *sh)
{
    const struct hv_layout_region *r = hv_prog_model_region(l, "nvme");
    if (!r || r->size < NVME_MIN_BAR || l->dma_size < HV_NVME_MIN_WINDOW)
        return false;
    if (!ops->mmio_read || !ops->mmio_write || !ops->mem_write ||
        !ops->mem_fill || !ops->mem_read)
        return false;
    n->l = l;
    n->ops = ops;
    n->ctx = ctx;
    n->sh = sh;
    n->r = r;
    n->win = l->dma_base;
    return true;
}

static uint32_t reg_read(const struct nctx *n, unsigned reg)
{
    return (uint32_t)n->ops->mmio_read(n->ctx, n->r->base + reg, 4);
}

static void reg_write(const struct nctx *n, unsigned reg, uint32_t val)
{
    n->ops->mmio_write(n->ctx, n->r->base + reg, 4, val);
}

static uint32_t mem_read32(const struct nctx *n, uint64_t gpa)
{
    uint8_t b[4];
    n->ops->mem_read(n->ctx, gpa, b, 4);
    return (uint32_t)hv_prog_ld_le(b, 4);
}

static void mem_write32(const struct nctx *n, uint64_t gpa, uint32_t v)
{
    uint8_t b[4];
    hv_prog_st_le(b, 4, v);
    n->ops->mem_write(n->ctx, gpa, b, 4);
}

/* pci_alloc_irq_vectors: MSI-X enabled if the device has it. The I/O CQs
 * then get a vector each; on INTx they share vector 0 (QEMU rejects any
 * other vector without MSI-X). Returns whether MSI-X is on. */
static bool msix_enable(const struct nctx *n)
{
    const struct hv_layout *l = n->l;
    const struct hv_exec_ops *ops = n->ops;
    if (n->r->dev >= l->ndevs || l->devs[n->r->dev].bdf == HV_NO_BDF ||
        !ops->cfg_read || !ops->cfg_write)
        return false;
    uint8_t bdf = l->devs[n->r->dev].bdf;
    unsigned ptr = ops->cfg_read(n->ctx, bdf, PCI_CAP_PTR, 1) & 0xfcu;
    for (unsigned i = 0; i < PCI_CAP_MAX && ptr >= PCI_CAP_MIN; i++) {
        uint32_t hdr = ops->cfg_read(n->ctx, bdf, (uint8_t)ptr, 2);
        if ((hdr & 0xffu) == PCI_CAP_ID_MSIX) {
            uint8_t ctl = (uint8_t)(ptr + 2);
            uint32_t v = ops->cfg_read(n->ctx, bdf, ctl, 2) & 0xffffu;
            if (!(v & PCI_MSIX_ENABLE))
                ops->cfg_write(n->ctx, bdf, ctl, 2, v | PCI_MSIX_ENABLE);
            return true;
        }
        unsigned next = (hdr >> 8) & 0xfcu;
        if (next == ptr)
            break;
        ptr = next;
    }
    return false;
}

static uint64_t sq_base(const struct nctx *n, unsigned qid)
{
    if (qid == 0)
        return n->win + HV_NVME_ASQ_OFF;
    return n->win + HV_NVME_IOSQ_OFF + (uint64_t)(qid - 1) * HV_NVME_PAGE;
}

static uint64_t cq_base(const struct nctx *n, unsigned qid)
{
    if (qid == 0)
        return n->win + HV_NVME_ACQ_OFF;
    return n->win + HV_NVME_IOCQ_OFF + (uint64_t)(qid - 1) * HV_NVME_PAGE;
}

/* (2 * qid + is_cq) * (4 << DSTRD): doorbell offset past 0x1000, and
 * offset in the shadow doorbell / event index pages. */
static uint64_t db_index(const struct nctx *n, unsigned qid, unsigned is_cq)
{
    return (uint64_t)(2 * qid + is_cq) * (4ull << (n->sh->nvme.dstrd & 15));
}

/* Linux's nvme_dbbuf_update_and_check_event: false when the event index
 * says the controller does not need the MMIO write. */
static bool dbbuf_needs_mmio(const struct nctx *n, uint64_t idx, uint16_t val)
{
    uint64_t db = n->win + HV_NVME_DBS_OFF + idx;
    uint64_t ei = n->win + HV_NVME_EIS_OFF + idx;
    uint16_t old = (uint16_t)mem_read32(n, db);
    mem_write32(n, db, val);
    uint16_t event = (uint16_t)mem_read32(n, ei);
    return (uint16_t)(val - event - 1) < (uint16_t)(val - old);
}

static void ring(const struct nctx *n, unsigned qid, unsigned is_cq,
                 uint16_t val)
{
    uint64_t idx = db_index(n, qid, is_cq);
    if (n->sh->nvme.dbbuf && qid != 0 && idx + 4 <= HV_NVME_PAGE &&
        !dbbuf_needs_mmio(n, idx, val))
        return;
    if (NVME_DB + idx + 4 > n->r->size)
        return;
    n->ops->mmio_write(n->ctx, n->r->base + NVME_DB + idx, 4, val);
}

/* nvme_process_cq: consume entries whose phase matches, then one CQ head
 * doorbell. */
static void reap(const struct nctx *n, unsigned qid, struct cqe *last)
{
    struct hv_nvme_queue *q = &n->sh->nvme.q[qid];
    uint64_t base = cq_base(n, qid);
    unsigned count = 0;
    while (count < q->size) {
        uint8_t e[CQE_SIZE];
        n->ops->mem_read(n->ctx, base + (uint64_t)q->cq_head * CQE_SIZE, e,
                         CQE_SIZE);
        uint16_t status = (uint16_t)hv_prog_ld_le(e + 14, 2);
        if ((status & 1u) != q->phase)
            break;
        last->seen = true;
        last->dw0 = (uint32_t)hv_prog_ld_le(e, 4);
        last->status = status;
        if (++q->cq_head >= q->size) {
            q->cq_head = 0;
            q->phase ^= 1u;
        }
        count++;
    }
    if (count)
        ring(n, qid, 1, q->cq_head);
}

/* Whether the completion of `cid` is among the new entries of CQ qid (from
 * the head, while their phase bit says new; at most the queue size). */
static bool cqe_posted(const struct nctx *n, unsigned qid, uint16_t cid)
{
    const struct hv_nvme_queue *q = &n->sh->nvme.q[qid];
    for (unsigned k = 0; k < q->size; k++) {
        unsigned slot = (q->cq_head + k) % q->size;
        unsigned phase = q->phase ^ (q->cq_head + k >= q->size ? 1u : 0u);
        uint8_t e[CQE_SIZE];
        n->ops->mem_read(n->ctx, cq_base(n, qid) + (uint64_t)slot * CQE_SIZE, e,
                         CQE_SIZE);
        if ((hv_prog_ld_le(e + 14, 2) & 1u) != phase)
            return false;
        if (hv_prog_ld_le(e + 12, 2) == cid)
            return true;
    }
    return false;
}

/* Under stock QEMU a command completes after the doorbell write returns:
 * wait (boundedly) until the command just submitted has its completion,
 * as a driver waits for its interrupt (older completions already in the
 * queue do not end the wait). hvfuzz's hosts complete inside the write
 * (no settle op). */
static void await_completion(const struct nctx *n, unsigned qid, uint16_t cid)
{
    if (!n->ops->settle)
        return;
    for (unsigned i = 0; i < SETTLE_MAX; i++)
        if (cqe_posted(n, qid, cid) || !n->ops->settle(n->ctx))
            return;
}

/* Write the entry at the SQ tail (its CID set here), ring, reap. */
static void sq_push(const struct nctx *n, unsigned qid, uint8_t *sqe,
                    uint8_t flags, struct cqe *last)
{
    struct hv_nvme_queue *q = &n->sh->nvme.q[qid];
    uint16_t cid = n->sh->nvme.cid++;
    hv_prog_st_le(sqe + 2, 2, cid);
    if (q->sq_tail >= q->size)
        q->sq_tail = 0;
    n->ops->mem_write(n->ctx, sq_base(n, qid) + (uint64_t)q->sq_tail * SQE_SIZE,
                      sqe, SQE_SIZE);
    q->sq_tail = (uint16_t)((q->sq_tail + 1) % q->size);
    if (!(flags & HV_NVME_F_NOKICK))
        ring(n, qid, 0, q->sq_tail);
    if (!(flags & HV_NVME_F_NOREAP)) {
        if (!(flags & HV_NVME_F_NOKICK))
            await_completion(n, qid, cid);
        reap(n, qid, last);
    }
}

static void sqe_init(uint8_t *sqe, uint8_t opc, uint32_t nsid)
{
    for (unsigned i = 0; i < SQE_SIZE; i++)
        sqe[i] = 0;
    sqe[0] = opc;
    hv_prog_st_le(sqe + 4, 4, nsid);
}

static void admin(const struct nctx *n, uint8_t opc, uint32_t cdw10,
                  uint32_t cdw11, uint64_t prp1, uint64_t prp2, struct cqe *c)
{
    uint8_t sqe[SQE_SIZE];
    sqe_init(sqe, opc, 0);
    hv_prog_st_le(sqe + 24, 8, prp1);
    hv_prog_st_le(sqe + 32, 8, prp2);
    hv_prog_st_le(sqe + 40, 4, cdw10);
    hv_prog_st_le(sqe + 44, 4, cdw11);
    c->seen = false;
    sq_push(n, 0, sqe, 0, c);
}

static void queue_init(struct hv_nvme_queue *q, unsigned size)
{
    q->size = (uint16_t)size;
    q->sq_tail = 0;
    q->cq_head = 0;
    q->phase = 1;
}

void hv_nvme_shadow_reset(struct hv_nvme_shadow *s)
{
    for (unsigned i = 0; i <= HV_NVME_MAX_IOQ; i++)
        queue_init(&s->q[i], 0);
    s->nioq = 0;
    s->dstrd = 0;
    s->dbbuf = 0;
    s->ready = 0;
    s->cid = 0;
}

/* I/O queue entries: 0 -> the maximum; at least 2; at most MQES + 1. */
static unsigned io_qsize(uint32_t raw, uint32_t cap_lo)
{
    unsigned size = raw & 0xffffu;
    unsigned mqes = (cap_lo & 0xffffu) + 1u;
    if (size == 0 || size > HV_NVME_IOQ_MAX_SIZE)
        size = HV_NVME_IOQ_MAX_SIZE;
    if (size > mqes)
        size = mqes;
    return size < 2 ? 2 : size;
}

static void zero_queues(const struct nctx *n, unsigned nq, unsigned size,
                        bool dbbuf)
{
    const struct hv_exec_ops *ops = n->ops;
    ops->mem_fill(n->ctx, sq_base(n, 0), 0, HV_NVME_ADMIN_QSIZE * SQE_SIZE);
    ops->mem_fill(n->ctx, cq_base(n, 0), 0, HV_NVME_ADMIN_QSIZE * CQE_SIZE);
    for (unsigned qid = 1; qid <= nq; qid++) {
        ops->mem_fill(n->ctx, sq_base(n, qid), 0, size * SQE_SIZE);
        ops->mem_fill(n->ctx, cq_base(n, qid), 0, size * CQE_SIZE);
    }
    if (dbbuf) {
        ops->mem_fill(n->ctx, n->win + HV_NVME_DBS_OFF, 0, HV_NVME_PAGE);
        ops->mem_fill(n->ctx, n->win + HV_NVME_EIS_OFF, 0, HV_NVME_PAGE);
    }
}

/* CC = 0, admin queue registers, CC enable (nvme_pci_configure_admin_queue). */
static void enable_ctrl(const struct nctx *n, uint8_t flags, unsigned nq,
                        unsigned size)
{
    reg_write(n, NVME_CC, 0);
    (void)reg_read(n, NVME_CSTS);
    zero_queues(n, nq, size, flags & HV_NVME_SETUP_F_DBBUF);
    uint32_t aq = HV_NVME_ADMIN_QSIZE - 1;
    reg_write(n, NVME_AQA, aq << 16 | aq);
    uint64_t asq = sq_base(n, 0), acq = cq_base(n, 0);
    reg_write(n, NVME_ASQ, (uint32_t)asq);
    reg_write(n, NVME_ASQ + 4, (uint32_t)(asq >> 32));
    reg_write(n, NVME_ACQ, (uint32_t)acq);
    reg_write(n, NVME_ACQ + 4, (uint32_t)(acq >> 32));
    reg_write(n, NVME_CC,
              flags & HV_NVME_SETUP_F_CSS_NVM ? NVME_CC_NVM : NVME_CC_LINUX);
    (void)reg_read(n, NVME_CSTS);
}

/* Set Features (Number of Queues): the count the controller grants. */
static unsigned set_num_queues(const struct nctx *n, unsigned nq)
{
    struct cqe c;
    uint32_t want = (uint32_t)(nq - 1);
    admin(n, ADM_SET_FEATURES, FEAT_NUM_QUEUES, want << 16 | want, 0, 0, &c);
    if (!c.seen || (c.status >> 1) != 0)
        return nq;
    uint32_t nsqa = c.dw0 & 0xffffu, ncqa = c.dw0 >> 16;
    uint32_t granted = 1 + (nsqa < ncqa ? nsqa : ncqa);
    return granted < nq ? granted : nq;
}

static void create_io_queues(const struct nctx *n, unsigned nq, unsigned size,
                             bool msix)
{
    struct cqe c;
    for (unsigned qid = 1; qid <= nq; qid++) {
        uint32_t cdw10 = (uint32_t)(size - 1) << 16 | qid;
        uint32_t vector = msix ? qid : 0;
        admin(n, ADM_CREATE_CQ, cdw10, vector << 16 | CQ_IEN | QUEUE_PC,
              cq_base(n, qid), 0, &c);
        admin(n, ADM_CREATE_SQ, cdw10, qid << 16 | QUEUE_PC, sq_base(n, qid),
              0, &c);
        queue_init(&n->sh->nvme.q[qid], size);
    }
    n->sh->nvme.nioq = (uint8_t)nq;
}

static uint64_t buf_alloc(const struct nctx *n, uint32_t len);

bool hv_nvme_setup(const struct hv_layout *l, const struct hv_op *op,
                   const struct hv_exec_ops *ops, void *ctx,
                   struct hv_shadow *sh)
{
    struct nctx n;
    if (!nctx_init(&n, l, ops, ctx, sh))
        return false;
    hv_nvme_shadow_reset(&sh->nvme);
    hv_prog_pci_enable(l, n.r->dev, ops, ctx);
    bool msix = msix_enable(&n);

    uint32_t cap_lo = reg_read(&n, NVME_CAP);
    uint32_t cap_hi = reg_read(&n, NVME_CAP + 4);
    (void)reg_read(&n, NVME_VS);
    unsigned nq = 1 + op->region % HV_NVME_MAX_IOQ;
    unsigned size = io_qsize(op->len, cap_lo);
    enable_ctrl(&n, op->flags, nq, size);

    sh->nvme.dstrd = (uint8_t)(cap_hi & 0xfu);
    sh->nvme.ready = 1;
    queue_init(&sh->nvme.q[0], HV_NVME_ADMIN_QSIZE);

    struct cqe c;
    if (op->flags & HV_NVME_SETUP_F_IDENTIFY)
        admin(&n, ADM_IDENTIFY, CNS_CTRL, 0, n.win + buf_alloc(&n, HV_NVME_PAGE),
              0, &c);
    if (op->flags & HV_NVME_SETUP_F_NUM_QUEUES)
        nq = set_num_queues(&n, nq);
    create_io_queues(&n, nq, size, msix);
    if (op->flags & HV_NVME_SETUP_F_DBBUF) {
        admin(&n, ADM_DBBUF_CONFIG, 0, 0, n.win + HV_NVME_DBS_OFF,
              n.win + HV_NVME_EIS_OFF, &c);
        sh->nvme.dbbuf = 1;
    }
    return true;
}

/* ---- nvme_submit: data buffer and data pointer -------------------------- */

/* A page-aligned data area buffer of len bytes (window offset). */
static uint64_t buf_alloc(const struct nctx *n, uint32_t len)
{
    uint64_t end = n->l->dma_size;
    if (end > 0x80000000u)
        end = 0x80000000u;
    uint64_t off = ((uint64_t)n->sh->data_next + HV_NVME_PAGE - 1) &
                   ~(uint64_t)(HV_NVME_PAGE - 1);
    if (off < HV_DATA_AREA_OFF || off > end || len > end - off)
        off = HV_DATA_AREA_OFF;
    n->sh->data_next = (uint32_t)((off + len + 15) & ~(uint64_t)15);
    return off;
}

/* The pages a buffer touches, and entry i's address (page 0 = the start). */
static unsigned page_count(uint64_t gpa, uint32_t len)
{
    return (unsigned)(((gpa + len - 1) / HV_NVME_PAGE) - gpa / HV_NVME_PAGE + 1);
}

static uint64_t page_addr(uint64_t gpa, unsigned i)
{
    return (gpa & ~(uint64_t)(HV_NVME_PAGE - 1)) + (uint64_t)i * HV_NVME_PAGE;
}

/* PRP entries for pages first.. of the buffer, written at `at`. */
static void put_prps(const struct nctx *n, uint64_t at, uint64_t gpa,
                     unsigned first, unsigned count)
{
    uint8_t list[8 * MAX_PAGES];
    for (unsigned i = 0; i < count; i++)
        hv_prog_st_le(list + 8 * i, 8, page_addr(gpa, first + i));
    if (count)
        n->ops->mem_write(n->ctx, at, list, 8 * count);
}

static uint64_t prp2_of(const struct nctx *n, unsigned mode, uint64_t gpa,
                        uint32_t len)
{
    unsigned pages = page_count(gpa, len);
    uint64_t list = n->win + HV_NVME_PRP_OFF;
    if (mode == HV_NVME_DPTR_PRP1 || pages < 2)
        return 0;
    if (mode == HV_NVME_DPTR_PRP && pages == 2)
        return page_addr(gpa, 1);
    if (mode != HV_NVME_DPTR_CHAIN) {
        put_prps(n, list, gpa, 1, pages - 1);
        return list;
    }
    /* the first list page holds 2 slots: with more entries the second
     * slot points to the next list page */
    uint64_t head = list + HV_NVME_PAGE - 16;
    if (pages - 1 <= 2) {
        put_prps(n, head, gpa, 1, pages - 1);
        return head;
    }
    uint64_t next = list + HV_NVME_PAGE;
    uint8_t slots[16];
    hv_prog_st_le(slots, 8, page_addr(gpa, 1));
    hv_prog_st_le(slots + 8, 8, next);
    n->ops->mem_write(n->ctx, head, slots, 16);
    put_prps(n, next, gpa, 2, pages - 2);
    return head;
}

static void sgl_desc(uint8_t *d, uint64_t addr, uint32_t len, unsigned type)
{
    hv_prog_st_le(d, 8, addr);
    hv_prog_st_le(d + 8, 4, len);
    d[12] = d[13] = d[14] = 0;
    d[15] = (uint8_t)(type << 4);
}

/* Data Blocks of the buffer cut at page boundaries, from page `first` on. */
static unsigned sgl_blocks(uint8_t *out, uint64_t gpa, uint32_t len,
                           unsigned first)
{
    unsigned pages = page_count(gpa, len), k = 0;
    uint64_t end = gpa + len;
    for (unsigned i = first; i < pages; i++, k++) {
        uint64_t a = i == 0 ? gpa : page_addr(gpa, i);
        uint64_t b = page_addr(gpa, i + 1) < end ? page_addr(gpa, i + 1) : end;
        sgl_desc(out + SGL_DESC * k, a, (uint32_t)(b - a), SGL_DATA);
    }
    return k;
}

/* SGL1 for the SGL modes; segments written to the SGL pages. */
static void sgl1_of(const struct nctx *n, unsigned mode, uint64_t gpa,
                    uint32_t len, uint8_t *sgl1)
{
    uint8_t seg[SGL_DESC * (MAX_PAGES + 1)];
    uint64_t s0 = n->win + HV_NVME_SGL_OFF, s1 = s0 + HV_NVME_PAGE;
    unsigned pages = page_count(gpa, len);
    if (mode == HV_NVME_DPTR_SGL) {
        sgl_desc(sgl1, gpa, len, SGL_DATA);
    } else if (mode == HV_NVME_DPTR_SGL_BB) {
        uint32_t bb = len / 2;
        sgl_desc(seg, gpa, len - bb, SGL_DATA);
        sgl_desc(seg + SGL_DESC, 0, bb, SGL_BIT_BUCKET);
        n->ops->mem_write(n->ctx, s0, seg, 2 * SGL_DESC);
        sgl_desc(sgl1, s0, 2 * SGL_DESC, SGL_LAST_SEGMENT);
    } else if (pages == 1) {
        sgl_blocks(seg, gpa, len, 0);
        n->ops->mem_write(n->ctx, s0, seg, SGL_DESC);
        sgl_desc(sgl1, s0, SGL_DESC, SGL_LAST_SEGMENT);
    } else {
        unsigned k = sgl_blocks(seg, gpa, len, 1);
        n->ops->mem_write(n->ctx, s1, seg, k * SGL_DESC);
        sgl_desc(seg, gpa, (uint32_t)(page_addr(gpa, 1) - gpa), SGL_DATA);
        sgl_desc(seg + SGL_DESC, s1, k * SGL_DESC, SGL_LAST_SEGMENT);
        n->ops->mem_write(n->ctx, s0, seg, 2 * SGL_DESC);
        sgl_desc(sgl1, s0, 2 * SGL_DESC, SGL_SEGMENT);
    }
}

static void put_dptr(const struct nctx *n, unsigned mode, uint64_t gpa,
                     uint32_t len, uint8_t *sqe)
{
    if (mode == HV_NVME_DPTR_NULL)
        return;
    if (mode >= HV_NVME_DPTR_SGL) {
        sgl1_of(n, mode, gpa, len, sqe + 24);
        return;
    }
    hv_prog_st_le(sqe + 24, 8, gpa);
    hv_prog_st_le(sqe + 32, 8, prp2_of(n, mode, gpa, len));
}

bool hv_nvme_submit(const struct hv_layout *l, const struct hv_op *op,
                    const struct hv_exec_ops *ops, void *ctx,
                    struct hv_shadow *sh)
{
    struct nctx n;
    if (!nctx_init(&n, l, ops, ctx, sh) || !sh->nvme.ready ||
        sh->nvme.nioq > HV_NVME_MAX_IOQ)
        return false;
    unsigned qid = op->region % (1u + sh->nvme.nioq);
    const struct hv_nvme_queue *q = &sh->nvme.q[qid];
    if (q->size == 0 || q->size > HV_NVME_IOQ_MAX_SIZE)
        return false;

    unsigned mode = op->flags & HV_NVME_F_DPTR_MASK;
    uint8_t sqe[SQE_SIZE];
    sqe_init(sqe, (uint8_t)op->val, op->dw[0]);
    if (mode >= HV_NVME_DPTR_SGL && mode != HV_NVME_DPTR_NULL)
        sqe[1] = PSDT_SGL << 6;
    for (unsigned i = 0; i < 6; i++)
        hv_prog_st_le(sqe + 40 + 4 * i, 4, op->dw[1 + i]);

    uint32_t xfer = op->off % (HV_NVME_MAX_XFER + 1);
    if (xfer) {
        uint32_t lead = (op->flags & HV_NVME_F_OFFSET ? HV_NVME_BUF_OFFSET : 0) +
                        (op->flags & HV_NVME_F_ODD ? 2u : 0);
        uint64_t gpa = n.win + buf_alloc(&n, lead + xfer) + lead;
        uint32_t dlen = op->data ? op->len : 0;
        if (dlen > xfer)
            dlen = xfer;
        if (dlen)
            ops->mem_write(ctx, gpa, op->data, dlen);
        put_dptr(&n, mode, gpa, xfer, sqe);
    }
    struct cqe c = {0};
    sq_push(&n, qid, sqe, op->flags, &c);
    return true;
}
