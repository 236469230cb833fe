/*
 * A minimal TPM 2.0 client for tests: builds commands, runs HMAC sessions
 * (TPM 2.0 Library spec Part 1 19.6: cpHash/rpHash, session HMACs, KDFa
 * session key for bound sessions) with OpenSSL directly, independent of the
 * model's code, and checks response HMACs. One client drives one TPM
 * through an exec callback (hvfuzz's model or libtpms).
 */
#ifndef HV_TPM_CLIENT_H
#define HV_TPM_CLIENT_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef size_t (*tc_exec_fn)(void *ctx, const uint8_t *cmd, size_t len,
                             uint8_t *rsp, size_t cap);

struct tc_buf {
    uint8_t b[4096];
    size_t n;
};

struct tc_session {
    uint32_t handle;
    uint8_t nonce_tpm[32], nonce_caller[32];
    uint8_t key[32];
    size_t key_len;
    uint32_t bind; /* 0x40000007: unbound */
    uint16_t sym;  /* parameter encryption: 0x0010 NULL, 0x000A XOR, 0x0006 AES-128-CFB */
};

struct tc {
    tc_exec_fn exec;
    void *ctx;
    uint8_t rsp[4096];
    size_t rsp_len;
    uint32_t rc;
    bool rsp_hmac_ok;
    uint32_t caller_counter;
};

