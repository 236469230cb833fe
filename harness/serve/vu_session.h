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

#include "harness/serve/vhost_user.h"
#include "harness/serve/vproxy.h"
#include "harness/serve/vu_mem.h"
#include "targets/virtio/virtio_pci.h"

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
    struct vu_ring ring[VIRTIO_PCI_MAX_QUEUES];
    uint16_t nrings;
    bool error_reported; /* the device error was logged */
    bool dead;          /* a reply failed: drop the connection */
    char err[256];
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

#endif
