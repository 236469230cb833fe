/*
 * Expansion of the tpm_cmd op against a recording mock of the CRB (register
 * file + data buffer; CTRL_START copies a canned response into the buffer):
 * the exact Linux tpm_crb access sequence, each flag (NOLOC, NOREADY,
 * NOPOLL, RAWSIZE, KEEP and the held locality, WIDE, CANCEL), the size
 * patch, the buffer bound, response reads bounded by the size field, the
 * settle-driven polling and its bound, a layout without a CRB; random
 * decode/encode/execution; the text form and the tpm_* directives; the
 * tpm-crb seeds (assemble, round trip).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/program/hv_program.h"
#include "harness/program/hv_text.h"
#include "hv_test.h"
#include "ptest.h"

#ifndef HV_SEEDS_DIR
#error "HV_SEEDS_DIR must be defined"
#endif

#define CRB 0xfed40000ull
#define LOC_STATE 0x00u
#define LOC_CTRL 0x08u
#define CTRL_REQ 0x40u
#define CTRL_STS 0x44u
#define CTRL_CANCEL 0x48u
#define CTRL_START 0x4cu
#define DATA 0x80u

enum ev_kind { EV_R, EV_W, EV_OTHER };

struct ev {
    enum ev_kind kind;
    uint32_t off; /* CRB offset */
    unsigned size;
    uint64_t val;
};

struct mock {
    struct ev log[8192];
    unsigned n;
    uint32_t regs[0x80 / 4];
    uint8_t buf[0x1000 - 0x80];
    uint8_t rsp[64];
    unsigned rsp_len;
    unsigned start_sticky; /* START reads stay 1 this many times */
    unsigned settles, settle_budget;
};

static const struct hv_layout *L;

static void log_ev(struct mock *m, enum ev_kind k, uint64_t gpa, unsigned s,
                   uint64_t v)
{
    if (m->n < sizeof m->log / sizeof m->log[0])
        m->log[m->n++] = (struct ev){k, (uint32_t)(gpa - CRB), s, v};
}

static uint64_t m_read(void *ctx, uint64_t gpa, unsigned size)
{
    struct mock *m = ctx;
    uint32_t off = (uint32_t)(gpa - CRB);
    uint64_t v = 0;

    if (off >= DATA) {
        for (unsigned i = 0; i < size; i++)
            v |= (uint64_t)m->buf[off - DATA + i] << (8 * i);
    } else if (off == CTRL_START && m->start_sticky) {
        m->start_sticky--;
        v = 1;
    } else {
        v = m->regs[off / 4];
    }
    log_ev(m, EV_R, gpa, size, v);
    return v;
}

static void m_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
    struct mock *m = ctx;
    uint32_t off = (uint32_t)(gpa - CRB);

    log_ev(m, EV_W, gpa, size, val);
    if (off >= DATA) {
        for (unsigned i = 0; i < size; i++)
            m->buf[off - DATA + i] = (uint8_t)(val >> (8 * i));
    } else if (off == CTRL_START && val == 1) {
        memcpy(m->buf, m->rsp, m->rsp_len);
    } else if (off == LOC_CTRL) {
        m->regs[0] = val == 1 ? 0x83 : 0x81;
    }
}

static void m_other(void *ctx, uint64_t gpa, const void *b, uint32_t len)
{
    (void)b;
    log_ev(ctx, EV_OTHER, gpa, len, 0);
}

static bool m_settle(void *ctx)
{
    struct mock *m = ctx;
    if (m->settles >= m->settle_budget)
        return false;
    m->settles++;
    return true;
}

static struct hv_exec_ops OPS = {
    .mmio_read = m_read, .mmio_write = m_write, .mem_write = m_other,
};

static struct mock *mock_new(void)
{
    struct mock *m = calloc(1, sizeof *m);
    static const uint8_t ok[10] = {0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0};
    memcpy(m->rsp, ok, sizeof ok);
    m->rsp_len = sizeof ok;
    m->regs[0] = 0x81;
    return m;
}

