/* Full-system mode of every target listed in harness/inproc/targets.list:
 * the agent runs each program as real MMIO/PIO/PCI-config traffic against
 * the models in this process. Compiled once per target with HV_TARGET_NAME
 * set to the layout's name. */
#include "harness/vmm/vm_target.h"

#ifndef HV_TARGET_NAME
#error "HV_TARGET_NAME must name the target's layout"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return hv_vm_target_run(HV_TARGET_NAME, data, size);
}
