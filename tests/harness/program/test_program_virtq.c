/*
 * Expansion of the structure-aware virtio ops: the exact register sequence
 * of virtq_setup (virtio 1.2 init as Linux's virtio_pci_modern does it),
 * and what virtq_submit writes: descriptors (direct, wrapped, indirect),
 * buffers, avail ring entry and idx (idx last), and the notify write.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness/program/hv_program.h"
#include "harness/program/hv_program_internal.h"
#include "hv_test.h"
#include "targets/virtio/virtio_regs.h"

#define BAR4 0xfebf8000ull
#define NOTIFY (BAR4 + VIRTIO_PCI_NOTIFY_OFF)
#define WIN 0x10000000ull
#define WSIZE 0x40000u

enum ev_kind { EV_R, EV_W, EV_MW, EV_MF, EV_CR, EV_CW };

struct ev {
    enum ev_kind kind;
    uint64_t addr;
    unsigned size; /* access size or memory length */
    uint64_t val;
};

struct dev {
    struct ev log[4096];
    unsigned n;
    /* emulated virtio-pci common config */
    uint64_t features;
    bool refuse;       /* clear FEATURES_OK */
    unsigned numq;
    uint16_t qmax[4];
    uint8_t status;
    uint32_t dfsel, gfsel;
    uint64_t drv_features;
    uint16_t qsel;
    uint16_t qsize[4];
    uint64_t qdesc[4], qavail[4], qused[4];
    uint16_t qenable[4];
    uint16_t cmd; /* PCI command register */
    uint8_t ram[WSIZE];
};

static void log_ev(struct dev *d, enum ev_kind k, uint64_t a, unsigned s,
                   uint64_t v)
{
    if (d->n < sizeof d->log / sizeof d->log[0])
        d->log[d->n++] = (struct ev){k, a, s, v};
}

static uint64_t d_read(void *ctx, uint64_t gpa, unsigned size)
{
    struct dev *d = ctx;
    uint64_t v = 0;
    unsigned q = d->qsel & 3;
    switch (gpa - BAR4) {
    case VIRTIO_PCI_COMMON_DF:
        v = d->dfsel == 0 ? (uint32_t)d->features
            : d->dfsel == 1 ? d->features >> 32 : 0;
        break;
    case VIRTIO_PCI_COMMON_STATUS: v = d->status; break;
    case VIRTIO_PCI_COMMON_NUMQ: v = d->numq; break;
    case VIRTIO_PCI_COMMON_Q_SIZE: v = d->qsel < 4 ? d->qmax[q] : 0; break;
    default: v = 0; break;
    }
    log_ev(d, EV_R, gpa, size, v);
    return v;
}

static void d_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
    struct dev *d = ctx;
    unsigned q = d->qsel & 3;
    log_ev(d, EV_W, gpa, size, val);
    switch (gpa - BAR4) {
    case VIRTIO_PCI_COMMON_DFSELECT: d->dfsel = (uint32_t)val; break;
    case VIRTIO_PCI_COMMON_GFSELECT: d->gfsel = (uint32_t)val; break;
    case VIRTIO_PCI_COMMON_GF:
        if (d->gfsel < 2) {
            d->drv_features &= ~(0xffffffffull << (32 * d->gfsel));
            d->drv_features |= (val & 0xffffffffu) << (32 * d->gfsel);
        }
        break;
    case VIRTIO_PCI_COMMON_STATUS:
        d->status = (uint8_t)val;
        if (d->refuse)
            d->status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
        break;
    case VIRTIO_PCI_COMMON_Q_SELECT: d->qsel = (uint16_t)val; break;
    case VIRTIO_PCI_COMMON_Q_SIZE: d->qsize[q] = (uint16_t)val; break;
    case VIRTIO_PCI_COMMON_Q_ENABLE: d->qenable[q] = (uint16_t)val; break;
    case VIRTIO_PCI_COMMON_Q_DESCLO: d->qdesc[q] = (d->qdesc[q] & ~0xffffffffull) | val; break;
    case VIRTIO_PCI_COMMON_Q_DESCHI: d->qdesc[q] = (d->qdesc[q] & 0xffffffffull) | val << 32; break;
    case VIRTIO_PCI_COMMON_Q_AVAILLO: d->qavail[q] = (d->qavail[q] & ~0xffffffffull) | val; break;
    case VIRTIO_PCI_COMMON_Q_AVAILHI: d->qavail[q] = (d->qavail[q] & 0xffffffffull) | val << 32; break;
    case VIRTIO_PCI_COMMON_Q_USEDLO: d->qused[q] = (d->qused[q] & ~0xffffffffull) | val; break;
    case VIRTIO_PCI_COMMON_Q_USEDHI: d->qused[q] = (d->qused[q] & 0xffffffffull) | val << 32; break;
    }
}

