/*
 * The TPM model's NV store over the NV state file (harness/backends/
 * tpm_nvfile.c): NV survives destroy/create, tpm_init and tpm_reset; a
 * store does not change any response; corrupt files (every truncation,
 * every bit flip, wrong magic/version/length, well-sealed blobs with
 * impossible fields, oversized files, a directory) are refused with their
 * reason, NV starts empty and the file is never overwritten; failed saves
 * (injected ENOSPC/EIO at write, fsync, rename and directory fsync, and a
 * real full tmpfs when a private mount namespace is available) answer
 * TPM_RC_NV_UNAVAILABLE, roll NV back and leave the old file whole.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/backends/hv_tpm_nvfile.h"
#include "hv_test.h"
#include "tpm_nv_cmds.h"

#define IDX_A 0x01500001u
#define IDX_B 0x01500002u
#define IDX_C 0x01500003u
#define IDX_D 0x01500004u
#define IDX_E 0x01500005u
#define IDX_F 0x01500006u
#define IDX_G 0x01500007u

static char dir[256], path[320], tmp_path[330];

static void fill(uint8_t *buf, size_t len, unsigned gen)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(gen * 31 + i * 7);
}

static bool exists(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0;
}

static struct hv_tpm_nvfile *open_store(const char *p)
{
    char err[256];
    struct hv_tpm_nvfile *f = hv_tpm_nvfile_open(p, err, sizeof(err));

    if (!f) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return f;
}

static struct tpm *open_tpm(const char *p, struct hv_tpm_nvfile **f)
{
    *f = open_store(p);
    return tpm_create(&(struct tpm_params){.store = hv_tpm_nvfile_store(*f)});
}

static void close_tpm(struct tpm *t, struct hv_tpm_nvfile *f)
{
    tpm_destroy(t);
    hv_tpm_nvfile_close(f);
}

static bool file_is(const char *p, const uint8_t *want, size_t len)
{
    size_t n;
    uint8_t *b = nvt_read_file(p, &n);
    bool same = b && n == len && !memcmp(b, want, len);

    free(b);
    return same;
}

static bool read_is(struct nvt *n, uint32_t auth, const char *pw, uint32_t idx,
                    const uint8_t *want, uint16_t len)
{
    return nvt_read(n, auth, pw, idx, len, 0) == 0 &&
           !memcmp(n->rsp + 16, want, len);
}

static uint64_t counter(struct nvt *n, const char *pw, uint32_t idx)
{
    uint64_t v = 0;

    if (nvt_read(n, NVT_OWNER, pw, idx, 8, 0))
        return ~0ull;
    for (unsigned i = 0; i < 8; i++)
        v = v << 8 | n->rsp[16 + i];
    return v;
}

/* ---- round trip ----------------------------------------------------------- */

