/*
 * Differential test against libtpms (tpm_diff_run: each stream from a fresh
 * state on both sides, Startup(CLEAR) first unless the stream has one):
 *  - every command of both real-client streams, copied into data/
 *    (tpm2-tools over swtpm; SeaBIOS + Linux tpm_crb), in order;
 *  - the crafted good and malformed commands of tpm_edge_streams.h;
 *  - the tpm2-tools NV flow with HMACs computed for each side's own nonces
 *    (hmac_flow), and empty-authValue sessions (empty_auth_sessions).
 * Asserts identical response codes, and identical responses for
 * deterministic commands. TPM_DIFF_VERBOSE=1 prints a line per command.
 *
 * Known gaps: none of the streams' commands is unimplemented. On replay the
 * tpm2-tools stream's HMAC-session commands (NV_DefineSpace, NV_Write,
 * NV_Read, NV_UndefineSpace) carry HMACs made for the recorded run's
 * nonceTPM: both implementations answer TPM_RC_BAD_AUTH (session 1), and
 * the later NV_ReadPublic calls TPM_RC_HANDLE; hmac_flow covers the
 * successful path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv_test.h"
#include "targets/tpm/diff/tpm_diff.h"
#include "targets/tpm/diff/tpm_trace.h"
#include "targets/tpm/diff/tpm_libtpms.h"
#include "targets/tpm/tpm.h"
#include "tpm_client.h"
#include "tpm_edge_streams.h"

struct tally {
    const char *stream;
    bool verbose;
    size_t counts[TPM_DIFF_BYTES_DIFFER + 1];
};

static void observe(void *opaque, const struct tpm_diff_result *r)
{
    struct tally *t = opaque;

    t->counts[r->verdict]++;
    if (t->verbose || r->verdict >= TPM_DIFF_RC_DIFFER)
        printf("%s #%zu cc=0x%03x model=0x%03x libtpms=0x%03x %s\n", t->stream,
               r->index, r->cc, r->rc_model, r->rc_ref,
               tpm_diff_verdict_name(r->verdict));
    if (r->verdict == TPM_DIFF_BYTES_DIFFER) {
        printf("  model  ");
        for (size_t i = 0; i < r->len_model; i++)
            printf("%02x", r->rsp_model[i]);
        printf("\n  libtpms ");
        for (size_t i = 0; i < r->len_ref; i++)
            printf("%02x", r->rsp_ref[i]);
        printf("\n");
    }
}

static void replay_stream(const char *name, const char *path)
{
    struct tpm_trace trace;
    struct tpm_diff_cmd *cmds;
    struct tally tally = {.stream = name,
                          .verbose = getenv("TPM_DIFF_VERBOSE") != NULL};
    size_t diffs;

    CHECK_EQ(tpm_trace_load(path, &trace), 0);
    CHECK(trace.n > 0);
    cmds = calloc(trace.n ? trace.n : 1, sizeof(*cmds));
    for (size_t i = 0; i < trace.n; i++)
        cmds[i] = (struct tpm_diff_cmd){trace.e[i].cmd, trace.e[i].cmd_len};
    diffs = tpm_diff_run(cmds, trace.n, observe, &tally);
    CHECK_EQ(diffs, 0);
    CHECK_EQ(tally.counts[TPM_DIFF_GAP], 0);
    printf("%s: %zu commands: %zu full-bytes match, %zu rc match, %zu gaps, "
           "%zu differences\n",
           name, trace.n, tally.counts[TPM_DIFF_BYTES_MATCH],
           tally.counts[TPM_DIFF_RC_MATCH], tally.counts[TPM_DIFF_GAP], diffs);
    free(cmds);
    tpm_trace_free(&trace);
}

static int hex_value(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Decodes a crafted command; the size field is patched unless the string
 * starts with '!' (malformed headers keep their bytes). */