static inline void tc_u8(struct tc_buf *b, uint8_t v) { b->b[b->n++] = v; }
static inline void tc_u16(struct tc_buf *b, uint16_t v)
{
    tc_u8(b, (uint8_t)(v >> 8));
    tc_u8(b, (uint8_t)v);
}
static inline void tc_u32(struct tc_buf *b, uint32_t v)
{
    tc_u16(b, (uint16_t)(v >> 16));
    tc_u16(b, (uint16_t)v);
}
static inline void tc_bytes(struct tc_buf *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static inline void tc_2b(struct tc_buf *b, const void *p, uint16_t n)
{
    tc_u16(b, n);
    tc_bytes(b, p, n);
}
static inline uint32_t tc_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static inline void tc_sha256(const void *a, size_t an, const void *b,
                             size_t bn, const void *c, size_t cn, uint8_t *out)
{
    EVP_MD_CTX *x = EVP_MD_CTX_new();

    EVP_DigestInit_ex(x, EVP_sha256(), NULL);
    EVP_DigestUpdate(x, a, an);
    EVP_DigestUpdate(x, b, bn);
    EVP_DigestUpdate(x, c, cn);
    EVP_DigestFinal_ex(x, out, NULL);
    EVP_MD_CTX_free(x);
}

/* Runs `cmd` (header size patched) and records rc. */
static inline void tc_run(struct tc *c, struct tc_buf *cmd)
{
    cmd->b[2] = (uint8_t)(cmd->n >> 24);
    cmd->b[3] = (uint8_t)(cmd->n >> 16);
    cmd->b[4] = (uint8_t)(cmd->n >> 8);
    cmd->b[5] = (uint8_t)cmd->n;
    c->rsp_len = c->exec(c->ctx, cmd->b, cmd->n, c->rsp, sizeof(c->rsp));
    c->rc = c->rsp_len >= 10 ? tc_be32(c->rsp + 6) : 0xFFFFFFFFu;
}

static inline void tc_header(struct tc_buf *b, uint16_t tag, uint32_t cc)
{
    b->n = 0;
    tc_u16(b, tag);
    tc_u32(b, 0);
    tc_u32(b, cc);
}

static inline void tc_fresh_nonce(struct tc *c, uint8_t *nonce)
{
    for (unsigned i = 0; i < 32; i++)
        nonce[i] = (uint8_t)(c->caller_counter * 7 + i);
    c->caller_counter++;
}

/* KDFa(SHA-256, key, "ATH", nonceTPM, nonceCaller, 256): a bound session
 * has a session key even when the bind authValue is empty. */
static inline void tc_session_key(struct tc_session *s, const uint8_t *auth,
                                  size_t auth_len)
{
    uint8_t msg[4 + 4 + 64 + 4] = {0, 0, 0, 1, 'A', 'T', 'H', 0};
    unsigned len = 32;

    memcpy(msg + 8, s->nonce_tpm, 32);
    memcpy(msg + 40, s->nonce_caller, 32);
    msg[72] = 0, msg[73] = 0, msg[74] = 1, msg[75] = 0;
    HMAC(EVP_sha256(), auth_len ? auth : (const void *)"", (int)auth_len, msg,
         sizeof(msg),
         s->key, &len);
    s->key_len = 32;
}

/* StartAuthSession: HMAC, unsalted, SHA-256, bound to `bind` (whose
 * authValue is bind_auth) or unbound (TPM_RH_NULL), parameter encryption
 * `sym` (see struct tc_session). */
static inline bool tc_start_session_sym(struct tc *c, struct tc_session *s,
                                        uint32_t bind, const void *bind_auth,
                                        size_t bind_auth_len, uint16_t sym)
{
    struct tc_buf b;

    tc_header(&b, 0x8001, 0x176);
    tc_u32(&b, 0x40000007);
    tc_u32(&b, bind);
    tc_fresh_nonce(c, s->nonce_caller);
    tc_2b(&b, s->nonce_caller, 32);
    tc_u16(&b, 0); /* encryptedSalt */
    tc_u8(&b, 0);  /* TPM_SE_HMAC */
    tc_u16(&b, sym);
    if (sym == 0x000A) {
        tc_u16(&b, 0x000B); /* XOR's hash */
    } else if (sym == 0x0006) {
        tc_u16(&b, 128);
        tc_u16(&b, 0x0043); /* CFB */
    }
    tc_u16(&b, 0x000B); /* SHA-256 */
    tc_run(c, &b);
    if (c->rc || c->rsp_len != 48)
        return false;
    s->handle = tc_be32(c->rsp + 10);
    memcpy(s->nonce_tpm, c->rsp + 16, 32);
    s->bind = bind;
    s->sym = sym;
    s->key_len = 0; /* unbound, unsalted: no session key */
    if (bind != 0x40000007)
        tc_session_key(s, bind_auth, bind_auth_len);
    return true;
}

static inline bool tc_start_session(struct tc *c, struct tc_session *s,
                                    uint32_t bind, const void *bind_auth,
                                    size_t bind_auth_len)
{
    return tc_start_session_sym(c, s, bind, bind_auth, bind_auth_len, 0x0010);
}

struct tc_auth {
    struct tc_session *s;
    uint32_t entity;
    const void *auth; /* entity authValue */
    size_t auth_len;
    uint8_t attrs;
};

static inline size_t tc_hmac_key(const struct tc_auth *a, uint8_t *key)
{
    size_t n = a->s->key_len;

    memcpy(key, a->s->key, n);
    if (a->s->bind != a->entity) {
        memcpy(key + n, a->auth, a->auth_len);
        n += a->auth_len;
    }
    return n;
}

/* KDFa(SHA-256, key, label, u, v, len * 8) with 32-byte u and v
 * (Part 1 11.4.10.2). */
static inline void tc_kdfa(const uint8_t *key, size_t key_len, const char *label,
                           const uint8_t *u, const uint8_t *v, uint8_t *out,
                           size_t len)
{
    for (uint32_t i = 1, done = 0; done < len; i++) {
        uint8_t msg[4 + 8 + 64 + 4], mac[32];
        size_t l = strlen(label), n = 0;
        unsigned mlen = 32;

        msg[n++] = 0, msg[n++] = 0, msg[n++] = 0, msg[n++] = (uint8_t)i;
        memcpy(msg + n, label, l + 1);
        n += l + 1;
        memcpy(msg + n, u, 32);
        memcpy(msg + n + 32, v, 32);
        n += 64;
        msg[n++] = (uint8_t)(len * 8 >> 24), msg[n++] = (uint8_t)(len * 8 >> 16);
        msg[n++] = (uint8_t)(len * 8 >> 8), msg[n++] = (uint8_t)(len * 8);
        HMAC(EVP_sha256(), key_len ? key : (const uint8_t *)"", (int)key_len,
             msg, n, mac, &mlen);
        memcpy(out + done, mac, len - done < 32 ? len - done : 32);
        done += 32;
    }
}

/* Parameter encryption of a TPM2B's bytes (Part 1 21): key = sessionKey ||
 * authValue; XOR mask or AES-128-CFB key/IV from KDFa(newer, older). */
static inline void tc_crypt(const struct tc_auth *a, const uint8_t *newer,
                            const uint8_t *older, int encrypt, uint8_t *data,
                            size_t len)
{
    uint8_t key[64], pad[512], kiv[32];
    size_t klen = a->s->key_len;
    int out_len;

    if (len > sizeof(pad))
        return; /* tests use short parameters */
    memcpy(key, a->s->key, klen);
    memcpy(key + klen, a->auth, a->auth_len);
    klen += a->auth_len;
    if (a->s->sym == 0x000A) {
        tc_kdfa(key, klen, "XOR", newer, older, pad, len);
        for (size_t k = 0; k < len; k++)
            data[k] ^= pad[k];
        return;
    }
    tc_kdfa(key, klen, "CFB", newer, older, kiv, 32);
    {
        EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();

        EVP_CipherInit_ex(x, EVP_aes_128_cfb128(), NULL, kiv, kiv + 16, encrypt);
        EVP_CipherUpdate(x, data, &out_len, data, (int)len);
        EVP_CIPHER_CTX_free(x);
    }
}

/* Sends a one-handle-authorized command: handles (names given), the HMAC
 * session area, then params. With TPMA_SESSION_DECRYPT (0x20) in attrs the
 * first parameter (a TPM2B) goes encrypted; with ENCRYPT (0x40) the first
 * response parameter is decrypted in c->rsp. Checks the response HMAC on
 * success. */
static inline void tc_run_hmac(struct tc *c, uint32_t cc, const uint32_t *handles,
                               const struct tc_buf *names, unsigned n_handles,
                               const struct tc_buf *params, struct tc_auth *a)
{
    struct tc_buf b, cp_in = {.n = 0}, sent = *params;
    uint8_t cp[32], key[64], mac[32], rp[32], msg[128];
    unsigned len = 32;
    size_t klen = tc_hmac_key(a, key);

    tc_fresh_nonce(c, a->s->nonce_caller);
    if (a->attrs & 0x20)
        tc_crypt(a, a->s->nonce_caller, a->s->nonce_tpm, 1, sent.b + 2,
                 (size_t)sent.b[0] << 8 | sent.b[1]);
    tc_u32(&cp_in, cc);
    for (unsigned i = 0; i < n_handles; i++)
        tc_bytes(&cp_in, names[i].b, names[i].n);
    tc_sha256(cp_in.b, cp_in.n, sent.b, sent.n, "", 0, cp);
    memcpy(msg, cp, 32);
    memcpy(msg + 32, a->s->nonce_caller, 32);
    memcpy(msg + 64, a->s->nonce_tpm, 32);
    msg[96] = a->attrs;
    HMAC(EVP_sha256(), klen ? key : (const uint8_t *)"", (int)klen, msg, 97, mac,
         &len);
    tc_header(&b, 0x8002, cc);
    for (unsigned i = 0; i < n_handles; i++)
        tc_u32(&b, handles[i]);
    tc_u32(&b, 4 + 2 + 32 + 1 + 2 + 32);
    tc_u32(&b, a->s->handle);
    tc_2b(&b, a->s->nonce_caller, 32);
    tc_u8(&b, a->attrs);
    tc_2b(&b, mac, 32);
    tc_bytes(&b, sent.b, sent.n);
    tc_run(c, &b);
    c->rsp_hmac_ok = false;
    if (c->rc || c->rsp_len < 14 + 2 + 32 + 1 + 2 + 32)
        return;
    {
        uint32_t psize = tc_be32(c->rsp + 10);
        const uint8_t *sess = c->rsp + 14 + psize;
        uint8_t rc_cc[8] = {0, 0, 0, 0, (uint8_t)(cc >> 24), (uint8_t)(cc >> 16),
                            (uint8_t)(cc >> 8), (uint8_t)cc};

        tc_sha256(rc_cc, 8, c->rsp + 14, psize, "", 0, rp);
        memcpy(a->s->nonce_tpm, sess + 2, 32);
        memcpy(msg, rp, 32);
        memcpy(msg + 32, a->s->nonce_tpm, 32);
        memcpy(msg + 64, a->s->nonce_caller, 32);
        msg[96] = sess[34];
        klen = tc_hmac_key(a, key);
        HMAC(EVP_sha256(), klen ? key : (const uint8_t *)"", (int)klen, msg, 97,
             mac, &len);
        c->rsp_hmac_ok = !memcmp(mac, sess + 37, 32);
        if ((a->attrs & 0x40) && psize >= 2)
            tc_crypt(a, a->s->nonce_tpm, a->s->nonce_caller, 0, c->rsp + 16,
                     (size_t)c->rsp[14] << 8 | c->rsp[15]);
    }
}
#endif
