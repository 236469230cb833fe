/*
 * Expansion of the structure-aware NVMe ops against a recording mock that
 * plays just enough of a controller (admin/I/O queues, completions with
 * phase): the register sequence of nvme_setup, the SQ entries it and
 * nvme_submit write (CID, NSID, PRP1/PRP2, PRP lists, SGL descriptors),
 * doorbell offsets and values with DSTRD, SQ wrap, CQ reaping with the phase
 * flip, shadow doorbells with event indexes; decode/encode of random bytes;
 * the text form of both ops and the nvme_* directives; the nvme seeds.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/program/hv_program.h"
#include "harness/program/hv_program_internal.h"
#include "harness/program/hv_text.h"
#include "hv_test.h"
#include "ptest.h"

#ifndef HV_SEEDS_DIR
#error "HV_SEEDS_DIR must be defined"
#endif

#define BAR0 0xfebf8000ull
#define WIN 0x10000000ull
#define WSIZE 0x40000u

/* the machine the nvme seeds are written for (the lead's layouts.c entry) */
static const struct hv_layout_device nvme_devs[] = {
    {.model = "nvme", .name = "nvme", .bdf = 0x08},
};
static const struct hv_layout_region nvme_mmio[] = {
    {.name = "bar0", .dev = 0, .bar = 0, .base = BAR0, .size = 0x4000},
};
static const struct hv_layout nvme_layout = {
    .target = "nvme", .devs = nvme_devs, .ndevs = 1, .mmio = nvme_mmio,
    .nmmio = 1, .dma_base = WIN, .dma_size = WSIZE, .virtio_region = -1,
};

enum ev_kind { EV_R, EV_W, EV_MW, EV_MF, EV_MR, EV_CR, EV_CW };

struct ev {
    enum ev_kind kind;
    uint64_t addr;
    unsigned size;
    uint64_t val;
};

struct mq {
    uint64_t sq, cq;
    unsigned sqsize, cqsize, head, cqtail;
    uint8_t phase;
};

struct dev {
    struct ev log[8192];
    unsigned n;
    uint32_t cap_lo, cap_hi, cc;
    uint32_t aqa;
    uint64_t asq, acq;
    uint32_t granted;   /* Set Features (Number of Queues) dw0 */
    uint16_t status;    /* status field of every completion (without phase) */
    bool mute;          /* post no completions */
    struct mq q[8];
    uint8_t sqe[64][64]; /* entries fetched, in order */
    unsigned nsqe;
    uint16_t cmd;
    bool no_msix;       /* capability list empty (else MSI-X at 0x40) */
    uint16_t msix_ctl;
    uint8_t ram[WSIZE];
};

static void log_ev(struct dev *d, enum ev_kind k, uint64_t a, unsigned s,
                   uint64_t v)
{
    if (d->n < sizeof d->log / sizeof d->log[0])
        d->log[d->n++] = (struct ev){k, a, s, v};
}

/* RAM at gpa; a scratch page for queues a program placed outside it (the
 * mock is lenient, the program code under test never is: the mem_*
 * callbacks check their ranges) */
static uint8_t *ram(struct dev *d, uint64_t gpa)
{
    static uint8_t scratch[64];
    if (gpa < WIN || gpa + 64 > WIN + WSIZE)
        return scratch;
    return d->ram + (gpa - WIN);
}

static void post(struct dev *d, unsigned cqid, unsigned sqid, uint16_t cid,
                 uint32_t dw0)
{
    struct mq *c = &d->q[cqid];
    uint8_t *e = ram(d, c->cq + 16ull * c->cqtail);
    hv_prog_st_le(e, 4, dw0);
    hv_prog_st_le(e + 4, 4, 0);
    hv_prog_st_le(e + 8, 2, d->q[sqid].head);
    hv_prog_st_le(e + 10, 2, sqid);
    hv_prog_st_le(e + 12, 2, cid);
    hv_prog_st_le(e + 14, 2, (uint16_t)(d->status << 1 | c->phase));
    if (++c->cqtail == c->cqsize) {
        c->cqtail = 0;
        c->phase ^= 1;
    }
}

static void exec_admin(struct dev *d, const uint8_t *e)
{
    uint32_t cdw10 = (uint32_t)hv_prog_ld_le(e + 40, 4), cdw11 = (uint32_t)hv_prog_ld_le(e + 44, 4);
    unsigned qid = cdw10 & 0xffff, size = (cdw10 >> 16) + 1;
    uint64_t base = hv_prog_ld_le(e + 24, 8);
    if (qid >= 8 || base < WIN || base + 64ull * size > WIN + WSIZE)
        return; /* the mock only takes queues inside the window */
    if (e[0] == 0x05) {
        d->q[qid].cq = base;
        d->q[qid].cqsize = size;
        d->q[qid].phase = 1;
    } else if (e[0] == 0x01) {
        d->q[qid].sq = base;
        d->q[qid].sqsize = size;
        (void)cdw11;
    }
}

/* SQ tail doorbell: fetch head..tail, complete each on the queue's CQ
 * (I/O SQ n -> CQ n). */
static void sq_doorbell(struct dev *d, unsigned qid, unsigned tail)
{
    struct mq *s = &d->q[qid];
    while (s->sqsize && s->head != tail % s->sqsize) {
        uint8_t *e = ram(d, s->sq + 64ull * s->head);
        if (d->nsqe < 64)
            memcpy(d->sqe[d->nsqe++], e, 64);
        s->head = (s->head + 1) % s->sqsize;
        uint32_t dw0 = 0;
        if (qid == 0)
            exec_admin(d, e);
        if (qid == 0 && e[0] == 0x09)
            dw0 = d->granted;
        if (!d->mute)
            post(d, qid, qid, (uint16_t)hv_prog_ld_le(e + 2, 2), dw0);
    }
}

static unsigned stride(struct dev *d) { return 4u << (d->cap_hi & 15); }

static uint64_t d_read(void *ctx, uint64_t gpa, unsigned size)
{
    struct dev *d = ctx;
    uint64_t v = 0;
    switch (gpa - BAR0) {
    case 0x00: v = d->cap_lo; break;
    case 0x04: v = d->cap_hi; break;
    case 0x08: v = 0x10400; break;
    case 0x14: v = d->cc; break;
    case 0x1c: v = d->cc & 1; break;
    }
    log_ev(d, EV_R, gpa, size, v);
    return v;
}

