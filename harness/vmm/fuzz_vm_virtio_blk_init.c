/* virtio-blk-init in full-system mode: the agent runs the init program
 * before READY; every input starts from that snapshot. */
#include "harness/vmm/vm_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return hv_vm_target_run("virtio-blk-init", data, size);
}
