/*
 * Driver-side helpers for the NVMe tests: a machine with the controller at
 * 00:01.0 and QEMU's BAR0 address, and a tiny synchronous driver that
 * writes submission entries with hv_mem_write, rings doorbells through
 * the bus and reads completions back, as a guest driver would.
 *
 * DMA window layout (offsets from HV_DMA_WINDOW_BASE):
 *   0x0000 admin SQ    0x1000 admin CQ    0x2000 I/O SQ   0x3000 I/O CQ
 *   0x4000 shadow doorbells   0x5000 event indexes
 *   0x6000.. PRP lists / SGL segments     0x10000.. data buffers
 */
#ifndef HV_TEST_NVME_NTEST_H
#define HV_TEST_NVME_NTEST_H

#include <stdlib.h>
#include <string.h>

#include "hv_test.h"
#include "targets/common/hv_device.h"
#include "targets/nvme/nvme.h"
#include "targets/nvme/nvme_regs.h"

#define NT_BDF 0x08
#define NT_BAR0 0xfebf8000ull
#define NT_DMA HV_DMA_WINDOW_BASE
#define NT_ASQ (NT_DMA + 0x0000)
#define NT_ACQ (NT_DMA + 0x1000)
#define NT_IOSQ (NT_DMA + 0x2000)
#define NT_IOCQ (NT_DMA + 0x3000)
#define NT_DBS (NT_DMA + 0x4000)
#define NT_EIS (NT_DMA + 0x5000)
#define NT_LIST (NT_DMA + 0x6000)
#define NT_DATA (NT_DMA + 0x10000)
#define NT_CC_DEFAULT 0x00460000u /* IOSQES 6, IOCQES 4, MPS 4 KiB, CSS NVM */

struct nt_q {
    uint64_t base;
    uint16_t qid, size, pos;
    uint8_t phase;
};

struct nt {
    hv_machine *m;
    hv_dev *d;
    struct nt_q asq, acq, sq, cq;
    uint16_t cid;
    bool dbbuf;
};

struct nt_cqe {
    bool present;
    uint32_t dw0;
    uint16_t sqhd, sqid, cid, status; /* status without the phase bit */
};

static inline hv_machine *nt_machine(const struct nvme_params *p, hv_dev **d)
{
    hv_machine *m = hv_machine_create(NULL);
    hv_dev *dev = m ? nvme_create_ex(m, p) : NULL;

    if (!dev || hv_machine_add(m, dev, NT_BDF) < 0) {
        fprintf(stderr, "cannot build the machine\n");
        exit(2);
    }
    hv_machine_reset(m);
    hv_bus_cfg_write(m, NT_BDF, HV_PCI_BAR0, 4, (uint32_t)NT_BAR0);
    hv_bus_cfg_write(m, NT_BDF, HV_PCI_BAR0 + 4, 4, 0);
    hv_bus_cfg_write(m, NT_BDF, HV_PCI_COMMAND, 2,
                     HV_PCI_CMD_MEM | HV_PCI_CMD_MASTER);
    m->findings_fatal = false;
    if (d)
        *d = dev;
    return m;
}

static inline uint32_t nt_reg(hv_machine *m, unsigned off)
{
    return (uint32_t)hv_bus_mmio_read(m, NT_BAR0 + off, 4);
}

static inline void nt_wreg(hv_machine *m, unsigned off, uint32_t v)
{
    hv_bus_mmio_write(m, NT_BAR0 + off, 4, v);
}

static inline void nt_put(hv_machine *m, uint64_t gpa, unsigned size,
                          uint64_t v)
{
    uint8_t b[8];

    hv_st_le(b, size, v);
    hv_mem_write(m, gpa, b, size);
}

static inline uint64_t nt_get(hv_machine *m, uint64_t gpa, unsigned size)
{
    uint8_t b[8] = {0};

    hv_mem_read(m, gpa, b, size);
    return hv_ld_le(b, size > 4 ? 4 : size) |
           (size > 4 ? (uint64_t)hv_ld_le(b + 4, 4) << 32 : 0);
}

static inline void nt_q_init(struct nt_q *q, uint64_t base, uint16_t qid,
                             uint16_t size, uint8_t phase)
{
    *q = (struct nt_q){base, qid, size, 0, phase};
}

