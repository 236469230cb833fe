/*
 * Authorization: TPM 2.0 Library spec Part 1 section 19 (password
 * authorizations 19.6.4, HMAC sessions 19.6.5, session key 19.6.8 with
 * KDFa of 11.4.10.2) and the authorization area of Part 1 section 18.7;
 * commands StartAuthSession (Part 3 11.1), FlushContext (28.4) and
 * HierarchyChangeAuth (24.8). Sessions: unsalted, bound or unbound, with
 * TPM_ALG_NULL symmetric (no parameter encryption). Policy sessions can be
 * started and flushed but do not authorize (known gap).
 */
#include "targets/tpm/tpm_int.h"

#include <string.h>

#define TPM_MAX_ENCRYPTED_SECRET 384u /* libtpms: RSA-3072 */
#define TPM_NONCE_MIN 16u

static bool in_session_range(uint32_t h, uint32_t first)
{
    return h >= first && h < first + TPM_MAX_ACTIVE_SESSIONS;
}

static struct tpm_session *session_of(struct tpm *t, uint32_t h)
{
    struct tpm_session *s;

    if (!in_session_range(h, HMAC_SESSION_FIRST) &&
        !in_session_range(h, POLICY_SESSION_FIRST))
        return NULL;
    s = &t->s.sessions[h & 0xFFFFFF];
    if (!s->used || s->handle != h)
        return NULL;
    return s;
}

unsigned tpm_sessions_loaded(const struct tpm *t)
{
    unsigned n = 0;

    for (unsigned i = 0; i < TPM_MAX_ACTIVE_SESSIONS; i++)
        n += t->s.sessions[i].used;
    return n;
}

void tpm_sessions_clear(struct tpm *t)
{
    memset(t->s.sessions, 0, sizeof(t->s.sessions));
}

/* ---- authValues ----------------------------------------------------------- */

static void trim_zeros(struct tpm2b_digest *d)
{
    while (d->size && d->b[d->size - 1] == 0)
        d->size--;
}

struct tpm2b_digest *tpm_hierarchy_auth(struct tpm *t, uint32_t h)
{
    switch (h) {
    case TPM_RH_OWNER:
        return &t->s.owner_auth;
    case TPM_RH_ENDORSEMENT:
        return &t->s.endorsement_auth;
    case TPM_RH_PLATFORM:
        return &t->s.platform_auth;
    case TPM_RH_LOCKOUT:
        return &t->s.lockout_auth;
    default:
        return NULL;
    }
}

/* The entity's authValue with trailing zeros removed (Part 1 19.6.4.3). */
static void entity_auth(struct tpm *t, uint32_t h, struct tpm2b_digest *out)
{
    const struct tpm2b_digest *a = tpm_hierarchy_auth(t, h);
    const struct tpm_nv_index *nv = tpm_nv_find(t, h);

    out->size = 0;
    if (nv)
        a = &nv->auth;
    if (a)
        *out = *a;
    trim_zeros(out);
}

/* Lockout and NV indices without TPMA_NV_NO_DA are protected by dictionary
 * attack logic: a failure there is TPM_RC_AUTH_FAIL, else TPM_RC_BAD_AUTH. */
static bool da_protected(struct tpm *t, uint32_t h)
{
    const struct tpm_nv_index *nv = tpm_nv_find(t, h);

    if (nv)
        return !(nv->attrs & TPMA_NV_NO_DA);
    return h == TPM_RH_LOCKOUT;
}

/* ---- authorization area (Part 1 18.7) ------------------------------------- */

/* TPMI_SH_AUTH_SESSION: the password session or a session handle. */
static bool valid_session_handle(uint32_t h)
{
    return h == TPM_RS_PW || in_session_range(h, HMAC_SESSION_FIRST) ||
           in_session_range(h, POLICY_SESSION_FIRST);
}

/* An empty slot is TPM_RC_REFERENCE_S0 + index; a slot holding a session of
 * the other type is TPM_RC_HANDLE (libtpms's session lookup). */
