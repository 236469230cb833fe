/*
 * harness/program decoder + executor: every byte string decodes and runs
 * without reading out of bounds (ASan) or producing an access outside the
 * layout: a recording fake host checks every GPA / port / config access.
 * Also: the virtio-blk layout table, encode/decode inverse, reduction rules.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness/program/hv_program.h"
#include "hv_test.h"
#include "targets/common/hv_device.h"
#include "targets/virtio/virtio_regs.h"

/* ---- deterministic PRNG ------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    return hv_test_xorshift(&rng_state);
}
static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

/* ---- checking fake host ------------------------------------------------ */

struct fake {
    const struct hv_layout *l;
    unsigned bad;       /* violations */
    unsigned calls;
    uint8_t status;     /* emulated device_status */
    uint64_t last;      /* last (kind, addr, size) for reduction checks */
    unsigned last_size;
    uint8_t last_bdf;
    uint64_t last_val;
    uint32_t last_len;
    uint64_t sink;
    unsigned kicks;     /* writes to the notify area: expanded submits */
    unsigned setups_ok; /* DRIVER_OK written */
};

static void bad(struct fake *f, const char *what, uint64_t a, unsigned s)
{
    if (f->bad++ < 10)
        fprintf(stderr, "violation: %s addr=0x%llx size=%u\n", what,
                (unsigned long long)a, s);
}

static void check_mmio(struct fake *f, uint64_t gpa, unsigned size)
{
    f->calls++;
    f->last = gpa;
    f->last_size = size;
    if (size != 1 && size != 2 && size != 4 && size != 8)
        bad(f, "mmio size", gpa, size);
    for (unsigned i = 0; i < f->l->nmmio; i++) {
        const struct hv_layout_region *r = &f->l->mmio[i];
        if (gpa >= r->base && gpa + size <= r->base + r->size)
            return;
    }
    bad(f, "mmio outside the layout", gpa, size);
}

static uint64_t f_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
    struct fake *f = ctx;
    check_mmio(f, gpa, size);
    uint64_t common = f->l->mmio[0].base;
    /* a plausible virtio device most of the time, so the expansion of the
     * structure-aware ops gets exercised; random otherwise */
    if (rndn(8) == 0)
        return rnd();
    if (gpa == common + VIRTIO_PCI_COMMON_STATUS)
        return f->status;
    if (gpa == common + VIRTIO_PCI_COMMON_NUMQ)
        return 1 + rndn(4);
    if (gpa == common + VIRTIO_PCI_COMMON_Q_SIZE)
        return 1u << rndn(11);
    return rnd();
}

static void f_mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
    struct fake *f = ctx;
    check_mmio(f, gpa, size);
    f->last_val = val;
    if (size < 8 && (val >> (8 * size)))
        bad(f, "mmio value wider than the access", gpa, size);
    if (gpa == f->l->mmio[0].base + VIRTIO_PCI_COMMON_STATUS && size == 1) {
        f->status = (uint8_t)val;
        f->setups_ok += val == 0xf;
    }
    if (gpa >= f->l->mmio[0].base + VIRTIO_PCI_NOTIFY_OFF &&
        gpa < f->l->mmio[0].base + VIRTIO_PCI_NOTIFY_OFF + 16 && size == 2)
        f->kicks++;
}

static void check_pio(struct fake *f, uint16_t port, unsigned size)
{
    f->calls++;
    f->last = port;
    f->last_size = size;
    if (size != 1 && size != 2 && size != 4)
        bad(f, "pio size", port, size);
    for (unsigned i = 0; i < f->l->npio; i++) {
        const struct hv_layout_region *r = &f->l->pio[i];
        if (port >= r->base && port + size <= r->base + r->size)
            return;
    }
    bad(f, "pio outside the layout", port, size);
}

static uint32_t f_pio_read(void *ctx, uint16_t port, unsigned size)
{
    check_pio(ctx, port, size);
    return (uint32_t)rnd();
}

static void f_pio_write(void *ctx, uint16_t port, unsigned size, uint32_t val)
{
    struct fake *f = ctx;
    check_pio(f, port, size);
    f->last_val = val;
    if (size < 4 && (val >> (8 * size)))
        bad(f, "pio value wider than the access", port, size);
}

