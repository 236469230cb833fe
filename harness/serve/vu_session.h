/*
 * One vhost-user connection to a front-end: the ring state it sets up,
 * its memory table, and the device model behind it (through a vproxy).
 *
 * A ring runs (its model queue is configured and enabled) while it has a
 * size, addresses, a kick descriptor, is enabled (always, when the
 * protocol-features extension was not acknowledged), and the features and
 * a memory table are set. GET_VRING_BASE stops it.
 */
#ifndef HV_VU_SESSION_H
#define HV_VU_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "harness/serve/vhost_user.h"
#include "harness/serve/vproxy.h"
#include "harness/serve/vu_mem.h"
#include "targets/virtio/virtio_pci.h"
#include "targets/virtio/virtqueue.h"

struct vu_ring {
    uint16_t num;       /* 0: not set */
    bool addr_set;
    uint64_t desc_uva, avail_uva, used_uva;
    uint16_t base;      /* next avail index, while stopped */
    int kick_fd, call_fd, err_fd;
    bool enabled;       /* SET_VRING_ENABLE */
    bool live;          /* the model queue runs */
};

struct vu_session {
    int sock;           /* -1: no front-end connected */
    struct vproxy *px;
    struct vu_mem mem;
    uint64_t features;  /* acknowledged by SET_FEATURES (bit 30 included) */
    bool features_set;
    uint64_t protocol;  /* acknowledged protocol features */
    uint64_t protocol_hidden; /* offered protocol features not to offer
                               * (virtio-net: CONFIG; set after init) */
    struct vu_ring ring[VIRTIO_PCI_MAX_QUEUES];
    uint16_t nrings;
    bool error_reported; /* the device error was logged */
    bool dead;          /* a reply failed: drop the connection */
    char err[256];
    /* --record: what the driver submitted (vu_session_record). */
    FILE *rec;
    uint32_t rec_max;   /* readable bytes kept per request */
    struct virtq_elem rec_elem;
    unsigned rec_count;  /* chains recorded in the current kick */
    bool rec_busy;       /* inside the recorder (its own DMA is not traced) */
    hv_trace_fn rec_prev_fn; /* the server's trace (--trace), kept */
    void *rec_prev_opaque;
};

/* Once, for the server's lifetime: also installs the MSI-X sink. */
void vu_session_init(struct vu_session *s, struct vproxy *px);
/* A front-end connected on `sock` (taken over). */
void vu_session_begin(struct vu_session *s, int sock);
/* The front-end left (or is dropped): rings stopped, descriptors closed,
 * memory unmapped, the device reset. */
void vu_session_end(struct vu_session *s);
/* Handle one message. 0, or -1 when the connection must be dropped. */
int vu_session_handle(struct vu_session *s, struct vu_msg *m);
/* Ring i's kick descriptor is readable. */
void vu_session_kick(struct vu_session *s, uint16_t i);

/*
 * Recording (hvfuzz-serve --record FILE; hvfuzz record converts it into
 * programs). Each chain the model pops is read again through the model's
 * own virtq API, on a copy of the queue (nothing of the model changes),
 * when the model reports the request (its trace event, before it pushes
 * the used entry: the descriptors are still the device's), and written
 * as one line. One line per event, text:
 *
 *   hvrec 1 DEVICE queues=N qmax=M offered=0xF data_max=B   (first line)
 *   T features 0xF             negotiated (SET_FEATURES; vhost bits removed)
 *   T refused 0xF              the device refused these features
 *   T ring Q size=N base=B     ring Q started at avail index B
 *   T stop Q base=B            ring Q stopped (GET_VRING_BASE, new table, ...)
 *   T reset                    device reset (RESET_DEVICE, front-end left)
 *   T config OFF hex:BYTES     SET_CONFIG
 *   T req Q head=H SEGS [indirect] [trunc=R] data=hex:BYTES
 *   T kick Q n=K               the K chains above were popped on one kick
 *   T error Q WHY              the model broke queue Q (or a chain it popped
 *                              could not be read again)
 *
 * T: CLOCK_MONOTONIC in microseconds. SEGS: the chain's descriptors in
 * order, "r<len>" readable, "w<len>" writable, comma-separated ("-" when
 * empty). data: the first min(R, data_max) readable bytes, R being all
 * readable bytes of the chain; trunc=R when that cut them (empty, with
 * "data-unreadable" before it, when the bytes could not be read). indirect:
 * the head descriptor is an indirect table. A chain the model refuses before
 * its request event (no header or no status segment: the queue breaks) is
 * not recorded; the "error" line says why the queue broke.
 */
/* 0, or -1 (message on stderr). data_max: bytes kept per request. */
int vu_session_record(struct vu_session *s, const char *path,
                      const char *device, uint32_t data_max);
/* Flush and close the recording (at exit). */
void vu_session_record_close(struct vu_session *s);

#endif
