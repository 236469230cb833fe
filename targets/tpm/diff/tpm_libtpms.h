/*
 * The libtpms reference oracle: one TPM 2.0 instance from libtpms, fresh
 * (manufactured) state on every tpm_ref_start(), NV kept in memory only.
 * libtpms has process-global state: one oracle at a time per process.
 */
#ifndef HV_TPM_LIBTPMS_H
#define HV_TPM_LIBTPMS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Starts libtpms from a freshly manufactured state (no Startup sent). */
bool tpm_ref_start(void);
/* Runs one command; copies at most `cap` response bytes into `rsp`. Returns
 * the full response length (0 on a library failure). */
size_t tpm_ref_execute(const uint8_t *cmd, size_t len, uint8_t *rsp, size_t cap);
void tpm_ref_stop(void);
#endif
