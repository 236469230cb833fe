/*
 * virtio-net device model: virtio 1.2 section 5.1 (5.1.3 feature bits,
 * 5.1.4 device configuration layout, 5.1.5 initialization, 5.1.6 device
 * operation: 5.1.6.2 packet transmission, 5.1.6.3/5.1.6.4 receiving
 * packets with and without mergeable buffers, 5.1.6.5 the control
 * virtqueue: RX mode, MAC table and address, VLAN filter, announcement,
 * multiqueue with automatic receive steering, guest offloads), plugged into
 * the virtio-pci transport (virtio_pci.c) with split virtqueues
 * (virtqueue.c), sending to a struct hv_net backend and receiving frames
 * through the hv_dev `rx` op. Queues: RX of pair i is 2i, TX 2i + 1, the
 * control queue 2 * max_pairs.
 *
 * Register-level behaviour and answers follow QEMU 7.2's hw/net/virtio-net.c
 * with a backend that has no vnet header (what the reference trace ran):
 *  - TX: a chain without readable bytes or with fewer than the header size
 *    is a device error ("header not in first element" / "header
 *    incorrect"); with the link down every chain completes unsent. Used
 *    length 0.
 *  - RX: a chain without writable segments is a device error; a frame that
 *    does not fit a non-mergeable buffer is dropped and the buffer given
 *    back (QEMU's virtqueue_unpop); with MRG_RXBUF, chains are taken until
 *    the frame fits and num_buffers says how many, or, when the ring runs
 *    out first, all are given back and the frame dropped (QEMU keeps it
 *    queued until the next kick; frames are not queued here).
 *  - Control commands answer as QEMU does, command by command (including
 *    what it does not check: CTRL_RX / CTRL_VLAN / CTRL_MAC_ADDR need not
 *    be negotiated); a chain with fewer than 2 readable or no writable
 *    bytes is a device error ("ctrl missing headers"). The ack goes to the
 *    first writable byte, used length 1.
 * Deliberate differences (this model has no vnet-header backend to pass
 * the header to):
 *  - TX header: GSO types are always rejected (HOST_TSO4/6/UFO are never
 *    offered) and NEEDS_CSUM without CSUM negotiated too: the frame is
 *    dropped (counted), the chain completes. With CSUM (params.offloads)
 *    the checksum is computed as 5.1.6.2 describes. QEMU ignores the
 *    header for such a backend and sends the frame as it is.
 *  - RX header: num_buffers is 1 without MRG_RXBUF (5.1.6.4); QEMU leaves
 *    those two bytes unwritten. Flags and GSO fields are 0.
 *  - Frames shorter than an Ethernet header are dropped unless promiscuous
 *    (QEMU's filter reads past them).
 *  - Control commands longer than VIRTIO_NET_CTRL_MAX_DATA bytes get ERR.
 * The transport's hv_dev_ops has no `rx`: each device keeps a copy of it
 * with `rx` added, and `pio_read` wrapped so that the legacy HOST_FEATURES
 * register also shows QEMU's legacy-only VIRTIO_NET_F_GSO (the copy lives
 * in the state struct, so snapshots keep it as it is; reads through the
 * PCI_CFG capability window bypass it and miss that bit). Chains taken for
 * a frame that is not delivered go back with virtq_unpop().
 *
 * Loop bounds: chains per kick and per frame <= queue size; segments per
 * chain <= element capacity (virtq_pop); MAC table entries <= 64; checksum
 * bytes <= frame length <= HV_NET_MAX_FRAME.
 */
#include "targets/virtio/virtio_net.h"

#include <stdlib.h>
#include <string.h>

#include "targets/virtio/virtio_net_regs.h"
#include "targets/virtio/virtio_pci.h"
#include "targets/virtio/virtio_regs.h"