static struct tpm_diff_cmd decode_crafted(const char *hex)
{
    bool raw = hex[0] == '!';
    size_t n = strlen(hex + raw) / 2;
    uint8_t *b = malloc(n ? n : 1);

    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(hex_value(hex[raw + 2 * i]) << 4 |
                         hex_value(hex[raw + 2 * i + 1]));
    if (!raw && n >= 6) {
        b[2] = (uint8_t)(n >> 24);
        b[3] = (uint8_t)(n >> 16);
        b[4] = (uint8_t)(n >> 8);
        b[5] = (uint8_t)n;
    }
    return (struct tpm_diff_cmd){b, n};
}

static void replay_crafted(const char *name, const char *const *hex, size_t n)
{
    struct tpm_diff_cmd *cmds = calloc(n, sizeof(*cmds));
    struct tally tally = {.stream = name,
                          .verbose = getenv("TPM_DIFF_VERBOSE") != NULL};
    size_t diffs;

    for (size_t i = 0; i < n; i++)
        cmds[i] = decode_crafted(hex[i]);
    diffs = tpm_diff_run(cmds, n, observe, &tally);
    CHECK_EQ(diffs, 0);
    printf("%s: %zu commands: %zu full-bytes match, %zu rc match, "
           "%zu differences\n",
           name, n, tally.counts[TPM_DIFF_BYTES_MATCH],
           tally.counts[TPM_DIFF_RC_MATCH], diffs);
    for (size_t i = 0; i < n; i++)
        free((void *)cmds[i].buf);
    free(cmds);
}

/* ---- the tpm2-tools NV flow with HMACs computed for each side's nonces ---- */

#define NV_INDEX 0x01500016u
#define NV_ATTRS 0x02060006u /* OWNER/AUTH READ+WRITE, NO_DA */
#define TPM_RH_OWNER_ 0x40000001u
#define TPM_RH_NULL_ 0x40000007u

static const char owner_pw[] = "ownerpw", nv_pw[] = "nvpw";
static const char nv_data[] = "0123456789abcdef";

static void nv_name(uint32_t attrs, struct tc_buf *name)
{
    struct tc_buf pub = {.n = 0};

    tc_u32(&pub, NV_INDEX);
    tc_u16(&pub, 0x000B);
    tc_u32(&pub, attrs);
    tc_u16(&pub, 0);
    tc_u16(&pub, 32);
    name->n = 0;
    tc_u16(name, 0x000B);
    tc_sha256(pub.b, pub.n, "", 0, "", 0, name->b + 2);
    name->n = 34;
}

static void handle_name(uint32_t h, struct tc_buf *name)
{
    name->n = 0;
    tc_u32(name, h);
}

static void startup_and_owner_auth(struct tc *c)
{
    struct tc_buf b;

    tc_header(&b, 0x8001, 0x144);
    tc_u16(&b, 0);
    tc_run(c, &b);
    CHECK_EQ(c->rc, 0);
    tc_header(&b, 0x8002, 0x129);
    tc_u32(&b, TPM_RH_OWNER_);
    tc_u32(&b, 9);
    tc_u32(&b, 0x40000009);
    tc_u16(&b, 0);
    tc_u8(&b, 1);
    tc_u16(&b, 0);
    tc_2b(&b, owner_pw, sizeof(owner_pw) - 1);
    tc_run(c, &b);
    CHECK_EQ(c->rc, 0);
}

/* NV_DefineSpace of NV_INDEX (authValue nv_pw) by the owner through `owner`. */
static void define_index(struct tc *c, struct tc_auth *owner)
{
    struct tc_buf name, params = {.n = 0};

    tc_2b(&params, nv_pw, 4);
    tc_u16(&params, 14);
    tc_u32(&params, NV_INDEX);
    tc_u16(&params, 0x000B);
    tc_u32(&params, NV_ATTRS);
    tc_u16(&params, 0);
    tc_u16(&params, 32);
    handle_name(TPM_RH_OWNER_, &name);
    tc_run_hmac(c, 0x12A, (uint32_t[]){TPM_RH_OWNER_}, &name, 1, &params, owner);
}

