/*
 * Intel 82540EM (e1000) NIC model. Intel 8254x Family of Gigabit Ethernet
 * Controllers Software Developer's Manual (SDM):
 *   4.1 PCI configuration, 13.2.1 the I/O-mapped IOADDR/IODATA window;
 *   13.4 registers (CTRL, STATUS, EECD, EERD, MDIC, ICR/ICS/IMS/IMC, RCTL,
 *   TCTL, ring registers), 13.5 filter tables (RA, MTA, VFTA), 13.7
 *   statistics (clear on read);
 *   5.3 and 5.6: Microwire EEPROM access and the EEPROM map (checksum word
 *   0x3F makes words 0x00-0x3F sum to 0xBABA);
 *   8 and the PHY register set (autonegotiation, link status);
 *   3.2 receive (descriptor format 3.2.3, filtering 3.2.1, buffer sizes);
 *   3.4 receive interrupts (RXT0, RXDMT0, RXO).
 * Transmit (3.3, 3.5 TSO) lives in e1000_tx.c.
 *
 * Values are those QEMU 7.2 (hw/net/e1000.c) reports, checked against its
 * trace (tests/targets/e1000): the EEPROM image, PHY identifiers, reset
 * values, which registers exist (others read 0, writes are ignored), the
 * 500 ms autonegotiation on the virtual clock, and CTRL.RST, which QEMU
 * only self-clears (no register reset: the trace's driver reads its CTRL
 * and statistics back unchanged after it). Interrupt moderation (13.4.18,
 * 3.4.1) as QEMU models it: an INTx rising edge arms a timer of ITR (256 ns
 * units), RADV (if RDTR is set) or TADV (if a descriptor had IDE), the
 * smallest non-zero, at least 500 units; edges while it runs wait for it.
 * TIDV and the RDTR relative timer are stored only.
 */
#include "targets/e1000/e1000_int.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t default_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

/* QEMU's EEPROM template (words 0-2 MAC, 11 and 13 device id, 63 sum). */
static const uint16_t eeprom_template[E1000_EEPROM_WORDS] = {
    0x0000, 0x0000, 0x0000, 0x0000, 0xffff, 0x0000, 0x0000, 0x0000,
    0x3000, 0x1000, 0x6403, 0x0000, 0x8086, 0x0000, 0x8086, 0x3040,
    0x0008, 0x2000, 0x7e14, 0x0048, 0x1000, 0x00d8, 0x0000, 0x2700,
    0x6cc9, 0x3150, 0x0722, 0x040b, 0x0984, 0x0000, 0xc000, 0x0706,
    0x1008, 0x0000, 0x0f04, 0x7fff, 0x4d01, 0xffff, 0xffff, 0xffff,
    0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
    0x0100, 0x4000, 0x121c, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
    0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0x0000,
};

/* 88E1011 PHY as QEMU presents it: autonegotiation not yet complete. */
static const uint16_t phy_init[PHY_NREGS] = {
    [PHY_CTRL] = PHY_CTRL_SPEED_1000 | PHY_CTRL_FD | PHY_CTRL_AN_EN,
    [PHY_STATUS] = 0x794d, /* 10/100 HD/FD, ext status, link, AN able */
    [PHY_ID1] = 0x0141,
    [PHY_ID2] = 0x0c20, /* 82540EM */
    [PHY_AUTONEG_ADV] = 0x0de1,
    [PHY_LP_ABILITY] = 0x01e0,
    [PHY_1000T_CTRL] = 0x0e00,
    [PHY_1000T_STATUS] = 0x3c00,
    [PHY_SPEC_CTRL] = 0x0360,
    [PHY_SPEC_STATUS] = 0xac00,
    [PHY_EXT_SPEC_CTRL] = 0x0d60,
};

enum { PHY_R = 1, PHY_W = 2, PHY_RW = 3 };
static const uint8_t phy_access[PHY_NREGS] = {
    [PHY_CTRL] = PHY_RW,        [PHY_STATUS] = PHY_R,
    [PHY_ID1] = PHY_R,          [PHY_ID2] = PHY_R,
    [PHY_AUTONEG_ADV] = PHY_RW, [PHY_LP_ABILITY] = PHY_R,
    [PHY_AUTONEG_EXP] = PHY_R,  [PHY_1000T_CTRL] = PHY_RW,
    [PHY_1000T_STATUS] = PHY_R, [PHY_SPEC_CTRL] = PHY_RW,
    [PHY_SPEC_STATUS] = PHY_R,  [PHY_EXT_SPEC_CTRL] = PHY_RW,
    [PHY_RX_ERR_CNTR] = PHY_R,
};

static struct e1000 *to_e1000(hv_dev *dev)
{
    return (struct e1000 *)dev;
}

static void set_reg(struct e1000 *s, uint32_t off, uint32_t v)
{
    s->mac[REG(off)] = v;
}

/* ---- interrupts (13.4.17-21) ------------------------------------------------ */

static void mit_min(uint32_t *cur, uint32_t v)
{
    if (v && (*cur == 0 || v < *cur))
        *cur = v;
}