static void d_mem_write(void *ctx, uint64_t gpa, const void *buf, uint32_t len)
{
    struct dev *d = ctx;
    log_ev(d, EV_MW, gpa, len, 0);
    if (gpa >= WIN && gpa + len <= WIN + WSIZE)
        memcpy(d->ram + (gpa - WIN), buf, len);
    else
        CHECK(!"mem_write outside the window");
}

static void d_mem_fill(void *ctx, uint64_t gpa, uint8_t byte, uint32_t len)
{
    struct dev *d = ctx;
    log_ev(d, EV_MF, gpa, len, byte);
    if (gpa >= WIN && gpa + len <= WIN + WSIZE)
        memset(d->ram + (gpa - WIN), byte, len);
    else
        CHECK(!"mem_fill outside the window");
}

static uint32_t d_cfg_read(void *ctx, uint8_t bdf, uint8_t off, unsigned size)
{
    struct dev *d = ctx;
    uint32_t v = off == 4 && size == 2 ? d->cmd : 0xffffffffu;
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
}

static const struct hv_exec_ops dev_ops = {
    .mmio_read = d_read,
    .mmio_write = d_write,
    .cfg_read = d_cfg_read,
    .cfg_write = d_cfg_write,
    .mem_write = d_mem_write,
    .mem_fill = d_mem_fill,
};

static struct dev *dev_new(void)
{
    struct dev *d = calloc(1, sizeof *d);
    d->features = 0x130006e54ull; /* QEMU virtio-blk: VERSION_1 | 0x30006e54 */
    d->numq = 1;
    d->cmd = 0x103; /* as SeaBIOS leaves it: IO | MEM | SERR */
    for (unsigned i = 0; i < 4; i++)
        d->qmax[i] = 256;
    return d;
}

/* the 16-byte descriptor `slot` of a table at window offset `tbl` */
static void desc_at(struct dev *d, uint32_t tbl, unsigned slot, uint64_t *addr,
                    uint32_t *len, uint16_t *flags, uint16_t *next)
{
    const uint8_t *p = d->ram + tbl + 16 * slot;
    *addr = hv_prog_ld_le(p, 8);
    *len = (uint32_t)hv_prog_ld_le(p + 8, 4);
    *flags = (uint16_t)hv_prog_ld_le(p + 12, 2);
    *next = (uint16_t)hv_prog_ld_le(p + 14, 2);
}

#define EXPECT(i, k, a, s, v)                                                  \
    do {                                                                       \
        CHECK((i) < d->n);                                                     \
        CHECK_EQ(d->log[i].kind, k);                                           \
        CHECK_EQ(d->log[i].addr, a);                                           \
        CHECK_EQ(d->log[i].size, s);                                           \
        CHECK_EQ(d->log[i].val, v);                                            \
    } while (0)

static size_t op_setup(uint8_t *b, uint32_t features, uint8_t nq, uint16_t qsize)
{
    b[0] = HV_OP_VIRTQ_SETUP;
    for (unsigned i = 0; i < 4; i++)
        b[1 + i] = (uint8_t)(features >> (8 * i));
    b[5] = nq;
    b[6] = (uint8_t)qsize;
    b[7] = (uint8_t)(qsize >> 8);
    return 8;
}