/* NV_Write of nv_data at offset 0 of NV_INDEX through `index`. */
static void write_index(struct tc *c, struct tc_auth *index)
{
    struct tc_buf names[2], params = {.n = 0};

    tc_2b(&params, nv_data, 16);
    tc_u16(&params, 0);
    nv_name(NV_ATTRS, &names[0]);
    names[1] = names[0];
    tc_run_hmac(c, 0x137, (uint32_t[]){NV_INDEX, NV_INDEX}, names, 2, &params, index);
}

static void define_write_read(struct tc *c, uint8_t *data_read)
{
    struct tc_session s;
    struct tc_buf names[2], params = {.n = 0};
    uint32_t handles[2] = {NV_INDEX, NV_INDEX};
    struct tc_auth owner = {&s, TPM_RH_OWNER_, owner_pw, 7, 1};
    struct tc_auth index = {&s, NV_INDEX, nv_pw, 4, 1};

    CHECK(tc_start_session(c, &s, TPM_RH_NULL_, NULL, 0));
    define_index(c, &owner);
    CHECK_EQ(c->rc, 0);
    CHECK(c->rsp_hmac_ok);

    write_index(c, &index);
    CHECK_EQ(c->rc, 0);
    CHECK(c->rsp_hmac_ok);

    params.n = 0;
    tc_u16(&params, 16);
    tc_u16(&params, 0);
    nv_name(NV_ATTRS | 0x20000000u, &names[0]);
    names[1] = names[0];
    index.attrs = 0; /* continueSession clear: the session ends */
    tc_run_hmac(c, 0x14E, handles, names, 2, &params, &index);
    CHECK_EQ(c->rc, 0);
    CHECK(c->rsp_hmac_ok);
    memcpy(data_read, c->rsp + 16, 16);
    {
        struct tc_buf b;

        tc_header(&b, 0x8001, 0x165);
        tc_u32(&b, s.handle);
        tc_run(c, &b);
        CHECK_EQ(c->rc, 0x1CB); /* TPM_RC_HANDLE + P1: already flushed */
    }
}

/* A session bound to the owner authorizes the owner with the session key
 * alone; with a wrong index authValue the HMAC fails (NO_DA: BAD_AUTH). */
static void bound_session_read_undefine(struct tc *c, uint8_t *data_read)
{
    struct tc_session s;
    struct tc_buf names[2], params = {.n = 0};
    uint32_t handles[2] = {TPM_RH_OWNER_, NV_INDEX};
    struct tc_auth owner = {&s, TPM_RH_OWNER_, owner_pw, 7, 1};
    struct tc_auth wrong = {&s, NV_INDEX, "nvpx", 4, 1};

    CHECK(tc_start_session(c, &s, TPM_RH_OWNER_, owner_pw, 7));
    handle_name(TPM_RH_OWNER_, &names[0]);
    nv_name(NV_ATTRS | 0x20000000u, &names[1]);
    tc_u16(&params, 16);
    tc_u16(&params, 0);
    tc_run_hmac(c, 0x14E, handles, names, 2, &params, &owner);
    CHECK_EQ(c->rc, 0);
    CHECK(c->rsp_hmac_ok);
    memcpy(data_read, c->rsp + 16, 16);

    handles[0] = NV_INDEX;
    names[0] = names[1];
    tc_run_hmac(c, 0x14E, handles, names, 2, &params, &wrong);
    CHECK_EQ(c->rc, 0x9A2);

    params.n = 0;
    handles[0] = TPM_RH_OWNER_;
    handle_name(TPM_RH_OWNER_, &names[0]);
    tc_run_hmac(c, 0x122, handles, names, 2, &params, &owner);
    CHECK_EQ(c->rc, 0);
    CHECK(c->rsp_hmac_ok);
}

