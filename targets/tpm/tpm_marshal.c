/* Bounded (un)marshalling helpers: see tpm_marshal.h. */
#include "targets/tpm/tpm_marshal.h"

#include <string.h>

TPM_RC in_bytes(struct tpm_in *in, uint8_t *dst, size_t n)
{
    if (in->left < n)
        return TPM_RC_INSUFFICIENT;
    if (n)
        memcpy(dst, in->p, n);
    in->p += n;
    in->left -= n;
    return TPM_RC_SUCCESS;
}

TPM_RC in_u8(struct tpm_in *in, uint8_t *v)
{
    return in_bytes(in, v, 1);
}

TPM_RC in_u16(struct tpm_in *in, uint16_t *v)
{
    uint8_t b[2];
    TPM_RC rc = in_bytes(in, b, 2);

    if (rc == TPM_RC_SUCCESS)
        *v = ld_be16(b);
    return rc;
}

TPM_RC in_u32(struct tpm_in *in, uint32_t *v)
{
    uint8_t b[4];
    TPM_RC rc = in_bytes(in, b, 4);

    if (rc == TPM_RC_SUCCESS)
        *v = ld_be32(b);
    return rc;
}

TPM_RC in_sub(struct tpm_in *in, size_t n, struct tpm_in *sub)
{
    if (in->left < n)
        return TPM_RC_INSUFFICIENT;
    sub->p = in->p;
    sub->left = n;
    in->p += n;
    in->left -= n;
    return TPM_RC_SUCCESS;
}

/* Part 2 section 10.4: the size is checked against the maximum before the
 * bytes (TPM_RC_SIZE), then the bytes against what is left. */
TPM_RC in_tpm2b(struct tpm_in *in, uint16_t max, uint16_t *size, uint8_t *dst)
{
    uint16_t n;
    TPM_RC rc = in_u16(in, &n);

    if (rc)
        return rc;
    if (n > max)
        return TPM_RC_SIZE;
    rc = in_bytes(in, dst, n);
    if (rc == TPM_RC_SUCCESS)
        *size = n;
    return rc;
}

TPM_RC in_digest(struct tpm_in *in, struct tpm2b_digest *d)
{
    return in_tpm2b(in, TPM_MAX_DIGEST_SIZE, &d->size, d->b);
}

void out_bytes(struct tpm_out *o, const void *src, size_t n)
{
    if (o->overflow || o->cap - o->len < n) {
        o->overflow = true;
        return;
    }
    if (n)
        memcpy(o->p + o->len, src, n);
    o->len += n;
}

void out_u8(struct tpm_out *o, uint8_t v)
{
    out_bytes(o, &v, 1);
}

void out_u16(struct tpm_out *o, uint16_t v)
{
    uint8_t b[2];

    st_be16(b, v);
    out_bytes(o, b, 2);
}

void out_u32(struct tpm_out *o, uint32_t v)
{
    uint8_t b[4];

    st_be32(b, v);
    out_bytes(o, b, 4);
}

void out_u64(struct tpm_out *o, uint64_t v)
{
    out_u32(o, (uint32_t)(v >> 32));
    out_u32(o, (uint32_t)v);
}

void out_tpm2b(struct tpm_out *o, const void *src, uint16_t n)
{
    out_u16(o, n);
    out_bytes(o, src, n);
}

size_t out_reserve(struct tpm_out *o, size_t n)
{
    static const uint8_t zeros[4];
    size_t at = o->len;

    out_bytes(o, zeros, n <= sizeof(zeros) ? n : sizeof(zeros));
    return at;
}

void out_patch_u16(struct tpm_out *o, size_t at, uint16_t v)
{
    if (!o->overflow && at + 2 <= o->len)
        st_be16(o->p + at, v);
}

void out_patch_u32(struct tpm_out *o, size_t at, uint32_t v)
{
    if (!o->overflow && at + 4 <= o->len)
        st_be32(o->p + at, v);
}
