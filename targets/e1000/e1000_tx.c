/*
 * e1000 transmit: SDM 3.3 (legacy descriptors 3.3.2-3.3.3, context
 * descriptor 3.3.6, data descriptor 3.3.7, checksum offload 3.3.5 and
 * 3.3.6.1, descriptor write-back 3.3.3.2), 3.5 TCP segmentation (header
 * replication, IP total length / identification, TCP sequence number and
 * PSH/FIN per segment, pseudo-header checksums), 3.3.3.3 / 9.x VLAN tag
 * insertion (CTRL.VME + VLE), 13.4.33 TCTL, 13.4.36-40 the TX ring.
 *
 * Bounds (QEMU's CVE-2015-6815 / CVE-2016-1981 lessons): one TDT or TCTL
 * write processes at most one ring's worth of descriptors and stops when
 * TDH comes back to where it started; a packet is at most 64 KiB (more
 * data is dropped); a TSO segment loop stops on a zero-byte step; every
 * descriptor and every segment is charged to the work budget.
 */
#include "targets/e1000/e1000_int.h"

#include <string.h>

static uint16_t ld_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void st_be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t ld_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void st_be32(uint8_t *p, uint32_t v)
{
    st_be16(p, v >> 16);
    st_be16(p + 2, v);
}

/* ---- checksums -------------------------------------------------------------- */

static uint32_t csum_add(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < len; i += 2)
        sum += ld_be16(p + i);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* Insert the checksum of bytes [css, end] at `sloc`; end = cse, or the
 * packet's end when cse is 0 (3.3.6.1). A zero result is sent as 0xffff. */
static void put_sum(uint8_t *data, uint32_t n, uint32_t sloc, uint32_t css,
                    uint32_t cse)
{
    uint16_t sum;

    if (cse && cse < n)
        n = cse + 1;
    if (n < 2 || sloc >= n - 1)
        return;
    sum = css < n ? (uint16_t)~csum_fold(csum_add(data + css, n - css)) : 0xffff;
    st_be16(data + sloc, sum ? sum : 0xffff);
}

/* ---- sending ---------------------------------------------------------------- */

static bool loopback(const struct e1000 *s)
{
    return (e1000_reg(s, E1000_RCTL) & E1000_RCTL_LBM_MASK) == E1000_RCTL_LBM_MAC ||
           (s->phy[PHY_CTRL] & PHY_CTRL_LOOPBACK);
}

static void send_frame(struct e1000 *s, const uint8_t *f, uint32_t len)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

    hv_trace(s->dev.machine, "e1000 tx len=%u%s", len,
             loopback(s) ? " (loopback)" : "");
    if (loopback(s))
        e1000_receive(s, f, len);
    else if (len)
        hv_net_tx(s->net, f, len);
    if (len >= 6 && memcmp(f, bcast, 6) == 0)
        e1000_stat_inc(s, E1000_BPTC);
    else if (len >= 6 && (f[0] & 1))
        e1000_stat_inc(s, E1000_MPTC);
    e1000_size_stat(s, E1000_PTC64, (size_t)len + E1000_FCS_LEN);
}

/* TSO: fix up the replicated header for segment number tso_frames. */
static void tso_fixup(struct e1000 *s, const struct e1000_tx_ctx *c)
{
    struct e1000_tx *t = &s->tx;
    uint32_t frames = t->tso_frames, css = c->ipcss, len, sofar;

    if (c->ip) { /* IPv4: total length, identification */
        st_be16(t->data + css + 2, t->size - css);
        st_be16(t->data + css + 4, ld_be16(t->data + css + 4) + frames);
    } else { /* IPv6: payload length */
        st_be16(t->data + css + 4, t->size - css);
    }
    css = c->tucss;
    len = t->size - css;
    if (c->tcp) {
        sofar = frames * c->mss;
        st_be32(t->data + css + 4, ld_be32(t->data + css + 4) + sofar);
        if (c->paylen - sofar > c->mss)
            t->data[css + 13] &= (uint8_t)~0x09; /* not last: clear PSH, FIN */
        else if (frames)
            e1000_stat_inc(s, E1000_TSCTC);
    } else {
        st_be16(t->data + css + 4, len); /* UDP length */
    }
    if (t->sum_needed & E1000_TXD_POPTS_TXSM) {
        /* the driver left the pseudo-header sum without length there */
        uint32_t ph = ld_be16(t->data + c->tucso) + (len & 0xffff);
        st_be16(t->data + c->tucso, (ph >> 16) + (ph & 0xffff));
    }
    t->tso_frames++;
}