static void test_round_trip(void)
{
    struct hv_tpm_nvfile *f;
    struct nvt n = {0};
    uint8_t a[64], b[16], pub[4][128];
    size_t pub_len[4];
    const uint32_t idx[4] = {IDX_A, IDX_B, IDX_C, IDX_D};
    size_t len;
    uint8_t *blob;

    unlink(path);
    n.t = open_tpm(path, &f);
    CHECK(n.t != NULL);
    CHECK_EQ(tpm_nv_status(n.t), TPM_NV_OK); /* a missing file: empty NV */
    CHECK(tpm_nv_error(n.t) == NULL);
    CHECK_EQ(nvt_startup(&n), 0);
    CHECK(!exists(path)); /* nothing changed: nothing saved */

    fill(a, sizeof(a), 1);
    fill(b, sizeof(b), 2);
    CHECK_EQ(nvt_define(&n, "", IDX_A, NVT_ORDINARY_OWNER, 64, NULL), 0);
    CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_A, a, 64, 0), 0);
    CHECK_EQ(nvt_define(&n, "", IDX_B, NVT_ORDINARY_AUTH, 16, "secret"), 0);
    CHECK_EQ(nvt_write(&n, IDX_B, "secret", IDX_B, b, 16, 0), 0);
    CHECK_EQ(nvt_define(&n, "", IDX_C, NVT_COUNTER_OWNER, 8, NULL), 0);
    for (unsigned i = 0; i < 3; i++)
        CHECK_EQ(nvt_increment(&n, "", IDX_C), 0);
    CHECK_EQ(nvt_define(&n, "", IDX_D, NVT_ORDINARY_OWNER, 8, NULL), 0);
    CHECK_EQ(nvt_define(&n, "", IDX_E, NVT_ORDINARY_OWNER, 32, NULL), 0);
    CHECK_EQ(nvt_undefine(&n, "", IDX_E), 0);
    CHECK_EQ(nvt_define(&n, "", IDX_F, NVT_COUNTER_OWNER, 8, NULL), 0);
    for (unsigned i = 0; i < 5; i++)
        CHECK_EQ(nvt_increment(&n, "", IDX_F), 0);
    CHECK_EQ(nvt_undefine(&n, "", IDX_F), 0); /* largest counter so far: 5 */
    CHECK_EQ(nvt_change_owner_auth(&n, "", "ownerpw"), 0);
    /* failing commands and reads save nothing */
    CHECK_EQ(nvt_define(&n, "ownerpw", IDX_A, NVT_ORDINARY_OWNER, 64, NULL),
             0x14C);
    CHECK_EQ(nvt_read(&n, NVT_OWNER, "ownerpw", IDX_A, 64, 0), 0);
    /* 6 defines, 2 writes, 8 increments, 2 undefines, 1 auth change */
    CHECK_EQ(hv_tpm_nvfile_saves(f), 19);
    for (unsigned i = 0; i < 4; i++) {
        CHECK_EQ(nvt_read_public(&n, idx[i]), 0);
        pub_len[i] = n.rsp_len;
        memcpy(pub[i], n.rsp, n.rsp_len);
    }
    blob = nvt_read_file(path, &len);
    CHECK(blob && nvt_blob_sound(blob, len));
    free(blob);
    CHECK(!exists(tmp_path));
    close_tpm(n.t, f);

    /* a new TPM (a new process) over the same file */
    n.t = open_tpm(path, &f);
    CHECK_EQ(tpm_nv_status(n.t), TPM_NV_OK);
    CHECK_EQ(nvt_startup(&n), 0);
    for (unsigned i = 0; i < 4; i++) {
        CHECK_EQ(nvt_read_public(&n, idx[i]), 0);
        CHECK(n.rsp_len == pub_len[i] && !memcmp(n.rsp, pub[i], pub_len[i]));
    }
    CHECK_EQ(nvt_read_public(&n, IDX_E), NVT_RC_HANDLE_1);
    CHECK_EQ(nvt_read_public(&n, IDX_F), NVT_RC_HANDLE_1);
    CHECK(nvt_read(&n, NVT_OWNER, "", IDX_A, 64, 0) != 0); /* auth persisted */
    CHECK(read_is(&n, NVT_OWNER, "ownerpw", IDX_A, a, 64));
    CHECK(read_is(&n, IDX_B, "secret", IDX_B, b, 16));
    CHECK(nvt_read(&n, IDX_B, "wrong", IDX_B, 16, 0) != 0);
    CHECK_EQ(counter(&n, "ownerpw", IDX_C), 3);
    CHECK_EQ(nvt_read(&n, NVT_OWNER, "ownerpw", IDX_D, 8, 0),
             NVT_RC_NV_UNINITIALIZED);
    /* a new counter starts above every counter undefined before */
    CHECK_EQ(nvt_define(&n, "ownerpw", IDX_G, NVT_COUNTER_OWNER, 8, NULL), 0);
    CHECK_EQ(nvt_increment(&n, "ownerpw", IDX_G), 0);
    CHECK_EQ(counter(&n, "ownerpw", IDX_G), 6);

    tpm_init(n.t); /* power cycle: NV loaded again */
    CHECK_EQ(tpm_nv_status(n.t), TPM_NV_OK);
    CHECK_EQ(nvt_startup(&n), 0);
    CHECK(read_is(&n, NVT_OWNER, "ownerpw", IDX_A, a, 64));
    CHECK_EQ(counter(&n, "ownerpw", IDX_G), 6);
    tpm_reset(n.t); /* what tpm_create returns: what the store holds */
    CHECK_EQ(nvt_startup(&n), 0);
    CHECK(read_is(&n, NVT_OWNER, "ownerpw", IDX_A, a, 64));
    CHECK_EQ(counter(&n, "ownerpw", IDX_C), 3);
    close_tpm(n.t, f);
}

