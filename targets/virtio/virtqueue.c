/*
 * Split virtqueue, device side: virtio 1.2 section 2.7 (2.7.5 descriptor
 * table, 2.7.5.3 indirect descriptors, 2.7.6 available ring, 2.7.8 used
 * ring, 2.7.7/2.7.10 notification suppression with and without
 * VIRTIO_F_EVENT_IDX) and the device-error rule of 2.1.2 (a malformed ring
 * breaks the queue; the transport sets DEVICE_NEEDS_RESET).
 *
 * Guest memory is reached only through hv_dma_read/hv_dma_write. Loop
 * bounds: heads per pop 1; descriptors per chain <= queue size in the
 * descriptor table and <= entry count in an indirect table, and never more
 * than the element's capacity; segments per copy <= element size. The
 * in-flight count never exceeds the queue size (CVE-2016-5403).
 */
#include "targets/virtio/virtqueue.h"

#include <stdlib.h>
#include <string.h>

#include "targets/virtio/virtio_regs.h"

/* Offsets inside the rings (2.7.6, 2.7.8). */
#define AVAIL_FLAGS 0u
#define AVAIL_IDX 2u
#define USED_IDX 2u
#define DESC_ADDR 0u
#define DESC_LEN 8u
#define DESC_FLAGS 12u
#define DESC_NEXT 14u

struct vdesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

/* Where the chain walk currently reads descriptors from. */
struct walk {
    uint64_t table;   /* GPA of the descriptor table */
    uint32_t entries; /* its size in descriptors */
    uint32_t steps;   /* descriptors visited in it */
    bool indirect;
};

void virtq_reset(struct virtq *vq)
{
    hv_dev *dev = vq->dev;
    uint16_t index = vq->index, max = vq->max_size;

    memset(vq, 0, sizeof(*vq));
    vq->dev = dev;
    vq->index = index;
    vq->max_size = max;
    vq->size = max;
}

void virtq_init(struct virtq *vq, hv_dev *dev, uint16_t index,
                uint16_t max_size)
{
    vq->dev = dev;
    vq->index = index;
    vq->max_size = max_size;
    virtq_reset(vq);
}

void virtq_resume_at(struct virtq *vq, uint16_t idx)
{
    vq->last_avail_idx = idx;
    vq->used_idx = idx;
    vq->inflight = 0;
    vq->signalled_used_valid = false;
}

void virtq_set_error(struct virtq *vq, const char *why)
{
    if (vq->broken)
        return;
    vq->broken = true;
    vq->error = why;
    hv_trace(vq->dev->machine, "virtio %s vq%u device error: %s",
             vq->dev->name, vq->index, why);
}

static int fail(struct virtq *vq, const char *why)
{
    virtq_set_error(vq, why);
    return -1;
}

bool virtq_ready(const struct virtq *vq)
{
    return vq->enabled && !vq->broken && vq->desc != 0;
}

int virtq_elem_init(struct virtq_elem *e, uint16_t cap)
{
    memset(e, 0, sizeof(*e));
    e->segs = calloc(cap ? cap : 1, sizeof(*e->segs));
    if (!e->segs)
        return -1;
    e->cap = cap;
    return 0;
}

void virtq_elem_free(struct virtq_elem *e)
{
    free(e->segs);
    e->segs = NULL;
    e->cap = 0;
}

/* ---- ring accessors ----------------------------------------------------- */

static int rd16(struct virtq *vq, uint64_t gpa, uint16_t *v)
{
    uint8_t b[2];

    if (hv_dma_read(vq->dev, gpa, b, sizeof(b)))
        return -1;
    *v = (uint16_t)hv_ld_le(b, 2);
    return 0;
}

static int wr16(struct virtq *vq, uint64_t gpa, uint16_t v)
{
    uint8_t b[2];

    hv_st_le(b, 2, v);
    return hv_dma_write(vq->dev, gpa, b, sizeof(b));
}

static uint64_t avail_ring(const struct virtq *vq, uint32_t slot)
{
    return vq->avail + VIRTQ_AVAIL_HDR + 2ull * slot;
}

/* used_event lives after avail->ring[size]; avail_event after used->ring. */
static uint64_t used_event_gpa(const struct virtq *vq)
{
    return avail_ring(vq, vq->size);
}