static void check_cfg(struct fake *f, uint8_t bdf, uint8_t off, unsigned size)
{
    f->calls++;
    f->last = off;
    f->last_size = size;
    f->last_bdf = bdf;
    if (size != 1 && size != 2 && size != 4)
        bad(f, "cfg size", off, size);
    if (off % size || off + size > 256)
        bad(f, "cfg offset", off, size);
    for (unsigned i = 0; i < f->l->ndevs; i++)
        if (f->l->devs[i].bdf == bdf)
            return;
    bad(f, "cfg bdf", bdf, size);
}

static uint32_t f_cfg_read(void *ctx, uint8_t bdf, uint8_t off, unsigned size)
{
    check_cfg(ctx, bdf, off, size);
    return (uint32_t)rnd();
}

static void f_cfg_write(void *ctx, uint8_t bdf, uint8_t off, unsigned size,
                        uint32_t val)
{
    struct fake *f = ctx;
    check_cfg(f, bdf, off, size);
    f->last_val = val;
}

static void check_mem(struct fake *f, uint64_t gpa, uint32_t len)
{
    f->calls++;
    f->last = gpa;
    f->last_len = len;
    if (len == 0 || gpa < f->l->dma_base ||
        gpa + len > f->l->dma_base + f->l->dma_size)
        bad(f, "memory outside the DMA window", gpa, len);
}

static void f_mem_write(void *ctx, uint64_t gpa, const void *buf, uint32_t len)
{
    struct fake *f = ctx;
    check_mem(f, gpa, len);
    const volatile uint8_t *p = buf;
    for (uint32_t i = 0; i < len; i++) /* ASan: the source must be readable */
        f->sink += p[i];
}

static void f_mem_fill(void *ctx, uint64_t gpa, uint8_t byte, uint32_t len)
{
    struct fake *f = ctx;
    check_mem(f, gpa, len);
    f->last_val = byte;
}

static void f_mem_read(void *ctx, uint64_t gpa, void *buf, uint32_t len)
{
    check_mem(ctx, gpa, len);
    memset(buf, 0, len);
}

static void f_clock(void *ctx, uint32_t ns)
{
    struct fake *f = ctx;
    f->calls++;
    f->last_val = ns;
}

static void f_rx(void *ctx, const uint8_t *buf, uint32_t len)
{
    struct fake *f = ctx;
    f->calls++;
    f->last_len = len;
    const volatile uint8_t *p = buf;
    for (uint32_t i = 0; i < len; i++)
        f->sink += p[i];
}

static const struct hv_exec_ops fake_ops = {
    .mmio_read = f_mmio_read,
    .mmio_write = f_mmio_write,
    .pio_read = f_pio_read,
    .pio_write = f_pio_write,
    .cfg_read = f_cfg_read,
    .cfg_write = f_cfg_write,
    .mem_write = f_mem_write,
    .mem_fill = f_mem_fill,
    .mem_read = f_mem_read,
    .clock_advance = f_clock,
    .rx_inject = f_rx,
};

/* ---- generators ---------------------------------------------------------- */

static const uint8_t assigned[] = {
    HV_OP_MMIO_READ, HV_OP_MMIO_WRITE, HV_OP_PIO_READ,      HV_OP_PIO_WRITE,
    HV_OP_CFG_READ,  HV_OP_CFG_WRITE,  HV_OP_DMA_WRITE,     HV_OP_DMA_FILL,
    HV_OP_CLOCK_ADVANCE, HV_OP_RX_INJECT, HV_OP_VIRTQ_SETUP, HV_OP_VIRTQ_SUBMIT,
};

static size_t put_rand(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rnd();
    return n;
}

static void put16(uint8_t *b, unsigned v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}

/* A small length most of the time, sometimes any u16. */
static unsigned small_len(void)
{
    return rndn(16) ? rndn(rndn(4) ? 24 : 600) : (unsigned)(rnd() & 0xffff);
}

