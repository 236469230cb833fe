/*
 * `hvfuzz-serve virtio-net --vhost-user SOCKET [--pcap FILE]`: see vu_net.h.
 *
 * The model is created exactly as harness/host does for a NIC with a pcap
 * backend (virtio_net_create_ex with the backend), except that the backend
 * is wrapped in a tap owned by the server:
 *  - its reset does nothing: the pcap holds every frame the server saw,
 *    across device resets and front-ends (the model resets its backend on
 *    power-on, and the pcap writer's reset truncates the file);
 *  - --inject-fault corrupt-tx flips the low bit of the last byte of every
 *    frame before it is written (the real-driver test must notice);
 *  - --verbose logs each frame's length.
 *
 * RX (--rx-pcap FILE): the file's frames (classic pcap, Ethernet, either
 * byte order, at most RX_MAX_FRAMES) are read at start and handed to the
 * model's receive path (its `rx` op, as hv_machine_rx_inject does) one
 * after the other, each once RX queue 0 runs with an available buffer; a
 * frame the model still refuses is dropped (logged). Each is delivered
 * once for the server's lifetime: a new front-end gets the ones left.
 * --rx-delay MS holds the first delivery until the RX ring has had a
 * buffer for MS milliseconds (a guest that just brought its link up may
 * not have its addresses and routes in place yet).
 */
#include "harness/serve/vu_net.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <time.h>

#include "harness/backends/hv_pcap.h"
#include "harness/serve/serve.h"
#include "targets/common/hv_net.h"
#include "targets/virtio/virtio_net.h"
#include "targets/virtio/virtio_pci.h"
#include "targets/virtio/virtio_regs.h"

#define RX_MAX_FRAMES 4096u

/* --rx-pcap: one server, one device. */
static struct {
    uint8_t **frame;
    uint32_t *len;
    unsigned n, next;
    unsigned long delivered, dropped;
    unsigned delay_ms;
    uint64_t ready_since; /* ms: RX queue first seen with a buffer; 0 */
    bool started;         /* the delay is over */
} rx;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + 1u;
}

struct net_tap {
    struct hv_net net;
    struct hv_net *inner; /* the pcap writer, or an in-memory sink */
    bool is_pcap;
    bool corrupt;
    bool error_logged;
    unsigned long frames;
    uint8_t *buf;         /* HV_NET_MAX_FRAME bytes, with corrupt */
};

static struct net_tap *to_tap(struct hv_net *n)
{
    return (struct net_tap *)n;
}

static int tap_tx(struct hv_net *n, const uint8_t *frame, size_t len)
{
    struct net_tap *t = to_tap(n);
    int rc;

    t->frames++;
    if (serve_verbose)
        serve_log("virtio-net: tx frame %lu, %zu bytes", t->frames, len);
    if (t->corrupt && len > 0 && len <= HV_NET_MAX_FRAME) {
        memcpy(t->buf, frame, len);
        t->buf[len - 1] ^= 0x01;
        frame = t->buf;
    }
    rc = hv_net_tx(t->inner, frame, len);
    if (rc && !t->error_logged) {
        t->error_logged = true;
        serve_log("virtio-net: frame %lu not written: %s", t->frames,
                  t->is_pcap && hv_pcap_error(t->inner)
                      ? hv_pcap_error(t->inner)
                      : "backend error");
    }
    return rc;
}

/* The file (or the count) covers the server's whole lifetime. */
static void tap_reset(struct hv_net *n)
{
    (void)n;
}

static void tap_destroy(struct hv_net *n)
{
    struct net_tap *t = to_tap(n);

    if (t->inner)
        t->inner->ops->destroy(t->inner);
    free(t->buf);
    free(t);
}

static const struct hv_net_ops tap_ops = {
    .tx = tap_tx,
    .reset = tap_reset,
    .destroy = tap_destroy,
};