static void d_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
    struct dev *d = ctx;
    uint64_t off = gpa - BAR0;
    log_ev(d, EV_W, gpa, size, val);
    switch (off) {
    case 0x14:
        d->cc = (uint32_t)val;
        if (val & 1) {
            d->q[0] = (struct mq){.sq = d->asq, .cq = d->acq,
                                  .sqsize = (d->aqa & 0xfff) + 1,
                                  .cqsize = ((d->aqa >> 16) & 0xfff) + 1,
                                  .phase = 1};
        }
        return;
    case 0x24: d->aqa = (uint32_t)val; return;
    case 0x28: d->asq = (d->asq & ~0xffffffffull) | val; return;
    case 0x2c: d->asq = (d->asq & 0xffffffffull) | val << 32; return;
    case 0x30: d->acq = (d->acq & ~0xffffffffull) | val; return;
    case 0x34: d->acq = (d->acq & 0xffffffffull) | val << 32; return;
    }
    if (off >= 0x1000 && (off - 0x1000) % stride(d) == 0) {
        unsigned idx = (unsigned)((off - 0x1000) / stride(d));
        if (idx % 2 == 0 && idx / 2 < 8)
            sq_doorbell(d, idx / 2, (unsigned)val);
    }
}

static void d_mem_write(void *ctx, uint64_t gpa, const void *buf, uint32_t len)
{
    struct dev *d = ctx;
    log_ev(d, EV_MW, gpa, len, 0);
    CHECK(gpa >= WIN && gpa + len <= WIN + WSIZE);
    memcpy(d->ram + (gpa - WIN), buf, len);
}

static void d_mem_fill(void *ctx, uint64_t gpa, uint8_t byte, uint32_t len)
{
    struct dev *d = ctx;
    log_ev(d, EV_MF, gpa, len, byte);
    CHECK(gpa >= WIN && gpa + len <= WIN + WSIZE);
    memset(d->ram + (gpa - WIN), byte, len);
}

static void d_mem_read(void *ctx, uint64_t gpa, void *buf, uint32_t len)
{
    struct dev *d = ctx;
    log_ev(d, EV_MR, gpa, len, 0);
    CHECK(gpa >= WIN && gpa + len <= WIN + WSIZE);
    memcpy(buf, d->ram + (gpa - WIN), len);
}

static uint32_t d_cfg_read(void *ctx, uint8_t bdf, uint8_t off, unsigned size)
{
    struct dev *d = ctx;
    uint32_t v = 0xffffffffu;
    if (off == 4 && size == 2)
        v = d->cmd;
    else if (off == 0x34 && size == 1)
        v = d->no_msix ? 0 : 0x40;
    else if (off == 0x40 && size == 2)
        v = 0x0011; /* MSI-X, last capability */
    else if (off == 0x42 && size == 2)
        v = d->msix_ctl;
    log_ev(d, EV_CR, (uint64_t)bdf << 8 | off, size, v);
    return v;
}

static void d_cfg_write(void *ctx, uint8_t bdf, uint8_t off, unsigned size,
                        uint32_t val)
{
    struct dev *d = ctx;
    log_ev(d, EV_CW, (uint64_t)bdf << 8 | off, size, val);
    if (off == 4 && size == 2)
        d->cmd = (uint16_t)val;
    if (off == 0x42 && size == 2)
        d->msix_ctl = (uint16_t)val;
}

static const struct hv_exec_ops dev_ops = {
    .mmio_read = d_read,
    .mmio_write = d_write,
    .cfg_read = d_cfg_read,
    .cfg_write = d_cfg_write,
    .mem_write = d_mem_write,
    .mem_fill = d_mem_fill,
    .mem_read = d_mem_read,
};

static struct dev *dev_new(void)
{
    struct dev *d = calloc(1, sizeof *d);
    d->cap_lo = 0x0f0107ff; /* QEMU: MQES 2047, CQR, TO 15 */
    d->cap_hi = 0x00000040; /* CSS bit 37 (NVM), DSTRD 0 */
    d->granted = 0x003f003f;
    d->msix_ctl = 0x0040; /* 65 vectors, off */
    return d;
}

#define EXPECT(i, k, a, s, v)                                                  \
    do {                                                                       \
        CHECK((i) < d->n);                                                     \
        CHECK_EQ(d->log[i].kind, k);                                           \
        CHECK_EQ(d->log[i].addr, (uint64_t)(a));                               \
        CHECK_EQ(d->log[i].size, s);                                           \
        CHECK_EQ(d->log[i].val, (uint64_t)(v));                                \
    } while (0)

static size_t op_setup(uint8_t *b, uint8_t ioqs, uint16_t qsize, uint8_t flags)
{
    b[0] = HV_OP_NVME_SETUP;
    b[1] = ioqs;
    hv_prog_st_le(b + 2, 2, qsize);
    b[4] = flags;
    return 5;
}

struct sub {
    uint8_t q, flags, opc;
    uint32_t nsid, cdw[6], xfer;
    const uint8_t *data;
    uint16_t dlen;
};

static size_t op_submit(uint8_t *b, const struct sub *s)
{
    b[0] = HV_OP_NVME_SUBMIT;
    b[1] = s->q;
    b[2] = s->flags;
    b[3] = s->opc;
    hv_prog_st_le(b + 4, 4, s->nsid);
    for (unsigned i = 0; i < 6; i++)
        hv_prog_st_le(b + 8 + 4 * i, 4, s->cdw[i]);
    hv_prog_st_le(b + 32, 4, s->xfer);
    hv_prog_st_le(b + 36, 2, s->dlen);
    if (s->dlen)
        memcpy(b + 38, s->data, s->dlen);
    return 38u + s->dlen;
}

static unsigned run(struct dev *d, const uint8_t *p, size_t n,
                    struct hv_shadow *sh)
{
    return hv_program_continue(&nvme_layout, p, n, &dev_ops, d, sh);
}

/* index of the first event at or after `from` of this kind and address */
static unsigned find(struct dev *d, unsigned from, enum ev_kind k, uint64_t a)
{
    for (unsigned i = from; i < d->n; i++)
        if (d->log[i].kind == k && d->log[i].addr == a)
            return i;
    return d->n;
}