static uint64_t avail_event_gpa(const struct virtq *vq)
{
    return vq->used + VIRTQ_USED_HDR + (uint64_t)VIRTQ_USED_ELEM_SIZE * vq->size;
}

static int read_desc(struct virtq *vq, const struct walk *w, uint32_t i,
                     struct vdesc *d)
{
    uint8_t b[VIRTQ_DESC_SIZE];

    if (hv_dma_read(vq->dev, w->table + (uint64_t)i * VIRTQ_DESC_SIZE, b,
                    sizeof(b)))
        return -1;
    d->addr = hv_ld_le(b + DESC_ADDR, 4) |
              (uint64_t)hv_ld_le(b + DESC_ADDR + 4, 4) << 32;
    d->len = hv_ld_le(b + DESC_LEN, 4);
    d->flags = (uint16_t)hv_ld_le(b + DESC_FLAGS, 2);
    d->next = (uint16_t)hv_ld_le(b + DESC_NEXT, 2);
    return 0;
}

/* ---- chain walk --------------------------------------------------------- */

/* 2.7.5.3: switch to an indirect table (one level, no NEXT, 16n bytes). */
static int enter_indirect(struct virtq *vq, struct walk *w,
                          const struct vdesc *d)
{
    if (w->indirect)
        return fail(vq, "nested indirect descriptor");
    if (d->flags & VIRTQ_DESC_F_NEXT)
        return fail(vq, "indirect descriptor with NEXT");
    if (d->len == 0 || d->len % VIRTQ_DESC_SIZE)
        return fail(vq, "indirect table length not a non-zero multiple of 16");
    w->table = d->addr;
    w->entries = d->len / VIRTQ_DESC_SIZE;
    w->steps = 0;
    w->indirect = true;
    return 0;
}

static int add_seg(struct virtq *vq, struct virtq_elem *e,
                   const struct vdesc *d)
{
    bool wr = d->flags & VIRTQ_DESC_F_WRITE;

    if (!wr && e->nsegs > e->nread)
        return fail(vq, "readable descriptor after a writable one");
    if (e->nsegs >= e->cap)
        return fail(vq, "too many segments in one chain");
    e->segs[e->nsegs++] = (struct virtq_seg){d->addr, d->len, wr};
    if (wr) {
        e->write_len += d->len;
    } else {
        e->nread++;
        e->read_len += d->len;
    }
    return 0;
}

static int walk_chain(struct virtq *vq, struct virtq_elem *e, uint16_t head)
{
    struct walk w = {.table = vq->desc, .entries = vq->size};
    /* Each step adds a segment, except the single switch to a table. */
    uint32_t max_steps = (uint32_t)vq->size + e->cap + 1;
    uint32_t i = head;
    struct vdesc d;

    for (uint32_t n = 0; n < max_steps; n++) {
        if (++w.steps > w.entries)
            return fail(vq, "descriptor chain longer than its table (loop)");
        if (!hv_budget(vq->dev, 1))
            return -1;
        if (read_desc(vq, &w, i, &d))
            return fail(vq, "descriptor read failed (DMA)");
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (enter_indirect(vq, &w, &d))
                return -1;
            i = 0;
            continue;
        }
        if (add_seg(vq, e, &d))
            return -1;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 0;
        i = d.next;
        if (i >= w.entries)
            return fail(vq, "descriptor NEXT index out of range");
    }
    return fail(vq, "descriptor chain too long");
}

/* ---- pop / push / notify ------------------------------------------------ */

static void elem_clear(struct virtq_elem *e, uint16_t head)
{
    e->head = head;
    e->nsegs = 0;
    e->nread = 0;
    e->read_len = 0;
    e->write_len = 0;
}

