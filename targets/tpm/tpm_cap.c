/*
 * TPM2_GetCapability: TPM 2.0 Library spec Part 3 section 30.2 and the
 * capability structures of Part 2 section 10.10 (TPMS_CAPABILITY_DATA).
 * Fixed properties are libtpms 0.9's values (TPM_PT_FIXED group) except the
 * command counts, which count this model's commands. Lists stop at the end
 * of the property's group, as libtpms does.
 */
#include "targets/tpm/tpm_int.h"

#define MAX_CAP_PROPERTIES 127u /* libtpms MAX_TPM_PROPERTIES */
#define MAX_CAP_HANDLES 254u
#define MAX_CAP_ALGS 169u
#define MAX_CAP_CC 254u
#define TPM_RH_ACT_0 0x40000110u
#define TPM_RH_ACT_F 0x4000011Fu
#define TPMA_ALGORITHM_HASH 0x00000004u
#define TPM_PT_GROUP 0x100u
/* moreData is the first response parameter; list writers set it. */
#define MORE_DATA_AT 0u

struct tagged {
    uint32_t tag;
    uint32_t value;
};

/* TPM_PT_FIXED group as libtpms 0.9.2 reports it (0x115 is not defined). */
static const struct tagged fixed_props[] = {
    {0x100, 0x322E3000}, /* FAMILY_INDICATOR "2.0" */
    {0x101, 0x00000000}, {0x102, 0x000000A4}, {0x103, 0x0000004B},
    {0x104, 0x000007E5}, {0x105, 0x49424D00}, /* MANUFACTURER "IBM" */
    {0x106, 0x53572020}, {0x107, 0x2054504D}, {0x108, 0x00000000},
    {0x109, 0x00000000}, {0x10A, 0x00000001}, {0x10B, 0x20191023},
    {0x10C, 0x00163636}, {0x10D, 0x00000400}, {0x10E, 0x00000003},
    {0x10F, 0x00000007}, {0x110, 0x00000003}, {0x111, 0x00000040},
    {0x112, 0x00000018}, {0x113, 0x00000003}, {0x114, 0x0000FFFF},
    {0x116, 0x00000000}, {0x117, 0x00000800}, {0x118, 0x00000006},
    {0x119, 0x00001000}, {0x11A, 0x0000000D}, {0x11B, 0x00000006},
    {0x11C, 0x00000100}, {0x11D, 0x000000FF}, {0x11E, 0x00001000},
    {0x11F, 0x00001000}, {0x120, 0x00000040}, {0x121, 0x00000A84},
    {0x122, 0x00000194}, {0x123, 0x322E3000}, {0x124, 0x00000000},
    {0x125, 0x000000A4}, {0x126, 0x0000004B}, {0x127, 0x000007E5},
    {0x128, 0x00000080}, {TPM_PT_TOTAL_COMMANDS, 0},
    {TPM_PT_LIBRARY_COMMANDS, 0}, {0x12B, 0x00000000}, {0x12C, 0x00000400},
    {0x12D, 0x00000000}, {0x12E, 0x00000400},
};

#define N_FIXED (sizeof(fixed_props) / sizeof(fixed_props[0]))
#define N_VAR 21u

static uint32_t permanent_flags(const struct tpm *t)
{
    return 1u << 10 /* tpmGeneratedEPS */ | (t->s.owner_auth.size ? 1u : 0) |
           (t->s.endorsement_auth.size ? 2u : 0) |
           (t->s.lockout_auth.size ? 4u : 0);
}

/* TPM_PT_VAR group (0x200..0x214); DA values are libtpms's defaults. */
static void var_props(const struct tpm *t, struct tagged *v)
{
    unsigned loaded = tpm_sessions_loaded(t);
    const uint32_t values[N_VAR] = {
        permanent_flags(t),
        0x8000000F, /* STARTUP_CLEAR: ph/sh/eh/phNV enabled, orderly */
        tpm_nv_count(t),
        loaded,
        TPM_MAX_LOADED_SESSIONS - loaded,
        loaded,
        TPM_MAX_ACTIVE_SESSIONS - loaded,
        3, 0, 0x41, 0, 0x19, 0, 8, t->s.failed_tries, 3, 1000, 1000, 0, 0, 0,
    };

    for (unsigned i = 0; i < N_VAR; i++)
        v[i] = (struct tagged){TPM_PT_VAR + i, values[i]};
}

static uint32_t cap_count(uint32_t asked, uint32_t max)
{
    return asked < max ? asked : max;
}