static size_t exec_model(void *ctx, const uint8_t *cmd, size_t len,
                         uint8_t *rsp, size_t cap)
{
    return tpm_execute(ctx, cmd, len, rsp, cap);
}

static size_t exec_libtpms(void *ctx, const uint8_t *cmd, size_t len,
                           uint8_t *rsp, size_t cap)
{
    (void)ctx;
    return tpm_ref_execute(cmd, len, rsp, cap);
}

static void run_hmac_flow(struct tc *c, uint8_t read1[16], uint8_t read2[16])
{
    startup_and_owner_auth(c);
    define_write_read(c, read1);
    bound_session_read_undefine(c, read2);
}

/* PCR_Extend of PCR 0 (empty authValue) through an unbound session, one
 * bound to the owner (empty authValue) and one bound to PCR 0 itself: with a
 * real HMAC each time, then with an empty HMAC (libtpms accepts it only
 * when the HMAC key is empty, i.e. unbound). */
static void empty_auth_sessions(struct tc *c, uint32_t *rcs)
{
    static const uint32_t binds[3] = {TPM_RH_NULL_, TPM_RH_OWNER_, 0};
    struct tc_buf b, name = {.n = 0}, params = {.n = 0};

    tc_u32(&params, 1);
    tc_u16(&params, 0x0004);
    for (int i = 0; i < 20; i++)
        tc_u8(&params, 0x11);
    tc_u32(&name, 0);
    tc_header(&b, 0x8001, 0x144);
    tc_u16(&b, 0);
    tc_run(c, &b);
    for (unsigned i = 0; i < 3; i++) {
        struct tc_session s;
        struct tc_auth a = {&s, 0, "", 0, 1};

        CHECK(tc_start_session(c, &s, binds[i], NULL, 0));
        tc_run_hmac(c, 0x182, (uint32_t[]){0}, &name, 1, &params, &a);
        CHECK(c->rsp_hmac_ok);
        rcs[2 * i] = c->rc;
        tc_header(&b, 0x8002, 0x182);
        tc_u32(&b, 0);
        tc_u32(&b, 9);
        tc_u32(&b, s.handle);
        tc_u16(&b, 0);
        tc_u8(&b, 1);
        tc_u16(&b, 0);
        tc_bytes(&b, params.b, params.n);
        tc_run(c, &b);
        rcs[2 * i + 1] = c->rc;
    }
}

static void hmac_flow(void)
{
    struct tpm *t = tpm_create(NULL);
    struct tc model = {.exec = exec_model, .ctx = t};
    struct tc ref = {.exec = exec_libtpms};
    uint8_t m1[16], m2[16], r1[16], r2[16];

    run_hmac_flow(&model, m1, m2);
    CHECK(tpm_ref_start());
    run_hmac_flow(&ref, r1, r2);
    tpm_ref_stop();
    {
        uint32_t model_rcs[6], ref_rcs[6];

        tpm_reset(t);
        empty_auth_sessions(&model, model_rcs);
        CHECK(tpm_ref_start());
        empty_auth_sessions(&ref, ref_rcs);
        tpm_ref_stop();
        for (unsigned i = 0; i < 6; i++)
            CHECK_EQ(model_rcs[i], ref_rcs[i]);
        CHECK_EQ(ref_rcs[0] | ref_rcs[1] | ref_rcs[2] | ref_rcs[4], 0);
        CHECK_EQ(ref_rcs[3], 0x9A2);
        CHECK_EQ(ref_rcs[5], 0x9A2);
    }
    CHECK(!memcmp(m1, nv_data, 16) && !memcmp(m2, nv_data, 16));
    CHECK(!memcmp(r1, nv_data, 16) && !memcmp(r2, nv_data, 16));
    printf("hmac_flow: define/write/read/undefine over HMAC sessions "
           "(unbound and bound) done on both\n");
    tpm_destroy(t);
}


