/*
 * virtio-net (virtio 1.2 section 5.1) functional tests: identity and
 * configuration as QEMU 7.2 offers them, feature negotiation, TX frames
 * reaching the sink byte-exact (header rules, checksum offload), RX with
 * and without mergeable buffers (buffer contents, num_buffers, used ring),
 * every control command's OK/ERR answer and effect on the RX filter,
 * multiqueue steering, link/announce events and reset.
 */
#include <stdio.h>

#include "vtest.h"
#include "targets/common/hv_net.h"
#include "targets/virtio/virtio_net.h"
#include "targets/virtio/virtio_net_regs.h"

#define F(bit) (1ull << (bit))
#define QEMU_OFFER 0x30bf8024ull
/* What Linux 6.1 accepted in the trace, VERSION_1 included. */
#define LINUX_FEATURES (0x30af8024ull | F(VIRTIO_F_VERSION_1))
#define NO_MRG (LINUX_FEATURES & ~F(VIRTIO_NET_F_MRG_RXBUF))
#define HDR VIRTIO_NET_HDR_LEN

static const uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t peer_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
static const uint8_t other_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

struct net {
    hv_machine *m;
    hv_dev *d;
    struct vt_queue q[2 * 2 + 1];
    uint16_t nq, ctrl;
    uint64_t data; /* next free data buffer */
};

static void net_machine(struct net *n, const struct virtio_net_params *p)
{
    memset(n, 0, sizeof(*n));
    n->m = hv_machine_create(NULL);
    n->d = n->m ? virtio_net_create_ex(n->m, p) : NULL;
    if (!n->d || hv_machine_add(n->m, n->d, VT_BDF) < 0) {
        fprintf(stderr, "cannot build the machine\n");
        exit(2);
    }
    n->m->findings_fatal = false;
    hv_machine_reset(n->m);
    vt_program_bars(n->m);
    n->data = VT_DATA;
}

/* 3.1.1 with the queues of every pair and the control queue (its own
 * maximum size). Returns the status read after FEATURES_OK. */
