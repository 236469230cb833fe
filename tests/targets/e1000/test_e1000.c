/*
 * e1000 model unit tests: PCI identity, EEPROM (EERD and Microwire
 * bit-banging), PHY/autonegotiation, TX (legacy, context + data with
 * checksum offload, TSO, VLAN), RX (ring, multi-descriptor frames,
 * interrupts, filters, overrun), loopback, statistics, reset, snapshots,
 * and the TX loop bounds.
 */
#include <stdio.h>

#include "etest.h"

static void test_pci_identity(void)
{
    struct et t;

    et_init(&t, NULL);
    CHECK_EQ(hv_bus_cfg_read(t.m, ET_BDF, HV_PCI_VENDOR_ID, 4), 0x100e8086);
    CHECK_EQ(hv_bus_cfg_read(t.m, ET_BDF, HV_PCI_REVISION, 4), 0x02000003);
    CHECK_EQ(hv_bus_cfg_read(t.m, ET_BDF, HV_PCI_SUBSYS_VENDOR_ID, 4), 0x11001af4);
    CHECK_EQ(hv_bus_cfg_read(t.m, ET_BDF, HV_PCI_INTERRUPT_PIN, 1), 1);
    hv_bus_cfg_write(t.m, ET_BDF, HV_PCI_BAR0, 4, 0xffffffff);
    CHECK_EQ(hv_bus_cfg_read(t.m, ET_BDF, HV_PCI_BAR0, 4), 0xfffe0000);
    hv_bus_cfg_write(t.m, ET_BDF, HV_PCI_BAR0 + 4, 4, 0xffffffff);
    CHECK_EQ(hv_bus_cfg_read(t.m, ET_BDF, HV_PCI_BAR0 + 4, 4), 0xffffffc1);
    hv_bus_cfg_write(t.m, ET_BDF, HV_PCI_ROM_ADDRESS, 4, 0xfffffffe);
    CHECK_EQ(hv_bus_cfg_read(t.m, ET_BDF, HV_PCI_ROM_ADDRESS, 4), 0xfffc0000);
    et_fini(&t);
}

static void test_reset_values(void)
{
    struct et t;

    et_init(&t, NULL);
    CHECK_EQ(et_rd(&t, E1000_CTRL), 0x00140240);
    CHECK_EQ(et_rd(&t, E1000_STATUS), 0x80080783);
    CHECK_EQ(et_rd(&t, E1000_MANC), E1000_MANC_INIT);
    CHECK_EQ(et_rd(&t, E1000_LEDCTL), 0x602);
    CHECK_EQ(et_rd(&t, E1000_RA), 0x12005452);
    CHECK_EQ(et_rd(&t, E1000_RA + 4), 0x80005634);
    CHECK_EQ(et_rd(&t, 0x0f00), 0); /* unknown register */
    et_wr(&t, 0x0f00, 0x1234);
    CHECK_EQ(et_rd(&t, 0x0f00), 0);
    et_wr(&t, E1000_CTRL, 0x00140240 | E1000_CTRL_RST);
    CHECK_EQ(et_rd(&t, E1000_CTRL), 0x00140240); /* RST self-clears */
    /* I/O window: IOADDR selects, IODATA accesses */
    hv_bus_pio_write(t.m, ET_IO + E1000_IOADDR, 4, E1000_STATUS);
    CHECK_EQ(hv_bus_pio_read(t.m, ET_IO + E1000_IODATA, 4), 0x80080783);
    hv_bus_pio_write(t.m, ET_IO + E1000_IOADDR, 4, E1000_IMS);
    hv_bus_pio_write(t.m, ET_IO + E1000_IODATA, 4, E1000_ICR_LSC);
    CHECK_EQ(et_rd(&t, E1000_IMS), E1000_ICR_LSC);
    et_fini(&t);
}

static void test_eeprom(void)
{
    struct et t;
    uint16_t sum = 0, w;

    et_init(&t, NULL);
    for (unsigned i = 0; i < E1000_EEPROM_WORDS; i++)
        sum = (uint16_t)(sum + et_eerd(&t, i));
    CHECK_EQ(sum, E1000_EEPROM_SUM);
    CHECK_EQ(et_eerd(&t, 0), 0x5452);
    CHECK_EQ(et_eerd(&t, 1), 0x1200);
    CHECK_EQ(et_eerd(&t, 2), 0x5634);
    CHECK_EQ(et_eerd(&t, 11), E1000_DEVICE_ID);
    CHECK(et_rd(&t, E1000_EERD) & E1000_EERD_DONE);
    sum = 0;
    for (unsigned i = 0; i < E1000_EEPROM_WORDS; i++) {
        w = et_ee_bitbang(&t, i);
        CHECK_EQ(w, et_eerd(&t, i));
        sum = (uint16_t)(sum + w);
    }
    CHECK_EQ(sum, E1000_EEPROM_SUM);
    et_fini(&t);

    /* another MAC: still sums to 0xBABA */
    struct e1000_params p = {.mac = {0x02, 0, 0, 0, 0, 0x07}};
    et_init(&t, &p);
    sum = 0;
    for (unsigned i = 0; i < E1000_EEPROM_WORDS; i++)
        sum = (uint16_t)(sum + et_eerd(&t, i));
    CHECK_EQ(sum, E1000_EEPROM_SUM);
    CHECK_EQ(et_eerd(&t, 2), 0x0700);
    et_fini(&t);
}

