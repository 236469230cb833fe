/*
 * Bounded (un)marshalling: TPM 2.0 Library spec Part 2 section 4 (big-endian
 * integers) and 10.4 (TPM2B: a UINT16 size then that many bytes). Every read
 * checks what is left (TPM_RC_INSUFFICIENT); TPM2B sizes are checked against
 * the type's maximum (TPM_RC_SIZE). Writers never overrun: they latch an
 * overflow flag instead.
 */
#ifndef HV_TPM_MARSHAL_H
#define HV_TPM_MARSHAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "targets/tpm/tpm_types.h"

struct tpm_in {
    const uint8_t *p;
    size_t left;
};

struct tpm_out {
    uint8_t *p;
    size_t len;
    size_t cap;
    bool overflow;
};

/* A TPM2B held in a fixed buffer (largest TPM2B we keep is NV data). */
struct tpm2b {
    uint16_t size;
    uint8_t b[TPM_MAX_NV_BUFFER_SIZE];
};

struct tpm2b_digest {
    uint16_t size;
    uint8_t b[TPM_MAX_DIGEST_SIZE];
};

TPM_RC in_u8(struct tpm_in *in, uint8_t *v);
TPM_RC in_u16(struct tpm_in *in, uint16_t *v);
TPM_RC in_u32(struct tpm_in *in, uint32_t *v);
TPM_RC in_bytes(struct tpm_in *in, uint8_t *dst, size_t n);
/* Splits off the next n bytes as their own reader. */
TPM_RC in_sub(struct tpm_in *in, size_t n, struct tpm_in *sub);
/* TPM2B with at most `max` bytes into dst (capacity >= max). */
TPM_RC in_tpm2b(struct tpm_in *in, uint16_t max, uint16_t *size, uint8_t *dst);
TPM_RC in_digest(struct tpm_in *in, struct tpm2b_digest *d);

void out_u8(struct tpm_out *o, uint8_t v);
void out_u16(struct tpm_out *o, uint16_t v);
void out_u32(struct tpm_out *o, uint32_t v);
void out_u64(struct tpm_out *o, uint64_t v);
void out_bytes(struct tpm_out *o, const void *src, size_t n);
void out_tpm2b(struct tpm_out *o, const void *src, uint16_t n);
/* Reserves a big-endian field to patch later (size prefixes). */
size_t out_reserve(struct tpm_out *o, size_t n);
void out_patch_u16(struct tpm_out *o, size_t at, uint16_t v);
void out_patch_u32(struct tpm_out *o, size_t at, uint32_t v);

static inline uint16_t ld_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t ld_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static inline void st_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void st_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
#endif
