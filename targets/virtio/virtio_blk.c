/*
 * virtio-blk device model: virtio 1.2 section 5.2 (5.2.3 feature bits,
 * 5.2.4 device configuration layout, 5.2.6 device operation: IN, OUT,
 * FLUSH, GET_ID, DISCARD, WRITE_ZEROES; 5.2.6.2 device requirements),
 * plugged into the virtio-pci transport (virtio_pci.c) with one or more
 * split virtqueues (virtqueue.c). Features and configuration values are
 * those QEMU 7.2 offers for virtio-blk-pci with default properties.
 *
 * Error policy:
 *  - a chain with fewer than 16 readable bytes (no header) or no writable
 *    byte (no status) is a device error: the queue breaks and the transport
 *    sets DEVICE_NEEDS_RESET (as QEMU's "virtio-blk missing headers");
 *  - everything else completes with a status: IOERR for a sector range
 *    beyond the capacity (overflow-checked), a length that is not a
 *    multiple of 512 or above VIRTIO_BLK_MAX_REQ_BYTES, a failed data DMA
 *    or backend error, a malformed discard/write-zeroes payload; UNSUPP for
 *    unknown types, DISCARD/WRITE_ZEROES not negotiated, reserved flags or
 *    more segments than max_*_seg;
 *  - failing to write the status byte or the used ring is a device error.
 * Used length is the chain's writable size (QEMU's virtqueue_push(in_len)).
 * Requests run to completion inside the notify write; heads per kick are
 * bounded by the queue size.
 */
#include "targets/virtio/virtio_blk.h"

#include <stdlib.h>
#include <string.h>

#include "targets/virtio/virtio_pci.h"
#include "targets/virtio/virtio_regs.h"

#define BLK_FEATURES                                                           \
    ((1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_GEOMETRY) |        \
     (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) |          \
     (1ull << VIRTIO_BLK_F_TOPOLOGY) | (1ull << VIRTIO_BLK_F_CONFIG_WCE) |     \
     (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES))
#define GEOM_HEADS 16u
#define GEOM_SECTORS 63u

struct virtio_blk {
    struct virtio_pci vp; /* first: hv_dev, transport and model share it */
    struct hv_blk *backend;
    uint64_t capacity;    /* 512-byte sectors */
    uint32_t seg_max;
    uint32_t dwz_max_seg;
    bool wce;             /* writeback cache (config "writeback") */
    char serial[VIRTIO_BLK_ID_BYTES];
    struct virtq_elem elem; /* the request in progress (segments on heap) */
};

/* One request being executed. */
struct blk_req {
    struct virtio_blk *b;
    struct virtq *vq;
    const struct virtq_elem *e;
    uint32_t type;
    uint64_t sector;
};

static struct virtio_blk *to_blk(struct virtio_pci *vp)
{
    return (struct virtio_blk *)vp;
}

/* ---- configuration (5.2.4) ------------------------------------------------ */

static uint16_t geometry_cylinders(uint64_t capacity)
{
    uint64_t c = capacity / (GEOM_HEADS * GEOM_SECTORS);

    return (uint16_t)(c < 2 ? 2 : c > 16383 ? 16383 : c);
}