static TPM_RC check_session_loaded(struct tpm *t, uint32_t h, unsigned n)
{
    const struct tpm_session *s = &t->s.sessions[h & 0xFFFFFF];

    if (!s->used)
        return TPM_RC_REFERENCE_S0 + n - 1;
    return s->handle == h ? TPM_RC_SUCCESS : rc_session(TPM_RC_HANDLE, n);
}

/* A password session cannot audit or encrypt (Part 1 19.6.4): libtpms
 * refuses every attribute but continueSession. (On HMAC sessions it
 * ignores auditExclusive/auditReset without audit.) */
static TPM_RC check_password_attributes(const struct tpm_auth *a)
{
    if (a->handle == TPM_RS_PW && (a->attrs & ~TPMA_SESSION_CONTINUE))
        return TPM_RC_ATTRIBUTES;
    if (a->handle == TPM_RS_PW && a->nonce_caller.size)
        return TPM_RC_NONCE;
    return TPM_RC_SUCCESS;
}


/* A session that authorizes no handle must audit or encrypt. */
static TPM_RC check_extra_session(const struct tpm_auth *a)
{
    uint8_t uses = TPMA_SESSION_AUDIT | TPMA_SESSION_ENCRYPT | TPMA_SESSION_DECRYPT;

    if (a->handle == TPM_RS_PW)
        return TPM_RC_HANDLE;
    return a->attrs & uses ? TPM_RC_SUCCESS : TPM_RC_ATTRIBUTES;
}

/* Parameter encryption applies to a first command (decrypt) or response
 * (encrypt) parameter that is a TPM2B. */
static bool first_param_is_tpm2b(uint32_t cc, bool response)
{
    switch (cc) {
    case TPM_CC_StartAuthSession:
    case TPM_CC_Hash:
        return true;
    case TPM_CC_HierarchyChangeAuth:
    case TPM_CC_NV_DefineSpace:
    case TPM_CC_NV_Write:
    case TPM_CC_PCR_Event:
    case TPM_CC_StirRandom:
        return !response;
    case TPM_CC_GetRandom:
    case TPM_CC_GetTestResult:
    case TPM_CC_NV_Read:
    case TPM_CC_NV_ReadPublic:
        return response;
    default:
        return false;
    }
}

/* Encryption where the command has no TPM2B to encrypt is
 * TPM_RC_ATTRIBUTES; otherwise it needs a symmetric algorithm, which no
 * session here has (known gap): TPM_RC_SYMMETRIC. */
static TPM_RC check_encryption(uint32_t cc, uint8_t attrs)
{
    if (((attrs & TPMA_SESSION_DECRYPT) && !first_param_is_tpm2b(cc, false)) ||
        ((attrs & TPMA_SESSION_ENCRYPT) && !first_param_is_tpm2b(cc, true)))
        return TPM_RC_ATTRIBUTES;
    if (attrs & (TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT))
        return TPM_RC_SYMMETRIC;
    return TPM_RC_SUCCESS;
}

static TPM_RC unmarshal_session(struct tpm_in *in, struct tpm_auth *a)
{
    TPM_RC rc = in_u32(in, &a->handle);

    if (!rc && !valid_session_handle(a->handle))
        rc = TPM_RC_VALUE;
    if (!rc)
        rc = in_digest(in, &a->nonce_caller);
    if (!rc)
        rc = in_u8(in, &a->attrs);
    if (!rc && (a->attrs & TPMA_SESSION_RESERVED))
        rc = TPM_RC_RESERVED_BITS;
    if (!rc)
        rc = in_digest(in, &a->hmac);
    return rc;
}

static TPM_RC check_session(struct tpm *t, uint32_t cc,
                            const struct tpm_auth *a, unsigned n)
{
    TPM_RC rc;

    if (a->handle != TPM_RS_PW && (rc = check_session_loaded(t, a->handle, n)))
        return rc;
    rc = check_password_attributes(a);
    if (!rc)
        rc = check_encryption(cc, a->attrs);
    return rc ? rc_session(rc, n) : TPM_RC_SUCCESS;
}

