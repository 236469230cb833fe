/*
 * Backends behind ops structs. The in-memory ones live here (targets/common);
 * host-only ones (file disk, pcap) live in harness/backends and implement the
 * same ops.
 */
#ifndef HV_BACKEND_H
#define HV_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- block ------------------------------------------------------------ */

struct hv_blk;

struct hv_blk_ops {
    /* Byte-addressed; the caller guarantees off + len <= size. 0 or -1. */
    int (*read)(struct hv_blk *b, uint64_t off, void *buf, size_t len);
    int (*write)(struct hv_blk *b, uint64_t off, const void *buf, size_t len);
    int (*flush)(struct hv_blk *b);
    /* Zero (or deallocate) a range; reads of it return zeroes afterwards. */
    int (*discard)(struct hv_blk *b, uint64_t off, uint64_t len);
    /* Back to the backend's initial content (in-memory: all zeroes). */
    void (*reset)(struct hv_blk *b);
    void (*destroy)(struct hv_blk *b);
};

struct hv_blk {
    const struct hv_blk_ops *ops;
    uint64_t size;   /* bytes */
    bool read_only;
};

/* RAM disk: `size` bytes of zeroes (lazily allocated by calloc). Tracks
 * written 4 KiB chunks so reset zeroes only what changed. */
struct hv_blk *hv_ramdisk_create(uint64_t size);

/* Convenience wrappers with the bounds check the ops rely on. */
int hv_blk_read(struct hv_blk *b, uint64_t off, void *buf, size_t len);
int hv_blk_write(struct hv_blk *b, uint64_t off, const void *buf, size_t len);
int hv_blk_discard(struct hv_blk *b, uint64_t off, uint64_t len);
int hv_blk_flush(struct hv_blk *b);

#endif