static uint16_t phy_read(struct et *t, unsigned reg)
{
    et_wr(t, E1000_MDIC, E1000_MDIC_OP_READ | E1000_PHY_ADDR << 21 | reg << 16);
    uint32_t v = et_rd(t, E1000_MDIC);
    CHECK(v & E1000_MDIC_READY);
    CHECK(!(v & E1000_MDIC_ERROR));
    return (uint16_t)v;
}

static void test_phy_autoneg(void)
{
    struct et t;

    et_init(&t, NULL);
    CHECK_EQ(phy_read(&t, PHY_ID1), 0x0141);
    CHECK_EQ(phy_read(&t, PHY_ID2), 0x0c20);
    CHECK_EQ(phy_read(&t, PHY_STATUS), 0x794d);
    /* wrong PHY address: error */
    et_wr(&t, E1000_MDIC, E1000_MDIC_OP_READ | 2u << 21);
    CHECK(et_rd(&t, E1000_MDIC) & E1000_MDIC_ERROR);
    et_wr(&t, E1000_IMS, E1000_ICR_LSC);
    et_wr(&t, E1000_MDIC, E1000_MDIC_OP_WRITE | E1000_PHY_ADDR << 21 |
                              PHY_CTRL << 16 | 0x1340);
    CHECK_EQ(phy_read(&t, PHY_CTRL), 0x1140); /* restart self-clears */
    CHECK(!(et_rd(&t, E1000_STATUS) & E1000_STATUS_LU));
    CHECK_EQ(phy_read(&t, PHY_STATUS), 0x7949);
    hv_machine_clock_advance(t.m, 499999999);
    CHECK(!(et_rd(&t, E1000_STATUS) & E1000_STATUS_LU));
    hv_machine_clock_advance(t.m, 1);
    CHECK(et_rd(&t, E1000_STATUS) & E1000_STATUS_LU);
    CHECK_EQ(phy_read(&t, PHY_STATUS), 0x796d);
    CHECK_EQ(phy_read(&t, PHY_LP_ABILITY), 0x41e0);
    CHECK_EQ(t.d->intx_level, 1);
    CHECK_EQ(et_rd(&t, E1000_ICR), E1000_ICR_LSC);
    CHECK_EQ(t.d->intx_level, 0);
    CHECK_EQ(et_rd(&t, E1000_ICR), 0);
    et_fini(&t);
}

static void test_interrupts(void)
{
    struct et t;

    et_init(&t, NULL);
    et_wr(&t, E1000_ICS, E1000_ICR_RXT0 | E1000_ICR_TXDW);
    CHECK_EQ(t.d->intx_level, 0); /* masked */
    et_wr(&t, E1000_IMS, E1000_ICR_RXT0);
    CHECK_EQ(t.d->intx_level, 1);
    et_wr(&t, E1000_IMC, E1000_ICR_RXT0);
    CHECK_EQ(t.d->intx_level, 0);
    /* the next edge waits for the moderation timer: ITR 0 -> 500 x 256 ns */
    et_wr(&t, E1000_IMS, E1000_ICR_TXDW);
    CHECK_EQ(t.d->intx_level, 0);
    hv_machine_clock_advance(t.m, 500 * 256 - 1);
    CHECK_EQ(t.d->intx_level, 0);
    hv_machine_clock_advance(t.m, 1);
    CHECK_EQ(t.d->intx_level, 1);
    et_wr(&t, E1000_ICR, E1000_ICR_TXDW); /* write 1 to clear */
    CHECK_EQ(t.d->intx_level, 0);
    CHECK_EQ(et_rd(&t, E1000_ICS), E1000_ICR_RXT0);
    CHECK_EQ(et_rd(&t, E1000_ICR), E1000_ICR_RXT0);
    CHECK_EQ(et_rd(&t, E1000_ICR), 0);
    et_wr(&t, E1000_ITR, 0x12345678);
    CHECK_EQ(et_rd(&t, E1000_ITR), 0x5678);
    /* ITR 0x5678 units: the next edge is that much later */
    hv_machine_clock_advance(t.m, 1000000);
    et_wr(&t, E1000_ICS, E1000_ICR_TXDW);
    CHECK_EQ(t.d->intx_level, 1); /* timer idle: at once, and armed */
    et_rd(&t, E1000_ICR);
    et_wr(&t, E1000_ICS, E1000_ICR_TXDW);
    CHECK_EQ(t.d->intx_level, 0);
    hv_machine_clock_advance(t.m, 0x5678ull * 256 - 1);
    CHECK_EQ(t.d->intx_level, 0);
    hv_machine_clock_advance(t.m, 1);
    CHECK_EQ(t.d->intx_level, 1);
    et_wr(&t, E1000_TIDV, 0x40);
    CHECK_EQ(et_rd(&t, E1000_TIDV), 0x40);
    et_fini(&t);
}

/* ---- TX ------------------------------------------------------------------------ */

