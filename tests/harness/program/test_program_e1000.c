/*
 * Expansion of the structure-aware e1000 ops against a recording mock (a
 * register file with EERD/MDIC answers and the DMA window as RAM): the exact
 * e1000_setup register sequence with each flag, TX descriptor bytes (legacy,
 * context + data, TSO, the stale-context mode, VLAN), the packet bytes in
 * memory, TDT values and the ring wrap, NOKICK/REAP, RX buffer posting and
 * RDT; decode/encode/execution of random bytes; the text form of the ops
 * and the e1000_* directives (frame checksums); the e1000 seeds.
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

#define BAR0 0xfebc0000ull
#define WIN 0x10000000ull
#define WSIZE 0x40000u

enum ev_kind { EV_R, EV_W, EV_MW, EV_MF, EV_MR, EV_CR, EV_CW, EV_PR, EV_PW,
               EV_RX };

struct ev {
    enum ev_kind kind;
    uint64_t addr;
    unsigned size;
    uint64_t val;
};

struct dev {
    struct ev log[4096];
    unsigned n;
    uint32_t regs[0x20000 / 4];
    uint16_t eeprom[64];
    uint16_t phy[32];
    uint16_t cmd;
    uint8_t ram[WSIZE];
};

static const struct hv_layout *L;

static void log_ev(struct dev *d, enum ev_kind k, uint64_t a, unsigned s,
                   uint64_t v)
{
    if (d->n < sizeof d->log / sizeof d->log[0])
        d->log[d->n++] = (struct ev){k, a, s, v};
}

static uint64_t d_read(void *ctx, uint64_t gpa, unsigned size)
{
    struct dev *d = ctx;
    uint64_t off = gpa - BAR0;
    CHECK(off < 0x20000);
    uint64_t v = off < 0x20000 ? d->regs[off / 4] : 0;
    log_ev(d, EV_R, off, size, v);
    return v;
}

static void d_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
    struct dev *d = ctx;
    uint64_t off = gpa - BAR0;
    CHECK(off < 0x20000);
    log_ev(d, EV_W, off, size, val);
    if (off >= 0x20000)
        return;
    uint32_t v = (uint32_t)val;
    if (off == 0x14 && (v & 1)) { /* EERD: done at once */
        unsigned a = (v >> 8) & 0x3f;
        v = (uint32_t)d->eeprom[a] << 16 | a << 8 | 0x10;
    } else if (off == 0x20) { /* MDIC: ready at once */
        unsigned reg = (v >> 16) & 31;
        if (v & 0x08000000u)
            v = (v & 0xffff0000u) | d->phy[reg];
        else
            d->phy[reg] = (uint16_t)v;
        v |= 0x10000000u;
    } else if (off == 0 && (v & 0x04000000u)) {
        v &= ~0x04000000u; /* reset done */
    }
    d->regs[off / 4] = v;
}

static void d_mem_write(void *ctx, uint64_t gpa, const void *buf, uint32_t len)
{
    struct dev *d = ctx;
    log_ev(d, EV_MW, gpa - WIN, len, 0);
    CHECK(gpa >= WIN && gpa + len <= WIN + WSIZE);
    memcpy(d->ram + (gpa - WIN), buf, len);
}

static void d_mem_fill(void *ctx, uint64_t gpa, uint8_t byte, uint32_t len)
{
    struct dev *d = ctx;
    log_ev(d, EV_MF, gpa - WIN, len, byte);
    CHECK(gpa >= WIN && gpa + len <= WIN + WSIZE);
    memset(d->ram + (gpa - WIN), byte, len);
}