static uint8_t net_init(struct net *n, uint64_t features)
{
    hv_machine *m = n->m;
    uint8_t st;

    vt_cw(m, VIRTIO_PCI_COMMON_STATUS, 1, 0);
    vt_cw(m, VIRTIO_PCI_COMMON_STATUS, 1,
          VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    vt_write_features(m, features);
    vt_cw(m, VIRTIO_PCI_COMMON_STATUS, 1,
          VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
              VIRTIO_STATUS_FEATURES_OK);
    st = vt_status(m);
    if (!(st & VIRTIO_STATUS_FEATURES_OK))
        return st;
    n->nq = (uint16_t)vt_cr(m, VIRTIO_PCI_COMMON_NUMQ, 2);
    n->ctrl = (uint16_t)(n->nq - 1);
    for (uint16_t q = 0; q < n->nq; q++) {
        vt_cw(m, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        vt_queue_setup(&n->q[q], m, q,
                       (uint16_t)vt_cr(m, VIRTIO_PCI_COMMON_Q_SIZE, 2));
    }
    vt_cw(m, VIRTIO_PCI_COMMON_STATUS, 1, st | VIRTIO_STATUS_DRIVER_OK);
    return st;
}

static uint64_t buf_alloc(struct net *n, uint32_t len)
{
    uint64_t b = n->data;

    n->data += (len + 15u) & ~15u;
    if (n->data > VT_DMA + HV_DMA_WINDOW_SIZE - 0x2000) {
        n->data = VT_DATA;
        b = n->data;
        n->data += (len + 15u) & ~15u;
    }
    return b;
}

/* A chain of readable (data given) then writable segments at slot `head`. */
struct seg {
    const uint8_t *data;
    uint32_t len;
    bool write;
};

static uint16_t submit(struct net *n, uint16_t q, uint16_t head,
                       const struct seg *s, unsigned ns, uint64_t *gpas)
{
    struct vt_queue *vq = &n->q[q];

    for (unsigned i = 0; i < ns; i++) {
        uint64_t g = buf_alloc(n, s[i].len ? s[i].len : 1);

        if (s[i].data)
            hv_mem_write(n->m, g, s[i].data, s[i].len);
        else
            hv_mem_fill(n->m, g, 0xee, s[i].len);
        if (gpas)
            gpas[i] = g;
        vt_desc(vq, vq->desc, (uint16_t)((head + i) % vq->size), g, s[i].len,
                (uint16_t)((i + 1 < ns ? VIRTQ_DESC_F_NEXT : 0) |
                           (s[i].write ? VIRTQ_DESC_F_WRITE : 0)),
                (uint16_t)((head + i + 1) % vq->size));
    }
    vt_avail(vq, head);
    return head;
}

/* ---- frames ------------------------------------------------------------ */

static size_t udp_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src,
                        uint32_t sip, uint32_t dip, uint16_t sport,
                        uint16_t dport, size_t plen)
{
    size_t len = 14 + 20 + 8 + plen;

    memset(f, 0, len);
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = 0x08;
    f[14] = 0x45;
    f[16] = (uint8_t)((20 + 8 + plen) >> 8);
    f[17] = (uint8_t)(20 + 8 + plen);
    f[22] = 64;
    f[23] = 17;
    for (int i = 0; i < 4; i++) {
        f[26 + i] = (uint8_t)(sip >> (24 - 8 * i));
        f[30 + i] = (uint8_t)(dip >> (24 - 8 * i));
    }
    f[34] = (uint8_t)(sport >> 8);
    f[35] = (uint8_t)sport;
    f[36] = (uint8_t)(dport >> 8);
    f[37] = (uint8_t)dport;
    f[38] = (uint8_t)((8 + plen) >> 8);
    f[39] = (uint8_t)(8 + plen);
    for (size_t i = 0; i < plen; i++)
        f[42 + i] = (uint8_t)(i * 7 + 3);
    return len;
}

static size_t frame_to(uint8_t *f, const uint8_t *dst, size_t plen)
{
    return udp_frame(f, dst, peer_mac, 0x0a000202u, 0x0a00020fu, 5678, 1234,
                     plen);
}

/* ---- TX ---------------------------------------------------------------- */

static uint16_t tx_head;

static void tx(struct net *n, uint16_t q, const uint8_t *hdr, unsigned hl,
               const uint8_t *f, size_t len)
{
    struct seg s[2] = {{hdr, hl, false}, {f, (uint32_t)len, false}};

    submit(n, q, tx_head, s, len ? 2 : 1, NULL);
    tx_head = (uint16_t)(tx_head + 2);
    vt_kick(&n->q[q]);
}

static const struct hv_netsink_frame *last_frame(struct net *n)
{
    return hv_netsink_recent((struct hv_netsink *)virtio_net_backend(n->d), 0);
}

static uint64_t sink_frames(struct net *n)
{
    return ((struct hv_netsink *)virtio_net_backend(n->d))->frames;
}

static void test_identity(void)
{
    struct net n;
    hv_machine *m;

    net_machine(&n, NULL);
    m = n.m;
    CHECK_EQ(vt_cfg(m, HV_PCI_VENDOR_ID, 4), 0x10001af4u);
    CHECK_EQ(vt_cfg(m, HV_PCI_REVISION, 4), 0x02000000u);
    CHECK_EQ(vt_cfg(m, HV_PCI_SUBSYS_VENDOR_ID, 2), 0x1af4u);
    CHECK_EQ(vt_cfg(m, HV_PCI_SUBSYS_ID, 2), 1u);
    CHECK_EQ(vt_cfg(m, HV_PCI_CAP_PTR, 1), 0x98u);
    CHECK_EQ(vt_cfg(m, VIRTIO_PCI_CAP_MSIX_OFF + 2, 2), 3u); /* 4 vectors */
    hv_bus_cfg_write(m, VT_BDF, HV_PCI_BAR0, 4, 0xffffffffu);
    CHECK_EQ(vt_cfg(m, HV_PCI_BAR0, 4), 0xffffffe1u); /* 32 ports */
    hv_bus_cfg_write(m, VT_BDF, HV_PCI_BAR0, 4, VT_BAR0);
    hv_bus_cfg_write(m, VT_BDF, HV_PCI_ROM_ADDRESS, 4, 0xfffffffeu);
    CHECK_EQ(vt_cfg(m, HV_PCI_ROM_ADDRESS, 4), 0xfffc0000u);
    hv_bus_cfg_write(m, VT_BDF, HV_PCI_ROM_ADDRESS, 4, 0);
    CHECK_EQ(vt_device_features(m), QEMU_OFFER | 0x10100000000ull);
    CHECK_EQ(vt_cr(m, VIRTIO_PCI_COMMON_NUMQ, 2), 3);
    for (uint16_t q = 0; q < 3; q++) {
        vt_cw(m, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        CHECK_EQ(vt_cr(m, VIRTIO_PCI_COMMON_Q_SIZE, 2), q == 2 ? 64 : 256);
    }
    CHECK_EQ(hv_bus_mmio_read(m, VT_DEVCFG, 4), 0x12005452u);
    CHECK_EQ(hv_bus_mmio_read(m, VT_DEVCFG + 4, 2), 0x5634u);
    CHECK_EQ(hv_bus_mmio_read(m, VT_DEVCFG + 6, 2), VIRTIO_NET_S_LINK_UP);
    CHECK_EQ(hv_bus_mmio_read(m, VT_DEVCFG + 8, 2), 0xffffu); /* no MQ */
    /* the legacy window: host features (low word) and config after 0x18 */
    CHECK_EQ(hv_bus_pio_read(m, VT_BAR0 + VIRTIO_PCI_LEGACY_HOST_FEATURES, 4),
             (uint32_t)QEMU_OFFER | 0x49000040u); /* + legacy GSO */
    CHECK_EQ(hv_bus_pio_read(m, VT_BAR0 + VIRTIO_PCI_LEGACY_HOST_FEATURES, 1), 0x64u);
    CHECK_EQ(hv_bus_pio_read(m, VT_BAR0 + 0x14, 1), 0x52u);
    hv_machine_destroy(m);
}

static void test_features(void)
{
    struct net n;
    struct virtio_net_params p = {.offloads = true, .max_pairs = 2, .mtu = 1400};

    net_machine(&n, NULL);
    /* CSUM is not offered by QEMU's slirp/hubport configuration */
    CHECK(!(net_init(&n, LINUX_FEATURES | F(VIRTIO_NET_F_CSUM)) &
            VIRTIO_STATUS_FEATURES_OK));
    CHECK(!(net_init(&n, LINUX_FEATURES | F(VIRTIO_NET_F_MQ)) &
            VIRTIO_STATUS_FEATURES_OK));
    CHECK(net_init(&n, LINUX_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
    hv_machine_destroy(n.m);

    net_machine(&n, &p);
    CHECK_EQ(vt_device_features(n.m) & 0xffffffffu,
             QEMU_OFFER | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |
                 F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_MTU));
    CHECK(net_init(&n, LINUX_FEATURES | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_MQ)) &
          VIRTIO_STATUS_FEATURES_OK);
    CHECK_EQ(n.nq, 5);
    CHECK_EQ(hv_bus_mmio_read(n.m, VT_DEVCFG + 8, 2), 2);    /* max pairs */
    CHECK_EQ(hv_bus_mmio_read(n.m, VT_DEVCFG + 10, 2), 1400); /* mtu */
    CHECK_EQ(hv_bus_mmio_read(n.m, VT_DEVCFG + 12, 1), 0xffu);
    hv_machine_destroy(n.m);
}

static void test_tx(void)
{
    struct net n;
    uint8_t hdr[HDR] = {0}, f[1600];
    size_t len = frame_to(f, peer_mac, 100);
    const struct hv_netsink_frame *got;
    struct virtio_net_stats st;
    struct seg split[4];
    uint32_t id, ulen;

    net_machine(&n, NULL);
    tx_head = 0;
    CHECK(net_init(&n, LINUX_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
    tx(&n, 1, hdr, HDR, f, len);
    CHECK_EQ(sink_frames(&n), 1);
    got = last_frame(&n);
    CHECK(got && got->len == len && memcmp(got->data, f, len) == 0);
    CHECK_EQ(vt_used_idx(&n.q[1]), 1);
    vt_used_elem(&n.q[1], 0, &id, &ulen);
    CHECK_EQ(id, 0);
    CHECK_EQ(ulen, 0);
    /* header and frame over 4 descriptors, header cut in two */
    split[0] = (struct seg){hdr, 5, false};
    split[1] = (struct seg){hdr + 5, HDR - 5, false};
    split[2] = (struct seg){f, 33, false};
    split[3] = (struct seg){f + 33, (uint32_t)(len - 33), false};
    submit(&n, 1, tx_head, split, 4, NULL);
    tx_head = (uint16_t)(tx_head + 4);
    vt_kick(&n.q[1]);
    got = last_frame(&n);
    CHECK(got && got->len == len && memcmp(got->data, f, len) == 0);
    /* NEEDS_CSUM and GSO are not negotiable here: rejected, completed */
    hdr[VIRTIO_NET_HDR_FLAGS] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    tx(&n, 1, hdr, HDR, f, len);
    hdr[VIRTIO_NET_HDR_FLAGS] = 0;
    hdr[VIRTIO_NET_HDR_GSO_TYPE] = VIRTIO_NET_HDR_GSO_TCPV4;
    tx(&n, 1, hdr, HDR, f, len);
    hdr[VIRTIO_NET_HDR_GSO_TYPE] = 0;
    tx(&n, 1, hdr, HDR, NULL, 0); /* header only: nothing to send */
    CHECK_EQ(sink_frames(&n), 2);
    CHECK_EQ(vt_used_idx(&n.q[1]), 5);
    virtio_net_get_stats(n.d, &st);
    CHECK_EQ(st.tx_frames, 2);
    CHECK_EQ(st.tx_dropped, 3);
    /* link down: completed unsent */
    virtio_net_set_link(n.d, false);
    CHECK_EQ(hv_bus_mmio_read(n.m, VT_DEVCFG + 6, 2), 0);
    CHECK(hv_bus_mmio_read(n.m, VT_ISR, 1) & VIRTIO_PCI_ISR_CONFIG);
    tx(&n, 1, hdr, HDR, f, len);
    CHECK_EQ(sink_frames(&n), 2);
    CHECK_EQ(vt_used_idx(&n.q[1]), 6);
    virtio_net_set_link(n.d, true);
    /* a header shorter than 12 bytes is a device error */
    tx(&n, 1, hdr, 8, NULL, 0);
    CHECK(vt_status(n.m) & VIRTIO_STATUS_NEEDS_RESET);
    CHECK_EQ(vt_used_idx(&n.q[1]), 6);
    hv_machine_destroy(n.m);
}

static uint16_t csum_ok(const uint8_t *f, size_t len)
{
    /* UDP over IPv4: pseudo header + UDP header + payload sums to 0xffff */
    uint32_t s = 0;

    for (int i = 26; i < 34; i += 2)
        s += (uint32_t)(f[i] << 8 | f[i + 1]);
    s += 17 + (uint32_t)(len - 34);
    for (size_t i = 34; i < len; i += 2)
        s += (uint32_t)(f[i] << 8 | (i + 1 < len ? f[i + 1] : 0));
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

static void test_tx_csum(void)
{
    struct net n;
    struct virtio_net_params p = {.offloads = true};
    uint8_t hdr[HDR] = {0}, f[200], sent[200];
    size_t len = frame_to(f, peer_mac, 51);
    const struct hv_netsink_frame *got;

    net_machine(&n, &p);
    tx_head = 0;
    CHECK(net_init(&n, LINUX_FEATURES | F(VIRTIO_NET_F_CSUM)) &
          VIRTIO_STATUS_FEATURES_OK);
    /* Linux leaves the pseudo-header sum in the checksum field */
    uint32_t ps = 0x0a00 + 0x0202 + 0x0a00 + 0x020f + 17 + (uint32_t)(len - 34);
    f[40] = (uint8_t)(ps >> 8);
    f[41] = (uint8_t)ps;
    memcpy(sent, f, len);
    hdr[VIRTIO_NET_HDR_FLAGS] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    hv_st_le(hdr + VIRTIO_NET_HDR_CSUM_START, 2, 34);
    hv_st_le(hdr + VIRTIO_NET_HDR_CSUM_OFFSET, 2, 6);
    tx(&n, 1, hdr, HDR, f, len);
    got = last_frame(&n);
    CHECK(got && got->len == len);
    if (got) {
        CHECK_EQ(csum_ok(got->data, len), 0xffff);
        CHECK(memcmp(got->data, sent, 40) == 0);
        CHECK(memcmp(got->data + 42, sent + 42, len - 42) == 0);
    }
    /* checksum field past the frame: rejected */
    hv_st_le(hdr + VIRTIO_NET_HDR_CSUM_OFFSET, 2, (uint32_t)len);
    tx(&n, 1, hdr, HDR, f, len);
    CHECK_EQ(sink_frames(&n), 1);
    hv_machine_destroy(n.m);
}

/* ---- RX ---------------------------------------------------------------- */

static uint16_t rx_head;

/* Post one RX chain of `nseg` writable segments of `len` bytes each. */
static void rx_post(struct net *n, uint16_t q, uint32_t len, unsigned nseg,
                    uint64_t *gpas)
{
    struct seg s[4];

    for (unsigned i = 0; i < nseg; i++)
        s[i] = (struct seg){NULL, len, true};
    submit(n, q, rx_head, s, nseg, gpas);
    rx_head = (uint16_t)(rx_head + nseg);
}

static bool mem_eq(hv_machine *m, uint64_t gpa, const uint8_t *want, size_t len)
{
    uint8_t buf[2048];

    hv_mem_read(m, gpa, buf, len);
    return memcmp(buf, want, len) == 0;
}

static void test_rx_single(void)
{
    struct net n;
    uint8_t f[1600], zero_hdr[HDR] = {0};
    size_t len = frame_to(f, our_mac, 200);
    uint64_t g[3];
    uint32_t id, ulen;

    net_machine(&n, NULL);
    rx_head = 0;
    CHECK(net_init(&n, NO_MRG) & VIRTIO_STATUS_FEATURES_OK);
    rx_post(&n, 0, 1526, 1, &g[0]);
    CHECK(hv_machine_rx_inject(n.m, f, len) == n.d);
    CHECK_EQ(vt_used_idx(&n.q[0]), 1);
    vt_used_elem(&n.q[0], 0, &id, &ulen);
    CHECK_EQ(id, 0);
    CHECK_EQ(ulen, HDR + len);
    hv_st_le(zero_hdr + VIRTIO_NET_HDR_NUM_BUFFERS, 2, 1);
    CHECK(mem_eq(n.m, g[0], zero_hdr, HDR));
    CHECK(mem_eq(n.m, g[0] + HDR, f, len));
    /* header and frame across three segments of one chain */
    rx_post(&n, 0, 100, 3, g);
    len = frame_to(f, our_mac, 200);
    len = frame_to(f, our_mac, 258); /* 300 + 12 bytes: too big, dropped */
    CHECK(hv_machine_rx_inject(n.m, f, len) == n.d);
    CHECK_EQ(vt_used_idx(&n.q[0]), 1);
    len = frame_to(f, our_mac, 230); /* 272 + 12 = 284 <= 300: fits */
    hv_machine_rx_inject(n.m, f, len);
    CHECK_EQ(vt_used_idx(&n.q[0]), 2);
    vt_used_elem(&n.q[0], 1, &id, &ulen);
    CHECK_EQ(id, 1);
    CHECK_EQ(ulen, HDR + len);
    CHECK(mem_eq(n.m, g[0] + HDR, f, 100 - HDR));
    CHECK(mem_eq(n.m, g[1], f + 100 - HDR, 100));
    CHECK(mem_eq(n.m, g[2], f + 200 - HDR, len - 200 + HDR));
    /* too big for the next buffer: dropped, the buffer given back */
    rx_post(&n, 0, 64, 1, g);
    len = frame_to(f, our_mac, 60);
    hv_machine_rx_inject(n.m, f, len);
    CHECK_EQ(vt_used_idx(&n.q[0]), 2);
    len = frame_to(f, our_mac, 4); /* 46 + 12 bytes: fits in the same head */
    hv_machine_rx_inject(n.m, f, len);
    CHECK_EQ(vt_used_idx(&n.q[0]), 3);
    vt_used_elem(&n.q[0], 2, &id, &ulen);
    CHECK_EQ(id, 4);
    /* empty ring: dropped */
    hv_machine_rx_inject(n.m, f, len);
    CHECK_EQ(vt_used_idx(&n.q[0]), 3);
    /* a chain without writable segments is a device error */
    {
        struct seg s = {f, 16, false};
        submit(&n, 0, rx_head, &s, 1, NULL);
        hv_machine_rx_inject(n.m, f, len);
        CHECK(vt_status(n.m) & VIRTIO_STATUS_NEEDS_RESET);
    }
    hv_machine_destroy(n.m);
}

static void test_rx_mergeable(void)
{
    struct net n;
    uint8_t f[1600], hdr[HDR];
    size_t len = frame_to(f, our_mac, 1000);
    uint64_t g[6];
    uint32_t id, ulen;
    struct virtio_net_stats st;

    net_machine(&n, NULL);
    rx_head = 0;
    CHECK(net_init(&n, LINUX_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
    for (int i = 0; i < 3; i++)
        rx_post(&n, 0, 512, 1, &g[i]);
    /* 1042 + 12 bytes: 500 + 512 + 42 over three chains */
    hv_machine_rx_inject(n.m, f, len);
    CHECK_EQ(vt_used_idx(&n.q[0]), 3);
    hv_mem_read(n.m, g[0], hdr, HDR);
    CHECK_EQ(hv_ld_le(hdr + VIRTIO_NET_HDR_NUM_BUFFERS, 2), 3);
    CHECK_EQ(hdr[0] | hdr[1], 0);
    CHECK(mem_eq(n.m, g[0] + HDR, f, 500));
    CHECK(mem_eq(n.m, g[1], f + 500, 512));
    CHECK(mem_eq(n.m, g[2], f + 1012, len - 1012));
    vt_used_elem(&n.q[0], 0, &id, &ulen);
    CHECK_EQ(id, 0);
    CHECK_EQ(ulen, 512);
    vt_used_elem(&n.q[0], 1, &id, &ulen);
    CHECK_EQ(id, 1);
    CHECK_EQ(ulen, 512);
    vt_used_elem(&n.q[0], 2, &id, &ulen);
    CHECK_EQ(id, 2);
    CHECK_EQ(ulen, len - 1012);
    /* not enough buffers: all given back, frame dropped */
    rx_post(&n, 0, 512, 1, &g[3]);
    rx_post(&n, 0, 256, 1, &g[4]);
    hv_machine_rx_inject(n.m, f, len);
    CHECK_EQ(vt_used_idx(&n.q[0]), 3);
    /* a small frame takes one chain, num_buffers 1, from the first one */
    len = frame_to(f, our_mac, 10);
    hv_machine_rx_inject(n.m, f, len);
    CHECK_EQ(vt_used_idx(&n.q[0]), 4);
    vt_used_elem(&n.q[0], 3, &id, &ulen);
    CHECK_EQ(id, 3);
    CHECK_EQ(ulen, HDR + len);
    hv_mem_read(n.m, g[3], hdr, HDR);
    CHECK_EQ(hv_ld_le(hdr + VIRTIO_NET_HDR_NUM_BUFFERS, 2), 1);
    virtio_net_get_stats(n.d, &st);
    CHECK_EQ(st.rx_frames, 2);
    CHECK_EQ(st.rx_dropped, 1);
    /* the interrupt: INTx (MSI-X off) and ISR bit 0 */
    CHECK_EQ(hv_bus_mmio_read(n.m, VT_ISR, 1), VIRTIO_PCI_ISR_QUEUE);
    hv_machine_destroy(n.m);
}

/* ---- control queue ------------------------------------------------------ */

static uint16_t ctrl_head;

/* One command; returns the ack byte (0xee: not answered). */
static uint8_t ctrl(struct net *n, uint8_t cls, uint8_t cmd, const void *d,
                    uint32_t len)
{
    uint8_t h[2] = {cls, cmd};
    struct seg s[3] = {{h, 2, false}, {d, len, false}, {NULL, 1, true}};
    uint64_t g[3];
    struct vt_queue *vq = &n->q[n->ctrl];
    uint16_t before = vt_used_idx(vq);

    if (len)
        submit(n, n->ctrl, ctrl_head, s, 3, g);
    else {
        s[1] = s[2];
        submit(n, n->ctrl, ctrl_head, s, 2, g);
        g[2] = g[1];
    }
    ctrl_head = (uint16_t)((ctrl_head + 3) % vq->size);
    vt_kick(vq);
    if (vt_used_idx(vq) != (uint16_t)(before + 1))
        return 0xee;
    return (uint8_t)vt_get(n->m, g[2], 1);
}

static uint8_t ctrl_u8(struct net *n, uint8_t cls, uint8_t cmd, uint8_t v)
{
    return ctrl(n, cls, cmd, &v, 1);
}

static uint8_t ctrl_u16(struct net *n, uint8_t cls, uint8_t cmd, uint16_t v)
{
    uint8_t b[2];

    hv_st_le(b, 2, v);
    return ctrl(n, cls, cmd, b, 2);
}

/* Inject a frame for `dst`; true if it reached the RX ring. */
static bool rx_gets(struct net *n, const uint8_t *dst, int vid)
{
    uint8_t f[200], t[200];
    size_t len = frame_to(f, dst, 20);
    uint16_t before = vt_used_idx(&n->q[0]);

    if (vid >= 0) { /* insert an 802.1Q tag */
        memcpy(t, f, 12);
        t[12] = 0x81;
        t[13] = 0x00;
        t[14] = (uint8_t)(vid >> 8);
        t[15] = (uint8_t)vid;
        memcpy(t + 16, f + 12, len - 12);
        memcpy(f, t, len + 4);
        len += 4;
    }
    rx_post(n, 0, 256, 1, NULL);
    hv_machine_rx_inject(n->m, f, len);
    return vt_used_idx(&n->q[0]) != before;
}

static uint8_t mac_table(struct net *n, const uint8_t *uni, uint32_t nuni,
                         const uint8_t *multi, uint32_t nmulti)
{
    uint8_t buf[8 + 70 * 6 * 2];
    size_t o = 0;

    hv_st_le(buf, 4, nuni);
    o = 4;
    for (uint32_t i = 0; i < nuni; i++, o += 6)
        memcpy(buf + o, uni + 6 * (i % 2), 6);
    hv_st_le(buf + o, 4, nmulti);
    o += 4;
    for (uint32_t i = 0; i < nmulti; i++, o += 6)
        memcpy(buf + o, multi, 6);
    return ctrl(n, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, buf,
                (uint32_t)o);
}

static void test_ctrl_rx_filter(void)
{
    struct net n;
    uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    uint8_t mcast2[6] = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};
    uint8_t unis[12];

    memcpy(unis, other_mac, 6);
    memcpy(unis + 6, peer_mac, 6);
    net_machine(&n, NULL);
    rx_head = ctrl_head = 0;
    CHECK(net_init(&n, NO_MRG) & VIRTIO_STATUS_FEATURES_OK);
    /* after reset the device is promiscuous (QEMU) */
    CHECK(rx_gets(&n, other_mac, -1));
    CHECK_EQ(ctrl_u8(&n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0),
             VIRTIO_NET_OK);
    CHECK(!rx_gets(&n, other_mac, -1));
    CHECK(rx_gets(&n, our_mac, -1));
    CHECK(rx_gets(&n, bcast, -1));
    CHECK(!rx_gets(&n, mcast, -1));
    /* rx mode commands */
    CHECK_EQ(ctrl_u8(&n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, 1),
             VIRTIO_NET_OK);
    CHECK(rx_gets(&n, mcast, -1));
    CHECK_EQ(ctrl_u8(&n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOMULTI, 1),
             VIRTIO_NET_OK);
    CHECK(!rx_gets(&n, mcast, -1));
    CHECK_EQ(ctrl_u8(&n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, 1),
             VIRTIO_NET_OK);
    CHECK(!rx_gets(&n, bcast, -1));
    CHECK_EQ(ctrl_u8(&n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLUNI, 1),
             VIRTIO_NET_OK);
    CHECK(rx_gets(&n, other_mac, -1));
    CHECK_EQ(ctrl_u8(&n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOUNI, 1),
             VIRTIO_NET_OK);
    CHECK(!rx_gets(&n, our_mac, -1));
    CHECK_EQ(ctrl_u8(&n, VIRTIO_NET_CTRL_RX, 6, 1), VIRTIO_NET_ERR);
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, NULL, 0),
             VIRTIO_NET_ERR);
    for (uint8_t c = VIRTIO_NET_CTRL_RX_ALLMULTI; c <= VIRTIO_NET_CTRL_RX_NOBCAST; c++)
        CHECK_EQ(ctrl_u8(&n, VIRTIO_NET_CTRL_RX, c, 0), VIRTIO_NET_OK);
    /* MAC table: one unicast, one multicast */
    CHECK_EQ(mac_table(&n, unis, 1, mcast2, 1), VIRTIO_NET_OK);
    CHECK(rx_gets(&n, other_mac, -1));
    CHECK(!rx_gets(&n, peer_mac, -1));
    CHECK(rx_gets(&n, mcast2, -1));
    CHECK(!rx_gets(&n, mcast, -1));
    /* overflowing tables: that kind is accepted wholesale */
    CHECK_EQ(mac_table(&n, unis, 65, mcast2, 0), VIRTIO_NET_OK);
    CHECK(rx_gets(&n, peer_mac, -1));
    CHECK(!rx_gets(&n, mcast2, -1));
    CHECK_EQ(mac_table(&n, unis, 2, mcast, 63), VIRTIO_NET_OK);
    CHECK(rx_gets(&n, mcast2, -1));
    /* malformed: counts past the data, trailing bytes; table unchanged */
    {
        uint8_t bad[16] = {2, 0, 0, 0};

        CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_MAC, 0, bad, 14), VIRTIO_NET_ERR);
        bad[0] = 1; /* 1 unicast, 0 multicast, then a stray byte */
        CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_MAC, 0, bad, 15), VIRTIO_NET_ERR);
        CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_MAC, 0, bad, 3), VIRTIO_NET_ERR);
        CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_MAC, 0, bad, 10), VIRTIO_NET_ERR);
        CHECK(rx_gets(&n, mcast2, -1));
    }
    /* MAC address */
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
                  other_mac, 6), VIRTIO_NET_OK);
    CHECK_EQ(hv_bus_mmio_read(n.m, VT_DEVCFG + 4, 2), 0x9900u);
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
                  other_mac, 5), VIRTIO_NET_ERR);
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_MAC, 2, other_mac, 6), VIRTIO_NET_ERR);
    CHECK_EQ(mac_table(&n, unis, 0, mcast, 0), VIRTIO_NET_OK);
    CHECK(rx_gets(&n, other_mac, -1));
    CHECK(!rx_gets(&n, our_mac, -1));
    /* VLAN filter (CTRL_VLAN negotiated: tagged frames need their VID) */
    CHECK(!rx_gets(&n, other_mac, 5));
    CHECK_EQ(ctrl_u16(&n, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, 5),
             VIRTIO_NET_OK);
    CHECK(rx_gets(&n, other_mac, 5));
    CHECK(!rx_gets(&n, other_mac, 6));
    CHECK_EQ(ctrl_u16(&n, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_DEL, 5),
             VIRTIO_NET_OK);
    CHECK(!rx_gets(&n, other_mac, 5));
    CHECK_EQ(ctrl_u16(&n, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, 4096),
             VIRTIO_NET_ERR);
    CHECK_EQ(ctrl_u16(&n, VIRTIO_NET_CTRL_VLAN, 2, 5), VIRTIO_NET_ERR);
    CHECK_EQ(ctrl_u8(&n, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, 5),
             VIRTIO_NET_ERR);
    /* device reset: QEMU's defaults again (promiscuous, configured MAC) */
    net_init(&n, NO_MRG);
    rx_head = ctrl_head = 0;
    CHECK_EQ(hv_bus_mmio_read(n.m, VT_DEVCFG + 4, 2), 0x5634u);
    CHECK(rx_gets(&n, peer_mac, 7));
    hv_machine_destroy(n.m);
}

