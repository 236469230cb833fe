/*
 * Internal state and helpers shared by the TPM model's files. The state is
 * plain data (no pointers) so save/load copy it whole; the NV data pool is a
 * separate heap allocation of its exact size (ASan sees overruns).
 */
#ifndef HV_TPM_INT_H
#define HV_TPM_INT_H
#include <stdbool.h>
#include <stdint.h>

#include "targets/tpm/tpm.h"
#include "targets/tpm/tpm_marshal.h"
#include "targets/tpm/tpm_types.h"

#define TPM_STATE_VERSION 2u
#define TPM_PCR_BANKS 2 /* SHA-1 and SHA-256 allocated */
/* libtpms 0.9 reports pcrUpdateCounter 20 right after Startup(CLEAR). */
#define TPM_PCR_COUNTER_AT_STARTUP 20u

struct tpm_session {
    bool used;
    uint32_t handle;
    uint32_t bind; /* TPM_RH_NULL: unbound (and once used for audit) */
    struct tpm2b_digest bind_auth;
    uint16_t auth_hash;
    struct tpm2b_digest nonce_tpm;
    struct tpm2b_digest session_key; /* empty: unsalted, unbound */
    uint16_t sym_alg;  /* parameter encryption: NULL, XOR or a CFB cipher */
    uint16_t sym_bits; /* key bits of a CFB cipher */
    bool is_trial;     /* a trial policy session: authorizes nothing */
    bool is_audit;     /* has been used for audit (libtpms isAudit) */
    bool is_da_bound;  /* bound to a DA-protected entity */
    bool is_lockout_bound;
};

struct tpm_nv_index {
    bool used;
    uint32_t handle;
    uint16_t name_alg;
    uint32_t attrs;
    struct tpm2b_digest auth_policy;
    struct tpm2b_digest auth;
    uint16_t data_size;
    uint16_t data_offset; /* into the NV data pool */
};

struct tpm_state {
    uint32_t version;
    bool started;
    bool da_used;        /* cleared at Startup, see tpm_session.c */
    uint32_t exclusive_audit; /* the exclusive audit session, or TPM_RH_UNASSIGNED */
    uint32_t failed_tries;   /* dictionary-attack counter */
    bool lockout_locked;     /* a lockoutAuth failure disables lockoutAuth */
    uint16_t shutdown_type; /* last Shutdown; TPM_SU_STATE allows Resume */
    uint64_t seed;
    uint64_t clock_ms;
    uint32_t reset_count;
    uint32_t restart_count;
    uint32_t pcr_update_counter;
    struct tpm2b_digest owner_auth;
    struct tpm2b_digest endorsement_auth;
    struct tpm2b_digest lockout_auth;
    struct tpm2b_digest platform_auth;
    uint8_t pcr[TPM_PCR_BANKS][TPM_PCR_COUNT][TPM_MAX_DIGEST_SIZE];
    struct tpm_session sessions[TPM_MAX_ACTIVE_SESSIONS];
    struct tpm_nv_index nv[TPM_MAX_NV_INDICES];
    uint32_t nv_bytes_used;
    uint64_t nv_max_counter; /* NvReadMaxCount(): a new counter starts above it */
    uint8_t drbg_key[32];
    uint64_t drbg_counter;
};

struct tpm_cmd;

struct tpm {
    struct tpm_state s;
    uint8_t *nv_data;    /* TPM_MAX_NV_TOTAL_BYTES */
    struct tpm_cmd *cmd; /* the command being executed, reused */
    /* NV store (tpm_nv.c, "persistence"): outside `s`, so snapshots
     * neither carry nor overwrite it. All NULL/zero without a store. */
    const struct tpm_nv_store *store;
    uint8_t *nv_blob;        /* TPM_NV_BLOB_MAX: the blob being built */
    uint8_t *nv_saved;       /* TPM_NV_BLOB_MAX: the blob last loaded/saved */
    size_t nv_saved_len;     /* what NV is rolled back to on a failed save */
    bool nv_suspended;       /* a load was refused: NV changes are refused */
    enum tpm_nv_status nv_status;
    char nv_error[320];
};

