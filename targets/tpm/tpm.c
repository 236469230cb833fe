/*
 * TPM 2.0 command execution: TPM 2.0 Library spec Part 1 section 18
 * (command/response structure, handle and authorization areas) and the
 * order of checks of the reference implementation's ExecuteCommand()
 * (Part 4 section 6.2), as libtpms 0.9 answers: header (tag, size, command
 * code), TPM_RC_INITIALIZE, handle area (unmarshal, then presence),
 * authorization area, authorizations, parameters (in the handler, up to
 * tpm_params_end()), the command's own checks and action, response.
 * Startup/Shutdown/self test/random/clock commands live here too (Part 3
 * sections 9, 10, 16, 29.2).
 */
#include "targets/tpm/tpm_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define TPM_HEADER_SIZE 10u

static TPM_RC cmd_startup(struct tpm *t, struct tpm_cmd *c);
static TPM_RC cmd_shutdown(struct tpm *t, struct tpm_cmd *c);
static TPM_RC cmd_self_test(struct tpm *t, struct tpm_cmd *c);
static TPM_RC cmd_incremental_self_test(struct tpm *t, struct tpm_cmd *c);
static TPM_RC cmd_get_test_result(struct tpm *t, struct tpm_cmd *c);
static TPM_RC cmd_get_random(struct tpm *t, struct tpm_cmd *c);
static TPM_RC cmd_stir_random(struct tpm *t, struct tpm_cmd *c);
static TPM_RC cmd_read_clock(struct tpm *t, struct tpm_cmd *c);

/* Sorted by command code (TPM_CAP_COMMANDS walks it in order). The TPMA_CC
 * words are libtpms 0.9's. */
static const struct tpm_cmd_desc cmd_table[] = {
    {TPM_CC_NV_UndefineSpace, 0x04400122, 2, 1, {HK_PROVISION, HK_NV_INDEX},
     tpm_cmd_nv_undefine_space},
    {TPM_CC_HierarchyChangeAuth, 0x02400129, 1, 1, {HK_HIERARCHY_AUTH},
     tpm_cmd_hierarchy_change_auth},
    {TPM_CC_NV_DefineSpace, 0x0240012A, 1, 1, {HK_PROVISION},
     tpm_cmd_nv_define_space},
    {TPM_CC_NV_Increment, 0x04400134, 2, 1, {HK_NV_AUTH, HK_NV_INDEX},
     tpm_cmd_nv_increment},
    {TPM_CC_NV_Write, 0x04400137, 2, 1, {HK_NV_AUTH, HK_NV_INDEX},
     tpm_cmd_nv_write},
    {TPM_CC_PCR_Event, 0x0240013C, 1, 1, {HK_PCR_OR_NULL}, tpm_cmd_pcr_event},
    {TPM_CC_PCR_Reset, 0x0240013D, 1, 1, {HK_PCR}, tpm_cmd_pcr_reset},
    {TPM_CC_IncrementalSelfTest, 0x00400142, 0, 0, {0},
     cmd_incremental_self_test},
    {TPM_CC_SelfTest, 0x00400143, 0, 0, {0}, cmd_self_test},
    {TPM_CC_Startup, 0x00400144, 0, 0, {0}, cmd_startup},
    {TPM_CC_Shutdown, 0x00400145, 0, 0, {0}, cmd_shutdown},
    {TPM_CC_StirRandom, 0x00400146, 0, 0, {0}, cmd_stir_random},
    {TPM_CC_NV_Read, 0x0400014E, 2, 1, {HK_NV_AUTH, HK_NV_INDEX},
     tpm_cmd_nv_read},
    {TPM_CC_FlushContext, 0x00000165, 0, 0, {0}, tpm_cmd_flush_context},
    {TPM_CC_NV_ReadPublic, 0x02000169, 1, 0, {HK_NV_INDEX},
     tpm_cmd_nv_read_public},
    {TPM_CC_StartAuthSession, 0x14000176, 2, 0,
     {HK_OBJECT_OR_NULL, HK_ENTITY_OR_NULL}, tpm_cmd_start_auth_session},
    {TPM_CC_GetCapability, 0x0000017A, 0, 0, {0}, tpm_cmd_get_capability},
    {TPM_CC_GetRandom, 0x0000017B, 0, 0, {0}, cmd_get_random},
    {TPM_CC_GetTestResult, 0x0000017C, 0, 0, {0}, cmd_get_test_result},
    {TPM_CC_Hash, 0x0000017D, 0, 0, {0}, tpm_cmd_hash},
    {TPM_CC_PCR_Read, 0x0000017E, 0, 0, {0}, tpm_cmd_pcr_read},
    {TPM_CC_ReadClock, 0x00000181, 0, 0, {0}, cmd_read_clock},
    {TPM_CC_PCR_Extend, 0x02400182, 1, 1, {HK_PCR_OR_NULL},
     tpm_cmd_pcr_extend},
};