/* ---- a store changes no answer ------------------------------------------------ */

#define BOTH(fn, ...)                                                          \
    do {                                                                       \
        uint32_t ra_ = fn(&x, __VA_ARGS__), rb_ = fn(&y, __VA_ARGS__);         \
        CHECK_EQ(ra_, rb_);                                                    \
        CHECK(x.rsp_len == y.rsp_len && !memcmp(x.rsp, y.rsp, x.rsp_len));     \
    } while (0)

static uint32_t get_random(struct nvt *n, uint16_t count)
{
    struct tc_buf b;

    tc_header(&b, 0x8001, 0x17B);
    tc_u16(&b, count);
    return nvt_run(n, &b);
}

static void test_same_answers(void)
{
    struct hv_tpm_nvfile *f;
    struct nvt x = {0}, y = {0};
    uint8_t a[32];

    unlink(path);
    x.t = tpm_create(&(struct tpm_params){.seed = 7});
    f = open_store(path);
    y.t = tpm_create(&(struct tpm_params){.seed = 7,
                                          .store = hv_tpm_nvfile_store(f)});
    fill(a, sizeof(a), 9);
    CHECK_EQ(nvt_startup(&x), nvt_startup(&y));
    BOTH(get_random, 16);
    BOTH(nvt_define, "", IDX_A, NVT_ORDINARY_OWNER, 32, NULL);
    BOTH(nvt_define, "", IDX_A, NVT_ORDINARY_OWNER, 32, NULL);
    BOTH(nvt_read, NVT_OWNER, "", IDX_A, 32, 0);
    BOTH(nvt_write, NVT_OWNER, "", IDX_A, a, 32, 0);
    BOTH(nvt_write, NVT_OWNER, "", IDX_A, a, 32, 8);
    BOTH(nvt_read, NVT_OWNER, "", IDX_A, 32, 0);
    BOTH(nvt_define, "", IDX_C, NVT_COUNTER_OWNER, 8, NULL);
    BOTH(nvt_increment, "", IDX_C);
    BOTH(nvt_read_public, IDX_C);
    BOTH(nvt_change_owner_auth, "", "pw");
    BOTH(nvt_undefine, "pw", IDX_A);
    BOTH(nvt_undefine, "pw", IDX_A);
    BOTH(get_random, 16);
    tpm_destroy(x.t);
    close_tpm(y.t, f);
}

/* ---- corrupt files --------------------------------------------------------- */

/* The layout of the file test_corrupt() starts from: A (64 bytes, written)
 * then C (counter); every auth empty. */
#define OFF_COUNT (12 + 8 + 4 * 2)
#define OFF_IDX0 (OFF_COUNT + 2)
#define OFF_IDX1 (OFF_IDX0 + 16 + 64)

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

/* Stores `blob` as the file, then a TPM over it must refuse it with `want`
 * and a message naming the file and holding `needle`, run with empty NV,
 * refuse NV changes and leave the file as it was. */
static void expect_refused(const uint8_t *blob, size_t len,
                           enum tpm_nv_status want, const char *needle)
{
    struct hv_tpm_nvfile *f;
    struct nvt n = {0};
    const char *msg;

