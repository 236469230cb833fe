/*
 * tpm-diff: differential fuzzing of the TPM 2.0 command model against
 * libtpms (targets/tpm/diff/tpm_diff.c). The input is a command stream
 * split by the header size fields (targets/tpm/tpm_stream.h), at most
 * MAX_CMDS commands; tpm_diff_run() runs it through both TPMs from a fresh
 * state (Startup(CLEAR) first unless the stream sends its own). A differing
 * response code, or differing bytes of a deterministic response, is a
 * finding: an "==HVFUZZ== FINDING" line naming the command code, then
 * abort. The kind carries the verdict and the command code
 * (tpm-diff-rc-cc17b, tpm-diff-bytes-cc17e), so each command's divergence
 * triages to its own hash (the stack is the same for all of them).
 * In-process only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness/inproc/inproc.h"
#include "targets/tpm/diff/tpm_diff.h"
#include "targets/tpm/tpm_stream.h"

#define MAX_CMDS 64u

static void observe(void *opaque, const struct tpm_diff_result *r)
{
    (void)opaque;
    if (r->verdict == TPM_DIFF_RC_DIFFER) {
        fprintf(stderr, "==HVFUZZ== FINDING kind=tpm-diff-rc-cc%x site=%s: "
                "tpm-diff: response code differs for CC 0x%x (command %zu): "
                "hvfuzz 0x%x, libtpms 0x%x\n",
                r->cc, HV_SITE, r->cc, r->index, r->rc_model, r->rc_ref);
    } else if (r->verdict == TPM_DIFF_BYTES_DIFFER) {
        fprintf(stderr, "==HVFUZZ== FINDING kind=tpm-diff-bytes-cc%x site=%s: "
                "tpm-diff: response bytes differ for CC 0x%x (command %zu, rc "
                "0x%x): hvfuzz %zu bytes, libtpms %zu bytes\n",
                r->cc, HV_SITE, r->cc, r->index, r->rc_model, r->len_model,
                r->len_ref);
    } else {
        return;
    }
    fflush(stderr);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tpm_diff_cmd cmds[MAX_CMDS];
    size_t n = 0;

    for (size_t pos = 0; pos < size && n < MAX_CMDS;) {
        size_t len = tpm_stream_next(data + pos, size - pos);
        cmds[n++] = (struct tpm_diff_cmd){.buf = data + pos, .len = len};
        pos += len;
    }
    if (tpm_diff_run(cmds, n, observe, NULL) == (size_t)-1) {
        fprintf(stderr, "hvfuzz: error: tpm-diff: libtpms could not start\n");
        exit(2);
    }
    return 0;
}

HV_DEFINE_UNIT_MUTATOR(tpm_stream_next)
