/*
 * Structure-aware e1000 ops: e1000_setup (Linux 6.1's e1000 reset, EEPROM,
 * PHY, RX filter and ring bring-up), e1000_tx (legacy, context + data and
 * TSO descriptors for one packet, then TDT) and e1000_rx_post (RX buffers
 * handed back, RDT), expanded into hv_exec_ops calls. See hv_program.h for
 * the exact sequences and the window layout.
 * Freestanding C: no libc, no malloc, no mutable globals.
 */
#include "harness/program/hv_program.h"
#include "harness/program/hv_program_internal.h"

/* registers (8254x SDM, 13.4) */
#define E1000_CTRL 0x0000u
#define E1000_STATUS 0x0008u
#define E1000_EERD 0x0014u
#define E1000_MDIC 0x0020u
#define E1000_VET 0x0038u
#define E1000_ICR 0x00c0u
#define E1000_IMS 0x00d0u
#define E1000_IMC 0x00d8u
#define E1000_RCTL 0x0100u
#define E1000_TCTL 0x0400u
#define E1000_TIPG 0x0410u
#define E1000_RDBAL 0x2800u
#define E1000_RDBAH 0x2804u
#define E1000_RDLEN 0x2808u
#define E1000_RDH 0x2810u
#define E1000_RDT 0x2818u
#define E1000_RDTR 0x2820u
#define E1000_TDBAL 0x3800u
#define E1000_TDBAH 0x3804u
#define E1000_TDLEN 0x3808u
#define E1000_TDH 0x3810u
#define E1000_TDT 0x3818u
#define E1000_TIDV 0x3820u
#define E1000_TADV 0x382cu
#define E1000_RXCSUM 0x5000u
#define E1000_MTA 0x5200u
#define E1000_RAL0 0x5400u
#define E1000_RAH0 0x5404u
#define E1000_MIN_BAR 0x5800u

#define CTRL_RST 0x04000000u
#define CTRL_VME 0x40000000u
#define EERD_START 0x1u
#define MDIC_PHY1 (1u << 21)
#define MDIC_OP_WRITE 0x04000000u
#define MDIC_OP_READ 0x08000000u
#define PHY_CTRL 0u
#define PHY_STATUS 1u
#define PHY_CTRL_AUTONEG 0x1340u /* ANEG_EN | RESTART_AN | 1000 | FD */
#define AUTONEG_WAIT_NS 1000000000u
#define RAH_AV 0x80000000u
#define MTA_WORDS 128u
#define VET_8021Q 0x8100u
#define TCTL_LINUX 0x0103f0fau /* EN PSP CT=0xf COLD=0x3f RTLC */
#define TCTL_PSP 0x8u
#define TIPG_LINUX 0x602008u
#define TIDV_LINUX 8u
#define TADV_LINUX 0x20u
#define RXCSUM_TUOFL 0x200u
#define RCTL_LINUX 0x8002u /* EN | BAM, BSIZE 2048 */
#define RCTL_UPE 0x8u
#define RCTL_MPE 0x10u
#define RCTL_LPE 0x20u
#define RCTL_LBM_MAC 0x40u
#define RCTL_SECRC 0x04000000u
#define IMS_LINUX 0x9du /* TXDW LSC RXSEQ RXDMT0 RXT0 */

/* descriptor bits */
#define DESC 16u
#define TXD_EOP 0x01u
#define TXD_IFCS 0x02u
#define TXD_IC 0x04u
#define TXD_TSE 0x04u
#define TXD_RS 0x08u
#define TXD_DEXT 0x20u
#define TXD_VLE 0x40u
#define TUCMD_TCP 0x01u
#define TUCMD_IP 0x02u
#define DTYP_DATA 0x00100000u
#define POPTS_IXSM 0x01u
#define POPTS_TXSM 0x02u


struct ectx {
    const struct hv_layout *l;
    const struct hv_exec_ops *ops;
    void *ctx;
    struct hv_shadow *sh;
    const struct hv_layout_region *r; /* BAR 0 */
    uint64_t win;
};

/* Header offsets of one packet (context descriptor fields). */
struct offsets {
    uint8_t ipcss, ipcso, tucss, tucso, hdrlen;
    uint16_t ipcse;
    bool tcp, ipv4;
};