static void test_tx_legacy(void)
{
    struct et t;
    uint8_t f[100];
    const struct hv_netsink_frame *got;
    uint32_t i0, i1;

    et_init(&t, NULL);
    et_tx_setup(&t);
    et_wr(&t, E1000_IMS, E1000_ICR_TXDW);
    for (unsigned i = 0; i < sizeof(f); i++)
        f[i] = (uint8_t)(i ^ 0x5a);
    i0 = et_txd(&t, et_txbuf(&t, f, 40), 40 | E1000_TXD_CMD_IFCS, 0);
    i1 = et_txd(&t, et_txbuf(&t, f + 40, 60),
                60 | E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS, 0);
    et_tx_kick(&t);
    CHECK_EQ(et_sink(&t)->frames, 1);
    got = hv_netsink_recent(et_sink(&t), 0);
    CHECK(got && got->len == sizeof(f) && memcmp(got->data, f, sizeof(f)) == 0);
    CHECK_EQ(et_rd(&t, E1000_TDH), 2);
    CHECK_EQ(et_get(&t, et_desc_gpa(i0) + 12, 4) & E1000_TXD_STAT_DD, 0);
    CHECK_EQ(et_get(&t, et_desc_gpa(i1) + 12, 4) & E1000_TXD_STAT_DD, 1);
    CHECK_EQ(t.d->intx_level, 1);
    CHECK_EQ(et_rd(&t, E1000_ICR), E1000_ICR_TXDW | E1000_ICR_TXQE);
    /* TX disabled: nothing moves */
    et_wr(&t, E1000_TCTL, 0);
    et_txd(&t, et_txbuf(&t, f, 60), 60 | E1000_TXD_CMD_EOP, 0);
    et_tx_kick(&t);
    CHECK_EQ(et_rd(&t, E1000_TDH), 2);
    CHECK_EQ(et_sink(&t)->frames, 1);
    et_wr(&t, E1000_TCTL, E1000_TCTL_EN);
    CHECK_EQ(et_rd(&t, E1000_TDH), 3);
    CHECK_EQ(et_sink(&t)->frames, 2);
    et_fini(&t);
}

/* Context + one data descriptor with IXSM|TXSM; `proto` 6 or 17. */
static void tx_csum_case(uint8_t proto, size_t paylen)
{
    struct et t;
    uint8_t f[1600];
    size_t len = et_build(f, proto, paylen, ET_TCP_ACK | ET_TCP_PSH);
    uint8_t *ip = f + ET_ETH_HLEN, *l4 = ip + ET_IP_HLEN;
    uint8_t tucso = (uint8_t)(ET_ETH_HLEN + ET_IP_HLEN + (proto == 6 ? 16 : 6));
    uint32_t l4len = (uint32_t)(len - ET_ETH_HLEN - ET_IP_HLEN);
    const struct hv_netsink_frame *got;

    /* as Linux: the L4 checksum field holds the pseudo-header sum */
    et_set_be16(f + tucso, et_fold(et_pseudo(ip, l4len)));
    (void)l4;
    et_init(&t, NULL);
    et_tx_setup(&t);
    et_txctx(&t, ET_ETH_HLEN, ET_ETH_HLEN + 10, ET_ETH_HLEN + ET_IP_HLEN - 1,
             ET_ETH_HLEN + ET_IP_HLEN, tucso, 0,
             proto == 6 ? E1000_TXD_CMD_TCP | E1000_TXD_CMD_IP : E1000_TXD_CMD_IP,
             0, 0);
    et_txd(&t, et_txbuf(&t, f, (uint32_t)len),
           (uint32_t)len | E1000_TXD_CMD_DEXT | E1000_TXD_DTYP_D |
               E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS,
           (E1000_TXD_POPTS_IXSM | E1000_TXD_POPTS_TXSM) << 8);
    et_tx_kick(&t);
    got = hv_netsink_recent(et_sink(&t), 0);
    CHECK(got && got->len == len);
    if (got && got->len == len) {
        const uint8_t *gip = got->data + ET_ETH_HLEN;
        CHECK(et_ip_csum_ok(gip));
        CHECK(et_l4_csum_ok(gip, len - ET_ETH_HLEN));
        CHECK(et_be16(gip + 10) != 0);
        /* everything but the two checksum fields is unchanged */
        CHECK(memcmp(got->data, f, ET_ETH_HLEN + 10) == 0);
        CHECK(memcmp(got->data + tucso + 2, f + tucso + 2, len - tucso - 2) == 0);
    }
    CHECK_EQ(et_rd(&t, E1000_TDH), 2);
    et_fini(&t);
}

static void test_tx_csum(void)
{
    tx_csum_case(6, 200);
    tx_csum_case(6, 201); /* odd length */
    tx_csum_case(17, 333);
}

