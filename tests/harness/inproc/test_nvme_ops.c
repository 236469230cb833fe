/* The structure-aware NVMe ops (harness/program/nvmeq.c) against the real
 * model (targets/nvme), through the in-process host: every nvme_setup
 * variant brings the controller up and creates its I/O queues; data written
 * through each data-pointer kind reads back; bad commands complete with the
 * spec's status. The program tests use a mock controller; this one proves
 * the expansion is what the device accepts. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/host/hv_host.h"
#include "harness/program/hv_text.h"
#include "hv_test.h"

#define NVME_CSTS 0x1c
#define SC_MASK 0x7ffu /* status field without DNR/M: SCT | SC */

struct run {
    char *trace;
    unsigned completions, errors;
};

/* Assemble text, run it traced, and count the completions the model
 * posted and those with a non-zero status ("nvme cqe ... status=0x..."). */
static struct run run_text(struct hv_host *h, const char *body)
{
    struct run r = {0};
    char text[8192], err[256];
    size_t n = 0, len = 0;
    snprintf(text, sizeof text, ".target nvme\n%s", body);
    uint8_t *prog = hv_asm(h->layout, "test", text, strlen(text), &n, err, sizeof err);
    if (!prog) {
        fprintf(stderr, "asm: %s\n", err);
        CHECK(prog != NULL);
        return r;
    }
    FILE *f = open_memstream(&r.trace, &len);
    hv_host_set_trace(h, f);
    hv_host_run(h, prog, n);
    hv_host_set_trace(h, NULL);
    fclose(f);
    free(prog);
    for (const char *p = r.trace; (p = strstr(p, "nvme cqe ")); p++) {
        const char *st = strstr(p, "status=0x");
        const char *eol = strchr(p, '\n');
        r.completions++;
        if (st && (!eol || st < eol) && (strtoul(st + 9, NULL, 16) & SC_MASK))
            r.errors++;
    }
    return r;
}

static uint32_t csts(struct hv_host *h)
{
    return (uint32_t)hv_bus_mmio_read(h->m, h->layout->mmio[0].base + NVME_CSTS, 4);
}

static void test_setup_variants(struct hv_host *h)
{
    static const char *const setups[] = {
        "nvme_setup ioqs=1 qsize=max identify numq dbbuf\n",
        "nvme_setup ioqs=4 qsize=16 numq\n",
        "nvme_setup ioqs=2 qsize=2 css_nvm\n",
        "nvme_setup ioqs=3 qsize=max identify dbbuf\n",
    };
    static const unsigned pairs[] = {1, 4, 2, 3};
    for (unsigned i = 0; i < sizeof setups / sizeof setups[0]; i++) {
        struct run r = run_text(h, setups[i]);
        CHECK_EQ(csts(h) & 0x3, 1); /* RDY, no CFS */
        CHECK(r.completions >= 3);
        CHECK_EQ(r.errors, 0);
        CHECK_EQ(h->shadow.nvme.nioq, pairs[i]);
        if (r.errors)
            fprintf(stderr, "%s", r.trace);
        free(r.trace);
    }
}

/* Write a pattern through one data-pointer kind, read it back through
 * another, on each I/O queue; both must complete with status 0 and the read
 * buffer (the last data-area buffer) must hold the pattern. PRP1 alone
 * carries one page; the others 3 pages, so a PRP list (chained: 0xff0 of
 * its page) is really needed. */
static unsigned xfer_of(const char *kind)
{
    return strcmp(kind, "prp1") ? 3 * 4096 : 4096;
}