static unsigned count(struct dev *d, unsigned from, enum ev_kind k, uint64_t a)
{
    unsigned c = 0;
    for (unsigned i = from; i < d->n; i++)
        c += d->log[i].kind == k && d->log[i].addr == a;
    return c;
}

static void test_setup_sequence(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    hv_shadow_reset(&sh);
    uint8_t p[8];
    /* 2 queue pairs asked (raw 1), 64 entries, identify, number of queues,
     * shadow doorbells */
    size_t n = op_setup(p, 1, 0, 0x07);
    CHECK_EQ(run(d, p, n, &sh), 1);

    unsigned i = 0;
    EXPECT(i, EV_CR, 0x0804, 2, 0); i++;
    EXPECT(i, EV_CW, 0x0804, 2, 0x6); i++;
    /* MSI-X on: capability list, message control */
    EXPECT(i, EV_CR, 0x0834, 1, 0x40); i++;
    EXPECT(i, EV_CR, 0x0840, 2, 0x11); i++;
    EXPECT(i, EV_CR, 0x0842, 2, 0x40); i++;
    EXPECT(i, EV_CW, 0x0842, 2, 0x8040); i++;
    EXPECT(i, EV_R, BAR0 + 0x00, 4, 0x0f0107ff); i++;
    EXPECT(i, EV_R, BAR0 + 0x04, 4, 0x40); i++;
    EXPECT(i, EV_R, BAR0 + 0x08, 4, 0x10400); i++;
    EXPECT(i, EV_W, BAR0 + 0x14, 4, 0); i++;
    EXPECT(i, EV_R, BAR0 + 0x1c, 4, 0); i++;
    EXPECT(i, EV_MF, WIN + 0x0000, 32 * 64, 0); i++;
    EXPECT(i, EV_MF, WIN + 0x1000, 32 * 16, 0); i++;
    EXPECT(i, EV_MF, WIN + 0x2000, 64 * 64, 0); i++;
    EXPECT(i, EV_MF, WIN + 0x6000, 64 * 16, 0); i++;
    EXPECT(i, EV_MF, WIN + 0x3000, 64 * 64, 0); i++;
    EXPECT(i, EV_MF, WIN + 0x7000, 64 * 16, 0); i++;
    EXPECT(i, EV_MF, WIN + 0xa000, 0x1000, 0); i++;
    EXPECT(i, EV_MF, WIN + 0xb000, 0x1000, 0); i++;
    EXPECT(i, EV_W, BAR0 + 0x24, 4, 0x1f001f); i++;
    EXPECT(i, EV_W, BAR0 + 0x28, 4, WIN); i++;
    EXPECT(i, EV_W, BAR0 + 0x2c, 4, 0); i++;
    EXPECT(i, EV_W, BAR0 + 0x30, 4, WIN + 0x1000); i++;
    EXPECT(i, EV_W, BAR0 + 0x34, 4, 0); i++;
    EXPECT(i, EV_W, BAR0 + 0x14, 4, 0x460061); i++;
    EXPECT(i, EV_R, BAR0 + 0x1c, 4, 1); i++;
    /* identify: entry at ASQ slot 0, doorbell 1, CQE 0 reaped, CQE 1 not,
     * CQ head doorbell 1 */
    EXPECT(i, EV_MW, WIN, 64, 0); i++;
    EXPECT(i, EV_W, BAR0 + 0x1000, 4, 1); i++;
    EXPECT(i, EV_MR, WIN + 0x1000, 16, 0); i++;
    EXPECT(i, EV_MR, WIN + 0x1010, 16, 0); i++;
    EXPECT(i, EV_W, BAR0 + 0x1004, 4, 1); i++;
    EXPECT(i, EV_MW, WIN + 64, 64, 0); i++;

    /* the admin commands, in order, with CIDs 0.. */
    static const uint8_t opc[] = {0x06, 0x09, 0x05, 0x01, 0x05, 0x01, 0x7c};
    CHECK_EQ(d->nsqe, 7);
    for (unsigned k = 0; k < 7 && k < d->nsqe; k++) {
        CHECK_EQ(d->sqe[k][0], opc[k]);
        CHECK_EQ(d->sqe[k][1], 0);
        CHECK_EQ(hv_prog_ld_le(d->sqe[k] + 2, 2), k);
        CHECK_EQ(hv_prog_ld_le(d->sqe[k] + 4, 4), 0);
    }
    CHECK_EQ(hv_prog_ld_le(d->sqe[0] + 24, 8), WIN + 0x10000); /* a data area page */
    CHECK_EQ(hv_prog_ld_le(d->sqe[0] + 40, 4), 1);
    CHECK_EQ(hv_prog_ld_le(d->sqe[1] + 40, 4), 7);
    CHECK_EQ(hv_prog_ld_le(d->sqe[1] + 44, 4), 0x00010001);
    CHECK_EQ(hv_prog_ld_le(d->sqe[2] + 24, 8), WIN + 0x6000);
    CHECK_EQ(hv_prog_ld_le(d->sqe[2] + 40, 4), 0x003f0001);
    CHECK_EQ(hv_prog_ld_le(d->sqe[2] + 44, 4), 0x00010003);
    CHECK_EQ(hv_prog_ld_le(d->sqe[3] + 24, 8), WIN + 0x2000);
    CHECK_EQ(hv_prog_ld_le(d->sqe[3] + 40, 4), 0x003f0001);
    CHECK_EQ(hv_prog_ld_le(d->sqe[3] + 44, 4), 0x00010001);
    CHECK_EQ(hv_prog_ld_le(d->sqe[4] + 24, 8), WIN + 0x7000);
    CHECK_EQ(hv_prog_ld_le(d->sqe[4] + 40, 4), 0x003f0002);
    CHECK_EQ(hv_prog_ld_le(d->sqe[5] + 24, 8), WIN + 0x3000);
    CHECK_EQ(hv_prog_ld_le(d->sqe[5] + 44, 4), 0x00020001);
    CHECK_EQ(hv_prog_ld_le(d->sqe[6] + 24, 8), WIN + 0xa000);
    CHECK_EQ(hv_prog_ld_le(d->sqe[6] + 32, 8), WIN + 0xb000);
    /* last: the admin SQ tail doorbell 7, CQ head 7 */
    CHECK_EQ(d->log[d->n - 1].kind, EV_W);
    CHECK_EQ(d->log[d->n - 1].addr, BAR0 + 0x1004);
    CHECK_EQ(d->log[d->n - 1].val, 7);

    CHECK_EQ(sh.nvme.nioq, 2);
    CHECK_EQ(sh.nvme.q[1].size, 64);
    CHECK_EQ(sh.nvme.q[2].size, 64);
    CHECK_EQ(sh.nvme.q[0].sq_tail, 7);
    CHECK_EQ(sh.nvme.q[0].cq_head, 7);
    CHECK_EQ(sh.nvme.dbbuf, 1);
    CHECK_EQ(sh.nvme.cid, 7);
    free(d);
}