/* QEMU 7.2's offer for a backend without vnet header (the trace). */
#define NET_FEATURES                                                           \
    ((1ull << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | (1ull << VIRTIO_NET_F_MAC) | \
     (1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_NET_F_STATUS) |        \
     (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_CTRL_RX) |         \
     (1ull << VIRTIO_NET_F_CTRL_VLAN) | (1ull << VIRTIO_NET_F_CTRL_RX_EXTRA) | \
     (1ull << VIRTIO_NET_F_GUEST_ANNOUNCE) |                                   \
     (1ull << VIRTIO_NET_F_CTRL_MAC_ADDR))
#define OFFLOAD_FEATURES                                                       \
    ((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM))
/* Guest offloads GUEST_OFFLOADS_SET may turn on (QEMU's mask, of which
 * only GUEST_CSUM is ever offered here). */
#define GUEST_OFFLOAD_MASK                                                     \
    ((1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VIRTIO_NET_F_GUEST_TSO4) |   \
     (1ull << VIRTIO_NET_F_GUEST_TSO6) | (1ull << VIRTIO_NET_F_GUEST_ECN) |    \
     (1ull << VIRTIO_NET_F_GUEST_UFO))
#define ROM_SIZE 0x40000u /* QEMU's efi-virtio.rom BAR */
/* QEMU lists the deprecated VIRTIO_NET_F_GSO (bit 6) among virtio-net's
 * legacy features: the legacy HOST_FEATURES register shows it, the modern
 * device_feature does not. */
#define VIRTIO_NET_F_GSO_LEGACY 6

#define ETH_HLEN 14u
#define ETH_P_IP 0x0800u
#define ETH_P_IPV6 0x86ddu
#define ETH_P_8021Q 0x8100u
#define IPPROTO_TCP 6u
#define IPPROTO_UDP 17u

struct vnet_mac_table {
    uint8_t macs[VIRTIO_NET_MAC_TABLE_ENTRIES][VIRTIO_NET_ETH_ALEN];
    uint32_t in_use;      /* entries used: unicast [0, first_multi) */
    uint32_t first_multi; /* then multicast [first_multi, in_use) */
    bool uni_overflow, multi_overflow;
};

/* Automatic receive steering: the pair a flow last transmitted on. */
struct vnet_flow {
    uint32_t hash;
    uint16_t pair;
    bool valid;
};

/* One chain taken for a mergeable frame. */
struct rx_used {
    uint16_t head;
    uint32_t len;
};

struct virtio_net {
    struct virtio_pci vp; /* first: hv_dev, transport and model share it */
    struct hv_dev_ops ops; /* the transport's, plus rx and pio_read */
    const struct hv_dev_ops *base_ops; /* the transport's own table */
    struct hv_net *net;
    /* configuration (fixed at creation) */
    uint8_t conf_mac[VIRTIO_NET_ETH_ALEN];
    uint16_t max_pairs;
    uint16_t mtu;
    bool offloads;
    /* device state (reset) */
    uint8_t mac[VIRTIO_NET_ETH_ALEN];
    uint16_t status; /* config status: LINK_UP, ANNOUNCE */
    uint16_t curr_pairs;
    uint64_t guest_offloads;
    bool promisc, allmulti, alluni, nomulti, nouni, nobcast;
    struct vnet_mac_table mt;
    uint32_t vlans[VIRTIO_NET_MAX_VLAN / 32];
    struct vnet_flow flows[VIRTIO_NET_FLOWS];
    struct virtio_net_stats stats;
    /* scratch, heap, exact sizes */
    uint8_t *frame;          /* HV_NET_MAX_FRAME bytes: TX bounce buffer */
    struct virtq_elem elem;  /* the chain in progress (first of a frame) */
    struct virtq_elem elem2; /* further chains of a mergeable frame */
    struct rx_used *rxu;     /* queue size entries */
};

static struct virtio_net *to_net(struct virtio_pci *vp)
{
    return (struct virtio_net *)vp;
}

static struct virtio_net *dev_net(hv_dev *dev)
{
    return (struct virtio_net *)dev;
}

static bool has(const struct virtio_net *n, unsigned bit)
{
    return virtio_pci_has_feature(&n->vp, bit);
}

static uint16_t ctrl_queue(const struct virtio_net *n)
{
    return (uint16_t)(2u * n->max_pairs);
}

/* 5.1.6: 12 bytes with VERSION_1 or MRG_RXBUF, else the legacy 10. */
static unsigned hdr_len(const struct virtio_net *n)
{
    return has(n, VIRTIO_F_VERSION_1) || has(n, VIRTIO_NET_F_MRG_RXBUF)
               ? VIRTIO_NET_HDR_LEN
               : VIRTIO_NET_HDR_LEN_LEGACY;
}

static uint16_t ld_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void notify_used(struct virtio_net *n, struct virtq *vq, uint16_t q)
{
    if (virtq_should_notify(vq))
        virtio_pci_notify_queue(&n->vp, q);
}

/* ---- configuration (5.1.4) ------------------------------------------------ */

static void net_get_config(struct virtio_pci *vp, uint8_t *c)
{
    struct virtio_net *n = to_net(vp);

    memset(c, 0, vp->p.config_len);
    memcpy(c + VIRTIO_NET_CFG_MAC, n->mac, VIRTIO_NET_ETH_ALEN);
    hv_st_le(c + VIRTIO_NET_CFG_STATUS, 2, n->status);
    if (vp->p.config_len >= VIRTIO_NET_CFG_LEN_MQ)
        hv_st_le(c + VIRTIO_NET_CFG_MAX_VQ_PAIRS, 2, n->max_pairs);
    if (vp->p.config_len >= VIRTIO_NET_CFG_LEN_MTU)
        hv_st_le(c + VIRTIO_NET_CFG_MTU, 2, n->mtu);
}

/* 5.1.4.2 (legacy): only a legacy driver without CTRL_MAC_ADDR may change
 * the MAC through the configuration space (as QEMU). */
static void net_set_config(struct virtio_pci *vp, const uint8_t *c)
{
    struct virtio_net *n = to_net(vp);

    if (!has(n, VIRTIO_NET_F_CTRL_MAC_ADDR) && !has(n, VIRTIO_F_VERSION_1))
        memcpy(n->mac, c + VIRTIO_NET_CFG_MAC, VIRTIO_NET_ETH_ALEN);
}

/* ---- automatic receive steering (5.1.6.5.5) ------------------------------- */

static uint32_t mix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    return h;
}

static uint32_t fold(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;

    for (unsigned i = 0; i + 4 <= n; i += 4)
        v ^= hv_ld_le(p + i, 4);
    return v;
}