int virtq_pop(struct virtq *vq, struct virtq_elem *e)
{
    uint16_t avail_idx, pending, head;

    if (!virtq_ready(vq))
        return vq->broken ? -1 : 0;
    if (rd16(vq, vq->avail + AVAIL_IDX, &avail_idx))
        return fail(vq, "avail->idx read failed (DMA)");
    pending = (uint16_t)(avail_idx - vq->last_avail_idx);
    if (pending > vq->size)
        return fail(vq, "avail->idx moved more than the queue size");
    if (pending == 0)
        return 0;
    if (vq->inflight >= vq->size)
        return fail(vq, "in-flight chains would exceed the queue size");
    if (rd16(vq, avail_ring(vq, vq->last_avail_idx % vq->size), &head))
        return fail(vq, "avail->ring read failed (DMA)");
    if (head >= vq->size)
        return fail(vq, "avail->ring head index out of range");
    elem_clear(e, head);
    if (walk_chain(vq, e, head))
        return -1;
    vq->last_avail_idx++;
    vq->inflight++;
    if (vq->event_idx &&
        wr16(vq, avail_event_gpa(vq), vq->last_avail_idx))
        return fail(vq, "avail_event write failed (DMA)");
    return 1;
}

void virtq_unpop(struct virtq *vq, uint16_t count)
{
    if (!hv_assert(vq->dev, vq->inflight >= count))
        return;
    vq->last_avail_idx = (uint16_t)(vq->last_avail_idx - count);
    vq->inflight = (uint16_t)(vq->inflight - count);
}

int virtq_push(struct virtq *vq, const struct virtq_elem *e, uint32_t len)
{
    uint8_t b[VIRTQ_USED_ELEM_SIZE];
    uint64_t slot;

    if (!vq->enabled || vq->broken)
        return -1;
    if (!hv_assert(vq->dev, vq->inflight > 0))
        return -1;
    slot = vq->used + VIRTQ_USED_HDR +
           (uint64_t)VIRTQ_USED_ELEM_SIZE * (vq->used_idx % vq->size);
    hv_st_le(b, 4, e->head);
    hv_st_le(b + 4, 4, len);
    if (hv_dma_write(vq->dev, slot, b, sizeof(b)))
        return fail(vq, "used->ring write failed (DMA)");
    vq->used_idx++;
    vq->inflight--;
    if (wr16(vq, vq->used + USED_IDX, vq->used_idx))
        return fail(vq, "used->idx write failed (DMA)");
    return 0;
}

/* 2.7.10: the driver wants a notification when used->idx passes event. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

bool virtq_should_notify(struct virtq *vq)
{
    uint16_t v, old;
    bool valid = vq->signalled_used_valid;

    if (!vq->enabled || vq->broken)
        return false;
    if (!vq->event_idx) {
        if (rd16(vq, vq->avail + AVAIL_FLAGS, &v)) {
            virtq_set_error(vq, "avail->flags read failed (DMA)");
            return false;
        }
        return !(v & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    if (rd16(vq, used_event_gpa(vq), &v)) {
        virtq_set_error(vq, "used_event read failed (DMA)");
        return false;
    }
    old = vq->signalled_used;
    vq->signalled_used = vq->used_idx;
    vq->signalled_used_valid = true;
    return !valid || need_event(v, vq->used_idx, old);
}

/* ---- scatter/gather ------------------------------------------------------ */

/* Copy between `buf` and the readable (to_guest false) or writable stream. */
static int elem_copy(struct virtq *vq, const struct virtq_elem *e,
                     bool to_guest, uint64_t off, uint8_t *rbuf,
                     const uint8_t *wbuf, size_t len)
{
    uint16_t first = to_guest ? e->nread : 0;
    uint16_t end = to_guest ? e->nsegs : e->nread;

    for (uint16_t i = first; i < end && len > 0; i++) {
        const struct virtq_seg *s = &e->segs[i];
        size_t n;
        int rc;

        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        n = s->len - off < len ? (size_t)(s->len - off) : len;
        if (!hv_budget(vq->dev, 1))
            return -1;
        rc = to_guest ? hv_dma_write(vq->dev, s->gpa + off, wbuf, n)
                      : hv_dma_read(vq->dev, s->gpa + off, rbuf, n);
        if (rc)
            return -1;
        if (to_guest)
            wbuf += n;
        else
            rbuf += n;
        len -= n;
        off = 0;
    }
    return len ? -1 : 0;
}

int virtq_elem_read(struct virtq *vq, const struct virtq_elem *e, uint64_t off,
                    void *buf, size_t len)
{
    return elem_copy(vq, e, false, off, buf, NULL, len);
}

int virtq_elem_write(struct virtq *vq, const struct virtq_elem *e,
                     uint64_t off, const void *buf, size_t len)
{
    return elem_copy(vq, e, true, off, NULL, buf, len);
}