static size_t op_submit(uint8_t *b, uint8_t vq, uint8_t flags, unsigned nout,
                        unsigned nin, const uint16_t *lens, const uint8_t *data,
                        uint16_t dlen)
{
    size_t n = 0;
    b[n++] = HV_OP_VIRTQ_SUBMIT;
    b[n++] = vq;
    b[n++] = flags;
    b[n++] = (uint8_t)nout;
    b[n++] = (uint8_t)nin;
    for (unsigned i = 0; i < (nout & 7) + (nin & 7); i++) {
        b[n++] = (uint8_t)lens[i];
        b[n++] = (uint8_t)(lens[i] >> 8);
    }
    b[n++] = (uint8_t)dlen;
    b[n++] = (uint8_t)(dlen >> 8);
    if (dlen)
        memcpy(b + n, data, dlen);
    return n + dlen;
}

static const struct hv_layout *L;

static void test_setup_sequence(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    uint8_t p[16];
    size_t n = op_setup(p, 0x30006e54, 0, 256);
    CHECK_EQ(hv_program_run(L, p, n, &dev_ops, d, &sh), 1);

    const uint64_t C = BAR4;
    unsigned i = 0;
    EXPECT(i, EV_CR, 0x0804, 2, 0x103); i++;                /* command */
    EXPECT(i, EV_CW, 0x0804, 2, 0x107); i++;                /* + MASTER */
    EXPECT(i, EV_W, C + 0x14, 1, 0); i++;                   /* reset */
    EXPECT(i, EV_W, C + 0x14, 1, 3); i++;                   /* ACK|DRIVER */
    EXPECT(i, EV_W, C + 0x00, 4, 0); i++;
    EXPECT(i, EV_R, C + 0x04, 4, 0x30006e54); i++;
    EXPECT(i, EV_W, C + 0x00, 4, 1); i++;
    EXPECT(i, EV_R, C + 0x04, 4, 0x1); i++;
    EXPECT(i, EV_W, C + 0x08, 4, 0); i++;
    EXPECT(i, EV_W, C + 0x0c, 4, 0x30006e54); i++;
    EXPECT(i, EV_W, C + 0x08, 4, 1); i++;
    EXPECT(i, EV_W, C + 0x0c, 4, 1); i++;
    EXPECT(i, EV_W, C + 0x14, 1, 0xb); i++;                 /* FEATURES_OK */
    EXPECT(i, EV_R, C + 0x14, 1, 0xb); i++;
    EXPECT(i, EV_R, C + 0x12, 2, 1); i++;                   /* num_queues */
    EXPECT(i, EV_W, C + 0x16, 2, 0); i++;                   /* queue_select */
    EXPECT(i, EV_R, C + 0x18, 2, 256); i++;
    EXPECT(i, EV_W, C + 0x18, 2, 256); i++;
    EXPECT(i, EV_MF, WIN + 0x0000, 256 * 16, 0); i++;
    EXPECT(i, EV_MF, WIN + 0x1000, 4 + 2 * 256 + 2, 0); i++;
    EXPECT(i, EV_MF, WIN + 0x2000, 4 + 8 * 256 + 2, 0); i++;
    EXPECT(i, EV_W, C + 0x20, 4, 0x10000000); i++;
    EXPECT(i, EV_W, C + 0x24, 4, 0); i++;
    EXPECT(i, EV_W, C + 0x28, 4, 0x10001000); i++;
    EXPECT(i, EV_W, C + 0x2c, 4, 0); i++;
    EXPECT(i, EV_W, C + 0x30, 4, 0x10002000); i++;
    EXPECT(i, EV_W, C + 0x34, 4, 0); i++;
    EXPECT(i, EV_W, C + 0x1c, 2, 1); i++;                   /* enable */
    EXPECT(i, EV_W, C + 0x14, 1, 0xf); i++;                 /* DRIVER_OK */
    CHECK_EQ(d->n, i);

    CHECK_EQ(d->drv_features, 0x130006e54ull);
    CHECK_EQ(sh.features, 0x130006e54ull);
    CHECK_EQ(sh.nvq, 1);
    CHECK_EQ(sh.vq[0].size, 256);
    CHECK_EQ(d->status, 0xf);
    free(d);

    /* command register already right: read, no write; from 0: IO|MEM|MASTER */
    d = dev_new();
    d->cmd = 0x507;
    hv_program_run(L, p, n, &dev_ops, d, &sh);
    CHECK_EQ(d->log[0].kind, EV_CR);
    CHECK_EQ(d->log[1].kind, EV_W);
    CHECK_EQ(d->cmd, 0x507);
    free(d);
    d = dev_new();
    d->cmd = 0;
    hv_program_run(L, p, n, &dev_ops, d, &sh);
    CHECK_EQ(d->cmd, 0x7);
    free(d);
}