/* Ports of a TCP/UDP header at `l4` (0 if absent), xor-ed. */
static uint32_t l4_ports(const uint8_t *f, size_t len, size_t l4, unsigned proto)
{
    if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || l4 + 4 > len)
        return 0;
    return (uint32_t)(ld_be16(f + l4) ^ ld_be16(f + l4 + 2));
}

/* A hash that is the same for both directions of a flow (addresses and
 * ports are xor-ed), 0 for what is not IPv4/IPv6. */
static uint32_t flow_hash(const uint8_t *f, size_t len)
{
    size_t l3 = ETH_HLEN;
    uint16_t type;

    if (len < ETH_HLEN)
        return 0;
    type = ld_be16(f + 12);
    if (type == ETH_P_8021Q && len >= ETH_HLEN + 4) {
        type = ld_be16(f + 16);
        l3 += 4;
    }
    if (type == ETH_P_IP && len >= l3 + 20) {
        size_t ihl = (size_t)(f[l3] & 0xf) * 4;
        bool frag = (ld_be16(f + l3 + 6) & 0x3fff) != 0;
        uint32_t ports = frag ? 0 : l4_ports(f, len, l3 + ihl, f[l3 + 9]);

        return mix32(fold(f + l3 + 12, 8) ^ mix32(f[l3 + 9] << 16 ^ ports));
    }
    if (type == ETH_P_IPV6 && len >= l3 + 40) {
        uint32_t ports = l4_ports(f, len, l3 + 40, f[l3 + 6]);

        return mix32(fold(f + l3 + 8, 32) ^ mix32(f[l3 + 6] << 16 ^ ports));
    }
    return 0;
}

static void flow_learn(struct virtio_net *n, uint16_t pair, const uint8_t *f,
                       size_t len)
{
    uint32_t h = flow_hash(f, len);
    struct vnet_flow *fl = &n->flows[h % VIRTIO_NET_FLOWS];

    if (n->curr_pairs <= 1 || h == 0)
        return;
    fl->hash = h;
    fl->pair = pair;
    fl->valid = true;
}

/* The pair a received frame goes to: where its flow last transmitted,
 * else spread by its hash over the pairs in use. */
static uint16_t rx_steer(const struct virtio_net *n, const uint8_t *f,
                         size_t len)
{
    uint32_t h;
    const struct vnet_flow *fl;

    if (n->curr_pairs <= 1)
        return 0;
    h = flow_hash(f, len);
    fl = &n->flows[h % VIRTIO_NET_FLOWS];
    if (fl->valid && fl->hash == h && fl->pair < n->curr_pairs)
        return fl->pair;
    return (uint16_t)(h % n->curr_pairs);
}

/* ---- transmit (5.1.6.2) --------------------------------------------------- */

