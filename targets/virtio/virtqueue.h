/*
 * Split virtqueue, device side (virtio 1.2 section 2.7; notification
 * suppression 2.7.7 / 2.7.10; device errors 2.1.2).
 *
 * A queue pops descriptor chains into an element (a list of guest-physical
 * segments, readable ones first) and pushes used elements back. Every ring
 * access goes through hv_dma_read/hv_dma_write; any failure or malformed
 * ring marks the queue broken (the transport then sets NEEDS_RESET) and the
 * queue is never touched again until it is reset. Every guest-driven loop is
 * bounded: a chain by the queue size (an indirect table by its entry
 * count), heads per kick by the queue size, segments by the element's
 * capacity.
 */
#ifndef HV_VIRTQUEUE_H
#define HV_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "targets/common/hv_device.h"

struct virtq_seg {
    uint64_t gpa;
    uint32_t len;
    bool writable;
};

/* One popped chain. Readable segments come first (segs[0..nread)), then
 * the writable ones (segs[nread..nsegs)). */
struct virtq_elem {
    uint16_t head;      /* id to return in the used ring */
    uint16_t nsegs;
    uint16_t nread;     /* readable segments */
    uint16_t cap;       /* capacity of segs */
    uint64_t read_len;  /* total readable bytes */
    uint64_t write_len; /* total writable bytes */
    struct virtq_seg *segs; /* heap, exactly `cap` entries */
};

struct virtq {
    hv_dev *dev;
    uint16_t index;
    uint16_t max_size;  /* what queue_size reads after reset */
    uint16_t size;      /* power of two, 1..max_size */
    bool enabled;
    bool broken;        /* a device error happened on this queue */
    bool event_idx;     /* VIRTIO_F_EVENT_IDX negotiated (set by transport) */
    uint64_t desc, avail, used; /* GPAs of the three areas */
    uint16_t last_avail_idx;    /* next avail ring slot to consume */
    uint16_t used_idx;          /* our copy of used->idx */
    uint16_t inflight;          /* popped, not yet pushed; <= size */
    uint16_t signalled_used;    /* used_idx at the last notification */
    bool signalled_used_valid;
    const char *error;          /* why it broke (static string) */
};

/* Set up queue `index` of `dev` (calls virtq_reset). */
void virtq_init(struct virtq *vq, hv_dev *dev, uint16_t index,
                uint16_t max_size);
/* Power-on state: disabled, size = max_size, addresses and indexes 0. */
void virtq_reset(struct virtq *vq);
/* Resume a queue whose rings the driver has used before (vhost-user
 * SET_VRING_BASE, migration): the next available slot is `idx`, every chain
 * before it was completed (used_idx = idx), nothing is in flight. */
void virtq_resume_at(struct virtq *vq, uint16_t idx);
/* Mark a device error on this queue (idempotent); no ring access after. */
void virtq_set_error(struct virtq *vq, const char *why);
/* Enabled, configured (desc != 0) and not broken. */
bool virtq_ready(const struct virtq *vq);

/* Element storage: `cap` segments, one heap allocation of exact size. */
int virtq_elem_init(struct virtq_elem *e, uint16_t cap);
void virtq_elem_free(struct virtq_elem *e);

/* Give back the last `count` chains popped and not pushed (a frame that
 * did not fit: QEMU's virtqueue_rewind); they are popped again next time. */
void virtq_unpop(struct virtq *vq, uint16_t count);

/*
 * Pop the next available chain into `e`. Returns 1 if a chain was popped,
 * 0 if the ring is empty (or the queue is not ready), -1 on a device error
 * (the queue is then broken) or when the work budget ran out.
 * Rejected as device errors: avail->idx more than `size` ahead, a head or
 * NEXT index >= its table size, a chain longer than the queue size (or an
 * indirect chain longer than its table), nested indirect tables, an indirect
 * descriptor with NEXT, an indirect table of 0 bytes or not a multiple of
 * 16, a readable segment after a writable one, more segments than e->cap,
 * in-flight chains reaching the queue size, any failed ring DMA.
 */
int virtq_pop(struct virtq *vq, struct virtq_elem *e);
/* Return `e` to the driver: used ring entry {head, len} then used->idx.
 * 0, or -1 on a device error (queue broken). */
int virtq_push(struct virtq *vq, const struct virtq_elem *e, uint32_t len);
/* After pushes: must the driver be notified (used buffer notification)?
 * EVENT_IDX: used_event crossed; else !(avail->flags & NO_INTERRUPT). */
bool virtq_should_notify(struct virtq *vq);

/* Scatter/gather through DMA. `off` is a byte offset in the element's
 * readable (resp. writable) stream. 0, or -1 if the range does not fit in
 * the stream or a DMA transfer failed (data moved before the failure
 * stays moved). */
int virtq_elem_read(struct virtq *vq, const struct virtq_elem *e, uint64_t off,
                    void *buf, size_t len);
int virtq_elem_write(struct virtq *vq, const struct virtq_elem *e,
                     uint64_t off, const void *buf, size_t len);

#endif