static void test_setup_reductions(void)
{
    struct hv_shadow sh;
    uint8_t p[16];

    /* features: only what the device offers, VERSION_1 always asked for */
    struct dev *d = dev_new();
    hv_program_run(L, p, op_setup(p, 0xffffffff, 0, 0), &dev_ops, d, &sh);
    CHECK_EQ(d->drv_features, 0x130006e54ull);
    free(d);
    d = dev_new();
    hv_program_run(L, p, op_setup(p, 0, 0, 0), &dev_ops, d, &sh);
    CHECK_EQ(d->drv_features, 1ull << 32);
    free(d);

    /* qsize: largest power of two <= raw, clipped to the device maximum */
    struct { uint16_t raw, max, want; } qs[] = {
        {100, 256, 64}, {256, 256, 256}, {255, 256, 128}, {1, 256, 1},
        {0, 256, 256}, {0, 1024, 256}, {0xffff, 1024, 256}, {512, 128, 128},
        {0, 100, 64}, {3, 2, 2},
    };
    for (unsigned i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        d = dev_new();
        d->qmax[0] = qs[i].max;
        hv_program_run(L, p, op_setup(p, 0, 0, qs[i].raw), &dev_ops, d, &sh);
        CHECK_EQ(sh.vq[0].size, qs[i].want);
        CHECK_EQ(d->qsize[0], qs[i].want);
        free(d);
    }

    /* nqueues = 1 + raw % 4, clipped to num_queues; a queue of device
     * maximum 0 is skipped */
    d = dev_new();
    d->numq = 4;
    d->qmax[2] = 0;
    hv_program_run(L, p, op_setup(p, 0, 7, 16), &dev_ops, d, &sh); /* 4 */
    CHECK_EQ(sh.nvq, 4);
    CHECK_EQ(sh.vq[0].size, 16);
    CHECK_EQ(sh.vq[1].size, 16);
    CHECK_EQ(sh.vq[2].size, 0);
    CHECK_EQ(sh.vq[3].size, 16);
    CHECK_EQ(d->qdesc[1], WIN + 0x4000);
    CHECK_EQ(d->qavail[3], WIN + 3 * 0x4000 + 0x1000);
    CHECK_EQ(d->qused[3], WIN + 3 * 0x4000 + 0x2000);
    CHECK_EQ(d->qenable[2], 0);
    CHECK_EQ(d->qenable[3], 1);
    free(d);
    d = dev_new();
    d->numq = 2;
    hv_program_run(L, p, op_setup(p, 0, 3, 0), &dev_ops, d, &sh);
    CHECK_EQ(sh.nvq, 2);
    free(d);
    d = dev_new();
    d->numq = 0;
    hv_program_run(L, p, op_setup(p, 0, 3, 0), &dev_ops, d, &sh);
    CHECK_EQ(sh.nvq, 0);
    CHECK_EQ(d->status, 0xf);
    free(d);

    /* the device refuses the features: FAILED, nothing set up, and a
     * following submit is skipped */
    d = dev_new();
    d->refuse = true;
    size_t n = op_setup(p, 0, 0, 0);
    uint8_t prog[64];
    memcpy(prog, p, n);
    uint16_t lens[2] = {16, 1};
    n += op_submit(prog + n, 0, 0, 1, 1, lens, (const uint8_t *)"0123456789abcdef", 16);
    CHECK_EQ(hv_program_run(L, prog, n, &dev_ops, d, &sh), 1);
    CHECK_EQ(sh.nvq, 0);
    CHECK_EQ(d->log[d->n - 1].kind, EV_W);
    CHECK_EQ(d->log[d->n - 1].addr, BAR4 + 0x14);
    CHECK_EQ(d->log[d->n - 1].val, 0x83); /* read-back 0x3 | FAILED */
    free(d);
}