static uint16_t inet_csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)ld_be16(p + i);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Honour the header per the negotiated features; false: reject. */
static bool tx_offload(const struct virtio_net *n, const uint8_t *hdr,
                       uint8_t *f, size_t len)
{
    uint32_t start = hv_ld_le(hdr + VIRTIO_NET_HDR_CSUM_START, 2);
    uint32_t off = hv_ld_le(hdr + VIRTIO_NET_HDR_CSUM_OFFSET, 2);
    uint16_t c;

    if (hdr[VIRTIO_NET_HDR_GSO_TYPE] != VIRTIO_NET_HDR_GSO_NONE)
        return false; /* no HOST_TSO4/TSO6/UFO/ECN offered */
    if (!(hdr[VIRTIO_NET_HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM))
        return true;
    if (!has(n, VIRTIO_NET_F_CSUM) || (size_t)start + off + 2 > len)
        return false;
    c = inet_csum(f + start, len - start);
    f[start + off] = (uint8_t)(c >> 8);
    f[start + off + 1] = (uint8_t)c;
    return true;
}

static void tx_drop(struct virtio_net *n, uint16_t q, const char *why)
{
    n->stats.tx_dropped++;
    hv_trace(n->vp.dev.machine, "virtio-net txq%u drop: %s", q, why);
}

/* One TX chain; false on a device error. */
static bool tx_one(struct virtio_net *n, uint16_t q, struct virtq *vq)
{
    const struct virtq_elem *e = &n->elem;
    uint8_t hdr[VIRTIO_NET_HDR_LEN];
    unsigned hl = hdr_len(n);
    uint64_t len;

    if (!(n->status & VIRTIO_NET_S_LINK_UP)) {
        tx_drop(n, q, "link down");
        return true;
    }
    if (e->nread == 0 || e->read_len < hl) {
        virtq_set_error(vq, e->nread ? "virtio-net header incorrect"
                                     : "virtio-net header not in first element");
        return false;
    }
    len = e->read_len - hl;
    if (len == 0 || len > HV_NET_MAX_FRAME) {
        tx_drop(n, q, len ? "frame too long" : "empty frame");
        return true;
    }
    if (virtq_elem_read(vq, e, 0, hdr, hl) ||
        virtq_elem_read(vq, e, hl, n->frame, (size_t)len)) {
        virtq_set_error(vq, "virtio-net TX buffer DMA failed");
        return false;
    }
    if (hl < VIRTIO_NET_HDR_LEN)
        memset(hdr + hl, 0, VIRTIO_NET_HDR_LEN - hl);
    if (!tx_offload(n, hdr, n->frame, (size_t)len)) {
        tx_drop(n, q, "offload not negotiated or out of the frame");
        return true;
    }
    flow_learn(n, q / 2, n->frame, (size_t)len);
    hv_trace(n->vp.dev.machine, "virtio-net txq%u frame len=%llu", q,
             (unsigned long long)len);
    if (hv_net_tx(n->net, n->frame, (size_t)len))
        n->stats.tx_dropped++;
    else
        n->stats.tx_frames++;
    return true;
}

static void tx_kick(struct virtio_net *n, uint16_t q, struct virtq *vq)
{
    for (uint32_t i = 0; i < vq->size; i++) {
        if (virtq_pop(vq, &n->elem) <= 0 || !tx_one(n, q, vq))
            break;
        if (virtq_push(vq, &n->elem, 0) < 0)
            break;
        notify_used(n, vq, q);
    }
}

/* ---- control virtqueue (5.1.6.5) ------------------------------------------ */

static uint8_t ctrl_rx_mode(struct virtio_net *n, uint8_t cmd,
                            const uint8_t *d, size_t len)
{
    bool on;

    if (len < 1)
        return VIRTIO_NET_ERR;
    on = d[0] != 0;
    switch (cmd) {
    case VIRTIO_NET_CTRL_RX_PROMISC: n->promisc = on; break;
    case VIRTIO_NET_CTRL_RX_ALLMULTI: n->allmulti = on; break;
    case VIRTIO_NET_CTRL_RX_ALLUNI: n->alluni = on; break;
    case VIRTIO_NET_CTRL_RX_NOMULTI: n->nomulti = on; break;
    case VIRTIO_NET_CTRL_RX_NOUNI: n->nouni = on; break;
    case VIRTIO_NET_CTRL_RX_NOBCAST: n->nobcast = on; break;
    default: return VIRTIO_NET_ERR;
    }
    return VIRTIO_NET_OK;
}

/* One table of a MAC_TABLE_SET: le32 entries, then entries * 6 bytes.
 * `exact`: the table must end the command. Entries that do not fit in
 * the table's `room` set *overflow instead. Returns the bytes it took, or
 * 0 when malformed. */
static size_t mac_table_part(struct vnet_mac_table *t, const uint8_t *d,
                             size_t len, bool exact, bool *overflow)
{
    uint64_t entries, bytes;
    uint32_t room = VIRTIO_NET_MAC_TABLE_ENTRIES - t->in_use;

    if (len < 4)
        return 0;
    entries = hv_ld_le(d, 4);
    bytes = entries * VIRTIO_NET_ETH_ALEN;
    if (bytes > len - 4 || (exact && bytes != len - 4))
        return 0;
    if (entries <= room) {
        memcpy(t->macs[t->in_use], d + 4, (size_t)bytes);
        t->in_use += (uint32_t)entries;
    } else {
        *overflow = true;
    }
    return 4 + (size_t)bytes;
}

static uint8_t ctrl_mac_table(struct virtio_net *n, const uint8_t *d,
                              size_t len)
{
    struct vnet_mac_table t;
    size_t used;

    memset(&t, 0, sizeof(t));
    used = mac_table_part(&t, d, len, false, &t.uni_overflow);
    if (used == 0)
        return VIRTIO_NET_ERR;
    t.first_multi = t.in_use;
    if (mac_table_part(&t, d + used, len - used, true, &t.multi_overflow) == 0)
        return VIRTIO_NET_ERR;
    n->mt = t; /* all or nothing */
    return VIRTIO_NET_OK;
}

static uint8_t ctrl_mac(struct virtio_net *n, uint8_t cmd, const uint8_t *d,
                        size_t len)
{
    if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET) {
        if (len != VIRTIO_NET_ETH_ALEN)
            return VIRTIO_NET_ERR;
        memcpy(n->mac, d, VIRTIO_NET_ETH_ALEN);
        return VIRTIO_NET_OK;
    }
    if (cmd != VIRTIO_NET_CTRL_MAC_TABLE_SET)
        return VIRTIO_NET_ERR;
    return ctrl_mac_table(n, d, len);
}

static uint8_t ctrl_vlan(struct virtio_net *n, uint8_t cmd, const uint8_t *d,
                         size_t len)
{
    uint32_t vid;

    if (len < 2)
        return VIRTIO_NET_ERR;
    vid = hv_ld_le(d, 2);
    if (vid >= VIRTIO_NET_MAX_VLAN)
        return VIRTIO_NET_ERR;
    if (cmd == VIRTIO_NET_CTRL_VLAN_ADD)
        n->vlans[vid / 32] |= 1u << (vid % 32);
    else if (cmd == VIRTIO_NET_CTRL_VLAN_DEL)
        n->vlans[vid / 32] &= ~(1u << (vid % 32));
    else
        return VIRTIO_NET_ERR;
    return VIRTIO_NET_OK;
}

static uint8_t ctrl_announce(struct virtio_net *n, uint8_t cmd)
{
    if (cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK ||
        !(n->status & VIRTIO_NET_S_ANNOUNCE))
        return VIRTIO_NET_ERR;
    n->status &= (uint16_t)~VIRTIO_NET_S_ANNOUNCE;
    return VIRTIO_NET_OK;
}

