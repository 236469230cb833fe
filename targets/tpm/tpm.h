/*
 * TPM 2.0 command-level device model (TPM 2.0 Library spec, Part 3
 * commands over Part 1 section 18 command/response structure): a command
 * buffer in, a response buffer out. Deterministic: the RNG is a DRBG seeded
 * from tpm_params, the clock only moves when the host calls
 * tpm_advance_clock().
 */
#ifndef HV_TPM_H
#define HV_TPM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tpm;

/*
 * Optional NV backend (README "NV store"). The model never touches host
 * files: it serializes its NV state (NV indices with their data, the
 * highest counter value ever undefined, the hierarchy auth values) into a
 * self-checking blob (at most TPM_NV_BLOB_MAX bytes) and hands it to
 * save() after each successful NV_DefineSpace, NV_UndefineSpace, NV_Write,
 * NV_Increment, HierarchyChangeAuth or Startup that left NV different from
 * the last state loaded or saved, before the response is written; load()
 * is called by tpm_create(), tpm_reset() and tpm_init(). Callbacks return
 * 0 on success, TPM_NV_STORE_EMPTY from load() when nothing is stored yet
 * (empty NV, not an error), a negative value on failure (error(), if set,
 * then gives a one-line reason). The store must outlive the TPM; it is
 * called from the thread calling the model. Without a store nothing of
 * this runs: the model behaves exactly as it always has.
 */
#define TPM_NV_STORE_EMPTY 1
#define TPM_NV_BLOB_MAX 32768u /* no NV state blob is larger */

struct tpm_nv_store {
    void *ctx;
    int (*load)(void *ctx, uint8_t *buf, size_t cap, size_t *len);
    int (*save)(void *ctx, const uint8_t *buf, size_t len);
    const char *(*error)(void *ctx); /* optional: last failure, one line */
    const char *name;                /* optional: prefixes messages (a path) */
};

struct tpm_params {
    uint64_t seed; /* mixed into the DRBG seed; 0 is a fine default */
    const struct tpm_nv_store *store; /* NULL: NV in memory only */
};

/* What became of the NV store's last load or save. TPM_NV_OK also when
 * there is no store. After a refused load (LOAD_FAILED, CORRUPT) the TPM
 * runs with empty NV and persistence is suspended: every command that
 * would change NV answers TPM_RC_NV_UNAVAILABLE (0x923) and changes
 * nothing, so the stored state is never overwritten; fix or remove it and
 * call tpm_init()/tpm_reset() to load again. After a failed save
 * (SAVE_FAILED) the command answered TPM_RC_NV_UNAVAILABLE and NV is back
 * to the last state saved; the next change saves again. (Startup is the
 * exception: it succeeds, its NV change is saved with the next one.) A
 * successful load or save returns to TPM_NV_OK. */
enum tpm_nv_status {
    TPM_NV_OK = 0,
    TPM_NV_LOAD_FAILED, /* load() returned an error */
    TPM_NV_CORRUPT,     /* the stored blob failed its checks: refused */
    TPM_NV_SAVE_FAILED, /* save() returned an error */
};

/* NULL when out of memory, or when a store lacks load() or save(). A
 * refused NV state does not fail it: see tpm_nv_status(). */
struct tpm *tpm_create(const struct tpm_params *params);
void tpm_destroy(struct tpm *t);
/* _TPM_Init: power cycle. Volatile state (sessions, PCRs, Startup) is
 * lost; NV indices and hierarchy auth values stay (with a store: are
 * loaded from it again). */
void tpm_init(struct tpm *t);
/* Back to the manufactured state (what tpm_create returns: with a store,
 * NV as the store holds it). */
void tpm_reset(struct tpm *t);

/* Executes one command and writes its response into rsp; returns the
 * response length. A response longer than `cap` is replaced by a
 * TPM_RC_FAILURE header (the command's effects stay); cap < 10 writes
 * nothing and returns 0. TPM_MAX_RESPONSE_SIZE (4096) always fits. */
size_t tpm_execute(struct tpm *t, const uint8_t *cmd, size_t len,
                   uint8_t *rsp, size_t cap);

void tpm_advance_clock(struct tpm *t, uint64_t ms);
/* Differential testing: replace the nonceTPM of a loaded session with the
 * one another TPM chose (the same size), so both compute the same HMACs and
 * parameter-encryption keys. False if no such session or size. */
bool tpm_session_set_nonce(struct tpm *t, uint32_t handle,
                           const uint8_t *nonce, size_t len);

/* Snapshots of the whole state: tpm_save() returns the byte count needed
 * (writes nothing when cap is too small); tpm_load() returns false on a
 * blob of the wrong size or version. Snapshots are not NV state blobs and
 * never call the NV store: the next command that changes NV saves the
 * whole NV, what the snapshot brought included. */
size_t tpm_save(const struct tpm *t, uint8_t *buf, size_t cap);
bool tpm_load(struct tpm *t, const uint8_t *buf, size_t len);

enum tpm_nv_status tpm_nv_status(const struct tpm *t);
/* One line for the last NV store failure (NULL when TPM_NV_OK). */
const char *tpm_nv_error(const struct tpm *t);
#endif
