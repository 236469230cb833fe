/* virtio-blk in full-system mode: the agent runs each program as real
 * MMIO/PIO/PCI-config traffic against the model in this process. */
#include "harness/vmm/vm_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return hv_vm_target_run("virtio-blk", data, size);
}