/* A virtio-blk read: out 16-byte header, in 512 + 1. */
static void test_submit_direct(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    uint8_t prog[256];
    size_t n = op_setup(prog, 0, 0, 0);
    uint8_t hdr[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x08}; /* T_IN, sector 2048 */
    uint16_t lens[3] = {16, 512, 1};
    n += op_submit(prog + n, 0, 0, 1, 2, lens, hdr, 16);
    CHECK_EQ(hv_program_run(L, prog, n, &dev_ops, d, &sh), 2);

    uint64_t a;
    uint32_t len;
    uint16_t fl, nx;
    desc_at(d, 0, 0, &a, &len, &fl, &nx);
    CHECK_EQ(a, WIN + 0x10000);
    CHECK_EQ(len, 16);
    CHECK_EQ(fl, VIRTQ_DESC_F_NEXT);
    CHECK_EQ(nx, 1);
    desc_at(d, 0, 1, &a, &len, &fl, &nx);
    CHECK_EQ(a, WIN + 0x10010);
    CHECK_EQ(len, 512);
    CHECK_EQ(fl, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE);
    CHECK_EQ(nx, 2);
    desc_at(d, 0, 2, &a, &len, &fl, &nx);
    CHECK_EQ(a, WIN + 0x10210);
    CHECK_EQ(len, 1);
    CHECK_EQ(fl, VIRTQ_DESC_F_WRITE);
    CHECK_EQ(nx, 0);
    CHECK(!memcmp(d->ram + 0x10000, hdr, 16));
    /* avail: flags 0, ring[0] = head 0, idx 1 */
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1000, 2), 0);
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1002, 2), 1);
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1004, 2), 0);
    /* the avail idx write is the last memory write, then the kick */
    CHECK_EQ(d->log[d->n - 2].kind, EV_MW);
    CHECK_EQ(d->log[d->n - 2].addr, WIN + 0x1002);
    CHECK_EQ(d->log[d->n - 2].size, 2);
    EXPECT(d->n - 1, EV_W, NOTIFY, 2, 0);
    /* every ring/descriptor/buffer write came before the idx write */
    unsigned idx_at = d->n - 2;
    for (unsigned i = 0; i < d->n; i++)
        if (d->log[i].kind == EV_MW && d->log[i].addr == WIN + 0x1002)
            CHECK_EQ(i, idx_at);
    CHECK_EQ(sh.vq[0].avail_idx, 1);
    CHECK_EQ(sh.vq[0].next_desc, 3);
    free(d);
}

/* Data fills the out segments in order; in segments get no data; data
 * beyond the out segments is ignored; 0-length segments are allowed. */
static void test_submit_data(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    uint8_t prog[256], data[40];
    for (unsigned i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(0xa0 + i);
    size_t n = op_setup(prog, 0, 0, 0);
    uint16_t lens[4] = {4, 0, 8, 30};
    n += op_submit(prog + n, 0, HV_SUBMIT_F_NOKICK | HV_SUBMIT_F_NO_INTERRUPT,
                   3, 1, lens, data, 40);
    hv_program_run(L, prog, n, &dev_ops, d, &sh);
    uint64_t a;
    uint32_t len;
    uint16_t fl, nx;
    desc_at(d, 0, 0, &a, &len, &fl, &nx);
    CHECK(!memcmp(d->ram + (a - WIN), data, 4));
    desc_at(d, 0, 1, &a, &len, &fl, &nx);
    CHECK_EQ(len, 0);
    CHECK_EQ(fl, VIRTQ_DESC_F_NEXT);
    desc_at(d, 0, 2, &a, &len, &fl, &nx);
    CHECK_EQ(len, 8);
    CHECK(!memcmp(d->ram + (a - WIN), data + 4, 8));
    desc_at(d, 0, 3, &a, &len, &fl, &nx);
    CHECK_EQ(fl, VIRTQ_DESC_F_WRITE);
    for (unsigned i = 0; i < 30; i++)
        CHECK_EQ(d->ram[a - WIN + i], 0);
    /* NO_INTERRUPT in the avail flags; NOKICK: no register write at all */
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1000, 2), VIRTQ_AVAIL_F_NO_INTERRUPT);
    CHECK(d->log[d->n - 1].kind == EV_MW);
    free(d);
}

