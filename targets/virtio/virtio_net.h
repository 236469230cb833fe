/*
 * virtio-net (virtio 1.2 section 5.1) on the virtio-pci transport, over a
 * struct hv_net packet backend. Defaults mirror QEMU 7.2's
 * `-device virtio-net-pci` with a netdev that has no vnet header (user,
 * hubport, socket): one queue pair (RX 256, TX 256) plus the control queue
 * (64), transitional device ID 0x1000, MAC 52:54:00:12:34:56, link up, the
 * feature set and 8-byte configuration space QEMU offered in
 * tests/targets/virtio/data/virtio-net-ioeventfd-off.trace (no checksum or
 * GSO offloads, no MQ, no MTU), and a 256 KiB expansion ROM BAR (sizing
 * only, as QEMU's efi-virtio.rom).
 *
 * The harness creates it with virtio_net_create(m), registers it with
 * hv_machine_add(m, dev, 0x08) and programs BAR0 0xc040 (I/O), BAR1
 * 0xfebc0000 (MSI-X), BAR4 0xfebfc000 (modern, 64-bit).
 */
#ifndef HV_VIRTIO_NET_H
#define HV_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "targets/common/hv_device.h"
#include "targets/common/hv_net.h"

#define VIRTIO_NET_DEFAULT_QUEUE_SIZE 256u
#define VIRTIO_NET_CTRL_QUEUE_SIZE 64u
#define VIRTIO_NET_MAX_PAIRS 8u
/* Largest control command payload the device reads (QEMU: no limit; a MAC
 * table of 2 x 64 entries is 776 bytes). Longer commands get ERR. */
#define VIRTIO_NET_CTRL_MAX_DATA 4096u
/* Flows the automatic receive steering remembers (5.1.6.5.5). */
#define VIRTIO_NET_FLOWS 64u

struct virtio_net_params {
    /* Receives every transmitted frame; the device owns it (destroyed with
     * the device). NULL: an in-memory hv_netsink. */
    struct hv_net *backend;
    uint8_t mac[6];      /* all zero: 52:54:00:12:34:56 */
    uint16_t max_pairs;  /* 0: 1; more than 1 offers VIRTIO_NET_F_MQ */
    uint16_t mtu;        /* 0: none; else offers VIRTIO_NET_F_MTU */
    /* Offer CSUM and GUEST_CSUM (and accept GUEST_OFFLOADS_SET), as QEMU
     * does with a vnet-header backend (tap). TSO/UFO are never offered. */
    bool offloads;
};

/* The device QEMU 7.2 shows in the trace. NULL when out of memory. */
hv_dev *virtio_net_create(hv_machine *m);
/* Same with explicit parameters (NULL: defaults). On failure the backend
 * in `p` is destroyed too. */
hv_dev *virtio_net_create_ex(hv_machine *m, const struct virtio_net_params *p);
/* The backend the device sends to (tests look at the sink through it). */
struct hv_net *virtio_net_backend(hv_dev *dev);

/* Host-side events, as QEMU's monitor commands cause them: link up/down
 * (set_link: STATUS.LINK_UP and a configuration change notification) and a
 * guest announcement request (announce_self: STATUS.ANNOUNCE, with
 * GUEST_ANNOUNCE and CTRL_VQ negotiated). */
void virtio_net_set_link(hv_dev *dev, bool up);
void virtio_net_announce(hv_dev *dev);

/* Device counters, for tests. */
struct virtio_net_stats {
    uint64_t tx_frames, tx_dropped;  /* sent to the backend / rejected */
    uint64_t rx_frames, rx_dropped;  /* placed in RX buffers / not */
    uint64_t rx_filtered;            /* refused by the RX filter */
};
void virtio_net_get_stats(hv_dev *dev, struct virtio_net_stats *st);
/* Queue pairs in use (VQ_PAIRS_SET), RX queue a frame would be steered to
 * (tests). */
uint16_t virtio_net_curr_pairs(hv_dev *dev);

#endif