/* One op-shaped chunk: an assigned opcode with well-sized operands (random
 * values, small lengths), or an unassigned opcode byte. 0 if it does not
 * fit. */
static size_t gen_op(uint8_t *b, size_t cap)
{
    uint8_t code = rndn(12) ? assigned[rndn(sizeof assigned)] : (uint8_t)rnd();
    size_t n;
    unsigned len;
    if (cap < 1 + 4 + 2 * HV_VIRTQ_MAX_SEGS + 2)
        return 0;
    b[0] = code;
    switch (code) {
    case HV_OP_MMIO_READ: n = 1 + put_rand(b + 1, 6); break;
    case HV_OP_MMIO_WRITE: n = 1 + put_rand(b + 1, 14); break;
    case HV_OP_PIO_READ: n = 1 + put_rand(b + 1, 4); break;
    case HV_OP_PIO_WRITE: n = 1 + put_rand(b + 1, 8); break;
    case HV_OP_CFG_READ: n = 1 + put_rand(b + 1, 3); break;
    case HV_OP_CFG_WRITE: n = 1 + put_rand(b + 1, 7); break;
    case HV_OP_DMA_FILL: n = 1 + put_rand(b + 1, 7); break;
    case HV_OP_CLOCK_ADVANCE: n = 1 + put_rand(b + 1, 4); break;
    case HV_OP_VIRTQ_SETUP:
        n = 1 + put_rand(b + 1, 7);
        if (rndn(2))
            put16(b + 6, rndn(300)); /* qsize */
        break;
    case HV_OP_DMA_WRITE:
        put_rand(b + 1, 4);
        len = small_len();
        if (7 + len > cap)
            len = 0;
        put16(b + 5, len);
        n = 7 + put_rand(b + 7, len);
        break;
    case HV_OP_RX_INJECT:
        len = small_len();
        if (3 + len > cap)
            len = 0;
        put16(b + 1, len);
        n = 3 + put_rand(b + 3, len);
        break;
    case HV_OP_VIRTQ_SUBMIT: {
        b[1] = (uint8_t)rndn(rndn(8) ? 4 : 256);          /* vq */
        b[2] = (uint8_t)(rndn(4) ? rndn(8) : rnd());      /* flags */
        b[3] = (uint8_t)(rndn(8) ? rndn(4) : rnd());      /* nout */
        b[4] = (uint8_t)(rndn(8) ? rndn(4) : rnd());      /* nin */
        unsigned nseg = (b[3] & 7u) + (b[4] & 7u);
        n = 5;
        for (unsigned i = 0; i < nseg; i++, n += 2)
            put16(b + n, small_len());
        len = small_len();
        if (n + 2 + len > cap)
            len = 0;
        put16(b + n, len);
        n += 2;
        n += put_rand(b + n, len);
        break;
    }
    default:
        n = 1;
        break;
    }
    return n;
}

/* Random bytes, or a sequence of op-shaped chunks (often with a
 * virtq_setup first so that submits get expanded), sometimes cut short. */
static size_t gen(uint8_t *buf, size_t cap)
{
    size_t n = 0;
    if (rndn(4) == 0) {
        size_t len = rndn((unsigned)(cap < 96 ? cap : 96) + 1);
        return put_rand(buf, len);
    }
    if (rndn(2)) {
        buf[0] = HV_OP_VIRTQ_SETUP;
        put_rand(buf + 1, 7);
        if (rndn(2))
            put16(buf + 6, rndn(2) ? 0 : rndn(300));
        n = 8;
    }
    unsigned nops = 1 + rndn(24);
    for (unsigned k = 0; k < nops; k++) {
        size_t m = gen_op(buf + n, cap - n);
        if (!m)
            break;
        n += m;
    }
    if (n && rndn(4) == 0)
        n -= rndn((unsigned)n);
    return n;
}

/* ---- tests --------------------------------------------------------------- */