/* Admin queues of `qsize` entries each; CC as given; returns CSTS. */
static inline uint32_t nt_enable_cc(struct nt *t, uint16_t qsize, uint32_t cc)
{
    hv_mem_fill(t->m, NT_ASQ, 0, 0x2000);
    nt_wreg(t->m, NVME_REG_CC, 0);
    nt_wreg(t->m, NVME_REG_AQA, (uint32_t)(qsize - 1) << 16 | (qsize - 1u));
    nt_wreg(t->m, NVME_REG_ASQ, (uint32_t)NT_ASQ);
    nt_wreg(t->m, NVME_REG_ASQ + 4, 0);
    nt_wreg(t->m, NVME_REG_ACQ, (uint32_t)NT_ACQ);
    nt_wreg(t->m, NVME_REG_ACQ + 4, 0);
    nt_wreg(t->m, NVME_REG_CC, cc);
    nt_wreg(t->m, NVME_REG_CC, cc | NVME_CC_EN);
    nt_q_init(&t->asq, NT_ASQ, 0, qsize, 0);
    nt_q_init(&t->acq, NT_ACQ, 0, qsize, 1);
    t->dbbuf = false;
    return nt_reg(t->m, NVME_REG_CSTS);
}

static inline void nt_init(struct nt *t, const struct nvme_params *p)
{
    memset(t, 0, sizeof(*t));
    t->m = nt_machine(p, &t->d);
    nt_enable_cc(t, 32, NT_CC_DEFAULT);
}

static inline void nt_sqe(uint8_t *e, uint8_t opc, uint32_t nsid)
{
    memset(e, 0, 64);
    e[0] = opc;
    hv_st_le(e + 4, 4, nsid);
}

static inline void nt_cdw(uint8_t *e, unsigned n, uint32_t v)
{
    hv_st_le(e + 40 + 4 * (n - 10), 4, v);
}

static inline void nt_prp(uint8_t *e, uint64_t prp1, uint64_t prp2)
{
    hv_st_le(e + 24, 8, prp1);
    hv_st_le(e + 32, 8, prp2);
}

static inline void nt_ring_sq(struct nt *t, struct nt_q *sq)
{
    if (t->dbbuf && sq->qid)
        nt_put(t->m, NT_DBS + 8ull * sq->qid, 4, sq->pos);
    nt_wreg(t->m, NVME_DB_BASE + 8u * sq->qid, sq->pos);
}

/* Put an entry in the SQ (cid assigned) without ringing. */
static inline uint16_t nt_push(struct nt *t, struct nt_q *sq, uint8_t *e)
{
    uint16_t cid = t->cid++;

    hv_st_le(e + 2, 2, cid);
    hv_mem_write(t->m, sq->base + 64ull * sq->pos, e, 64);
    sq->pos = (uint16_t)((sq->pos + 1) % sq->size);
    return cid;
}

/* Take the next completion if its phase says it is new; frees the slot
 * (CQ head doorbell) when `ack`. */
static inline struct nt_cqe nt_pop(struct nt *t, struct nt_q *cq, bool ack)
{
    uint8_t b[16];
    struct nt_cqe c = {0};

    hv_mem_read(t->m, cq->base + 16ull * cq->pos, b, 16);
    if ((hv_ld_le(b + 14, 2) & 1) != cq->phase)
        return c;
    c.present = true;
    c.dw0 = hv_ld_le(b, 4);
    c.sqhd = (uint16_t)hv_ld_le(b + 8, 2);
    c.sqid = (uint16_t)hv_ld_le(b + 10, 2);
    c.cid = (uint16_t)hv_ld_le(b + 12, 2);
    c.status = (uint16_t)(hv_ld_le(b + 14, 2) >> 1);
    if (++cq->pos == cq->size) {
        cq->pos = 0;
        cq->phase ^= 1;
    }
    if (ack) {
        if (t->dbbuf && cq->qid)
            nt_put(t->m, NT_DBS + 8ull * cq->qid + 4, 4, cq->pos);
        nt_wreg(t->m, NVME_DB_BASE + 8u * cq->qid + 4, cq->pos);
    }
    return c;
}