static void test_submit_indirect(void)
{
    struct dev *d = dev_new();
    d->numq = 2;
    struct hv_shadow sh;
    uint8_t prog[256];
    size_t n = op_setup(prog, 1u << VIRTIO_F_INDIRECT_DESC, 1, 0); /* 2 queues */
    uint16_t lens[3] = {16, 512, 1};
    uint8_t hdr[16] = {1};
    n += op_submit(prog + n, 1, HV_SUBMIT_F_INDIRECT, 2, 1, lens, hdr, 16);
    n += op_submit(prog + n, 5, HV_SUBMIT_F_INDIRECT, 2, 1, lens, hdr, 16); /* vq 5 % 2 */
    CHECK_EQ(hv_program_run(L, prog, n, &dev_ops, d, &sh), 3);
    const uint32_t q1 = 0x4000;
    uint64_t a;
    uint32_t len;
    uint16_t fl, nx;
    /* head descriptors in the desc table of queue 1 */
    desc_at(d, q1, 0, &a, &len, &fl, &nx);
    CHECK_EQ(a, WIN + q1 + 0x3000);
    CHECK_EQ(len, 48);
    CHECK_EQ(fl, VIRTQ_DESC_F_INDIRECT);
    desc_at(d, q1, 1, &a, &len, &fl, &nx);
    CHECK_EQ(a, WIN + q1 + 0x3000 + 48); /* the second table follows */
    CHECK_EQ(fl, VIRTQ_DESC_F_INDIRECT);
    /* the indirect table: next = index in the table */
    desc_at(d, q1 + 0x3000, 0, &a, &len, &fl, &nx);
    CHECK_EQ(len, 16);
    CHECK_EQ(fl, VIRTQ_DESC_F_NEXT);
    CHECK_EQ(nx, 1);
    CHECK_EQ(d->ram[a - WIN], 1);
    desc_at(d, q1 + 0x3000, 1, &a, &len, &fl, &nx);
    CHECK_EQ(len, 512);
    CHECK_EQ(fl, VIRTQ_DESC_F_NEXT);
    CHECK_EQ(nx, 2);
    desc_at(d, q1 + 0x3000, 2, &a, &len, &fl, &nx);
    CHECK_EQ(len, 1);
    CHECK_EQ(fl, VIRTQ_DESC_F_WRITE);
    CHECK_EQ(nx, 0);
    /* avail ring of queue 1, kick of queue 1 */
    CHECK_EQ(hv_prog_ld_le(d->ram + q1 + 0x1002, 2), 2);
    CHECK_EQ(hv_prog_ld_le(d->ram + q1 + 0x1004, 2), 0);
    CHECK_EQ(hv_prog_ld_le(d->ram + q1 + 0x1006, 2), 1);
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1002, 2), 0); /* queue 0 untouched */
    EXPECT(d->n - 1, EV_W, NOTIFY + 4, 2, 1);
    free(d);
}

/* More submissions than the queue size: ring slots and descriptor slots
 * wrap; a chain longer than the queue goes indirect. */