static void test_tso(void)
{
    enum { MSS = 1000, PAY = 3500, HDR = 54 };
    static uint8_t f[HDR + PAY];
    struct et t;
    uint8_t *ip = f + ET_ETH_HLEN;
    uint32_t seq0;
    unsigned nseg = (PAY + MSS - 1) / MSS;

    et_build(f, 6, PAY, ET_TCP_ACK | ET_TCP_PSH | ET_TCP_FIN);
    seq0 = et_be32(ip + ET_IP_HLEN + 4);
    /* as Linux's e1000_tso: IP length and checksum 0, TCP pseudo sum
     * without length */
    et_set_be16(ip + 2, 0);
    et_set_be16(ip + ET_IP_HLEN + 16, et_fold(et_pseudo(ip, 0)));
    et_init(&t, NULL);
    et_tx_setup(&t);
    et_txctx(&t, ET_ETH_HLEN, ET_ETH_HLEN + 10, ET_ETH_HLEN + ET_IP_HLEN - 1,
             ET_ETH_HLEN + ET_IP_HLEN, ET_ETH_HLEN + ET_IP_HLEN + 16, 0,
             PAY | E1000_TXD_CMD_TSE | E1000_TXD_CMD_TCP | E1000_TXD_CMD_IP,
             HDR, MSS);
    /* header in its own descriptor, payload split unevenly */
    uint32_t dcmd = E1000_TXD_CMD_DEXT | E1000_TXD_DTYP_D | E1000_TXD_CMD_TSE;
    uint32_t popts = (E1000_TXD_POPTS_IXSM | E1000_TXD_POPTS_TXSM) << 8;
    et_txd(&t, et_txbuf(&t, f, HDR), HDR | dcmd, popts);
    et_txd(&t, et_txbuf(&t, f + HDR, 1700), 1700 | dcmd, popts);
    et_txd(&t, et_txbuf(&t, f + HDR + 1700, PAY - 1700),
           (PAY - 1700) | dcmd | E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS, popts);
    et_tx_kick(&t);
    CHECK_EQ(et_sink(&t)->frames, nseg);
    for (unsigned s = 0; s < nseg; s++) {
        const struct hv_netsink_frame *g = hv_netsink_recent(et_sink(&t), nseg - 1 - s);
        unsigned pay = s + 1 < nseg ? MSS : PAY - MSS * (nseg - 1);
        const uint8_t *gip, *tcp;

        CHECK(g != NULL);
        if (!g)
            continue;
        gip = g->data + ET_ETH_HLEN;
        tcp = gip + ET_IP_HLEN;
        CHECK_EQ(g->len, HDR + pay);
        CHECK_EQ(et_be16(gip + 2), ET_IP_HLEN + ET_TCP_HLEN + pay);
        CHECK_EQ(et_be16(gip + 4), 0x1234 + s);
        CHECK_EQ(et_be32(tcp + 4), seq0 + s * MSS);
        CHECK_EQ(tcp[13] & (ET_TCP_PSH | ET_TCP_FIN),
                 s + 1 < nseg ? 0 : (ET_TCP_PSH | ET_TCP_FIN));
        CHECK(tcp[13] & ET_TCP_ACK);
        CHECK(et_ip_csum_ok(gip));
        CHECK(et_l4_csum_ok(gip, g->len - ET_ETH_HLEN));
        CHECK(memcmp(tcp + ET_TCP_HLEN, f + HDR + s * MSS, pay) == 0);
    }
    CHECK_EQ(et_rd(&t, E1000_TDH), 4);
    CHECK_EQ(et_rd(&t, E1000_GPTC), nseg);
    CHECK_EQ(et_rd(&t, E1000_TSCTC), 1);
    et_fini(&t);
}

/* Legacy descriptor with CMD.IC: checksum of [CSS, end) stored at CSO. */
static void test_tx_legacy_ic(void)
{
    struct et t;
    uint8_t f[200];
    size_t len = et_build(f, 17, 100, 0);
    uint8_t *ip = f + ET_ETH_HLEN;
    const struct hv_netsink_frame *g;

    et_init(&t, NULL);
    et_tx_setup(&t);
    et_txd(&t, et_txbuf(&t, f, (uint32_t)len),
           (uint32_t)len | E1000_TXD_CMD_EOP | E1000_TXD_CMD_IC |
               (uint32_t)(ET_ETH_HLEN + 10) << 16,
           ET_ETH_HLEN << 8);
    et_tx_kick(&t);
    g = hv_netsink_recent(et_sink(&t), 0);
    CHECK(g && g->len == len);
    if (g && g->len == len) {
        uint16_t want = (uint16_t)~et_fold(et_sum(ip, len - ET_ETH_HLEN, 0));
        CHECK_EQ(et_be16(g->data + ET_ETH_HLEN + 10), want);
    }
    et_fini(&t);
}

/* TSO with TCP clear (UDP): per segment IP length, ID, UDP length and
 * checksum. */
static void test_tso_udp(void)
{
    enum { MSS = 500, PAY = 1200, HDR = 42 };
    static uint8_t f[HDR + PAY];
    struct et t;
    uint8_t *ip = f + ET_ETH_HLEN;

    et_build(f, 17, PAY, 0);
    et_set_be16(ip + 2, 0);
    et_set_be16(ip + ET_IP_HLEN + 6, et_fold(et_pseudo(ip, 0)));
    et_init(&t, NULL);
    et_tx_setup(&t);
    et_txctx(&t, ET_ETH_HLEN, ET_ETH_HLEN + 10, ET_ETH_HLEN + ET_IP_HLEN - 1,
             ET_ETH_HLEN + ET_IP_HLEN, ET_ETH_HLEN + ET_IP_HLEN + 6, 0,
             PAY | E1000_TXD_CMD_TSE | E1000_TXD_CMD_IP, HDR, MSS);
    et_txd(&t, et_txbuf(&t, f, sizeof(f)),
           (uint32_t)sizeof(f) | E1000_TXD_CMD_DEXT | E1000_TXD_DTYP_D |
               E1000_TXD_CMD_TSE | E1000_TXD_CMD_EOP,
           (E1000_TXD_POPTS_IXSM | E1000_TXD_POPTS_TXSM) << 8);
    et_tx_kick(&t);
    CHECK_EQ(et_sink(&t)->frames, 3);
    for (unsigned s = 0; s < 3; s++) {
        const struct hv_netsink_frame *g = hv_netsink_recent(et_sink(&t), 2 - s);
        unsigned pay = s < 2 ? MSS : PAY - 2 * MSS;

        CHECK(g && g->len == HDR + pay);
        if (!g || g->len != HDR + pay)
            continue;
        CHECK_EQ(et_be16(g->data + ET_ETH_HLEN + 4), 0x1234 + s);
        CHECK_EQ(et_be16(g->data + ET_ETH_HLEN + ET_IP_HLEN + 4),
                 ET_UDP_HLEN + pay);
        CHECK(et_ip_csum_ok(g->data + ET_ETH_HLEN));
        CHECK(et_l4_csum_ok(g->data + ET_ETH_HLEN, g->len - ET_ETH_HLEN));
    }
    et_fini(&t);
}

