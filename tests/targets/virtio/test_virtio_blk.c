/*
 * virtio-blk (targets/virtio/virtio_blk.c) driven like Linux's virtio_blk:
 * configuration space as QEMU answered it, then requests built in guest RAM
 * (header, data segments, status byte) and kicked through the notify BAR.
 */
#include "vtest.h"

#include "targets/common/hv_backend.h"

#define QEMU_FEATURES 0x0000010130006e54ull
#define QS 64u
#define HDR (VT_DATA)             /* request header */
#define ST (VT_DATA + 0x40)       /* status byte */
#define DATA (VT_DATA + 0x1000)   /* data buffers (up to 64 KiB) */
#define BACK (VT_DATA + 0x11000)  /* read-back buffers */

struct seg {
    uint64_t gpa;
    uint32_t len;
    bool write;
};

struct env {
    hv_machine *m;
    hv_dev *dev;
    struct vt_queue q;
    uint16_t next; /* next free descriptor slot */
};

static void env_init(struct env *e, const struct virtio_blk_params *p,
                     uint64_t features)
{
    memset(e, 0, sizeof(*e));
    e->m = vt_machine(p, &e->dev);
    CHECK_EQ(vt_driver_init(e->m, features, &e->q, 1, QS), 0x0b);
}

static void put_hdr(struct env *e, uint32_t type, uint64_t sector)
{
    uint8_t h[16] = {0};

    hv_st_le(h, 4, type);
    hv_st_le(h + 8, 4, (uint32_t)sector);
    hv_st_le(h + 12, 4, (uint32_t)(sector >> 32));
    hv_mem_write(e->m, HDR, h, sizeof(h));
}

/* Chain: header, segs..., status; kick; return the status byte (or -1 if
 * the request was not completed). *used_len gets the used length. */
static int submit(struct env *e, uint32_t type, uint64_t sector,
                  const struct seg *segs, unsigned n, uint32_t *used_len)
{
    uint16_t head = e->next, slot = head;
    uint16_t before = vt_used_idx(&e->q);
    uint32_t id = 0, len = 0;

    put_hdr(e, type, sector);
    hv_mem_fill(e->m, ST, 0xee, 1);
    vt_desc(&e->q, e->q.desc, slot, HDR, 16, VIRTQ_DESC_F_NEXT,
            (uint16_t)((slot + 1) % QS));
    for (unsigned i = 0; i < n; i++) {
        slot = (uint16_t)((slot + 1) % QS);
        vt_desc(&e->q, e->q.desc, slot, segs[i].gpa, segs[i].len,
                VIRTQ_DESC_F_NEXT | (segs[i].write ? VIRTQ_DESC_F_WRITE : 0),
                (uint16_t)((slot + 1) % QS));
    }
    slot = (uint16_t)((slot + 1) % QS);
    vt_desc(&e->q, e->q.desc, slot, ST, 1, VIRTQ_DESC_F_WRITE, 0);
    e->next = (uint16_t)((slot + 1) % QS);
    vt_avail(&e->q, head);
    vt_kick(&e->q);
    if (vt_used_idx(&e->q) != (uint16_t)(before + 1))
        return -1;
    vt_used_elem(&e->q, before, &id, &len);
    CHECK_EQ(id, head);
    if (used_len)
        *used_len = len;
    return (int)vt_get(e->m, ST, 1);
}

static void fill_pattern(hv_machine *m, uint64_t gpa, size_t len, uint8_t seed)
{
    uint8_t b[4096];

    for (size_t off = 0; off < len; off += sizeof(b)) {
        size_t n = len - off < sizeof(b) ? len - off : sizeof(b);
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)((off + i) * 31 + seed + ((off + i) >> 9));
        hv_mem_write(m, gpa + off, b, n);
    }
}

