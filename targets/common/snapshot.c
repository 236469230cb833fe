/*
 * Machine snapshots: guest-RAM pages written since reset, each device's
 * state (its save op), MSI-X table and PBA contents, the clock. Restoring
 * one is the "initialized" reset: inputs start after an init program
 * without replaying it (DESIGN.md, "The input format").
 */
#include "targets/common/hv_device.h"

#include <stdlib.h>
#include <string.h>

struct hv_snapshot {
    uint64_t clock_ns;
    size_t npages;
    uint32_t *page;  /* window page numbers */
    uint8_t *ram;    /* npages * HV_PAGE_SIZE */
    void *dev[HV_MAX_DEVICES];
    uint8_t *msix[HV_MAX_DEVICES]; /* table then PBA */
    unsigned ndevs;
};

static size_t window_pages(const hv_machine *m)
{
    return (m->dma_size + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE;
}

static size_t page_len(const hv_machine *m, size_t p)
{
    size_t start = p * HV_PAGE_SIZE;

    return m->dma_size - start < HV_PAGE_SIZE ? m->dma_size - start : HV_PAGE_SIZE;
}

static size_t msix_bytes(const hv_dev *d)
{
    return (size_t)d->msix.nvec * HV_MSIX_ENTRY_SIZE + ((size_t)d->msix.nvec + 63) / 64 * 8;
}

static int save_ram(const hv_machine *m, struct hv_snapshot *s)
{
    size_t n = 0, total = window_pages(m);

    for (size_t p = 0; p < total; p++)
        n += m->dirty[p] ? 1 : 0;
    s->page = calloc(n ? n : 1, sizeof(*s->page));
    s->ram = calloc(n ? n : 1, HV_PAGE_SIZE);
    if (!s->page || !s->ram)
        return -1;
    for (size_t p = 0; p < total; p++) {
        if (!m->dirty[p])
            continue;
        s->page[s->npages] = (uint32_t)p;
        memcpy(s->ram + s->npages * HV_PAGE_SIZE, m->ram + p * HV_PAGE_SIZE,
               page_len(m, p));
        s->npages++;
    }
    return 0;
}

static int save_msix(const hv_dev *d, uint8_t **out)
{
    size_t tlen = (size_t)d->msix.nvec * HV_MSIX_ENTRY_SIZE;

    *out = NULL;
    if (!d->msix.nvec)
        return 0;
    *out = malloc(msix_bytes(d));
    if (!*out)
        return -1;
    memcpy(*out, d->msix.table, tlen);
    memcpy(*out + tlen, d->msix.pba, msix_bytes(d) - tlen);
    return 0;
}

struct hv_snapshot *hv_machine_snapshot(hv_machine *m)
{
    struct hv_snapshot *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->clock_ns = m->clock_ns;
    s->ndevs = m->ndevs;
    if (save_ram(m, s) < 0)
        goto fail;
    for (unsigned i = 0; i < m->ndevs; i++) {
        hv_dev *d = m->devs[i];

        if (!d->ops->save || !d->ops->load || save_msix(d, &s->msix[i]) < 0 ||
            !(s->dev[i] = d->ops->save(d)))
            goto fail;
    }
    return s;
fail:
    hv_snapshot_free(s);
    return NULL;
}

void hv_snapshot_free(struct hv_snapshot *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->ndevs; i++) {
        free(s->dev[i]);
        free(s->msix[i]);
    }
    free(s->page);
    free(s->ram);
    free(s);
}

/* Pages written since the snapshot go back to zero, the snapshot's own
 * pages to their saved content; both stay recorded as dirty so the next
 * restore (or reset) sees them again. */
static void restore_ram(hv_machine *m, const struct hv_snapshot *s)
{
    size_t total = window_pages(m);

    for (size_t p = 0; p < total; p++) {
        if (m->dirty[p]) {
            memset(m->ram + p * HV_PAGE_SIZE, 0, page_len(m, p));
            m->dirty[p] = 0;
        }
    }
    for (size_t i = 0; i < s->npages; i++) {
        size_t p = s->page[i];

        memcpy(m->ram + p * HV_PAGE_SIZE, s->ram + i * HV_PAGE_SIZE, page_len(m, p));
        m->dirty[p] = 1;
    }
}

void hv_machine_restore(hv_machine *m, const struct hv_snapshot *s)
{
    for (unsigned i = 0; i < m->ndevs && i < s->ndevs; i++) {
        hv_dev *d = m->devs[i];

        d->ops->load(d, s->dev[i]);
        d->active = 0;
        if (s->msix[i]) {
            size_t tlen = (size_t)d->msix.nvec * HV_MSIX_ENTRY_SIZE;

            memcpy(d->msix.table, s->msix[i], tlen);
            memcpy(d->msix.pba, s->msix[i] + tlen, msix_bytes(d) - tlen);
        }
    }
    hv_bus_remap(m);
    restore_ram(m, s);
    m->clock_ns = s->clock_ns;
    m->work_used = 0;
    m->budget_spent = false;
    m->findings = 0;
}