/* Expect the next event; returns false (and a failed check) otherwise. */
static bool expect(struct mock *m, unsigned *i, enum ev_kind k, uint32_t off,
                   unsigned size, uint64_t val, bool check_val)
{
    bool ok = *i < m->n && m->log[*i].kind == k && m->log[*i].off == off &&
              m->log[*i].size == size && (!check_val || m->log[*i].val == val);
    if (!ok) {
        fprintf(stderr, "event %u: want %s 0x%x/%u 0x%llx, got ", *i,
                k == EV_R ? "R" : "W", off, size, (unsigned long long)val);
        if (*i < m->n)
            fprintf(stderr, "%s 0x%x/%u 0x%llx\n", m->log[*i].kind == EV_R ? "R" : "W",
                    m->log[*i].off, m->log[*i].size, (unsigned long long)m->log[*i].val);
        else
            fprintf(stderr, "nothing\n");
    }
    CHECK(ok);
    (*i)++;
    return ok;
}
#define W(off, sz, v) expect(m, &i, EV_W, off, sz, v, true)
#define R(off, sz) expect(m, &i, EV_R, off, sz, 0, false)

static const uint8_t GETRANDOM[12] = {0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x7b, 0, 0x10};

static bool run_cmd(struct mock *m, struct hv_shadow *sh, uint8_t flags,
                    const uint8_t *cmd, uint32_t len)
{
    struct hv_op op = {.code = HV_OP_TPM_CMD, .known = true, .flags = flags,
                       .len = len, .data = cmd};
    return hv_op_exec(L, &op, &OPS, m, sh);
}

static void test_default_sequence(void)
{
    struct mock *m = mock_new();
    struct hv_shadow sh;
    unsigned i = 0;

    hv_shadow_reset(&sh);
    CHECK(run_cmd(m, &sh, 0, GETRANDOM, sizeof GETRANDOM));
    W(LOC_CTRL, 4, 1);
    R(LOC_STATE, 4);
    W(CTRL_REQ, 4, 1);
    R(CTRL_REQ, 4);
    W(CTRL_CANCEL, 4, 0);
    W(DATA + 0, 4, 0x00000180);
    W(DATA + 4, 4, 0x00000c00); /* bytes 00 0c 00 00 */
    W(DATA + 8, 4, 0x10007b01);
    W(CTRL_START, 4, 1);
    R(CTRL_START, 4);
    R(CTRL_STS, 4);
    R(DATA, 8);
    R(DATA + 8, 4); /* a 10-byte response: bytes 8..11 */
    W(CTRL_REQ, 4, 2);
    R(CTRL_REQ, 4);
    W(LOC_CTRL, 4, 2);
    R(LOC_STATE, 4);
    CHECK_EQ(i, m->n);
    CHECK_EQ(sh.tpm.locality, 0);
    free(m);
}