static void test_setup_reductions(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    hv_shadow_reset(&sh);
    uint8_t p[8];
    d->cap_lo = 0x0f01000f; /* MQES 15: 16 entries */
    d->cap_hi = 0x42;       /* DSTRD 2: 16-byte doorbell stride */
    d->granted = 0;         /* one SQ, one CQ granted */
    d->cmd = 0x107;         /* already on: no config write */
    d->no_msix = true;
    size_t n = op_setup(p, 3, 100, 0x0a); /* 4 asked, numq, css_nvm */
    CHECK_EQ(run(d, p, n, &sh), 1);
    CHECK_EQ(d->log[0].kind, EV_CR);
    EXPECT(1, EV_CR, 0x0834, 1, 0); /* no capabilities: INTx */
    CHECK_EQ(d->log[2].kind, EV_R);
    CHECK_EQ(count(d, 0, EV_W, BAR0 + 0x14), 2);
    CHECK(find(d, 0, EV_W, BAR0 + 0x14) < d->n);
    unsigned cc = find(d, find(d, 0, EV_W, BAR0 + 0x14) + 1, EV_W, BAR0 + 0x14);
    CHECK(cc < d->n && d->log[cc].val == 0x460001);
    /* set features, then one queue pair of 16 */
    CHECK_EQ(d->nsqe, 3);
    CHECK_EQ(hv_prog_ld_le(d->sqe[0] + 44, 4), 0x00030003);
    CHECK_EQ(hv_prog_ld_le(d->sqe[1] + 40, 4), 0x000f0001);
    CHECK_EQ(hv_prog_ld_le(d->sqe[1] + 44, 4), 0x00000003); /* INTx: vector 0 */
    CHECK_EQ(sh.nvme.nioq, 1);
    CHECK_EQ(sh.nvme.q[1].size, 16);
    CHECK_EQ(sh.nvme.dstrd, 2);
    /* admin doorbells at stride 16: SQ 0x1000, CQ 0x1010 */
    CHECK_EQ(count(d, 0, EV_W, BAR0 + 0x1000), 3);
    CHECK_EQ(count(d, 0, EV_W, BAR0 + 0x1010), 3);
    CHECK_EQ(count(d, 0, EV_W, BAR0 + 0x1004), 0);

    /* an I/O submit rings SQ 1 at 0x1000 + 2*16 and CQ 1 at 0x1000 + 3*16 */
    struct sub s = {.q = 1, .opc = 0x00, .nsid = 1};
    unsigned from = d->n;
    uint8_t big[64];
    n = op_submit(big, &s);
    CHECK_EQ(run(d, big, n, &sh), 1);
    EXPECT(from + 1, EV_W, BAR0 + 0x1020, 4, 1);
    EXPECT(d->n - 1, EV_W, BAR0 + 0x1030, 4, 1);

    /* qsize 1 -> 2 entries; MQES 0 is clipped to 2 as well */
    hv_shadow_reset(&sh);
    d->cap_lo = 0;
    n = op_setup(p, 0, 1, 0);
    CHECK_EQ(run(d, p, n, &sh), 1);
    CHECK_EQ(sh.nvme.q[1].size, 2);
    free(d);
}

/* setup with 1 queue pair of `qsize`, log cleared */
static void setup_small(struct dev *d, struct hv_shadow *sh, uint16_t qsize,
                        uint8_t flags)
{
    uint8_t p[8];
    hv_shadow_reset(sh);
    size_t n = op_setup(p, 0, qsize, flags);
    CHECK_EQ(run(d, p, n, sh), 1);
    d->n = 0;
    d->nsqe = 0;
}

static const uint8_t *submit(struct dev *d, struct hv_shadow *sh,
                             const struct sub *s)
{
    static uint8_t b[HV_OP_MAX_BYTES];
    size_t n = op_submit(b, s);
    unsigned before = d->nsqe;
    CHECK_EQ(run(d, b, n, sh), 1);
    return d->nsqe > before ? d->sqe[d->nsqe - 1] : NULL;
}

