/* Differential runner: see tpm_diff.h. */
#include "targets/tpm/diff/tpm_diff.h"

#include <stdlib.h>
#include <string.h>

#include "targets/tpm/diff/tpm_libtpms.h"
#include "targets/tpm/tpm.h"
#include "targets/tpm/tpm_int.h"

#define RSP_CAP 8192u

static uint32_t command_code(const uint8_t *cmd, size_t len)
{
    return len >= 10 ? ld_be32(cmd + 6) : 0;
}

static uint32_t response_code(const uint8_t *rsp, size_t len)
{
    return len >= 10 ? ld_be32(rsp + 6) : 0xFFFFFFFFu;
}

static bool implemented(uint32_t cc)
{
    unsigned n;
    const struct tpm_cmd_desc *table = tpm_cmd_table(&n);

    for (unsigned i = 0; i < n; i++)
        if (table[i].cc == cc)
            return true;
    return false;
}

static unsigned handle_count(uint32_t cc)
{
    unsigned n;
    const struct tpm_cmd_desc *table = tpm_cmd_table(&n);

    for (unsigned i = 0; i < n; i++)
        if (table[i].cc == cc)
            return table[i].n_handles;
    return 0;
}

/* The session handles of a command's authorization area, in order. */
static unsigned session_handles(const uint8_t *cmd, size_t len, uint32_t *out)
{
    size_t at = 10 + 4 * (size_t)handle_count(command_code(cmd, len)), end;
    unsigned n = 0;

    if (ld_be16(cmd) != TPM_ST_SESSIONS || len < at + 4)
        return 0;
    end = at + 4 + ld_be32(cmd + at);
    for (at += 4; end <= len && at + 4 <= end && n < 3;) {
        out[n++] = ld_be32(cmd + at);
        at += 4;
        if (at + 2 > end)
            break;
        at += 2 + ld_be16(cmd + at) + 1;
        if (at + 2 > end)
            break;
        at += 2 + ld_be16(cmd + at);
    }
    return n;
}

/* HMAC and policy sessions put fresh nonces in the response (`cmd` is a
 * command the TPM accepted: its authorization area is well formed). */
static bool only_password_sessions(const uint8_t *cmd, size_t len)
{
    uint32_t handles[3];
    unsigned n = session_handles(cmd, len, handles);

    for (unsigned i = 0; i < n; i++)
        if (handles[i] != TPM_RS_PW)
            return false;
    return true;
}

/* GetCapability whose answer is fixed by the spec or mirrors libtpms. */
static bool deterministic_capability(const uint8_t *cmd, size_t len)
{
    uint32_t cap, prop;

    if (len != 22)
        return false;
    cap = ld_be32(cmd + 10);
    prop = ld_be32(cmd + 14);
    switch (cap) {
    case TPM_CAP_PCRS:
        return true;
    case TPM_CAP_TPM_PROPERTIES:
        return prop < TPM_PT_VAR;
    case TPM_CAP_HANDLES:
        return TPM_HANDLE_TYPE(prop) == TPM_HT_PCR ||
               TPM_HANDLE_TYPE(prop) == TPM_HT_PERMANENT ||
               TPM_HANDLE_TYPE(prop) == TPM_HT_NV_INDEX;
    default:
        return false;
    }
}

bool tpm_diff_deterministic(const uint8_t *cmd, size_t len)
{
    uint32_t cc = command_code(cmd, len);

    switch (cc) {
    case TPM_CC_GetRandom:
    case TPM_CC_StartAuthSession:
    case TPM_CC_ReadClock:
    case TPM_CC_IncrementalSelfTest:
        return false;
    case TPM_CC_GetCapability:
        return deterministic_capability(cmd, len);
    case TPM_CC_Hash: /* the ticket HMACs with a per-TPM proof */
        return len >= 4 && ld_be32(cmd + len - 4) == TPM_RH_NULL &&
               only_password_sessions(cmd, len);
    default:
        return implemented(cc) &&
               only_password_sessions(cmd, len);
    }
}

/* TPM_PT_TOTAL_COMMANDS / LIBRARY_COMMANDS count each side's own commands:
 * blank their values before comparing. */
static void mask_command_counts(uint8_t *rsp, size_t len)
{
    for (size_t at = 19; at + 8 <= len; at += 8) {
        uint32_t tag = ld_be32(rsp + at);

        if (tag == TPM_PT_TOTAL_COMMANDS || tag == TPM_PT_LIBRARY_COMMANDS)
            st_be32(rsp + at + 4, 0);
    }
}

static bool same_bytes(const uint8_t *cmd, size_t cmd_len, uint8_t *a,
                       size_t a_len, uint8_t *b, size_t b_len)
{
    if (command_code(cmd, cmd_len) == TPM_CC_GetCapability &&
        ld_be32(cmd + 10) == TPM_CAP_TPM_PROPERTIES) {
        mask_command_counts(a, a_len);
        mask_command_counts(b, b_len);
    }
    return a_len == b_len && !memcmp(a, b, a_len);
}