    CHECK(nvt_write_file(path, blob, len));
    n.t = open_tpm(path, &f);
    CHECK(n.t != NULL);
    CHECK_EQ(tpm_nv_status(n.t), want);
    msg = tpm_nv_error(n.t);
    CHECK(msg && strstr(msg, needle) && strstr(msg, path));
    if (msg && !strstr(msg, needle))
        fprintf(stderr, "message: %s (want \"%s\")\n", msg, needle);
    CHECK_EQ(nvt_startup(&n), 0);
    CHECK_EQ(nvt_read_public(&n, IDX_A), NVT_RC_HANDLE_1);
    CHECK_EQ(nvt_define(&n, "", IDX_B, NVT_ORDINARY_OWNER, 8, NULL),
             NVT_RC_NV_UNAVAILABLE);
    CHECK_EQ(nvt_read_public(&n, IDX_B), NVT_RC_HANDLE_1);
    CHECK_EQ(nvt_change_owner_auth(&n, "", "x"), NVT_RC_NV_UNAVAILABLE);
    CHECK_EQ(nvt_define(&n, "", IDX_B, NVT_ORDINARY_OWNER, 8, NULL),
             NVT_RC_NV_UNAVAILABLE); /* owner auth still empty */
    CHECK_EQ(tpm_nv_status(n.t), want);
    CHECK(file_is(path, blob, len));
    CHECK_EQ(hv_tpm_nvfile_saves(f), 0);
    close_tpm(n.t, f);
}

/* Quicker: only the status and empty NV (for the exhaustive loops). */
static bool refused_quietly(const uint8_t *blob, size_t len)
{
    struct hv_tpm_nvfile *f;
    struct nvt n = {0};
    bool ok;

    if (!nvt_write_file(path, blob, len))
        return false;
    n.t = open_tpm(path, &f);
    ok = tpm_nv_status(n.t) == TPM_NV_CORRUPT && nvt_startup(&n) == 0 &&
         nvt_read_public(&n, IDX_A) == NVT_RC_HANDLE_1;
    close_tpm(n.t, f);
    return ok;
}