static uint32_t mit_delay(struct e1000 *s, uint32_t pending)
{
    uint32_t d = 0;

    if (s->mit_ide && (pending & (E1000_ICR_TXQE | E1000_ICR_TXDW)))
        mit_min(&d, e1000_reg(s, E1000_TADV) * 4);
    if (e1000_reg(s, E1000_RDTR) && (pending & E1000_ICR_RXT0))
        mit_min(&d, e1000_reg(s, E1000_RADV) * 4);
    mit_min(&d, e1000_reg(s, E1000_ITR));
    return d < E1000_MIT_MIN ? E1000_MIT_MIN : d;
}

static void update_irq(struct e1000 *s)
{
    uint32_t pending = e1000_reg(s, E1000_ICR) & e1000_reg(s, E1000_IMS);

    if (!s->mit_irq_level && pending) {
        if (s->mit_timer_on)
            return; /* the edge waits for the moderation timer */
        s->mit_timer_on = true;
        s->mit_deadline = hv_clock_ns(&s->dev) +
                          (uint64_t)mit_delay(s, pending) * E1000_MIT_UNIT_NS;
        s->mit_ide = 0;
    }
    s->mit_irq_level = pending != 0;
    hv_irq_set_level(&s->dev, s->mit_irq_level);
}

static void set_icr(struct e1000 *s, uint32_t icr)
{
    set_reg(s, E1000_ICR, icr);
    update_irq(s);
}

void e1000_raise(struct e1000 *s, uint32_t cause)
{
    set_icr(s, e1000_reg(s, E1000_ICR) | cause);
}

/* ---- statistics (13.7) ------------------------------------------------------ */

void e1000_stat_inc(struct e1000 *s, uint32_t off)
{
    if (s->mac[REG(off)] != UINT32_MAX)
        s->mac[REG(off)]++;
}

/* A 64-bit counter in two registers, saturating at all ones. */
void e1000_stat_add64(struct e1000 *s, uint32_t lo_off, uint64_t n)
{
    uint64_t v = s->mac[REG(lo_off)] | (uint64_t)s->mac[REG(lo_off) + 1] << 32;

    v = v + n < v ? UINT64_MAX : v + n;
    s->mac[REG(lo_off)] = (uint32_t)v;
    s->mac[REG(lo_off) + 1] = (uint32_t)(v >> 32);
}

/* PRC64..PRC1522 / PTC64..PTC1522: six size buckets from `first_off`. */
void e1000_size_stat(struct e1000 *s, uint32_t first_off, size_t len)
{
    static const size_t limits[] = {64, 127, 255, 511, 1023};
    unsigned i;

    if (len < 64)
        return;
    for (i = 0; i < 5 && len > limits[i]; i++)
        ;
    e1000_stat_inc(s, first_off + 4 * i);
}

static bool stat_is_low_half(uint32_t off)
{
    return off == E1000_GORCL || off == E1000_GOTCL || off == E1000_TORL ||
           off == E1000_TOTL;
}

static bool stat_is_high_half(uint32_t off)
{
    return off == E1000_GORCH || off == E1000_GOTCH || off == E1000_TORH ||
           off == E1000_TOTH;
}

/* Clear on read; a 64-bit pair clears when its high half is read. */
static uint32_t stat_read(struct e1000 *s, uint32_t off)
{
    uint32_t v = s->mac[REG(off)];

    if (stat_is_low_half(off))
        return v;
    s->mac[REG(off)] = 0;
    if (stat_is_high_half(off))
        s->mac[REG(off) - 1] = 0;
    return v;
}

/* ---- EEPROM (5.3, 5.6) ------------------------------------------------------ */

static void eeprom_build(struct e1000 *s)
{
    uint16_t sum = 0;

    memcpy(s->eeprom, eeprom_template, sizeof(s->eeprom));
    for (unsigned i = 0; i < 3; i++)
        s->eeprom[i] = (uint16_t)(s->macaddr[2 * i] | s->macaddr[2 * i + 1] << 8);
    s->eeprom[11] = s->eeprom[13] = E1000_DEVICE_ID;
    for (unsigned i = 0; i < E1000_EEPROM_CSUM_WORD; i++)
        sum = (uint16_t)(sum + s->eeprom[i]);
    s->eeprom[E1000_EEPROM_CSUM_WORD] = (uint16_t)(E1000_EEPROM_SUM - sum);
}

/* DO is the current output bit while a READ shifts out, else 1 (idle). */
static uint32_t eecd_read(const struct e1000 *s)
{
    const struct e1000_eeprom_state *e = &s->ee;
    uint32_t v = E1000_EECD_PRES | E1000_EECD_GNT | e->old_eecd;
    unsigned word = (e->bitnum_out >> 4) & (E1000_EEPROM_WORDS - 1);
    unsigned bit = 15u - (e->bitnum_out & 15u);

    if (!e->reading || ((s->eeprom[word] >> bit) & 1))
        v |= E1000_EECD_DO;
    return v;
}

/* Rising SK shifts DI in; after 9 bits (opcode + address) a READ starts
 * shifting the addressed words out, one bit per falling SK edge. */