static bool mem_equal(hv_machine *m, uint64_t a, uint64_t b, size_t len)
{
    uint8_t x[512], y[512];

    for (size_t off = 0; off < len; off += sizeof(x)) {
        size_t n = len - off < sizeof(x) ? len - off : sizeof(x);
        hv_mem_read(m, a + off, x, n);
        hv_mem_read(m, b + off, y, n);
        if (memcmp(x, y, n))
            return false;
    }
    return true;
}

static bool mem_is(hv_machine *m, uint64_t a, uint8_t byte, size_t len)
{
    uint8_t x[512];

    for (size_t off = 0; off < len; off += sizeof(x)) {
        size_t n = len - off < sizeof(x) ? len - off : sizeof(x);
        hv_mem_read(m, a + off, x, n);
        for (size_t i = 0; i < n; i++)
            if (x[i] != byte)
                return false;
    }
    return true;
}

/* The device configuration as QEMU 7.2 answered Linux (trace). */
static void test_config(void)
{
    struct env e;
    static const struct {
        uint8_t off, size;
        uint32_t val;
    } cfg[] = {
        {0x00, 4, 0x8000}, {0x04, 4, 0}, {0x08, 4, 0}, {0x0c, 4, 0xfe},
        {0x10, 2, 0x20}, {0x12, 1, 0x10}, {0x13, 1, 0x3f}, {0x14, 4, 0x200},
        {0x18, 1, 0}, {0x19, 1, 0}, {0x1a, 2, 0}, {0x1c, 4, 0},
        {0x20, 1, 1}, {0x22, 2, 1}, {0x24, 4, 0x3fffff}, {0x28, 4, 1},
        {0x2c, 4, 1}, {0x30, 4, 0x3fffff}, {0x34, 4, 1}, {0x38, 1, 1},
    };

    env_init(&e, NULL, QEMU_FEATURES);
    for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++)
        CHECK_EQ(hv_bus_mmio_read(e.m, VT_DEVCFG + cfg[i].off, cfg[i].size),
                 cfg[i].val);
    /* writeback is the only writable field */
    hv_bus_mmio_write(e.m, VT_DEVCFG + VIRTIO_BLK_CFG_WRITEBACK, 1, 0);
    CHECK_EQ(hv_bus_mmio_read(e.m, VT_DEVCFG + VIRTIO_BLK_CFG_WRITEBACK, 1), 0);
    hv_bus_mmio_write(e.m, VT_DEVCFG + VIRTIO_BLK_CFG_CAPACITY, 4, 1);
    CHECK_EQ(hv_bus_mmio_read(e.m, VT_DEVCFG, 4), 0x8000);
    hv_bus_mmio_write(e.m, VT_DEVCFG + VIRTIO_BLK_CFG_WRITEBACK, 1, 5);
    CHECK_EQ(hv_bus_mmio_read(e.m, VT_DEVCFG + VIRTIO_BLK_CFG_WRITEBACK, 1), 1);
    hv_machine_destroy(e.m);
}

/* The trace's round trip: 8 KiB at sector 2048 as two 4 KiB writes, then
 * read back; used lengths 1 and 4097 as in QEMU. */