/* Writes the entries of `list` with tag >= from, at most count of them. */
static void write_tagged(struct tpm_out *o, const struct tagged *list,
                         unsigned n, uint32_t from, uint32_t count)
{
    uint32_t written = 0;
    size_t more_at = MORE_DATA_AT;
    size_t count_at = out_reserve(o, 4);

    for (unsigned i = 0; i < n; i++) {
        if (list[i].tag < from)
            continue;
        if (written == count) {
            o->p[more_at] = 1;
            break;
        }
        out_u32(o, list[i].tag);
        out_u32(o, list[i].value);
        written++;
    }
    out_patch_u32(o, count_at, written);
}

static void cap_properties(struct tpm *t, struct tpm_out *o, uint32_t prop,
                           uint32_t count)
{
    struct tagged fixed[N_FIXED], var[N_VAR];
    unsigned n_cmds;

    tpm_cmd_table(&n_cmds);
    for (unsigned i = 0; i < N_FIXED; i++) {
        fixed[i] = fixed_props[i];
        if (fixed[i].tag == TPM_PT_TOTAL_COMMANDS ||
            fixed[i].tag == TPM_PT_LIBRARY_COMMANDS)
            fixed[i].value = n_cmds;
    }
    var_props(t, var);
    count = cap_count(count, MAX_CAP_PROPERTIES);
    if (prop < TPM_PT_FIXED)
        prop = TPM_PT_FIXED;
    if (prop < TPM_PT_FIXED + TPM_PT_GROUP)
        write_tagged(o, fixed, N_FIXED, prop, count);
    else if (prop < TPM_PT_VAR + TPM_PT_GROUP)
        write_tagged(o, var, N_VAR, prop, count);
    else
        write_tagged(o, var, 0, prop, count);
}

/* ---- handles --------------------------------------------------------------- */

static const uint32_t permanent_handles[] = {
    TPM_RH_OWNER,       TPM_RH_NULL,     TPM_RS_PW,          TPM_RH_LOCKOUT,
    TPM_RH_ENDORSEMENT, TPM_RH_PLATFORM, TPM_RH_PLATFORM_NV,
};

/* Emits handle candidates in ascending order; returns how many fit. */
struct handle_list {
    struct tpm_out *o;
    size_t more_at;
    uint32_t count, written;
};

static bool add_handle(struct handle_list *l, uint32_t h)
{
    if (l->written == l->count) {
        l->o->p[l->more_at] = 1;
        return false;
    }
    out_u32(l->o, h);
    l->written++;
    return true;
}

static void handles_of_type(struct tpm *t, struct handle_list *l, uint32_t from)
{
    switch (TPM_HANDLE_TYPE(from)) {
    case TPM_HT_PCR:
        for (uint32_t h = from; h < TPM_PCR_COUNT; h++)
            if (!add_handle(l, h))
                return;
        return;
    case TPM_HT_PERMANENT:
        for (unsigned i = 0; i < sizeof(permanent_handles) / 4; i++)
            if (permanent_handles[i] >= from && !add_handle(l, permanent_handles[i]))
                return;
        return;
    case TPM_HT_NV_INDEX:
        for (uint32_t h = tpm_nv_next_handle(t, from); h;
             h = h == NV_INDEX_LAST ? 0 : tpm_nv_next_handle(t, h + 1))
            if (!add_handle(l, h))
                return;
        return;
    case TPM_HT_HMAC_SESSION:
        for (unsigned i = 0; i < TPM_MAX_ACTIVE_SESSIONS; i++) {
            const struct tpm_session *s = &t->s.sessions[i];

            if (s->used && s->handle >= from && !add_handle(l, s->handle))
                return;
        }
        return;
    default: /* policy (saved) sessions, objects: none */
        return;
    }
}

static TPM_RC cap_handles(struct tpm *t, struct tpm_out *o, uint32_t from,
                          uint32_t count)
{
    struct handle_list l = {o, MORE_DATA_AT, cap_count(count, MAX_CAP_HANDLES), 0};
    size_t count_at;

    switch (TPM_HANDLE_TYPE(from)) {
    case TPM_HT_PCR:
    case TPM_HT_NV_INDEX:
    case TPM_HT_HMAC_SESSION:
    case TPM_HT_POLICY_SESSION:
    case TPM_HT_PERMANENT:
    case TPM_HT_TRANSIENT:
    case TPM_HT_PERSISTENT:
        break;
    default:
        return rc_param(TPM_RC_HANDLE, 2);
    }
    count_at = out_reserve(o, 4);
    handles_of_type(t, &l, from);
    out_patch_u32(o, count_at, l.written);
    return TPM_RC_SUCCESS;
}

/* ---- algorithms, commands --------------------------------------------------- */