static void test_flags(void)
{
    struct mock *m = mock_new();
    struct hv_shadow sh;
    unsigned i = 0;
    uint8_t cmd[12];

    /* NOLOC | NOREADY | NOPOLL | CANCEL: no locality, no cmdReady, no
     * response read; goIdle still; no relinquish (never held) */
    hv_shadow_reset(&sh);
    CHECK(run_cmd(m, &sh, HV_TPM_F_NOLOC | HV_TPM_F_NOREADY | HV_TPM_F_NOPOLL |
                              HV_TPM_F_CANCEL,
                  GETRANDOM, sizeof GETRANDOM));
    W(CTRL_CANCEL, 4, 0);
    W(DATA, 4, 0x180);
    W(DATA + 4, 4, 0xc00);
    W(DATA + 8, 4, 0x10007b01);
    W(CTRL_START, 4, 1);
    W(CTRL_CANCEL, 4, 1);
    W(CTRL_REQ, 4, 2);
    R(CTRL_REQ, 4);
    CHECK_EQ(i, m->n);

    /* RAWSIZE: the size field as given; default: patched to the length */
    memcpy(cmd, GETRANDOM, sizeof cmd);
    cmd[5] = 0xff;
    m->n = i = 0;
    run_cmd(m, &sh, HV_TPM_F_RAWSIZE | HV_TPM_F_NOLOC | HV_TPM_F_NOREADY |
                        HV_TPM_F_NOPOLL | HV_TPM_F_KEEP, cmd, sizeof cmd);
    W(CTRL_CANCEL, 4, 0);
    W(DATA, 4, 0x180);
    W(DATA + 4, 4, 0xff00);
    m->n = i = 0;
    run_cmd(m, &sh, HV_TPM_F_NOLOC | HV_TPM_F_NOREADY | HV_TPM_F_NOPOLL |
                        HV_TPM_F_KEEP, cmd, sizeof cmd);
    i = 2;
    W(DATA + 4, 4, 0xc00);
    i = 4;
    W(CTRL_START, 4, 1);
    CHECK_EQ(i, m->n); /* KEEP: no goIdle */

    /* KEEP holds the locality: the next op requests none, then releases */
    m->n = i = 0;
    run_cmd(m, &sh, HV_TPM_F_KEEP | HV_TPM_F_NOREADY | HV_TPM_F_NOPOLL, cmd, 0);
    W(LOC_CTRL, 4, 1);
    R(LOC_STATE, 4);
    W(CTRL_CANCEL, 4, 0);
    W(CTRL_START, 4, 1);
    CHECK_EQ(i, m->n);
    CHECK_EQ(sh.tpm.locality, 1);
    m->n = i = 0;
    run_cmd(m, &sh, HV_TPM_F_NOREADY | HV_TPM_F_NOPOLL, cmd, 0);
    W(CTRL_CANCEL, 4, 0);
    W(CTRL_START, 4, 1);
    W(CTRL_REQ, 4, 2);
    R(CTRL_REQ, 4);
    W(LOC_CTRL, 4, 2);
    R(LOC_STATE, 4);
    CHECK_EQ(i, m->n);
    CHECK_EQ(sh.tpm.locality, 0);

    /* WIDE: 8-byte writes (the last padded) and reads */
    static const uint8_t rsp20[20] = {0x80, 0x01, 0, 0, 0, 20, 0, 0, 0, 0};
    memcpy(m->rsp, rsp20, sizeof rsp20);
    m->rsp_len = sizeof rsp20;
    m->n = i = 0;
    run_cmd(m, &sh, HV_TPM_F_WIDE | HV_TPM_F_NOLOC | HV_TPM_F_NOREADY |
                        HV_TPM_F_KEEP, GETRANDOM, sizeof GETRANDOM);
    W(CTRL_CANCEL, 4, 0);
    W(DATA, 8, 0x00000c0000000180ull);
    W(DATA + 8, 8, 0x10007b01ull);
    W(CTRL_START, 4, 1);
    R(CTRL_START, 4);
    R(CTRL_STS, 4);
    R(DATA, 8);
    R(DATA + 8, 8);
    R(DATA + 16, 8);
    CHECK_EQ(i, m->n);
    free(m);
}