static bool ectx_init(struct ectx *e, const struct hv_layout *l,
                      const struct hv_exec_ops *ops, void *ctx,
                      struct hv_shadow *sh)
{
    const struct hv_layout_region *r = hv_prog_model_region(l, "e1000");
    if (!r || r->size < E1000_MIN_BAR || l->dma_size < HV_E1000_MIN_WINDOW)
        return false;
    if (!ops->mmio_read || !ops->mmio_write || !ops->mem_write ||
        !ops->mem_fill)
        return false;
    e->l = l;
    e->ops = ops;
    e->ctx = ctx;
    e->sh = sh;
    e->r = r;
    e->win = l->dma_base;
    return true;
}

static uint32_t rd(const struct ectx *e, unsigned reg)
{
    return (uint32_t)e->ops->mmio_read(e->ctx, e->r->base + reg, 4);
}

static void wr(const struct ectx *e, unsigned reg, uint32_t val)
{
    e->ops->mmio_write(e->ctx, e->r->base + reg, 4, val);
}

void hv_e1000_shadow_reset(struct hv_e1000_shadow *s)
{
    s->ntx = 0;
    s->nrx = 0;
    s->tx_tail = 0;
    s->rx_tail = 0;
}

/* raw 0 -> 256, else a multiple of 8, at least 8 */
static unsigned ring_size(uint8_t raw)
{
    if (raw == 0)
        return HV_E1000_MAX_DESC;
    return raw < 8 ? 8u : raw & ~7u;
}

/* e1000_reset_hw: interrupts masked, RX/TX off, CTRL.RST */
static void reset_hw(const struct ectx *e)
{
    wr(e, E1000_IMC, 0xffffffffu);
    wr(e, E1000_RCTL, 0);
    wr(e, E1000_TCTL, TCTL_PSP);
    uint32_t ctrl = rd(e, E1000_CTRL);
    wr(e, E1000_CTRL, ctrl | CTRL_RST);
    wr(e, E1000_IMC, 0xffffffffu);
    (void)rd(e, E1000_ICR);
    (void)rd(e, E1000_STATUS);
}