static void round_trip(struct hv_host *h, const char *wk, const char *rk,
                       unsigned q, uint8_t byte)
{
    static uint8_t buf[3 * 4096];
    unsigned len = xfer_of(wk) < xfer_of(rk) ? xfer_of(wk) : xfer_of(rk);
    char body[1024];
    snprintf(body, sizeof body,
             "nvme_setup ioqs=2 qsize=8 numq dbbuf\n"
             "nvme_write ns=1 lba=%u blocks=%u q=%u dptr=%s data=0x%02x*%u\n"
             "nvme_read ns=1 lba=%u blocks=%u q=%u dptr=%s\n",
             byte, len / 512, q, wk, byte, len, byte, len / 512, q, rk);
    struct run r = run_text(h, body);
    CHECK_EQ(r.errors, 0);
    CHECK_EQ(r.completions, 1 + 4 + 1 + 2); /* numq, 2 pairs, dbbuf, I/O */
    uint32_t end = h->shadow.data_next & ~15u;
    hv_mem_read(h->m, h->layout->dma_base + end - len, buf, len);
    unsigned bad = 0;
    for (unsigned k = 0; k < len; k++)
        bad += buf[k] != byte;
    CHECK_EQ(bad, 0);
    if (r.errors || bad)
        fprintf(stderr, "write %s / read %s q%u:\n%s", wk, rk, q, r.trace);
    free(r.trace);
}

static void test_round_trips(struct hv_host *h)
{
    /* sgl_bb: a bit bucket discards read data, and a write with one is
     * refused; it has its own test below */
    static const char *const kinds[] = {"prp1", "prp", "list", "chain",
                                        "sgl", "sgl_seg"};
    for (unsigned w = 0; w < 6; w++)
        for (unsigned q = 1; q <= 2; q++)
            round_trip(h, kinds[w], kinds[(w + q) % 6], q, (uint8_t)(0x30 + 6 * q + w));
}

/* More submissions than the queue holds: the shadow's tail and the CQ
 * phase wrap and every command still completes. */
static void test_queue_wrap(struct hv_host *h)
{
    char body[4096] = "nvme_setup ioqs=1 qsize=4\n";
    for (unsigned i = 0; i < 11; i++)
        snprintf(body + strlen(body), sizeof body - strlen(body),
                 "nvme_read ns=1 lba=%u blocks=1\n", i);
    struct run r = run_text(h, body);
    CHECK_EQ(r.errors, 0);
    CHECK_EQ(h->shadow.nvme.q[1].sq_tail, 11 % 4);
    CHECK_EQ(h->shadow.nvme.q[1].phase, 11 / 4 % 2 ? 0 : 1);
    free(r.trace);
}

static void test_bad_commands(struct hv_host *h)
{
    struct run r = run_text(h,
        "nvme_setup ioqs=1 qsize=8\n"
        "nvme_read ns=3 lba=0 blocks=1\n"        /* inactive namespace */
        "nvme_read ns=0x1000 lba=0 blocks=1\n"   /* NSID above NN */
        "nvme_read ns=1 lba=0x7fff blocks=2\n"   /* past the end */
        "nvme_submit q=1 opc=0x7f nsid=1\n");    /* no such opcode */
    CHECK_EQ(r.errors, 4);
    /* status fields as QEMU 7.2 (DNR 0x4000 | SCT << 8 | SC) */
    CHECK(strstr(r.trace, "nsid=3 status=0x4002") != NULL);    /* invalid field */
    CHECK(strstr(r.trace, "nsid=4096 status=0x400b") != NULL); /* invalid namespace */
    CHECK(strstr(r.trace, "status=0x4080") != NULL);           /* LBA out of range */
    CHECK(strstr(r.trace, "opc=0x7f nsid=1 status=0x4001") != NULL); /* invalid opcode */
    if (r.errors != 4)
        fprintf(stderr, "%s", r.trace);
    free(r.trace);
}

int main(void)
{
    const char *err = NULL;
    struct hv_host *h = hv_host_create("nvme", &err);
    CHECK(h != NULL);
    if (!h) {
        fprintf(stderr, "nvme: %s\n", err);
        return hv_test_done("test_nvme_ops");
    }
    test_setup_variants(h);
    test_round_trips(h);
    test_queue_wrap(h);
    test_bad_commands(h);
    hv_host_destroy(h);
    return hv_test_done("test_nvme_ops");
}
