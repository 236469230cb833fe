/*
 * Reader for the annotated swtpm traces (`cmd HEX  # note` / `rsp HEX`
 * lines; control-channel lines are skipped). Each cmd is paired with the
 * rsp that follows it: what libtpms answered the real client.
 */
#ifndef HV_TPM_TRACE_H
#define HV_TPM_TRACE_H
#include <stddef.h>
#include <stdint.h>

struct tpm_trace_entry {
    uint8_t *cmd;
    size_t cmd_len;
    uint8_t *rsp; /* NULL when the trace has no answer */
    size_t rsp_len;
};

struct tpm_trace {
    struct tpm_trace_entry *e;
    size_t n;
};

/* Returns 0 on success, -1 on I/O or syntax error. */
int tpm_trace_load(const char *path, struct tpm_trace *t);
void tpm_trace_free(struct tpm_trace *t);
#endif