static void eecd_write(struct e1000 *s, uint32_t val)
{
    struct e1000_eeprom_state *e = &s->ee;
    uint32_t old = e->old_eecd;

    e->old_eecd = val & E1000_EECD_WRITABLE;
    if (!(val & E1000_EECD_CS))
        return;
    if ((val ^ old) & E1000_EECD_CS) { /* chip select asserted: new command */
        e->val_in = 0;
        e->bitnum_in = 0;
        e->bitnum_out = 0;
        e->reading = false;
    }
    if (!((val ^ old) & E1000_EECD_SK))
        return;
    if (!(val & E1000_EECD_SK)) {
        e->bitnum_out++;
        return;
    }
    e->val_in = e->val_in << 1 | ((val & E1000_EECD_DI) ? 1 : 0);
    if (++e->bitnum_in == E1000_EEPROM_CMD_BITS && !e->reading) {
        e->bitnum_out = (uint16_t)(((e->val_in & 0x3f) << 4) - 1);
        e->reading = ((e->val_in >> 6) & 7) == E1000_EEPROM_READ_OPCODE;
    }
}

static uint32_t eerd_read(const struct e1000 *s)
{
    uint32_t eerd = e1000_reg(s, E1000_EERD);
    uint32_t r = eerd & ~E1000_EERD_START, addr = r >> E1000_EERD_ADDR_SHIFT;

    if (!(eerd & E1000_EERD_START))
        return eerd;
    if (addr >= E1000_EEPROM_WORDS)
        return r | E1000_EERD_DONE;
    return (uint32_t)s->eeprom[addr] << E1000_EERD_DATA_SHIFT | r |
           E1000_EERD_DONE;
}

/* ---- PHY and link (8, 13.4.7) ----------------------------------------------- */

static void link_down(struct e1000 *s)
{
    s->mac[REG(E1000_STATUS)] &= ~E1000_STATUS_LU;
    s->phy[PHY_STATUS] &= (uint16_t)~(PHY_STATUS_LINK | PHY_STATUS_AN_COMP);
    s->phy[PHY_LP_ABILITY] &= (uint16_t)~PHY_LP_ACK;
}

static void restart_autoneg(struct e1000 *s)
{
    link_down(s);
    s->autoneg_pending = true;
    s->autoneg_deadline = hv_clock_ns(&s->dev) + E1000_AUTONEG_NS;
    hv_trace(s->dev.machine, "e1000 autoneg start");
}

static void autoneg_done(struct e1000 *s)
{
    s->autoneg_pending = false;
    s->mac[REG(E1000_STATUS)] |= E1000_STATUS_LU;
    s->phy[PHY_STATUS] |= PHY_STATUS_LINK | PHY_STATUS_AN_COMP;
    s->phy[PHY_LP_ABILITY] |= PHY_LP_ACK;
    hv_trace(s->dev.machine, "e1000 autoneg done: link up");
    e1000_raise(s, E1000_ICR_LSC);
}

static void phy_write(struct e1000 *s, unsigned reg, uint16_t v)
{
    if (reg != PHY_CTRL) {
        s->phy[reg] = v;
        return;
    }
    /* bits 5:0 reserved; reset and restart-autoneg self-clear */
    s->phy[PHY_CTRL] = v & (uint16_t)~(0x3fu | PHY_CTRL_RESET |
                                       PHY_CTRL_RESTART_AN);
    if ((s->phy[PHY_CTRL] & PHY_CTRL_AN_EN) && (v & PHY_CTRL_RESTART_AN))
        restart_autoneg(s);
}

static void mdic_write(struct e1000 *s, uint32_t val)
{
    unsigned reg = (val & E1000_MDIC_REG_MASK) >> E1000_MDIC_REG_SHIFT;
    uint16_t data = (uint16_t)(val & E1000_MDIC_DATA_MASK);

    if ((val & E1000_MDIC_PHY_MASK) >> E1000_MDIC_PHY_SHIFT != E1000_PHY_ADDR) {
        val = e1000_reg(s, E1000_MDIC) | E1000_MDIC_ERROR;
    } else if (val & E1000_MDIC_OP_READ) {
        if (!(phy_access[reg] & PHY_R))
            val |= E1000_MDIC_ERROR;
        else
            val = (val & ~E1000_MDIC_DATA_MASK) | s->phy[reg];
    } else if (val & E1000_MDIC_OP_WRITE) {
        if (!(phy_access[reg] & PHY_W))
            val |= E1000_MDIC_ERROR;
        else
            phy_write(s, reg, data);
    }
    set_reg(s, E1000_MDIC, val | E1000_MDIC_READY);
    if (val & E1000_MDIC_INT_EN)
        e1000_raise(s, E1000_ICR_MDAC);
}

static void e1000_clock_advanced(hv_dev *dev, uint64_t now_ns)
{
    struct e1000 *s = to_e1000(dev);

    if (s->autoneg_pending && now_ns >= s->autoneg_deadline)
        autoneg_done(s);
    if (s->mit_timer_on && now_ns >= s->mit_deadline) {
        s->mit_timer_on = false;
        update_irq(s);
    }
}

/* ---- receive (3.2) ---------------------------------------------------------- */