/* libtpms's NO_SESSIONS commands (of those implemented here). */
static bool sessions_allowed(uint32_t cc)
{
    return cc != TPM_CC_Startup && cc != TPM_CC_FlushContext;
}

/* Each session is unmarshalled then checked before the next one; the
 * sessions that authorize no handle are judged once all are read (libtpms
 * ParseSessionBuffer). */
TPM_RC tpm_parse_sessions(struct tpm *t, struct tpm_cmd *c, struct tpm_in *in)
{
    uint32_t auth_size;
    struct tpm_in area;
    TPM_RC rc = in_u32(in, &auth_size);

    if (rc)
        return rc;
    /* libtpms: TPM_RC_SIZE (not TPM_RC_AUTHSIZE) for an impossible size */
    if (auth_size < 9 || auth_size > in->left)
        return TPM_RC_SIZE;
    if (!sessions_allowed(c->cc))
        return TPM_RC_AUTH_CONTEXT;
    in_sub(in, auth_size, &area);
    while (area.left) {
        struct tpm_auth *a = &c->auth[c->n_auth];

        if (c->n_auth == TPM_MAX_SESSIONS_PER_CMD)
            return rc_session(TPM_RC_SIZE, TPM_MAX_SESSIONS_PER_CMD + 1);
        if ((rc = unmarshal_session(&area, a)))
            return rc_session(rc, c->n_auth + 1);
        if ((rc = check_session(t, c->cc, a, c->n_auth + 1)))
            return rc;
        a->entity = c->n_auth < c->desc->auth_handles ? c->handles[c->n_auth]
                                                       : TPM_RH_NULL;
        c->n_auth++;
    }
    for (unsigned i = c->desc->auth_handles; i < c->n_auth; i++)
        if ((rc = check_extra_session(&c->auth[i])))
            return rc_session(rc, i + 1);
    return c->n_auth < c->desc->auth_handles ? TPM_RC_AUTH_MISSING
                                             : TPM_RC_SUCCESS;
}

/* ---- HMAC computation (Part 1 19.6.5, 19.6.8) ----------------------------- */

/* KDFa (Part 1 11.4.10.2) producing one digest's worth of bits. */
static void kdfa_digest(uint16_t alg, const struct tpm2b_digest *key,
                        const char *label, const struct tpm2b_digest *u,
                        const struct tpm2b_digest *v, struct tpm2b_digest *out)
{
    unsigned size = tpm_hash_size(alg);
    uint8_t ctr[4] = {0, 0, 0, 1}, bits[4];
    const void *parts[] = {ctr, label, "", u->b, v->b, bits};
    size_t lens[] = {4, strlen(label), 1, u->size, v->size, 4};

    st_be32(bits, size * 8);
    tpm_hmac(alg, key->b, key->size, parts, lens, 6, out->b);
    out->size = (uint16_t)size;
}

static bool session_bound_to(struct tpm *t, const struct tpm_session *s,
                             uint32_t entity)
{
    struct tpm2b_digest auth;

    if (s->bind == TPM_RH_NULL || s->bind != entity)
        return false;
    entity_auth(t, entity, &auth);
    return auth.size == s->bind_auth.size &&
           !memcmp(auth.b, s->bind_auth.b, auth.size);
}

/* HMAC key: sessionKey || authValue, without the authValue when the session
 * is bound to the entity it authorizes. */
static size_t hmac_key(struct tpm *t, const struct tpm_session *s,
                       uint32_t entity, uint8_t *key)
{
    struct tpm2b_digest auth;
    size_t n = s->session_key.size;

    memcpy(key, s->session_key.b, n);
    if (entity != TPM_RH_NULL && !session_bound_to(t, s, entity)) {
        entity_auth(t, entity, &auth);
        memcpy(key + n, auth.b, auth.size);
        n += auth.size;
    }
    return n;
}