/* One authorization session of the command (Part 1 section 18.7). */
struct tpm_auth {
    uint32_t handle;
    struct tpm2b_digest nonce_caller;
    uint8_t attrs;
    struct tpm2b_digest hmac;
    uint32_t entity; /* handle it authorizes; TPM_RH_UNASSIGNED if none */
};

struct tpm_cmd_desc;

/* The command being executed. */
struct tpm_cmd {
    uint16_t tag;
    uint32_t cc;
    const struct tpm_cmd_desc *desc;
    uint32_t handles[3];
    struct tpm_in params;
    const uint8_t *param_bytes; /* for cpHash */
    size_t param_len;
    struct tpm_auth auth[TPM_MAX_SESSIONS_PER_CMD];
    unsigned n_auth;
    int decrypt_idx, encrypt_idx, audit_idx; /* session index, -1: none */
    bool has_rsp_handle;
    uint32_t rsp_handle;
    bool params_ended;
    struct tpm_out rp; /* response parameters */
    /* buffers last: tpm_execute clears the fields above, not these */
    uint8_t param_copy[TPM_MAX_COMMAND_SIZE]; /* decrypted parameters */
    uint8_t rp_buf[TPM_MAX_RESPONSE_SIZE];
};

typedef TPM_RC (*tpm_handler)(struct tpm *t, struct tpm_cmd *c);

/* How a handle of the handle area is unmarshalled (the TPMI_ type). */
enum tpm_handle_kind {
    HK_HIERARCHY_AUTH, /* TPMI_RH_HIERARCHY_AUTH */
    HK_PROVISION,      /* TPMI_RH_PROVISION */
    HK_NV_AUTH,        /* TPMI_RH_NV_AUTH */
    HK_NV_INDEX,       /* TPMI_RH_NV_INDEX */
    HK_PCR_OR_NULL,    /* TPMI_DH_PCR+ */
    HK_PCR,            /* TPMI_DH_PCR */
    HK_OBJECT_OR_NULL, /* TPMI_DH_OBJECT+ */
    HK_ENTITY_OR_NULL, /* TPMI_DH_ENTITY+ */
};

struct tpm_cmd_desc {
    uint32_t cc;
    uint32_t tpma_cc; /* as libtpms reports it in TPM_CAP_COMMANDS */
    uint8_t n_handles;
    uint8_t auth_handles; /* the first n handles need authorization */
    uint8_t handle_kind[3];
    tpm_handler handler;
};

/* Format-one response codes carry the handle/parameter/session number. */
static inline TPM_RC rc_handle(TPM_RC rc, unsigned n)
{
    return rc | TPM_RC_H | (TPM_RC)n << TPM_RC_N_SHIFT;
}

static inline TPM_RC rc_param(TPM_RC rc, unsigned n)
{
    return rc | TPM_RC_P | (TPM_RC)n << TPM_RC_N_SHIFT;
}

static inline TPM_RC rc_session(TPM_RC rc, unsigned n)
{
    return rc | TPM_RC_S | (TPM_RC)n << TPM_RC_N_SHIFT;
}

#define TPM_RC_REFERENCE_S0 0x918u
#define TRANSIENT_FIRST 0x80000000u
#define POLICY_SESSION_FIRST 0x03000000u
#define TPM_MAX_LOADED_OBJECTS 3u
#define TPM_RC_NV_UNAVAILABLE 0x923u /* warning: NV not accessible now */

/* tpm.c */
/* Every handler calls this once its parameters are unmarshalled and before
 * it acts: bytes left over are TPM_RC_SIZE (libtpms's command unmarshal). */
TPM_RC tpm_params_end(struct tpm_cmd *c);
const struct tpm_cmd_desc *tpm_cmd_table(unsigned *count);
void tpm_random(struct tpm *t, uint8_t *out, size_t n);
void tpm_stir_random(struct tpm *t, const uint8_t *in, size_t n);

/* tpm_crypto.c: hashes through OpenSSL's libcrypto */
unsigned tpm_hash_size(uint16_t alg); /* 0: not a supported hash */
bool tpm_hash(uint16_t alg, const void *const *parts, const size_t *lens,
              unsigned n, uint8_t *out);
bool tpm_hmac(uint16_t alg, const uint8_t *key, size_t key_len,
              const void *const *parts, const size_t *lens, unsigned n,
              uint8_t *out);