static void test_layout(void)
{
    const struct hv_layout *l = hv_layout_find("virtio-blk");
    CHECK(l != NULL);
    if (!l)
        return;
    CHECK(hv_layout_find("no-such-target") == NULL);
    CHECK(hv_layout_find(NULL) == NULL);
    CHECK(!strcmp(l->target, "virtio-blk"));
    CHECK_EQ(l->ndevs, 1);
    CHECK(!strcmp(l->devs[0].model, "virtio-blk"));
    CHECK(!strcmp(l->devs[0].name, "vblk"));
    CHECK_EQ(l->devs[0].bdf, 0x08);
    CHECK_EQ(l->nmmio, 2);
    CHECK(!strcmp(l->mmio[0].name, "bar4"));
    CHECK_EQ(l->mmio[0].dev, 0);
    CHECK_EQ(l->mmio[0].bar, 4);
    CHECK_EQ(l->mmio[0].base, 0xfebf8000ull);
    CHECK_EQ(l->mmio[0].size, VIRTIO_PCI_MODERN_BAR_SIZE);
    CHECK(!strcmp(l->mmio[1].name, "bar1"));
    CHECK_EQ(l->mmio[1].bar, 1);
    CHECK_EQ(l->mmio[1].base, 0xfebfe000ull);
    CHECK_EQ(l->mmio[1].size, VIRTIO_PCI_MSIX_BAR_SIZE);
    CHECK_EQ(l->npio, 1);
    CHECK(!strcmp(l->pio[0].name, "bar0"));
    CHECK_EQ(l->pio[0].base, 0xc000);
    CHECK_EQ(l->pio[0].size, 0x80);
    CHECK_EQ(l->dma_base, HV_DMA_WINDOW_BASE);
    CHECK_EQ(l->dma_size, HV_DMA_WINDOW_SIZE);
    CHECK_EQ(l->virtio_region, 0);
    /* every layout: regions inside 64-bit/port space, names unique */
    for (unsigned t = 0; hv_layouts[t]; t++) {
        const struct hv_layout *x = hv_layouts[t];
        CHECK(hv_layout_find(x->target) == x);
        for (unsigned i = 0; i < x->npio; i++)
            CHECK(x->pio[i].base + x->pio[i].size <= 0x10000);
        for (unsigned i = 0; i < x->nmmio; i++) {
            CHECK(x->mmio[i].dev < x->ndevs);
            for (unsigned j = 0; j < i; j++)
                CHECK(strcmp(x->mmio[i].name, x->mmio[j].name) != 0);
        }
        CHECK(x->dma_size >= HV_VIRTQ_MIN_WINDOW || x->virtio_region < 0);
    }
}

static void run1(const struct hv_layout *l, const uint8_t *p, size_t n,
                 struct fake *f)
{
    struct hv_shadow sh;
    hv_program_run(l, p, n, &fake_ops, f, &sh);
}