/* cpHash = H(commandCode || names of the handles || parameters) */
static void cp_hash(struct tpm *t, struct tpm_cmd *c, uint16_t alg,
                    uint8_t *out)
{
    uint8_t cc[4], names[3][2 + TPM_MAX_DIGEST_SIZE];
    const void *parts[5] = {cc};
    size_t lens[5] = {4};
    unsigned n = 1;

    st_be32(cc, c->cc);
    for (unsigned i = 0; i < c->desc->n_handles; i++, n++) {
        lens[n] = tpm_entity_name(t, c->handles[i], names[i]);
        parts[n] = names[i];
    }
    parts[n] = c->param_bytes;
    lens[n++] = c->param_len;
    tpm_hash(alg, parts, lens, n, out);
}

static bool hmac_matches(struct tpm *t, struct tpm_cmd *c,
                         const struct tpm_auth *a)
{
    const struct tpm_session *s = session_of(t, a->handle);
    unsigned size = tpm_hash_size(s->auth_hash);
    uint8_t key[2 * TPM_MAX_DIGEST_SIZE], cp[TPM_MAX_DIGEST_SIZE];
    uint8_t mac[TPM_MAX_DIGEST_SIZE];
    const void *parts[] = {cp, a->nonce_caller.b, s->nonce_tpm.b, &a->attrs};
    size_t lens[] = {size, a->nonce_caller.size, s->nonce_tpm.size, 1};
    size_t key_len = hmac_key(t, s, a->entity, key);

    if (key_len == 0 && a->hmac.size == 0)
        return true; /* libtpms accepts an empty HMAC when the key is empty */
    cp_hash(t, c, s->auth_hash, cp);
    tpm_hmac(s->auth_hash, key, key_len, parts, lens, 4, mac);
    return a->hmac.size == size && !memcmp(a->hmac.b, mac, size);
}

/* libtpms compares with trailing zeros removed on both sides. */
static bool password_matches(struct tpm *t, const struct tpm_auth *a)
{
    struct tpm2b_digest auth, given = a->hmac;

    entity_auth(t, a->entity, &auth);
    trim_zeros(&given);
    return given.size == auth.size && !memcmp(given.b, auth.b, auth.size);
}

static bool is_nv_write_command(uint32_t cc)
{
    return cc == TPM_CC_NV_Write || cc == TPM_CC_NV_Increment;
}

/* An NV index's authValue may only be used as its TPMA_NV_AUTHREAD /
 * AUTHWRITE allow (libtpms IsAuthValueAvailable). */
static bool auth_value_available(struct tpm *t, uint32_t cc, uint32_t entity)
{
    const struct tpm_nv_index *nv = tpm_nv_find(t, entity);

    if (!nv)
        return true;
    return nv->attrs & (is_nv_write_command(cc) ? TPMA_NV_AUTHWRITE
                                                : TPMA_NV_AUTHREAD);
}

#define TPM_MAX_AUTH_FAIL 3u /* TPM_PT_MAX_AUTH_FAIL */

/* Dictionary-attack state (Part 1 19.8.6). Recovery over time is not
 * modelled: only tpm_reset() clears it. */
static bool locked_out(struct tpm *t, uint32_t entity)
{
    if (entity == TPM_RH_LOCKOUT)
        return t->s.lockout_locked;
    return da_protected(t, entity) && t->s.failed_tries >= TPM_MAX_AUTH_FAIL;
}

static void record_auth_failure(struct tpm *t, uint32_t entity)
{
    if (entity == TPM_RH_LOCKOUT)
        t->s.lockout_locked = true;
    else if (da_protected(t, entity))
        t->s.failed_tries++;
}

/* libtpms (USE_DA_USED): the first authorization of a DA-protected entity
 * after Startup records daUsed in NV and answers TPM_RC_RETRY. */
