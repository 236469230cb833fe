/*
 * NV commands for the NV store tests (test_tpm_nvstore.c, test_tpm_nvkill.c),
 * built with tpm_client.h's marshalling and sent with a password session:
 * a TPM, its last response, one call per command returning the response
 * code (a TPM_RC_RETRY, the first DA-protected authorization after
 * Startup, is sent again once). Plus the NV state blob's layout as the tests check it on their own
 * (independent of the model's parser): "HVNV", version 1, body length,
 * body, SHA-256 over everything before it.
 */
#ifndef HV_TPM_NV_CMDS_H
#define HV_TPM_NV_CMDS_H
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "targets/tpm/tpm.h"
#include "tpm_client.h"

#define NVT_OWNER 0x40000001u
#define NVT_ORDINARY_OWNER 0x00020002u /* OWNERREAD | OWNERWRITE */
#define NVT_ORDINARY_AUTH 0x00060006u  /* + AUTHREAD | AUTHWRITE */
#define NVT_COUNTER_OWNER 0x00020012u  /* TPM_NT_COUNTER */
#define NVT_RC_HANDLE_1 0x18Bu
#define NVT_RC_NV_UNAVAILABLE 0x923u
#define NVT_RC_NV_UNINITIALIZED 0x14Au

struct nvt {
    struct tpm *t;
    uint8_t rsp[4096];
    size_t rsp_len;
};

static inline uint32_t nvt_run(struct nvt *n, struct tc_buf *b)
{
    b->b[2] = (uint8_t)(b->n >> 24);
    b->b[3] = (uint8_t)(b->n >> 16);
    b->b[4] = (uint8_t)(b->n >> 8);
    b->b[5] = (uint8_t)b->n;
    n->rsp_len = tpm_execute(n->t, b->b, b->n, n->rsp, sizeof(n->rsp));
    if (n->rsp_len >= 10 && tc_be32(n->rsp + 6) == 0x922) /* TPM_RC_RETRY: */
        n->rsp_len = tpm_execute(n->t, b->b, b->n, n->rsp, sizeof(n->rsp));
    return n->rsp_len >= 10 ? tc_be32(n->rsp + 6) : 0xFFFFFFFFu;
}

/* Authorization area of one password session. */
static inline void nvt_pw(struct tc_buf *b, const char *pw)
{
    uint16_t n = (uint16_t)(pw ? strlen(pw) : 0);

    tc_u32(b, 4 + 2 + 1 + 2 + n);
    tc_u32(b, 0x40000009);
    tc_u16(b, 0);
    tc_u8(b, 1);
    tc_2b(b, pw ? pw : "", n);
}

static inline uint32_t nvt_startup(struct nvt *n)
{
    struct tc_buf b;

    tc_header(&b, 0x8001, 0x144);
    tc_u16(&b, 0); /* TPM_SU_CLEAR */
    return nvt_run(n, &b);
}

static inline uint32_t nvt_define(struct nvt *n, const char *owner_pw,
                                  uint32_t index, uint32_t attrs,
                                  uint16_t size, const char *auth)
{
    struct tc_buf b;

    tc_header(&b, 0x8002, 0x12A);
    tc_u32(&b, NVT_OWNER);
    nvt_pw(&b, owner_pw);
    tc_2b(&b, auth ? auth : "", (uint16_t)(auth ? strlen(auth) : 0));
    tc_u16(&b, 4 + 2 + 4 + 2 + 2); /* TPM2B_NV_PUBLIC */
    tc_u32(&b, index);
    tc_u16(&b, 0x000B); /* SHA-256 */
    tc_u32(&b, attrs);
    tc_u16(&b, 0); /* no authPolicy */
    tc_u16(&b, size);
    return nvt_run(n, &b);
}