/* Define, write and read back an NV index with the first parameter of each
 * command encrypted (DefineSpace's auth, Write's data) and the read data
 * returned encrypted, through one session with parameter encryption `sym`.
 * The plain read at the end shows what the TPM stored. */
static void encrypted_nv_flow(struct tc *c, uint16_t sym, uint32_t *rcs,
                              uint8_t plain[16], uint8_t secret_read[16])
{
    struct tc_session s;
    struct tc_buf names[2], params = {.n = 0};
    uint32_t handles[2] = {NV_INDEX, NV_INDEX};
    struct tc_auth owner = {&s, TPM_RH_OWNER_, owner_pw, 7, 0x21};
    struct tc_auth index = {&s, NV_INDEX, nv_pw, 4, 0x21};

    startup_and_owner_auth(c);
    CHECK(tc_start_session_sym(c, &s, TPM_RH_NULL_, NULL, 0, sym));
    define_index(c, &owner);
    rcs[0] = c->rc;
    CHECK(c->rsp_hmac_ok);

    write_index(c, &index);
    rcs[1] = c->rc;

    params.n = 0;
    tc_u16(&params, 16);
    tc_u16(&params, 0);
    nv_name(NV_ATTRS | 0x20000000u, &names[0]);
    names[1] = names[0];
    index.attrs = 0x41;
    tc_run_hmac(c, 0x14E, handles, names, 2, &params, &index);
    rcs[2] = c->rc;
    CHECK(c->rsp_hmac_ok);
    memcpy(secret_read, c->rsp + 16, 16);
    index.attrs = 0x01;
    tc_run_hmac(c, 0x14E, handles, names, 2, &params, &index);
    rcs[3] = c->rc;
    memcpy(plain, c->rsp + 16, 16);
}

static void parameter_encryption(void)
{
    static const uint16_t syms[2] = {0x000A, 0x0006};
    struct tpm *t = tpm_create(NULL);
    struct tc model = {.exec = exec_model, .ctx = t};
    struct tc ref = {.exec = exec_libtpms};

    for (unsigned i = 0; i < 2; i++) {
        uint32_t mr[4], rr[4];
        uint8_t mp[16], ms[16], rp[16], rs[16];

        tpm_reset(t);
        encrypted_nv_flow(&model, syms[i], mr, mp, ms);
        CHECK(tpm_ref_start());
        encrypted_nv_flow(&ref, syms[i], rr, rp, rs);
        tpm_ref_stop();
        for (unsigned k = 0; k < 4; k++) {
            CHECK_EQ(rr[k], 0);
            CHECK_EQ(mr[k], rr[k]);
        }
        CHECK(!memcmp(rp, nv_data, 16) && !memcmp(rs, nv_data, 16));
        CHECK(!memcmp(mp, nv_data, 16) && !memcmp(ms, nv_data, 16));
    }
    printf("parameter_encryption: XOR and AES-128-CFB sessions: encrypted "
           "NV_DefineSpace/NV_Write/NV_Read agree with libtpms\n");
    tpm_destroy(t);
}

/* GetCapability (TPM_PT_FAMILY_INDICATOR) with one unbound audit session
 * (empty key: empty HMAC accepted); returns the response code and, on
 * success, the session attributes of the response in *attrs. */
static uint32_t audited_getcap(struct tc *c, uint32_t session, uint8_t attrs_in,
                               uint8_t *attrs)
{
    struct tc_buf b;

    tc_header(&b, 0x8002, 0x17A);
    tc_u32(&b, 9 + 32);
    tc_u32(&b, session);
    tc_fresh_nonce(c, b.b + b.n + 2);
    tc_u16(&b, 32);
    b.n += 32;
    tc_u8(&b, attrs_in);
    tc_u16(&b, 0);
    tc_u32(&b, 6);     /* TPM_CAP_TPM_PROPERTIES */
    tc_u32(&b, 0x100); /* TPM_PT_FAMILY_INDICATOR */
    tc_u32(&b, 1);
    tc_run(c, &b);
    *attrs = 0xFF;
    if (!c->rc)
        *attrs = c->rsp[14 + tc_be32(c->rsp + 10) + 2 + 32];
    return c->rc;
}

