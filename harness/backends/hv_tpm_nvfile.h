/*
 * TPM NV state file (host only): a struct tpm_nv_store (targets/tpm/tpm.h)
 * that keeps the TPM model's NV state blob in one file, replaced
 * atomically so that a process killed at any moment (kill -9, crash, power
 * loss after the fsyncs) leaves either the previous or the new state, never
 * a torn one.
 *
 * save: unlink a stale PATH.tmp, create PATH.tmp (O_EXCL, 0600) in the
 *   same directory, write the whole blob, fsync it, close it, rename() it
 *   over PATH, fsync the directory. A failure before the rename (ENOSPC on
 *   write or fsync, EIO, ...) removes PATH.tmp and leaves PATH untouched;
 *   the TPM then answers the command TPM_RC_NV_UNAVAILABLE and rolls NV
 *   back. A failed directory fsync is reported too, but PATH has been
 *   replaced already: which state the next load finds is then as after a
 *   crash at that point (the old or the new, both whole).
 * load: read PATH whole. A missing PATH is empty NV (TPM_NV_STORE_EMPTY),
 *   not an error; PATH.tmp is never read (a left-over one is the write a
 *   killed process did not finish). A PATH that cannot be read, is no
 *   regular file or is larger than TPM_NV_BLOB_MAX is an error; one that
 *   reads but fails the blob's checks (magic, version, length, SHA-256,
 *   fields) is refused by the model (tpm_nv_status() TPM_NV_CORRUPT).
 *
 * Errors are one line with strerror(), kept for hv_tpm_nvfile_error() and
 * shown by tpm_nv_error() prefixed with PATH (the store's name). One file
 * is for one TPM in one process at a time (no locking).
 *
 *   struct hv_tpm_nvfile *f = hv_tpm_nvfile_open("vm1.nv", err, sizeof(err));
 *   struct tpm *t = tpm_create(&(struct tpm_params){
 *       .store = hv_tpm_nvfile_store(f)});
 *   if (tpm_nv_status(t) != TPM_NV_OK) fprintf(stderr, "%s\n", tpm_nv_error(t));
 *   ...
 *   tpm_destroy(t);
 *   hv_tpm_nvfile_close(f);
 */
#ifndef HV_TPM_NVFILE_H
#define HV_TPM_NVFILE_H

#include <stddef.h>

#include "targets/tpm/tpm.h"

struct hv_tpm_nvfile;

/* Checks that PATH's directory exists; touches no file. NULL on failure,
 * with a one-line reason in err (if non-NULL). */
struct hv_tpm_nvfile *hv_tpm_nvfile_open(const char *path, char *err,
                                         size_t errlen);
/* The store for tpm_params.store: valid until hv_tpm_nvfile_close(). */
const struct tpm_nv_store *hv_tpm_nvfile_store(struct hv_tpm_nvfile *f);
/* The last load/save failure (NULL after a success), without PATH. */
const char *hv_tpm_nvfile_error(const struct hv_tpm_nvfile *f);
/* Saves that succeeded so far. */
unsigned long hv_tpm_nvfile_saves(const struct hv_tpm_nvfile *f);
void hv_tpm_nvfile_close(struct hv_tpm_nvfile *f);

/* Test hook: the next save fails at `step` as if that system call had
 * returned -1 with errno `err` (the steps before it are done for real). */
enum hv_tpm_nvfile_step {
    HV_TPM_NVFILE_WRITE,
    HV_TPM_NVFILE_FSYNC,
    HV_TPM_NVFILE_RENAME,
    HV_TPM_NVFILE_DIRSYNC,
};
void hv_tpm_nvfile_fail_next(struct hv_tpm_nvfile *f,
                             enum hv_tpm_nvfile_step step, int err);

#endif