static void xmit_seg(struct e1000 *s)
{
    struct e1000_tx *t = &s->tx;
    const struct e1000_tx_ctx *c = t->cptse ? &t->tso_props : &t->props;

    /* A frame sent is far more work than one loop turn (checksums, the
     * copy to the backend, statistics): charged by size, so a TSO storm
     * (a tiny MSS turns one TDT write into millions of segments, in QEMU as
     * here) ends as a budget finding in a fraction of a second instead of
     * running into the engine's timeout. The loops stop at the next charge. */
    hv_budget(&s->dev, E1000_FRAME_UNITS + t->size / 64);
    if (t->cptse)
        tso_fixup(s, c);
    if (t->sum_needed & E1000_TXD_POPTS_TXSM)
        put_sum(t->data, t->size, c->tucso, c->tucss, c->tucse);
    if (t->sum_needed & E1000_TXD_POPTS_IXSM)
        put_sum(t->data, t->size, c->ipcso, c->ipcss, c->ipcse);
    if (t->legacy_ic)
        put_sum(t->data, t->size, t->legacy_cso, t->legacy_css, 0);
    if (t->vlan_needed && t->size >= 12) {
        uint8_t *f = t->data - E1000_VLAN_TAG_LEN;
        memmove(f, t->data, 12);
        st_be16(f + 12, e1000_reg(s, E1000_VET));
        st_be16(f + 14, t->vlan_tci);
        send_frame(s, f, t->size + E1000_VLAN_TAG_LEN);
    } else {
        send_frame(s, t->data, t->size);
    }
    e1000_stat_inc(s, E1000_TPT);
    e1000_stat_add64(s, E1000_TOTL, (uint64_t)t->size + E1000_FCS_LEN);
    e1000_stat_inc(s, E1000_GPTC);
    e1000_stat_add64(s, E1000_GOTCL, (uint64_t)t->size + E1000_FCS_LEN);
}

/* ---- descriptors ------------------------------------------------------------ */

struct tx_desc {
    uint64_t addr;
    uint32_t lower, upper;
};

static void read_context(struct e1000_tx_ctx *c, const uint8_t *d)
{
    uint32_t cmd = hv_ld_le(d + 8, 4);

    c->ipcss = d[0];
    c->ipcso = d[1];
    c->ipcse = (uint16_t)hv_ld_le(d + 2, 2);
    c->tucss = d[4];
    c->tucso = d[5];
    c->tucse = (uint16_t)hv_ld_le(d + 6, 2);
    c->paylen = cmd & E1000_TXD_PAYLEN_MASK;
    c->hdr_len = d[13];
    c->mss = (uint16_t)hv_ld_le(d + 14, 2);
    c->ip = cmd & E1000_TXD_CMD_IP;
    c->tcp = cmd & E1000_TXD_CMD_TCP;
    c->tse = cmd & E1000_TXD_CMD_TSE;
}

/* DMA `n` bytes into the packet; a failed read leaves zeroes. */
static void tx_fetch(struct e1000 *s, uint64_t addr, uint32_t n)
{
    uint8_t *dst = s->tx.data + s->tx.size;

    if (!hv_assert(&s->dev, n <= E1000_TX_MAX - s->tx.size))
        return;
    if (n && hv_dma_read(&s->dev, addr, dst, n) < 0)
        memset(dst, 0, n);
}

/* TSO data: cut the stream into header + MSS segments (3.5). */
static void tx_tso_data(struct e1000 *s, uint64_t addr, uint32_t split)
{
    struct e1000_tx *t = &s->tx;
    uint32_t hdr = t->tso_props.hdr_len;
    uint32_t msh = hdr + t->tso_props.mss, bytes, sz;

    do {
        if (!hv_budget(&s->dev, 1) || t->size >= msh)
            return;
        bytes = split;
        if (t->size + bytes > msh)
            bytes = msh - t->size;
        if (bytes > E1000_TX_MAX - t->size)
            bytes = E1000_TX_MAX - t->size;
        tx_fetch(s, addr, bytes);
        sz = t->size + bytes;
        if (sz >= hdr && t->size < hdr)
            memcpy(t->header, t->data, hdr);
        t->size = sz;
        addr += bytes;
        if (sz == msh) {
            xmit_seg(s);
            memcpy(t->data, t->header, hdr);
            t->size = hdr;
        }
        split -= bytes;
    } while (bytes && split);
}

static void tx_end_packet(struct e1000 *s)
{
    struct e1000_tx *t = &s->tx;

    if (!(t->cptse && t->size < t->tso_props.hdr_len))
        xmit_seg(s);
    t->tso_frames = 0;
    t->sum_needed = 0;
    t->vlan_needed = false;
    t->legacy_ic = false;
    t->size = 0;
    t->cptse = false;
}

