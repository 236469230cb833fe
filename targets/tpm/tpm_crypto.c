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

/* KDFa (Part 1 11.4.10.2): HMAC(key, i || label || 0 || u || v || bits)
 * for i = 1, 2, ... until `len` bytes are out (whole bytes only). */
bool tpm_kdfa(uint16_t alg, const uint8_t *key, size_t key_len,
              const char *label, const uint8_t *u, size_t u_len,
              const uint8_t *v, size_t v_len, uint8_t *out, size_t len)
{
    unsigned hlen = tpm_hash_size(alg);
    uint8_t ctr[4], bits[4], block[TPM_MAX_DIGEST_SIZE];
    const void *parts[] = {ctr, label, "", u, v, bits};
    size_t lens[] = {4, strlen(label), 1, u_len, v_len, 4};

    if (!hlen || len > UINT32_MAX / 8)
        return false;
    st_be32(bits, (uint32_t)(len * 8));
    for (uint32_t i = 1; len; i++) {
        size_t n = len < hlen ? len : hlen;

        st_be32(ctr, i);
        if (!tpm_hmac(alg, key, key_len, parts, lens, 6, block))
            return false;
        memcpy(out, block, n);
        out += n;
        len -= n;
    }
    return true;
}

static const EVP_CIPHER *cfb_cipher(uint16_t alg, uint16_t bits)
{
    switch (alg) {
    case TPM_ALG_AES:
        return bits == 128 ? EVP_aes_128_cfb128()
               : bits == 192 ? EVP_aes_192_cfb128()
               : bits == 256 ? EVP_aes_256_cfb128() : NULL;
    case TPM_ALG_CAMELLIA:
        return bits == 128 ? EVP_camellia_128_cfb128()
               : bits == 192 ? EVP_camellia_192_cfb128()
               : bits == 256 ? EVP_camellia_256_cfb128() : NULL;
    case TPM_ALG_TDES:
        return bits == 128 ? EVP_des_ede_cfb64()
               : bits == 192 ? EVP_des_ede3_cfb64() : NULL;
    default:
        return NULL;
    }
}

unsigned tpm_sym_block_size(uint16_t alg, uint16_t bits)
{
    const EVP_CIPHER *c = cfb_cipher(alg, bits);

    return c ? (unsigned)EVP_CIPHER_get_iv_length(c) : 0;
}

/* In-place CFB (full-block feedback, as the TPM's CryptSymmetricEncrypt). */
bool tpm_cfb(uint16_t alg, uint16_t bits, const uint8_t *key,
             const uint8_t *iv, bool encrypt, uint8_t *data, size_t len)
{
    const EVP_CIPHER *cipher = cfb_cipher(alg, bits);
    EVP_CIPHER_CTX *ctx;
    int out_len = 0;
    bool ok;

    if (!cipher || len > INT32_MAX)
        return false;
    if (!len)
        return true;
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx && EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, encrypt) &&
         EVP_CipherUpdate(ctx, data, &out_len, data, (int)len) &&
         (size_t)out_len == len;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}