static void test_bounds(void)
{
    struct mock *m = mock_new();
    struct hv_shadow sh;
    uint8_t *big = calloc(1, 5000);
    unsigned i = 0, writes = 0;

    hv_shadow_reset(&sh);
    /* a command longer than the buffer: 3968 bytes written, size 3968 */
    big[0] = 0x80;
    big[1] = 0x01;
    m->rsp_len = 0; /* START leaves the buffer as written */
    run_cmd(m, &sh, HV_TPM_F_NOPOLL, big, 5000);
    m->rsp_len = 10;
    for (unsigned k = 0; k < m->n; k++)
        if (m->log[k].kind == EV_W && m->log[k].off >= DATA) {
            writes++;
            CHECK(m->log[k].off + m->log[k].size <= 0x1000);
        }
    CHECK_EQ(writes, HV_TPM_BUF_SIZE / 4);
    CHECK_EQ(m->buf[2] << 24 | m->buf[3] << 16 | m->buf[4] << 8 | m->buf[5],
             HV_TPM_BUF_SIZE);

    /* response size fields out of range: the 8-byte read only */
    static const uint32_t sizes[] = {0, 9, HV_TPM_BUF_SIZE + 1, 0xffffffffu};
    for (unsigned s = 0; s < 4; s++) {
        m->rsp[2] = (uint8_t)(sizes[s] >> 24);
        m->rsp[3] = (uint8_t)(sizes[s] >> 16);
        m->rsp[4] = (uint8_t)(sizes[s] >> 8);
        m->rsp[5] = (uint8_t)sizes[s];
        m->n = 0;
        run_cmd(m, &sh, HV_TPM_F_NOLOC | HV_TPM_F_NOREADY | HV_TPM_F_KEEP,
                GETRANDOM, sizeof GETRANDOM);
        CHECK_EQ(m->n, 8); /* cancel, 3 writes, start, 3 reads */
        CHECK(m->log[m->n - 1].kind == EV_R && m->log[m->n - 1].off == DATA &&
              m->log[m->n - 1].size == 8);
    }
    /* the largest response: reads up to 3968 bytes, never past the end */
    m->rsp[2] = 0;
    m->rsp[3] = 0;
    m->rsp[4] = (uint8_t)(HV_TPM_BUF_SIZE >> 8);
    m->rsp[5] = (uint8_t)HV_TPM_BUF_SIZE;
    m->n = 0;
    run_cmd(m, &sh, HV_TPM_F_NOLOC | HV_TPM_F_NOREADY | HV_TPM_F_KEEP, GETRANDOM,
            sizeof GETRANDOM);
    CHECK_EQ(m->log[m->n - 1].off, 0x1000 - 4);
    CHECK_EQ(m->n, 8 + (HV_TPM_BUF_SIZE - 8) / 4);
    (void)i;
    free(big);
    free(m);
}

static void test_settle(void)
{
    struct mock *m = mock_new();
    struct hv_shadow sh;
    unsigned starts = 0;

    hv_shadow_reset(&sh);
    /* no settle callback: START read once even while it reads 1 */
    m->start_sticky = 3;
    run_cmd(m, &sh, HV_TPM_F_NOLOC | HV_TPM_F_NOREADY | HV_TPM_F_KEEP, GETRANDOM,
            sizeof GETRANDOM);
    for (unsigned k = 0; k < m->n; k++)
        starts += m->log[k].kind == EV_R && m->log[k].off == CTRL_START;
    CHECK_EQ(starts, 1);
    /* with settle: polled until it reads 0 (3 settles, 4 reads) */
    OPS.settle = m_settle;
    m->start_sticky = 3;
    m->settle_budget = 100000;
    m->n = 0;
    starts = 0;
    run_cmd(m, &sh, HV_TPM_F_NOLOC | HV_TPM_F_NOREADY | HV_TPM_F_KEEP, GETRANDOM,
            sizeof GETRANDOM);
    for (unsigned k = 0; k < m->n; k++)
        starts += m->log[k].kind == EV_R && m->log[k].off == CTRL_START;
    CHECK_EQ(starts, 4);
    CHECK_EQ(m->settles, 3);
    /* a START that never clears: bounded by HV_TPM_POLL_MAX */
    m->start_sticky = 1000000;
    m->settles = 0;
    m->n = 0;
    starts = 0;
    run_cmd(m, &sh, HV_TPM_F_NOLOC | HV_TPM_F_NOREADY | HV_TPM_F_KEEP, GETRANDOM,
            sizeof GETRANDOM);
    for (unsigned k = 0; k < m->n; k++)
        starts += m->log[k].kind == EV_R && m->log[k].off == CTRL_START;
    CHECK_EQ(starts, 1 + HV_TPM_POLL_MAX);
    OPS.settle = NULL;
    free(m);
}

