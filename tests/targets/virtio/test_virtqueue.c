/*
 * Split virtqueue (targets/virtio/virtqueue.c): chains written into guest
 * RAM with hv_mem_write as a driver would, popped/pushed by a bare device.
 */
#include "vtest.h"

#include "targets/virtio/virtqueue.h"

#define QSIZE 8u

struct fixture {
    hv_machine *m;
    hv_dev dev;
    struct virtq vq;
    struct virtq_elem e;
    struct vt_queue drv; /* driver view of the same ring */
};

static void nop_reset(hv_dev *d) { (void)d; }
static void nop_destroy(hv_dev *d) { (void)d; }
static const struct hv_dev_ops bare_ops = {.reset = nop_reset,
                                           .destroy = nop_destroy};

static void fx_init(struct fixture *f, uint16_t elem_cap)
{
    f->m = hv_machine_create(NULL);
    hv_dev_init(&f->dev, f->m, &bare_ops, "vqtest");
    virtq_init(&f->vq, &f->dev, 0, QSIZE);
    virtq_elem_init(&f->e, elem_cap);
    vt_queue_layout(&f->drv, f->m, 0, QSIZE);
    f->vq.desc = f->drv.desc;
    f->vq.avail = f->drv.avail;
    f->vq.used = f->drv.used;
    f->vq.enabled = true;
}

static void fx_fini(struct fixture *f)
{
    virtq_elem_free(&f->e);
    hv_machine_destroy(f->m);
}

#define BUF(i) (VT_DATA + 0x1000u * (i))

static void test_single(void)
{
    struct fixture f;
    uint8_t out[100], in[100];

    fx_init(&f, QSIZE);
    for (unsigned i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 7 + 1);
    hv_mem_write(f.m, BUF(0), out, sizeof(out));
    vt_desc(&f.drv, f.drv.desc, 3, BUF(0), 100, 0, 0);
    vt_avail(&f.drv, 3);

    CHECK_EQ(virtq_pop(&f.vq, &f.e), 1);
    CHECK_EQ(f.e.head, 3);
    CHECK_EQ(f.e.nsegs, 1);
    CHECK_EQ(f.e.nread, 1);
    CHECK_EQ(f.e.read_len, 100);
    CHECK_EQ(f.e.write_len, 0);
    CHECK_EQ(f.vq.inflight, 1);
    CHECK_EQ(virtq_elem_read(&f.vq, &f.e, 0, in, sizeof(in)), 0);
    CHECK(memcmp(in, out, sizeof(in)) == 0);
    CHECK_EQ(virtq_elem_read(&f.vq, &f.e, 1, in, 100), -1); /* past end */
    CHECK_EQ(virtq_pop(&f.vq, &f.e), 0);                    /* empty */

    CHECK_EQ(virtq_push(&f.vq, &f.e, 0), 0);
    CHECK_EQ(vt_used_idx(&f.drv), 1);
    uint32_t id, len;
    vt_used_elem(&f.drv, 0, &id, &len);
    CHECK_EQ(id, 3);
    CHECK_EQ(len, 0);
    CHECK_EQ(f.vq.inflight, 0);
    CHECK(!f.vq.broken);
    fx_fini(&f);
}

