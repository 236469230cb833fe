/*
 * vhost-user message handlers (QEMU docs/interop/vhost-user.rst, "Front-end
 * message types"). Every index, size and address the front-end sends is
 * checked before use; a failed check is logged with the request's name and
 * answered with a non-zero REPLY_ACK when the front-end asked for one.
 */
#include "harness/serve/vu_session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness/serve/serve.h"
#include "targets/virtio/virtio_regs.h"

#define PROTOCOL_OFFERED                                                       \
    ((1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) |          \
     (1ull << VU_PROTOCOL_F_CONFIG) | (1ull << VU_PROTOCOL_F_RESET_DEVICE))
#define F_PROTOCOL (1ull << VU_F_PROTOCOL_FEATURES)

static int fail(struct vu_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The first failure of a message is its cause: later ones keep it. */
static int fail(struct vu_session *s, const char *fmt, ...)
{
    va_list ap;

    if (s->err[0])
        return -1;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    return -1;
}

/* A reply that cannot be sent ends the connection. */
static int replied(struct vu_session *s, int rc)
{
    if (rc == 0)
        return 0;
    s->dead = true;
    return fail(s, "cannot send the reply: %s", strerror(errno));
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void ring_clear(struct vu_ring *r)
{
    memset(r, 0, sizeof(*r));
    r->kick_fd = r->call_fd = r->err_fd = -1;
}

static void signal_fd(int fd)
{
    uint64_t one = 1;

    if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        serve_log("eventfd write: %s", strerror(errno));
}

/* ---- interrupts from the model ------------------------------------------ */

static void report_device_error(struct vu_session *s)
{
    const char *why = vproxy_error(s->px);

    if (!why || s->error_reported)
        return;
    s->error_reported = true;
    serve_log("device error, the model set DEVICE_NEEDS_RESET: %s", why);
    for (uint16_t i = 0; i < s->nrings; i++)
        signal_fd(s->ring[i].err_fd);
}

static void on_msi(void *opaque, hv_dev *dev, uint16_t vector)
{
    struct vu_session *s = opaque;

    (void)dev;
    if (vector < s->nrings)
        signal_fd(s->ring[vector].call_fd);
    else
        report_device_error(s);
}

/* ---- recording (--record; format in vu_session.h) ------------------------- */

#define REC_ELEM_CAP 1024u /* segments per recorded chain */

static void rec_line(struct vu_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "T <what>\n" (no newline in fmt). */
static void rec_line(struct vu_session *s, const char *fmt, ...)
{
    struct timespec ts;
    va_list ap;

    if (!s->rec)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    fprintf(s->rec, "%llu ", (unsigned long long)ts.tv_sec * 1000000ull +
                                 (unsigned long long)ts.tv_nsec / 1000u);
    va_start(ap, fmt);
    vfprintf(s->rec, fmt, ap);
    va_end(ap);
    fputc('\n', s->rec);
    fflush(s->rec);
}

static void rec_hex(FILE *f, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", b[i]);
}

/* One popped chain of the copy `c` (its element in s->rec_elem). */
static void rec_chain(struct vu_session *s, struct virtq *c)
{
    const struct virtq_elem *e = &s->rec_elem;
    uint8_t fl[2] = {0, 0}, *buf;
    uint64_t keep = e->read_len < s->rec_max ? e->read_len : s->rec_max;
    struct timespec ts;

    /* Was the head an indirect table? (the walk does not say) */
    hv_dma_read(c->dev, c->desc + (uint64_t)e->head * 16u + 12u, fl, 2);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    fprintf(s->rec, "%llu req %u head=%u ",
            (unsigned long long)ts.tv_sec * 1000000ull +
                (unsigned long long)ts.tv_nsec / 1000u,
            c->index, e->head);
    for (uint16_t i = 0; i < e->nsegs; i++)
        fprintf(s->rec, "%s%c%u", i ? "," : "", e->segs[i].writable ? 'w' : 'r',
                e->segs[i].len);
    if (!e->nsegs)
        fputc('-', s->rec);
    if (hv_ld_le(fl, 2) & VIRTQ_DESC_F_INDIRECT)
        fputs(" indirect", s->rec);
    if (keep < e->read_len)
        fprintf(s->rec, " trunc=%llu", (unsigned long long)e->read_len);
    buf = keep ? malloc(keep) : NULL;
    if (keep && (!buf || virtq_elem_read(c, e, 0, buf, keep))) {
        fputs(" data-unreadable", s->rec);
        keep = 0;
    }
    fputs(" data=hex:", s->rec);
    rec_hex(s->rec, buf, keep);
    fputc('\n', s->rec);
    free(buf);
}

/*
 * The chain the model popped last from queue q, read again through the
 * model's own virtq API on a copy of the queue one slot back: nothing of
 * the model changes (no avail_event write, its budget restored). Called
 * from the model's request trace event, before it pushes the used entry,
 * so the chain still belongs to the device (the driver cannot have reused
 * its descriptors yet).
 */
static void rec_popped(struct vu_session *s, uint16_t q)
{
    struct virtq *vq = virtio_pci_vq(s->px->vp, q);
    struct virtq c;
    hv_machine *m = s->px->m;
    uint32_t used = m->work_used;
    bool spent = m->budget_spent;

    if (!vq)
        return;
    c = *vq;
    c.last_avail_idx = (uint16_t)(vq->last_avail_idx - 1);
    c.inflight = 0;
    c.event_idx = false;
    m->work_used = 0;
    if (virtq_pop(&c, &s->rec_elem) == 1)
        rec_chain(s, &c);
    else
        rec_line(s, "error %u chain not readable again", q);
    m->work_used = used;
    m->budget_spent = spent;
    s->rec_count++;
}

/* The machine's trace while recording: the model's per-request event
 * ("virtio-blk vqQ req head=H ...") is recorded; every line still goes to
 * the server's own trace (--trace), except the recorder's own DMA. */
static void rec_trace(void *opaque, const char *line)
{
    struct vu_session *s = opaque;
    unsigned q, head;

    if (s->rec_busy)
        return;
    if (s->rec_prev_fn)
        s->rec_prev_fn(s->rec_prev_opaque, line);
    if (sscanf(line, "virtio-blk vq%u req head=%u", &q, &head) == 2 &&
        q < s->nrings) {
        s->rec_busy = true;
        rec_popped(s, (uint16_t)q);
        s->rec_busy = false;
    }
}

/* A kick of the model; recorded: "kick Q n=K" after the K chains it
 * popped (each recorded from the trace event, as the model handled it). */
static void kick_model(struct vu_session *s, uint16_t i)
{
    struct virtq *vq;

    if (!s->rec) {
        vproxy_kick(s->px, i);
        return;
    }
    s->rec_count = 0;
    vproxy_kick(s->px, i);
    if (s->rec_count)
        rec_line(s, "kick %u n=%u", i, s->rec_count);
    vq = virtio_pci_vq(s->px->vp, i);
    if (vq && vq->broken)
        rec_line(s, "error %u %s", i, vq->error ? vq->error : "device error");
    fflush(s->rec);
}

int vu_session_record(struct vu_session *s, const char *path,
                      const char *device, uint32_t data_max)
{
    s->rec = fopen(path, "w");
    if (!s->rec) {
        fprintf(stderr, "hvfuzz-serve: error: --record %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    if (virtq_elem_init(&s->rec_elem, REC_ELEM_CAP)) {
        fclose(s->rec);
        s->rec = NULL;
        fprintf(stderr, "hvfuzz-serve: error: out of memory\n");
        return -1;
    }
    s->rec_max = data_max;
    s->rec_prev_fn = s->px->m->trace_fn;
    s->rec_prev_opaque = s->px->m->trace_opaque;
    hv_machine_set_trace(s->px->m, rec_trace, s);
    fprintf(s->rec, "hvrec 1 %s queues=%u qmax=%u offered=0x%llx data_max=%u\n",
            device, s->px->num_queues, s->px->queue_max,
            (unsigned long long)s->px->offered, data_max);
    fflush(s->rec);
    return 0;
}

void vu_session_record_close(struct vu_session *s)
{
    if (!s->rec)
        return;
    if (s->px->m)
        hv_machine_set_trace(s->px->m, s->rec_prev_fn, s->rec_prev_opaque);
    fclose(s->rec);
    s->rec = NULL;
    virtq_elem_free(&s->rec_elem);
}

/* ---- rings ---------------------------------------------------------------- */

static bool ring_wanted(const struct vu_session *s, const struct vu_ring *r)
{
    bool enabled = r->enabled || !(s->features & F_PROTOCOL);

    return s->features_set && s->mem.n && r->num && r->addr_set &&
           r->kick_fd >= 0 && enabled;
}

static int ring_gpa(struct vu_session *s, uint16_t i, const char *what,
                    uint64_t uva, uint64_t *gpa)
{
    if (vu_mem_uva_to_gpa(&s->mem, uva, gpa))
        return fail(s, "vring %u: %s address 0x%llx is in no memory region", i,
                    what, (unsigned long long)uva);
    return 0;
}

static int ring_start(struct vu_session *s, uint16_t i)
{
    struct vu_ring *r = &s->ring[i];
    uint64_t desc, avail, used;

    if (ring_gpa(s, i, "descriptor table", r->desc_uva, &desc) ||
        ring_gpa(s, i, "available ring", r->avail_uva, &avail) ||
        ring_gpa(s, i, "used ring", r->used_uva, &used))
        return -1;
    if (desc == 0) /* virtio-pci: a queue_desc of 0 means "not set up" */
        return fail(s, "vring %u: descriptor table at guest address 0", i);
    vproxy_queue_start(s->px, i, r->num, desc, avail, used, r->base);
    r->live = true;
    rec_line(s, "ring %u size=%u base=%u", i, r->num, r->base);
    if (serve_verbose)
        serve_log("vring %u started: size %u, base %u, desc 0x%llx", i, r->num,
                  r->base, (unsigned long long)desc);
    kick_model(s, i); /* buffers made available before the start */
    report_device_error(s);
    return 0;
}

static void ring_stop(struct vu_session *s, uint16_t i)
{
    struct vu_ring *r = &s->ring[i];

    if (!r->live)
        return;
    r->base = vproxy_queue_stop(s->px, i);
    r->live = false;
    rec_line(s, "stop %u base=%u", i, r->base);
}

static int ring_sync(struct vu_session *s, uint16_t i)
{
    struct vu_ring *r = &s->ring[i];
    bool want = ring_wanted(s, r);

    if (want && !r->live)
        return ring_start(s, i);
    if (!want && r->live)
        ring_stop(s, i);
    return 0;
}

static int sync_all(struct vu_session *s)
{
    int rc = 0;

    for (uint16_t i = 0; i < s->nrings; i++)
        rc |= ring_sync(s, i);
    return rc;
}

static void stop_all(struct vu_session *s)
{
    for (uint16_t i = 0; i < s->nrings; i++)
        ring_stop(s, i);
}

static int ring_index(struct vu_session *s, uint64_t index)
{
    if (index >= s->nrings)
        return fail(s, "vring index %llu out of range (the device has %u "
                       "queue%s)", (unsigned long long)index, s->nrings,
                    s->nrings == 1 ? "" : "s");
    return 0;
}

void vu_session_kick(struct vu_session *s, uint16_t i)
{
    struct vu_ring *r;
    uint64_t v;
    ssize_t n;

    if (i >= s->nrings || s->ring[i].kick_fd < 0)
        return;
    r = &s->ring[i];
    n = read(r->kick_fd, &v, sizeof(v));
    if (n == 0 || (n < 0 && errno != EAGAIN)) { /* not a live eventfd */
        serve_log("vring %u: the kick descriptor is closed or broken (%s); "
                  "the ring stops", i, n == 0 ? "end of file" : strerror(errno));
        close_fd(&r->kick_fd);
        ring_sync(s, i);
        return;
    }
    if (r->live)
        kick_model(s, i);
    report_device_error(s);
}

/* ---- features, owner, reset ----------------------------------------------- */

static int get_features(struct vu_session *s, struct vu_msg *m)
{
    return replied(s, vu_reply_u64(s->sock, m, s->px->offered | F_PROTOCOL));
}

static int set_features(struct vu_session *s, struct vu_msg *m)
{
    uint64_t f, extra;

    if (vu_get_u64(m, &f))
        return fail(s, "payload of %u bytes, expected 8", m->size);
    extra = f & ~(s->px->offered | F_PROTOCOL);
    if (extra)
        return fail(s, "features 0x%llx were not offered (offered 0x%llx)",
                    (unsigned long long)extra,
                    (unsigned long long)(s->px->offered | F_PROTOCOL));
    /* Unchanged: keep the rings running, unless the device needs a reset
     * (front-ends send SET_FEATURES on every device start). */
    if (s->features_set && f == s->features && !vproxy_error(s->px))
        return 0;
    stop_all(s);
    s->features = f;
    s->features_set = vproxy_negotiate(s->px, f & ~F_PROTOCOL) == 0;
    s->error_reported = false;
    rec_line(s, "%s 0x%llx", s->features_set ? "features" : "refused",
             (unsigned long long)(f & ~F_PROTOCOL));
    if (!s->features_set)
        return fail(s, "the device refused features 0x%llx (FEATURES_OK not "
                       "accepted; VIRTIO_F_VERSION_1 is required)",
                    (unsigned long long)(f & ~F_PROTOCOL));
    return sync_all(s);
}

static int get_protocol_features(struct vu_session *s, struct vu_msg *m)
{
    return replied(s, vu_reply_u64(s->sock, m,
                                   PROTOCOL_OFFERED & ~s->protocol_hidden));
}

static int set_protocol_features(struct vu_session *s, struct vu_msg *m)
{
    uint64_t f;

    if (vu_get_u64(m, &f))
        return fail(s, "payload of %u bytes, expected 8", m->size);
    if (f & ~(PROTOCOL_OFFERED & ~s->protocol_hidden))
        return fail(s, "protocol features 0x%llx were not offered (offered "
                       "0x%llx)",
                    (unsigned long long)(f & ~(PROTOCOL_OFFERED &
                                               ~s->protocol_hidden)),
                    (unsigned long long)(PROTOCOL_OFFERED & ~s->protocol_hidden));
    s->protocol = f;
    return 0;
}

static int get_queue_num(struct vu_session *s, struct vu_msg *m)
{
    return replied(s, vu_reply_u64(s->sock, m, s->nrings));
}

static int set_owner(struct vu_session *s, struct vu_msg *m)
{
    (void)s;
    (void)m;
    return 0;
}

/* Deprecated; "disable all rings" is the recommended reading: stopped
 * until their next SET_VRING_KICK. */
static int reset_owner(struct vu_session *s, struct vu_msg *m)
{
    (void)m;
    stop_all(s);
    for (uint16_t i = 0; i < s->nrings; i++)
        close_fd(&s->ring[i].kick_fd);
    return 0;
}

static int reset_device(struct vu_session *s, struct vu_msg *m)
{
    (void)m;
    stop_all(s);
    for (uint16_t i = 0; i < s->nrings; i++) {
        struct vu_ring *r = &s->ring[i];

        close_fd(&r->kick_fd);
        close_fd(&r->call_fd);
        close_fd(&r->err_fd);
        ring_clear(r);
    }
    s->features_set = false;
    s->error_reported = false;
    vproxy_reset(s->px);
    rec_line(s, "reset");
    return 0;
}

/* ---- memory table ---------------------------------------------------------- */

static int set_mem_table(struct vu_session *s, struct vu_msg *m)
{
    struct hv_ram_region ram[VU_MAX_REGIONS];
    unsigned n;
    int rc;

    stop_all(s);
    rc = vu_mem_set(&s->mem, m, s->err, sizeof(s->err));
    n = vu_mem_ram_regions(&s->mem, ram);
    if (hv_machine_set_ram_regions(s->px->m, ram, n))
        return fail(s, "the machine refused the memory table");
    if (rc == 0 && serve_verbose)
        for (unsigned i = 0; i < n; i++)
            serve_log("memory region %u: gpa 0x%llx size 0x%llx", i,
                      (unsigned long long)ram[i].gpa,
                      (unsigned long long)ram[i].size);
    return sync_all(s) | rc;
}

/* ---- vring set-up ------------------------------------------------------------ */

static int get_state(struct vu_session *s, struct vu_msg *m,
                     struct vu_state *st)
{
    if (vu_get_state(m, st))
        return fail(s, "payload of %u bytes, expected 8", m->size);
    return ring_index(s, st->index);
}

static int set_vring_num(struct vu_session *s, struct vu_msg *m)
{
    struct vu_state st;
    uint16_t max = s->px->queue_max;

    if (get_state(s, m, &st))
        return -1;
    if (s->ring[st.index].live)
        return fail(s, "vring %u is running", st.index);
    if (st.num == 0 || st.num > max || (st.num & (st.num - 1)))
        return fail(s, "vring %u: size %u is not a power of two in 1..%u "
                       "(the model's largest ring; see --queue-size)",
                    st.index, st.num, max);
    s->ring[st.index].num = (uint16_t)st.num;
    return ring_sync(s, (uint16_t)st.index);
}

static int set_vring_base(struct vu_session *s, struct vu_msg *m)
{
    struct vu_state st;

    if (get_state(s, m, &st))
        return -1;
    if (s->ring[st.index].live)
        return fail(s, "vring %u is running", st.index);
    if (st.num > UINT16_MAX)
        return fail(s, "vring %u: base %u above 65535", st.index, st.num);
    s->ring[st.index].base = (uint16_t)st.num;
    return 0;
}

static int get_vring_base(struct vu_session *s, struct vu_msg *m)
{
    struct vu_state st = {0, 0};
    uint8_t out[VU_STATE_SIZE];
    int rc = get_state(s, m, &st);

    if (rc == 0) {
        struct vu_ring *r = &s->ring[st.index];

        ring_stop(s, (uint16_t)st.index);
        st.num = r->base;
        close_fd(&r->kick_fd); /* stopped until the next SET_VRING_KICK */
        close_fd(&r->call_fd);
        close_fd(&r->err_fd);
    }
    memcpy(out, &st.index, 4);
    memcpy(out + 4, &st.num, 4);
    return replied(s, vu_reply(s->sock, m, out, sizeof(out))) | rc;
}

static int set_vring_addr(struct vu_session *s, struct vu_msg *m)
{
    struct vu_addr a;
    struct vu_ring *r;

    if (vu_get_addr(m, &a))
        return fail(s, "payload of %u bytes, expected 40", m->size);
    if (ring_index(s, a.index))
        return -1;
    r = &s->ring[a.index];
    ring_stop(s, (uint16_t)a.index);
    r->desc_uva = a.desc;
    r->avail_uva = a.avail;
    r->used_uva = a.used;
    r->addr_set = true;
    return ring_sync(s, (uint16_t)a.index);
}

static int set_vring_enable(struct vu_session *s, struct vu_msg *m)
{
    struct vu_state st;

    if (get_state(s, m, &st))
        return -1;
    if (st.num > 1)
        return fail(s, "vring %u: enable value %u is neither 0 nor 1",
                    st.index, st.num);
    s->ring[st.index].enabled = st.num;
    return ring_sync(s, (uint16_t)st.index);
}

/* SET_VRING_KICK / CALL / ERR: index in bits 0-7, bit 8 "no fd". */
static int vring_fd(struct vu_session *s, struct vu_msg *m, int **slot,
                    int *fd)
{
    uint64_t v;
    uint16_t i;

    *fd = -1;
    if (vu_get_u64(m, &v))
        return fail(s, "payload of %u bytes, expected 8", m->size);
    if (v & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD))
        return fail(s, "reserved bits set in 0x%llx", (unsigned long long)v);
    if (ring_index(s, v & VU_VRING_IDX_MASK))
        return -1;
    if (!(v & VU_VRING_NOFD) && m->nfds != 1)
        return fail(s, "expected one file descriptor, got %u", m->nfds);
    i = (uint16_t)(v & VU_VRING_IDX_MASK);
    if (!(v & VU_VRING_NOFD) && fcntl(m->fds[0], F_SETFL, O_NONBLOCK))
        return fail(s, "vring %u: unusable file descriptor: %s", i,
                    strerror(errno));
    if (m->request == VU_SET_VRING_KICK && (v & VU_VRING_NOFD))
        return fail(s, "vring %u: polling (no kick descriptor) is not "
                       "supported", i);
    *slot = m->request == VU_SET_VRING_KICK   ? &s->ring[i].kick_fd
            : m->request == VU_SET_VRING_CALL ? &s->ring[i].call_fd
                                              : &s->ring[i].err_fd;
    *fd = (v & VU_VRING_NOFD) ? -1 : vu_take_fd(m, 0);
    return i;
}

static int set_vring_fd(struct vu_session *s, struct vu_msg *m)
{
    int *slot = NULL, fd;
    int i = vring_fd(s, m, &slot, &fd);

    if (i < 0)
        return -1;
    close_fd(slot);
    *slot = fd;
    return m->request == VU_SET_VRING_KICK ? ring_sync(s, (uint16_t)i) : 0;
}

/* ---- device configuration ---------------------------------------------------- */

static int config_hdr(struct vu_session *s, const struct vu_msg *m,
                      uint32_t *off, uint32_t *len, uint32_t *flags)
{
    if (m->size < VU_CONFIG_HDR_SIZE)
        return fail(s, "payload of %u bytes, shorter than its header",
                    m->size);
    memcpy(off, m->payload, 4);
    memcpy(len, m->payload + 4, 4);
    memcpy(flags, m->payload + 8, 4);
    if (*len > VU_MAX_CONFIG || m->size != VU_CONFIG_HDR_SIZE + *len ||
        (uint64_t)*off + *len > VU_MAX_CONFIG)
        return fail(s, "offset %u size %u in a payload of %u bytes (at most "
                       "256 bytes of configuration)", *off, *len, m->size);
    return 0;
}

static int get_config(struct vu_session *s, struct vu_msg *m)
{
    uint8_t out[VU_CONFIG_HDR_SIZE + VU_MAX_CONFIG];
    uint32_t off, len, flags;
    int rc = config_hdr(s, m, &off, &len, &flags);

    if (rc) /* a reply without payload signals the error */
        return replied(s, vu_reply(s->sock, m, NULL, 0)) | rc;
    memcpy(out, m->payload, VU_CONFIG_HDR_SIZE);
    vproxy_config_read(s->px, off, out + VU_CONFIG_HDR_SIZE, len);
    return replied(s, vu_reply(s->sock, m, out, VU_CONFIG_HDR_SIZE + len));
}

/* The model itself ignores writes to read-only fields. */
static int set_config(struct vu_session *s, struct vu_msg *m)
{
    uint32_t off, len, flags;

    if (config_hdr(s, m, &off, &len, &flags))
        return -1;
    if (flags > 1)
        return fail(s, "unknown flags 0x%x", flags);
    vproxy_config_write(s->px, off, m->payload + VU_CONFIG_HDR_SIZE, len);
    if (s->rec) {
        char hex[2 * VU_MAX_CONFIG + 1] = "";

        for (uint32_t i = 0; i < len; i++)
            snprintf(hex + 2 * i, 3, "%02x", m->payload[VU_CONFIG_HDR_SIZE + i]);
        rec_line(s, "config 0x%x hex:%s", off, hex);
    }
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------ */

typedef int (*handler_fn)(struct vu_session *s, struct vu_msg *m);

struct handler {
    handler_fn fn;
    bool replies; /* sends its own reply (no REPLY_ACK) */
};

static const struct handler *find_handler(uint32_t request)
{
    static const struct handler table[] = {
        [VU_GET_FEATURES] = {get_features, true},
        [VU_SET_FEATURES] = {set_features, false},
        [VU_SET_OWNER] = {set_owner, false},
        [VU_RESET_OWNER] = {reset_owner, false},
        [VU_SET_MEM_TABLE] = {set_mem_table, false},
        [VU_SET_VRING_NUM] = {set_vring_num, false},
        [VU_SET_VRING_ADDR] = {set_vring_addr, false},
        [VU_SET_VRING_BASE] = {set_vring_base, false},
        [VU_GET_VRING_BASE] = {get_vring_base, true},
        [VU_SET_VRING_KICK] = {set_vring_fd, false},
        [VU_SET_VRING_CALL] = {set_vring_fd, false},
        [VU_SET_VRING_ERR] = {set_vring_fd, false},
        [VU_GET_PROTOCOL_FEATURES] = {get_protocol_features, true},
        [VU_SET_PROTOCOL_FEATURES] = {set_protocol_features, false},
        [VU_GET_QUEUE_NUM] = {get_queue_num, true},
        [VU_SET_VRING_ENABLE] = {set_vring_enable, false},
        [VU_GET_CONFIG] = {get_config, true},
        [VU_SET_CONFIG] = {set_config, false},
        [VU_RESET_DEVICE] = {reset_device, false},
    };

    if (request < sizeof(table) / sizeof(table[0]) && table[request].fn)
        return &table[request];
    return NULL;
}

int vu_session_handle(struct vu_session *s, struct vu_msg *m)
{
    const struct handler *h = find_handler(m->request);
    bool ack = (s->protocol & (1ull << VU_PROTOCOL_F_REPLY_ACK)) &&
               (m->flags & VU_FLAG_NEED_REPLY);
    int rc;

    s->err[0] = 0;
    s->dead = false;
    if (serve_verbose)
        serve_log("<- %s (%u bytes, %u fds)", vu_request_name(m->request),
                  m->size, m->nfds);
    rc = h ? h->fn(s, m)
           : fail(s, "request %u is not supported", m->request);
    if (rc < 0)
        serve_log("%s: %s", vu_request_name(m->request), s->err);
    vu_close_fds(m);
    if (ack && !(h && h->replies) && vu_reply_u64(s->sock, m, rc < 0 ? 1 : 0))
        s->dead = true;
    return s->dead ? -1 : 0;
}

/* ---- lifetime ------------------------------------------------------------------ */

void vu_session_init(struct vu_session *s, struct vproxy *px)
{
    memset(s, 0, sizeof(*s));
    s->sock = -1;
    s->px = px;
    s->nrings = px->num_queues;
    for (uint16_t i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++)
        ring_clear(&s->ring[i]);
    hv_machine_set_msi_sink(px->m, on_msi, s);
}

void vu_session_begin(struct vu_session *s, int sock)
{
    s->sock = sock;
}

void vu_session_end(struct vu_session *s)
{
    reset_device(s, NULL);
    vu_mem_clear(&s->mem);
    hv_machine_set_ram_regions(s->px->m, NULL, 0);
    s->protocol = 0;
    s->features = 0;
    close_fd(&s->sock);
}
