/*
 * Hash and HMAC through OpenSSL's libcrypto (EVP), for the algorithms of
 * TPMI_ALG_HASH (TPM 2.0 Library spec Part 2 section 9.27): SHA-1, SHA-256,
 * SHA-384, SHA-512.
 */
#include "targets/tpm/tpm_int.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static const EVP_MD *hash_md(uint16_t alg)
{
    switch (alg) {
    case TPM_ALG_SHA1:
        return EVP_sha1();
    case TPM_ALG_SHA256:
        return EVP_sha256();
    case TPM_ALG_SHA384:
        return EVP_sha384();
    case TPM_ALG_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

unsigned tpm_hash_size(uint16_t alg)
{
    const EVP_MD *md = hash_md(alg);

    return md ? (unsigned)EVP_MD_get_size(md) : 0;
}

bool tpm_hash(uint16_t alg, const void *const *parts, const size_t *lens,
              unsigned n, uint8_t *out)
{
    const EVP_MD *md = hash_md(alg);
    EVP_MD_CTX *ctx;
    bool ok;

    if (!md)
        return false;
    ctx = EVP_MD_CTX_new();
    ok = ctx && EVP_DigestInit_ex(ctx, md, NULL);
    for (unsigned i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, parts[i], lens[i]);
    ok = ok && EVP_DigestFinal_ex(ctx, out, NULL);
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* HMAC_CTX is deprecated in OpenSSL 3: concatenate the (small) message and
 * use the one-shot HMAC(). */
bool tpm_hmac(uint16_t alg, const uint8_t *key, size_t key_len,
              const void *const *parts, const size_t *lens, unsigned n,
              uint8_t *out)
{
    const EVP_MD *md = hash_md(alg);
    uint8_t msg[512];
    static const uint8_t empty_key[1];
    size_t len = 0;

    if (!md || key_len > INT32_MAX)
        return false;
    for (unsigned i = 0; i < n; i++) {
        if (lens[i] > sizeof(msg) - len)
            return false;
        memcpy(msg + len, parts[i], lens[i]);
        len += lens[i];
    }
    return HMAC(md, key_len ? key : empty_key, (int)key_len, msg, len, out,
                NULL) != NULL;
}

/* TPMI_ALG_HASH(+): a supported hash, or TPM_ALG_NULL when allowed;
 * anything else is TPM_RC_HASH. */
TPM_RC in_hash_alg(struct tpm_in *in, bool allow_null, uint16_t *alg)
{
    TPM_RC rc = in_u16(in, alg);

    if (rc)
        return rc;
    if (tpm_hash_size(*alg) || (allow_null && *alg == TPM_ALG_NULL))
        return TPM_RC_SUCCESS;
    return TPM_RC_HASH;
}