static void test_submit_prp(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    setup_small(d, &sh, 8, 0);
    const uint64_t data = WIN + 0x10000;

    /* one page: PRP1 only; data written to the buffer */
    static const uint8_t hello[] = "hello";
    struct sub s = {.q = 1, .opc = 0x01, .nsid = 1, .cdw = {0x800, 0, 7},
                    .xfer = 4096, .data = hello, .dlen = 5};
    const uint8_t *e = submit(d, &sh, &s);
    CHECK(e != NULL);
    if (!e)
        return;
    CHECK_EQ(e[0], 0x01);
    CHECK_EQ(e[1], 0);
    CHECK_EQ(hv_prog_ld_le(e + 2, 2), sh.nvme.cid - 1u);
    CHECK_EQ(hv_prog_ld_le(e + 4, 4), 1);
    CHECK_EQ(hv_prog_ld_le(e + 24, 8), data);
    CHECK_EQ(hv_prog_ld_le(e + 32, 8), 0);
    CHECK_EQ(hv_prog_ld_le(e + 40, 4), 0x800);
    CHECK_EQ(hv_prog_ld_le(e + 48, 4), 7);
    CHECK(!memcmp(ram(d, data), "hello", 5));
    EXPECT(0, EV_MW, data, 5, 0);
    EXPECT(1, EV_MW, WIN + 0x2000, 64, 0);
    EXPECT(2, EV_W, BAR0 + 0x1008, 4, 1);

    /* two pages: PRP2 = the second page (next buffer: page aligned) */
    s = (struct sub){.q = 1, .opc = 0x02, .xfer = 8192};
    e = submit(d, &sh, &s);
    CHECK_EQ(hv_prog_ld_le(e + 24, 8), data + 0x1000);
    CHECK_EQ(hv_prog_ld_le(e + 32, 8), data + 0x2000);

    /* three pages at offset 0xe00: 4 pages touched, PRP list of 3 */
    s = (struct sub){.q = 1, .opc = 0x02, .xfer = 3 * 4096,
                     .flags = HV_NVME_F_OFFSET};
    e = submit(d, &sh, &s);
    uint64_t buf = data + 0x3000;
    CHECK_EQ(hv_prog_ld_le(e + 24, 8), buf + 0xe00);
    CHECK_EQ(hv_prog_ld_le(e + 32, 8), WIN + 0xc000);
    for (unsigned k = 0; k < 3; k++)
        CHECK_EQ(hv_prog_ld_le(ram(d, WIN + 0xc000 + 8 * k), 8), buf + 0x1000 * (k + 1));

    /* PRP1 mode: no PRP2; LIST mode with 2 pages: a list of 1 */
    s = (struct sub){.q = 1, .xfer = 8192, .flags = HV_NVME_DPTR_PRP1};
    e = submit(d, &sh, &s);
    CHECK_EQ(hv_prog_ld_le(e + 32, 8), 0);
    s.flags = HV_NVME_DPTR_LIST;
    e = submit(d, &sh, &s);
    CHECK_EQ(hv_prog_ld_le(e + 32, 8), WIN + 0xc000);
    CHECK_EQ(hv_prog_ld_le(ram(d, WIN + 0xc000), 8), hv_prog_ld_le(e + 24, 8) + 0x1000);

    /* CHAIN with 5 pages: 2 slots at the end of list page 0, the second
     * pointing to list page 1 holding pages 3..5 */
    s = (struct sub){.q = 1, .xfer = 5 * 4096, .flags = HV_NVME_DPTR_CHAIN};
    e = submit(d, &sh, &s);
    uint64_t p1 = hv_prog_ld_le(e + 24, 8);
    CHECK_EQ(p1 % 4096, 0);
    CHECK_EQ(hv_prog_ld_le(e + 32, 8), WIN + 0xcff0);
    CHECK_EQ(hv_prog_ld_le(ram(d, WIN + 0xcff0), 8), p1 + 0x1000);
    CHECK_EQ(hv_prog_ld_le(ram(d, WIN + 0xcff8), 8), WIN + 0xd000);
    for (unsigned k = 0; k < 3; k++)
        CHECK_EQ(hv_prog_ld_le(ram(d, WIN + 0xd000 + 8 * k), 8), p1 + 0x1000 * (k + 2));

    /* ODD: 2 bytes past the page start; NULL: no data pointer; xfer 0: none */
    s = (struct sub){.q = 1, .xfer = 16, .flags = HV_NVME_F_ODD};
    e = submit(d, &sh, &s);
    CHECK_EQ(hv_prog_ld_le(e + 24, 8) % 4096, 2);
    s.flags = HV_NVME_DPTR_NULL;
    e = submit(d, &sh, &s);
    CHECK_EQ(hv_prog_ld_le(e + 24, 8), 0);
    CHECK_EQ(hv_prog_ld_le(e + 32, 8), 0);
    s = (struct sub){.q = 1, .xfer = 0};
    e = submit(d, &sh, &s);
    CHECK_EQ(hv_prog_ld_le(e + 24, 8), 0);
    /* xfer is reduced mod HV_NVME_MAX_XFER + 1 */
    s = (struct sub){.q = 1, .xfer = HV_NVME_MAX_XFER + 1 + 4096};
    e = submit(d, &sh, &s);
    CHECK(hv_prog_ld_le(e + 24, 8) != 0);
    CHECK_EQ(hv_prog_ld_le(e + 32, 8), 0);
    free(d);
}

static void test_submit_sgl(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    setup_small(d, &sh, 8, 0);

    struct sub s = {.q = 1, .opc = 0x02, .xfer = 1000,
                    .flags = HV_NVME_DPTR_SGL};
    const uint8_t *e = submit(d, &sh, &s);
    CHECK_EQ(e[1], 0x40); /* PSDT 01 */
    uint64_t buf = hv_prog_ld_le(e + 24, 8);
    CHECK_EQ(hv_prog_ld_le(e + 32, 4), 1000);
    CHECK_EQ(e[39], 0x00);

    /* SGL_SEG over 3 pages (offset 0xe00: 1 + 3 pages): Segment ->
     * [block 1, Last Segment -> [blocks 2..4]] */
    s = (struct sub){.q = 1, .xfer = 3 * 4096,
                     .flags = HV_NVME_DPTR_SGL_SEG | HV_NVME_F_OFFSET};
    e = submit(d, &sh, &s);
    CHECK_EQ(hv_prog_ld_le(e + 24, 8), WIN + 0xe000);
    CHECK_EQ(hv_prog_ld_le(e + 32, 4), 32);
    CHECK_EQ(e[39], 0x20);
    const uint8_t *g = ram(d, WIN + 0xe000);
    buf = hv_prog_ld_le(g, 8);
    CHECK_EQ(buf % 4096, 0xe00);
    CHECK_EQ(hv_prog_ld_le(g + 8, 4), 0x200);
    CHECK_EQ(g[15], 0x00);
    CHECK_EQ(hv_prog_ld_le(g + 16, 8), WIN + 0xf000);
    CHECK_EQ(hv_prog_ld_le(g + 24, 4), 48);
    CHECK_EQ(g[31], 0x30);
    const uint8_t *h = ram(d, WIN + 0xf000);
    CHECK_EQ(hv_prog_ld_le(h, 8), buf + 0x200);
    CHECK_EQ(hv_prog_ld_le(h + 8, 4), 4096);
    CHECK_EQ(hv_prog_ld_le(h + 32, 8), buf + 0x2200);
    CHECK_EQ(hv_prog_ld_le(h + 40, 4), 3 * 4096 - 0x200 - 2 * 4096);

    /* one page: Last Segment -> [block] */
    s = (struct sub){.q = 1, .xfer = 512, .flags = HV_NVME_DPTR_SGL_SEG};
    e = submit(d, &sh, &s);
    CHECK_EQ(e[39], 0x30);
    CHECK_EQ(hv_prog_ld_le(e + 32, 4), 16);
    CHECK_EQ(hv_prog_ld_le(ram(d, WIN + 0xe008), 4), 512);

    /* bit bucket: [block of 2048 - 1024, bit bucket of 1024] */
    s = (struct sub){.q = 1, .xfer = 2048, .flags = HV_NVME_DPTR_SGL_BB};
    e = submit(d, &sh, &s);
    CHECK_EQ(e[39], 0x30);
    CHECK_EQ(hv_prog_ld_le(e + 32, 4), 32);
    g = ram(d, WIN + 0xe000);
    CHECK_EQ(hv_prog_ld_le(g + 8, 4), 1024);
    CHECK_EQ(g[15], 0x00);
    CHECK_EQ(hv_prog_ld_le(g + 24, 4), 1024);
    CHECK_EQ(g[31], 0x10);
    free(d);
}