TPM_RC in_hash_alg(struct tpm_in *in, bool allow_null, uint16_t *alg);
bool tpm_kdfa(uint16_t alg, const uint8_t *key, size_t key_len,
              const char *label, const uint8_t *u, size_t u_len,
              const uint8_t *v, size_t v_len, uint8_t *out, size_t len);
unsigned tpm_sym_block_size(uint16_t alg, uint16_t bits); /* 0: unsupported */
bool tpm_cfb(uint16_t alg, uint16_t bits, const uint8_t *key,
             const uint8_t *iv, bool encrypt, uint8_t *data, size_t len);

/* tpm_session.c */
TPM_RC tpm_parse_sessions(struct tpm *t, struct tpm_cmd *c, struct tpm_in *in);
TPM_RC tpm_check_auth(struct tpm *t, struct tpm_cmd *c);
/* After a successful command, before its response parameters are
 * marshalled: new nonces, response parameter encryption, audit status. */
void tpm_respond_sessions(struct tpm *t, struct tpm_cmd *c);
void tpm_write_rsp_sessions(struct tpm *t, struct tpm_cmd *c,
                            struct tpm_out *o);
unsigned tpm_sessions_loaded(const struct tpm *t);
void tpm_sessions_clear(struct tpm *t);
TPM_RC tpm_cmd_start_auth_session(struct tpm *t, struct tpm_cmd *c);
TPM_RC tpm_cmd_flush_context(struct tpm *t, struct tpm_cmd *c);
TPM_RC tpm_cmd_hierarchy_change_auth(struct tpm *t, struct tpm_cmd *c);
struct tpm2b_digest *tpm_hierarchy_auth(struct tpm *t, uint32_t handle);

/* tpm_pcr.c */
void tpm_pcr_startup_clear(struct tpm *t);
void tpm_pcr_write_allocation(struct tpm_out *o);
TPM_RC tpm_cmd_pcr_read(struct tpm *t, struct tpm_cmd *c);
TPM_RC tpm_cmd_pcr_extend(struct tpm *t, struct tpm_cmd *c);
TPM_RC tpm_cmd_pcr_event(struct tpm *t, struct tpm_cmd *c);
TPM_RC tpm_cmd_pcr_reset(struct tpm *t, struct tpm_cmd *c);
TPM_RC tpm_cmd_hash(struct tpm *t, struct tpm_cmd *c);

/* tpm_nv.c */
struct tpm_nv_index *tpm_nv_find(struct tpm *t, uint32_t handle);
unsigned tpm_nv_count(const struct tpm *t);
/* Name of any handle (Part 1 16): the handle itself, or nameAlg || H(public)
 * for an NV index. Returns its length (at most 2 + TPM_MAX_DIGEST_SIZE). */
size_t tpm_entity_name(struct tpm *t, uint32_t handle, uint8_t *out);
void tpm_nv_startup(struct tpm *t, bool clear);
uint32_t tpm_nv_next_handle(const struct tpm *t, uint32_t from);
TPM_RC tpm_cmd_nv_define_space(struct tpm *t, struct tpm_cmd *c);
TPM_RC tpm_cmd_nv_undefine_space(struct tpm *t, struct tpm_cmd *c);
TPM_RC tpm_cmd_nv_write(struct tpm *t, struct tpm_cmd *c);
TPM_RC tpm_cmd_nv_read(struct tpm *t, struct tpm_cmd *c);
TPM_RC tpm_cmd_nv_read_public(struct tpm *t, struct tpm_cmd *c);
TPM_RC tpm_cmd_nv_increment(struct tpm *t, struct tpm_cmd *c);
/* NV store: loads NV from t->store (tpm_init); after a successful command
 * that may change NV, saves it (or rolls it back and answers
 * TPM_RC_NV_UNAVAILABLE). Both only with a store. */
void tpm_nv_store_load(struct tpm *t);
TPM_RC tpm_nv_store_commit(struct tpm *t, uint32_t cc, TPM_RC rc);

/* tpm_cap.c */
TPM_RC tpm_cmd_get_capability(struct tpm *t, struct tpm_cmd *c);
#endif