static void cap_algs(struct tpm_out *o, uint32_t from, uint32_t count)
{
    static const struct tagged algs[] = {
        {TPM_ALG_SHA1, TPMA_ALGORITHM_HASH},
        {TPM_ALG_SHA256, TPMA_ALGORITHM_HASH},
        {TPM_ALG_SHA384, TPMA_ALGORITHM_HASH},
        {TPM_ALG_SHA512, TPMA_ALGORITHM_HASH},
    };
    uint32_t written = 0;
    size_t more_at = MORE_DATA_AT, count_at = out_reserve(o, 4);

    count = cap_count(count, MAX_CAP_ALGS);
    for (unsigned i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (algs[i].tag < (from & 0xFFFF) || from > 0xFFFF)
            continue;
        if (written == count) {
            o->p[more_at] = 1;
            break;
        }
        out_u16(o, (uint16_t)algs[i].tag);
        out_u32(o, algs[i].value);
        written++;
    }
    out_patch_u32(o, count_at, written);
}

static void cap_commands(struct tpm_out *o, uint32_t from, uint32_t count)
{
    unsigned n;
    const struct tpm_cmd_desc *table = tpm_cmd_table(&n);
    uint32_t written = 0;
    size_t more_at = MORE_DATA_AT, count_at = out_reserve(o, 4);

    count = cap_count(count, MAX_CAP_CC);
    for (unsigned i = 0; i < n; i++) {
        if (table[i].cc < from)
            continue;
        if (written == count) {
            o->p[more_at] = 1;
            break;
        }
        out_u32(o, table[i].tpma_cc);
        written++;
    }
    out_patch_u32(o, count_at, written);
}

/* ---- GetCapability ----------------------------------------------------------- */

static TPM_RC write_capability(struct tpm *t, struct tpm_out *o, uint32_t cap,
                               uint32_t prop, uint32_t count)
{
    switch (cap) {
    case TPM_CAP_ALGS:
        cap_algs(o, prop, count);
        return TPM_RC_SUCCESS;
    case TPM_CAP_HANDLES:
        return cap_handles(t, o, prop, count);
    case TPM_CAP_COMMANDS:
        cap_commands(o, prop, count);
        return TPM_RC_SUCCESS;
    case TPM_CAP_PCRS:
        if (prop != 0)
            return rc_param(TPM_RC_VALUE, 2);
        if (count == 0) { /* libtpms: nothing returned, more available */
            o->p[MORE_DATA_AT] = 1;
            out_u32(o, 0);
            return TPM_RC_SUCCESS;
        }
        tpm_pcr_write_allocation(o);
        return TPM_RC_SUCCESS;
    case TPM_CAP_TPM_PROPERTIES:
        cap_properties(t, o, prop, count);
        return TPM_RC_SUCCESS;
    case TPM_CAP_AUTH_POLICIES:
        if (TPM_HANDLE_TYPE(prop) != TPM_HT_PERMANENT)
            return rc_param(TPM_RC_VALUE, 2);
        out_u32(o, 0);
        return TPM_RC_SUCCESS;
    case TPM_CAP_ACT:
        if (prop < TPM_RH_ACT_0 || prop > TPM_RH_ACT_F)
            return rc_param(TPM_RC_VALUE, 2);
        out_u32(o, 0);
        return TPM_RC_SUCCESS;
    case TPM_CAP_PP_COMMANDS:
    case TPM_CAP_AUDIT_COMMANDS:
    case TPM_CAP_PCR_PROPERTIES:
    case TPM_CAP_ECC_CURVES:
        out_u32(o, 0); /* known gap: empty lists */
        return TPM_RC_SUCCESS;
    default:
        return rc_param(TPM_RC_VALUE, 1);
    }
}

TPM_RC tpm_cmd_get_capability(struct tpm *t, struct tpm_cmd *c)
{
    uint32_t cap, prop, count;
    TPM_RC rc = in_u32(&c->params, &cap);

    if (!rc && cap > TPM_CAP_LAST && cap != TPM_CAP_VENDOR_PROPERTY)
        rc = TPM_RC_VALUE; /* TPM_CAP unmarshal */
    if (rc)
        return rc_param(rc, 1);
    rc = in_u32(&c->params, &prop);
    if (rc)
        return rc_param(rc, 2);
    rc = in_u32(&c->params, &count);
    if (rc)
        return rc_param(rc, 3);
    if ((rc = tpm_params_end(c)))
        return rc;
    out_u8(&c->rp, 0); /* moreData, set by the list writers */
    out_u32(&c->rp, cap);
    return write_capability(t, &c->rp, cap, prop, count);
}
