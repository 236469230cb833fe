/* Self-test target: a toy device with a planted heap overflow, found in
 * seconds; proves the finding pipeline (targets/selftest/canary.c). */
#include "harness/inproc/inproc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return hv_inproc_run("selftest-canary", data, size);
}