static void read_mac(const struct ectx *e, bool eeprom, uint8_t *mac)
{
    static const uint8_t fixed[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    for (unsigned i = 0; i < 6; i++)
        mac[i] = fixed[i];
    if (!eeprom)
        return;
    for (unsigned w = 0; w < 3; w++) {
        wr(e, E1000_EERD, w << 8 | EERD_START);
        uint32_t v = rd(e, E1000_EERD);
        mac[2 * w] = (uint8_t)(v >> 16);
        mac[2 * w + 1] = (uint8_t)(v >> 24);
    }
}

static void mdic(const struct ectx *e, uint32_t op, unsigned reg,
                 uint16_t data)
{
    wr(e, E1000_MDIC, op | MDIC_PHY1 | reg << 16 | data);
    (void)rd(e, E1000_MDIC);
}

/* Restarting autonegotiation takes the link down for a while (QEMU: 500 ms
 * of virtual time); Linux's watchdog waits for link-up before it sends. So
 * does the setup: AUTONEG_WAIT_NS on the virtual clock, else every frame
 * after a PHY setup would be dropped until a program advanced the clock. */
static void phy_autoneg(const struct ectx *e)
{
    mdic(e, MDIC_OP_READ, PHY_CTRL, 0);
    mdic(e, MDIC_OP_WRITE, PHY_CTRL, PHY_CTRL_AUTONEG);
    if (e->ops->clock_advance)
        e->ops->clock_advance(e->ctx, AUTONEG_WAIT_NS);
    mdic(e, MDIC_OP_READ, PHY_STATUS, 0);
    mdic(e, MDIC_OP_READ, PHY_STATUS, 0);
}

static void rx_filter(const struct ectx *e, const uint8_t *mac)
{
    wr(e, E1000_RAL0, (uint32_t)mac[0] | (uint32_t)mac[1] << 8 |
                          (uint32_t)mac[2] << 16 | (uint32_t)mac[3] << 24);
    wr(e, E1000_RAH0, (uint32_t)mac[4] | (uint32_t)mac[5] << 8 | RAH_AV);
    for (unsigned i = 0; i < MTA_WORDS; i++)
        wr(e, E1000_MTA + 4 * i, 0);
}

static void ring_base(const struct ectx *e, unsigned reg_len, unsigned n,
                      uint64_t gpa)
{
    wr(e, reg_len, n * DESC);
    wr(e, reg_len - 4, (uint32_t)(gpa >> 32));     /* xDBAH */
    wr(e, reg_len - 8, (uint32_t)gpa);             /* xDBAL */
}

static void tx_setup(const struct ectx *e, unsigned n)
{
    uint64_t ring = e->win + HV_E1000_TX_OFF;
    e->ops->mem_fill(e->ctx, ring, 0, n * DESC);
    ring_base(e, E1000_TDLEN, n, ring);
    wr(e, E1000_TDT, 0);
    wr(e, E1000_TDH, 0);
    wr(e, E1000_TIPG, TIPG_LINUX);
    wr(e, E1000_TIDV, TIDV_LINUX);
    wr(e, E1000_TADV, TADV_LINUX);
    wr(e, E1000_TCTL, TCTL_LINUX);
}

static uint64_t rx_buf(const struct ectx *e, unsigned i)
{
    return e->win + HV_E1000_RXBUF_OFF +
           (uint64_t)(i % HV_E1000_RXBUFS) * HV_E1000_RXBUF_SIZE;
}

/* Fresh RX descriptors first..first+count-1 (mod n): buffer, status 0. */
static void rx_fill(const struct ectx *e, unsigned first, unsigned count,
                    unsigned n)
{
    for (unsigned k = 0; k < count; k++) {
        unsigned i = (first + k) % n;
        uint8_t d[DESC] = {0};
        hv_prog_st_le(d, 8, rx_buf(e, i));
        e->ops->mem_write(e->ctx, e->win + HV_E1000_RX_OFF + (uint64_t)i * DESC,
                          d, DESC);
    }
}

static uint32_t rctl_of(uint8_t flags)
{
    uint32_t rctl = RCTL_LINUX;
    if (flags & HV_E1000_SETUP_F_PROMISC)
        rctl |= RCTL_UPE | RCTL_MPE;
    if (flags & HV_E1000_SETUP_F_LPE)
        rctl |= RCTL_LPE;
    if (flags & HV_E1000_SETUP_F_LOOPBACK)
        rctl |= RCTL_LBM_MAC;
    if (flags & HV_E1000_SETUP_F_SECRC)
        rctl |= RCTL_SECRC;
    return rctl;
}

static void rx_setup(const struct ectx *e, unsigned n, uint8_t flags)
{
    wr(e, E1000_RDTR, 0);
    ring_base(e, E1000_RDLEN, n, e->win + HV_E1000_RX_OFF);
    wr(e, E1000_RDT, 0);
    wr(e, E1000_RDH, 0);
    rx_fill(e, 0, n, n);
    if (flags & HV_E1000_SETUP_F_RXCSUM) {
        (void)rd(e, E1000_RXCSUM);
        wr(e, E1000_RXCSUM, RXCSUM_TUOFL);
    }
    wr(e, E1000_RCTL, rctl_of(flags));
    wr(e, E1000_RDT, n - 1);
}

bool hv_e1000_setup(const struct hv_layout *l, const struct hv_op *op,
                    const struct hv_exec_ops *ops, void *ctx,
                    struct hv_shadow *sh)
{
    struct ectx e;
    if (!ectx_init(&e, l, ops, ctx, sh))
        return false;
    hv_e1000_shadow_reset(&sh->e1000);
    unsigned ntx = ring_size(op->region), nrx = ring_size(op->size);
    uint8_t mac[6];

    hv_prog_pci_enable(l, e.r->dev, ops, ctx);
    reset_hw(&e);
    read_mac(&e, op->flags & HV_E1000_SETUP_F_EEPROM, mac);
    if (op->flags & HV_E1000_SETUP_F_PHY)
        phy_autoneg(&e);
    rx_filter(&e, mac);
    if (op->flags & HV_E1000_SETUP_F_VLAN) {
        wr(&e, E1000_VET, VET_8021Q);
        wr(&e, E1000_CTRL, rd(&e, E1000_CTRL) | CTRL_VME);
    }
    tx_setup(&e, ntx);
    rx_setup(&e, nrx, op->flags);
    wr(&e, E1000_IMS, IMS_LINUX);

    sh->e1000.ntx = (uint16_t)ntx;
    sh->e1000.nrx = (uint16_t)nrx;
    sh->e1000.rx_tail = (uint16_t)(nrx - 1);
    return true;
}

/* ---- e1000_tx ------------------------------------------------------------ */

static bool ready(const struct hv_e1000_shadow *s)
{
    return s->ntx >= 8 && s->ntx <= HV_E1000_MAX_DESC && s->nrx >= 8 &&
           s->nrx <= HV_E1000_MAX_DESC;
}

/* A 16-byte aligned data area buffer of len bytes (window offset). */
static uint64_t buf_alloc(const struct ectx *e, uint32_t len)
{
    uint64_t end = e->l->dma_size;
    if (end > 0x80000000u)
        end = 0x80000000u;
    uint64_t off = ((uint64_t)e->sh->data_next + 15) & ~(uint64_t)15;
    if (off < HV_DATA_AREA_OFF || off > end || len > end - off)
        off = HV_DATA_AREA_OFF;
    e->sh->data_next = (uint32_t)((off + len + 15) & ~(uint64_t)15);
    return off;
}

static unsigned byte_at(const uint8_t *p, uint32_t n, uint32_t i)
{
    return i < n ? p[i] : 0;
}

/* Ethernet / IP / TCP-UDP header offsets as the driver knows them. */
static void parse_offsets(const uint8_t *p, uint32_t n, struct offsets *o)
{
    unsigned l2 = 14;
    unsigned type = byte_at(p, n, 12) << 8 | byte_at(p, n, 13);
    if (type == 0x8100) {
        l2 = 18;
        type = byte_at(p, n, 16) << 8 | byte_at(p, n, 17);
    }
    unsigned l3 = 20, proto = 6;
    o->ipv4 = type != 0x86dd;
    if (type == 0x0800) {
        l3 = (byte_at(p, n, l2) & 0xfu) * 4u;
        proto = byte_at(p, n, l2 + 9);
    } else if (type == 0x86dd) {
        l3 = 40;
        proto = byte_at(p, n, l2 + 6);
    }
    o->tcp = proto != 17;
    unsigned l4 = 20;
    if (!o->tcp)
        l4 = 8;
    else if (l2 + l3 + 12 < n)
        l4 = (byte_at(p, n, l2 + l3 + 12) >> 4) * 4u;
    o->ipcss = (uint8_t)l2;
    o->ipcso = (uint8_t)(l2 + 10);
    o->ipcse = o->ipv4 ? (uint16_t)(l2 + l3 - 1) : 0;
    o->tucss = (uint8_t)(l2 + l3);
    o->tucso = (uint8_t)(l2 + l3 + (o->tcp ? 16 : 6));
    o->hdrlen = (uint8_t)(l2 + l3 + l4);
}

static void offsets_of(const struct hv_op *op, struct offsets *o)
{
    parse_offsets(op->data, op->data ? op->len : 0, o);
    if (op->flags & HV_E1000_TX_F_AUTO)
        return;
    o->ipcss = (uint8_t)op->dw[0];
    o->ipcso = (uint8_t)op->dw[1];
    o->ipcse = 0;
    o->tucss = (uint8_t)op->dw[2];
    o->tucso = (uint8_t)op->dw[3];
    o->hdrlen = op->size;
}

static void tx_put(const struct ectx *e, const uint8_t *d)
{
    struct hv_e1000_shadow *s = &e->sh->e1000;
    if (s->tx_tail >= s->ntx)
        s->tx_tail = 0;
    e->ops->mem_write(e->ctx,
                      e->win + HV_E1000_TX_OFF + (uint64_t)s->tx_tail * DESC,
                      d, DESC);
    s->tx_tail = (uint16_t)((s->tx_tail + 1) % s->ntx);
}

static void put_context(const struct ectx *e, const struct hv_op *op,
                        const struct offsets *o, bool tso)
{
    uint8_t d[DESC];
    uint32_t tucmd = TXD_DEXT | (o->tcp ? TUCMD_TCP : 0);
    uint32_t paylen = 0;
    if (tso) {
        tucmd |= TXD_TSE | (o->ipv4 ? TUCMD_IP : 0);
        paylen = (op->len - o->hdrlen) & 0xfffffu;
    }
    d[0] = o->ipcss;
    d[1] = o->ipcso;
    hv_prog_st_le(d + 2, 2, o->ipcse);
    d[4] = o->tucss;
    d[5] = o->tucso;
    hv_prog_st_le(d + 6, 2, 0);
    hv_prog_st_le(d + 8, 4, paylen | tucmd << 24);
    d[12] = 0;
    d[13] = o->hdrlen;
    hv_prog_st_le(d + 14, 2, op->off);
    tx_put(e, d);
}

/* One data (or legacy) descriptor for [gpa, gpa + len). */
static void put_data(const struct ectx *e, const struct hv_op *op,
                     const struct offsets *o, uint64_t gpa, uint32_t len,
                     bool last)
{
    unsigned mode = op->flags & HV_E1000_TX_F_MODE_MASK;
    uint8_t d[DESC];
    uint32_t cmd = TXD_IFCS | (last ? TXD_EOP | TXD_RS : 0) |
                   (op->flags & HV_E1000_TX_F_VLE ? TXD_VLE : 0);
    hv_prog_st_le(d, 8, gpa);
    hv_prog_st_le(d + 14, 2, op->val);
    if (mode == HV_E1000_TX_LEGACY) {
        cmd |= op->flags & HV_E1000_TX_F_TXSM ? TXD_IC : 0;
        hv_prog_st_le(d + 8, 2, len);
        d[10] = o->tucso;
        d[11] = (uint8_t)cmd;
        d[12] = 0;
        d[13] = o->tucss;
    } else {
        cmd |= TXD_DEXT | (mode != HV_E1000_TX_CTX ? TXD_TSE : 0);
        hv_prog_st_le(d + 8, 4, (len & 0xfffffu) | DTYP_DATA | cmd << 24);
        d[12] = 0;
        d[13] = (uint8_t)((op->flags & HV_E1000_TX_F_IXSM ? POPTS_IXSM : 0) |
                          (op->flags & HV_E1000_TX_F_TXSM ? POPTS_TXSM : 0));
    }
    tx_put(e, d);
}

bool hv_e1000_tx(const struct hv_layout *l, const struct hv_op *op,
                 const struct hv_exec_ops *ops, void *ctx,
                 struct hv_shadow *sh)
{
    struct ectx e;
    if (!ectx_init(&e, l, ops, ctx, sh) || !ready(&sh->e1000))
        return false;
    uint32_t dlen = op->data ? op->len & 0xffffu : 0;
    uint64_t gpa = e.win + buf_alloc(&e, dlen);
    if (dlen)
        ops->mem_write(ctx, gpa, op->data, dlen);

    struct offsets o;
    offsets_of(op, &o);
    unsigned mode = op->flags & HV_E1000_TX_F_MODE_MASK;
    if (mode == HV_E1000_TX_CTX || mode == HV_E1000_TX_TSO)
        put_context(&e, op, &o, mode == HV_E1000_TX_TSO);
    unsigned k = 1 + op->nout % HV_E1000_MAX_SPLIT;
    for (unsigned i = 0; i < k; i++) {
        uint32_t a = (uint32_t)((uint64_t)dlen * i / k);
        uint32_t b = (uint32_t)((uint64_t)dlen * (i + 1) / k);
        put_data(&e, op, &o, gpa + a, b - a, i + 1 == k);
    }
    if (!(op->flags & HV_E1000_TX_F_NOKICK))
        wr(&e, E1000_TDT, sh->e1000.tx_tail);
    if (op->flags & HV_E1000_TX_F_REAP) {
        (void)rd(&e, E1000_TDH);
        (void)rd(&e, E1000_ICR);
    }
    return true;
}

/* ---- e1000_rx_post --------------------------------------------------------- */

bool hv_e1000_rx_post(const struct hv_layout *l, const struct hv_op *op,
                      const struct hv_exec_ops *ops, void *ctx,
                      struct hv_shadow *sh)
{
    struct ectx e;
    if (!ectx_init(&e, l, ops, ctx, sh) || !ready(&sh->e1000))
        return false;
    struct hv_e1000_shadow *s = &sh->e1000;
    unsigned count = op->region % s->nrx;
    if (count == 0)
        count = s->nrx - 1u;
    (void)rd(&e, E1000_ICR);
    rx_fill(&e, s->rx_tail % s->nrx, count, s->nrx);
    s->rx_tail = (uint16_t)((s->rx_tail + count) % s->nrx);
    wr(&e, E1000_RDT, s->rx_tail);
    return true;
}