static void test_write_read(void)
{
    struct env e;
    uint32_t len = 0;

    env_init(&e, NULL, QEMU_FEATURES);
    fill_pattern(e.m, DATA, 8192, 3);
    for (unsigned i = 0; i < 2; i++) {
        struct seg s = {DATA + 4096 * i, 4096, false};
        CHECK_EQ(submit(&e, VIRTIO_BLK_T_OUT, 2048 + 8 * i, &s, 1, &len),
                 VIRTIO_BLK_S_OK);
        CHECK_EQ(len, 1);
    }
    hv_mem_fill(e.m, BACK, 0, 8192);
    for (unsigned i = 0; i < 2; i++) {
        struct seg s = {BACK + 4096 * i, 4096, true};
        CHECK_EQ(submit(&e, VIRTIO_BLK_T_IN, 2048 + 8 * i, &s, 1, &len),
                 VIRTIO_BLK_S_OK);
        CHECK_EQ(len, 4097);
    }
    CHECK(mem_equal(e.m, DATA, BACK, 8192));
    /* sector 0 is still zero */
    struct seg s0 = {BACK, 512, true};
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_IN, 0, &s0, 1, NULL), VIRTIO_BLK_S_OK);
    CHECK(mem_is(e.m, BACK, 0, 512));
    /* the last sector of the disk */
    struct seg w = {DATA, 512, false}, r = {BACK, 512, true};
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_OUT, 0x7fff, &w, 1, NULL), VIRTIO_BLK_S_OK);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_IN, 0x7fff, &r, 1, NULL), VIRTIO_BLK_S_OK);
    CHECK(mem_equal(e.m, DATA, BACK, 512));
    hv_machine_destroy(e.m);
}

/* Data split over odd-sized segments, read back with another split. */
static void test_multi_segment(void)
{
    struct env e;
    uint32_t len = 0;
    const struct seg w[] = {
        {DATA, 100, false}, {DATA + 0x2000, 412, false}, {DATA + 0x3000, 1, false},
        {DATA + 0x4000, 1023, false}, {DATA + 0x6000, 512, false},
    };
    const struct seg r[] = {
        {BACK, 2000, true}, {BACK + 0x1000, 48, true},
    };

    env_init(&e, NULL, QEMU_FEATURES);
    for (unsigned i = 0; i < 5; i++)
        fill_pattern(e.m, w[i].gpa, w[i].len, (uint8_t)(i + 9));
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_OUT, 100, w, 5, &len), VIRTIO_BLK_S_OK);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_IN, 100, r, 2, &len), VIRTIO_BLK_S_OK);
    CHECK_EQ(len, 2049);
    /* compare the concatenations */
    uint8_t want[2048], got[2048];
    size_t o = 0;
    for (unsigned i = 0; i < 5; i++) {
        hv_mem_read(e.m, w[i].gpa, want + o, w[i].len);
        o += w[i].len;
    }
    hv_mem_read(e.m, BACK, got, 2000);
    hv_mem_read(e.m, BACK + 0x1000, got + 2000, 48);
    CHECK_EQ(o, 2048);
    CHECK(memcmp(want, got, sizeof(got)) == 0);

    /* the same request through an indirect table */
    uint64_t t = e.q.indirect;
    uint16_t head = e.next;
    put_hdr(&e, VIRTIO_BLK_T_IN, 100);
    hv_mem_fill(e.m, BACK, 0, 2048);
    vt_desc(&e.q, t, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
    vt_desc(&e.q, t, 1, BACK, 1024, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
    vt_desc(&e.q, t, 2, BACK + 1024, 1024, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
    vt_desc(&e.q, t, 3, ST, 1, VIRTQ_DESC_F_WRITE, 0);
    vt_desc(&e.q, e.q.desc, head, t, 4 * VIRTQ_DESC_SIZE, VIRTQ_DESC_F_INDIRECT, 0);
    e.next = (uint16_t)(head + 1);
    vt_avail(&e.q, head);
    vt_kick(&e.q);
    CHECK_EQ(vt_used_idx(&e.q), 3);
    CHECK_EQ(vt_get(e.m, ST, 1), VIRTIO_BLK_S_OK);
    hv_mem_read(e.m, BACK, got, 2048);
    CHECK(memcmp(want, got, sizeof(got)) == 0);
    hv_machine_destroy(e.m);
}

static void test_bad_requests(void)
{
    struct env e;
    struct seg r512 = {BACK, 512, true}, r1k = {BACK, 1024, true};
    struct seg w512 = {DATA, 512, false}, r100 = {BACK, 100, true};
    struct seg huge = {DATA, (1u << 20) + 512, true};

    env_init(&e, NULL, QEMU_FEATURES);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_IN, 0x8000, &r512, 1, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_OUT, 0x8000, &w512, 1, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_IN, 0x7fff, &r1k, 1, NULL), VIRTIO_BLK_S_IOERR);
    /* sector * 512 + len wraps 64 bits */
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_IN, 0xffffffffffffff00ull, &r512, 1, NULL),
             VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_OUT, 0x0080000000000000ull, &w512, 1, NULL),
             VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_OUT, 0xffffffffffffffffull, &w512, 1, NULL),
             VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_IN, 0, &r100, 1, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_IN, 0, &huge, 1, NULL), VIRTIO_BLK_S_IOERR);
    /* a data buffer outside guest RAM: IOERR, the device stays usable */
    struct seg wild = {0x1000, 512, false};
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_OUT, 0, &wild, 1, NULL), VIRTIO_BLK_S_IOERR);
    /* unknown types, and types QEMU would alias */
    CHECK_EQ(submit(&e, 2, 0, &r512, 1, NULL), VIRTIO_BLK_S_UNSUPP);
    CHECK_EQ(submit(&e, 10, 0, &r512, 1, NULL), VIRTIO_BLK_S_UNSUPP);
    CHECK_EQ(submit(&e, 0x80000001u, 0, &w512, 1, NULL), VIRTIO_BLK_S_UNSUPP);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
    CHECK_EQ(vt_status(e.m), 0x0f);
    hv_machine_destroy(e.m);
}