static struct hv_net *tap_create(const struct serve_net_opts *o, char *err,
                                 size_t errlen)
{
    struct net_tap *t = calloc(1, sizeof(*t));

    if (!t || (o->corrupt_tx && !(t->buf = malloc(HV_NET_MAX_FRAME)))) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->net.ops = &tap_ops;
    t->corrupt = o->corrupt_tx;
    t->is_pcap = o->pcap != NULL;
    t->inner = o->pcap ? hv_pcap_create(o->pcap, err, errlen)
                       : (struct hv_net *)hv_netsink_create();
    if (!t->inner) {
        if (!o->pcap)
            snprintf(err, errlen, "out of memory");
        free(t->buf);
        free(t);
        return NULL;
    }
    return &t->net;
}

static void rx_free(void)
{
    for (unsigned i = 0; rx.frame && i < RX_MAX_FRAMES; i++)
        free(rx.frame[i]);
    free(rx.frame);
    free(rx.len);
    memset(&rx, 0, sizeof(rx));
}

static uint32_t rd32(const uint8_t *b, bool swap)
{
    uint32_t v;

    memcpy(&v, b, 4);
    return swap ? __builtin_bswap32(v) : v;
}

/* Classic pcap of Ethernet frames (micro- or nanosecond, either order). */
static int rx_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    uint8_t h[24];
    uint32_t magic;
    bool swap;

    if (!f) {
        snprintf(err, errlen, "--rx-pcap %s: %s", path, strerror(errno));
        return -1;
    }
    if (fread(h, 1, 24, f) != 24)
        goto bad;
    magic = rd32(h, false);
    swap = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
    if (!swap && magic != 0xa1b2c3d4u && magic != 0xa1b23c4du)
        goto bad;
    if (rd32(h + 20, swap) != HV_PCAP_LINKTYPE_ETHERNET) {
        snprintf(err, errlen, "--rx-pcap %s: link type %u, not Ethernet (1)",
                 path, rd32(h + 20, swap));
        fclose(f);
        return -1;
    }
    rx.frame = calloc(RX_MAX_FRAMES, sizeof(*rx.frame));
    rx.len = calloc(RX_MAX_FRAMES, sizeof(*rx.len));
    if (!rx.frame || !rx.len)
        goto oom;
    for (;;) {
        uint8_t r[16];
        size_t got = fread(r, 1, 16, f);
        uint32_t incl;

        if (got == 0 && feof(f))
            break;
        if (got != 16)
            goto bad;
        incl = rd32(r + 8, swap);
        if (incl == 0 || incl > HV_NET_MAX_FRAME || rx.n == RX_MAX_FRAMES) {
            snprintf(err, errlen, "--rx-pcap %s: frame %u: %s", path, rx.n + 1,
                     rx.n == RX_MAX_FRAMES
                         ? "more than 4096 frames"
                         : "empty or longer than 65600 bytes");
            fclose(f);
            rx_free();
            return -1;
        }
        rx.frame[rx.n] = malloc(incl);
        if (!rx.frame[rx.n])
            goto oom;
        if (fread(rx.frame[rx.n], 1, incl, f) != incl)
            goto bad;
        rx.len[rx.n++] = incl;
    }
    fclose(f);
    return 0;
oom:
    fclose(f);
    rx_free();
    snprintf(err, errlen, "out of memory");
    return -1;
bad:
    fclose(f);
    rx_free();
    snprintf(err, errlen, "--rx-pcap %s: not a classic pcap file or truncated",
             path);
    return -1;
}

/* RX queue 0 runs and the driver made a buffer available. */
static bool rx_has_buffer(hv_dev *dev)
{
    struct virtio_pci *vp = (struct virtio_pci *)dev;
    struct virtq *vq = virtio_pci_vq(vp, 0);
    uint8_t idx[2];

    if (!(vp->status & VIRTIO_STATUS_DRIVER_OK) || vp->broken || !vq ||
        !virtq_ready(vq) || hv_dma_read(dev, vq->avail + 2, idx, 2))
        return false;
    return hv_ld_le(idx, 2) != vq->last_avail_idx;
}

