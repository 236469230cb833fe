/*
 * Differential testing of hvfuzz's TPM model against libtpms: a command
 * stream runs through both, each from a fresh state, Startup(CLEAR) first
 * unless the stream sends its own Startup. A difference is
 *  - a response code that differs for a command hvfuzz implements, or
 *  - a full response that differs for a deterministic command (see
 *    tpm_diff_deterministic()).
 * Commands hvfuzz does not implement must answer TPM_RC_COMMAND_CODE: they
 * count as gaps, not differences. A gap that may have changed libtpms's
 * state (see tpm_diff_desyncs()) ends the comparison: the commands after it
 * are reported TPM_DIFF_DESYNCED. Usable as a fuzz target body.
 */
#ifndef HV_TPM_DIFF_H
#define HV_TPM_DIFF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tpm_diff_cmd {
    const uint8_t *buf;
    size_t len;
};

enum tpm_diff_verdict {
    TPM_DIFF_BYTES_MATCH, /* deterministic: identical responses */
    TPM_DIFF_RC_MATCH,    /* identical response codes */
    TPM_DIFF_GAP,         /* not implemented by hvfuzz (COMMAND_CODE) */
    TPM_DIFF_DESYNCED,    /* after a gap that changed libtpms's state */
    TPM_DIFF_RC_DIFFER,
    TPM_DIFF_BYTES_DIFFER,
};

struct tpm_diff_result {
    size_t index;
    uint32_t cc;
    enum tpm_diff_verdict verdict;
    uint32_t rc_model, rc_ref;
    const uint8_t *rsp_model, *rsp_ref;
    size_t len_model, len_ref;
};

typedef void (*tpm_diff_observer)(void *opaque, const struct tpm_diff_result *r);

/* Returns the number of differences (verdicts >= TPM_DIFF_RC_DIFFER), or
 * (size_t)-1 when libtpms could not start. `observe` may be NULL. */
size_t tpm_diff_run(const struct tpm_diff_cmd *cmds, size_t n,
                    tpm_diff_observer observe, void *opaque);

/* Whether libtpms's answer `rc` to a command hvfuzz does not implement
 * means libtpms changed state: it succeeded, recorded daUsed (RETRY) or
 * counted a DA failure (AUTH_FAIL). */
bool tpm_diff_desyncs(uint32_t rc_ref);

/* Whether the full response of this successful command must match. */
bool tpm_diff_deterministic(const uint8_t *cmd, size_t len);

const char *tpm_diff_verdict_name(enum tpm_diff_verdict v);
#endif