static void test_get_id(void)
{
    struct env e;
    uint32_t len = 0;
    struct seg id = {BACK, 20, true}, id8 = {BACK, 8, true};
    char got[21] = {0};

    env_init(&e, NULL, QEMU_FEATURES);
    hv_mem_fill(e.m, BACK, 0xaa, 32);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_GET_ID, 0, &id, 1, &len), VIRTIO_BLK_S_OK);
    CHECK_EQ(len, 21);
    hv_mem_read(e.m, BACK, got, 20);
    CHECK(memcmp(got, "hvfuzz-virtio-blk\0\0\0", 20) == 0);
    CHECK_EQ(vt_get(e.m, BACK + 20, 1), 0xaa);
    hv_mem_fill(e.m, BACK, 0xaa, 32);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_GET_ID, 0, &id8, 1, NULL), VIRTIO_BLK_S_OK);
    hv_mem_read(e.m, BACK, got, 9);
    CHECK(memcmp(got, "hvfuzz-v\xaa", 9) == 0);
    hv_machine_destroy(e.m);

    struct virtio_blk_params p = {.serial = "SN-0123456789abcdefXYZ"};
    env_init(&e, &p, QEMU_FEATURES);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_GET_ID, 0, &id, 1, NULL), VIRTIO_BLK_S_OK);
    hv_mem_read(e.m, BACK, got, 20);
    CHECK(memcmp(got, "SN-0123456789abcdefX", 20) == 0);
    hv_machine_destroy(e.m);
}

static void put_dwz(hv_machine *m, uint64_t gpa, uint64_t sector, uint32_t num,
                    uint32_t flags)
{
    vt_put(m, gpa, 4, (uint32_t)sector);
    vt_put(m, gpa + 4, 4, (uint32_t)(sector >> 32));
    vt_put(m, gpa + 8, 4, num);
    vt_put(m, gpa + 12, 4, flags);
}

static void write_sectors(struct env *e, uint64_t sector, uint32_t n)
{
    struct seg w = {DATA, n * 512, false};

    fill_pattern(e->m, DATA, n * 512, (uint8_t)sector);
    CHECK_EQ(submit(e, VIRTIO_BLK_T_OUT, sector, &w, 1, NULL), VIRTIO_BLK_S_OK);
}