/* The delay: from the first time the ring had a buffer. */
static bool rx_may_deliver(hv_dev *dev)
{
    if (!rx_has_buffer(dev)) {
        if (!rx.started)
            rx.ready_since = 0; /* the delay restarts with the next buffer */
        return false;
    }
    if (rx.started)
        return true;
    if (!rx.ready_since)
        rx.ready_since = now_ms();
    rx.started = now_ms() - rx.ready_since >= rx.delay_ms;
    return rx.started;
}

int serve_net_rx_timeout(void)
{
    uint64_t now;

    if (rx.next >= rx.n || rx.started || !rx.ready_since)
        return -1;
    now = now_ms();
    return now - rx.ready_since >= rx.delay_ms
               ? 0
               : (int)(rx.ready_since + rx.delay_ms - now);
}

void serve_net_rx_pump(hv_dev *dev)
{
    while (rx.next < rx.n && rx_may_deliver(dev)) {
        unsigned i = rx.next++;
        bool ok;

        /* One frame is one "input": its own work budget (as a kick). */
        dev->machine->work_used = 0;
        dev->machine->budget_spent = false;
        dev->active++;
        ok = dev->ops->rx(dev, rx.frame[i], rx.len[i]);
        dev->active--;
        if (ok)
            rx.delivered++;
        else
            rx.dropped++;
        if (serve_verbose || !ok)
            serve_log("virtio-net: rx frame %u, %u bytes %s", i + 1, rx.len[i],
                      ok ? "delivered" : "not taken by the model: dropped");
        free(rx.frame[i]);
        rx.frame[i] = NULL;
    }
}

hv_dev *serve_net_create(hv_machine *m, const struct serve_net_opts *o,
                         char *err, size_t errlen)
{
    struct virtio_net_params p = {0};
    hv_dev *dev;

    if (o->rx_pcap && rx_load(o->rx_pcap, err, errlen))
        return NULL;
    rx.delay_ms = o->rx_delay_ms;
    p.backend = tap_create(o, err, errlen);
    if (!p.backend)
        return NULL;
    dev = virtio_net_create_ex(m, &p); /* destroys the backend on failure */
    if (!dev)
        snprintf(err, errlen, "cannot create the virtio-net model");
    return dev;
}

void serve_net_describe(hv_dev *dev, const struct serve_net_opts *o)
{
    (void)dev;
    if (o->rx_pcap)
        serve_log("virtio-net: %u frames of %s are delivered to the guest as "
                  "its RX ring takes them (from %u ms after its first buffer)",
                  rx.n, o->rx_pcap, rx.delay_ms);
    serve_log("virtio-net: frames the guest transmits go to %s%s%s",
              o->pcap ? o->pcap : "no file (counted only; see --pcap)",
              o->rx_pcap ? "" : "; nothing is received (RX buffers stay "
                                "posted)",
              o->corrupt_tx ? "; FAULT INJECTED: the last byte of every "
                              "transmitted frame is corrupted"
                            : "");
}

void serve_net_summary(hv_dev *dev)
{
    struct virtio_net_stats st;
    struct net_tap *t = to_tap(virtio_net_backend(dev));

    virtio_net_get_stats(dev, &st);
    if (rx.n)
        serve_log("virtio-net: %lu of %u --rx-pcap frames delivered to the "
                  "guest, %lu dropped", rx.delivered, rx.n, rx.dropped);
    rx_free();
    if (t->is_pcap)
        serve_log("virtio-net: %llu frames transmitted (%llu dropped by the "
                  "model), %lu written to the pcap%s%s",
                  (unsigned long long)st.tx_frames,
                  (unsigned long long)st.tx_dropped, hv_pcap_frames(t->inner),
                  hv_pcap_error(t->inner) ? "; " : "",
                  hv_pcap_error(t->inner) ? hv_pcap_error(t->inner) : "");
    else
        serve_log("virtio-net: %llu frames transmitted (%llu dropped by the "
                  "model)", (unsigned long long)st.tx_frames,
                  (unsigned long long)st.tx_dropped);
}