static void test_ctrl_misc(void)
{
    struct net n;
    uint8_t off[8] = {0};

    net_machine(&n, NULL);
    ctrl_head = 0;
    CHECK(net_init(&n, LINUX_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
    /* announce: ERR unless one is pending */
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_ANNOUNCE, 0, NULL, 0), VIRTIO_NET_ERR);
    hv_bus_mmio_read(n.m, VT_ISR, 1);
    virtio_net_announce(n.d);
    CHECK_EQ(hv_bus_mmio_read(n.m, VT_DEVCFG + 6, 2),
             VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE);
    CHECK(hv_bus_mmio_read(n.m, VT_ISR, 1) & VIRTIO_PCI_ISR_CONFIG);
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_ANNOUNCE, 1, NULL, 0), VIRTIO_NET_ERR);
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_ANNOUNCE, 0, NULL, 0), VIRTIO_NET_OK);
    CHECK_EQ(hv_bus_mmio_read(n.m, VT_DEVCFG + 6, 2), VIRTIO_NET_S_LINK_UP);
    /* MQ not negotiated; guest offloads need a vnet-header backend */
    CHECK_EQ(ctrl_u16(&n, VIRTIO_NET_CTRL_MQ, 0, 1), VIRTIO_NET_ERR);
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, off, 8), VIRTIO_NET_ERR);
    CHECK_EQ(ctrl_u8(&n, 6, 0, 0), VIRTIO_NET_ERR);
    CHECK_EQ(ctrl_u8(&n, 0xff, 0xff, 0), VIRTIO_NET_ERR);
    /* oversized command data */
    {
        static uint8_t big[VIRTIO_NET_CTRL_MAX_DATA + 1];
        CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_RX, 0, big, sizeof(big)), VIRTIO_NET_ERR);
    }
    /* no ack byte: device error */
    {
        uint8_t h[2] = {0, 0};
        struct seg s = {h, 2, false};

        submit(&n, n.ctrl, ctrl_head, &s, 1, NULL);
        vt_kick(&n.q[n.ctrl]);
        CHECK(vt_status(n.m) & VIRTIO_STATUS_NEEDS_RESET);
    }
    hv_machine_destroy(n.m);

    /* with a vnet-header backend: GUEST_CSUM may be toggled */
    struct virtio_net_params p = {.offloads = true};
    net_machine(&n, &p);
    ctrl_head = 0;
    CHECK(net_init(&n, LINUX_FEATURES | F(VIRTIO_NET_F_GUEST_CSUM)) &
          VIRTIO_STATUS_FEATURES_OK);
    off[0] = 1u << VIRTIO_NET_F_GUEST_CSUM;
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, off, 8), VIRTIO_NET_OK);
    off[0] = 1u << VIRTIO_NET_F_GUEST_TSO4;
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, off, 8), VIRTIO_NET_ERR);
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_GUEST_OFFLOADS, 1, off, 8), VIRTIO_NET_ERR);
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, off, 4), VIRTIO_NET_ERR);
    hv_machine_destroy(n.m);
}