/* Read n sectors into BACK; true if all zero. */
static bool sectors_zero(struct env *e, uint64_t sector, uint32_t n)
{
    struct seg r = {BACK, n * 512, true};

    hv_mem_fill(e->m, BACK, 0x55, n * 512);
    CHECK_EQ(submit(e, VIRTIO_BLK_T_IN, sector, &r, 1, NULL), VIRTIO_BLK_S_OK);
    return mem_is(e->m, BACK, 0, n * 512);
}

static void test_discard_write_zeroes(void)
{
    struct env e;
    struct seg one = {DATA + 0x8000, 16, false};

    env_init(&e, NULL, QEMU_FEATURES);
    write_sectors(&e, 10, 8);
    put_dwz(e.m, one.gpa, 12, 2, 0);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_DISCARD, 0, &one, 1, NULL), VIRTIO_BLK_S_OK);
    CHECK(!sectors_zero(&e, 10, 2));
    CHECK(sectors_zero(&e, 12, 2));
    CHECK(!sectors_zero(&e, 14, 1));

    put_dwz(e.m, one.gpa, 14, 3, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_WRITE_ZEROES, 0, &one, 1, NULL),
             VIRTIO_BLK_S_OK);
    CHECK(sectors_zero(&e, 14, 3));
    CHECK(!sectors_zero(&e, 17, 1));

    write_sectors(&e, 10, 8);
    put_dwz(e.m, one.gpa, 10, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_DISCARD, 0, &one, 1, NULL),
             VIRTIO_BLK_S_UNSUPP); /* unmap flag on discard */
    put_dwz(e.m, one.gpa, 10, 1, 2);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_WRITE_ZEROES, 0, &one, 1, NULL),
             VIRTIO_BLK_S_UNSUPP); /* reserved flag */
    put_dwz(e.m, one.gpa, 0x7fff, 2, 0);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_DISCARD, 0, &one, 1, NULL), VIRTIO_BLK_S_IOERR);
    put_dwz(e.m, one.gpa, 0xffffffffffffffffull, 1, 0);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_WRITE_ZEROES, 0, &one, 1, NULL),
             VIRTIO_BLK_S_IOERR);
    put_dwz(e.m, one.gpa, 0, 0x400000, 0); /* above max_discard_sectors */
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_DISCARD, 0, &one, 1, NULL), VIRTIO_BLK_S_IOERR);
    struct seg two = {DATA + 0x8000, 32, false}, odd = {DATA + 0x8000, 20, false};
    put_dwz(e.m, two.gpa + 16, 11, 1, 0);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_DISCARD, 0, &two, 1, NULL),
             VIRTIO_BLK_S_UNSUPP); /* max_discard_seg is 1 */
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_DISCARD, 0, &odd, 1, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_DISCARD, 0, NULL, 0, NULL), VIRTIO_BLK_S_IOERR);
    CHECK(!sectors_zero(&e, 10, 1));
    CHECK(!sectors_zero(&e, 11, 1));
    hv_machine_destroy(e.m);

    /* not negotiated: UNSUPP */
    env_init(&e, NULL, QEMU_FEATURES & ~(1ull << VIRTIO_BLK_F_DISCARD |
                                         1ull << VIRTIO_BLK_F_WRITE_ZEROES));
    write_sectors(&e, 10, 1);
    put_dwz(e.m, one.gpa, 10, 1, 0);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_DISCARD, 0, &one, 1, NULL), VIRTIO_BLK_S_UNSUPP);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_WRITE_ZEROES, 0, &one, 1, NULL),
             VIRTIO_BLK_S_UNSUPP);
    CHECK(!sectors_zero(&e, 10, 1));
    hv_machine_destroy(e.m);

    /* a segment list: all checked before any is executed */
    struct virtio_blk_params p = {.dwz_max_seg = 4};
    env_init(&e, &p, QEMU_FEATURES);
    CHECK_EQ(hv_bus_mmio_read(e.m, VT_DEVCFG + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4), 4);
    write_sectors(&e, 20, 10);
    struct seg list = {DATA + 0x8000, 48, false};
    put_dwz(e.m, list.gpa, 20, 1, 0);
    put_dwz(e.m, list.gpa + 16, 22, 2, 0);
    put_dwz(e.m, list.gpa + 32, 0x8000, 1, 0); /* out of range */
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_WRITE_ZEROES, 0, &list, 1, NULL),
             VIRTIO_BLK_S_IOERR);
    CHECK(!sectors_zero(&e, 20, 1));
    put_dwz(e.m, list.gpa + 32, 27, 3, 0);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_WRITE_ZEROES, 0, &list, 1, NULL),
             VIRTIO_BLK_S_OK);
    CHECK(sectors_zero(&e, 20, 1));
    CHECK(!sectors_zero(&e, 21, 1));
    CHECK(sectors_zero(&e, 22, 2));
    CHECK(!sectors_zero(&e, 24, 3));
    CHECK(sectors_zero(&e, 27, 3));
    hv_machine_destroy(e.m);
}

