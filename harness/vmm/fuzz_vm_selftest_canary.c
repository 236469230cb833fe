/* The self-test device in full-system mode: its planted heap overflow is
 * caught by ASan in the VMM process, as in-process (finding pipeline test). */
#include "harness/vmm/vm_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return hv_vm_target_run("selftest-canary", data, size);
}