static void test_vlan_tx(void)
{
    struct et t;
    uint8_t f[64];
    const struct hv_netsink_frame *g;

    for (unsigned i = 0; i < sizeof(f); i++)
        f[i] = (uint8_t)i;
    et_init(&t, NULL);
    et_tx_setup(&t);
    et_wr(&t, E1000_CTRL, et_rd(&t, E1000_CTRL) | E1000_CTRL_VME);
    et_txd(&t, et_txbuf(&t, f, sizeof(f)),
           sizeof(f) | E1000_TXD_CMD_EOP | E1000_TXD_CMD_VLE, 0x0123u << 16);
    et_tx_kick(&t);
    g = hv_netsink_recent(et_sink(&t), 0);
    CHECK(g && g->len == sizeof(f) + 4);
    if (g && g->len == sizeof(f) + 4) {
        CHECK(memcmp(g->data, f, 12) == 0);
        CHECK_EQ(et_be16(g->data + 12), 0x8100);
        CHECK_EQ(et_be16(g->data + 14), 0x0123);
        CHECK(memcmp(g->data + 16, f + 12, sizeof(f) - 12) == 0);
    }
    /* VLE without CTRL.VME: no tag */
    et_wr(&t, E1000_CTRL, et_rd(&t, E1000_CTRL) & ~E1000_CTRL_VME);
    et_txd(&t, et_txbuf(&t, f, sizeof(f)),
           sizeof(f) | E1000_TXD_CMD_EOP | E1000_TXD_CMD_VLE, 0x0123u << 16);
    et_tx_kick(&t);
    g = hv_netsink_recent(et_sink(&t), 0);
    CHECK(g && g->len == sizeof(f));
    et_fini(&t);
}

/* Guest-controlled rings must not loop forever nor overrun the packet. */
static void test_tx_bounds(void)
{
    struct et t;

    et_init(&t, NULL);
    et_tx_setup(&t);
    /* zero-length descriptors everywhere, TDT outside the ring */
    et_wr(&t, E1000_TDT, 1000);
    CHECK(et_rd(&t, E1000_TDH) < ET_TX_N);
    /* TDLEN 0 */
    et_wr(&t, E1000_TDLEN, 0);
    et_wr(&t, E1000_TDT, 5);
    CHECK_EQ(et_rd(&t, E1000_TDH), 0);
    /* a 200 KiB packet from zero-filled 64 KiB descriptors (no EOP): the
     * 64 KiB limit holds, then EOP sends at most 64 KiB */
    et_tx_setup(&t);
    for (unsigned i = 0; i < 4; i++)
        et_txd(&t, ET_DMA, 0xffff | (i == 3 ? E1000_TXD_CMD_EOP : 0), 0);
    et_tx_kick(&t);
    CHECK_EQ(et_sink(&t)->frames, 1);
    CHECK_EQ(hv_netsink_recent(et_sink(&t), 0)->len, 0x10000);
    /* TSO with MSS 0 and an unreachable header */
    et_txctx(&t, 14, 24, 33, 34, 50, 0,
             100 | E1000_TXD_CMD_TSE | E1000_TXD_CMD_TCP | E1000_TXD_CMD_IP, 255, 0);
    et_txd(&t, ET_DMA, 0xffff | E1000_TXD_CMD_DEXT | E1000_TXD_DTYP_D |
                           E1000_TXD_CMD_TSE | E1000_TXD_CMD_EOP, 0x300);
    et_tx_kick(&t);
    CHECK_EQ(t.m->findings, 0);
    et_fini(&t);
}

/* ---- RX ------------------------------------------------------------------------- */

static size_t frame_to(uint8_t *f, const uint8_t *dst, size_t len)
{
    for (size_t i = 0; i < len; i++)
        f[i] = (uint8_t)(i * 13 + 1);
    memcpy(f, dst, 6);
    memcpy(f + 6, et_peer, 6);
    et_set_be16(f + 12, 0x0800);
    return len;
}

static void test_rx_basic(void)
{
    struct et t;
    uint8_t f[2048], buf[2048];

    et_init(&t, NULL);
    et_rx_setup(&t, E1000_RCTL_BAM);
    et_wr(&t, E1000_IMS, E1000_ICR_RXT0);
    CHECK(hv_machine_rx_inject(t.m, f, frame_to(f, et_mac, 100)) == t.d);
    CHECK_EQ(et_rd(&t, E1000_RDH), 1);
    CHECK_EQ(et_rx_len(&t, 0), 104); /* + FCS */
    CHECK_EQ(et_rx_status(&t, 0),
             E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP | E1000_RXD_STAT_IXSM);
    hv_mem_read(t.m, ET_RXBUF, buf, 100);
    CHECK(memcmp(buf, f, 100) == 0);
    CHECK_EQ(t.d->intx_level, 1);
    CHECK_EQ(et_rd(&t, E1000_ICR), E1000_ICR_RXT0);
    /* short frame padded to 60; SECRC strips the FCS from the length */
    et_wr(&t, E1000_RCTL, et_rd(&t, E1000_RCTL) | E1000_RCTL_SECRC);
    hv_machine_rx_inject(t.m, f, frame_to(f, et_mac, 20));
    CHECK_EQ(et_rx_len(&t, 1), 60);
    /* 600 bytes over 256-byte buffers: three descriptors, EOP on the last */
    et_wr(&t, E1000_RCTL, E1000_RCTL_EN | (3u << E1000_RCTL_BSIZE_SHIFT));
    hv_machine_rx_inject(t.m, f, frame_to(f, et_mac, 600));
    CHECK_EQ(et_rd(&t, E1000_RDH), 5);
    CHECK_EQ(et_rx_len(&t, 2), 256);
    CHECK_EQ(et_rx_len(&t, 3), 256);
    CHECK_EQ(et_rx_len(&t, 4), 92); /* 600 + 4 - 512 */
    CHECK_EQ(et_rx_status(&t, 2), E1000_RXD_STAT_DD);
    CHECK_EQ(et_rx_status(&t, 4),
             E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP | E1000_RXD_STAT_IXSM);
    hv_mem_read(t.m, ET_RXBUF + 3 * ET_RXBUF_STRIDE, buf, 256);
    CHECK(memcmp(buf, f + 256, 256) == 0);
    CHECK_EQ(et_rd(&t, E1000_GPRC), 3);
    CHECK_EQ(et_rd(&t, E1000_GPRC), 0);
    et_fini(&t);
}