static void test_wrap_and_phase(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    setup_small(d, &sh, 4, 0);
    struct sub s = {.q = 1, .opc = 0x00, .nsid = 1};
    for (unsigned k = 0; k < 10; k++) {
        unsigned from = d->n;
        submit(d, &sh, &s);
        unsigned slot = k % 4;
        EXPECT(from, EV_MW, WIN + 0x2000 + 64 * slot, 64, 0);
        EXPECT(from + 1, EV_W, BAR0 + 0x1008, 4, (k + 1) % 4);
        EXPECT(from + 2, EV_MR, WIN + 0x6000 + 16 * slot, 16, 0);
        EXPECT(from + 3, EV_MR, WIN + 0x6000 + 16 * ((slot + 1) % 4), 16, 0);
        EXPECT(from + 4, EV_W, BAR0 + 0x100c, 4, (k + 1) % 4);
        CHECK_EQ(d->n, from + 5);
    }
    CHECK_EQ(sh.nvme.q[1].phase, 1 ^ (10 / 4 % 2));
    CHECK_EQ(sh.nvme.q[1].cq_head, 2);

    /* NOKICK: no doorbell, nothing to reap (one read); NOREAP: no reads;
     * then a plain submit reaps all three completions at once */
    unsigned from = d->n;
    s.flags = HV_NVME_F_NOKICK;
    submit(d, &sh, &s);
    CHECK_EQ(count(d, from, EV_W, BAR0 + 0x1008), 0);
    CHECK_EQ(count(d, from, EV_W, BAR0 + 0x100c), 0);
    from = d->n;
    s.flags = HV_NVME_F_NOREAP;
    submit(d, &sh, &s);
    CHECK_EQ(count(d, from, EV_W, BAR0 + 0x1008), 1);
    CHECK_EQ(count(d, from, EV_MR, WIN + 0x6000 + 16 * 2), 0);
    from = d->n;
    s.flags = 0;
    submit(d, &sh, &s);
    EXPECT(d->n - 1, EV_W, BAR0 + 0x100c, 4, 1);
    CHECK_EQ(sh.nvme.q[1].cq_head, 1);

    /* q is reduced mod 1 + queues: q=2 -> admin */
    s = (struct sub){.q = 2, .opc = 0x06, .cdw = {1}, .xfer = 4096};
    from = d->n;
    submit(d, &sh, &s);
    CHECK_EQ(count(d, from, EV_W, BAR0 + 0x1000), 1);
    free(d);
}

static void test_dbbuf(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    setup_small(d, &sh, 8, HV_NVME_SETUP_F_DBBUF);
    CHECK_EQ(sh.nvme.dbbuf, 1);
    const uint64_t sqdb = WIN + 0xa000 + 8, sqei = WIN + 0xb000 + 8;
    const uint64_t cqdb = WIN + 0xa000 + 12;
    struct sub s = {.q = 1, .opc = 0x00, .nsid = 1};

    /* event index 0: new 1, old 0 -> ring */
    submit(d, &sh, &s);
    EXPECT(1, EV_MR, sqdb, 4, 0);
    EXPECT(2, EV_MW, sqdb, 4, 0);
    EXPECT(3, EV_MR, sqei, 4, 0);
    EXPECT(4, EV_W, BAR0 + 0x1008, 4, 1);
    CHECK_EQ(hv_prog_ld_le(ram(d, sqdb), 4), 1);
    CHECK_EQ(hv_prog_ld_le(ram(d, cqdb), 4), 1);
    /* event index still 0: new 2, old 1 -> no MMIO write */
    unsigned from = d->n;
    submit(d, &sh, &s);
    CHECK_EQ(count(d, from, EV_W, BAR0 + 0x1008), 0);
    CHECK_EQ(hv_prog_ld_le(ram(d, sqdb), 4), 2);
    /* the controller asks for an event at 2: new 3, old 2 -> ring */
    hv_prog_st_le(ram(d, sqei), 4, 2);
    from = d->n;
    submit(d, &sh, &s);
    CHECK_EQ(count(d, from, EV_W, BAR0 + 0x1008), 1);
    /* the admin queue never uses shadow doorbells */
    s.q = 0;
    from = d->n;
    submit(d, &sh, &s);
    CHECK_EQ(count(d, from, EV_W, BAR0 + 0x1000), 1);
    CHECK_EQ(count(d, from, EV_MR, WIN + 0xa000), 0);
    free(d);
}