static bool da_used_retry(struct tpm *t, uint32_t entity)
{
    if (entity == TPM_RH_LOCKOUT || !da_protected(t, entity) || t->s.da_used)
        return false;
    t->s.da_used = true;
    return true;
}

static TPM_RC check_one_auth(struct tpm *t, struct tpm_cmd *c, unsigned i)
{
    const struct tpm_auth *a = &c->auth[i];
    bool ok;

    if (in_session_range(a->handle, POLICY_SESSION_FIRST))
        return rc_session(TPM_RC_POLICY_FAIL, i + 1);
    if (locked_out(t, a->entity))
        return TPM_RC_LOCKOUT;
    if (da_used_retry(t, a->entity))
        return TPM_RC_RETRY;
    if (!auth_value_available(t, c->cc, a->entity))
        return TPM_RC_AUTH_UNAVAILABLE;
    ok = a->handle == TPM_RS_PW ? password_matches(t, a)
                                : hmac_matches(t, c, a);
    if (ok)
        return TPM_RC_SUCCESS;
    record_auth_failure(t, a->entity);
    return rc_session(da_protected(t, a->entity) ? TPM_RC_AUTH_FAIL
                                                 : TPM_RC_BAD_AUTH,
                      i + 1);
}

/* Sessions that authorize nothing (audit) still carry an HMAC, keyed by
 * the session key alone. */
static TPM_RC check_extra_hmac(struct tpm *t, struct tpm_cmd *c, unsigned i)
{
    const struct tpm_auth *a = &c->auth[i];

    if (TPM_HANDLE_TYPE(a->handle) != TPM_HT_HMAC_SESSION || hmac_matches(t, c, a))
        return TPM_RC_SUCCESS;
    return rc_session(TPM_RC_BAD_AUTH, i + 1);
}

/* Authorizations, then the HMACs of the other sessions. */
TPM_RC tpm_check_auth(struct tpm *t, struct tpm_cmd *c)
{
    TPM_RC rc = TPM_RC_SUCCESS;

    for (unsigned i = 0; !rc && i < c->n_auth; i++)
        rc = i < c->desc->auth_handles ? check_one_auth(t, c, i)
                                       : check_extra_hmac(t, c, i);
    return rc;
}

/* ---- response authorization area ------------------------------------------ */

/* rpHash = H(responseCode || commandCode || parameters) */
static void rp_hash(const struct tpm_cmd *c, uint16_t alg, uint8_t *out)
{
    uint8_t rc_cc[8] = {0};
    const void *parts[] = {rc_cc, c->rp.p};
    size_t lens[] = {8, c->rp.len};

    st_be32(rc_cc + 4, c->cc);
    tpm_hash(alg, parts, lens, 2, out);
}

static void write_hmac_session(struct tpm *t, struct tpm_cmd *c,
                               const struct tpm_auth *a, struct tpm_out *o)
{
    struct tpm_session *s = session_of(t, a->handle);
    unsigned size = tpm_hash_size(s->auth_hash);
    uint8_t key[2 * TPM_MAX_DIGEST_SIZE], rp[TPM_MAX_DIGEST_SIZE];
    uint8_t mac[TPM_MAX_DIGEST_SIZE];
    const void *parts[] = {rp, s->nonce_tpm.b, a->nonce_caller.b, &a->attrs};
    size_t lens[] = {size, s->nonce_tpm.size, a->nonce_caller.size, 1};
    size_t key_len;

    tpm_random(t, s->nonce_tpm.b, s->nonce_tpm.size);
    key_len = hmac_key(t, s, a->entity, key);
    if (key_len == 0 && a->hmac.size == 0)
        size = 0; /* answered in kind */
    rp_hash(c, s->auth_hash, rp);
    tpm_hmac(s->auth_hash, key, key_len, parts, lens, 4, mac);
    out_tpm2b(o, s->nonce_tpm.b, s->nonce_tpm.size);
    out_u8(o, a->attrs);
    out_tpm2b(o, mac, (uint16_t)size);
    if (!(a->attrs & TPMA_SESSION_CONTINUE))
        memset(s, 0, sizeof(*s));
}