static bool rx_accepts(struct et *t, const uint8_t *dst)
{
    uint8_t f[80];
    uint32_t before = et_rd(t, E1000_RDH);

    frame_to(f, dst, sizeof(f));
    hv_machine_rx_inject(t->m, f, sizeof(f));
    return et_rd(t, E1000_RDH) != before;
}

static void test_rx_filters(void)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t other[6] = {0x52, 0x54, 0, 0, 0, 1};
    static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
    struct et t;
    unsigned h;

    et_init(&t, NULL);
    et_rx_setup(&t, 0);
    CHECK(rx_accepts(&t, et_mac));
    CHECK(!rx_accepts(&t, other));
    CHECK(!rx_accepts(&t, bcast));
    CHECK(!rx_accepts(&t, mcast));
    et_wr(&t, E1000_RCTL, et_rd(&t, E1000_RCTL) | E1000_RCTL_BAM);
    CHECK(rx_accepts(&t, bcast));
    /* MTA, MO = 0: bits 47:36 of the address */
    h = ((unsigned)(mcast[5] << 8 | mcast[4]) >> 4) & 0xfff;
    et_wr(&t, E1000_MTA + 4 * (h >> 5), 1u << (h & 31));
    CHECK(rx_accepts(&t, mcast));
    et_wr(&t, E1000_MTA + 4 * (h >> 5), 0);
    CHECK(!rx_accepts(&t, mcast));
    et_wr(&t, E1000_RCTL, et_rd(&t, E1000_RCTL) | E1000_RCTL_MPE);
    CHECK(rx_accepts(&t, mcast));
    /* a second RA entry, valid only with AV */
    et_wr(&t, E1000_RA + 8, 0x00005452);
    et_wr(&t, E1000_RA + 12, 0x0100);
    CHECK(!rx_accepts(&t, other));
    et_wr(&t, E1000_RA + 12, 0x0100 | E1000_RAH_AV);
    CHECK(rx_accepts(&t, other));
    et_wr(&t, E1000_RA + 12, 0);
    et_wr(&t, E1000_RCTL, et_rd(&t, E1000_RCTL) | E1000_RCTL_UPE);
    CHECK(rx_accepts(&t, other));
    /* RX disabled */
    et_wr(&t, E1000_RCTL, 0);
    CHECK(!rx_accepts(&t, et_mac));
    et_fini(&t);
}

static void test_rx_vlan_and_size(void)
{
    struct et t;
    uint8_t f[2000], buf[64];

    et_init(&t, NULL);
    et_rx_setup(&t, E1000_RCTL_VFE);
    frame_to(f, et_mac, 100);
    et_set_be16(f + 12, 0x8100);
    et_set_be16(f + 14, 0x0005); /* VID 5 */
    et_set_be16(f + 16, 0x0800);
    hv_machine_rx_inject(t.m, f, 100);
    CHECK_EQ(et_rd(&t, E1000_RDH), 0); /* VFTA empty: dropped */
    et_wr(&t, E1000_VFTA, 1u << 5);
    hv_machine_rx_inject(t.m, f, 100);
    CHECK_EQ(et_rd(&t, E1000_RDH), 1);
    CHECK_EQ(et_rx_len(&t, 0), 104); /* tag kept without CTRL.VME */
    et_wr(&t, E1000_CTRL, et_rd(&t, E1000_CTRL) | E1000_CTRL_VME);
    hv_machine_rx_inject(t.m, f, 100);
    CHECK_EQ(et_rx_len(&t, 1), 100); /* stripped */
    CHECK(et_rx_status(&t, 1) & E1000_RXD_STAT_VP);
    CHECK_EQ(et_get(&t, ET_RXRING + E1000_DESC_SIZE + 14, 2), 0x0005);
    hv_mem_read(t.m, ET_RXBUF + ET_RXBUF_STRIDE, buf, 16);
    CHECK(memcmp(buf, f, 12) == 0 && buf[12] == 0x08 && buf[13] == 0x00);
    /* long frames need LPE */
    frame_to(f, et_mac, 1600);
    hv_machine_rx_inject(t.m, f, 1600);
    CHECK_EQ(et_rd(&t, E1000_RDH), 2);
    CHECK_EQ(et_rd(&t, E1000_ROC), 1);
    et_wr(&t, E1000_RCTL, et_rd(&t, E1000_RCTL) | E1000_RCTL_LPE);
    hv_machine_rx_inject(t.m, f, 1600);
    CHECK_EQ(et_rd(&t, E1000_RDH), 3);
    et_fini(&t);
}

