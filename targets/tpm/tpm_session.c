/*
 * Authorization: TPM 2.0 Library spec Part 1 section 19 (password
 * authorizations 19.6.4, HMAC sessions 19.6.5, session key 19.6.8 with
 * KDFa of 11.4.10.2), audit sessions (19.6.11 without the audit digest),
 * parameter encryption (21: XOR and CFB) and the authorization area of
 * Part 1 section 18.7; commands StartAuthSession (Part 3 11.1),
 * FlushContext (28.4) and HierarchyChangeAuth (24.8). Sessions are
 * unsalted, bound or unbound. Policy sessions authorize as a session that
 * no policy command has touched (policy commands are not implemented).
 * The order of the checks and the codes are libtpms 0.9's
 * (SessionProcess.c).
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

bool tpm_session_set_nonce(struct tpm *t, uint32_t handle,
                           const uint8_t *nonce, size_t len)
{
    struct tpm_session *s = session_of(t, handle);

    if (!s || len != s->nonce_tpm.size)
        return false;
    memcpy(s->nonce_tpm.b, nonce, len);
    return true;
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

/* RcSafeAddToResult: only a format-one code carries the session number. */
static TPM_RC rc_in_session(TPM_RC rc, unsigned n)
{
    return (rc & TPM_RC_FMT1) && !(rc & 0xF00) ? rc_session(rc, n) : rc;
}

/* Parameter encryption applies to a first command (decrypt) or response
 * (encrypt) parameter that is a TPM2B (libtpms DecryptSize/EncryptSize). */
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

/* A password session cannot audit or encrypt (Part 1 19.6.4): libtpms
 * refuses every attribute but continueSession. */
static TPM_RC check_password_session(const struct tpm_auth *a)
{
    if (a->attrs & ~TPMA_SESSION_CONTINUE)
        return TPM_RC_ATTRIBUTES;
    return a->nonce_caller.size ? TPM_RC_NONCE : TPM_RC_SUCCESS;
}

/* decrypt / encrypt: a TPM2B to work on, one session each, a cipher. */
static TPM_RC check_crypt_use(const struct tpm_session *s, uint32_t cc,
                              bool response, int *idx, unsigned i)
{
    if (!first_param_is_tpm2b(cc, response) || *idx >= 0)
        return TPM_RC_ATTRIBUTES;
    if (s->sym_alg == TPM_ALG_NULL)
        return TPM_RC_SYMMETRIC;
    *idx = (int)i;
    return TPM_RC_SUCCESS;
}

/* audit: one session, not a policy one; auditExclusive asks that the
 * session still be the exclusive audit session (Part 1 19.6.11). */
static TPM_RC check_audit_use(struct tpm *t, struct tpm_cmd *c,
                              const struct tpm_session *s,
                              const struct tpm_auth *a, unsigned i)
{
    if (c->audit_idx >= 0 || TPM_HANDLE_TYPE(a->handle) == TPM_HT_POLICY_SESSION)
        return TPM_RC_ATTRIBUTES;
    if (!(a->attrs & TPMA_SESSION_AUDITRESET) && s->is_audit &&
        (a->attrs & TPMA_SESSION_AUDITEXCLUSIVE) &&
        t->s.exclusive_audit != a->handle)
        return TPM_RC_EXCLUSIVE; /* no session number (libtpms) */
    c->audit_idx = (int)i;
    return TPM_RC_SUCCESS;
}