/* 5.1.6.5.5: RSS and hash configuration are not offered. */
static uint8_t ctrl_mq(struct virtio_net *n, uint8_t cmd, const uint8_t *d,
                       size_t len)
{
    uint32_t pairs;

    if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || !has(n, VIRTIO_NET_F_MQ) ||
        len < 2)
        return VIRTIO_NET_ERR;
    pairs = hv_ld_le(d, 2);
    if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN ||
        pairs > VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX || pairs > n->max_pairs)
        return VIRTIO_NET_ERR;
    n->curr_pairs = (uint16_t)pairs;
    memset(n->flows, 0, sizeof(n->flows));
    return VIRTIO_NET_OK;
}

/* 5.1.6.5.6.1; QEMU also refuses it without a vnet-header backend. */
static uint8_t ctrl_offloads(struct virtio_net *n, uint8_t cmd,
                             const uint8_t *d, size_t len)
{
    uint64_t off, supported;

    if (!has(n, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) || len < 8 ||
        cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET || !n->offloads)
        return VIRTIO_NET_ERR;
    off = hv_ld_le(d, 4) | (uint64_t)hv_ld_le(d + 4, 4) << 32;
    supported = n->vp.features & GUEST_OFFLOAD_MASK;
    if (off & ~supported)
        return VIRTIO_NET_ERR;
    n->guest_offloads = off;
    return VIRTIO_NET_OK;
}

static uint8_t ctrl_dispatch(struct virtio_net *n, uint8_t cls, uint8_t cmd,
                             const uint8_t *d, size_t len)
{
    switch (cls) {
    case VIRTIO_NET_CTRL_RX:
        return ctrl_rx_mode(n, cmd, d, len);
    case VIRTIO_NET_CTRL_MAC:
        return ctrl_mac(n, cmd, d, len);
    case VIRTIO_NET_CTRL_VLAN:
        return ctrl_vlan(n, cmd, d, len);
    case VIRTIO_NET_CTRL_ANNOUNCE:
        return ctrl_announce(n, cmd);
    case VIRTIO_NET_CTRL_MQ:
        return ctrl_mq(n, cmd, d, len);
    case VIRTIO_NET_CTRL_GUEST_OFFLOADS:
        return ctrl_offloads(n, cmd, d, len);
    default:
        return VIRTIO_NET_ERR;
    }
}

/* The command after its 2-byte header: read into a buffer of its exact
 * size, then executed. */
static uint8_t ctrl_run(struct virtio_net *n, struct virtq *vq,
                        const struct virtq_elem *e, const uint8_t *h,
                        uint64_t len)
{
    uint8_t ack, *d = NULL;

    if (len > VIRTIO_NET_CTRL_MAX_DATA)
        return VIRTIO_NET_ERR;
    if (len) {
        d = malloc((size_t)len);
        if (!d || virtq_elem_read(vq, e, VIRTIO_NET_CTRL_HDR_LEN, d, (size_t)len)) {
            free(d);
            return VIRTIO_NET_ERR;
        }
    }
    ack = ctrl_dispatch(n, h[0], h[1], d, (size_t)len);
    free(d);
    return ack;
}

static uint8_t ctrl_execute(struct virtio_net *n, struct virtq *vq,
                            const struct virtq_elem *e)
{
    uint8_t h[VIRTIO_NET_CTRL_HDR_LEN], ack;
    uint64_t len = e->read_len - VIRTIO_NET_CTRL_HDR_LEN;

    if (virtq_elem_read(vq, e, 0, h, sizeof(h)))
        return VIRTIO_NET_ERR;
    ack = ctrl_run(n, vq, e, h, len);
    hv_trace(n->vp.dev.machine, "virtio-net ctrl class=%u cmd=%u len=%llu ack=%u",
             h[0], h[1], (unsigned long long)len, ack);
    return ack;
}

static void ctrl_kick(struct virtio_net *n, uint16_t q, struct virtq *vq)
{
    const struct virtq_elem *e = &n->elem;
    uint8_t ack;

    for (uint32_t i = 0; i < vq->size; i++) {
        if (virtq_pop(vq, &n->elem) <= 0)
            break;
        if (e->read_len < VIRTIO_NET_CTRL_HDR_LEN || e->write_len < 1) {
            virtq_set_error(vq, "virtio-net ctrl missing headers");
            break;
        }
        ack = ctrl_execute(n, vq, e);
        if (virtq_elem_write(vq, e, 0, &ack, 1)) {
            virtq_set_error(vq, "virtio-net ctrl ack write failed (DMA)");
            break;
        }
        if (virtq_push(vq, e, 1) < 0)
            break;
        notify_used(n, vq, q);
    }
}

static void net_kick(struct virtio_pci *vp, uint16_t q)
{
    struct virtio_net *n = to_net(vp);
    struct virtq *vq = virtio_pci_vq(vp, q);

    if (!vq)
        return;
    if (q == ctrl_queue(n))
        ctrl_kick(n, q, vq);
    else if (q & 1)
        tx_kick(n, q, vq);
    /* RX queues: buffers are taken when a frame arrives */
}