static void test_rx_overrun(void)
{
    struct et t;
    uint8_t f[100];

    et_init(&t, NULL);
    et_rx_setup(&t, 0);
    et_wr(&t, E1000_IMS, E1000_ICR_RXO);
    frame_to(f, et_mac, sizeof(f));
    for (unsigned i = 0; i < ET_RX_N - 1; i++)
        hv_machine_rx_inject(t.m, f, sizeof(f));
    CHECK_EQ(et_rd(&t, E1000_RDH), ET_RX_N - 1);
    CHECK(et_rd(&t, E1000_ICR) & E1000_ICR_RXDMT0);
    hv_machine_rx_inject(t.m, f, sizeof(f)); /* RDH == RDT: full */
    CHECK_EQ(et_rd(&t, E1000_RDH), ET_RX_N - 1);
    CHECK_EQ(t.d->intx_level, 1);
    CHECK_EQ(et_rd(&t, E1000_ICR), E1000_ICR_RXO);
    CHECK_EQ(et_rd(&t, E1000_MPC), 1);
    CHECK_EQ(et_rd(&t, E1000_RNBC), 1);
    /* the driver returns buffers: reception resumes, wrapping the ring */
    et_wr(&t, E1000_RDT, 3);
    hv_machine_rx_inject(t.m, f, sizeof(f));
    CHECK_EQ(et_rd(&t, E1000_RDH), 0);
    et_fini(&t);
}

static void test_loopback(void)
{
    struct et t;
    uint8_t f[80], buf[80];

    et_init(&t, NULL);
    et_rx_setup(&t, E1000_RCTL_LBM_MAC);
    et_tx_setup(&t);
    frame_to(f, et_mac, sizeof(f));
    et_txd(&t, et_txbuf(&t, f, sizeof(f)), sizeof(f) | E1000_TXD_CMD_EOP, 0);
    et_tx_kick(&t);
    CHECK_EQ(et_sink(&t)->frames, 0);
    CHECK_EQ(et_rd(&t, E1000_RDH), 1);
    CHECK_EQ(et_rx_len(&t, 0), sizeof(f) + 4);
    hv_mem_read(t.m, ET_RXBUF, buf, sizeof(buf));
    CHECK(memcmp(buf, f, sizeof(f)) == 0);
    et_fini(&t);
}

static void test_stats(void)
{
    struct et t;
    uint8_t f[100];

    et_init(&t, NULL);
    et_tx_setup(&t);
    frame_to(f, et_peer, sizeof(f));
    for (unsigned i = 0; i < 3; i++)
        et_txd(&t, et_txbuf(&t, f, sizeof(f)), sizeof(f) | E1000_TXD_CMD_EOP, 0);
    et_tx_kick(&t);
    CHECK_EQ(et_rd(&t, E1000_GPTC), 3);
    CHECK_EQ(et_rd(&t, E1000_GPTC), 0);
    CHECK_EQ(et_rd(&t, E1000_TPT), 3);
    CHECK_EQ(et_rd(&t, E1000_PTC127), 3);
    CHECK_EQ(et_rd(&t, E1000_GOTCL), 3 * 104);
    CHECK_EQ(et_rd(&t, E1000_GOTCL), 3 * 104); /* low half alone: kept */
    CHECK_EQ(et_rd(&t, E1000_GOTCH), 0);
    CHECK_EQ(et_rd(&t, E1000_GOTCL), 0); /* high half read clears both */
    et_wr(&t, E1000_TPT, 7);             /* read-only */
    CHECK_EQ(et_rd(&t, E1000_TPT), 0);
    et_fini(&t);
}

static void test_reset(void)
{
    struct et t;
    uint8_t f[80];

    et_init(&t, NULL);
    et_tx_setup(&t);
    et_rx_setup(&t, E1000_RCTL_UPE);
    frame_to(f, et_peer, sizeof(f));
    et_txd(&t, et_txbuf(&t, f, sizeof(f)), sizeof(f), 0); /* no EOP: pending */
    et_tx_kick(&t);
    et_wr(&t, E1000_IMS, 0xffff);
    et_wr(&t, E1000_MTA + 8, 0xffffffff);
    et_wr(&t, E1000_MDIC, E1000_MDIC_OP_WRITE | E1000_PHY_ADDR << 21 |
                              PHY_CTRL << 16 | 0x1340);
    (void)et_ee_bitbang(&t, 3);
    et_wr(&t, E1000_EECD, E1000_EECD_CS | E1000_EECD_REQ);
    et_txd(&t, et_txbuf(&t, f, sizeof(f)), sizeof(f) | E1000_TXD_CMD_EOP, 0);
    et_tx_kick(&t);
    CHECK_EQ(et_sink(&t)->frames, 1);
    hv_machine_reset(t.m);
    et_program_bars(t.m);
    CHECK_EQ(et_sink(&t)->frames, 0);
    CHECK_EQ(et_rd(&t, E1000_STATUS), 0x80080783);
    CHECK_EQ(et_rd(&t, E1000_IMS), 0);
    CHECK_EQ(et_rd(&t, E1000_RCTL), 0);
    CHECK_EQ(et_rd(&t, E1000_TDT), 0);
    CHECK_EQ(et_rd(&t, E1000_MTA + 8), 0);
    CHECK_EQ(et_rd(&t, E1000_EECD), E1000_EECD_PRES | E1000_EECD_GNT | E1000_EECD_DO);
    CHECK_EQ(phy_read(&t, PHY_STATUS), 0x794d);
    hv_machine_clock_advance(t.m, 1000000000);
    CHECK_EQ(et_rd(&t, E1000_ICR), 0); /* no autoneg left pending */
    et_fini(&t);
}