static void process_desc(struct e1000 *s, const uint8_t *raw,
                         const struct tx_desc *d)
{
    struct e1000_tx *t = &s->tx;
    uint32_t dtype = d->lower & (E1000_TXD_CMD_DEXT | E1000_TXD_DTYP_D);
    uint32_t split = d->lower & E1000_TXD_LEN_MASK;

    s->mit_ide |= d->lower & E1000_TXD_CMD_IDE;
    if (dtype == E1000_TXD_CMD_DEXT) { /* context descriptor */
        bool tse = d->lower & E1000_TXD_CMD_TSE;
        read_context(tse ? &t->tso_props : &t->props, raw);
        if (tse)
            t->tso_frames = 0;
        return;
    }
    if (dtype == (E1000_TXD_CMD_DEXT | E1000_TXD_DTYP_D)) {
        if (t->size == 0)
            t->sum_needed = (uint8_t)(d->upper >> 8);
        t->cptse = d->lower & E1000_TXD_CMD_TSE;
    } else {
        t->cptse = false;
        if (d->lower & E1000_TXD_CMD_EOP) {
            t->legacy_ic = d->lower & E1000_TXD_CMD_IC;
            t->legacy_cso = (uint8_t)(d->lower >> 16);
            t->legacy_css = (uint8_t)(d->upper >> 8);
        }
    }
    if ((e1000_reg(s, E1000_CTRL) & E1000_CTRL_VME) &&
        (d->lower & E1000_TXD_CMD_VLE) &&
        (t->cptse || (d->lower & E1000_TXD_CMD_EOP))) {
        t->vlan_needed = true;
        t->vlan_tci = (uint16_t)(d->upper >> 16);
    }
    if (t->cptse) {
        tx_tso_data(s, d->addr, split);
    } else {
        if (split > E1000_TX_MAX - t->size)
            split = E1000_TX_MAX - t->size;
        tx_fetch(s, d->addr, split);
        t->size += split;
    }
    if (d->lower & E1000_TXD_CMD_EOP)
        tx_end_packet(s);
}

static uint32_t writeback(struct e1000 *s, uint64_t base, struct tx_desc *d)
{
    uint8_t up[4];

    if (!(d->lower & (E1000_TXD_CMD_RS | E1000_TXD_CMD_RPS)))
        return 0;
    d->upper = (d->upper | E1000_TXD_STAT_DD) &
               ~(E1000_TXD_STAT_EC | E1000_TXD_STAT_LC | E1000_TXD_STAT_TU);
    hv_st_le(up, 4, d->upper);
    hv_dma_write(&s->dev, base + 12, up, sizeof(up));
    return E1000_ICR_TXDW;
}

static uint64_t tx_ring_base(const struct e1000 *s)
{
    return (uint64_t)e1000_reg(s, E1000_TDBAH) << 32 |
           (e1000_reg(s, E1000_TDBAL) & ~0xfu);
}

/* One descriptor at TDH; false if it could not be fetched. */
static bool tx_one(struct e1000 *s, uint32_t *cause)
{
    uint64_t base = tx_ring_base(s) +
                    (uint64_t)E1000_DESC_SIZE * e1000_reg(s, E1000_TDH);
    uint8_t raw[E1000_DESC_SIZE];
    struct tx_desc d;

    if (hv_dma_read(&s->dev, base, raw, sizeof(raw)) < 0)
        return false;
    d.addr = hv_ld_le(raw, 4) | (uint64_t)hv_ld_le(raw + 4, 4) << 32;
    d.lower = hv_ld_le(raw + 8, 4);
    d.upper = hv_ld_le(raw + 12, 4);
    process_desc(s, raw, &d);
    *cause |= writeback(s, base, &d);
    return true;
}

void e1000_start_xmit(struct e1000 *s)
{
    struct e1000_tx *t = &s->tx;
    uint32_t tdh_start = e1000_reg(s, E1000_TDH), cause = E1000_ICR_TXQE;
    uint32_t ring = e1000_reg(s, E1000_TDLEN) / E1000_DESC_SIZE, tdh;

    if (!(e1000_reg(s, E1000_TCTL) & E1000_TCTL_EN) || t->busy)
        return;
    t->busy = true;
    for (uint32_t n = 0; e1000_reg(s, E1000_TDH) != e1000_reg(s, E1000_TDT);
         n++) {
        if (n > ring || !hv_budget(&s->dev, 1) || !tx_one(s, &cause))
            break;
        tdh = e1000_reg(s, E1000_TDH) + 1;
        if ((uint64_t)tdh * E1000_DESC_SIZE >= e1000_reg(s, E1000_TDLEN))
            tdh = 0;
        s->mac[REG(E1000_TDH)] = tdh;
        if (tdh == tdh_start || tdh_start >= ring)
            break;
    }
    t->busy = false;
    e1000_raise(s, cause);
}

void e1000_tx_reset(struct e1000 *s)
{
    struct e1000_tx *t = &s->tx;
    uint8_t *buf = t->buf;

    memset(t, 0, sizeof(*t));
    t->buf = buf;
    t->data = buf + E1000_TX_HEADROOM;
}