/* libtpms RetrieveSessionData: the checks on session i (0-based). */
static TPM_RC check_session(struct tpm *t, struct tpm_cmd *c, unsigned i)
{
    const struct tpm_auth *a = &c->auth[i];
    const struct tpm_session *s;
    TPM_RC rc;

    if (a->handle == TPM_RS_PW)
        return rc_in_session(check_password_session(a), i + 1);
    if ((rc = check_session_loaded(t, a->handle, i + 1)))
        return rc;
    s = session_of(t, a->handle);
    for (unsigned j = 0; j < i; j++)
        if (c->auth[j].handle == a->handle)
            return rc_session(TPM_RC_HANDLE, i + 1);
    if ((a->attrs & TPMA_SESSION_DECRYPT) &&
        (rc = check_crypt_use(s, c->cc, false, &c->decrypt_idx, i)))
        return rc_session(rc, i + 1);
    if ((a->attrs & TPMA_SESSION_ENCRYPT) &&
        (rc = check_crypt_use(s, c->cc, true, &c->encrypt_idx, i)))
        return rc_session(rc, i + 1);
    if ((a->attrs & TPMA_SESSION_AUDIT) && (rc = check_audit_use(t, c, s, a, i)))
        return rc_in_session(rc, i + 1);
    return TPM_RC_SUCCESS;
}

/* libtpms's NO_SESSIONS commands (of those implemented here). */
static bool sessions_allowed(uint32_t cc)
{
    return cc != TPM_CC_Startup && cc != TPM_CC_FlushContext;
}

/* Each session is unmarshalled then checked before the next one (libtpms
 * RetrieveSessionData); then every authorization handle needs a session. */
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
        if ((rc = check_session(t, c, c->n_auth)))
            return rc;
        a->entity = c->n_auth < c->desc->auth_handles ? c->handles[c->n_auth]
                                                       : TPM_RH_UNASSIGNED;
        c->n_auth++;
    }
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

    tpm_kdfa(alg, key->b, key->size, label, u->b, u->size, v->b, v->size,
             out->b, size);
    out->size = (uint16_t)size;
}

/* IsSessionBindEntity: an HMAC session bound to this entity, whose
 * authValue is still the one it was bound with. */
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

/* libtpms includeAuth: the entity's authValue goes into the HMAC key
 * (HMAC sessions not bound to the entity; never for policy sessions here,
 * which cannot ask for PolicyAuthValue/PolicyPassword). */
static bool include_auth(struct tpm *t, const struct tpm_session *s,
                         uint32_t entity)
{
    return entity != TPM_RH_UNASSIGNED &&
           TPM_HANDLE_TYPE(s->handle) == TPM_HT_HMAC_SESSION &&
           !session_bound_to(t, s, entity);
}

/* HMAC key: sessionKey || authValue when included. */
static size_t hmac_key(struct tpm *t, const struct tpm_session *s,
                       uint32_t entity, uint8_t *key)
{
    struct tpm2b_digest auth;
    size_t n = s->session_key.size;

    memcpy(key, s->session_key.b, n);
    if (include_auth(t, s, entity)) {
        entity_auth(t, entity, &auth);
        memcpy(key + n, auth.b, auth.size);
        n += auth.size;
    }
    return n;
}

/* cpHash = H(commandCode || names of the handles || parameters), over the
 * parameters as sent (before any decryption). */
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

/* The first session, when it authorizes, also covers the nonceTPM of a
 * separate decrypt and encrypt session (Part 1 19.6.5). */
static unsigned extra_nonces(struct tpm *t, struct tpm_cmd *c, unsigned i,
                             const struct tpm2b_digest *out[2])
{
    unsigned n = 0;
    int dec = c->decrypt_idx, enc = c->encrypt_idx;

    if (i != 0 || c->auth[0].entity == TPM_RH_UNASSIGNED)
        return 0;
    if (dec > 0)
        out[n++] = &session_of(t, c->auth[dec].handle)->nonce_tpm;
    if (enc > 0 && enc != dec)
        out[n++] = &session_of(t, c->auth[enc].handle)->nonce_tpm;
    return n;
}