/* ---- receive (5.1.6.3, 5.1.6.4) ------------------------------------------- */

static bool mac_in(const struct vnet_mac_table *t, uint32_t from, uint32_t to,
                   const uint8_t *mac)
{
    for (uint32_t i = from; i < to && i < VIRTIO_NET_MAC_TABLE_ENTRIES; i++)
        if (memcmp(t->macs[i], mac, VIRTIO_NET_ETH_ALEN) == 0)
            return true;
    return false;
}

static bool rx_vlan_ok(const struct virtio_net *n, const uint8_t *f, size_t len)
{
    uint32_t vid;

    if (!has(n, VIRTIO_NET_F_CTRL_VLAN) || len < ETH_HLEN + 2 ||
        ld_be16(f + 12) != ETH_P_8021Q)
        return true;
    vid = ld_be16(f + 14) & 0xfffu;
    return (n->vlans[vid / 32] >> (vid % 32)) & 1;
}

/* QEMU's receive_filter. */
static bool rx_filter(const struct virtio_net *n, const uint8_t *f, size_t len)
{
    static const uint8_t bcast[VIRTIO_NET_ETH_ALEN] = {0xff, 0xff, 0xff,
                                                       0xff, 0xff, 0xff};
    const struct vnet_mac_table *t = &n->mt;

    if (n->promisc)
        return true;
    if (len < ETH_HLEN || !rx_vlan_ok(n, f, len))
        return false;
    if (f[0] & 1) {
        if (memcmp(f, bcast, sizeof(bcast)) == 0)
            return !n->nobcast;
        if (n->nomulti)
            return false;
        if (n->allmulti || t->multi_overflow)
            return true;
        return mac_in(t, t->first_multi, t->in_use, f);
    }
    if (n->nouni)
        return false;
    if (n->alluni || t->uni_overflow ||
        memcmp(f, n->mac, VIRTIO_NET_ETH_ALEN) == 0)
        return true;
    return mac_in(t, 0, t->first_multi, f);
}

/* Header at the start of the first chain (flags and GSO fields 0). */
static int rx_put_hdr(struct virtio_net *n, struct virtq *vq,
                      const struct virtq_elem *e, uint16_t nbufs)
{
    uint8_t hdr[VIRTIO_NET_HDR_LEN] = {0};

    hv_st_le(hdr + VIRTIO_NET_HDR_NUM_BUFFERS, 2, nbufs);
    return virtq_elem_write(vq, e, 0, hdr, hdr_len(n));
}

static bool rx_take(struct virtq *vq, struct virtq_elem *e)
{
    if (virtq_pop(vq, e) <= 0)
        return false;
    if (e->nsegs == e->nread) {
        virtq_set_error(vq, "virtio-net receive queue contains no in buffers");
        return false;
    }
    return true;
}

static bool rx_single(struct virtio_net *n, uint16_t q, struct virtq *vq,
                      const uint8_t *f, size_t len)
{
    const struct virtq_elem *e = &n->elem;
    unsigned hl = hdr_len(n);

    if (!rx_take(vq, &n->elem))
        return false;
    if (e->write_len < hl + len) {
        virtq_unpop(vq, 1);
        return false;
    }
    if (rx_put_hdr(n, vq, e, 1) || virtq_elem_write(vq, e, hl, f, len)) {
        virtq_set_error(vq, "virtio-net RX buffer DMA failed");
        return false;
    }
    if (virtq_push(vq, e, (uint32_t)(hl + len)) < 0)
        return false;
    notify_used(n, vq, q);
    return true;
}

/* Fill chains until the frame is placed; returns how many were taken (0:
 * not placed; the chains are given back unless the queue broke). */
static uint16_t rx_fill(struct virtio_net *n, struct virtq *vq,
                        const uint8_t *f, size_t len)
{
    unsigned hl = hdr_len(n);
    size_t done = 0;
    uint16_t cnt = 0;

    while (cnt < vq->size && (cnt == 0 || done < len)) {
        struct virtq_elem *e = cnt ? &n->elem2 : &n->elem;
        uint64_t skip = cnt ? 0 : hl, room, put;

        if (!rx_take(vq, e))
            break;
        cnt++;
        if (e->write_len < skip) { /* no room for the header */
            virtq_unpop(vq, cnt);
            return 0;
        }
        room = e->write_len - skip;
        put = room < len - done ? room : len - done;
        if (put && virtq_elem_write(vq, e, skip, f + done, (size_t)put)) {
            virtq_set_error(vq, "virtio-net RX buffer DMA failed");
            return 0;
        }
        n->rxu[cnt - 1] = (struct rx_used){e->head, (uint32_t)(skip + put)};
        done += (size_t)put;
    }
    if (vq->broken)
        return 0;
    if (cnt == 0 || done < len) {
        virtq_unpop(vq, cnt);
        return 0;
    }
    return cnt;
}

static bool rx_mergeable(struct virtio_net *n, uint16_t q, struct virtq *vq,
                         const uint8_t *f, size_t len)
{
    struct virtq_elem used = {0};
    uint16_t cnt = rx_fill(n, vq, f, len);

    if (cnt == 0)
        return false;
    if (rx_put_hdr(n, vq, &n->elem, cnt)) {
        virtq_set_error(vq, "virtio-net RX header write failed (DMA)");
        return false;
    }
    for (uint16_t i = 0; i < cnt; i++) {
        used.head = n->rxu[i].head;
        if (virtq_push(vq, &used, n->rxu[i].len) < 0)
            return false;
    }
    notify_used(n, vq, q);
    return true;
}