static void d_mem_read(void *ctx, uint64_t gpa, void *buf, uint32_t len)
{
    struct dev *d = ctx;
    log_ev(d, EV_MR, gpa - WIN, len, 0);
    CHECK(gpa >= WIN && gpa + len <= WIN + WSIZE);
    memcpy(buf, d->ram + (gpa - WIN), len);
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

static uint32_t d_pio_read(void *ctx, uint16_t port, unsigned size)
{
    log_ev(ctx, EV_PR, port, size, 0);
    return 0;
}

static void d_pio_write(void *ctx, uint16_t port, unsigned size, uint32_t val)
{
    log_ev(ctx, EV_PW, port, size, val);
}

static void d_clock(void *ctx, uint32_t ns)
{
    (void)ctx;
    (void)ns;
}

static void d_rx(void *ctx, const uint8_t *buf, uint32_t len)
{
    struct dev *d = ctx;
    log_ev(d, EV_RX, 0, len, len ? buf[0] : 0);
}

static const struct hv_exec_ops dev_ops = {
    .mmio_read = d_read,
    .mmio_write = d_write,
    .pio_read = d_pio_read,
    .pio_write = d_pio_write,
    .cfg_read = d_cfg_read,
    .cfg_write = d_cfg_write,
    .mem_write = d_mem_write,
    .mem_fill = d_mem_fill,
    .mem_read = d_mem_read,
    .clock_advance = d_clock,
    .rx_inject = d_rx,
};

static struct dev *dev_new(void)
{
    struct dev *d = calloc(1, sizeof *d);
    static const uint16_t mac[3] = {0x5452, 0x1200, 0x5734};
    memcpy(d->eeprom, mac, sizeof mac);
    d->regs[0] = 0x140240;     /* CTRL */
    d->regs[2] = 0x80080783;   /* STATUS */
    d->phy[0] = 0x1140;
    d->phy[1] = 0x7949;
    return d;
}

static unsigned run(struct dev *d, const uint8_t *p, size_t n,
                    struct hv_shadow *sh)
{
    return hv_program_continue(L, p, n, &dev_ops, d, sh);
}

/* cursor over the event log */
struct cur {
    struct dev *d;
    unsigned i;
};

#define NEXT(c, k, a, s, v)                                                    \
    do {                                                                       \
        CHECK((c)->i < (c)->d->n);                                             \
        if ((c)->i < (c)->d->n) {                                              \
            const struct ev *e_ = &(c)->d->log[(c)->i];                        \
            CHECK_EQ(e_->kind, k);                                             \
            CHECK_EQ(e_->addr, (uint64_t)(a));                                 \
            CHECK_EQ(e_->size, s);                                             \
            CHECK_EQ(e_->val, (uint64_t)(v));                                  \
        }                                                                      \
        (c)->i++;                                                              \
    } while (0)
#define W(c, reg, v) NEXT(c, EV_W, reg, 4, v)
#define R(c, reg, v) NEXT(c, EV_R, reg, 4, v)

static size_t op_setup(uint8_t *b, uint8_t flags, uint8_t ntx, uint8_t nrx)
{
    b[0] = HV_OP_E1000_SETUP;
    b[1] = flags;
    b[2] = ntx;
    b[3] = nrx;
    return 4;
}

struct txop {
    uint8_t flags, nseg, hdrlen;
    uint16_t mss, special;
    uint8_t off[4]; /* ipcss ipcso tucss tucso */
    const uint8_t *data;
    uint16_t dlen;
};

static size_t op_tx(uint8_t *b, const struct txop *t)
{
    b[0] = HV_OP_E1000_TX;
    b[1] = t->flags;
    b[2] = t->nseg;
    hv_prog_st_le(b + 3, 2, t->mss);
    b[5] = t->hdrlen;
    hv_prog_st_le(b + 6, 2, t->special);
    memcpy(b + 8, t->off, 4);
    hv_prog_st_le(b + 12, 2, t->dlen);
    if (t->dlen)
        memcpy(b + 14, t->data, t->dlen);
    return 14u + t->dlen;
}

static const uint8_t *txd(struct dev *d, unsigned i)
{
    return d->ram + 0x0000 + 16u * i;
}

static const uint8_t *rxd(struct dev *d, unsigned i)
{
    return d->ram + 0x1000 + 16u * i;
}

/* ---- e1000_setup ------------------------------------------------------- */

static void expect_reset(struct cur *c)
{
    NEXT(c, EV_CR, 0x0804, 2, 0);
    NEXT(c, EV_CW, 0x0804, 2, 0x7);
    W(c, 0xd8, 0xffffffff);
    W(c, 0x100, 0);
    W(c, 0x400, 0x8);
    R(c, 0x0, 0x140240);
    W(c, 0x0, 0x4140240);
    W(c, 0xd8, 0xffffffff);
    R(c, 0xc0, 0);
    R(c, 0x8, 0x80080783);
}

static void expect_filter(struct cur *c, uint32_t ral, uint32_t rah)
{
    W(c, 0x5400, ral);
    W(c, 0x5404, rah);
    for (unsigned i = 0; i < 128; i++)
        W(c, 0x5200 + 4 * i, 0);
}

static void expect_tx_ring(struct cur *c, unsigned n)
{
    NEXT(c, EV_MF, 0, n * 16, 0);
    W(c, 0x3808, n * 16);
    W(c, 0x3804, 0);
    W(c, 0x3800, WIN);
    W(c, 0x3818, 0);
    W(c, 0x3810, 0);
    W(c, 0x410, 0x602008);
    W(c, 0x3820, 8);
    W(c, 0x382c, 0x20);
    W(c, 0x400, 0x0103f0fa);
}

static void expect_rx_ring(struct cur *c, unsigned n)
{
    W(c, 0x2820, 0);
    W(c, 0x2808, n * 16);
    W(c, 0x2804, 0);
    W(c, 0x2800, WIN + 0x1000);
    W(c, 0x2818, 0);
    W(c, 0x2810, 0);
    for (unsigned i = 0; i < n; i++)
        NEXT(c, EV_MW, 0x1000 + 16 * i, 16, 0);
}

static void test_setup_linux(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    hv_shadow_reset(&sh);
    uint8_t b[4];
    size_t n = op_setup(b, HV_E1000_SETUP_F_EEPROM | HV_E1000_SETUP_F_PHY |
                               HV_E1000_SETUP_F_RXCSUM, 0, 0);
    CHECK_EQ(run(d, b, n, &sh), 1);
    struct cur c = {d, 0};
    expect_reset(&c);
    for (unsigned w = 0; w < 3; w++) {
        W(&c, 0x14, w << 8 | 1);
        R(&c, 0x14, (uint32_t)d->eeprom[w] << 16 | w << 8 | 0x10);
    }
    W(&c, 0x20, 0x08200000);
    R(&c, 0x20, 0x18201140);
    W(&c, 0x20, 0x04201340);
    R(&c, 0x20, 0x14201340);
    W(&c, 0x20, 0x08210000);
    R(&c, 0x20, 0x18217949);
    W(&c, 0x20, 0x08210000);
    R(&c, 0x20, 0x18217949);
    expect_filter(&c, 0x12005452, 0x80005734); /* the EEPROM's MAC */
    expect_tx_ring(&c, 256);
    expect_rx_ring(&c, 256);
    R(&c, 0x5000, 0);
    W(&c, 0x5000, 0x200);
    W(&c, 0x100, 0x8002);
    W(&c, 0x2818, 255);
    W(&c, 0xd0, 0x9d);
    CHECK_EQ(c.i, d->n);
    /* RX descriptors point at the 16 fixed buffers */
    for (unsigned i = 0; i < 256; i++) {
        CHECK_EQ(hv_prog_ld_le(rxd(d, i), 8), WIN + 0x8000 + 0x800 * (i % 16));
        CHECK_EQ(hv_prog_ld_le(rxd(d, i) + 8, 8), 0);
    }
    CHECK_EQ(sh.e1000.ntx, 256);
    CHECK_EQ(sh.e1000.nrx, 256);
    CHECK_EQ(sh.e1000.tx_tail, 0);
    CHECK_EQ(sh.e1000.rx_tail, 255);
    free(d);
}

static void test_setup_variants(void)
{
    struct hv_shadow sh;
    uint8_t b[4];
    size_t n = op_setup(b, HV_E1000_SETUP_F_PROMISC | HV_E1000_SETUP_F_LPE |
                               HV_E1000_SETUP_F_LOOPBACK | HV_E1000_SETUP_F_VLAN |
                               HV_E1000_SETUP_F_SECRC, 13, 7);
    struct dev *d = dev_new();
    d->cmd = 0x7; /* already on: not written */
    hv_shadow_reset(&sh);
    CHECK_EQ(run(d, b, n, &sh), 1);
    struct cur c = {d, 0};
    NEXT(&c, EV_CR, 0x0804, 2, 7);
    W(&c, 0xd8, 0xffffffff);
    c.i = 9; /* past the reset, checked in test_setup_linux */
    expect_filter(&c, 0x12005452, 0x80005634); /* the fixed MAC */
    W(&c, 0x38, 0x8100);
    R(&c, 0x0, 0x140240);
    W(&c, 0x0, 0x40140240);
    expect_tx_ring(&c, 8);
    expect_rx_ring(&c, 8);
    W(&c, 0x100, 0x8002 | 0x8 | 0x10 | 0x20 | 0x40 | 0x04000000);
    W(&c, 0x2818, 7);
    W(&c, 0xd0, 0x9d);
    CHECK_EQ(c.i, d->n);
    CHECK_EQ(sh.e1000.ntx, 8);
    CHECK_EQ(sh.e1000.nrx, 8);

    /* ring size reduction: 0 -> 256, <8 -> 8, else multiple of 8 */
    static const uint8_t raw[] = {0, 1, 8, 9, 255, 128};
    static const uint16_t want[] = {256, 8, 8, 8, 248, 128};
    for (unsigned i = 0; i < sizeof raw; i++) {
        hv_shadow_reset(&sh);
        d->n = 0;
        op_setup(b, 0, raw[i], raw[i]);
        CHECK_EQ(run(d, b, 4, &sh), 1);
        CHECK_EQ(sh.e1000.ntx, want[i]);
        CHECK_EQ(sh.e1000.nrx, want[i]);
        CHECK_EQ(d->regs[0x3808 / 4], want[i] * 16u);
        CHECK_EQ(d->regs[0x2818 / 4], want[i] - 1u);
    }
    free(d);
}

/* ---- e1000_tx ------------------------------------------------------------ */

static struct dev *setup_small(struct hv_shadow *sh, uint8_t ntx)
{
    struct dev *d = dev_new();
    hv_shadow_reset(sh);
    uint8_t b[4];
    op_setup(b, 0, ntx, 16);
    CHECK_EQ(run(d, b, 4, sh), 1);
    d->n = 0;
    return d;
}

/* eth / ipv4 (ihl 5) / udp or tcp (doff 8 words) frame */
static size_t frame(uint8_t *f, bool tcp, bool tag, size_t payload)
{
    size_t l2 = tag ? 18 : 14;
    memset(f, 0, 128 + payload);
    memcpy(f, "\x52\x55\x0a\x00\x02\x02\x52\x54\x00\x12\x34\x56", 12);
    if (tag) {
        f[12] = 0x81;
        f[15] = 5;
    }
    f[l2 - 2] = 0x08;
    f[l2] = 0x45;
    f[l2 + 9] = tcp ? 6 : 17;
    size_t l4 = tcp ? 32 : 8;
    if (tcp)
        f[l2 + 20 + 12] = 8 << 4;
    for (size_t i = 0; i < payload; i++)
        f[l2 + 20 + l4 + i] = (uint8_t)i;
    return l2 + 20 + l4 + payload;
}

static void test_tx_legacy(void)
{
    struct hv_shadow sh;
    struct dev *d = setup_small(&sh, 8);
    uint8_t pkt[100], b[200];
    for (unsigned i = 0; i < sizeof pkt; i++)
        pkt[i] = (uint8_t)(i * 7);
    struct txop t = {.flags = HV_E1000_TX_F_TXSM | HV_E1000_TX_F_VLE,
                     .nseg = 2, .special = 0x1005, .off = {1, 2, 34, 40},
                     .data = pkt, .dlen = 100};
    size_t n = op_tx(b, &t);
    CHECK_EQ(run(d, b, n, &sh), 1);
    struct cur c = {d, 0};
    NEXT(&c, EV_MW, 0x10000, 100, 0);
    NEXT(&c, EV_MW, 0x00, 16, 0);
    NEXT(&c, EV_MW, 0x10, 16, 0);
    NEXT(&c, EV_MW, 0x20, 16, 0);
    W(&c, 0x3818, 3);
    CHECK_EQ(c.i, d->n);
    CHECK(!memcmp(d->ram + 0x10000, pkt, 100));
    static const unsigned start[] = {0, 33, 66}, len[] = {33, 33, 34};
    for (unsigned i = 0; i < 3; i++) {
        const uint8_t *e = txd(d, i);
        CHECK_EQ(hv_prog_ld_le(e, 8), WIN + 0x10000 + start[i]);
        CHECK_EQ(hv_prog_ld_le(e + 8, 2), len[i]);
        CHECK_EQ(e[10], 40);                              /* CSO = tucso */
        CHECK_EQ(e[11], 0x02 | 0x04 | 0x40 | (i == 2 ? 0x09 : 0)); /* IFCS IC VLE */
        CHECK_EQ(e[12], 0);
        CHECK_EQ(e[13], 34);                              /* CSS = tucss */
        CHECK_EQ(hv_prog_ld_le(e + 14, 2), 0x1005);
    }
    CHECK_EQ(sh.e1000.tx_tail, 3);
    CHECK_EQ(sh.data_next, 0x10000 + 112);

    /* 8 more descriptors wrap the ring of 8: slots 3..7, 0..2, TDT 3 */
    d->n = 0;
    t = (struct txop){.nseg = 7, .data = pkt, .dlen = 8};
    n = op_tx(b, &t);
    CHECK_EQ(run(d, b, n, &sh), 1);
    c = (struct cur){d, 0};
    NEXT(&c, EV_MW, 0x10070, 8, 0);
    for (unsigned i = 0; i < 8; i++)
        NEXT(&c, EV_MW, 16 * ((3 + i) % 8), 16, 0);
    W(&c, 0x3818, 3);
    CHECK_EQ(hv_prog_ld_le(txd(d, 2) + 8, 2), 1);
    CHECK_EQ(txd(d, 2)[11], 0x0b); /* IFCS EOP RS, no IC/VLE */
    CHECK_EQ(hv_prog_ld_le(txd(d, 2), 8), WIN + 0x10070 + 7);

    /* empty packet: one zero-length descriptor; more pieces than bytes */
    d->n = 0;
    t = (struct txop){.nseg = 3, .data = pkt, .dlen = 2};
    n = op_tx(b, &t);
    CHECK_EQ(run(d, b, n, &sh), 1);
    CHECK_EQ(hv_prog_ld_le(txd(d, 3) + 8, 2), 0);
    CHECK_EQ(hv_prog_ld_le(txd(d, 4) + 8, 2), 1);
    CHECK_EQ(hv_prog_ld_le(txd(d, 5) + 8, 2), 0);
    CHECK_EQ(hv_prog_ld_le(txd(d, 6) + 8, 2), 1);
    CHECK_EQ(d->regs[0x3818 / 4], 7);
    free(d);
}

static void test_tx_ctx(void)
{
    struct hv_shadow sh;
    struct dev *d = setup_small(&sh, 16);
    uint8_t f[256], b[300];
    size_t fl = frame(f, false, false, 10);
    struct txop t = {.flags = HV_E1000_TX_CTX | HV_E1000_TX_F_AUTO |
                              HV_E1000_TX_F_IXSM | HV_E1000_TX_F_TXSM,
                     .mss = 77, .hdrlen = 99, .off = {9, 9, 9, 9},
                     .data = f, .dlen = (uint16_t)fl};
    size_t n = op_tx(b, &t);
    CHECK_EQ(run(d, b, n, &sh), 1);
    const uint8_t *cd = txd(d, 0), *dd = txd(d, 1);
    CHECK_EQ(cd[0], 14);             /* IPCSS */
    CHECK_EQ(cd[1], 24);             /* IPCSO */
    CHECK_EQ(hv_prog_ld_le(cd + 2, 2), 33);     /* IPCSE */
    CHECK_EQ(cd[4], 34);             /* TUCSS */
    CHECK_EQ(cd[5], 40);             /* TUCSO (UDP) */
    CHECK_EQ(hv_prog_ld_le(cd + 6, 2), 0);      /* TUCSE */
    CHECK_EQ(hv_prog_ld_le(cd + 8, 4), 0x20000000); /* DEXT, DTYP 0, no TCP, PAYLEN 0 */
    CHECK_EQ(cd[12], 0);
    CHECK_EQ(cd[13], 42);            /* HDRLEN from the headers */
    CHECK_EQ(hv_prog_ld_le(cd + 14, 2), 77);
    CHECK_EQ(hv_prog_ld_le(dd, 8), WIN + 0x10000);
    CHECK_EQ(hv_prog_ld_le(dd + 8, 4), fl | 0x00100000u | 0x2bu << 24);
    CHECK_EQ(dd[12], 0);
    CHECK_EQ(dd[13], 3);             /* IXSM TXSM */
    CHECK_EQ(d->regs[0x3818 / 4], 2);

    /* raw offsets without AUTO; a tagged TCP frame */
    fl = frame(f, true, true, 5);
    t = (struct txop){.flags = HV_E1000_TX_CTX | HV_E1000_TX_F_VLE,
                      .hdrlen = 99, .special = 7, .off = {1, 2, 3, 4},
                      .data = f, .dlen = (uint16_t)fl};
    n = op_tx(b, &t);
    CHECK_EQ(run(d, b, n, &sh), 1);
    cd = txd(d, 2);
    dd = txd(d, 3);
    CHECK(!memcmp(cd, "\x01\x02\x00\x00\x03\x04\x00\x00", 8));
    CHECK_EQ(hv_prog_ld_le(cd + 8, 4), 0x21000000); /* DEXT | TCP */
    CHECK_EQ(cd[13], 99);
    CHECK_EQ(hv_prog_ld_le(dd + 8, 4), fl | 0x00100000u | 0x6bu << 24); /* | VLE */
    CHECK_EQ(dd[13], 0);
    CHECK_EQ(hv_prog_ld_le(dd + 14, 2), 7);

    /* AUTO on the tagged frame: L2 is 18 */
    t.flags = HV_E1000_TX_CTX | HV_E1000_TX_F_AUTO;
    n = op_tx(b, &t);
    CHECK_EQ(run(d, b, n, &sh), 1);
    cd = txd(d, 4);
    CHECK_EQ(cd[0], 18);
    CHECK_EQ(cd[4], 38);
    CHECK_EQ(cd[5], 54);
    CHECK_EQ(cd[13], 18 + 20 + 32);
    free(d);
}

static void test_tx_tso(void)
{
    struct hv_shadow sh;
    struct dev *d = setup_small(&sh, 16);
    uint8_t f[4000], b[4100];
    size_t fl = frame(f, true, false, 3000);
    struct txop t = {.flags = HV_E1000_TX_TSO | HV_E1000_TX_F_AUTO |
                              HV_E1000_TX_F_IXSM | HV_E1000_TX_F_TXSM,
                     .nseg = 1, .mss = 536, .data = f, .dlen = (uint16_t)fl};
    size_t n = op_tx(b, &t);
    CHECK_EQ(run(d, b, n, &sh), 1);
    const uint8_t *cd = txd(d, 0);
    CHECK_EQ(cd[13], 66);
    CHECK_EQ(cd[5], 50);
    CHECK_EQ(hv_prog_ld_le(cd + 8, 4), (fl - 66) | 0x27000000u); /* DEXT TSE IP TCP */
    CHECK_EQ(hv_prog_ld_le(cd + 14, 2), 536);
    CHECK_EQ(hv_prog_ld_le(txd(d, 1) + 8, 4), fl / 2 | 0x00100000u | 0x26u << 24);
    CHECK_EQ(hv_prog_ld_le(txd(d, 2) + 8, 4), (fl - fl / 2) | 0x00100000u | 0x2fu << 24);
    CHECK(!memcmp(d->ram + 0x10000, f, fl));
    CHECK_EQ(d->regs[0x3818 / 4], 3);

    /* header length beyond the packet, MSS 0 (the CVE-2015-6815 shape):
     * PAYLEN wraps to 20 bits */
    t = (struct txop){.flags = HV_E1000_TX_TSO, .hdrlen = 200, .mss = 0,
                      .data = f, .dlen = 100};
    n = op_tx(b, &t);
    CHECK_EQ(run(d, b, n, &sh), 1);
    cd = txd(d, 3);
    CHECK_EQ(hv_prog_ld_le(cd + 8, 4), 0xfff9cu | 0x27000000u);
    CHECK_EQ(cd[13], 200);
    CHECK_EQ(hv_prog_ld_le(cd + 14, 2), 0);

    /* DATA mode: TSE data descriptors, no context */
    t = (struct txop){.flags = HV_E1000_TX_DATA, .data = f, .dlen = 60};
    n = op_tx(b, &t);
    CHECK_EQ(run(d, b, n, &sh), 1);
    CHECK_EQ(hv_prog_ld_le(txd(d, 5) + 8, 4), 60u | 0x00100000u | 0x2fu << 24);
    CHECK_EQ(sh.e1000.tx_tail, 6);
    free(d);
}

static void test_tx_nokick_reap(void)
{
    struct hv_shadow sh;
    struct dev *d = setup_small(&sh, 8);
    uint8_t b[64], pkt[20] = {0};
    struct txop t = {.flags = HV_E1000_TX_F_NOKICK, .data = pkt, .dlen = 20};
    size_t n = op_tx(b, &t);
    CHECK_EQ(run(d, b, n, &sh), 1);
    CHECK_EQ(sh.e1000.tx_tail, 1);
    struct cur c = {d, 0};
    NEXT(&c, EV_MW, 0x10000, 20, 0);
    NEXT(&c, EV_MW, 0x0, 16, 0);
    CHECK_EQ(c.i, d->n); /* no TDT */
    d->n = 0;
    t.flags = HV_E1000_TX_F_REAP;
    n = op_tx(b, &t);
    CHECK_EQ(run(d, b, n, &sh), 1);
    c = (struct cur){d, 2};
    W(&c, 0x3818, 2);
    R(&c, 0x3810, 0);
    R(&c, 0xc0, 0);
    CHECK_EQ(c.i, d->n);
    free(d);
}

/* ---- e1000_rx_post --------------------------------------------------------- */

static void test_rx_post(void)
{
    struct hv_shadow sh;
    struct dev *d = setup_small(&sh, 8); /* nrx 16 */
    CHECK_EQ(sh.e1000.rx_tail, 15);
    memset(d->ram + 0x1000, 0xee, 16 * 16); /* "used" descriptors */
    uint8_t b[] = {HV_OP_E1000_RX_POST, 4};
    CHECK_EQ(run(d, b, 2, &sh), 1);
    struct cur c = {d, 0};
    R(&c, 0xc0, 0);
    static const unsigned slot[] = {15, 0, 1, 2};
    for (unsigned i = 0; i < 4; i++) {
        NEXT(&c, EV_MW, 0x1000 + 16 * slot[i], 16, 0);
        CHECK_EQ(hv_prog_ld_le(rxd(d, slot[i]), 8), WIN + 0x8000 + 0x800 * (slot[i] % 16));
        CHECK_EQ(hv_prog_ld_le(rxd(d, slot[i]) + 8, 8), 0);
    }
    W(&c, 0x2818, 3);
    CHECK_EQ(c.i, d->n);
    CHECK_EQ(rxd(d, 3)[12], 0xee); /* not reposted */
    /* n % nrx == 0 -> nrx - 1 descriptors */
    d->n = 0;
    b[1] = 32;
    CHECK_EQ(run(d, b, 2, &sh), 1);
    CHECK_EQ(d->n, 1 + 15 + 1);
    CHECK_EQ(d->regs[0x2818 / 4], 2);
    CHECK_EQ(sh.e1000.rx_tail, 2);
    free(d);
}

/* ---- skipped ops ----------------------------------------------------------- */

static void test_skipped(void)
{
    struct dev *d = dev_new();
    struct hv_shadow sh;
    hv_shadow_reset(&sh);
    uint8_t pkt[4] = {0};
    uint8_t b[64];
    struct txop t = {.data = pkt, .dlen = 4};
    size_t n = op_tx(b, &t);
    b[n++] = HV_OP_E1000_RX_POST;
    b[n++] = 1;
    CHECK_EQ(run(d, b, n, &sh), 0); /* before e1000_setup */
    CHECK_EQ(d->n, 0);

    /* no e1000 device, a small window, or no mem callbacks: skipped */
    const struct hv_layout *nv = hv_layout_find("nvme");
    uint8_t s[4];
    op_setup(s, 0, 0, 0);
    if (nv)
        CHECK_EQ(hv_program_run(nv, s, 4, &dev_ops, d, &sh), 0);
    struct hv_layout small = *L;
    small.dma_size = HV_E1000_MIN_WINDOW - 1;
    CHECK_EQ(hv_program_run(&small, s, 4, &dev_ops, d, &sh), 0);
    struct hv_exec_ops nomem = dev_ops;
    nomem.mem_write = NULL;
    CHECK_EQ(hv_program_run(L, s, 4, &nomem, d, &sh), 0);
    CHECK_EQ(d->n, 0);

    /* a run resets the shadow: setup, then a new run's tx is skipped */
    CHECK_EQ(hv_program_run(L, s, 4, &dev_ops, d, &sh), 1);
    CHECK_EQ(sh.e1000.ntx, 256);
    n = op_tx(b, &t);
    CHECK_EQ(hv_program_run(L, b, n, &dev_ops, d, &sh), 0);
    CHECK_EQ(sh.e1000.ntx, 0);
    free(d);
}

/* ---- decode / encode / execute random bytes ---------------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1dull;
static unsigned rndn(unsigned n) { return (unsigned)(hv_test_xorshift(&rng) % n); }

static const uint8_t codes[3] = {HV_OP_E1000_SETUP, HV_OP_E1000_TX,
                                 HV_OP_E1000_RX_POST};

static void test_decode_encode(void)
{
    uint8_t b[256], enc[HV_OP_MAX_BYTES];
    struct dev *d = dev_new();
    for (unsigned it = 0; it < 20000; it++) {
        size_t len = 1 + rndn(sizeof b);
        for (size_t i = 0; i < len; i++)
            b[i] = (uint8_t)hv_test_xorshift(&rng);
        b[0] = codes[rndn(3)];
        if (b[0] == HV_OP_E1000_TX && len > 14 && rndn(2)) {
            b[12] = (uint8_t)rndn(200);
            b[13] = 0;
        }
        size_t hdr = b[0] == HV_OP_E1000_SETUP ? 4
                     : b[0] == HV_OP_E1000_TX  ? 14 : 2;
        struct hv_op op;
        size_t n = hv_op_decode(b, len, &op);
        if (len < hdr || (b[0] == HV_OP_E1000_TX && len < hdr + hv_prog_ld_le(b + 12, 2))) {
            CHECK_EQ(n, 0);
            continue;
        }
        CHECK(op.known);
        CHECK_EQ(n, hdr + (b[0] == HV_OP_E1000_TX ? hv_prog_ld_le(b + 12, 2) : 0));
        size_t m = hv_op_encode(&op, enc, sizeof enc);
        CHECK_EQ(m, n);
        CHECK(!memcmp(enc, b, n));
        /* executing it after a random setup stays in the window and BAR */
        struct hv_shadow sh;
        hv_shadow_reset(&sh);
        uint8_t pre[4];
        op_setup(pre, (uint8_t)rndn(256), (uint8_t)rndn(256), (uint8_t)rndn(256));
        d->n = 0;
        run(d, pre, 4, &sh);
        run(d, b, len, &sh);
        CHECK(sh.e1000.tx_tail < sh.e1000.ntx);
        CHECK(sh.e1000.rx_tail < sh.e1000.nrx);
    }
    free(d);
    CHECK(!strcmp(hv_op_name(HV_OP_E1000_SETUP), "e1000_setup"));
    CHECK(!strcmp(hv_op_name(HV_OP_E1000_TX), "e1000_tx"));
    CHECK(!strcmp(hv_op_name(HV_OP_E1000_RX_POST), "e1000_rx_post"));
    CHECK(hv_op_name(0x33) == NULL);
}