static uint32_t rx_buf_size(uint32_t rctl)
{
    static const uint32_t normal[4] = {2048, 1024, 512, 256};
    static const uint32_t extended[4] = {2048, 16384, 8192, 4096};
    unsigned bsize = (rctl & E1000_RCTL_BSIZE_MASK) >> E1000_RCTL_BSIZE_SHIFT;

    return (rctl & E1000_RCTL_BSEX) ? extended[bsize] : normal[bsize];
}

static void rctl_write(struct e1000 *s, uint32_t val)
{
    set_reg(s, E1000_RCTL, val);
    s->rxbuf_size = rx_buf_size(val);
    s->rx_min_shift = ((val & E1000_RCTL_RDMTS_MASK) >> E1000_RCTL_RDMTS_SHIFT) + 1;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static bool is_vlan_frame(const struct e1000 *s, const uint8_t *f)
{
    return be16(f + 12) == (uint16_t)e1000_reg(s, E1000_VET);
}

static bool vlan_filter_ok(const struct e1000 *s, const uint8_t *f)
{
    uint16_t vid = be16(f + 14) & 0xfff;

    if (!(e1000_reg(s, E1000_RCTL) & E1000_RCTL_VFE) || !is_vlan_frame(s, f))
        return true;
    return (s->mac[REG(E1000_VFTA) + (vid >> 5)] >> (vid & 31)) & 1;
}

static bool ra_match(const struct e1000 *s, const uint8_t *dst)
{
    for (unsigned i = 0; i < E1000_RA_N; i++) {
        uint32_t lo = s->mac[REG(E1000_RA) + 2 * i];
        uint32_t hi = s->mac[REG(E1000_RA) + 2 * i + 1];
        uint8_t a[6] = {(uint8_t)lo, (uint8_t)(lo >> 8), (uint8_t)(lo >> 16),
                        (uint8_t)(lo >> 24), (uint8_t)hi, (uint8_t)(hi >> 8)};

        if ((hi & E1000_RAH_AV) && memcmp(a, dst, 6) == 0)
            return true;
    }
    return false;
}

/* 13.5.1: 12 bits of the destination address, chosen by RCTL.MO. */
static bool mta_match(const struct e1000 *s, const uint8_t *dst)
{
    static const unsigned shift[4] = {4, 3, 2, 0};
    unsigned mo = (e1000_reg(s, E1000_RCTL) >> E1000_RCTL_MO_SHIFT) & 3;
    unsigned h = ((unsigned)(dst[5] << 8 | dst[4]) >> shift[mo]) & 0xfff;

    return (s->mac[REG(E1000_MTA) + (h >> 5)] >> (h & 31)) & 1;
}

static bool group_filter_ok(const struct e1000 *s, const uint8_t *dst)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint32_t rctl = e1000_reg(s, E1000_RCTL);

    if (memcmp(dst, bcast, 6) == 0) {
        if (rctl & E1000_RCTL_BAM)
            return true;
    } else if (dst[0] & 1) {
        if (rctl & E1000_RCTL_MPE)
            return true;
    } else if (rctl & E1000_RCTL_UPE) {
        return true;
    }
    return ra_match(s, dst) || mta_match(s, dst);
}

static bool oversized(struct e1000 *s, size_t len)
{
    uint32_t rctl = e1000_reg(s, E1000_RCTL);

    if (rctl & E1000_RCTL_SBP)
        return false;
    if (len > E1000_RX_MAX - E1000_FCS_LEN ||
        (len > E1000_MAX_STD_FRAME && !(rctl & E1000_RCTL_LPE))) {
        e1000_stat_inc(s, E1000_ROC);
        return true;
    }
    return false;
}

static uint32_t ring_count(const struct e1000 *s, uint32_t len_off)
{
    return e1000_reg(s, len_off) / E1000_DESC_SIZE;
}

static uint64_t ring_base(const struct e1000 *s, uint32_t bal_off)
{
    return (uint64_t)s->mac[REG(bal_off) + 1] << 32 |
           (s->mac[REG(bal_off)] & ~0xfu);
}

/* Descriptors the driver handed us, between RDH and RDT. */
static bool rx_has_bufs(const struct e1000 *s, size_t total)
{
    uint32_t rdh = e1000_reg(s, E1000_RDH), rdt = e1000_reg(s, E1000_RDT);
    uint64_t bufs;

    if (total <= s->rxbuf_size)
        return rdh != rdt;
    if (rdh < rdt)
        bufs = rdt - rdh;
    else if (rdh > rdt)
        bufs = (uint64_t)ring_count(s, E1000_RDLEN) + rdt - rdh;
    else
        return false;
    return total <= bufs * s->rxbuf_size;
}

static void rx_overrun(struct e1000 *s, size_t total)
{
    hv_trace(s->dev.machine, "e1000 rx overrun len=%zu rdh=%u rdt=%u", total,
             e1000_reg(s, E1000_RDH), e1000_reg(s, E1000_RDT));
    e1000_stat_inc(s, E1000_RNBC);
    e1000_stat_inc(s, E1000_MPC);
    e1000_raise(s, E1000_ICR_RXO);
}