/* ---- multiqueue ----------------------------------------------------------- */

static void test_mq(void)
{
    struct net n;
    struct virtio_net_params p = {.max_pairs = 2};
    uint8_t hdr[HDR] = {0}, f[200];
    size_t len;
    uint16_t rx0, rx1;

    net_machine(&n, &p);
    tx_head = ctrl_head = 0;
    CHECK(net_init(&n, NO_MRG | F(VIRTIO_NET_F_MQ)) & VIRTIO_STATUS_FEATURES_OK);
    CHECK_EQ(n.nq, 5);
    CHECK_EQ(n.q[4].size, 64);
    CHECK_EQ(virtio_net_curr_pairs(n.d), 1);
    CHECK_EQ(ctrl_u16(&n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 3),
             VIRTIO_NET_ERR);
    CHECK_EQ(ctrl_u16(&n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 0),
             VIRTIO_NET_ERR);
    CHECK_EQ(ctrl_u16(&n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, 2),
             VIRTIO_NET_ERR);
    CHECK_EQ(ctrl_u8(&n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2),
             VIRTIO_NET_ERR);
    CHECK_EQ(ctrl_u16(&n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2),
             VIRTIO_NET_OK);
    CHECK_EQ(virtio_net_curr_pairs(n.d), 2);
    /* buffers on both RX queues */
    rx_head = 0;
    for (int i = 0; i < 8; i++)
        rx_post(&n, 0, 256, 1, NULL);
    rx_head = 0;
    for (int i = 0; i < 8; i++)
        rx_post(&n, 2, 256, 1, NULL);
    /* flows that transmitted on pair 1 (txq 3) come back on rxq 2, flows of
     * pair 0 (txq 1) on rxq 0, whatever their hash says */
    for (uint16_t port = 1000; port < 1004; port++) {
        uint16_t pair = port & 1;

        len = udp_frame(f, peer_mac, our_mac, 0x0a00020fu, 0x0a000202u, port,
                        53, 30);
        tx(&n, (uint16_t)(2 * pair + 1), hdr, HDR, f, len);
        rx0 = vt_used_idx(&n.q[0]);
        rx1 = vt_used_idx(&n.q[2]);
        len = udp_frame(f, our_mac, peer_mac, 0x0a000202u, 0x0a00020fu, 53,
                        port, 30);
        hv_machine_rx_inject(n.m, f, len);
        CHECK_EQ(vt_used_idx(&n.q[0]) - rx0, pair == 0);
        CHECK_EQ(vt_used_idx(&n.q[2]) - rx1, pair == 1);
    }
    /* back to one pair: everything on rxq 0 */
    CHECK_EQ(ctrl_u16(&n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 1),
             VIRTIO_NET_OK);
    rx1 = vt_used_idx(&n.q[2]);
    hv_machine_rx_inject(n.m, f, len);
    CHECK_EQ(vt_used_idx(&n.q[2]), rx1);
    CHECK_EQ(sink_frames(&n), 4);
    hv_machine_destroy(n.m);
}