/* QEMU's virtio_net_can_receive, plus the link (its net core drops frames
 * for a NIC whose link is down). */
static bool rx_ready(struct virtio_net *n, struct virtq *vq)
{
    return (n->vp.status & VIRTIO_STATUS_DRIVER_OK) && !n->vp.broken &&
           (n->status & VIRTIO_NET_S_LINK_UP) &&
           (hv_pci_command(&n->vp.dev) & HV_PCI_CMD_MASTER) && vq &&
           virtq_ready(vq);
}

static bool net_rx(hv_dev *dev, const uint8_t *f, size_t len)
{
    struct virtio_net *n = dev_net(dev);
    uint16_t q = (uint16_t)(2u * rx_steer(n, f, len));
    struct virtq *vq = virtio_pci_vq(&n->vp, q);
    bool ok;

    if (len == 0 || !rx_ready(n, vq)) {
        n->stats.rx_dropped++;
        hv_trace(dev->machine, "virtio-net rx frame len=%zu dropped: %s", len,
                 len ? "not ready" : "empty");
        return false;
    }
    if (!rx_filter(n, f, len)) {
        n->stats.rx_filtered++;
        hv_trace(dev->machine, "virtio-net rx frame len=%zu filtered", len);
        return false;
    }
    ok = has(n, VIRTIO_NET_F_MRG_RXBUF) ? rx_mergeable(n, q, vq, f, len)
                                        : rx_single(n, q, vq, f, len);
    if (ok)
        n->stats.rx_frames++;
    else
        n->stats.rx_dropped++;
    hv_trace(dev->machine, "virtio-net rxq%u frame len=%zu %s", q, len,
             ok ? "delivered" : "dropped");
    if (vq->broken)
        virtio_pci_set_error(&n->vp, vq->error ? vq->error : "queue error");
    return ok;
}