static bool hmac_matches(struct tpm *t, struct tpm_cmd *c, unsigned i)
{
    const struct tpm_auth *a = &c->auth[i];
    const struct tpm_session *s = session_of(t, a->handle);
    const struct tpm2b_digest *extra[2];
    unsigned size = tpm_hash_size(s->auth_hash);
    uint8_t key[2 * TPM_MAX_DIGEST_SIZE], cp[TPM_MAX_DIGEST_SIZE];
    uint8_t mac[TPM_MAX_DIGEST_SIZE];
    const void *parts[6] = {cp, a->nonce_caller.b, s->nonce_tpm.b};
    size_t lens[6] = {size, a->nonce_caller.size, s->nonce_tpm.size};
    unsigned n = 3, n_extra = extra_nonces(t, c, i, extra);
    size_t key_len = hmac_key(t, s, a->entity, key);

    if (key_len == 0 && a->hmac.size == 0)
        return true; /* libtpms accepts an empty HMAC when the key is empty */
    for (unsigned k = 0; k < n_extra; k++, n++) {
        parts[n] = extra[k]->b;
        lens[n] = extra[k]->size;
    }
    parts[n] = &a->attrs;
    lens[n++] = 1;
    cp_hash(t, c, s->auth_hash, cp);
    tpm_hmac(s->auth_hash, key, key_len, parts, lens, n, mac);
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

/* IsAuthPolicyAvailable: only NV indices have a policy here (hierarchy
 * policies and PCR policy groups cannot be set). */
static const struct tpm_nv_index *policy_entity(struct tpm *t, uint32_t cc,
                                                uint32_t entity)
{
    const struct tpm_nv_index *nv = tpm_nv_find(t, entity);

    if (!nv || !nv->auth_policy.size)
        return NULL;
    return nv->attrs & (is_nv_write_command(cc) ? TPMA_NV_POLICYWRITE
                                                : TPMA_NV_POLICYREAD)
               ? nv
               : NULL;
}

/* CheckPolicyAuthSession for a session no policy command has touched
 * (policy commands are not implemented): its policyDigest is all zeros. */
static TPM_RC check_policy(const struct tpm_session *s,
                           const struct tpm_nv_index *nv)
{
    unsigned size = tpm_hash_size(s->auth_hash);

    if (nv->auth_policy.size != size || nv->name_alg != s->auth_hash)
        return TPM_RC_POLICY_FAIL;
    for (unsigned k = 0; k < size; k++)
        if (nv->auth_policy.b[k])
            return TPM_RC_POLICY_FAIL;
    return TPM_RC_SUCCESS;
}

#define TPM_MAX_AUTH_FAIL 3u /* TPM_PT_MAX_AUTH_FAIL */

/* CheckLockedOut (Part 1 19.8.6). Recovery over time is not modelled:
 * only tpm_reset() clears it. libtpms (USE_DA_USED): the first check after
 * Startup records daUsed in NV and answers TPM_RC_RETRY. */
static TPM_RC check_locked_out(struct tpm *t, bool lockout_auth)
{
    if (lockout_auth)
        return t->s.lockout_locked ? TPM_RC_LOCKOUT : TPM_RC_SUCCESS;
    if (t->s.failed_tries >= TPM_MAX_AUTH_FAIL)
        return TPM_RC_LOCKOUT;
    if (!t->s.da_used) {
        t->s.da_used = true;
        return TPM_RC_RETRY;
    }
    return TPM_RC_SUCCESS;
}

/* IncrementLockout: a failure counts against DA when the entity is
 * protected and its authValue was used, or the session is bound to a
 * protected entity; against lockoutAuth for a lockout-bound session. */
static TPM_RC auth_failure(struct tpm *t, struct tpm_cmd *c, unsigned i)
{
    const struct tpm_auth *a = &c->auth[i];
    const struct tpm_session *s = session_of(t, a->handle);
    uint32_t entity = a->entity;

    if (!s && !da_protected(t, entity))
        return TPM_RC_BAD_AUTH;
    if (s) {
        if (s->is_lockout_bound)
            entity = TPM_RH_LOCKOUT;
        if (!s->is_da_bound &&
            (!da_protected(t, entity) || !include_auth(t, s, a->entity)))
            return TPM_RC_BAD_AUTH;
    }
    if (entity == TPM_RH_LOCKOUT)
        t->s.lockout_locked = true;
    else
        t->s.failed_tries++;
    return TPM_RC_AUTH_FAIL;
}

/* CheckAuthSession: session i authorizes its handle. */
static TPM_RC check_one_auth(struct tpm *t, struct tpm_cmd *c, unsigned i)
{
    const struct tpm_auth *a = &c->auth[i];
    const struct tpm_session *s = session_of(t, a->handle);
    const struct tpm_nv_index *policy_nv = NULL;
    TPM_RC rc;
    bool ok;

    if ((!s || include_auth(t, s, a->entity)) && da_protected(t, a->entity) &&
        (rc = check_locked_out(t, a->entity == TPM_RH_LOCKOUT)))
        return rc;
    if (s && TPM_HANDLE_TYPE(a->handle) == TPM_HT_POLICY_SESSION) {
        if (!(policy_nv = policy_entity(t, c->cc, a->entity)))
            return TPM_RC_AUTH_UNAVAILABLE;
        if ((rc = check_policy(s, policy_nv)))
            return rc_session(rc, i + 1);
    } else if (!auth_value_available(t, c->cc, a->entity)) {
        return TPM_RC_AUTH_UNAVAILABLE;
    }
    ok = s ? hmac_matches(t, c, i) : password_matches(t, a);
    return ok ? TPM_RC_SUCCESS : rc_session(auth_failure(t, c, i), i + 1);
}

/* A session that authorizes no handle must audit or encrypt, and its HMAC
 * is keyed by the session key alone. */
static TPM_RC check_extra_session(struct tpm *t, struct tpm_cmd *c, unsigned i)
{
    const struct tpm_auth *a = &c->auth[i];
    uint8_t uses = TPMA_SESSION_AUDIT | TPMA_SESSION_ENCRYPT | TPMA_SESSION_DECRYPT;

    if (!(a->attrs & uses))
        return rc_session(TPM_RC_ATTRIBUTES, i + 1);
    if (hmac_matches(t, c, i))
        return TPM_RC_SUCCESS;
    return rc_session(auth_failure(t, c, i), i + 1);
}

static TPM_RC authorize_session(struct tpm *t, struct tpm_cmd *c, unsigned i)
{
    const struct tpm_auth *a = &c->auth[i];
    const struct tpm_session *s = session_of(t, a->handle);
    TPM_RC rc;

    if (!s) /* the password session */
        return a->entity == TPM_RH_UNASSIGNED ? rc_session(TPM_RC_HANDLE, i + 1)
                                        : check_one_auth(t, c, i);
    if (s->is_trial)
        return rc_session(TPM_RC_ATTRIBUTES, i + 1);
    if (s->is_da_bound && (rc = check_locked_out(t, s->is_lockout_bound)))
        return rc;
    return a->entity == TPM_RH_UNASSIGNED ? check_extra_session(t, c, i)
                                    : check_one_auth(t, c, i);
}

/* ---- parameter encryption (Part 1 21) ------------------------------------ */

/* Key: sessionKey || the authValue of the entity the session authorizes.
 * XOR: the mask is KDFa(authHash, key, "XOR", newer, older); CFB: key and
 * IV come from KDFa(authHash, key, "CFB", newer, older). */
static bool crypt_param(struct tpm *t, const struct tpm_session *s,
                        uint32_t entity, const struct tpm2b_digest *newer,
                        const struct tpm2b_digest *older, bool encrypt,
                        uint8_t *data, size_t len)
{
    uint8_t key[2 * TPM_MAX_DIGEST_SIZE], mask[TPM_MAX_COMMAND_SIZE];
    uint8_t sym[32 + 16];
    struct tpm2b_digest auth = {0};
    size_t key_len = s->session_key.size;
    unsigned key_bytes = s->sym_bits / 8u, block;

    memcpy(key, s->session_key.b, key_len);
    if (entity != TPM_RH_UNASSIGNED)
        entity_auth(t, entity, &auth);
    memcpy(key + key_len, auth.b, auth.size);
    key_len += auth.size;
    if (s->sym_alg == TPM_ALG_XOR) {
        if (len > sizeof(mask) ||
            !tpm_kdfa(s->auth_hash, key, key_len, "XOR", newer->b, newer->size,
                      older->b, older->size, mask, len))
            return false;
        for (size_t k = 0; k < len; k++)
            data[k] ^= mask[k];
        return true;
    }
    block = tpm_sym_block_size(s->sym_alg, s->sym_bits);
    return block && key_bytes + block <= sizeof(sym) &&
           tpm_kdfa(s->auth_hash, key, key_len, "CFB", newer->b, newer->size,
                    older->b, older->size, sym, key_bytes + block) &&
           tpm_cfb(s->sym_alg, s->sym_bits, sym, sym + key_bytes, encrypt,
                   data, len);
}

/* CryptParameterDecryption (with the CVE-2023-1017 bound): the TPM2B's
 * size must fit the parameters. Works on a copy of the parameters: cpHash
 * stays over the bytes as sent. */
static TPM_RC decrypt_params(struct tpm *t, struct tpm_cmd *c)
{
    const struct tpm_auth *a = &c->auth[c->decrypt_idx];
    const struct tpm_session *s = session_of(t, a->handle);
    size_t len = c->params.left, size;

    if (len < 2)
        return rc_session(TPM_RC_INSUFFICIENT, (unsigned)c->decrypt_idx + 1);
    size = ld_be16(c->params.p);
    if (size > len - 2)
        return rc_session(TPM_RC_SIZE, (unsigned)c->decrypt_idx + 1);
    memcpy(c->param_copy, c->params.p, len);
    if (!crypt_param(t, s, a->entity, &a->nonce_caller, &s->nonce_tpm, false,
                     c->param_copy + 2, size))
        return TPM_RC_FAILURE;
    c->params.p = c->param_copy;
    return TPM_RC_SUCCESS;
}

/* libtpms ParseSessionBuffer after RetrieveSessionData: each session in
 * turn (DA state, then authorization or the checks of a session that
 * authorizes nothing), then the decryption of the first parameter. */
TPM_RC tpm_check_auth(struct tpm *t, struct tpm_cmd *c)
{
    TPM_RC rc = TPM_RC_SUCCESS;

    for (unsigned i = 0; !rc && i < c->n_auth; i++)
        rc = authorize_session(t, c, i);
    if (!rc && c->decrypt_idx >= 0)
        rc = decrypt_params(t, c);
    return rc;
}

/* ---- response authorization area ------------------------------------------ */

static void encrypt_response(struct tpm *t, struct tpm_cmd *c)
{
    const struct tpm_auth *a = &c->auth[c->encrypt_idx];
    const struct tpm_session *s = session_of(t, a->handle);
    size_t size;

    if (c->rp.len < 2 || (size = ld_be16(c->rp.p)) > c->rp.len - 2 ||
        !crypt_param(t, s, a->entity, &s->nonce_tpm, &a->nonce_caller, true,
                     c->rp.p + 2, size))
        c->rp.overflow = true; /* cannot happen: answered TPM_RC_FAILURE */
}

/* UpdateAuditSessionStatus: a session's first audit use (or auditReset)
 * makes it the exclusive audit session; any other successful command that
 * may take sessions ends the exclusivity. No audit digest is kept. */
static void update_audit(struct tpm *t, struct tpm_cmd *c)
{
    struct tpm_auth *a;
    struct tpm_session *s;

    if (c->audit_idx < 0) {
        if (sessions_allowed(c->cc))
            t->s.exclusive_audit = TPM_RH_UNASSIGNED;
        return;
    }
    a = &c->auth[c->audit_idx];
    s = session_of(t, a->handle);
    if (!s->is_audit || (a->attrs & TPMA_SESSION_AUDITRESET)) {
        s->is_audit = true;
        s->bind = TPM_RH_NULL; /* an audit session is not bound */
        t->s.exclusive_audit = a->handle;
    } else if (t->s.exclusive_audit != a->handle) {
        t->s.exclusive_audit = TPM_RH_UNASSIGNED;
    }
    if (t->s.exclusive_audit == a->handle)
        a->attrs |= TPMA_SESSION_AUDITEXCLUSIVE;
    else
        a->attrs &= (uint8_t)~TPMA_SESSION_AUDITEXCLUSIVE;
}

void tpm_respond_sessions(struct tpm *t, struct tpm_cmd *c)
{
    for (unsigned i = 0; i < c->n_auth; i++) {
        struct tpm_session *s = session_of(t, c->auth[i].handle);

        if (s)
            tpm_random(t, s->nonce_tpm.b, s->nonce_tpm.size);
    }
    if (c->encrypt_idx >= 0)
        encrypt_response(t, c);
    update_audit(t, c);
}

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
    size_t key_len = hmac_key(t, s, a->entity, key);

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
    uint16_t sym_alg, sym_bits, sym_mode;
    uint16_t auth_hash;
};