/* No header / no status: a device error (NEEDS_RESET), nothing used. */
static void test_malformed_chain(void)
{
    struct env e;
    uint16_t head;

    env_init(&e, NULL, QEMU_FEATURES);
    head = e.next;
    put_hdr(&e, VIRTIO_BLK_T_IN, 0);
    vt_desc(&e.q, e.q.desc, head, HDR, 16, VIRTQ_DESC_F_NEXT, head + 1);
    vt_desc(&e.q, e.q.desc, head + 1, DATA, 512, 0, 0); /* no writable */
    vt_avail(&e.q, head);
    vt_kick(&e.q);
    CHECK_EQ(vt_used_idx(&e.q), 0);
    CHECK_EQ(vt_status(e.m), 0x4f);
    hv_machine_destroy(e.m);

    /* header split over two readable descriptors is fine */
    env_init(&e, NULL, QEMU_FEATURES);
    put_hdr(&e, VIRTIO_BLK_T_FLUSH, 0);
    vt_desc(&e.q, e.q.desc, 0, HDR, 10, VIRTQ_DESC_F_NEXT, 1);
    vt_desc(&e.q, e.q.desc, 1, HDR + 10, 6, VIRTQ_DESC_F_NEXT, 2);
    vt_desc(&e.q, e.q.desc, 2, ST, 1, VIRTQ_DESC_F_WRITE, 0);
    vt_avail(&e.q, 0);
    vt_kick(&e.q);
    CHECK_EQ(vt_used_idx(&e.q), 1);
    CHECK_EQ(vt_get(e.m, ST, 1), VIRTIO_BLK_S_OK);
    /* ...but 15 header bytes are not */
    vt_desc(&e.q, e.q.desc, 3, HDR, 15, VIRTQ_DESC_F_NEXT, 4);
    vt_desc(&e.q, e.q.desc, 4, ST, 1, VIRTQ_DESC_F_WRITE, 0);
    vt_avail(&e.q, 3);
    vt_kick(&e.q);
    CHECK_EQ(vt_used_idx(&e.q), 1);
    CHECK(vt_status(e.m) & VIRTIO_STATUS_NEEDS_RESET);
    hv_machine_destroy(e.m);
}

/* A kick processes every pending request; the avail idx jumping past the
 * ring is a device error. */
static void test_batch_and_jump(void)
{
    struct env e;

    env_init(&e, NULL, QEMU_FEATURES);
    put_hdr(&e, VIRTIO_BLK_T_FLUSH, 0);
    for (uint16_t i = 0; i < 10; i++) {
        vt_desc(&e.q, e.q.desc, 2 * i, HDR, 16, VIRTQ_DESC_F_NEXT, 2 * i + 1);
        vt_desc(&e.q, e.q.desc, 2 * i + 1, ST + i, 1, VIRTQ_DESC_F_WRITE, 0);
        vt_avail(&e.q, 2 * i);
    }
    vt_kick(&e.q);
    CHECK_EQ(vt_used_idx(&e.q), 10);
    e.q.avail_idx = (uint16_t)(e.q.avail_idx + QS);
    vt_avail(&e.q, 0);
    vt_kick(&e.q);
    CHECK_EQ(vt_used_idx(&e.q), 10);
    CHECK(vt_status(e.m) & VIRTIO_STATUS_NEEDS_RESET);
    hv_machine_destroy(e.m);
}

