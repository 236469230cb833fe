/*
 * In-memory packet sink: counts frames and bytes and keeps copies of the
 * last HV_NETSINK_KEEP frames (bounded memory), for tests and for fuzz
 * targets that only need the device's side effects. Deterministic.
 */
#include "targets/common/hv_net.h"

#include <stdlib.h>
#include <string.h>

int hv_net_tx(struct hv_net *n, const uint8_t *frame, size_t len)
{
    if (!n || !n->ops->tx || len == 0 || len > HV_NET_MAX_FRAME)
        return -1;
    return n->ops->tx(n, frame, len);
}

static struct hv_netsink *to_sink(struct hv_net *n)
{
    return (struct hv_netsink *)n;
}

/* Slot buffers grow to the largest frame they held and are reused, so a
 * fuzzing run that sends millions of frames allocates nothing per frame. */
static int sink_tx(struct hv_net *n, const uint8_t *frame, size_t len)
{
    struct hv_netsink *s = to_sink(n);
    struct hv_netsink_frame *f = &s->keep[s->next];

    s->frames++;
    s->bytes += len;
    if (len > f->cap) {
        uint8_t *bigger = malloc(len);

        if (!bigger) /* still counted; the copy is best effort */
            return 0;
        free(f->data);
        f->data = bigger;
        f->cap = len;
    }
    memcpy(f->data, frame, len);
    f->len = len;
    s->next = (s->next + 1) % HV_NETSINK_KEEP;
    return 0;
}

static void sink_reset(struct hv_net *n)
{
    struct hv_netsink *s = to_sink(n);

    s->frames = s->bytes = 0;
    s->next = 0;
    for (unsigned i = 0; i < HV_NETSINK_KEEP; i++)
        s->keep[i].len = 0;
}

static void sink_destroy(struct hv_net *n)
{
    struct hv_netsink *s = to_sink(n);

    for (unsigned i = 0; i < HV_NETSINK_KEEP; i++)
        free(s->keep[i].data);
    free(n);
}

static const struct hv_net_ops netsink_ops = {
    .tx = sink_tx,
    .reset = sink_reset,
    .destroy = sink_destroy,
};

struct hv_netsink *hv_netsink_create(void)
{
    struct hv_netsink *s = calloc(1, sizeof(*s));

    if (s)
        s->net.ops = &netsink_ops;
    return s;
}

const struct hv_netsink_frame *hv_netsink_recent(const struct hv_netsink *s,
                                                 unsigned ago)
{
    unsigned slot;

    if (ago >= HV_NETSINK_KEEP || ago >= s->frames)
        return NULL;
    slot = (s->next + HV_NETSINK_KEEP - 1 - ago) % HV_NETSINK_KEEP;
    return s->keep[slot].len ? &s->keep[slot] : NULL;
}
