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

struct tpm_params {
    uint64_t seed; /* mixed into the DRBG seed; 0 is a fine default */
};

struct tpm *tpm_create(const struct tpm_params *params);
void tpm_destroy(struct tpm *t);
/* _TPM_Init: power cycle. Volatile state (sessions, PCRs, Startup) is
 * lost; NV indices and hierarchy auth values stay. */
void tpm_init(struct tpm *t);
/* Back to the manufactured state (what tpm_create returns). */
void tpm_reset(struct tpm *t);

/* Executes one command and writes its response into rsp; returns the
 * response length. A response longer than `cap` is replaced by a
 * TPM_RC_FAILURE header (the command's effects stay); cap < 10 writes
 * nothing and returns 0. TPM_MAX_RESPONSE_SIZE (4096) always fits. */
size_t tpm_execute(struct tpm *t, const uint8_t *cmd, size_t len,
                   uint8_t *rsp, size_t cap);

void tpm_advance_clock(struct tpm *t, uint64_t ms);

/* Snapshots of the whole state: tpm_save() returns the byte count needed
 * (writes nothing when cap is too small); tpm_load() returns false on a
 * blob of the wrong size or version. */
size_t tpm_save(const struct tpm *t, uint8_t *buf, size_t cap);
bool tpm_load(struct tpm *t, const uint8_t *buf, size_t len);
#endif