static void test_read_only_backend(void)
{
    struct hv_blk *bk = hv_ramdisk_create(1 << 20);
    struct virtio_blk_params p = {.backend = bk};
    struct env e;
    struct seg w = {DATA, 512, false}, r = {BACK, 512, true};

    bk->read_only = true;
    env_init(&e, &p, QEMU_FEATURES);
    CHECK(vt_device_features(e.m) & (1ull << VIRTIO_BLK_F_RO));
    CHECK_EQ(hv_bus_mmio_read(e.m, VT_DEVCFG, 4), 0x800);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_OUT, 0, &w, 1, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(&e, VIRTIO_BLK_T_IN, 0, &r, 1, NULL), VIRTIO_BLK_S_OK);
    hv_machine_destroy(e.m);
}

static void test_multiqueue(void)
{
    struct virtio_blk_params p = {.num_queues = 2};
    hv_machine *m = vt_machine(&p, NULL);
    struct vt_queue q[2];
    uint8_t hdr[16] = {VIRTIO_BLK_T_FLUSH};

    CHECK(vt_device_features(m) & (1ull << VIRTIO_BLK_F_MQ));
    CHECK_EQ(vt_cr(m, VIRTIO_PCI_COMMON_NUMQ, 2), 2);
    CHECK_EQ(vt_cfg(m, VIRTIO_PCI_CAP_MSIX_OFF + 2, 2), 2); /* 3 vectors */
    CHECK_EQ(hv_bus_mmio_read(m, VT_DEVCFG + VIRTIO_BLK_CFG_NUM_QUEUES, 2), 2);
    CHECK_EQ(vt_driver_init(m, QEMU_FEATURES | 1ull << VIRTIO_BLK_F_MQ, q, 2, 16),
             0x0b);
    hv_mem_write(m, HDR, hdr, sizeof(hdr));
    vt_desc(&q[1], q[1].desc, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
    vt_desc(&q[1], q[1].desc, 1, ST, 1, VIRTQ_DESC_F_WRITE, 0);
    vt_avail(&q[1], 0);
    vt_kick(&q[0]); /* the wrong queue: nothing */
    CHECK_EQ(vt_used_idx(&q[1]), 0);
    vt_kick(&q[1]);
    CHECK_EQ(vt_used_idx(&q[1]), 1);
    CHECK_EQ(vt_used_idx(&q[0]), 0);
    hv_machine_destroy(m);
}

/* Machine reset: the disk and the device are back at power-on. */
static void test_machine_reset(void)
{
    struct env e;

    env_init(&e, NULL, QEMU_FEATURES);
    write_sectors(&e, 5, 1);
    CHECK(!sectors_zero(&e, 5, 1));
    hv_machine_reset(e.m);
    vt_program_bars(e.m);
    CHECK_EQ(vt_status(e.m), 0);
    CHECK_EQ(vt_driver_init(e.m, QEMU_FEATURES, &e.q, 1, QS), 0x0b);
    e.next = 0;
    CHECK(sectors_zero(&e, 5, 1));
    hv_machine_destroy(e.m);
}

int main(void)
{
    test_config();
    test_write_read();
    test_multi_segment();
    test_bad_requests();
    test_get_id();
    test_discard_write_zeroes();
    test_malformed_chain();
    test_batch_and_jump();
    test_read_only_backend();
    test_multiqueue();
    test_machine_reset();
    return hv_test_done("test_virtio_blk");
}