/* libtpms 0.9's TPMI_*_KEY_BITS: no 192-bit AES or Camellia. */
static bool sym_key_bits_ok(uint16_t alg, uint16_t bits)
{
    if (alg == TPM_ALG_TDES)
        return bits == 128 || bits == 192;
    return bits == 128 || bits == 256;
}

/* TPMT_SYM_DEF+ (Part 2 11.1.6): algorithm, then keyBits and mode unless
 * NULL; XOR's keyBits is a hash and it has no mode. */
static TPM_RC in_sym_def(struct tpm_in *in, struct start_auth_in *p)
{
    TPM_RC rc = in_u16(in, &p->sym_alg);

    p->sym_bits = p->sym_mode = 0;
    if (rc || p->sym_alg == TPM_ALG_NULL)
        return rc;
    if (p->sym_alg == TPM_ALG_XOR)
        return in_hash_alg(in, false, &p->sym_bits);
    if (p->sym_alg != TPM_ALG_AES && p->sym_alg != TPM_ALG_TDES &&
        p->sym_alg != TPM_ALG_CAMELLIA)
        return TPM_RC_SYMMETRIC;
    rc = in_u16(in, &p->sym_bits);
    if (!rc && !sym_key_bits_ok(p->sym_alg, p->sym_bits))
        rc = TPM_RC_VALUE;
    if (!rc)
        rc = in_u16(in, &p->sym_mode);
    /* TPMI_ALG_SYM_MODE+ (rev 1.59 has CMAC; NULL is allowed here and
     * refused by StartAuthSession itself, after the hash) */
    if (!rc && p->sym_mode != TPM_ALG_CMAC && p->sym_mode != TPM_ALG_NULL &&
        (p->sym_mode < TPM_ALG_CTR || p->sym_mode > TPM_ALG_ECB))
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
    rc = in_sym_def(in, p);
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
    s->sym_alg = p->sym_alg;
    s->sym_bits = p->sym_alg == TPM_ALG_XOR ? 0 : p->sym_bits;
    s->is_trial = p->session_type == TPM_SE_TRIAL;
    s->bind = p->session_type == TPM_SE_HMAC ? bind : TPM_RH_NULL;
    /* use of the session counts against DA whatever it authorizes */
    s->is_da_bound = bind != TPM_RH_NULL && da_protected(t, bind);
    s->is_lockout_bound = s->is_da_bound && bind == TPM_RH_LOCKOUT;
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
    if (p.sym_alg != TPM_ALG_NULL && p.sym_alg != TPM_ALG_XOR &&
        p.sym_mode != TPM_ALG_CFB)
        return rc_param(TPM_RC_MODE, 4);
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
    if (t->s.exclusive_audit == h)
        t->s.exclusive_audit = TPM_RH_UNASSIGNED;
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
