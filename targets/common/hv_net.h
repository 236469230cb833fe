/*
 * Packet backends for NIC models, behind an ops struct like hv_blk: a NIC
 * hands every frame it transmits to `tx`. The in-memory sink (netsink.c)
 * lives here; host-only backends (a pcap writer) live in harness/backends.
 * Frames from the wire reach a NIC through hv_machine_rx_inject, not here.
 */
#ifndef HV_NET_H
#define HV_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest frame a backend is handed: a NIC's 64 KiB packet plus a VLAN
 * tag fits. Longer frames are refused by hv_net_tx. */
#define HV_NET_MAX_FRAME (65536u + 64u)

struct hv_net;

struct hv_net_ops {
    /* One whole Ethernet frame (no FCS). 0, or -1 on a backend error. */
    int (*tx)(struct hv_net *n, const uint8_t *frame, size_t len);
    /* Back to the initial state (the sink forgets its frames). */
    void (*reset)(struct hv_net *n);
    void (*destroy)(struct hv_net *n);
};

struct hv_net {
    const struct hv_net_ops *ops;
};

/* Checks the length, then calls ops->tx. */
int hv_net_tx(struct hv_net *n, const uint8_t *frame, size_t len);

/* ---- the in-memory sink ------------------------------------------------- */

#define HV_NETSINK_KEEP 8u /* most recent frames kept */

struct hv_netsink_frame {
    uint8_t *data; /* heap, cap bytes (reused), len of them the frame */
    size_t len, cap;
};

struct hv_netsink {
    struct hv_net net;
    uint64_t frames, bytes;
    unsigned next;                                  /* ring slot to fill */
    struct hv_netsink_frame keep[HV_NETSINK_KEEP];  /* ring of recent frames */
};

struct hv_netsink *hv_netsink_create(void);
/* The frame sent `ago` frames before the last one (0 = the last), or NULL. */
const struct hv_netsink_frame *hv_netsink_recent(const struct hv_netsink *s,
                                                 unsigned ago);

#endif