struct rx_frame {
    const uint8_t *data;
    size_t size;    /* bytes copied to buffers */
    size_t total;   /* size + FCS, as reported */
    uint16_t special;
    uint8_t vlan_status;
};

/* Fill one descriptor at RDH; returns false when the ring wrapped onto
 * where it started (QEMU's guard against bogus RDT/RDLEN). */
static bool rx_fill_desc(struct e1000 *s, const struct rx_frame *f,
                         size_t *off, uint32_t rdh_start)
{
    uint64_t base = ring_base(s, E1000_RDBAL) +
                    (uint64_t)E1000_DESC_SIZE * e1000_reg(s, E1000_RDH);
    uint8_t d[E1000_DESC_SIZE] = {0};
    size_t chunk = f->total - *off;
    uint64_t addr;
    uint32_t rdh;

    if (chunk > s->rxbuf_size)
        chunk = s->rxbuf_size;
    hv_dma_read(&s->dev, base, d, sizeof(d));
    addr = hv_ld_le(d, 4) | (uint64_t)hv_ld_le(d + 4, 4) << 32;
    hv_st_le(d + 14, 2, f->special);
    d[12] &= (uint8_t)~E1000_RXD_STAT_DD;
    if (addr) { /* a NULL buffer is skipped (SDM 3.2.6) */
        if (*off < f->size) {
            size_t n = f->size - *off;
            hv_dma_write(&s->dev, addr, f->data + *off,
                         n > s->rxbuf_size ? s->rxbuf_size : n);
        }
        *off += chunk;
        hv_st_le(d + 8, 2, chunk);
        if (*off >= f->total)
            d[12] |= E1000_RXD_STAT_EOP | E1000_RXD_STAT_IXSM;
        else
            d[12] &= (uint8_t)~E1000_RXD_STAT_EOP;
    }
    d[12] |= E1000_RXD_STAT_DD | f->vlan_status;
    hv_dma_write(&s->dev, base, d, sizeof(d));
    rdh = e1000_reg(s, E1000_RDH) + 1;
    if ((uint64_t)rdh * E1000_DESC_SIZE >= e1000_reg(s, E1000_RDLEN))
        rdh = 0;
    set_reg(s, E1000_RDH, rdh);
    return rdh != rdh_start && rdh_start < ring_count(s, E1000_RDLEN);
}

static void rx_stats(struct e1000 *s, const uint8_t *dst, size_t size,
                     size_t total)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

    e1000_size_stat(s, E1000_PRC64, total);
    e1000_stat_inc(s, E1000_TPR);
    e1000_stat_inc(s, E1000_GPRC);
    e1000_stat_add64(s, E1000_TORL, size + E1000_FCS_LEN);
    e1000_stat_add64(s, E1000_GORCL, size + E1000_FCS_LEN);
    if (memcmp(dst, bcast, 6) == 0)
        e1000_stat_inc(s, E1000_BPRC);
    else if (dst[0] & 1)
        e1000_stat_inc(s, E1000_MPRC);
}

static void rx_interrupt(struct e1000 *s)
{
    uint32_t cause = E1000_ICR_RXT0, n = ring_count(s, E1000_RDLEN);
    uint64_t rdt = e1000_reg(s, E1000_RDT), rdh = e1000_reg(s, E1000_RDH);

    if (rdt < rdh)
        rdt += n;
    if ((rdt - rdh) * E1000_DESC_SIZE <=
        (uint64_t)(e1000_reg(s, E1000_RDLEN) >> s->rx_min_shift))
        cause |= E1000_ICR_RXDMT0;
    e1000_raise(s, cause);
}

/* Write the frame (already padded, filtered, VLAN-stripped) to the ring. */
static bool rx_to_ring(struct e1000 *s, struct rx_frame *f)
{
    uint32_t rdh_start = e1000_reg(s, E1000_RDH);
    uint32_t limit = ring_count(s, E1000_RDLEN) + 1;
    size_t off = 0;

    if (!rx_has_bufs(s, f->total)) {
        rx_overrun(s, f->total);
        return false;
    }
    for (uint32_t n = 0; off < f->total; n++) {
        if (n >= limit || !hv_budget(&s->dev, 1) ||
            !rx_fill_desc(s, f, &off, rdh_start)) {
            rx_overrun(s, f->total);
            return false;
        }
    }
    return true;
}

static bool rx_enabled(struct e1000 *s)
{
    return (e1000_reg(s, E1000_STATUS) & E1000_STATUS_LU) &&
           (e1000_reg(s, E1000_RCTL) & E1000_RCTL_EN) &&
           (hv_pci_command(&s->dev) & HV_PCI_CMD_MASTER);
}