static void test_no_crb(void)
{
    struct mock *m = mock_new();
    struct hv_shadow sh;
    struct hv_op op = {.code = HV_OP_TPM_CMD, .known = true, .len = 12,
                       .data = GETRANDOM};

    hv_shadow_reset(&sh);
    CHECK(!hv_op_exec(hv_layout_find("nvme"), &op, &OPS, m, &sh));
    CHECK_EQ(m->n, 0);
    struct hv_exec_ops none = {0};
    CHECK(!hv_op_exec(L, &op, &none, m, &sh));
    free(m);
}

static void test_random(void)
{
    uint64_t seed = 0x7b7b1234;
    uint8_t prog[512], enc[600];
    struct mock *m = mock_new();
    struct hv_shadow sh;

    for (unsigned it = 0; it < 3000; it++) {
        size_t n = 1 + hv_test_xorshift(&seed) % sizeof prog;
        for (size_t k = 0; k < n; k++)
            prog[k] = (uint8_t)hv_test_xorshift(&seed);
        prog[0] = HV_OP_TPM_CMD;
        if (n > 3) { /* a length that mostly fits */
            prog[2] = (uint8_t)((n - 4) & 0xff);
            prog[3] = (uint8_t)((n - 4) >> 8);
        }
        struct hv_op op;
        size_t used = hv_op_decode(prog, n, &op);
        if (used) {
            CHECK_EQ(hv_op_encode(&op, enc, sizeof enc), used);
            CHECK(memcmp(enc, prog, used) == 0);
        }
        m->n = 0;
        hv_program_run(L, prog, n, &OPS, m, &sh);
        CHECK(ptest_roundtrip(L, prog, n));
    }
    free(m);
}

static bool asm_is(const char *text, const char *hex)
{
    char err[512];
    size_t n, want_n = strlen(hex) / 2;
    uint8_t *b = hv_asm(L, "t", text, strlen(text), &n, err, sizeof err);
    bool ok = b && n == want_n;
    for (size_t k = 0; ok && k < n; k++) {
        unsigned v;
        sscanf(hex + 2 * k, "%2x", &v);
        ok = b[k] == v;
    }
    if (!ok) {
        fprintf(stderr, "%s: got ", text);
        for (size_t k = 0; b && k < n; k++)
            fprintf(stderr, "%02x", b[k]);
        fprintf(stderr, " %s\n", b ? "" : err);
    }
    free(b);
    return ok;
}

static bool asm_fails(const char *text, const char *msg)
{
    char err[512] = "";
    size_t n;
    uint8_t *b = hv_asm(L, "t", text, strlen(text), &n, err, sizeof err);
    bool ok = !b && strstr(err, msg);
    if (!ok)
        fprintf(stderr, "%s: want error '%s', got '%s'\n", text, msg, err);
    free(b);
    return ok;
}