/* Before DRIVER_OK, with bus mastering off or the RX queue not set up,
 * frames are dropped without touching memory. */
static void test_rx_not_ready(void)
{
    struct net n;
    uint8_t f[100];
    size_t len = frame_to(f, our_mac, 10);
    struct virtio_net_stats st;

    net_machine(&n, NULL);
    CHECK(hv_machine_rx_inject(n.m, f, len) == n.d);
    net_init(&n, LINUX_FEATURES);
    hv_bus_cfg_write(n.m, VT_BDF, HV_PCI_COMMAND, 2, HV_PCI_CMD_MEM);
    hv_machine_rx_inject(n.m, f, len);
    hv_machine_rx_inject(n.m, f, 0);
    virtio_net_get_stats(n.d, &st);
    CHECK_EQ(st.rx_dropped, 3);
    CHECK_EQ(st.rx_frames, 0);
    hv_machine_destroy(n.m);
}

/* Snapshots (initialized variants, VM mode): the whole state comes back,
 * the device keeps working from it, the sink is emptied. */
static void test_snapshot(void)
{
    struct net n;
    struct hv_snapshot *snap;
    uint8_t hdr[HDR] = {0}, f[200];
    size_t len = frame_to(f, peer_mac, 30);

    net_machine(&n, NULL);
    rx_head = ctrl_head = tx_head = 0;
    CHECK(net_init(&n, NO_MRG) & VIRTIO_STATUS_FEATURES_OK);
    CHECK_EQ(ctrl_u8(&n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0),
             VIRTIO_NET_OK);
    tx(&n, 1, hdr, HDR, f, len);
    snap = hv_machine_snapshot(n.m);
    CHECK(snap != NULL);
    if (!snap) {
        hv_machine_destroy(n.m);
        return;
    }
    CHECK_EQ(ctrl_u8(&n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1),
             VIRTIO_NET_OK);
    CHECK_EQ(ctrl(&n, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
                  other_mac, 6), VIRTIO_NET_OK);
    hv_machine_restore(n.m, snap);
    CHECK_EQ(hv_bus_mmio_read(n.m, VT_DEVCFG + 4, 2), 0x5634u);
    CHECK_EQ(sink_frames(&n), 0);
    ctrl_head = 3; /* the driver's view as of the snapshot */
    n.q[n.ctrl].avail_idx = 1;
    CHECK(!rx_gets(&n, other_mac, -1)); /* not promiscuous: as snapshotted */
    CHECK(rx_gets(&n, our_mac, -1));
    tx_head = 2;
    n.q[1].avail_idx = 1;
    tx(&n, 1, hdr, HDR, f, len);
    CHECK_EQ(sink_frames(&n), 1);
    CHECK_EQ(vt_used_idx(&n.q[1]), 2);
    hv_snapshot_free(snap);
    hv_machine_destroy(n.m);
}