static void test_submit_wrap(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    uint8_t prog[1024];
    size_t n = op_setup(prog, 0, 0, 4);
    uint16_t lens[3] = {16, 8, 1};
    uint8_t hdr[16] = {0};
    for (unsigned i = 0; i < 6; i++) {
        hdr[8] = (uint8_t)i;
        n += op_submit(prog + n, 0, 0, 1, 2, lens, hdr, 16);
    }
    CHECK_EQ(hv_program_run(L, prog, n, &dev_ops, d, &sh), 7);
    CHECK_EQ(sh.vq[0].size, 4);
    CHECK_EQ(sh.vq[0].avail_idx, 6);
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1002, 2), 6);
    /* heads: 0, 3, 2, 1, 0, 3; ring[i % 4] holds the latest */
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1004 + 2 * 0, 2), 0); /* submission 4 */
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1004 + 2 * 1, 2), 3); /* submission 5 */
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1004 + 2 * 2, 2), 2);
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1004 + 2 * 3, 2), 1);
    CHECK_EQ(sh.vq[0].next_desc, (6 * 3) % 4);
    /* the chain of submission 5 (slots 3, 0, 1): next fields wrap */
    uint64_t a;
    uint32_t len;
    uint16_t fl, nx;
    desc_at(d, 0, 3, &a, &len, &fl, &nx);
    CHECK_EQ(len, 16);
    CHECK_EQ(nx, 0);
    CHECK_EQ(d->ram[a - WIN + 8], 5);
    desc_at(d, 0, 0, &a, &len, &fl, &nx);
    CHECK_EQ(len, 8);
    CHECK_EQ(nx, 1);
    desc_at(d, 0, 1, &a, &len, &fl, &nx);
    CHECK_EQ(len, 1);
    CHECK_EQ(fl, VIRTQ_DESC_F_WRITE);
    /* wrapped chain written in two pieces */
    unsigned kicks = 0;
    for (unsigned i = 0; i < d->n; i++)
        kicks += d->log[i].kind == EV_W && d->log[i].addr == NOTIFY;
    CHECK_EQ(kicks, 6);

    /* queue of 2, chain of 3 -> indirect */
    free(d);
    d = dev_new();
    n = op_setup(prog, 0, 0, 2);
    n += op_submit(prog + n, 0, 0, 1, 2, lens, hdr, 16);
    hv_program_run(L, prog, n, &dev_ops, d, &sh);
    desc_at(d, 0, 0, &a, &len, &fl, &nx);
    CHECK_EQ(fl, VIRTQ_DESC_F_INDIRECT);
    CHECK_EQ(len, 48);
    CHECK_EQ(sh.vq[0].next_desc, 1);
    free(d);
}

/* A chain of 0 segments publishes the next slot as it is; the data area
 * wraps at the window end; a second setup resets the rings. */
static void test_submit_edges(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    static uint8_t prog[8 * 70000];
    size_t n = op_setup(prog, 0, 0, 8);
    n += op_submit(prog + n, 0, 0, 0, 0, NULL, NULL, 0);
    /* 4 buffers of 60000 bytes: the 4th wraps to the data area start */
    uint16_t big[1] = {60000};
    for (unsigned i = 0; i < 4; i++)
        n += op_submit(prog + n, 0, HV_SUBMIT_F_NOKICK, 0, 1, big, NULL, 0);
    CHECK_EQ(hv_program_run(L, prog, n, &dev_ops, d, &sh), 6);
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1004, 2), 0);   /* head 0, nothing written */
    CHECK_EQ(sh.vq[0].avail_idx, 5);
    uint64_t a;
    uint32_t len;
    uint16_t fl, nx;
    desc_at(d, 0, 0, &a, &len, &fl, &nx);
    CHECK_EQ(a, WIN + 0x10000);
    desc_at(d, 0, 1, &a, &len, &fl, &nx);
    CHECK_EQ(a, WIN + 0x10000 + 60000);
    desc_at(d, 0, 2, &a, &len, &fl, &nx);
    CHECK_EQ(a, WIN + 0x10000 + 120000);
    desc_at(d, 0, 3, &a, &len, &fl, &nx);
    CHECK_EQ(a, WIN + 0x10000); /* 0x10000 + 180000 + 60000 > 0x40000 */
    CHECK_EQ(len, 60000);
    free(d);

    /* setup twice: rings zeroed, shadow restarted */
    d = dev_new();
    n = op_setup(prog, 0, 0, 8);
    uint16_t lens[2] = {16, 1};
    n += op_submit(prog + n, 0, 0, 1, 1, lens, (const uint8_t *)"0123456789abcdef", 16);
    n += op_setup(prog + n, 0, 0, 8);
    hv_program_run(L, prog, n, &dev_ops, d, &sh);
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1002, 2), 0);
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x0000, 8), 0);
    CHECK_EQ(sh.vq[0].avail_idx, 0);
    CHECK_EQ(sh.vq[0].next_desc, 0);
    free(d);
}

