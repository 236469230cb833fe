/*
 * tpm-cmd: the TPM 2.0 command model's native input, as libtpms's own
 * fuzzer takes it: raw command buffers (one, or a stream split by their
 * header size fields: targets/tpm/tpm_stream.h) run through tpm_execute()
 * on a TPM fresh from manufacture after TPM2_Startup(CLEAR). No CRB, no
 * program format: in-process only (DESIGN.md, "The input format").
 *
 * Each command is copied into a heap buffer of its exact size, so a read
 * past it is an ASan report. Besides the sanitizers, every response is
 * checked: at least a header, its size field equal to its length, a valid
 * tag; a violation is an assert finding. NV is persisted through an
 * in-memory store (emptied per input); after the input the TPM is power
 * cycled and must load back the NV state it saved (else an assert finding).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/inproc/inproc.h"
#include "targets/tpm/tpm.h"
#include "targets/tpm/tpm_stream.h"

#define RSP_CAP 4096u

/* NV persisted in memory, emptied before each input: the store code runs
 * on every NV change, and what the model saved must load back. */
struct mem_store {
    uint8_t blob[TPM_NV_BLOB_MAX];
    size_t len;
};

static int mem_load(void *ctx, uint8_t *buf, size_t cap, size_t *len)
{
    struct mem_store *m = ctx;

    if (!m->len)
        return TPM_NV_STORE_EMPTY;
    if (m->len > cap)
        return -1;
    memcpy(buf, m->blob, m->len);
    *len = m->len;
    return 0;
}

static int mem_save(void *ctx, const uint8_t *buf, size_t len)
{
    struct mem_store *m = ctx;

    if (len > sizeof(m->blob))
        return -1;
    memcpy(m->blob, buf, len);
    m->len = len;
    return 0;
}

struct tpm_target {
    struct tpm *tpm;
    uint8_t *rsp; /* RSP_CAP bytes */
    struct mem_store *nv;
    struct tpm_nv_store store;
};

static struct tpm_target *target(void)
{
    static struct tpm_target t;

    if (!t.tpm) {
        t.nv = calloc(1, sizeof(*t.nv));
        t.store = (struct tpm_nv_store){.ctx = t.nv, .load = mem_load,
                                        .save = mem_save, .name = "memory"};
        t.tpm = t.nv ? tpm_create(&(struct tpm_params){.seed = 0, .store = &t.store})
                     : NULL;
        t.rsp = malloc(RSP_CAP);
        if (!t.tpm || !t.rsp) {
            fprintf(stderr, "hvfuzz: error: tpm-cmd: cannot create the TPM\n");
            exit(2);
        }
    }
    return &t;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void finding(const char *site, const uint8_t *cmd, const char *what,
                    size_t got)
{
    fprintf(stderr, "==HVFUZZ== FINDING kind=assert site=%s: tpm-cmd: %s "
            "(%zu) for CC 0x%x\n", site, what, got, cmd ? be32(cmd + 6) : 0u);
    fflush(stderr);
    abort();
}

/* The response of a well-behaved TPM (Part 1, 18.3). */
static void check_response(const uint8_t *cmd, size_t cmd_len,
                           const uint8_t *rsp, size_t n)
{
    const uint8_t *c = cmd_len >= TPM_STREAM_HEADER ? cmd : NULL;

    if (n < TPM_STREAM_HEADER || n > RSP_CAP)
        finding(HV_SITE, c, "response length out of range", n);
    if (be32(rsp + 2) != n)
        finding(HV_SITE, c, "response size field differs from its length", be32(rsp + 2));
    if (rsp[0] != 0x80 || (rsp[1] != 0x01 && rsp[1] != 0x02))
        finding(HV_SITE, c, "response tag invalid", (size_t)rsp[0] << 8 | rsp[1]);
}

static void execute(struct tpm_target *t, const uint8_t *cmd, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees overreads */
    size_t n;

    if (!copy)
        return;
    memcpy(copy, cmd, len);
    n = tpm_execute(t->tpm, copy, len, t->rsp, RSP_CAP);
    check_response(copy, len, t->rsp, n);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t startup[12] = {0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0};
    struct tpm_target *t = target();

    t->nv->len = 0;
    tpm_reset(t->tpm);
    execute(t, startup, sizeof startup);
    for (size_t pos = 0; pos < size;) {
        size_t len = tpm_stream_next(data + pos, size - pos);
        execute(t, data + pos, len);
        pos += len;
    }
    if (t->nv->len) { /* power cycle: NV comes back from the store */
        tpm_init(t->tpm);
        if (tpm_nv_status(t->tpm) != TPM_NV_OK)
            finding(HV_SITE, NULL, "the NV state the model saved does not load back",
                    t->nv->len);
    }
    return 0;
}

HV_DEFINE_UNIT_MUTATOR(tpm_stream_next)