void tpm_write_rsp_sessions(struct tpm *t, struct tpm_cmd *c,
                            struct tpm_out *o)
{
    for (unsigned i = 0; i < c->n_auth; i++) {
        const struct tpm_auth *a = &c->auth[i];

        if (a->handle == TPM_RS_PW || !session_of(t, a->handle)) {
            /* The password session never ends: libtpms answers with
             * continueSession SET whatever the command asked. */
            out_u16(o, 0);
            out_u8(o, a->attrs | TPMA_SESSION_CONTINUE);
            out_u16(o, 0);
        } else {
            write_hmac_session(t, c, a, o);
        }
    }
}

/* ---- StartAuthSession (Part 3 11.1) --------------------------------------- */

struct start_auth_in {
    struct tpm2b_digest nonce_caller;
    uint16_t salt_size;
    uint8_t session_type;
    uint16_t symmetric;
    uint16_t auth_hash;
};

static bool sym_key_bits_ok(uint16_t alg, uint16_t bits)
{
    if (alg == TPM_ALG_TDES)
        return bits == 128 || bits == 192;
    return bits == 128 || bits == 192 || bits == 256;
}

/* TPMT_SYM_DEF+ (Part 2 11.1.6): algorithm, then keyBits and mode unless
 * NULL; XOR's keyBits is a hash. */
static TPM_RC in_sym_def(struct tpm_in *in, uint16_t *alg)
{
    uint16_t bits, mode;
    TPM_RC rc = in_u16(in, alg);

    if (rc || *alg == TPM_ALG_NULL)
        return rc;
    if (*alg == TPM_ALG_XOR)
        return in_hash_alg(in, false, &bits);
    if (*alg != TPM_ALG_AES && *alg != TPM_ALG_TDES && *alg != TPM_ALG_CAMELLIA)
        return TPM_RC_SYMMETRIC;
    rc = in_u16(in, &bits);
    if (!rc && !sym_key_bits_ok(*alg, bits))
        rc = TPM_RC_VALUE;
    if (!rc)
        rc = in_u16(in, &mode);
    if (!rc && (mode < TPM_ALG_CTR || mode > TPM_ALG_ECB))
        rc = TPM_RC_MODE;
    return rc;
}

static TPM_RC in_start_auth(struct tpm_in *in, struct start_auth_in *p)
{
    uint8_t salt[TPM_MAX_ENCRYPTED_SECRET];
    TPM_RC rc = in_digest(in, &p->nonce_caller);

    if (rc)
        return rc_param(rc, 1);
    rc = in_tpm2b(in, sizeof(salt), &p->salt_size, salt);
    if (rc)
        return rc_param(rc, 2);
    rc = in_u8(in, &p->session_type);
    if (!rc && p->session_type != TPM_SE_HMAC &&
        p->session_type != TPM_SE_POLICY && p->session_type != TPM_SE_TRIAL)
        rc = TPM_RC_VALUE;
    if (rc)
        return rc_param(rc, 3);
    rc = in_sym_def(in, &p->symmetric);
    if (rc)
        return rc_param(rc, 4);
    rc = in_hash_alg(in, false, &p->auth_hash);
    return rc ? rc_param(rc, 5) : TPM_RC_SUCCESS;
}

static int free_session_slot(const struct tpm *t)
{
    if (tpm_sessions_loaded(t) >= TPM_MAX_LOADED_SESSIONS)
        return -1;
    for (unsigned i = 0; i < TPM_MAX_ACTIVE_SESSIONS; i++)
        if (!t->s.sessions[i].used)
            return (int)i;
    return -1;
}