static void test_corrupt(void)
{
    struct hv_tpm_nvfile *f;
    struct nvt n = {0};
    uint8_t a[64], *good, *bad;
    size_t len;
    unsigned refused = 0, tried = 0;

    unlink(path);
    n.t = open_tpm(path, &f);
    fill(a, sizeof(a), 3);
    CHECK_EQ(nvt_startup(&n), 0);
    CHECK_EQ(nvt_define(&n, "", IDX_A, NVT_ORDINARY_OWNER, 64, NULL), 0);
    CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_A, a, 64, 0), 0);
    CHECK_EQ(nvt_define(&n, "", IDX_C, NVT_COUNTER_OWNER, 8, NULL), 0);
    CHECK_EQ(nvt_increment(&n, "", IDX_C), 0);
    close_tpm(n.t, f);
    good = nvt_read_file(path, &len);
    CHECK(good && len == OFF_IDX1 + 16 + 8 + 32);
    if (!good || len != OFF_IDX1 + 16 + 8 + 32)
        return;
    CHECK(nvt_blob_sound(good, len));
    CHECK_EQ(tc_be32(good + OFF_IDX0), IDX_A);
    CHECK_EQ(tc_be32(good + OFF_IDX1), IDX_C);
    bad = malloc(TPM_NV_BLOB_MAX + 2);

    /* every truncation, every single-bit flip */
    for (size_t l = 0; l < len; l++, tried++)
        refused += refused_quietly(good, l);
    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit++, tried++) {
            memcpy(bad, good, len);
            bad[i] ^= (uint8_t)(1u << bit);
            refused += refused_quietly(bad, len);
        }
    }
    CHECK_EQ(refused, tried);
    printf("corrupt: %u truncated/bit-flipped files of a %zu-byte state, all "
           "refused\n", refused, len);

    /* sealed mutations of every body byte: accepted (a valid state) or
     * refused, and an accepted one serves commands (ASan watches) */
    refused = tried = 0;
    for (size_t i = 12; i < len - 32; i++) {
        const uint8_t vals[] = {0x00, 0xFF, (uint8_t)(good[i] ^ 1),
                                (uint8_t)(good[i] ^ 0x80),
                                (uint8_t)(good[i] + 1)};

        for (unsigned v = 0; v < sizeof(vals); v++, tried++) {
            struct hv_tpm_nvfile *mf;
            struct nvt m = {0};

            memcpy(bad, good, len);
            bad[i] = vals[v];
            nvt_blob_seal(bad, len);
            CHECK(nvt_write_file(path, bad, len));
            m.t = open_tpm(path, &mf);
            CHECK(tpm_nv_status(m.t) == TPM_NV_OK ||
                  tpm_nv_status(m.t) == TPM_NV_CORRUPT);
            refused += tpm_nv_status(m.t) == TPM_NV_CORRUPT;
            CHECK_EQ(nvt_startup(&m), 0);
            nvt_read_public(&m, IDX_A);
            nvt_read(&m, NVT_OWNER, "", IDX_A, 64, 0);
            nvt_write(&m, NVT_OWNER, "", IDX_A, a, 64, 0);
            nvt_increment(&m, "", IDX_C);
            nvt_undefine(&m, "", IDX_A);
            nvt_define(&m, "", IDX_B, NVT_ORDINARY_OWNER, 1024, NULL);
            nvt_write(&m, NVT_OWNER, "", IDX_B, a, 64, 960);
            close_tpm(m.t, mf);
        }
    }
    printf("corrupt: %u sealed single-byte mutations of the body, %u refused, "
           "the rest served commands\n", tried, refused);

    expect_refused(good, 0, TPM_NV_CORRUPT, "0 bytes, shorter");
    expect_refused(good, len - 1, TPM_NV_CORRUPT, "length field");
    memcpy(bad, good, len);
    bad[len] = 0;
    expect_refused(bad, len + 1, TPM_NV_CORRUPT, "length field");
    bad[0] = 'X';
    expect_refused(bad, len, TPM_NV_CORRUPT, "bad magic");
    memcpy(bad, good, len);
    bad[5] = 2;
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "format version 2.0");
    memcpy(bad, good, len);
    bad[OFF_IDX0 + 20] ^= 0x80; /* a data byte */
    expect_refused(bad, len, TPM_NV_CORRUPT, "SHA-256 mismatch");
    memcpy(bad, good, len);
    bad[len - 1] ^= 1; /* the digest */
    expect_refused(bad, len, TPM_NV_CORRUPT, "SHA-256 mismatch");

    /* sealed (digest right), fields impossible */
    memcpy(bad, good, len);
    put32(bad + OFF_IDX1, IDX_A);
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "index 1: handle 0x01500001 twice");
    memcpy(bad, good, len);
    put32(bad + OFF_IDX0, 0x81000001u);
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "is no NV index");
    memcpy(bad, good, len);
    put16(bad + OFF_IDX0 + 4, 0x0001); /* RSA: no hash */
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "nameAlg 0x0001 unsupported");
    memcpy(bad, good, len);
    put32(bad + OFF_IDX0 + 6, NVT_COUNTER_OWNER); /* counter of 64 bytes */
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "do not fit");
    memcpy(bad, good, len);
    put32(bad + OFF_IDX0 + 6, NVT_ORDINARY_OWNER | 1u << 8); /* reserved */
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "do not fit");
    memcpy(bad, good, len);
    put16(bad + OFF_IDX1 + 10, 32); /* counter with a 32-byte authPolicy */
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "index 1");
    memcpy(bad, good, len);
    put16(bad + OFF_IDX0 + 14, 3000);
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "3000 data bytes");
    memcpy(bad, good, len);
    put16(bad + OFF_IDX0 + 14, 2000);
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "data bytes missing");
    memcpy(bad, good, len);
    put16(bad + OFF_COUNT, 33);
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "index count");
    memcpy(bad, good, len);
    put16(bad + OFF_COUNT, 3);
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "index 2: truncated");
    memcpy(bad, good, len);
    put16(bad + OFF_COUNT, 1);
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "24 bytes after the last index");
    memcpy(bad, good, len);
    put16(bad + 12 + 8, 65); /* ownerAuth of 65 bytes */
    nvt_blob_seal(bad, len);
    expect_refused(bad, len, TPM_NV_CORRUPT, "hierarchy auth 0");

    /* not a state file at all */
    memset(bad, 0x5A, TPM_NV_BLOB_MAX + 1);
    expect_refused(bad, TPM_NV_BLOB_MAX + 1, TPM_NV_LOAD_FAILED,
                   "larger than any NV state");
    unlink(path);
    CHECK_EQ(mkdir(path, 0700), 0);
    {
        struct nvt d = {0};

        d.t = open_tpm(path, &f);
        CHECK_EQ(tpm_nv_status(d.t), TPM_NV_LOAD_FAILED);
        CHECK(tpm_nv_error(d.t) && strstr(tpm_nv_error(d.t), "regular file"));
        CHECK_EQ(nvt_startup(&d), 0);
        CHECK_EQ(nvt_define(&d, "", IDX_B, NVT_ORDINARY_OWNER, 8, NULL),
                 NVT_RC_NV_UNAVAILABLE);
        close_tpm(d.t, f);
    }
    CHECK_EQ(rmdir(path), 0);

    /* fixed file + power cycle: loaded, changes saved again */
    bad[0] = 'X';
    CHECK(nvt_write_file(path, bad, len));
    n.t = open_tpm(path, &f);
    CHECK_EQ(tpm_nv_status(n.t), TPM_NV_CORRUPT);
    CHECK(nvt_write_file(path, good, len));
    tpm_init(n.t);
    CHECK_EQ(tpm_nv_status(n.t), TPM_NV_OK);
    CHECK(tpm_nv_error(n.t) == NULL);
    CHECK_EQ(nvt_startup(&n), 0);
    CHECK(read_is(&n, NVT_OWNER, "", IDX_A, a, 64));
    CHECK_EQ(nvt_define(&n, "", IDX_B, NVT_ORDINARY_OWNER, 8, NULL), 0);
    CHECK_EQ(hv_tpm_nvfile_saves(f), 1);
    close_tpm(n.t, f);
    free(bad);
    free(good);
}