static enum tpm_diff_verdict judge(const struct tpm_diff_cmd *c,
                                   struct tpm_diff_result *r, uint8_t *ma,
                                   uint8_t *ra)
{
    if (r->rc_model != r->rc_ref)
        return !implemented(r->cc) && r->rc_model == TPM_RC_COMMAND_CODE
                   ? TPM_DIFF_GAP
                   : TPM_DIFF_RC_DIFFER;
    if (r->rc_model != TPM_RC_SUCCESS || !tpm_diff_deterministic(c->buf, c->len))
        return TPM_DIFF_RC_MATCH;
    return same_bytes(c->buf, c->len, ma, r->len_model, ra, r->len_ref)
               ? TPM_DIFF_BYTES_MATCH
               : TPM_DIFF_BYTES_DIFFER;
}

static void set_nonce(struct tpm *t, uint32_t handle, const uint8_t *rsp,
                      size_t len, size_t at)
{
    if (at + 2 <= len && at + 2 + ld_be16(rsp + at) <= len)
        tpm_session_set_nonce(t, handle, rsp + at + 2, ld_be16(rsp + at));
}

/* Both TPMs answered a command successfully: hvfuzz's sessions take the
 * nonceTPM libtpms chose (StartAuthSession's, and each session's in the
 * response), so the HMACs, session keys and parameter encryption that
 * follow depend on the same nonces on both sides. */
static void sync_nonces(struct tpm *t, const struct tpm_diff_cmd *c,
                        const uint8_t *rsp, size_t len)
{
    uint32_t handles[3];
    unsigned n = session_handles(c->buf, c->len, handles);
    bool sessions = len >= 10 && ld_be16(rsp) == TPM_ST_SESSIONS;
    bool start = command_code(c->buf, c->len) == TPM_CC_StartAuthSession;
    size_t params = 10 + (start ? 4 : 0), at;

    if (start && len >= 14)
        set_nonce(t, ld_be32(rsp + 10), rsp, len, params + (sessions ? 4 : 0));
    if (!sessions || len < params + 4)
        return;
    at = params + 4 + ld_be32(rsp + params);
    for (unsigned i = 0; i < n && at + 2 <= len; i++) {
        set_nonce(t, handles[i], rsp, len, at);
        at += 2 + ld_be16(rsp + at) + 1;
        if (at + 2 > len)
            break;
        at += 2 + ld_be16(rsp + at);
    }
}

bool tpm_diff_desyncs(uint32_t rc_ref)
{
    bool auth_fail = (rc_ref & TPM_RC_FMT1) && (rc_ref & 0x3F) == (TPM_RC_AUTH_FAIL & 0x3F);

    return rc_ref == TPM_RC_SUCCESS || rc_ref == TPM_RC_RETRY || auth_fail;
}

static bool stream_has_startup(const struct tpm_diff_cmd *cmds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (command_code(cmds[i].buf, cmds[i].len) == TPM_CC_Startup)
            return true;
    return false;
}

static void startup_both(struct tpm *t, uint8_t *buf)
{
    static const uint8_t startup[12] = {0x80, 0x01, 0, 0, 0, 12,
                                        0,    0,    1, 0x44, 0, 0};

    tpm_execute(t, startup, sizeof(startup), buf, RSP_CAP);
    tpm_ref_execute(startup, sizeof(startup), buf, RSP_CAP);
}

size_t tpm_diff_run(const struct tpm_diff_cmd *cmds, size_t n,
                    tpm_diff_observer observe, void *opaque)
{
    struct tpm *t = tpm_create(NULL);
    uint8_t *ma = malloc(RSP_CAP), *ra = malloc(RSP_CAP);
    size_t differences = 0;

    if (!t || !ma || !ra || !tpm_ref_start()) {
        tpm_destroy(t);
        free(ma);
        free(ra);
        return (size_t)-1;
    }
    if (!stream_has_startup(cmds, n))
        startup_both(t, ma);
    for (size_t i = 0, desynced = 0; i < n; i++) {
        struct tpm_diff_result r = {.index = i, .rsp_model = ma, .rsp_ref = ra};

        r.cc = command_code(cmds[i].buf, cmds[i].len);
        r.len_model = tpm_execute(t, cmds[i].buf, cmds[i].len, ma, RSP_CAP);
        r.len_ref = tpm_ref_execute(cmds[i].buf, cmds[i].len, ra, RSP_CAP);
        if (r.len_ref > RSP_CAP)
            r.len_ref = RSP_CAP;
        r.rc_model = response_code(ma, r.len_model);
        r.rc_ref = response_code(ra, r.len_ref);
        r.verdict = desynced ? TPM_DIFF_DESYNCED : judge(&cmds[i], &r, ma, ra);
        if (r.rc_model == TPM_RC_SUCCESS && r.rc_ref == TPM_RC_SUCCESS)
            sync_nonces(t, &cmds[i], ra, r.len_ref);
        desynced |= r.verdict == TPM_DIFF_GAP && tpm_diff_desyncs(r.rc_ref);
        differences += r.verdict >= TPM_DIFF_RC_DIFFER;
        if (observe)
            observe(opaque, &r);
    }
    tpm_ref_stop();
    tpm_destroy(t);
    free(ma);
    free(ra);
    return differences;
}

const char *tpm_diff_verdict_name(enum tpm_diff_verdict v)
{
    static const char *const names[] = {
        "bytes-match", "rc-match", "gap", "desynced", "RC-DIFFER",
        "BYTES-DIFFER",
    };

    return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}