/* ---- text form ----------------------------------------------------------------- */

static uint8_t *assemble(const char *text, size_t *n)
{
    char err[512];
    uint8_t *b = hv_asm(L, "t.hvf", text, strlen(text), n, err, sizeof err);
    if (!b)
        fprintf(stderr, "%s\n", err);
    return b;
}

static void check_asm(const char *text, const uint8_t *want, size_t wn)
{
    size_t n = 0;
    uint8_t *b = assemble(text, &n);
    CHECK(b != NULL);
    if (b) {
        CHECK_EQ(n, wn);
        CHECK(n == wn && !memcmp(b, want, n));
    }
    free(b);
}

static void check_asm_error(const char *text, const char *want)
{
    char err[512];
    size_t n;
    uint8_t *b = hv_asm(L, "t.hvf", text, strlen(text), &n, err, sizeof err);
    CHECK(b == NULL);
    if (!strstr(err, want))
        fprintf(stderr, "got '%s', want '%s'\n", err, want);
    CHECK(strstr(err, want) != NULL);
    free(b);
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t acc)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        acc += (uint32_t)p[n - 1] << 8;
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

static void test_sugar(void)
{
    size_t n;
    /* e1000_tcp: legacy, valid IP and TCP checksums */
    uint8_t *b = assemble("e1000_tcp payload=\"abc\" seq=5", &n);
    CHECK(b && n == 14 + 14 + 20 + 20 + 3);
    if (b) {
        const uint8_t *f = b + 14, *ip = f + 14;
        CHECK_EQ(b[0], HV_OP_E1000_TX);
        CHECK_EQ(b[1], 0);
        CHECK_EQ(csum(ip, 20, 0), 0xffff);
        uint32_t pseudo = csum(ip + 12, 8, 0) + 6 + 23;
        CHECK_EQ(csum(ip + 20, 23, pseudo), 0xffff);
        CHECK(!memcmp(f, "\x52\x55\x0a\x00\x02\x02\x52\x54\x00\x12\x34\x56\x08\x00", 14));
    }
    free(b);
    /* e1000_udp csum: ctx auto txsm, L4 field = pseudo-header sum */
    b = assemble("e1000_udp payload=hex:0102 csum vlan=3 segs=2 sip=1.2.3.4", &n);
    CHECK(b && n == 14 + 14 + 20 + 8 + 2);
    if (b) {
        CHECK_EQ(b[1], HV_E1000_TX_CTX | HV_E1000_TX_F_AUTO | HV_E1000_TX_F_TXSM |
                           HV_E1000_TX_F_VLE);
        CHECK_EQ(b[2], 1);
        CHECK_EQ(hv_prog_ld_le(b + 6, 2), 3);
        const uint8_t *ip = b + 28;
        CHECK(!memcmp(ip + 12, "\x01\x02\x03\x04", 4));
        uint16_t want = csum(ip + 12, 8, 17 + 10);
        CHECK_EQ(ip[26] << 8 | ip[27], want);
    }
    free(b);
    /* e1000_tcp_tso: tso auto ixsm txsm, IP length 0, mss */
    b = assemble("e1000_tcp_tso mss=536 payload=0x41*3000", &n);
    CHECK(b && n == 14 + 54 + 3000);
    if (b) {
        CHECK_EQ(b[1], HV_E1000_TX_TSO | HV_E1000_TX_F_AUTO | HV_E1000_TX_F_IXSM |
                           HV_E1000_TX_F_TXSM);
        CHECK_EQ(hv_prog_ld_le(b + 3, 2), 536);
        CHECK_EQ(b[14 + 16] << 8 | b[14 + 17], 0);
        CHECK_EQ(b[14 + 24] << 8 | b[14 + 25], 0);
    }
    free(b);
    /* e1000_rx_udp: rx_inject of a frame to the guest, tagged */
    b = assemble("e1000_rx_udp payload=\"x\" tag=5 dst=ff:ff:ff:ff:ff:ff", &n);
    CHECK(b && n == 3 + 18 + 20 + 8 + 1 && b[0] == HV_OP_RX_INJECT);
    if (b) {
        CHECK(!memcmp(b + 3, "\xff\xff\xff\xff\xff\xff\x52\x55\x0a\x00\x02\x02"
                             "\x81\x00\x00\x05\x08\x00", 18));
        CHECK_EQ(csum(b + 3 + 18, 20, 0), 0xffff);
    }
    free(b);
}