/* ---- failed saves (test hook) ------------------------------------------------- */

static void test_save_failures(void)
{
    static const struct {
        enum hv_tpm_nvfile_step step;
        int err;
        const char *what;
    } cases[] = {
        {HV_TPM_NVFILE_WRITE, ENOSPC, "writing"},
        {HV_TPM_NVFILE_WRITE, EIO, "writing"},
        {HV_TPM_NVFILE_FSYNC, ENOSPC, "fsync of"},
        {HV_TPM_NVFILE_FSYNC, EIO, "fsync of"},
        {HV_TPM_NVFILE_RENAME, EXDEV, "renaming"},
    };
    struct hv_tpm_nvfile *f, *f2;
    struct nvt n = {0}, m = {0};
    uint8_t g1[64], g2[64], g3[64], *good;
    size_t len;
    char want[128];

    unlink(path);
    n.t = open_tpm(path, &f);
    fill(g1, 64, 1);
    fill(g2, 64, 2);
    fill(g3, 64, 3);
    CHECK_EQ(nvt_startup(&n), 0);
    CHECK_EQ(nvt_define(&n, "", IDX_A, NVT_ORDINARY_OWNER, 64, NULL), 0);
    CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_A, g1, 64, 0), 0);
    good = nvt_read_file(path, &len);
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hv_tpm_nvfile_fail_next(f, cases[i].step, cases[i].err);
        CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_A, g2, 64, 0),
                 NVT_RC_NV_UNAVAILABLE);
        CHECK_EQ(tpm_nv_status(n.t), TPM_NV_SAVE_FAILED);
        snprintf(want, sizeof(want), "%s %s failed: %s", cases[i].what,
                 tmp_path, strerror(cases[i].err));
        CHECK(tpm_nv_error(n.t) && strstr(tpm_nv_error(n.t), want) &&
              strstr(tpm_nv_error(n.t), "unchanged"));
        if (i == 0)
            printf("save failure: %s\n", tpm_nv_error(n.t));
        CHECK(file_is(path, good, len));
        CHECK(!exists(tmp_path));
        CHECK(read_is(&n, NVT_OWNER, "", IDX_A, g1, 64)); /* rolled back */
        m.t = open_tpm(path, &f2);
        CHECK_EQ(nvt_startup(&m), 0);
        CHECK(read_is(&m, NVT_OWNER, "", IDX_A, g1, 64));
        close_tpm(m.t, f2);
    }
    /* failed define, auth change: undone too */
    hv_tpm_nvfile_fail_next(f, HV_TPM_NVFILE_WRITE, ENOSPC);
    CHECK_EQ(nvt_define(&n, "", IDX_B, NVT_ORDINARY_OWNER, 8, NULL),
             NVT_RC_NV_UNAVAILABLE);
    CHECK_EQ(nvt_read_public(&n, IDX_B), NVT_RC_HANDLE_1);
    hv_tpm_nvfile_fail_next(f, HV_TPM_NVFILE_FSYNC, ENOSPC);
    CHECK_EQ(nvt_change_owner_auth(&n, "", "pw"), NVT_RC_NV_UNAVAILABLE);
    CHECK(read_is(&n, NVT_OWNER, "", IDX_A, g1, 64)); /* auth still empty */
    CHECK(file_is(path, good, len));
    CHECK_EQ(hv_tpm_nvfile_saves(f), 2);
    /* the disk has room again: saved, status clean */
    CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_A, g2, 64, 0), 0);
    CHECK_EQ(tpm_nv_status(n.t), TPM_NV_OK);
    CHECK(tpm_nv_error(n.t) == NULL);
    CHECK(!file_is(path, good, len));
    /* directory fsync fails after the rename: the command fails and NV
     * rolls back, the file holds the new state (as after a crash then) */
    hv_tpm_nvfile_fail_next(f, HV_TPM_NVFILE_DIRSYNC, EIO);
    CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_A, g3, 64, 0),
             NVT_RC_NV_UNAVAILABLE);
    CHECK(tpm_nv_error(n.t) && strstr(tpm_nv_error(n.t), "durability"));
    CHECK(read_is(&n, NVT_OWNER, "", IDX_A, g2, 64));
    m.t = open_tpm(path, &f2);
    CHECK_EQ(nvt_startup(&m), 0);
    CHECK(read_is(&m, NVT_OWNER, "", IDX_A, g3, 64));
    close_tpm(m.t, f2);
    /* Startup(CLEAR) clears written flags of a CLEAR_STCLEAR index: a failed
     * save does not fail Startup */
    CHECK_EQ(nvt_define(&n, "", IDX_D, NVT_ORDINARY_OWNER | 1u << 27, 8, NULL),
             0);
    CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_D, g1, 8, 0), 0);
    tpm_init(n.t);
    hv_tpm_nvfile_fail_next(f, HV_TPM_NVFILE_WRITE, ENOSPC);
    CHECK_EQ(nvt_startup(&n), 0);
    CHECK_EQ(tpm_nv_status(n.t), TPM_NV_SAVE_FAILED);
    CHECK_EQ(nvt_read(&n, NVT_OWNER, "", IDX_D, 8, 0), NVT_RC_NV_UNINITIALIZED);
    CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_A, g1, 64, 0), 0);
    CHECK_EQ(tpm_nv_status(n.t), TPM_NV_OK);
    tpm_init(n.t);
    CHECK_EQ(nvt_startup(&n), 0);
    CHECK_EQ(nvt_read(&n, NVT_OWNER, "", IDX_D, 8, 0), NVT_RC_NV_UNINITIALIZED);
    close_tpm(n.t, f);
    free(good);
}