/* Part 1 19.6.11: first audit use makes a session exclusive; a command
 * without it ends that; auditExclusive then fails until auditReset. */
static void audit_steps(struct tc *c, uint32_t *out)
{
    struct tc_session a, b2;
    struct tc_buf b;
    uint8_t attrs;
    unsigned n = 0;

    tc_header(&b, 0x8001, 0x144);
    tc_u16(&b, 0);
    tc_run(c, &b);
    CHECK(tc_start_session(c, &a, TPM_RH_NULL_, NULL, 0));
    CHECK(tc_start_session(c, &b2, TPM_RH_NULL_, NULL, 0));
    out[n++] = audited_getcap(c, a.handle, 0x81, &attrs), out[n++] = attrs;
    out[n++] = audited_getcap(c, a.handle, 0x83, &attrs), out[n++] = attrs;
    out[n++] = audited_getcap(c, b2.handle, 0x81, &attrs), out[n++] = attrs;
    out[n++] = audited_getcap(c, a.handle, 0x83, &attrs), out[n++] = attrs;
    out[n++] = audited_getcap(c, a.handle, 0x87, &attrs), out[n++] = attrs;
    tc_header(&b, 0x8001, 0x17B); /* GetRandom: no audit, ends exclusivity */
    tc_u16(&b, 8);
    tc_run(c, &b);
    out[n++] = audited_getcap(c, a.handle, 0x83, &attrs), out[n++] = attrs;
    out[n++] = audited_getcap(c, a.handle, 0x81, &attrs), out[n++] = attrs;
    out[n++] = audited_getcap(c, a.handle, 0x40 | 0x80, &attrs); /* encrypt */
}

static void audit_exclusivity(void)
{
    struct tpm *t = tpm_create(NULL);
    struct tc model = {.exec = exec_model, .ctx = t};
    struct tc ref = {.exec = exec_libtpms};
    uint32_t m[15], r[15];

    audit_steps(&model, m);
    CHECK(tpm_ref_start());
    audit_steps(&ref, r);
    tpm_ref_stop();
    for (unsigned i = 0; i < 15; i++)
        CHECK_EQ(m[i], r[i]);
    CHECK_EQ(r[1], 0x83);  /* first audit use: exclusive */
    CHECK_EQ(r[5], 0x83);  /* B's first audit use: B is exclusive now */
    CHECK_EQ(r[6], 0x121); /* TPM_RC_EXCLUSIVE */
    CHECK_EQ(r[8], 0);     /* auditReset makes it exclusive again */
    CHECK_EQ(r[10], 0x121);
    printf("audit_exclusivity: exclusive audit session states agree with "
           "libtpms\n");
    tpm_destroy(t);
}

#define REPLAY_CRAFTED(list)                                                   \
    replay_crafted(#list, list, sizeof(list) / sizeof(list[0]))

int main(void)
{
    replay_stream("tpm2tools", TPM_DATA_DIR "/tpm2tools.annotated.txt");
    replay_stream("linuxboot", TPM_DATA_DIR "/linuxboot-tpm.annotated.txt");
    REPLAY_CRAFTED(edge_header);
    REPLAY_CRAFTED(edge_capability);
    REPLAY_CRAFTED(edge_pcr_misc);
    REPLAY_CRAFTED(edge_nv);
    REPLAY_CRAFTED(edge_sessions);
    REPLAY_CRAFTED(edge_startup);
    REPLAY_CRAFTED(edge_audit);
    REPLAY_CRAFTED(edge_crypt);
    hmac_flow();
    parameter_encryption();
    audit_exclusivity();
    return hv_test_done("test_tpm_diff");
}