const struct tpm_cmd_desc *tpm_cmd_table(unsigned *count)
{
    *count = sizeof(cmd_table) / sizeof(cmd_table[0]);
    return cmd_table;
}

static const struct tpm_cmd_desc *find_command(uint32_t cc)
{
    unsigned n;
    const struct tpm_cmd_desc *table = tpm_cmd_table(&n);

    for (unsigned i = 0; i < n; i++)
        if (table[i].cc == cc)
            return &table[i];
    return NULL;
}

/* ---- deterministic DRBG: counter mode over SHA-256 ------------------------ */

static void be64(uint8_t out[8], uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void drbg_rekey(struct tpm *t, const uint8_t *extra, size_t n)
{
    uint8_t ctr[8];
    const void *parts[] = {t->s.drbg_key, "rekey", ctr, extra};
    size_t lens[] = {sizeof(t->s.drbg_key), 5, sizeof(ctr), n};

    be64(ctr, t->s.drbg_counter);
    tpm_hash(TPM_ALG_SHA256, parts, lens, extra ? 4 : 3, t->s.drbg_key);
}

static void drbg_seed(struct tpm *t)
{
    uint8_t seed[8];

    be64(seed, t->s.seed);
    memset(t->s.drbg_key, 0, sizeof(t->s.drbg_key));
    memcpy(t->s.drbg_key, "hvfuzz-tpm-drbg", 15);
    t->s.drbg_counter = 0;
    drbg_rekey(t, seed, sizeof(seed));
}

void tpm_random(struct tpm *t, uint8_t *out, size_t n)
{
    uint8_t block[32];
    uint8_t ctr[8];
    const void *parts[] = {t->s.drbg_key, ctr};
    size_t lens[] = {sizeof(t->s.drbg_key), sizeof(ctr)};

    while (n) {
        size_t take = n < sizeof(block) ? n : sizeof(block);

        be64(ctr, t->s.drbg_counter++);
        tpm_hash(TPM_ALG_SHA256, parts, lens, 2, block);
        memcpy(out, block, take);
        out += take;
        n -= take;
    }
    drbg_rekey(t, NULL, 0); /* backtracking resistance */
}

void tpm_stir_random(struct tpm *t, const uint8_t *in, size_t n)
{
    drbg_rekey(t, in, n);
}

/* ---- lifecycle ------------------------------------------------------------ */

struct tpm *tpm_create(const struct tpm_params *params)
{
    struct tpm *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    t->nv_data = calloc(1, TPM_MAX_NV_TOTAL_BYTES);
    t->cmd = calloc(1, sizeof(*t->cmd));
    if (!t->nv_data || !t->cmd) {
        tpm_destroy(t);
        return NULL;
    }
    t->s.seed = params ? params->seed : 0;
    if (params && params->store) {
        if (!params->store->load || !params->store->save) {
            tpm_destroy(t);
            return NULL;
        }
        t->store = params->store;
        t->nv_blob = malloc(TPM_NV_BLOB_MAX);
        t->nv_saved = malloc(TPM_NV_BLOB_MAX);
        if (!t->nv_blob || !t->nv_saved) {
            tpm_destroy(t);
            return NULL;
        }
    }
    tpm_reset(t);
    return t;
}

void tpm_destroy(struct tpm *t)
{
    if (!t)
        return;
    free(t->nv_data);
    free(t->cmd);
    free(t->nv_blob);
    free(t->nv_saved);
    free(t);
}

void tpm_reset(struct tpm *t)
{
    uint64_t seed = t->s.seed;

    memset(&t->s, 0, sizeof(t->s));
    memset(t->nv_data, 0, TPM_MAX_NV_TOTAL_BYTES);
    t->s.version = TPM_STATE_VERSION;
    t->s.exclusive_audit = TPM_RH_UNASSIGNED;
    t->s.seed = seed;
    drbg_seed(t);
    tpm_init(t);
}

void tpm_init(struct tpm *t)
{
    t->s.started = false;
    tpm_sessions_clear(t);
    if (t->store)
        tpm_nv_store_load(t);
}

enum tpm_nv_status tpm_nv_status(const struct tpm *t)
{
    return t->nv_status;
}

const char *tpm_nv_error(const struct tpm *t)
{
    return t->nv_status == TPM_NV_OK ? NULL : t->nv_error;
}

void tpm_advance_clock(struct tpm *t, uint64_t ms)
{
    t->s.clock_ms += ms;
}

size_t tpm_save(const struct tpm *t, uint8_t *buf, size_t cap)
{
    size_t need = sizeof(t->s) + TPM_MAX_NV_TOTAL_BYTES;

    if (cap < need)
        return need;
    memcpy(buf, &t->s, sizeof(t->s));
    memcpy(buf + sizeof(t->s), t->nv_data, TPM_MAX_NV_TOTAL_BYTES);
    return need;
}

static bool digest_ok(const struct tpm2b_digest *d)
{
    return d->size <= TPM_MAX_DIGEST_SIZE;
}

/* A loaded blob must not let later commands index out of bounds. */
static bool state_consistent(const struct tpm_state *s)
{
    bool ok = s->version == TPM_STATE_VERSION &&
              s->nv_bytes_used <= TPM_MAX_NV_TOTAL_BYTES &&
              digest_ok(&s->owner_auth) && digest_ok(&s->endorsement_auth) &&
              digest_ok(&s->lockout_auth) && digest_ok(&s->platform_auth);

    for (unsigned i = 0; ok && i < TPM_MAX_NV_INDICES; i++) {
        const struct tpm_nv_index *nv = &s->nv[i];

        ok = !nv->used ||
             ((uint32_t)nv->data_offset + nv->data_size <= s->nv_bytes_used &&
              tpm_hash_size(nv->name_alg) && digest_ok(&nv->auth) &&
              digest_ok(&nv->auth_policy));
    }
    for (unsigned i = 0; ok && i < TPM_MAX_ACTIVE_SESSIONS; i++) {
        const struct tpm_session *se = &s->sessions[i];

        ok = !se->used ||
             (tpm_hash_size(se->auth_hash) && digest_ok(&se->nonce_tpm) &&
              digest_ok(&se->session_key) && digest_ok(&se->bind_auth) &&
              (se->sym_alg == TPM_ALG_NULL || se->sym_alg == TPM_ALG_XOR ||
               tpm_sym_block_size(se->sym_alg, se->sym_bits)));
    }
    return ok;
}

bool tpm_load(struct tpm *t, const uint8_t *buf, size_t len)
{
    struct tpm_state s;

    if (len != sizeof(s) + TPM_MAX_NV_TOTAL_BYTES)
        return false;
    memcpy(&s, buf, sizeof(s));
    if (!state_consistent(&s))
        return false;
    t->s = s;
    memcpy(t->nv_data, buf + sizeof(s), TPM_MAX_NV_TOTAL_BYTES);
    return true;
}

/* ---- handle area (Part 4 ParseHandleBuffer + EntityGetLoadStatus) -------- */

static bool is_pcr(uint32_t h)
{
    return h < TPM_PCR_COUNT;
}

static bool is_nv_index(uint32_t h)
{
    return TPM_HANDLE_TYPE(h) == TPM_HT_NV_INDEX;
}

/* TPMI_DH_OBJECT: libtpms's 3 transient slots or a persistent handle. */
static bool is_object(uint32_t h)
{
    return (h >= TRANSIENT_FIRST && h < TRANSIENT_FIRST + TPM_MAX_LOADED_OBJECTS) ||
           TPM_HANDLE_TYPE(h) == TPM_HT_PERSISTENT;
}

/* TPM_RH_AUTH_00..AUTH_FF and TPM_RH_ACT_0..ACT_F: accepted as
 * TPMI_DH_ENTITY, but libtpms implements none (TPM_RC_VALUE when loaded). */
static bool is_platform_auth(uint32_t h)
{
    return h >= 0x40000010u && h <= 0x4000011Fu;
}

static bool handle_kind_accepts(enum tpm_handle_kind kind, uint32_t h)
{
    switch (kind) {
    case HK_HIERARCHY_AUTH:
        return h == TPM_RH_OWNER || h == TPM_RH_ENDORSEMENT ||
               h == TPM_RH_PLATFORM || h == TPM_RH_LOCKOUT;
    case HK_PROVISION:
        return h == TPM_RH_OWNER || h == TPM_RH_PLATFORM;
    case HK_NV_AUTH:
        return h == TPM_RH_OWNER || h == TPM_RH_PLATFORM || is_nv_index(h);
    case HK_NV_INDEX:
        return is_nv_index(h);
    case HK_PCR_OR_NULL:
        return is_pcr(h) || h == TPM_RH_NULL;
    case HK_PCR:
        return is_pcr(h);
    case HK_OBJECT_OR_NULL:
        return is_object(h) || h == TPM_RH_NULL;
    case HK_ENTITY_OR_NULL:
        return h == TPM_RH_OWNER || h == TPM_RH_ENDORSEMENT ||
               h == TPM_RH_PLATFORM || h == TPM_RH_LOCKOUT ||
               h == TPM_RH_NULL || is_pcr(h) || is_nv_index(h) ||
               is_object(h) || is_platform_auth(h);
    }
    return false;
}

static bool handle_loaded(struct tpm *t, uint32_t h)
{
    switch (TPM_HANDLE_TYPE(h)) {
    case TPM_HT_NV_INDEX:
        return tpm_nv_find(t, h) != NULL;
    case TPM_HT_TRANSIENT:
    case TPM_HT_PERSISTENT:
        return false; /* no objects in this model */
    case TPM_HT_PERMANENT:
        return !is_platform_auth(h);
    default:
        return true;
    }
}

static TPM_RC parse_handles(struct tpm *t, struct tpm_cmd *c,
                            struct tpm_in *in)
{
    for (unsigned i = 0; i < c->desc->n_handles; i++) {
        TPM_RC rc = in_u32(in, &c->handles[i]);

        if (rc)
            return rc_handle(rc, i + 1);
        if (!handle_kind_accepts(c->desc->handle_kind[i], c->handles[i]))
            return rc_handle(TPM_RC_VALUE, i + 1);
    }
    for (unsigned i = 0; i < c->desc->n_handles; i++) {
        uint32_t h = c->handles[i];

        if (handle_loaded(t, h))
            continue;
        if (TPM_HANDLE_TYPE(h) == TPM_HT_TRANSIENT)
            return TPM_RC_REFERENCE_H0 + i; /* no object is ever loaded */
        if (is_platform_auth(h))
            return rc_handle(TPM_RC_VALUE, i + 1);
        return rc_handle(TPM_RC_HANDLE, i + 1);
    }
    return TPM_RC_SUCCESS;
}

/* ---- header and response ------------------------------------------------- */

/* libtpms unmarshals TPMI_ST_COMMAND_TAG as a TPM_ST first: a value that
 * is no TPM_ST at all is TPM_RC_VALUE, another TPM_ST is TPM_RC_BAD_TAG. */
static bool is_tpm_st(uint16_t tag)
{
    return tag == TPM_ST_RSP_COMMAND || tag == TPM_ST_NULL ||
           tag == TPM_ST_NO_SESSIONS || tag == TPM_ST_SESSIONS ||
           (tag >= 0x8014 && tag <= 0x801A) || (tag >= 0x8021 && tag <= 0x8025);
}

static TPM_RC parse_header(struct tpm_cmd *c, struct tpm_in *in, size_t len)
{
    uint32_t size;
    TPM_RC rc = in_u16(in, &c->tag);

    if (rc)
        return rc;
    if (c->tag != TPM_ST_NO_SESSIONS && c->tag != TPM_ST_SESSIONS)
        return is_tpm_st(c->tag) ? TPM_RC_BAD_TAG : TPM_RC_VALUE;
    rc = in_u32(in, &size);
    if (rc)
        return rc;
    if (size != len || size > TPM_MAX_COMMAND_SIZE)
        return TPM_RC_COMMAND_SIZE;
    rc = in_u32(in, &c->cc);
    if (rc)
        return rc;
    c->desc = find_command(c->cc);
    return c->desc ? TPM_RC_SUCCESS : TPM_RC_COMMAND_CODE;
}

static size_t write_error(uint8_t *rsp, size_t cap, TPM_RC rc)
{
    if (cap < TPM_HEADER_SIZE)
        return 0;
    st_be16(rsp, TPM_ST_NO_SESSIONS);
    st_be32(rsp + 2, TPM_HEADER_SIZE);
    st_be32(rsp + 6, rc);
    return TPM_HEADER_SIZE;
}

static size_t write_success(struct tpm *t, struct tpm_cmd *c, uint8_t *rsp,
                            size_t cap)
{
    struct tpm_out o = {.p = rsp, .cap = cap};

    tpm_respond_sessions(t, c);
    out_u16(&o, c->tag);
    out_u32(&o, 0); /* size, patched below */
    out_u32(&o, TPM_RC_SUCCESS);
    if (c->has_rsp_handle)
        out_u32(&o, c->rsp_handle);
    if (c->tag == TPM_ST_SESSIONS)
        out_u32(&o, (uint32_t)c->rp.len);
    out_bytes(&o, c->rp.p, c->rp.len);
    if (c->tag == TPM_ST_SESSIONS)
        tpm_write_rsp_sessions(t, c, &o);
    if (o.overflow)
        return write_error(rsp, cap, TPM_RC_FAILURE);
    out_patch_u32(&o, 2, (uint32_t)o.len);
    return o.len;
}

/* Runs the command through every check; the handler last. */
static TPM_RC run_command(struct tpm *t, struct tpm_cmd *c, const uint8_t *cmd,
                          size_t len)
{
    struct tpm_in in = {.p = cmd, .left = len};
    TPM_RC rc = parse_header(c, &in, len);

    if (rc)
        return rc;
    if (t->s.started != (c->cc != TPM_CC_Startup))
        return TPM_RC_INITIALIZE;
    rc = parse_handles(t, c, &in);
    if (rc)
        return rc;
    if (c->tag == TPM_ST_SESSIONS)
        rc = tpm_parse_sessions(t, c, &in);
    else if (c->desc->auth_handles)
        rc = TPM_RC_AUTH_MISSING;
    if (rc)
        return rc;
    c->params = in;
    c->param_bytes = in.p;
    c->param_len = in.left;
    rc = tpm_check_auth(t, c);
    if (rc)
        return rc;
    rc = c->desc->handler(t, c);
    if (rc == TPM_RC_SUCCESS && !c->params_ended)
        rc = TPM_RC_FAILURE; /* handler bug: caught by the unit tests */
    return rc;
}

size_t tpm_execute(struct tpm *t, const uint8_t *cmd, size_t len,
                   uint8_t *rsp, size_t cap)
{
    struct tpm_cmd *c = t->cmd;
    TPM_RC rc;

    memset(c, 0, offsetof(struct tpm_cmd, param_copy));
    c->decrypt_idx = c->encrypt_idx = c->audit_idx = -1;
    c->rp = (struct tpm_out){.p = c->rp_buf, .cap = sizeof(c->rp_buf)};
    rc = run_command(t, c, cmd, len);
    if (t->store)
        rc = tpm_nv_store_commit(t, c->cc, rc);
    if (rc == TPM_RC_SUCCESS && c->rp.overflow)
        rc = TPM_RC_FAILURE;
    return rc ? write_error(rsp, cap, rc) : write_success(t, c, rsp, cap);
}

TPM_RC tpm_params_end(struct tpm_cmd *c)
{
    c->params_ended = true;
    return c->params.left ? TPM_RC_SIZE : TPM_RC_SUCCESS;
}

/* ---- Startup, Shutdown (Part 3 section 9) -------------------------------- */

static TPM_RC in_startup_type(struct tpm_in *in, uint16_t *su)
{
    TPM_RC rc = in_u16(in, su);

    if (rc)
        return rc_param(rc, 1);
    if (*su != TPM_SU_CLEAR && *su != TPM_SU_STATE)
        return rc_param(TPM_RC_VALUE, 1);
    return TPM_RC_SUCCESS;
}

static TPM_RC cmd_startup(struct tpm *t, struct tpm_cmd *c)
{
    uint16_t su;
    TPM_RC rc = in_startup_type(&c->params, &su);

    if (rc)
        return rc;
    if ((rc = tpm_params_end(c)))
        return rc;
    if (su == TPM_SU_STATE && t->s.shutdown_type != TPM_SU_STATE)
        return rc_param(TPM_RC_VALUE, 1);
    if (su == TPM_SU_CLEAR) {
        tpm_pcr_startup_clear(t);
        t->s.reset_count++;
        t->s.restart_count = 0;
    } else {
        t->s.restart_count++;
    }
    tpm_nv_startup(t, su == TPM_SU_CLEAR);
    t->s.started = true;
    t->s.da_used = false;
    t->s.exclusive_audit = TPM_RH_UNASSIGNED;
    t->s.shutdown_type = TPM_SU_CLEAR; /* a Resume needs a new Shutdown(STATE) */
    return TPM_RC_SUCCESS;
}

static TPM_RC cmd_shutdown(struct tpm *t, struct tpm_cmd *c)
{
    uint16_t su;
    TPM_RC rc = in_startup_type(&c->params, &su);

    if (rc || (rc = tpm_params_end(c)))
        return rc;
    t->s.shutdown_type = su;
    return TPM_RC_SUCCESS;
}

/* ---- self test (Part 3 section 10) --------------------------------------- */

static TPM_RC cmd_self_test(struct tpm *t, struct tpm_cmd *c)
{
    uint8_t full;
    TPM_RC rc = in_u8(&c->params, &full);

    (void)t;
    if (!rc && full > 1)
        rc = TPM_RC_VALUE;
    if (rc)
        return rc_param(rc, 1);
    return tpm_params_end(c);
}

#define TPM_MAX_ALG_LIST_SIZE 64u

/* The algorithms libtpms 0.9 implements (its TPM_CAP_ALGS list): others in
 * IncrementalSelfTest's list are TPM_RC_VALUE. */
static bool libtpms_algorithm(uint16_t alg)
{
    static const uint16_t algs[] = {
        0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0A, 0x0B, 0x0C, 0x0D,
        0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x20,
        0x21, 0x22, 0x23, 0x25, 0x26, 0x3F, 0x40, 0x41, 0x42, 0x43, 0x44};

    for (unsigned i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
        if (algs[i] == alg)
            return true;
    return false;
}

static TPM_RC cmd_incremental_self_test(struct tpm *t, struct tpm_cmd *c)
{
    uint32_t count;
    uint16_t algs[TPM_MAX_ALG_LIST_SIZE];
    TPM_RC rc = in_u32(&c->params, &count);

    (void)t;
    if (rc)
        return rc_param(rc, 1);
    if (count > TPM_MAX_ALG_LIST_SIZE)
        return rc_param(TPM_RC_SIZE, 1);
    for (uint32_t i = 0; i < count && !rc; i++)
        rc = in_u16(&c->params, &algs[i]);
    if (rc)
        return rc_param(rc, 1);
    if ((rc = tpm_params_end(c)))
        return rc;
    for (uint32_t i = 0; i < count; i++)
        if (!libtpms_algorithm(algs[i]))
            return rc_param(TPM_RC_VALUE, 1);
    out_u32(&c->rp, 0); /* toDoList: every algorithm is tested */
    return TPM_RC_SUCCESS;
}

static TPM_RC cmd_get_test_result(struct tpm *t, struct tpm_cmd *c)
{
    TPM_RC rc;

    (void)t;
    if ((rc = tpm_params_end(c)))
        return rc;
    out_u16(&c->rp, 0);              /* outData */
    out_u32(&c->rp, TPM_RC_SUCCESS); /* testResult */
    return TPM_RC_SUCCESS;
}

/* ---- random (Part 3 section 16) ------------------------------------------ */

static TPM_RC cmd_get_random(struct tpm *t, struct tpm_cmd *c)
{
    uint16_t n;
    uint8_t buf[TPM_MAX_RNG_BYTES];
    TPM_RC rc = in_u16(&c->params, &n);

    if (rc)
        return rc_param(rc, 1);
    if ((rc = tpm_params_end(c)))
        return rc;
    if (n > sizeof(buf)) /* Part 3 16.1: at most the largest digest */
        n = sizeof(buf);
    tpm_random(t, buf, n);
    out_tpm2b(&c->rp, buf, n);
    return TPM_RC_SUCCESS;
}

#define TPM_MAX_SENSITIVE_DATA 128u

static TPM_RC cmd_stir_random(struct tpm *t, struct tpm_cmd *c)
{
    uint8_t buf[TPM_MAX_SENSITIVE_DATA];
    uint16_t n;
    TPM_RC rc = in_tpm2b(&c->params, sizeof(buf), &n, buf);

    if (rc)
        return rc_param(rc, 1);
    if ((rc = tpm_params_end(c)))
        return rc;
    tpm_stir_random(t, buf, n);
    return TPM_RC_SUCCESS;
}

/* ---- clock (Part 3 section 29.2): virtual clock only ---------------------- */

static TPM_RC cmd_read_clock(struct tpm *t, struct tpm_cmd *c)
{
    TPM_RC rc;

    if ((rc = tpm_params_end(c)))
        return rc;
    out_u64(&c->rp, t->s.clock_ms); /* time */
    out_u64(&c->rp, t->s.clock_ms); /* clockInfo.clock */
    out_u32(&c->rp, t->s.reset_count);
    out_u32(&c->rp, t->s.restart_count);
    out_u8(&c->rp, 1); /* safe */
    return TPM_RC_SUCCESS;
}