/* The legacy HOST_FEATURES register with QEMU's legacy-only GSO bit. */
static uint32_t net_pio_read(hv_dev *dev, int bar, uint64_t off, unsigned size)
{
    uint32_t v = dev_net(dev)->base_ops->pio_read(dev, bar, off, size);

    if (bar == VIRTIO_PCI_LEGACY_BAR &&
        off < VIRTIO_PCI_LEGACY_HOST_FEATURES + 4 && off % size == 0 &&
        (size == 1 || size == 2 || size == 4))
        v |= ((1u << VIRTIO_NET_F_GSO_LEGACY) >> (8 * off)) &
             (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
    return v;
}

/* ---- host events ------------------------------------------------------------ */

void virtio_net_set_link(hv_dev *dev, bool up)
{
    struct virtio_net *n = dev_net(dev);
    uint16_t old = n->status;

    if (up)
        n->status |= VIRTIO_NET_S_LINK_UP;
    else
        n->status &= (uint16_t)~VIRTIO_NET_S_LINK_UP;
    if (n->status != old)
        virtio_pci_notify_config(&n->vp);
}

void virtio_net_announce(hv_dev *dev)
{
    struct virtio_net *n = dev_net(dev);

    if (!has(n, VIRTIO_NET_F_GUEST_ANNOUNCE) || !has(n, VIRTIO_NET_F_CTRL_VQ))
        return;
    n->status |= VIRTIO_NET_S_ANNOUNCE;
    virtio_pci_notify_config(&n->vp);
}

void virtio_net_get_stats(hv_dev *dev, struct virtio_net_stats *st)
{
    *st = dev_net(dev)->stats;
}

uint16_t virtio_net_curr_pairs(hv_dev *dev)
{
    return dev_net(dev)->curr_pairs;
}

struct hv_net *virtio_net_backend(hv_dev *dev)
{
    return dev_net(dev)->net;
}

/* ---- lifecycle ------------------------------------------------------------- */

/* Device reset (QEMU's virtio_net_reset); power-on also brings the link
 * up, clears the counters and the backend. */
static void net_reset(struct virtio_pci *vp, bool power_on)
{
    struct virtio_net *n = to_net(vp);

    memcpy(n->mac, n->conf_mac, sizeof(n->mac));
    n->status &= (uint16_t)~VIRTIO_NET_S_ANNOUNCE;
    n->curr_pairs = 1;
    n->guest_offloads = 0;
    n->promisc = true; /* QEMU: "compatibility mode" until the driver says */
    n->allmulti = n->alluni = n->nomulti = n->nouni = n->nobcast = false;
    memset(&n->mt, 0, sizeof(n->mt));
    memset(n->vlans, 0, sizeof(n->vlans));
    memset(n->flows, 0, sizeof(n->flows));
    if (!power_on)
        return;
    n->status = VIRTIO_NET_S_LINK_UP;
    memset(&n->stats, 0, sizeof(n->stats));
    if (n->net->ops->reset)
        n->net->ops->reset(n->net);
}

static void net_restored(struct virtio_pci *vp)
{
    struct virtio_net *n = to_net(vp);

    if (n->net->ops->reset)
        n->net->ops->reset(n->net);
}

static void net_destroy(struct virtio_pci *vp)
{
    struct virtio_net *n = to_net(vp);

    virtq_elem_free(&n->elem);
    virtq_elem_free(&n->elem2);
    free(n->rxu);
    free(n->frame);
    n->rxu = NULL;
    n->frame = NULL;
    if (n->net)
        n->net->ops->destroy(n->net);
    n->net = NULL;
}

static const struct virtio_dev_ops virtio_net_ops = {
    .get_config = net_get_config,
    .set_config = net_set_config,
    .queue_kick = net_kick,
    .reset = net_reset,
    .restored = net_restored,
    .destroy = net_destroy,
};

static uint32_t config_len(const struct virtio_net *n)
{
    if (n->mtu)
        return VIRTIO_NET_CFG_LEN_MTU;
    return n->max_pairs > 1 ? VIRTIO_NET_CFG_LEN_MQ : VIRTIO_NET_CFG_LEN_STATUS;
}

static struct virtio_pci_params net_pci_params(const struct virtio_net *n)
{
    uint64_t f = NET_FEATURES;

    if (n->offloads)
        f |= OFFLOAD_FEATURES;
    if (n->max_pairs > 1)
        f |= 1ull << VIRTIO_NET_F_MQ;
    if (n->mtu)
        f |= 1ull << VIRTIO_NET_F_MTU;
    return (struct virtio_pci_params){
        .name = "virtio-net",
        .virtio_id = VIRTIO_ID_NET,
        .pci_device_id = VIRTIO_PCI_DEVICE_ID_NET_TRANSITIONAL,
        .class_code = VIRTIO_PCI_CLASS_NETWORK_ETHERNET,
        .num_queues = (uint16_t)(2u * n->max_pairs + 1),
        .queue_max_size = VIRTIO_NET_DEFAULT_QUEUE_SIZE,
        .config_len = config_len(n),
        .state_size = sizeof(struct virtio_net),
        .device_features = f,
    };
}

static void net_set_identity(struct virtio_net *n,
                             const struct virtio_net_params *p)
{
    static const uint8_t zero[VIRTIO_NET_ETH_ALEN];
    static const uint8_t qemu_mac[VIRTIO_NET_ETH_ALEN] = {0x52, 0x54, 0x00,
                                                          0x12, 0x34, 0x56};

    memcpy(n->conf_mac, memcmp(p->mac, zero, sizeof(zero)) ? p->mac : qemu_mac,
           sizeof(n->conf_mac));
    n->max_pairs = p->max_pairs < 1 ? 1
                   : p->max_pairs > VIRTIO_NET_MAX_PAIRS ? VIRTIO_NET_MAX_PAIRS
                                                         : p->max_pairs;
    n->mtu = p->mtu;
    n->offloads = p->offloads;
}

/* After the transport: the control queue's size, the ROM BAR, rx. */
static int net_finish(struct virtio_net *n)
{
    hv_dev *dev = &n->vp.dev;
    uint16_t qs = VIRTIO_NET_DEFAULT_QUEUE_SIZE;

    virtq_init(virtio_pci_vq(&n->vp, ctrl_queue(n)), dev, ctrl_queue(n),
               VIRTIO_NET_CTRL_QUEUE_SIZE);
    hv_st_le(dev->pci.wmask + HV_PCI_ROM_ADDRESS, 4, ~(ROM_SIZE - 1) | 1u);
    n->base_ops = dev->ops;
    n->ops = *dev->ops;
    n->ops.rx = net_rx;
    n->ops.pio_read = net_pio_read;
    dev->ops = &n->ops;
    n->frame = malloc(HV_NET_MAX_FRAME);
    n->rxu = calloc(qs, sizeof(*n->rxu));
    if (!n->frame || !n->rxu || virtq_elem_init(&n->elem, qs) < 0 ||
        virtq_elem_init(&n->elem2, qs) < 0)
        return -1;
    return 0;
}

hv_dev *virtio_net_create_ex(hv_machine *m, const struct virtio_net_params *p)
{
    static const struct virtio_net_params defaults = {0};
    struct virtio_net *n;
    struct hv_net *net;
    struct virtio_pci_params pp;

    p = p ? p : &defaults;
    net = p->backend ? p->backend : (struct hv_net *)hv_netsink_create();
    n = net ? calloc(1, sizeof(*n)) : NULL;
    if (!n) {
        if (net)
            net->ops->destroy(net);
        return NULL;
    }
    n->net = net;
    net_set_identity(n, p);
    pp = net_pci_params(n);
    if (virtio_pci_init(&n->vp, m, &virtio_net_ops, &pp) < 0) {
        net->ops->destroy(net);
        free(n);
        return NULL;
    }
    if (net_finish(n) < 0) {
        n->vp.dev.ops->destroy(&n->vp.dev);
        return NULL;
    }
    n->status = VIRTIO_NET_S_LINK_UP;
    virtio_pci_reset(&n->vp, false);
    return &n->vp.dev;
}

hv_dev *virtio_net_create(hv_machine *m)
{
    return virtio_net_create_ex(m, NULL);
}