/* nonceTPM has nonceCaller's size (libtpms SessionCreate). */
static void init_session(struct tpm *t, struct tpm_session *s, uint32_t bind,
                         const struct start_auth_in *p)
{
    s->auth_hash = p->auth_hash;
    s->bind = bind;
    s->nonce_tpm.size = p->nonce_caller.size;
    tpm_random(t, s->nonce_tpm.b, s->nonce_tpm.size);
    s->session_key.size = 0;
    s->bind_auth.size = 0;
    if (bind == TPM_RH_NULL)
        return;
    /* A bound session always has a session key, even for an empty
     * authValue (libtpms). */
    entity_auth(t, bind, &s->bind_auth);
    kdfa_digest(p->auth_hash, &s->bind_auth, "ATH", &s->nonce_tpm,
                    &p->nonce_caller, &s->session_key);
}

TPM_RC tpm_cmd_start_auth_session(struct tpm *t, struct tpm_cmd *c)
{
    struct start_auth_in p;
    struct tpm_session *s;
    int slot;
    TPM_RC rc = in_start_auth(&c->params, &p);

    if (rc)
        return rc;
    if ((rc = tpm_params_end(c)))
        return rc;
    if (p.salt_size) /* tpmKey is TPM_RH_NULL: no object can be loaded */
        return rc_param(TPM_RC_VALUE, 2);
    if (p.symmetric != TPM_ALG_NULL) /* parameter encryption: known gap */
        return rc_param(TPM_RC_SYMMETRIC, 4);
    if (p.nonce_caller.size < TPM_NONCE_MIN ||
        p.nonce_caller.size > tpm_hash_size(p.auth_hash))
        return rc_param(TPM_RC_SIZE, 1);
    slot = free_session_slot(t);
    if (slot < 0)
        return TPM_RC_SESSION_MEMORY;
    s = &t->s.sessions[slot];
    memset(s, 0, sizeof(*s));
    s->used = true;
    s->handle = (p.session_type == TPM_SE_HMAC ? HMAC_SESSION_FIRST
                                               : POLICY_SESSION_FIRST) +
                (uint32_t)slot;
    init_session(t, s, c->handles[1], &p);
    c->has_rsp_handle = true;
    c->rsp_handle = s->handle;
    out_tpm2b(&c->rp, s->nonce_tpm.b, s->nonce_tpm.size);
    return TPM_RC_SUCCESS;
}

/* ---- FlushContext (Part 3 28.4) -------------------------------------------- */

TPM_RC tpm_cmd_flush_context(struct tpm *t, struct tpm_cmd *c)
{
    uint32_t h;
    struct tpm_session *s;
    TPM_RC rc = in_u32(&c->params, &h);

    if (rc)
        return rc_param(rc, 1);
    if (!in_session_range(h, HMAC_SESSION_FIRST) &&
        !in_session_range(h, POLICY_SESSION_FIRST) &&
        !(h >= TRANSIENT_FIRST && h < TRANSIENT_FIRST + TPM_MAX_LOADED_OBJECTS))
        return rc_param(TPM_RC_VALUE, 1);
    if ((rc = tpm_params_end(c)))
        return rc;
    /* libtpms finds the session by slot, whatever its type */
    s = &t->s.sessions[h & 0xFFFFFF];
    if (!s->used || h >= TRANSIENT_FIRST)
        return rc_param(TPM_RC_HANDLE, 1);
    memset(s, 0, sizeof(*s));
    return TPM_RC_SUCCESS;
}

/* ---- HierarchyChangeAuth (Part 3 24.8) ------------------------------------- */

TPM_RC tpm_cmd_hierarchy_change_auth(struct tpm *t, struct tpm_cmd *c)
{
    struct tpm2b_digest auth;
    TPM_RC rc = in_digest(&c->params, &auth);

    if (rc)
        return rc_param(rc, 1);
    if ((rc = tpm_params_end(c)))
        return rc;
    trim_zeros(&auth);
    *tpm_hierarchy_auth(t, c->handles[0]) = auth;
    return TPM_RC_SUCCESS;
}