/* Exact reduction results for a few hand-picked raw operands. */
static void test_reduction(void)
{
    const struct hv_layout *l = hv_layout_find("virtio-blk");
    struct fake f = {.l = l};
    struct {
        uint8_t bytes[16];
        size_t n;
        uint64_t addr;
        unsigned size;
    } mm[] = {
        /* region 2 -> 0 (mod 2), off 0x4014 -> 0x14, size 1 */
        {{0x01, 2, 0x14, 0x40, 0, 0, 1}, 7, 0xfebf8014, 1},
        /* size 3 -> 1 << 3 = 8 */
        {{0x01, 0, 0x00, 0x10, 0, 0, 3}, 7, 0xfebf9000, 8},
        /* off 0x3fff size 4 -> moved down to 0x3ffc */
        {{0x01, 0, 0xff, 0x3f, 0, 0, 4}, 7, 0xfebfbffc, 4},
        /* bar1, size 0x12 -> 1 << 2 = 4 */
        {{0x01, 1, 0x08, 0, 0, 0, 0x12}, 7, 0xfebfe008, 4},
        /* pio: off 0x90 -> 0x10, size 3 -> 1 << 0 */
        {{0x03, 0, 0x90, 0, 3}, 5, 0xc010, 1},
        /* pio: off 0x7f size 4 -> 0x7c */
        {{0x03, 5, 0x7f, 0, 4}, 5, 0xc07c, 4},
        /* pio: size 5 -> 1 << 2 = 4 */
        {{0x03, 0, 0x10, 0, 5}, 5, 0xc010, 4},
        /* cfg: off 0x07 size 4 -> 0x04 */
        {{0x05, 0, 0x07, 4}, 4, 0x04, 4},
        /* cfg: dev 7 -> 0, off 0x3d size 2 -> 0x3c; size 7 -> 1<<1 */
        {{0x05, 7, 0x3d, 7}, 4, 0x3c, 2},
    };
    for (unsigned i = 0; i < sizeof mm / sizeof mm[0]; i++) {
        f.last = ~0ull;
        f.last_size = 0;
        run1(l, mm[i].bytes, mm[i].n, &f);
        CHECK_EQ(f.last, mm[i].addr);
        CHECK_EQ(f.last_size, mm[i].size);
        if (mm[i].bytes[0] == 0x05)
            CHECK_EQ(f.last_bdf, 0x08);
    }
    /* mmio_write value masked to the access size */
    uint8_t w[15] = {0x02, 0, 0x14, 0, 0, 0, 1, 0xef, 0xbe, 0xad, 0xde, 1, 2, 3, 4};
    run1(l, w, sizeof w, &f);
    CHECK_EQ(f.last_val, 0xef);
    /* dma_write: off mod window, len clipped at the end */
    uint8_t d[11] = {0x07, 0xfe, 0xff, 0x07, 0x00, 4, 0, 1, 2, 3, 4};
    f.last_len = 0;
    run1(l, d, sizeof d, &f); /* off 0x7fffe % 0x40000 = 0x3fffe */
    CHECK_EQ(f.last, 0x10000000ull + 0x3fffe);
    CHECK_EQ(f.last_len, 2);
    /* dma_fill of length 0 does nothing */
    uint8_t z[8] = {0x08, 0, 0, 0, 0, 0, 0, 0xaa};
    unsigned calls = f.calls;
    CHECK_EQ(hv_program_run(l, z, sizeof z, &fake_ops, &f, &(struct hv_shadow){0}), 0);
    CHECK_EQ(f.calls, calls);
    /* virtq_submit before any setup is skipped */
    uint8_t s[7] = {0x11, 0, 0, 0, 0, 0, 0};
    CHECK_EQ(hv_program_run(l, s, sizeof s, &fake_ops, &f, &(struct hv_shadow){0}), 0);
    CHECK_EQ(f.calls, calls);
    /* unassigned opcodes are skipped; truncation ends the program */
    uint8_t u[] = {0xff, 0x00, 0x12, 0x09, 1, 0, 0, 0, 0x01, 0};
    CHECK_EQ(hv_program_run(l, u, sizeof u, &fake_ops, &f, &(struct hv_shadow){0}), 1);
    CHECK_EQ(f.last_val, 1);
    CHECK_EQ(f.bad, 0);
}

/* A NULL host callback skips the op rather than crashing. */
static void test_null_ops(void)
{
    const struct hv_layout *l = hv_layout_find("virtio-blk");
    struct hv_exec_ops none = {0};
    struct hv_shadow sh;
    uint8_t buf[4096];
    for (unsigned i = 0; i < 2000; i++) {
        size_t n = gen(buf, sizeof buf);
        CHECK_EQ(hv_program_run(l, buf, n, &none, NULL, &sh), 0);
    }
}