bool e1000_receive(struct e1000 *s, const uint8_t *frame, size_t len)
{
    struct rx_frame f = {.data = s->rxbuf, .size = len};
    uint8_t *p = s->rxbuf;

    if (!rx_enabled(s) || len > E1000_RX_MAX)
        return false;
    /* charged like a frame sent (see xmit_seg) */
    if (!hv_budget(&s->dev, E1000_FRAME_UNITS + len / 64))
        return false;
    memcpy(p, frame, len);
    if (f.size < E1000_ETH_MIN) {
        memset(p + f.size, 0, E1000_ETH_MIN - f.size);
        f.size = E1000_ETH_MIN;
    }
    if (oversized(s, f.size) || !vlan_filter_ok(s, p) ||
        !group_filter_ok(s, p)) {
        hv_trace(s->dev.machine, "e1000 rx drop len=%zu (filter)", len);
        return false;
    }
    if ((e1000_reg(s, E1000_CTRL) & E1000_CTRL_VME) && is_vlan_frame(s, p)) {
        f.special = be16(p + 14);
        f.vlan_status = E1000_RXD_STAT_VP;
        memmove(p + E1000_VLAN_TAG_LEN, p, 12);
        f.data = p + E1000_VLAN_TAG_LEN;
        f.size -= E1000_VLAN_TAG_LEN;
    }
    f.total = f.size +
              ((e1000_reg(s, E1000_RCTL) & E1000_RCTL_SECRC) ? 0 : E1000_FCS_LEN);
    if (!rx_to_ring(s, &f))
        return false;
    hv_trace(s->dev.machine, "e1000 rx len=%zu rdh=%u", f.size,
             e1000_reg(s, E1000_RDH));
    rx_stats(s, f.data, f.size, f.total);
    rx_interrupt(s);
    return true;
}

static bool e1000_rx_op(hv_dev *dev, const uint8_t *frame, size_t len)
{
    return e1000_receive(to_e1000(dev), frame, len);
}

/* ---- the register file (13.4) ---------------------------------------------- */

static bool in_table(uint32_t off, uint32_t base, uint32_t n)
{
    return off >= base && off < base + 4 * n;
}

static bool is_table(uint32_t off)
{
    return in_table(off, E1000_MTA, E1000_MTA_N) ||
           in_table(off, E1000_RA, 2 * E1000_RA_N) ||
           in_table(off, E1000_VFTA, E1000_VFTA_N) ||
           in_table(off, E1000_IP4AT, 7) || in_table(off, E1000_IP6AT, 4) ||
           in_table(off, E1000_WUPM, 32);
}

/* Plain registers: read back what was stored. */
static bool is_plain_readable(uint32_t off)
{
    switch (off) {
    case E1000_CTRL: case E1000_STATUS: case E1000_CTRL_EXT: case E1000_MDIC:
    case E1000_FCAL: case E1000_FCAH: case E1000_FCT: case E1000_VET:
    case E1000_ITR: case E1000_IMS: case E1000_RCTL: case E1000_FCTTV:
    case E1000_TCTL: case E1000_TIPG: case E1000_AIT: case E1000_LEDCTL:
    case E1000_PBA: case E1000_FCRTL: case E1000_FCRTH: case E1000_RDBAL:
    case E1000_RDBAH: case E1000_RDLEN: case E1000_RDH: case E1000_RDT:
    case E1000_RDTR: case E1000_RXDCTL: case E1000_RADV: case E1000_TDBAL:
    case E1000_TDBAH: case E1000_TDLEN: case E1000_TDH: case E1000_TDT:
    case E1000_TIDV: case E1000_TXDCTL: case E1000_TADV: case E1000_RXCSUM:
    case E1000_WUC: case E1000_WUFC: case E1000_WUS: case E1000_MANC:
    case E1000_IPAV: case E1000_SWSM:
        return true;
    default:
        return is_table(off);
    }
}

static bool is_plain_writable(uint32_t off)
{
    switch (off) {
    case E1000_CTRL_EXT: case E1000_FCAL: case E1000_FCAH: case E1000_FCT:
    case E1000_VET: case E1000_FCTTV: case E1000_TIPG: case E1000_LEDCTL:
    case E1000_PBA: case E1000_FCRTL: case E1000_FCRTH: case E1000_RDBAL:
    case E1000_RDBAH: case E1000_RXDCTL: case E1000_TDBAL: case E1000_TDBAH:
    case E1000_TXDCTL: case E1000_RXCSUM: case E1000_WUC: case E1000_WUFC:
    case E1000_WUS: case E1000_IPAV: case E1000_SWSM: case E1000_EERD:
        return true;
    default:
        return is_table(off);
    }
}

static uint32_t reg_read(struct e1000 *s, uint32_t off)
{
    if (off >= E1000_REG_SPACE)
        return 0;
    if (off >= E1000_STATS_BEGIN && off < E1000_STATS_END)
        return stat_read(s, off);
    switch (off) {
    case E1000_ICR: {
        uint32_t v = e1000_reg(s, E1000_ICR);
        set_icr(s, 0);
        return v;
    }
    case E1000_ICS: /* reads as ICR without clearing it (QEMU, real parts) */
        return e1000_reg(s, E1000_ICR);
    case E1000_EECD:
        return eecd_read(s);
    case E1000_EERD:
        return eerd_read(s);
    default:
        return is_plain_readable(off) ? e1000_reg(s, off) : 0;
    }
}

static void ctrl_write(struct e1000 *s, uint32_t val)
{
    if (val & E1000_CTRL_RST)
        hv_trace(s->dev.machine, "e1000 CTRL.RST (self-clearing)");
    set_reg(s, E1000_CTRL, val & ~E1000_CTRL_RST);
}