static void test_text(void)
{
    check_asm("e1000_setup tx=256 rx=256 eeprom phy rxcsum",
              (const uint8_t[]){0x30, 0x43, 0, 0}, 4);
    check_asm("e1000_setup tx=13 rx=8 promisc lpe loopback vlan secrc flags=0x1",
              (const uint8_t[]){0x30, 0xbd, 13, 8}, 4);
    check_asm("e1000_rx_post n=7", (const uint8_t[]){0x32, 7}, 2);
    check_asm("e1000_tx mode=tso auto ixsm txsm vle nokick reap segs=3 mss=536 "
              "hdrlen=66 special=0x1005 ipcss=1 ipcso=2 tucss=3 tucso=4 data=hex:aabb",
              (const uint8_t[]){0x31, 0xfe, 2, 0x18, 0x02, 66, 0x05, 0x10, 1, 2,
                                3, 4, 2, 0, 0xaa, 0xbb}, 16);
    check_asm("e1000_tx", (const uint8_t[]){0x31, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                            0, 0, 0}, 14);
    check_asm("e1000_tx mode=data vlan=9",
              (const uint8_t[]){0x31, 0x23, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0}, 14);

    check_asm_error("e1000_setup tx=0", "t.hvf:1:16: error: ring size must be 1..256");
    check_asm_error("e1000_setup bogus", "unknown e1000_setup option 'bogus'");
    check_asm_error("e1000_tx mode=bogus", "t.hvf:1:15: error: unknown mode 'bogus'");
    check_asm_error("e1000_tx segs=0", "segs must be 1..256");
    check_asm_error("e1000_tx ipcss=256", "out of range");
    check_asm_error("e1000_rx_post 3", "usage: e1000_rx_post n=N");
    check_asm_error("e1000_udp dst=1:2", "bad MAC address");
    check_asm_error("e1000_udp sip=1.2.3.256", "bad IPv4 address");
    check_asm_error("e1000_rx_udp csum", "unknown e1000_rx_udp option 'csum'");
    check_asm_error("e1000_bogus", "unknown directive 'e1000_bogus'");

    /* disassembly, with register names and frame summaries */
    const char *src = "e1000_setup tx=13 rx=256 eeprom\n"
                      "mmio_write bar0 0x3818 4 0x3\nmmio_read bar0 0x4074 4\n"
                      "mmio_write bar0 0x5204 4 0x0\npio_write bar1 0x4 4 0x1\n"
                      "e1000_udp payload=\"hi\"\ne1000_rx_post n=0\n";
    size_t n;
    uint8_t *b = assemble(src, &n);
    char *t = b ? hv_disasm(L, b, n) : NULL;
    CHECK(t && strstr(t, "e1000_setup tx=13 rx=256 eeprom  # rings tx=8 rx=256\n"));
    CHECK(t && strstr(t, "mmio_write bar0 0x3818 4 0x3  # tdt\n"));
    CHECK(t && strstr(t, "mmio_read bar0 0x4074 4  # stats+0x74\n"));
    CHECK(t && strstr(t, "mmio_write bar0 0x5204 4 0x0  # mta[1]\n"));
    CHECK(t && strstr(t, "pio_write bar1 0x4 4 0x1  # iodata\n"));
    CHECK(t && strstr(t, "  # 44 bytes, ipv4/udp\n"));
    CHECK(t && strstr(t, "e1000_rx_post n=0\n"));
    free(t);
    CHECK(b && ptest_roundtrip(L, b, n));
    free(b);

    /* random e1000-shaped programs round-trip exactly */
    uint8_t r[512];
    unsigned bad = 0;
    for (unsigned it = 0; it < 5000; it++) {
        size_t len = 0;
        unsigned nops = 1 + rndn(6);
        for (unsigned k = 0; k < nops && len + 60 < sizeof r; k++) {
            uint8_t code = codes[rndn(3)];
            r[len] = code;
            for (unsigned i = 1; i < 14; i++)
                r[len + i] = rndn(3) ? 0 : (uint8_t)hv_test_xorshift(&rng);
            size_t oplen = code == HV_OP_E1000_SETUP ? 4
                           : code == HV_OP_E1000_RX_POST ? 2 : 14;
            if (code == HV_OP_E1000_TX) {
                r[len + 12] = (uint8_t)rndn(40);
                r[len + 13] = 0;
                for (unsigned i = 0; i < r[len + 12]; i++)
                    r[len + 14 + i] = rndn(2) ? 0 : (uint8_t)i;
                oplen += r[len + 12];
            }
            len += rndn(8) ? oplen : rndn((unsigned)oplen); /* maybe cut */
        }
        if (!ptest_roundtrip(L, r, len))
            bad++;
    }
    CHECK_EQ(bad, 0);
}