static void blk_get_config(struct virtio_pci *vp, uint8_t *c)
{
    struct virtio_blk *b = to_blk(vp);

    memset(c, 0, VIRTIO_BLK_CFG_LEN);
    hv_st_le(c + VIRTIO_BLK_CFG_CAPACITY, 8, b->capacity);
    hv_st_le(c + VIRTIO_BLK_CFG_SEG_MAX, 4, b->seg_max);
    hv_st_le(c + VIRTIO_BLK_CFG_CYLINDERS, 2, geometry_cylinders(b->capacity));
    c[VIRTIO_BLK_CFG_HEADS] = GEOM_HEADS;
    c[VIRTIO_BLK_CFG_SECTORS] = GEOM_SECTORS;
    hv_st_le(c + VIRTIO_BLK_CFG_BLK_SIZE, 4, VIRTIO_BLK_SECTOR_SIZE);
    c[VIRTIO_BLK_CFG_WRITEBACK] = b->wce;
    hv_st_le(c + VIRTIO_BLK_CFG_NUM_QUEUES, 2, vp->p.num_queues);
    hv_st_le(c + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, 4, VIRTIO_BLK_MAX_DWZ_SECTORS);
    hv_st_le(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4, b->dwz_max_seg);
    hv_st_le(c + VIRTIO_BLK_CFG_DISCARD_ALIGN, 4, 1);
    hv_st_le(c + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, 4, VIRTIO_BLK_MAX_DWZ_SECTORS);
    hv_st_le(c + VIRTIO_BLK_CFG_MAX_WZ_SEG, 4, b->dwz_max_seg);
    c[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;
}

/* Only "writeback" is writable (5.2.5, VIRTIO_BLK_F_CONFIG_WCE). */
static void blk_set_config(struct virtio_pci *vp, const uint8_t *c)
{
    to_blk(vp)->wce = c[VIRTIO_BLK_CFG_WRITEBACK] != 0;
}

/* QEMU: once features are final, a driver without CONFIG_WCE gets the
 * cache mode its FLUSH feature implies (5.2.5.1 legacy behaviour). */
static void blk_status_changed(struct virtio_pci *vp, uint8_t status)
{
    if (!(status & VIRTIO_STATUS_FEATURES_OK))
        return;
    if (!virtio_pci_has_feature(vp, VIRTIO_BLK_F_CONFIG_WCE))
        to_blk(vp)->wce = virtio_pci_has_feature(vp, VIRTIO_BLK_F_FLUSH);
}

/* ---- requests (5.2.6) ------------------------------------------------------ */

static bool sectors_ok(const struct virtio_blk *b, uint64_t sector,
                       uint64_t nsect)
{
    return sector <= b->capacity && nsect <= b->capacity - sector;
}

static uint8_t blk_rw_data(struct blk_req *r, bool write, uint8_t *buf,
                           uint64_t len)
{
    struct hv_blk *bk = r->b->backend;
    uint64_t off = r->sector * VIRTIO_BLK_SECTOR_SIZE;

    if (write) {
        if (virtq_elem_read(r->vq, r->e, VIRTIO_BLK_REQ_HDR_SIZE, buf, len) ||
            hv_blk_write(bk, off, buf, len) ||
            (!r->b->wce && hv_blk_flush(bk)))
            return VIRTIO_BLK_S_IOERR;
        return VIRTIO_BLK_S_OK;
    }
    if (hv_blk_read(bk, off, buf, len) ||
        virtq_elem_write(r->vq, r->e, 0, buf, len))
        return VIRTIO_BLK_S_IOERR;
    return VIRTIO_BLK_S_OK;
}

/* IN: data is the writable stream minus the status byte; OUT: the readable
 * stream after the header. Bounce buffer of the exact request size. */
static uint8_t blk_rw(struct blk_req *r, bool write)
{
    const struct virtq_elem *e = r->e;
    uint64_t len = write ? e->read_len - VIRTIO_BLK_REQ_HDR_SIZE
                         : e->write_len - 1;
    uint8_t *buf, st;

    if (len > VIRTIO_BLK_MAX_REQ_BYTES || len % VIRTIO_BLK_SECTOR_SIZE ||
        !sectors_ok(r->b, r->sector, len / VIRTIO_BLK_SECTOR_SIZE) ||
        (write && r->b->backend->read_only))
        return VIRTIO_BLK_S_IOERR;
    if (len == 0)
        return VIRTIO_BLK_S_OK;
    buf = malloc(len);
    if (!buf)
        return VIRTIO_BLK_S_IOERR;
    st = blk_rw_data(r, write, buf, len);
    free(buf);
    return st;
}

static uint8_t blk_get_id(struct blk_req *r)
{
    uint64_t room = r->e->write_len - 1;
    size_t n = room < VIRTIO_BLK_ID_BYTES ? (size_t)room : VIRTIO_BLK_ID_BYTES;

    return virtq_elem_write(r->vq, r->e, 0, r->b->serial, n)
               ? VIRTIO_BLK_S_IOERR
               : VIRTIO_BLK_S_OK;
}

/* 5.2.6.2: check one discard / write-zeroes segment. */
static uint8_t dwz_check(const struct virtio_blk *b, const uint8_t *s, bool wz)
{
    uint64_t sector = hv_ld_le(s, 4) | (uint64_t)hv_ld_le(s + 4, 4) << 32;
    uint32_t num = hv_ld_le(s + 8, 4), flags = hv_ld_le(s + 12, 4);
    uint32_t allowed = wz ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;

    if (flags & ~allowed)
        return VIRTIO_BLK_S_UNSUPP;
    if (num > VIRTIO_BLK_MAX_DWZ_SECTORS || !sectors_ok(b, sector, num))
        return VIRTIO_BLK_S_IOERR;
    return VIRTIO_BLK_S_OK;
}

/* All segments are checked before any is executed. */
static uint8_t dwz_run(struct blk_req *r, const uint8_t *segs, uint32_t n,
                       bool wz)
{
    uint8_t st;

    for (uint32_t i = 0; i < n; i++) {
        st = dwz_check(r->b, segs + (size_t)i * VIRTIO_BLK_DWZ_SEG_SIZE, wz);
        if (st != VIRTIO_BLK_S_OK)
            return st;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *s = segs + (size_t)i * VIRTIO_BLK_DWZ_SEG_SIZE;
        uint64_t sector = hv_ld_le(s, 4) | (uint64_t)hv_ld_le(s + 4, 4) << 32;
        uint64_t num = hv_ld_le(s + 8, 4);

        if (!hv_budget(&r->b->vp.dev, 1) ||
            hv_blk_discard(r->b->backend, sector * VIRTIO_BLK_SECTOR_SIZE,
                           num * VIRTIO_BLK_SECTOR_SIZE))
            return VIRTIO_BLK_S_IOERR;
    }
    return VIRTIO_BLK_S_OK;
}

static uint8_t blk_dwz(struct blk_req *r, bool wz)
{
    uint64_t payload = r->e->read_len - VIRTIO_BLK_REQ_HDR_SIZE;
    unsigned bit = wz ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD;
    uint8_t *segs, st;

    if (!virtio_pci_has_feature(&r->b->vp, bit))
        return VIRTIO_BLK_S_UNSUPP;
    if (payload == 0 || payload % VIRTIO_BLK_DWZ_SEG_SIZE)
        return VIRTIO_BLK_S_IOERR;
    if (payload / VIRTIO_BLK_DWZ_SEG_SIZE > r->b->dwz_max_seg)
        return VIRTIO_BLK_S_UNSUPP;
    segs = malloc(payload);
    if (!segs)
        return VIRTIO_BLK_S_IOERR;
    st = virtq_elem_read(r->vq, r->e, VIRTIO_BLK_REQ_HDR_SIZE, segs, payload)
             ? VIRTIO_BLK_S_IOERR
             : dwz_run(r, segs, (uint32_t)(payload / VIRTIO_BLK_DWZ_SEG_SIZE), wz);
    free(segs);
    return st;
}

static uint8_t blk_execute(struct blk_req *r)
{
    switch (r->type) {
    case VIRTIO_BLK_T_IN:
        return blk_rw(r, false);
    case VIRTIO_BLK_T_OUT:
        return blk_rw(r, true);
    case VIRTIO_BLK_T_FLUSH:
        return hv_blk_flush(r->b->backend) ? VIRTIO_BLK_S_IOERR
                                           : VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_GET_ID:
        return blk_get_id(r);
    case VIRTIO_BLK_T_DISCARD:
        return blk_dwz(r, false);
    case VIRTIO_BLK_T_WRITE_ZEROES:
        return blk_dwz(r, true);
    default:
        return VIRTIO_BLK_S_UNSUPP;
    }
}

static void blk_complete(struct virtio_blk *b, uint16_t q, struct virtq *vq,
                         uint8_t status)
{
    const struct virtq_elem *e = &b->elem;
    uint32_t len = e->write_len > UINT32_MAX ? UINT32_MAX
                                             : (uint32_t)e->write_len;

    if (virtq_elem_write(vq, e, e->write_len - 1, &status, 1)) {
        virtq_set_error(vq, "virtio-blk status write failed (DMA)");
        return;
    }
    if (virtq_push(vq, e, len) == 0 && virtq_should_notify(vq))
        virtio_pci_notify_queue(&b->vp, q);
}

static void blk_handle(struct virtio_blk *b, uint16_t q, struct virtq *vq)
{
    const struct virtq_elem *e = &b->elem;
    struct blk_req r = {.b = b, .vq = vq, .e = e};
    uint8_t hdr[VIRTIO_BLK_REQ_HDR_SIZE], status;

    if (e->read_len < VIRTIO_BLK_REQ_HDR_SIZE || e->write_len < 1) {
        virtq_set_error(vq, "virtio-blk request without header or status");
        return;
    }
    if (virtq_elem_read(vq, e, 0, hdr, sizeof(hdr))) {
        status = VIRTIO_BLK_S_IOERR;
    } else {
        r.type = hv_ld_le(hdr, 4);
        r.sector = hv_ld_le(hdr + 8, 4) | (uint64_t)hv_ld_le(hdr + 12, 4) << 32;
        status = blk_execute(&r);
    }
    hv_trace(b->vp.dev.machine,
             "virtio-blk vq%u req head=%u type=%u sector=%llu status=%u", q,
             e->head, r.type, (unsigned long long)r.sector, status);
    blk_complete(b, q, vq, status);
}

static void blk_kick(struct virtio_pci *vp, uint16_t q)
{
    struct virtio_blk *b = to_blk(vp);
    struct virtq *vq = virtio_pci_vq(vp, q);

    for (uint32_t n = 0; vq && n < vq->size; n++) {
        if (virtq_pop(vq, &b->elem) <= 0)
            break;
        blk_handle(b, q, vq);
        if (vq->broken)
            break;
    }
}

/* ---- lifecycle ------------------------------------------------------------- */

static void blk_reset(struct virtio_pci *vp, bool power_on)
{
    struct virtio_blk *b = to_blk(vp);

    b->wce = true; /* QEMU: the drive's original cache mode (writeback) */
    if (power_on && b->backend->ops->reset)
        b->backend->ops->reset(b->backend);
}

static void blk_restored(struct virtio_pci *vp)
{
    struct virtio_blk *b = to_blk(vp);

    if (b->backend->ops->reset)
        b->backend->ops->reset(b->backend);
}

static void blk_destroy(struct virtio_pci *vp)
{
    struct virtio_blk *b = to_blk(vp);

    virtq_elem_free(&b->elem);
    if (b->backend)
        b->backend->ops->destroy(b->backend);
    b->backend = NULL;
}

static const struct virtio_dev_ops virtio_blk_ops = {
    .get_config = blk_get_config,
    .set_config = blk_set_config,
    .status_changed = blk_status_changed,
    .queue_kick = blk_kick,
    .reset = blk_reset,
    .restored = blk_restored,
    .destroy = blk_destroy,
};

static struct virtio_pci_params blk_pci_params(const struct virtio_blk_params *p,
                                               const struct hv_blk *backend)
{
    uint16_t nq = p->num_queues ? p->num_queues : 1;
    uint64_t f = BLK_FEATURES;

    if (nq > 1)
        f |= 1ull << VIRTIO_BLK_F_MQ;
    if (backend->read_only)
        f |= 1ull << VIRTIO_BLK_F_RO;
    return (struct virtio_pci_params){
        .name = "virtio-blk",
        .virtio_id = VIRTIO_ID_BLOCK,
        .pci_device_id = VIRTIO_PCI_DEVICE_ID_BLK_TRANSITIONAL,
        .class_code = VIRTIO_PCI_CLASS_STORAGE_SCSI,
        .num_queues = nq,
        .queue_max_size = p->queue_size ? p->queue_size
                                        : VIRTIO_BLK_DEFAULT_QUEUE_SIZE,
        .config_len = VIRTIO_BLK_CFG_LEN,
        .state_size = sizeof(struct virtio_blk),
        .device_features = f,
    };
}

static void blk_set_identity(struct virtio_blk *b,
                             const struct virtio_blk_params *p)
{
    const char *s = p->serial ? p->serial : VIRTIO_BLK_DEFAULT_SERIAL;
    uint16_t qsz = b->vp.p.queue_max_size;

    b->capacity = b->backend->size / VIRTIO_BLK_SECTOR_SIZE;
    b->seg_max = qsz > 2 ? qsz - 2u : 1u;
    b->dwz_max_seg = p->dwz_max_seg ? p->dwz_max_seg : 1;
    strncpy(b->serial, s, sizeof(b->serial)); /* NUL-padded, not terminated */
}

hv_dev *virtio_blk_create_ex(hv_machine *m, const struct virtio_blk_params *p)
{
    static const struct virtio_blk_params defaults = {0};
    struct virtio_blk *b;
    struct hv_blk *bk;
    struct virtio_pci_params pp;

    p = p ? p : &defaults;
    bk = p->backend ? p->backend
                    : hv_ramdisk_create(p->disk_size ? p->disk_size
                                                     : VIRTIO_BLK_DEFAULT_DISK_SIZE);
    b = bk ? calloc(1, sizeof(*b)) : NULL;
    if (!b)
        goto fail;
    b->backend = bk;
    pp = blk_pci_params(p, bk);
    if (virtio_pci_init(&b->vp, m, &virtio_blk_ops, &pp) < 0)
        goto fail;
    if (virtq_elem_init(&b->elem, pp.queue_max_size) < 0) {
        b->vp.dev.ops->destroy(&b->vp.dev);
        return NULL;
    }
    blk_set_identity(b, p);
    virtio_pci_reset(&b->vp, false);
    return &b->vp.dev;
fail:
    free(b);
    if (bk)
        bk->ops->destroy(bk);
    return NULL;
}

hv_dev *virtio_blk_create(hv_machine *m)
{
    return virtio_blk_create_ex(m, NULL);
}