/* Registers with side effects or masks; false if `off` is none of them. */
static bool reg_write_special(struct e1000 *s, uint32_t off, uint32_t val)
{
    switch (off) {
    case E1000_CTRL: ctrl_write(s, val); break;
    case E1000_EECD: eecd_write(s, val); break;
    case E1000_MDIC: mdic_write(s, val); break;
    case E1000_ICR: set_icr(s, e1000_reg(s, E1000_ICR) & ~val); break;
    case E1000_ICS: e1000_raise(s, val); break;
    case E1000_IMS: s->mac[REG(E1000_IMS)] |= val; update_irq(s); break;
    case E1000_IMC: s->mac[REG(E1000_IMS)] &= ~val; update_irq(s); break;
    case E1000_RCTL: rctl_write(s, val); break;
    case E1000_TCTL:
    case E1000_TDT:
        set_reg(s, off, off == E1000_TDT ? val & 0xffff : val);
        e1000_start_xmit(s);
        break;
    case E1000_TDLEN:
    case E1000_RDLEN: set_reg(s, off, val & 0xfff80); break;
    case E1000_TDH: case E1000_RDH: case E1000_RDT: case E1000_RDTR:
    case E1000_RADV: case E1000_TADV: case E1000_TIDV: case E1000_ITR:
    case E1000_AIT:
        set_reg(s, off, val & 0xffff);
        break;
    default:
        return false;
    }
    return true;
}

static void reg_write(struct e1000 *s, uint32_t off, uint32_t val)
{
    if (off >= E1000_REG_SPACE || reg_write_special(s, off, val))
        return;
    if (is_plain_writable(off))
        set_reg(s, off, val);
}

/* Registers are 32-bit: narrower accesses see / write the lanes of the
 * dword (QEMU's min_access_size 4: other lanes written as zero). */
static uint64_t e1000_mmio_read(hv_dev *dev, int bar, uint64_t off,
                                unsigned size)
{
    struct e1000 *s = to_e1000(dev);
    uint64_t v;

    if (bar != E1000_BAR_MMIO)
        return 0;
    if (size == 8)
        return reg_read(s, (uint32_t)off & ~3u) |
               (uint64_t)reg_read(s, ((uint32_t)off & ~3u) + 4) << 32;
    v = reg_read(s, (uint32_t)off & ~3u) >> (8 * (off & 3));
    return size == 4 ? v & 0xffffffffu : v & ((1ull << (8 * size)) - 1);
}

static void e1000_mmio_write(hv_dev *dev, int bar, uint64_t off, unsigned size,
                             uint64_t val)
{
    struct e1000 *s = to_e1000(dev);
    uint32_t reg = (uint32_t)off & ~3u;

    if (bar != E1000_BAR_MMIO)
        return;
    if (size == 8) {
        reg_write(s, reg, (uint32_t)val);
        reg_write(s, reg + 4, (uint32_t)(val >> 32));
        return;
    }
    if (size < 4)
        val = (val & ((1ull << (8 * size)) - 1)) << (8 * (off & 3));
    reg_write(s, reg, (uint32_t)val);
}

/* 13.2.1: IOADDR selects a register, IODATA accesses it. */
static uint32_t e1000_pio_read(hv_dev *dev, int bar, uint64_t off,
                               unsigned size)
{
    struct e1000 *s = to_e1000(dev);

    if (bar != E1000_BAR_IO || size != 4)
        return 0;
    if (off == E1000_IOADDR)
        return s->ioaddr;
    return off == E1000_IODATA ? reg_read(s, s->ioaddr) : 0;
}

static void e1000_pio_write(hv_dev *dev, int bar, uint64_t off, unsigned size,
                            uint32_t val)
{
    struct e1000 *s = to_e1000(dev);

    if (bar != E1000_BAR_IO || size != 4)
        return;
    if (off == E1000_IOADDR)
        s->ioaddr = val & E1000_IOADDR_MASK;
    else if (off == E1000_IODATA)
        reg_write(s, s->ioaddr, val);
}

/* ---- lifecycle -------------------------------------------------------------- */

static void mac_regs_reset(struct e1000 *s)
{
    const uint8_t *a = s->macaddr;

    memset(s->mac, 0, sizeof(s->mac));
    set_reg(s, E1000_PBA, E1000_PBA_INIT);
    set_reg(s, E1000_LEDCTL, E1000_LEDCTL_INIT);
    set_reg(s, E1000_CTRL, E1000_CTRL_SWDPIN2 | E1000_CTRL_SWDPIN0 |
                               E1000_CTRL_SPD_1000 | E1000_CTRL_SLU);
    set_reg(s, E1000_STATUS, E1000_STATUS_QEMU_BIT31 |
                                 E1000_STATUS_GIO_MASTER_EN |
                                 E1000_STATUS_ASDV_1000 | E1000_STATUS_MTXCKOK |
                                 E1000_STATUS_SPEED_1000 | E1000_STATUS_FD |
                                 E1000_STATUS_LU);
    set_reg(s, E1000_MANC, E1000_MANC_INIT);
    set_reg(s, E1000_VET, E1000_VET_INIT);
    set_reg(s, E1000_RA, (uint32_t)(a[0] | a[1] << 8 | a[2] << 16) |
                             (uint32_t)a[3] << 24);
    set_reg(s, E1000_RA + 4, (uint32_t)(a[4] | a[5] << 8) | E1000_RAH_AV);
}

