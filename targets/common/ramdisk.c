/*
 * In-memory block backend. Reset must be cheap (it runs before every fuzz
 * input), so writes are tracked per 4 KiB chunk and reset zeroes only those:
 * a list of dirty chunks, and a full scan only when the list overflowed.
 * Invariant: a chunk not marked dirty holds only zeroes.
 */
#include "targets/common/hv_backend.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK 4096u
#define DIRTY_LIST_MAX 256u

struct ramdisk {
    struct hv_blk blk;
    uint8_t *data;  /* blk.size bytes */
    uint8_t *dirty; /* one byte per chunk */
    uint64_t nchunks;
    uint64_t list[DIRTY_LIST_MAX]; /* dirty chunks, in the order written */
    unsigned nlist;
    bool overflow; /* more than DIRTY_LIST_MAX: reset scans every chunk */
};

static struct ramdisk *to_rd(struct hv_blk *b)
{
    return (struct ramdisk *)b;
}

static void mark(struct ramdisk *rd, uint64_t off, uint64_t len)
{
    if (len == 0)
        return;
    for (uint64_t c = off / CHUNK; c <= (off + len - 1) / CHUNK; c++) {
        if (rd->dirty[c])
            continue;
        rd->dirty[c] = 1;
        if (rd->nlist < DIRTY_LIST_MAX)
            rd->list[rd->nlist++] = c;
        else
            rd->overflow = true;
    }
}

static int rd_read(struct hv_blk *b, uint64_t off, void *buf, size_t len)
{
    memcpy(buf, to_rd(b)->data + off, len);
    return 0;
}

static int rd_write(struct hv_blk *b, uint64_t off, const void *buf, size_t len)
{
    struct ramdisk *rd = to_rd(b);

    memcpy(rd->data + off, buf, len);
    mark(rd, off, len);
    return 0;
}

static int rd_flush(struct hv_blk *b)
{
    (void)b;
    return 0;
}

/* A chunk never written since reset is all zeroes already: only the
 * written ones in the range need clearing (a Format NVM of a 16 MiB
 * namespace is then a scan of 4096 flags, not a 16 MiB memset). */
static int rd_discard(struct hv_blk *b, uint64_t off, uint64_t len)
{
    struct ramdisk *rd = to_rd(b);

    if (len == 0)
        return 0;
    for (uint64_t c = off / CHUNK; c <= (off + len - 1) / CHUNK; c++) {
        uint64_t start = c * CHUNK > off ? c * CHUNK : off;
        uint64_t end = (c + 1) * CHUNK < off + len ? (c + 1) * CHUNK : off + len;

        if (rd->dirty[c])
            memset(rd->data + start, 0, end - start);
    }
    return 0;
}

static void zero_chunk(struct ramdisk *rd, uint64_t c)
{
    uint64_t start = c * CHUNK;
    uint64_t len = rd->blk.size - start < CHUNK ? rd->blk.size - start : CHUNK;

    memset(rd->data + start, 0, len);
    rd->dirty[c] = 0;
}

static void rd_reset(struct hv_blk *b)
{
    struct ramdisk *rd = to_rd(b);

    if (rd->overflow) {
        for (uint64_t c = 0; c < rd->nchunks; c++)
            if (rd->dirty[c])
                zero_chunk(rd, c);
    } else {
        for (unsigned i = 0; i < rd->nlist; i++)
            zero_chunk(rd, rd->list[i]);
    }
    rd->nlist = 0;
    rd->overflow = false;
}

static void rd_destroy(struct hv_blk *b)
{
    struct ramdisk *rd = to_rd(b);

    free(rd->data);
    free(rd->dirty);
    free(rd);
}

static const struct hv_blk_ops ramdisk_ops = {
    .read = rd_read,
    .write = rd_write,
    .flush = rd_flush,
    .discard = rd_discard,
    .reset = rd_reset,
    .destroy = rd_destroy,
};

struct hv_blk *hv_ramdisk_create(uint64_t size)
{
    struct ramdisk *rd = calloc(1, sizeof(*rd));

    if (!rd || size == 0)
        goto fail;
    rd->nchunks = (size + CHUNK - 1) / CHUNK;
    rd->data = calloc(1, size);
    rd->dirty = calloc(1, rd->nchunks);
    if (!rd->data || !rd->dirty)
        goto fail;
    rd->blk.ops = &ramdisk_ops;
    rd->blk.size = size;
    return &rd->blk;
fail:
    if (rd) {
        free(rd->data);
        free(rd->dirty);
    }
    free(rd);
    return NULL;
}

/* ---- bounds-checked wrappers -------------------------------------------- */

static bool blk_range_ok(const struct hv_blk *b, uint64_t off, uint64_t len)
{
    return off <= b->size && len <= b->size - off;
}

int hv_blk_read(struct hv_blk *b, uint64_t off, void *buf, size_t len)
{
    if (!blk_range_ok(b, off, len))
        return -1;
    return len ? b->ops->read(b, off, buf, len) : 0;
}

int hv_blk_write(struct hv_blk *b, uint64_t off, const void *buf, size_t len)
{
    if (b->read_only || !blk_range_ok(b, off, len))
        return -1;
    return len ? b->ops->write(b, off, buf, len) : 0;
}

int hv_blk_discard(struct hv_blk *b, uint64_t off, uint64_t len)
{
    if (b->read_only || !blk_range_ok(b, off, len))
        return -1;
    return len ? b->ops->discard(b, off, len) : 0;
}

int hv_blk_flush(struct hv_blk *b)
{
    return b->ops->flush(b);
}