/* A legacy driver (no VERSION_1, no CTRL_MAC_ADDR) may write the MAC in
 * the configuration space; a modern one may not (QEMU). */
static void test_config_mac(void)
{
    struct net n;

    net_machine(&n, NULL);
    net_init(&n, LINUX_FEATURES);
    hv_bus_mmio_write(n.m, VT_DEVCFG + 5, 1, 0x99);
    CHECK_EQ(hv_bus_mmio_read(n.m, VT_DEVCFG + 4, 2), 0x5634u);
    vt_cw(n.m, VIRTIO_PCI_COMMON_STATUS, 1, 0);
    hv_bus_pio_write(n.m, VT_BAR0 + VIRTIO_PCI_LEGACY_GUEST_FEATURES, 4,
                     F(VIRTIO_NET_F_MAC));
    hv_bus_pio_write(n.m, VT_BAR0 + 0x14 + 5, 1, 0x99);
    CHECK_EQ(hv_bus_pio_read(n.m, VT_BAR0 + 0x14 + 4, 2), 0x9934u);
    hv_machine_destroy(n.m);
}

int main(void)
{
    test_identity();
    test_features();
    test_tx();
    test_tx_csum();
    test_rx_single();
    test_rx_mergeable();
    test_ctrl_rx_filter();
    test_ctrl_misc();
    test_mq();
    test_rx_not_ready();
    test_snapshot();
    test_config_mac();
    return hv_test_done("test_virtio_net");
}