static void test_snapshot(void)
{
    struct et t;
    struct hv_snapshot *snap;
    uint8_t f[80];
    uint32_t before[8];
    static const uint32_t regs[8] = {E1000_CTRL, E1000_STATUS, E1000_RCTL,
                                     E1000_TDH, E1000_RDH, E1000_IMS,
                                     E1000_TCTL, E1000_MTA};

    et_init(&t, NULL);
    et_tx_setup(&t);
    et_rx_setup(&t, 0);
    frame_to(f, et_mac, sizeof(f));
    et_wr(&t, E1000_IMS, E1000_ICR_RXT0);
    et_wr(&t, E1000_MTA, 0xabcd);
    /* half a packet pending in the TX buffer */
    et_txd(&t, et_txbuf(&t, f, 40), 40, 0);
    et_tx_kick(&t);
    for (int i = 0; i < 8; i++)
        before[i] = et_rd(&t, regs[i]);
    snap = hv_machine_snapshot(t.m);
    CHECK(snap != NULL);
    if (!snap) {
        et_fini(&t);
        return;
    }
    for (int round = 0; round < 2; round++) {
        hv_machine_rx_inject(t.m, f, sizeof(f));
        et_wr(&t, E1000_MTA, 0);
        et_wr(&t, E1000_RCTL, 0);
        hv_machine_restore(t.m, snap);
        for (int i = 0; i < 8; i++)
            CHECK_EQ(et_rd(&t, regs[i]), before[i]);
        /* finish the pending packet: the restored half is still there */
        uint32_t tdt = t.tdt;
        et_txd(&t, et_txbuf(&t, f + 40, 40), 40 | E1000_TXD_CMD_EOP, 0);
        et_tx_kick(&t);
        const struct hv_netsink_frame *g = hv_netsink_recent(et_sink(&t), 0);
        CHECK(g && g->len == sizeof(f) && memcmp(g->data, f, sizeof(f)) == 0);
        t.tdt = tdt;
        hv_machine_restore(t.m, snap);
    }
    hv_snapshot_free(snap);
    et_fini(&t);
}

static void trace_fn(void *opaque, const char *line)
{
    unsigned *n = opaque;

    if (strncmp(line, "e1000 tx len=80", 15) == 0)
        (*n)++;
}

static void test_trace_events(void)
{
    struct et t;
    uint8_t f[80];
    unsigned seen = 0;

    et_init(&t, NULL);
    et_tx_setup(&t);
    hv_machine_set_trace(t.m, trace_fn, &seen);
    frame_to(f, et_peer, sizeof(f));
    et_txd(&t, et_txbuf(&t, f, sizeof(f)), sizeof(f) | E1000_TXD_CMD_EOP, 0);
    et_tx_kick(&t);
    CHECK_EQ(seen, 1);
    et_fini(&t);
}

/* Random register traffic, descriptors and frames (fixed seed): the model
 * must stay within its budget and raise no finding (ASan/UBSan watch). */
static void test_random(void)
{
    static const uint32_t regs[] = {
        E1000_CTRL, E1000_EECD, E1000_EERD, E1000_MDIC, E1000_ICR, E1000_ICS,
        E1000_IMS, E1000_IMC, E1000_RCTL, E1000_TCTL, E1000_RDLEN, E1000_RDH,
        E1000_RDT, E1000_TDLEN, E1000_TDH, E1000_TDT, E1000_VET, E1000_MTA,
        E1000_RA + 4, E1000_VFTA, E1000_GORCH, E1000_TPT, E1000_RXCSUM,
    };
    uint64_t seed = 0x1234567;
    struct et t;
    uint8_t f[1600];

    et_init(&t, NULL);
    /* 20000 ops without a reset are one endless input: the budget checks
     * per-input work, not what this test is after (no crash, no finding
     * other than the budget) */
    t.m->work_budget = UINT32_MAX;
    et_tx_setup(&t);
    et_rx_setup(&t, E1000_RCTL_UPE | E1000_RCTL_MPE | E1000_RCTL_BAM);
    for (unsigned i = 0; i < 20000; i++) {
        uint64_t r = hv_test_xorshift(&seed);
        uint32_t v = (uint32_t)(r >> 32);

        switch (r % 6) {
        case 0:
            et_wr(&t, regs[(r >> 8) % (sizeof(regs) / 4)], v);
            break;
        case 1:
            (void)et_rd(&t, regs[(r >> 8) % (sizeof(regs) / 4)]);
            break;
        case 2: /* random descriptor bytes in either ring */
            et_put(&t, ET_DMA + ((r >> 8) % 0x2000), 4, v);
            break;
        case 3:
            et_wr(&t, E1000_TCTL, E1000_TCTL_EN);
            et_wr(&t, E1000_TDT, v % 80);
            break;
        case 4:
            for (unsigned k = 0; k < sizeof(f); k++)
                f[k] = (uint8_t)(v >> (k % 24));
            hv_machine_rx_inject(t.m, f, (r >> 16) % sizeof(f));
            break;
        default:
            hv_machine_clock_advance(t.m, v);
            break;
        }
    }
    CHECK_EQ(t.m->findings, 0);
    et_fini(&t);
}

int main(void)
{
    test_pci_identity();
    test_reset_values();
    test_eeprom();
    test_phy_autoneg();
    test_interrupts();
    test_tx_legacy();
    test_tx_csum();
    test_tso();
    test_tx_legacy_ic();
    test_tso_udp();
    test_vlan_tx();
    test_tx_bounds();
    test_rx_basic();
    test_rx_filters();
    test_rx_vlan_and_size();
    test_rx_overrun();
    test_loopback();
    test_stats();
    test_reset();
    test_snapshot();
    test_trace_events();
    test_random();
    return hv_test_done("test_e1000");
}