/* ---- a real full disk: a 64 KiB tmpfs in a private mount namespace -------- */

static bool write_proc(const char *p, const char *s)
{
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s);

    if (fd >= 0)
        close(fd);
    return ok;
}

static bool private_tmpfs(const char *mnt, char *why, size_t whylen)
{
    char map[64];
    unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();

    if (unshare(CLONE_NEWNS) != 0) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
            snprintf(why, whylen, "unshare: %s", strerror(errno));
            return false;
        }
        write_proc("/proc/self/setgroups", "deny");
        snprintf(map, sizeof(map), "0 %u 1", uid);
        if (!write_proc("/proc/self/uid_map", map)) {
            snprintf(why, whylen, "uid_map: %s", strerror(errno));
            return false;
        }
        snprintf(map, sizeof(map), "0 %u 1", gid);
        write_proc("/proc/self/gid_map", map);
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("hvfuzz-nv", mnt, "tmpfs", 0, "size=64k,mode=0700") != 0) {
        snprintf(why, whylen, "mount: %s", strerror(errno));
        return false;
    }
    return true;
}

static void tmpfs_body(const char *mnt)
{
    char p[400], filler[400];
    struct hv_tpm_nvfile *f, *f2;
    struct nvt n = {0}, m = {0};
    uint8_t g1[1024], g2[1024], chunk[4096], *good;
    size_t len;
    int fd;

    snprintf(p, sizeof(p), "%s/nv", mnt);
    snprintf(filler, sizeof(filler), "%s/filler", mnt);
    fill(g1, sizeof(g1), 1);
    fill(g2, sizeof(g2), 2);
    memset(chunk, 0xAB, sizeof(chunk));
    n.t = open_tpm(p, &f);
    CHECK_EQ(nvt_startup(&n), 0);
    CHECK_EQ(nvt_define(&n, "", IDX_A, NVT_ORDINARY_OWNER, 1024, NULL), 0);
    CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_A, g1, 1024, 0), 0);
    good = nvt_read_file(p, &len);
    fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    while (fd >= 0 && write(fd, chunk, sizeof(chunk)) > 0)
        ;
    CHECK_EQ(errno, ENOSPC);
    if (fd >= 0)
        close(fd);
    CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_A, g2, 1024, 0),
             NVT_RC_NV_UNAVAILABLE);
    CHECK_EQ(tpm_nv_status(n.t), TPM_NV_SAVE_FAILED);
    CHECK(tpm_nv_error(n.t) && strstr(tpm_nv_error(n.t), strerror(ENOSPC)));
    printf("tmpfs full: %s\n", tpm_nv_error(n.t) ? tpm_nv_error(n.t) : "-");
    CHECK(good && file_is(p, good, len));
    snprintf(filler, sizeof(filler), "%s/nv.tmp", mnt);
    CHECK(!exists(filler));
    CHECK(read_is(&n, NVT_OWNER, "", IDX_A, g1, 1024));
    m.t = open_tpm(p, &f2);
    CHECK_EQ(tpm_nv_status(m.t), TPM_NV_OK);
    CHECK_EQ(nvt_startup(&m), 0);
    CHECK(read_is(&m, NVT_OWNER, "", IDX_A, g1, 1024));
    close_tpm(m.t, f2);
    snprintf(filler, sizeof(filler), "%s/filler", mnt);
    CHECK_EQ(unlink(filler), 0);
    CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_A, g2, 1024, 0), 0);
    CHECK_EQ(tpm_nv_status(n.t), TPM_NV_OK);
    close_tpm(n.t, f);
    m.t = open_tpm(p, &f2);
    CHECK_EQ(nvt_startup(&m), 0);
    CHECK(read_is(&m, NVT_OWNER, "", IDX_A, g2, 1024));
    close_tpm(m.t, f2);
    free(good);
}

static void test_tmpfs_enospc(void)
{
    char mnt[300], why[160];
    pid_t pid;
    int st;

    snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
    CHECK_EQ(mkdir(mnt, 0700), 0);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        if (!private_tmpfs(mnt, why, sizeof(why))) {
            printf("tmpfs ENOSPC: skipped, no private tmpfs (%s)\n", why);
            fflush(stdout);
            _exit(77);
        }
        hv_test_failures = hv_test_checks = 0;
        tmpfs_body(mnt);
        printf("tmpfs ENOSPC: %d checks, %d failed\n", hv_test_checks,
               hv_test_failures);
        fflush(stdout);
        _exit(hv_test_failures ? 1 : 0);
    }
    CHECK(pid > 0);
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 77));
    rmdir(mnt);
}

int main(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(dir, sizeof(dir), "%s/hvfuzz-nvstore-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/tpm-nv.state", dir);
    snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", path);
    test_round_trip();
    test_same_answers();
    test_corrupt();
    test_save_failures();
    test_tmpfs_enospc();
    unlink(tmp_path);
    unlink(path);
    rmdir(dir);
    return hv_test_done("test_tpm_nvstore");
}