static void e1000_reset(hv_dev *dev)
{
    struct e1000 *s = to_e1000(dev);

    mac_regs_reset(s);
    memcpy(s->phy, phy_init, sizeof(s->phy));
    eeprom_build(s);
    memset(&s->ee, 0, sizeof(s->ee));
    s->ioaddr = 0;
    s->rxbuf_size = rx_buf_size(0);
    s->rx_min_shift = 1;
    s->autoneg_pending = false;
    s->autoneg_deadline = 0;
    s->mit_timer_on = false;
    s->mit_irq_level = false;
    s->mit_ide = 0;
    s->mit_deadline = 0;
    e1000_tx_reset(s);
    if (s->net->ops->reset)
        s->net->ops->reset(s->net);
    hv_irq_set_level(dev, 0);
}

static void e1000_destroy(hv_dev *dev)
{
    struct e1000 *s = to_e1000(dev);

    if (s->net)
        s->net->ops->destroy(s->net);
    free(s->tx.buf);
    free(s->rxbuf);
    free(s);
}

/* The state struct (pointers never change after creation) plus the part
 * of the TX buffer in use. */
static void *e1000_save(const hv_dev *dev)
{
    const struct e1000 *s = (const struct e1000 *)dev;
    size_t used = E1000_TX_HEADROOM + s->tx.size;
    uint8_t *st = malloc(sizeof(*s) + used);

    if (!st)
        return NULL;
    memcpy(st, s, sizeof(*s));
    memcpy(st + sizeof(*s), s->tx.buf, used);
    return st;
}

static void e1000_load(hv_dev *dev, const void *state)
{
    struct e1000 *s = to_e1000(dev);
    const uint8_t *st = state;

    memcpy(s, st, sizeof(*s));
    memcpy(s->tx.buf, st + sizeof(*s), E1000_TX_HEADROOM + s->tx.size);
    if (s->net->ops->reset)
        s->net->ops->reset(s->net);
}

static const struct hv_dev_ops e1000_ops = {
    .mmio_read = e1000_mmio_read,
    .mmio_write = e1000_mmio_write,
    .pio_read = e1000_pio_read,
    .pio_write = e1000_pio_write,
    .clock_advanced = e1000_clock_advanced,
    .rx = e1000_rx_op,
    .reset = e1000_reset,
    .destroy = e1000_destroy,
    .save = e1000_save,
    .load = e1000_load,
};

static void e1000_pci_setup(struct e1000 *s)
{
    hv_dev *dev = &s->dev;

    hv_pci_init(dev, E1000_VENDOR_ID, E1000_DEVICE_ID, E1000_CLASS_ETHERNET,
                E1000_REVISION, E1000_SUBSYS_VENDOR_ID, E1000_SUBSYS_ID);
    hv_pci_set_bar(dev, E1000_BAR_MMIO, HV_BAR_MEM32, E1000_MMIO_SIZE, false);
    hv_pci_set_bar(dev, E1000_BAR_IO, HV_BAR_IO, E1000_IO_SIZE, false);
    /* expansion ROM BAR: sizable and enable bit, no content decoded */
    hv_st_le(dev->pci.wmask + HV_PCI_ROM_ADDRESS, 4,
             ~(E1000_ROM_SIZE - 1) | 1u);
    hv_pci_set_interrupt_pin(dev, 1);
    hv_pci_finalize(dev);
}

hv_dev *e1000_create_ex(hv_machine *m, const struct e1000_params *p)
{
    static const uint8_t zero_mac[6];
    struct e1000 *s = calloc(1, sizeof(*s));

    if (!s)
        goto fail;
    s->net = p && p->backend ? p->backend : (struct hv_net *)hv_netsink_create();
    s->tx.buf = calloc(1, E1000_TX_HEADROOM + E1000_TX_MAX);
    s->rxbuf = calloc(1, E1000_RX_MAX);
    if (!s->net || !s->tx.buf || !s->rxbuf)
        goto fail;
    s->tx.data = s->tx.buf + E1000_TX_HEADROOM;
    memcpy(s->macaddr, p && memcmp(p->mac, zero_mac, 6) ? p->mac : default_mac,
           6);
    hv_dev_init(&s->dev, m, &e1000_ops, "e1000");
    e1000_pci_setup(s);
    e1000_reset(&s->dev);
    return &s->dev;
fail:
    if (s) {
        if (s->net && !(p && p->backend))
            s->net->ops->destroy(s->net);
        free(s->tx.buf);
        free(s->rxbuf);
        free(s);
    }
    return NULL;
}

hv_dev *e1000_create(hv_machine *m)
{
    return e1000_create_ex(m, NULL);
}

struct hv_net *e1000_backend(hv_dev *dev)
{
    return to_e1000(dev)->net;
}