static void test_skipped(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    hv_shadow_reset(&sh);
    uint8_t p[64];
    struct sub s = {.q = 1};
    size_t n = op_submit(p, &s);
    CHECK_EQ(run(d, p, n, &sh), 0); /* no setup yet */
    CHECK_EQ(d->n, 0);

    struct hv_layout l = nvme_layout;
    l.dma_size = HV_NVME_MIN_WINDOW - 1;
    n = op_setup(p, 0, 0, 0);
    CHECK_EQ(hv_program_run(&l, p, n, &dev_ops, d, &sh), 0);
    l = nvme_layout;
    struct hv_layout_device other = {.model = "nvme2", .name = "x", .bdf = 8};
    l.devs = &other;
    CHECK_EQ(hv_program_run(&l, p, n, &dev_ops, d, &sh), 0);
    struct hv_layout_region bar2 = nvme_mmio[0];
    bar2.bar = 2;
    l = nvme_layout;
    l.mmio = &bar2;
    CHECK_EQ(hv_program_run(&l, p, n, &dev_ops, d, &sh), 0);
    struct hv_exec_ops ops = dev_ops;
    ops.mem_read = NULL;
    CHECK_EQ(hv_program_run(&nvme_layout, p, n, &ops, d, &sh), 0);
    CHECK_EQ(d->n, 0);

    /* hv_shadow_reset clears the NVMe part */
    CHECK_EQ(hv_program_run(&nvme_layout, p, n, &dev_ops, d, &sh), 1);
    CHECK_EQ(sh.nvme.ready, 1);
    hv_shadow_reset(&sh);
    CHECK_EQ(sh.nvme.ready, 0);
    CHECK_EQ(sh.nvme.nioq, 0);
    CHECK_EQ(sh.nvme.q[0].size, 0);
    CHECK_EQ(sh.nvme.cid, 0);
    free(d);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static unsigned rndn(unsigned n) { return (unsigned)(hv_test_xorshift(&rng) % n); }

/* every byte string decodes; encode(decode(x)) is x's used bytes;
 * truncated operands end the program */
static void test_decode_encode(void)
{
    uint8_t b[256], enc[HV_OP_MAX_BYTES];
    for (unsigned it = 0; it < 20000; it++) {
        size_t len = 1 + rndn(sizeof b);
        for (size_t i = 0; i < len; i++)
            b[i] = (uint8_t)hv_test_xorshift(&rng);
        b[0] = rndn(2) ? HV_OP_NVME_SETUP : HV_OP_NVME_SUBMIT;
        if (b[0] == HV_OP_NVME_SUBMIT && len > 38 && rndn(2)) {
            b[36] = (uint8_t)rndn(8);
            b[37] = 0;
        }
        struct hv_op op;
        size_t n = hv_op_decode(b, len, &op);
        size_t hdr = b[0] == HV_OP_NVME_SETUP ? 5 : 38;
        if (len < hdr) {
            CHECK_EQ(n, 0);
            continue;
        }
        if (b[0] == HV_OP_NVME_SUBMIT && len < hdr + hv_prog_ld_le(b + 36, 2)) {
            CHECK_EQ(n, 0);
            continue;
        }
        CHECK(op.known);
        CHECK_EQ(n, b[0] == HV_OP_NVME_SETUP ? 5 : 38 + hv_prog_ld_le(b + 36, 2));
        size_t m = hv_op_encode(&op, enc, sizeof enc);
        CHECK_EQ(m, n);
        CHECK(!memcmp(enc, b, n));
        /* and executing it against the mock is safe */
        struct dev *d = dev_new();
        struct hv_shadow sh;
        hv_shadow_reset(&sh);
        uint8_t pre[5];
        op_setup(pre, (uint8_t)rndn(256), (uint16_t)rndn(200), (uint8_t)rndn(256));
        run(d, pre, 5, &sh);
        run(d, b, len, &sh);
        free(d);
    }
    /* a truncated nvme_submit ends the program: the op after it is not run */
    uint8_t p[] = {HV_OP_NVME_SETUP, 0, 0, 0};
    struct hv_op op;
    CHECK_EQ(hv_op_decode(p, sizeof p, &op), 0);
    CHECK_EQ(hv_op_name(HV_OP_NVME_SETUP) != NULL, 1);
    CHECK(!strcmp(hv_op_name(HV_OP_NVME_SUBMIT), "nvme_submit"));
}

/* ---- text form ---------------------------------------------------------- */

static void check_asm(const char *text, const uint8_t *want, size_t wn)
{
    char err[512];
    size_t n = 0;
    uint8_t *b = hv_asm(&nvme_layout, "t.hvf", text, strlen(text), &n, err,
                        sizeof err);
    if (!b) {
        fprintf(stderr, "asm error: %s\n  in: %s\n", err, text);
        CHECK(!"assembles");
        return;
    }
    CHECK_EQ(n, wn);
    if (n == wn && memcmp(b, want, n)) {
        fprintf(stderr, "  bytes differ for: %s\n", text);
        CHECK(!"bytes");
    }
    free(b);
}

static void check_asm_error(const char *text, const char *want)
{
    char err[512];
    size_t n;
    uint8_t *b = hv_asm(&nvme_layout, "t.hvf", text, strlen(text), &n, err,
                        sizeof err);
    CHECK(b == NULL);
    free(b);
    if (strncmp(err, want, strlen(want))) {
        fprintf(stderr, "  want: %s\n  got:  %s\n", want, err);
        CHECK(!"error message");
    }
}

/* bin -> text -> bin exact, text -> bin -> text a fixpoint */
static void test_text(void)
{
    check_asm("nvme_setup ioqs=2 qsize=max identify numq dbbuf",
              (const uint8_t[]){0x20, 1, 0, 0, 0x07}, 5);
    check_asm("nvme_setup qsize=16 css_nvm flags=0x80",
              (const uint8_t[]){0x20, 0, 16, 0, 0x88}, 5);
    uint8_t w[64];
    struct sub s = {.q = 1, .flags = HV_NVME_DPTR_LIST | HV_NVME_F_NOKICK,
                    .opc = 0x02, .nsid = 1, .cdw = {0x800, 0, 7}, .xfer = 4096};
    size_t n = op_submit(w, &s);
    check_asm("nvme_submit q=1 opc=0x2 nsid=1 cdw10=0x800 cdw12=7 xfer=4096 "
              "dptr=list nokick", w, n);
    /* directives */
    s = (struct sub){.q = 0, .opc = 0x06, .nsid = 0, .cdw = {1}, .xfer = 4096};
    n = op_submit(w, &s);
    check_asm("nvme_identify cns=1 ns=0", w, n);
    s = (struct sub){.q = 1, .opc = 0x02, .nsid = 1, .cdw = {0x800, 0, 7},
                     .xfer = 4096, .flags = HV_NVME_DPTR_SGL};
    n = op_submit(w, &s);
    check_asm("nvme_read ns=1 lba=0x800 blocks=8 dptr=sgl", w, n);
    static const uint8_t ab[] = {0xaa, 0xbb};
    s = (struct sub){.q = 2, .opc = 0x01, .nsid = 2, .cdw = {1, 0, 0},
                     .xfer = 4096, .data = ab, .dlen = 2};
    n = op_submit(w, &s);
    check_asm("nvme_write ns=2 lba=1 bs=4096 data=hex:aabb q=2", w, n);
    s = (struct sub){.q = 1, .opc = 0x08, .nsid = 1,
                     .cdw = {16, 0, 7 | 1u << 25}};
    n = op_submit(w, &s);
    check_asm("nvme_write_zeroes lba=16 blocks=8 deac", w, n);
    s = (struct sub){.q = 1, .opc = 0x00, .nsid = 1};
    n = op_submit(w, &s);
    check_asm("nvme_flush", w, n);
    /* cdwN= overrides what a directive sets; xfer= its transfer length */
    s = (struct sub){.q = 1, .opc = 0x02, .nsid = 1, .cdw = {5, 0, 0xffff, 9},
                     .xfer = 100};
    n = op_submit(w, &s);
    check_asm("nvme_read lba=5 blocks=2 cdw12=0xffff cdw13=9 xfer=100", w, n);

    /* register and command annotations */
    size_t m;
    char err[256];
    const char *regs = "mmio_write bar0 0x14 4 0x460061\nmmio_write bar0 0x100c 4 1\n"
                       "mmio_read bar0 0x2010 4\nnvme_read lba=0x800 blocks=8\n";
    uint8_t *rb = hv_asm(&nvme_layout, "t", regs, strlen(regs), &m, err, sizeof err);
    char *rt = rb ? hv_disasm(&nvme_layout, rb, m) : NULL;
    CHECK(rt && strstr(rt, "mmio_write bar0 0x14 4 0x460061  # cc\n"));
    CHECK(rt && strstr(rt, "mmio_write bar0 0x100c 4 0x1  # cq1_doorbell\n"));
    CHECK(rt && strstr(rt, "mmio_read bar0 0x2010 4  # msix[1].addr_lo\n"));
    CHECK(rt && strstr(rt, "# read slba=0x800 nlb=8\n"));
    free(rt);
    free(rb);

    check_asm_error("nvme_setup ioqs=0", "t.hvf:1:17: error: ioqs must be 1..256");
    check_asm_error("nvme_submit dptr=bogus", "t.hvf:1:18: error: unknown dptr 'bogus'");
    check_asm_error("nvme_submit bogus", "t.hvf:1:13: error: unknown nvme_submit option");
    check_asm_error("nvme_read ns=1", "t.hvf:1:1: error: nvme_read needs lba=");
    check_asm_error("nvme_write lba=0", "t.hvf:1:1: error: nvme_write needs data=");
    check_asm_error("nvme_identify", "t.hvf:1:1: error: nvme_identify needs cns=");
    check_asm_error("nvme_bogus", "t.hvf:1:1: error: unknown directive 'nvme_bogus'");

    /* disassembly */
    uint8_t b[] = {0x20, 1, 0, 0, 0x07};
    char *t = hv_disasm(&nvme_layout, b, sizeof b);
    CHECK(t && strstr(t, "nvme_setup ioqs=2 qsize=max identify numq dbbuf\n"));
    free(t);
    s = (struct sub){.q = 0, .opc = 0x06, .cdw = {1}, .xfer = 4096,
                     .flags = HV_NVME_DPTR_CHAIN | HV_NVME_F_OFFSET |
                              HV_NVME_F_ODD | HV_NVME_F_NOREAP,
                     .data = ab, .dlen = 2};
    n = op_submit(w, &s);
    t = hv_disasm(&nvme_layout, w, n);
    CHECK(t && strstr(t, "nvme_submit q=0 opc=0x06 cdw10=0x1 xfer=4096 dptr=chain "
                         "offset odd noreap data=hex:aabb  # admin identify\n"));
    free(t);
    CHECK(ptest_roundtrip(&nvme_layout, w, n));

    /* random nvme-shaped programs round-trip */
    uint8_t r[512];
    unsigned bad = 0;
    for (unsigned it = 0; it < 5000; it++) {
        size_t len = 0;
        unsigned nops = 1 + rndn(6);
        for (unsigned k = 0; k < nops && len + 80 < sizeof r; k++) {
            uint8_t code = rndn(2) ? HV_OP_NVME_SUBMIT : HV_OP_NVME_SETUP;
            r[len] = code;
            for (unsigned i = 1; i < 40; i++)
                r[len + i] = rndn(3) ? 0 : (uint8_t)hv_test_xorshift(&rng);
            size_t oplen = 5;
            if (code == HV_OP_NVME_SUBMIT) {
                r[len + 36] = (uint8_t)rndn(20);
                r[len + 37] = 0;
                for (unsigned i = 0; i < r[len + 36]; i++)
                    r[len + 38 + i] = rndn(2) ? 0 : (uint8_t)i;
                oplen = 38u + r[len + 36];
            }
            len += rndn(8) ? oplen : rndn((unsigned)oplen); /* maybe cut */
        }
        if (!ptest_roundtrip(&nvme_layout, r, len))
            bad++;
    }
    CHECK_EQ(bad, 0);
}

/* seeds/nvme: every seed runs against the mock without leaving the
 * window (ptest.h checks they assemble; test_program_text the round trip) */
static void run_seed(const char *path, const char *text, const uint8_t *bin,
                     size_t n, void *arg)
{
    (void)path;
    (void)text;
    (void)arg;
    struct dev *d = dev_new();
    struct hv_shadow sh;
    CHECK(hv_program_run(&nvme_layout, bin, n, &dev_ops, d, &sh) > 0);
    free(d);
}

static void test_seeds(void)
{
    unsigned count = ptest_each_seed(&nvme_layout, run_seed, NULL);
    printf("seeds: %u for nvme\n", count);
    CHECK(count >= 15);
}

int main(void)
{
    test_setup_sequence();
    test_setup_reductions();
    test_submit_prp();
    test_submit_sgl();
    test_wrap_and_phase();
    test_dbbuf();
    test_skipped();
    test_decode_encode();
    test_text();
    test_seeds();
    return hv_test_done("test_program_nvme");
}