static void test_text(void)
{
    /* op 0x40, flags, le16 len, data */
    CHECK(asm_is("tpm_cmd hex:80010000000c0000017b0010",
                 "40000c0080010000000c0000017b0010"));
    CHECK(asm_is("tpm_cmd", "40000000"));
    CHECK(asm_is("tpm_cmd noloc noready nopoll rawsize keep wide cancel hex:00",
                 "407f010000"));
    CHECK(asm_is("tpm_cmd flags=0x80", "40800000"));
    CHECK(asm_is("tpm_startup clear", "40000c0080010000000c000001440000"));
    CHECK(asm_is("tpm_shutdown state", "40000c0080010000000c000001450001"));
    CHECK(asm_is("tpm_selftest full", "40000b0080010000000b0000014301"));
    CHECK(asm_is("tpm_selftest", "40000b0080010000000b0000014300"));
    CHECK(asm_is("tpm_getrandom 16 keep", "40100c0080010000000c0000017b0010"));
    CHECK(asm_is("tpm_getcap 5 0 8",
                 "4000160080010000001600""00017a000000050000000000000008"));
    CHECK(asm_is("tpm_pcr_read sha256 0,1,2",
                 "40001400" "8001000000140000017e00000001000b03070000"));
    CHECK(asm_is("tpm_pcr_read sha1 8,23",
                 "40001400" "8001000000140000017e00000001000403000180"));
    CHECK(asm_is("tpm_pcr_extend 7 sha1:0102030405060708090a0b0c0d0e0f1011121314",
                 "40003500" "80020000003500000182" "00000007"
                 "00000009" "40000009" "0000" "01" "0000" "00000001" "0004"
                 "0102030405060708090a0b0c0d0e0f1011121314"));
    CHECK(asm_fails("tpm_startup maybe", "want clear or state"));
    CHECK(asm_fails("tpm_pcr_read sha256 24", "PCR index"));
    CHECK(asm_fails("tpm_getcap 1 2", "missing operands"));
    CHECK(asm_fails("tpm_frobnicate", "unknown TPM directive"));
    CHECK(asm_fails("tpm_cmd hex:00 hex:11", "one DATA operand"));

    /* disassembly: flags as keywords, bit 7 as flags=, a CC comment */
    uint8_t b[] = {0x40, 0x11, 12, 0, 0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x7b, 0, 0x10};
    char *t = hv_disasm(L, b, sizeof b);
    CHECK(t && strstr(t, "tpm_cmd noloc keep hex:80010000000c0000017b0010  # GetRandom (0x17b) size=12"));
    free(t);
    CHECK(ptest_roundtrip(L, b, sizeof b));
    b[1] = 0x88;
    b[9] = 0xff;
    t = hv_disasm(L, b, sizeof b);
    CHECK(t && strstr(t, "tpm_cmd flags=0x88 ") && strstr(t, "size=255 (sent as is, len 12)"));
    free(t);
    CHECK(ptest_roundtrip(L, b, sizeof b));
    /* a CRB register access is named */
    uint8_t r[] = {HV_OP_MMIO_READ, 0, 0x4c, 0, 0, 0, 4};
    t = hv_disasm(L, r, sizeof r);
    CHECK(t && strstr(t, "# ctrl_start"));
    free(t);
}

static void seed_fn(const char *path, const char *text, const uint8_t *bin,
                    size_t n, void *arg)
{
    struct mock *m = arg;
    struct hv_shadow sh;
    (void)text;
    if (!ptest_roundtrip(L, bin, n))
        fprintf(stderr, "seed %s\n", path);
    m->n = 0;
    CHECK(hv_program_run(L, bin, n, &OPS, m, &sh) > 0);
}

int main(void)
{
    L = hv_layout_find("tpm-crb");
    CHECK(L != NULL);
    if (!L)
        return hv_test_done("test_program_tpm");
    CHECK_EQ(L->ndevs, 1);
    CHECK_EQ(L->devs[0].bdf, HV_NO_BDF);
    CHECK_EQ(L->mmio[0].base, CRB);
    CHECK_EQ(L->mmio[0].size, 0x1000);
    CHECK_EQ(hv_op_name(HV_OP_TPM_CMD) && !strcmp(hv_op_name(HV_OP_TPM_CMD), "tpm_cmd"), 1);
    test_default_sequence();
    test_flags();
    test_bounds();
    test_settle();
    test_no_crb();
    test_random();
    test_text();
    struct mock *m = mock_new();
    unsigned seeds = ptest_each_seed(L, seed_fn, m);
    free(m);
    printf("tpm-crb seeds: %u\n", seeds);
    return hv_test_done("test_program_tpm");
}