static inline uint32_t nvt_undefine(struct nvt *n, const char *owner_pw,
                                    uint32_t index)
{
    struct tc_buf b;

    tc_header(&b, 0x8002, 0x122);
    tc_u32(&b, NVT_OWNER);
    tc_u32(&b, index);
    nvt_pw(&b, owner_pw);
    return nvt_run(n, &b);
}

/* auth_handle: NVT_OWNER or the index itself; pw its authValue. */
static inline uint32_t nvt_write(struct nvt *n, uint32_t auth_handle,
                                 const char *pw, uint32_t index,
                                 const void *data, uint16_t len, uint16_t off)
{
    struct tc_buf b;

    tc_header(&b, 0x8002, 0x137);
    tc_u32(&b, auth_handle);
    tc_u32(&b, index);
    nvt_pw(&b, pw);
    tc_2b(&b, data, len);
    tc_u16(&b, off);
    return nvt_run(n, &b);
}

/* On success the data is at n->rsp + 16 (after header, parameterSize and
 * the TPM2B size). */
static inline uint32_t nvt_read(struct nvt *n, uint32_t auth_handle,
                                const char *pw, uint32_t index, uint16_t len,
                                uint16_t off)
{
    struct tc_buf b;
    uint32_t rc;

    tc_header(&b, 0x8002, 0x14E);
    tc_u32(&b, auth_handle);
    tc_u32(&b, index);
    nvt_pw(&b, pw);
    tc_u16(&b, len);
    tc_u16(&b, off);
    rc = nvt_run(n, &b);
    if (rc == 0 && (n->rsp_len < 16u + len ||
                    (uint16_t)(n->rsp[14] << 8 | n->rsp[15]) != len))
        return 0xFFFFFFFEu; /* malformed success */
    return rc;
}

static inline uint32_t nvt_increment(struct nvt *n, const char *owner_pw,
                                     uint32_t index)
{
    struct tc_buf b;

    tc_header(&b, 0x8002, 0x134);
    tc_u32(&b, NVT_OWNER);
    tc_u32(&b, index);
    nvt_pw(&b, owner_pw);
    return nvt_run(n, &b);
}

static inline uint32_t nvt_read_public(struct nvt *n, uint32_t index)
{
    struct tc_buf b;

    tc_header(&b, 0x8001, 0x169);
    tc_u32(&b, index);
    return nvt_run(n, &b);
}

static inline uint32_t nvt_change_owner_auth(struct nvt *n, const char *old_pw,
                                             const char *new_pw)
{
    struct tc_buf b;

    tc_header(&b, 0x8002, 0x129);
    tc_u32(&b, NVT_OWNER);
    nvt_pw(&b, old_pw);
    tc_2b(&b, new_pw, (uint16_t)strlen(new_pw));
    return nvt_run(n, &b);
}

/* ---- files and blobs ---------------------------------------------------- */

static inline uint8_t *nvt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    *len = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        *len = (size_t)n;
    return buf;
}

static inline bool nvt_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(buf, 1, len, f) == len;

    if (f && fclose(f))
        ok = false;
    return ok;
}

/* Header and digest of an NV state blob, checked with OpenSSL directly. */
static inline bool nvt_blob_sound(const uint8_t *b, size_t len)
{
    uint8_t d[SHA256_DIGEST_LENGTH];

    if (len < 12 + 32 || memcmp(b, "HVNV", 4) || b[4] != 0 || b[5] != 1 ||
        tc_be32(b + 8) != len - 12 - 32)
        return false;
    SHA256(b, len - 32, d);
    return !memcmp(d, b + len - 32, 32);
}

/* Recomputes the length field and the digest (to craft blobs). */
static inline void nvt_blob_seal(uint8_t *b, size_t len)
{
    uint32_t body = (uint32_t)(len - 12 - 32);

    b[8] = (uint8_t)(body >> 24);
    b[9] = (uint8_t)(body >> 16);
    b[10] = (uint8_t)(body >> 8);
    b[11] = (uint8_t)body;
    SHA256(b, len - 32, b + len - 32);
}
#endif