/* Submit one entry and collect its completion; status, or 0xffff if none. */
static inline uint16_t nt_run(struct nt *t, struct nt_q *sq, struct nt_q *cq,
                              uint8_t *e, uint32_t *dw0)
{
    uint16_t cid = nt_push(t, sq, e);
    struct nt_cqe c;

    nt_ring_sq(t, sq);
    c = nt_pop(t, cq, true);
    if (!c.present)
        return 0xffff;
    CHECK_EQ(c.cid, cid);
    CHECK_EQ(c.sqid, sq->qid);
    if (dw0)
        *dw0 = c.dw0;
    return c.status;
}

static inline uint16_t nt_admin(struct nt *t, uint8_t *e, uint32_t *dw0)
{
    return nt_run(t, &t->asq, &t->acq, e, dw0);
}

static inline uint16_t nt_io(struct nt *t, uint8_t *e)
{
    return nt_run(t, &t->sq, &t->cq, e, NULL);
}

static inline uint16_t nt_create_cq(struct nt *t, uint16_t qid, uint16_t size,
                                    uint64_t base, uint32_t flags,
                                    uint16_t vector)
{
    uint8_t e[64];

    nt_sqe(e, NVME_ADM_CREATE_CQ, 0);
    nt_prp(e, base, 0);
    nt_cdw(e, 10, qid | (uint32_t)(size - 1) << 16);
    nt_cdw(e, 11, flags | (uint32_t)vector << 16);
    return nt_admin(t, e, NULL);
}

static inline uint16_t nt_create_sq(struct nt *t, uint16_t qid, uint16_t size,
                                    uint64_t base, uint16_t cqid)
{
    uint8_t e[64];

    nt_sqe(e, NVME_ADM_CREATE_SQ, 0);
    nt_prp(e, base, 0);
    nt_cdw(e, 10, qid | (uint32_t)(size - 1) << 16);
    nt_cdw(e, 11, 1 | (uint32_t)cqid << 16);
    return nt_admin(t, e, NULL);
}

/* I/O queue pair 1 of `size` entries, CQ with interrupts on vector 0. */
static inline void nt_io_queues(struct nt *t, uint16_t size)
{
    hv_mem_fill(t->m, NT_IOSQ, 0, 0x2000);
    CHECK_EQ(nt_create_cq(t, 1, size, NT_IOCQ, 0x3, 0), 0);
    CHECK_EQ(nt_create_sq(t, 1, size, NT_IOSQ, 1), 0);
    nt_q_init(&t->cq, NT_IOCQ, 1, size, 1);
    nt_q_init(&t->sq, NT_IOSQ, 1, size, 0);
}

static inline void nt_rw(uint8_t *e, uint8_t opc, uint32_t nsid, uint64_t slba,
                         uint32_t nlb)
{
    nt_sqe(e, opc, nsid);
    nt_cdw(e, 10, (uint32_t)slba);
    nt_cdw(e, 11, (uint32_t)(slba >> 32));
    nt_cdw(e, 12, nlb - 1);
}

static inline void nt_fill_pattern(hv_machine *m, uint64_t gpa, size_t len,
                                   uint8_t seed)
{
    uint8_t *b = malloc(len);

    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(seed + i * 7 + (i >> 9));
    hv_mem_write(m, gpa, b, len);
    free(b);
}

static inline bool nt_check_pattern(hv_machine *m, uint64_t gpa, size_t len,
                                    uint8_t seed)
{
    uint8_t *b = malloc(len);
    bool ok = true;

    hv_mem_read(m, gpa, b, len);
    for (size_t i = 0; i < len && ok; i++)
        ok = b[i] == (uint8_t)(seed + i * 7 + (i >> 9));
    free(b);
    return ok;
}

static inline void nt_sgl_desc(hv_machine *m, uint64_t gpa, uint64_t addr,
                               uint32_t len, uint8_t type)
{
    uint8_t d[16] = {0};

    hv_st_le(d, 8, addr);
    hv_st_le(d + 8, 4, len);
    d[15] = (uint8_t)(type << 4);
    hv_mem_write(m, gpa, d, 16);
}

/* ---- trace capture -------------------------------------------------------- */

struct nt_trace {
    unsigned msix[32], nmsix;
};

static inline void nt_trace_fn(void *opaque, const char *line)
{
    struct nt_trace *t = opaque;
    unsigned v;

    if (sscanf(line, "irq nvme msix vector=%u", &v) == 1 && t->nmsix < 32)
        t->msix[t->nmsix++] = v;
}

#endif