/* 2 readable + 2 writable descriptors; copies straddle segment borders. */
static void test_multi(void)
{
    struct fixture f;
    uint8_t out[300], in[300], w[250], back[250];

    fx_init(&f, QSIZE);
    for (unsigned i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i ^ 0x5a);
    hv_mem_write(f.m, BUF(0), out, 100);
    hv_mem_write(f.m, BUF(1), out + 100, 200);
    vt_desc(&f.drv, f.drv.desc, 0, BUF(0), 100, VIRTQ_DESC_F_NEXT, 5);
    vt_desc(&f.drv, f.drv.desc, 5, BUF(1), 200, VIRTQ_DESC_F_NEXT, 2);
    vt_desc(&f.drv, f.drv.desc, 2, BUF(2), 50,
            VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 7);
    vt_desc(&f.drv, f.drv.desc, 7, BUF(3), 200, VIRTQ_DESC_F_WRITE, 0);
    vt_avail(&f.drv, 0);

    CHECK_EQ(virtq_pop(&f.vq, &f.e), 1);
    CHECK_EQ(f.e.nsegs, 4);
    CHECK_EQ(f.e.nread, 2);
    CHECK_EQ(f.e.read_len, 300);
    CHECK_EQ(f.e.write_len, 250);
    CHECK_EQ(f.e.segs[2].gpa, BUF(2));
    CHECK(f.e.segs[3].writable);
    CHECK_EQ(virtq_elem_read(&f.vq, &f.e, 0, in, 300), 0);
    CHECK(memcmp(in, out, 300) == 0);
    CHECK_EQ(virtq_elem_read(&f.vq, &f.e, 90, in, 20), 0);
    CHECK(memcmp(in, out + 90, 20) == 0);
    for (unsigned i = 0; i < sizeof(w); i++)
        w[i] = (uint8_t)(0xff - i);
    CHECK_EQ(virtq_elem_write(&f.vq, &f.e, 0, w, 250), 0);
    hv_mem_read(f.m, BUF(2), back, 50);
    hv_mem_read(f.m, BUF(3), back + 50, 200);
    CHECK(memcmp(back, w, 250) == 0);
    CHECK_EQ(virtq_elem_write(&f.vq, &f.e, 249, w, 2), -1);
    CHECK_EQ(virtq_push(&f.vq, &f.e, 250), 0);
    uint32_t id, len;
    vt_used_elem(&f.drv, 0, &id, &len);
    CHECK_EQ(id, 0);
    CHECK_EQ(len, 250);
    fx_fini(&f);
}