/* ---- seeds ------------------------------------------------------------------- */

/* seeds/e1000: every seed runs against the mock without leaving the
 * window (ptest.h checks they assemble; test_program_text the round trip) */
static void run_seed(const char *path, const char *text, const uint8_t *bin,
                     size_t n, void *arg)
{
    (void)path;
    (void)text;
    (void)arg;
    struct dev *d = dev_new();
    struct hv_shadow sh;
    CHECK(hv_program_run(L, bin, n, &dev_ops, d, &sh) > 0);
    free(d);
}

static void test_seeds(void)
{
    unsigned count = ptest_each_seed(L, run_seed, NULL);
    printf("seeds: %u for e1000\n", count);
    CHECK(count >= 15);
}

int main(void)
{
    L = hv_layout_find("e1000");
    CHECK(L != NULL);
    if (!L)
        return hv_test_done("test_program_e1000");
    CHECK_EQ(L->mmio[0].base, BAR0);
    CHECK_EQ(L->dma_base, WIN);
    CHECK_EQ(L->dma_size, WSIZE);
    test_setup_linux();
    test_setup_variants();
    test_tx_legacy();
    test_tx_ctx();
    test_tx_tso();
    test_tx_nokick_reap();
    test_rx_post();
    test_skipped();
    test_decode_encode();
    test_sugar();
    test_text();
    test_seeds();
    return hv_test_done("test_program_e1000");
}