static void test_random(void)
{
    const struct hv_layout *l = hv_layout_find("virtio-blk");
    struct fake f = {.l = l};
    struct hv_shadow sh;
    uint8_t tmp[8192];
    unsigned long ops_total = 0, known_total = 0, enc_bad = 0, len_bad = 0;
    const unsigned iters = 300000;

    for (unsigned it = 0; it < iters; it++) {
        size_t n = gen(tmp, sizeof tmp);
        /* exact-size heap copy: ASan catches any read past the end */
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, tmp, n);

        /* decode: lengths add up, never past the end; encode inverts */
        size_t pos = 0;
        unsigned decoded = 0;
        struct hv_op op;
        while (pos < n) {
            size_t k = hv_op_decode(p + pos, n - pos, &op);
            if (!k)
                break;
            if (k > n - pos)
                len_bad++;
            if (op.known) {
                decoded++;
                uint8_t enc[HV_OP_MAX_BYTES];
                size_t e = hv_op_encode(&op, enc, sizeof enc);
                if (e != k || memcmp(enc, p + pos, k))
                    enc_bad++;
            } else if (k != 1 || hv_op_name(p[pos])) {
                len_bad++;
            }
            pos += k;
        }
        unsigned ran = hv_program_run(l, p, n, &fake_ops, &f, &sh);
        if (ran > decoded)
            len_bad++;
        ops_total += ran;
        known_total += decoded;
        /* the shadow stays consistent */
        if (sh.nvq > HV_VIRTQ_MAX)
            len_bad++;
        for (unsigned q = 0; q < HV_VIRTQ_MAX; q++)
            if (sh.vq[q].size > HV_VIRTQ_MAX_SIZE ||
                (sh.vq[q].size & (sh.vq[q].size - 1)) ||
                (sh.vq[q].size && sh.vq[q].next_desc >= sh.vq[q].size) ||
                sh.vq[q].next_ind > HV_VIRTQ_MAX_SIZE)
                len_bad++;
        if (sh.data_next < HV_DATA_AREA_OFF || sh.data_next > l->dma_size)
            len_bad++;
        free(p);
    }
    CHECK_EQ(f.bad, 0);
    CHECK_EQ(enc_bad, 0);
    CHECK_EQ(len_bad, 0);
    /* the generator reaches the executor: most decoded ops run */
    CHECK(ops_total > iters);
    CHECK(known_total >= ops_total);
    CHECK(f.setups_ok > iters / 20);
    CHECK(f.kicks > iters / 20);
    printf("random: %u programs, %lu ops decoded, %lu executed, %u host calls, "
           "%u setups, %u kicks\n",
           iters, known_total, ops_total, f.calls, f.setups_ok, f.kicks);
}

/* hv_op_encode refuses what does not fit and unassigned opcodes. */
static void test_encode_edges(void)
{
    struct hv_op op;
    memset(&op, 0, sizeof op);
    op.code = 0x7f;
    uint8_t buf[64];
    CHECK_EQ(hv_op_encode(&op, buf, sizeof buf), 0);
    op.code = HV_OP_MMIO_WRITE;
    op.known = true;
    CHECK_EQ(hv_op_encode(&op, buf, 14), 0);
    CHECK_EQ(hv_op_encode(&op, buf, 15), 15);
    op.code = HV_OP_DMA_WRITE;
    op.len = 4;
    op.data = NULL;
    CHECK_EQ(hv_op_encode(&op, buf, sizeof buf), 0);
    CHECK(hv_op_name(HV_OP_VIRTQ_SUBMIT) && !strcmp(hv_op_name(HV_OP_VIRTQ_SUBMIT), "virtq_submit"));
    CHECK(hv_op_name(0x00) == NULL);
    CHECK(hv_op_name(0x22) == NULL); /* 0x20/0x21: nvme */
    /* decode of nothing / of a cut-off op */
    CHECK_EQ(hv_op_decode(buf, 0, &op), 0);
    uint8_t cut[] = {HV_OP_VIRTQ_SUBMIT, 0, 0, 2, 0, 16, 0};
    CHECK_EQ(hv_op_decode(cut, sizeof cut, &op), 0);
    uint8_t ok[] = {HV_OP_VIRTQ_SUBMIT, 0, 0, 0x0a, 0xf9, 16, 0, 1, 0,
                    2, 0, 3, 0, 0xaa, 0xbb, 0xcc};
    CHECK_EQ(hv_op_decode(ok, sizeof ok, &op), sizeof ok); /* nout 2, nin 1 */
    CHECK_EQ(op.seg[0], 16);
    CHECK_EQ(op.seg[1], 1);
    CHECK_EQ(op.seg[2], 2);
    CHECK_EQ(op.len, 3);
    CHECK(op.data == ok + 13);
}

int main(void)
{
    test_layout();
    test_reduction();
    test_encode_edges();
    test_null_ops();
    test_random();
    return hv_test_done("test_program_exec");
}