/* EVENT_IDX: used_event follows each submission (NO_INTERRUPT: one
 * behind), written before the avail idx; not written without EVENT_IDX. */
static void test_submit_event_idx(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    uint8_t prog[256];
    uint16_t lens[2] = {16, 1};
    const uint8_t *hdr = (const uint8_t *)"0123456789abcdef";
    size_t n = op_setup(prog, 1u << VIRTIO_F_EVENT_IDX, 0, 8);
    n += op_submit(prog + n, 0, 0, 1, 1, lens, hdr, 16);
    n += op_submit(prog + n, 0, 0, 1, 1, lens, hdr, 16);
    size_t before = n;
    n += op_submit(prog + n, 0, HV_SUBMIT_F_NO_INTERRUPT, 1, 1, lens, hdr, 16);
    hv_program_run(L, prog, before, &dev_ops, d, &sh);
    CHECK_EQ(sh.features, (1ull << VIRTIO_F_EVENT_IDX) | (1ull << 32));
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1004 + 2 * 8, 2), 1); /* used_event = 1 */
    CHECK_EQ(d->log[d->n - 2].addr, WIN + 0x1002); /* idx still last */
    hv_program_run(L, prog, n, &dev_ops, d, &sh);
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1004 + 2 * 8, 2), 1); /* 2 - 1 */
    CHECK_EQ(hv_prog_ld_le(d->ram + 0x1000, 2), VIRTQ_AVAIL_F_NO_INTERRUPT);
    free(d);

    d = dev_new();
    d->features &= ~(1ull << VIRTIO_F_EVENT_IDX);
    hv_program_run(L, prog, n, &dev_ops, d, &sh);
    for (unsigned i = 0; i < d->n; i++)
        CHECK(!(d->log[i].kind == EV_MW && d->log[i].addr == WIN + 0x1014));
    free(d);
}

/* Layouts without a usable virtio region or window skip the ops. */
static void test_no_virtio(void)
{
    struct hv_layout l = *L;
    l.virtio_region = -1;
    struct dev *d = dev_new();
    struct hv_shadow sh;
    uint8_t p[16];
    CHECK_EQ(hv_program_run(&l, p, op_setup(p, 0, 0, 0), &dev_ops, d, &sh), 0);
    CHECK_EQ(d->n, 0);
    l = *L;
    l.virtio_region = 1; /* bar1: 4 KiB, no notify area */
    CHECK_EQ(hv_program_run(&l, p, op_setup(p, 0, 0, 0), &dev_ops, d, &sh), 0);
    l = *L;
    l.dma_size = 0x10000;
    CHECK_EQ(hv_program_run(&l, p, op_setup(p, 0, 0, 0), &dev_ops, d, &sh), 0);
    CHECK_EQ(d->n, 0);
    free(d);
}

int main(void)
{
    L = hv_layout_find("virtio-blk");
    CHECK(L != NULL);
    if (!L)
        return hv_test_done("test_program_virtq");
    test_setup_sequence();
    test_setup_reductions();
    test_submit_direct();
    test_submit_data();
    test_submit_indirect();
    test_submit_wrap();
    test_submit_edges();
    test_submit_event_idx();
    test_no_virtio();
    return hv_test_done("test_program_virtq");
}