/* A direct readable descriptor, then an indirect table of three. */
static void test_indirect(void)
{
    struct fixture f;
    uint64_t t;

    fx_init(&f, QSIZE);
    t = f.drv.indirect;
    vt_desc(&f.drv, f.drv.desc, 1, BUF(0), 16, VIRTQ_DESC_F_NEXT, 4);
    vt_desc(&f.drv, f.drv.desc, 4, t, 3 * VIRTQ_DESC_SIZE,
            VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE /* ignored */, 0);
    vt_desc(&f.drv, t, 0, BUF(1), 32, VIRTQ_DESC_F_NEXT, 2);
    vt_desc(&f.drv, t, 2, BUF(2), 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    vt_desc(&f.drv, t, 1, BUF(3), 1, VIRTQ_DESC_F_WRITE, 0);
    vt_avail(&f.drv, 1);

    CHECK_EQ(virtq_pop(&f.vq, &f.e), 1);
    CHECK_EQ(f.e.nsegs, 4);
    CHECK_EQ(f.e.nread, 2);
    CHECK_EQ(f.e.read_len, 48);
    CHECK_EQ(f.e.write_len, 513);
    CHECK_EQ(f.e.segs[1].gpa, BUF(1));
    CHECK_EQ(f.e.segs[3].gpa, BUF(3));
    CHECK(!f.vq.broken);
    fx_fini(&f);
}

/* Expect the chain at head 0 to be rejected as a device error whose reason
 * contains `why`. */
static void expect_rejected(struct fixture *f, const char *why)
{
    uint32_t before = f->m->work_used;

    vt_avail(&f->drv, 0);
    CHECK_EQ(virtq_pop(&f->vq, &f->e), -1);
    CHECK(f->vq.broken);
    CHECK(f->vq.error != NULL && strstr(f->vq.error, why) != NULL);
    CHECK_EQ(f->vq.last_avail_idx, 0);
    CHECK_EQ(f->vq.inflight, 0);
    /* bounded: no more than a queue's worth of descriptors walked */
    CHECK(f->m->work_used - before <= 2 * QSIZE + 2);
    CHECK_EQ(virtq_pop(&f->vq, &f->e), -1); /* stays broken */
    if (!f->vq.broken || !f->vq.error || !strstr(f->vq.error, why))
        fprintf(stderr, "  ^ expected \"%s\", got \"%s\"\n", why,
                f->vq.error ? f->vq.error : "(none)");
}

static void test_loop(void)
{
    struct fixture f;

    fx_init(&f, 64);
    vt_desc(&f.drv, f.drv.desc, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
    vt_desc(&f.drv, f.drv.desc, 1, BUF(1), 8, VIRTQ_DESC_F_NEXT, 0);
    expect_rejected(&f, "loop");
    fx_fini(&f);

    fx_init(&f, 64); /* self loop */
    vt_desc(&f.drv, f.drv.desc, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 0);
    expect_rejected(&f, "loop");
    fx_fini(&f);

    fx_init(&f, 64); /* loop inside an indirect table */
    vt_desc(&f.drv, f.drv.desc, 0, f.drv.indirect, 4 * VIRTQ_DESC_SIZE,
            VIRTQ_DESC_F_INDIRECT, 0);
    vt_desc(&f.drv, f.drv.indirect, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
    vt_desc(&f.drv, f.drv.indirect, 1, BUF(1), 8, VIRTQ_DESC_F_NEXT, 0);
    expect_rejected(&f, "loop");
    fx_fini(&f);
}

static void test_malformed(void)
{
    struct fixture f;

    fx_init(&f, QSIZE); /* NEXT index == queue size */
    vt_desc(&f.drv, f.drv.desc, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, QSIZE);
    expect_rejected(&f, "NEXT index out of range");
    fx_fini(&f);

    fx_init(&f, QSIZE); /* NEXT index past the indirect table */
    vt_desc(&f.drv, f.drv.desc, 0, f.drv.indirect, 2 * VIRTQ_DESC_SIZE,
            VIRTQ_DESC_F_INDIRECT, 0);
    vt_desc(&f.drv, f.drv.indirect, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 2);
    expect_rejected(&f, "NEXT index out of range");
    fx_fini(&f);

    fx_init(&f, QSIZE); /* nested indirect */
    vt_desc(&f.drv, f.drv.desc, 0, f.drv.indirect, VIRTQ_DESC_SIZE,
            VIRTQ_DESC_F_INDIRECT, 0);
    vt_desc(&f.drv, f.drv.indirect, 0, f.drv.indirect, VIRTQ_DESC_SIZE,
            VIRTQ_DESC_F_INDIRECT, 0);
    expect_rejected(&f, "nested indirect");
    fx_fini(&f);

    fx_init(&f, QSIZE); /* zero-length indirect table */
    vt_desc(&f.drv, f.drv.desc, 0, f.drv.indirect, 0, VIRTQ_DESC_F_INDIRECT, 0);
    expect_rejected(&f, "indirect table length");
    fx_fini(&f);

    fx_init(&f, QSIZE); /* table length not a multiple of 16 */
    vt_desc(&f.drv, f.drv.desc, 0, f.drv.indirect, 24, VIRTQ_DESC_F_INDIRECT, 0);
    expect_rejected(&f, "indirect table length");
    fx_fini(&f);

    fx_init(&f, QSIZE); /* INDIRECT together with NEXT */
    vt_desc(&f.drv, f.drv.desc, 0, f.drv.indirect, 16,
            VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    vt_desc(&f.drv, f.drv.indirect, 0, BUF(0), 8, 0, 0);
    expect_rejected(&f, "indirect descriptor with NEXT");
    fx_fini(&f);

    fx_init(&f, QSIZE); /* readable after writable */
    vt_desc(&f.drv, f.drv.desc, 0, BUF(0), 8,
            VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    vt_desc(&f.drv, f.drv.desc, 1, BUF(1), 8, 0, 0);
    expect_rejected(&f, "readable descriptor after");
    fx_fini(&f);

    fx_init(&f, 2); /* more segments than the element holds */
    vt_desc(&f.drv, f.drv.desc, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
    vt_desc(&f.drv, f.drv.desc, 1, BUF(1), 8, VIRTQ_DESC_F_NEXT, 2);
    vt_desc(&f.drv, f.drv.desc, 2, BUF(2), 8, 0, 0);
    expect_rejected(&f, "too many segments");
    fx_fini(&f);

    fx_init(&f, QSIZE); /* descriptor table outside guest RAM: DMA error */
    f.vq.desc = 0x1000;
    vt_desc(&f.drv, f.drv.desc, 0, BUF(0), 8, 0, 0);
    expect_rejected(&f, "descriptor read failed");
    fx_fini(&f);

    fx_init(&f, QSIZE); /* head index out of range */
    vt_put(f.m, f.drv.avail + VIRTQ_AVAIL_HDR, 2, QSIZE);
    vt_put(f.m, f.drv.avail + 2, 2, 1);
    CHECK_EQ(virtq_pop(&f.vq, &f.e), -1);
    CHECK(f.vq.broken);
    fx_fini(&f);
}

/* avail->idx more than a queue ahead: error, nothing consumed. */
static void test_avail_jump(void)
{
    struct fixture f;

    fx_init(&f, QSIZE);
    for (uint16_t i = 0; i < QSIZE; i++)
        vt_desc(&f.drv, f.drv.desc, i, BUF(0), 8, 0, 0);
    vt_put(f.m, f.drv.avail + 2, 2, QSIZE + 1);
    CHECK_EQ(virtq_pop(&f.vq, &f.e), -1);
    CHECK(f.vq.broken);
    CHECK_EQ(f.vq.last_avail_idx, 0);
    fx_fini(&f);

    /* exactly a full ring is fine; a wrapped index works too */
    fx_init(&f, QSIZE);
    for (uint16_t i = 0; i < QSIZE; i++) {
        vt_desc(&f.drv, f.drv.desc, i, BUF(0), 8, 0, 0);
        vt_avail(&f.drv, i);
    }
    for (unsigned i = 0; i < QSIZE; i++) {
        CHECK_EQ(virtq_pop(&f.vq, &f.e), 1);
        CHECK_EQ(f.e.head, i);
        CHECK_EQ(virtq_push(&f.vq, &f.e, 0), 0);
    }
    CHECK_EQ(virtq_pop(&f.vq, &f.e), 0);
    CHECK(!f.vq.broken);
    fx_fini(&f);

    fx_init(&f, QSIZE); /* indexes near the 16-bit wrap */
    f.vq.last_avail_idx = 0xfffe;
    f.vq.used_idx = 0xfffe;
    f.drv.avail_idx = 0xfffe;
    vt_desc(&f.drv, f.drv.desc, 0, BUF(0), 8, 0, 0);
    vt_avail(&f.drv, 0);
    vt_avail(&f.drv, 0);
    vt_avail(&f.drv, 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(virtq_pop(&f.vq, &f.e), 1);
        CHECK_EQ(virtq_push(&f.vq, &f.e, 0), 0);
    }
    CHECK_EQ(vt_used_idx(&f.drv), 1);
    CHECK_EQ(virtq_pop(&f.vq, &f.e), 0);
    fx_fini(&f);
}

/* CVE-2016-5403: popping without completing can never exceed the size. */
static void test_inflight_bound(void)
{
    struct fixture f;

    fx_init(&f, QSIZE);
    for (uint16_t i = 0; i < QSIZE; i++) {
        vt_desc(&f.drv, f.drv.desc, i, BUF(0), 8, 0, 0);
        vt_avail(&f.drv, i);
    }
    for (unsigned i = 0; i < QSIZE; i++)
        CHECK_EQ(virtq_pop(&f.vq, &f.e), 1);
    CHECK_EQ(f.vq.inflight, QSIZE);
    vt_avail(&f.drv, 0); /* the driver (wrongly) reuses a slot */
    CHECK_EQ(virtq_pop(&f.vq, &f.e), -1);
    CHECK(f.vq.broken);
    CHECK(f.vq.inflight <= QSIZE);
    fx_fini(&f);
}

static void test_event_idx(void)
{
    struct fixture f;
    uint64_t used_event, avail_event;

    fx_init(&f, QSIZE);
    f.vq.event_idx = true;
    used_event = f.drv.avail + VIRTQ_AVAIL_HDR + 2 * QSIZE;
    avail_event = f.drv.used + VIRTQ_USED_HDR + VIRTQ_USED_ELEM_SIZE * QSIZE;
    for (uint16_t i = 0; i < 4; i++) {
        vt_desc(&f.drv, f.drv.desc, i, BUF(0), 8, 0, 0);
        vt_avail(&f.drv, i);
    }
    /* the device publishes avail_event = its next avail index */
    CHECK_EQ(virtq_pop(&f.vq, &f.e), 1);
    CHECK_EQ(vt_get(f.m, avail_event, 2), 1);
    CHECK_EQ(virtq_push(&f.vq, &f.e, 0), 0);
    CHECK(virtq_should_notify(&f.vq)); /* first one always */

    vt_put(f.m, used_event, 2, 5); /* "notify me after used idx 6" */
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(virtq_pop(&f.vq, &f.e), 1);
        CHECK_EQ(virtq_push(&f.vq, &f.e, 0), 0);
        CHECK(!virtq_should_notify(&f.vq)); /* used idx 2, 3 */
    }
    vt_put(f.m, used_event, 2, 3); /* now crossed by the next push */
    CHECK_EQ(virtq_pop(&f.vq, &f.e), 1);
    CHECK_EQ(vt_get(f.m, avail_event, 2), 4);
    CHECK_EQ(virtq_push(&f.vq, &f.e, 0), 0);
    CHECK(virtq_should_notify(&f.vq)); /* used idx 4 passes event 3 */
    fx_fini(&f);

    /* without EVENT_IDX: VIRTQ_AVAIL_F_NO_INTERRUPT suppresses */
    fx_init(&f, QSIZE);
    vt_desc(&f.drv, f.drv.desc, 0, BUF(0), 8, 0, 0);
    vt_put(f.m, f.drv.avail, 2, VIRTQ_AVAIL_F_NO_INTERRUPT);
    vt_avail(&f.drv, 0);
    CHECK_EQ(virtq_pop(&f.vq, &f.e), 1);
    CHECK_EQ(virtq_push(&f.vq, &f.e, 0), 0);
    CHECK(!virtq_should_notify(&f.vq));
    CHECK_EQ(vt_get(f.m, f.drv.used + VIRTQ_USED_HDR + VIRTQ_USED_ELEM_SIZE * QSIZE, 2), 0);
    vt_put(f.m, f.drv.avail, 2, 0);
    CHECK(virtq_should_notify(&f.vq));
    fx_fini(&f);
}

/* A budget too small for the chain stops the walk with a finding. */
static void test_budget(void)
{
    struct fixture f;

    fx_init(&f, QSIZE);
    f.m->findings_fatal = false;
    f.m->work_budget = 2;
    vt_desc(&f.drv, f.drv.desc, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
    vt_desc(&f.drv, f.drv.desc, 1, BUF(1), 8, VIRTQ_DESC_F_NEXT, 2);
    vt_desc(&f.drv, f.drv.desc, 2, BUF(2), 8, 0, 0);
    vt_avail(&f.drv, 0);
    CHECK_EQ(virtq_pop(&f.vq, &f.e), -1);
    CHECK_EQ(f.m->findings, 1);
    CHECK_EQ(f.m->last_finding, HV_FINDING_BUDGET);
    CHECK_EQ(f.vq.last_avail_idx, 0);
    fx_fini(&f);
}

static void test_reset(void)
{
    struct fixture f;

    fx_init(&f, QSIZE);
    f.vq.size = 4;
    f.vq.last_avail_idx = 3;
    f.vq.used_idx = 2;
    f.vq.inflight = 1;
    f.vq.event_idx = true;
    virtq_set_error(&f.vq, "test");
    virtq_reset(&f.vq);
    CHECK_EQ(f.vq.size, QSIZE);
    CHECK_EQ(f.vq.max_size, QSIZE);
    CHECK(!f.vq.enabled && !f.vq.broken && !f.vq.event_idx);
    CHECK_EQ(f.vq.desc | f.vq.avail | f.vq.used, 0);
    CHECK_EQ(f.vq.last_avail_idx + f.vq.used_idx + f.vq.inflight, 0);
    CHECK(f.vq.dev == &f.dev);
    CHECK_EQ(virtq_pop(&f.vq, &f.e), 0); /* disabled: nothing */
    fx_fini(&f);
}

int main(void)
{
    test_single();
    test_multi();
    test_indirect();
    test_loop();
    test_malformed();
    test_avail_jump();
    test_inflight_bound();
    test_event_idx();
    test_budget();
    test_reset();
    return hv_test_done("test_virtqueue");
}
