/* VM-mode targets: LLVMFuzzerTestOneInput over one lazily created VM. */
#ifndef HV_VM_TARGET_H
#define HV_VM_TARGET_H

#include "harness/inproc/inproc.h"
#include "harness/vmm/hv_vmm.h"

/* The agent ELF: $HVFUZZ_AGENT, else the build's agent. */
const char *hv_vm_agent_path(void);
/* The process's VM, created on first use (exit 2 with one line on error). */
struct hv_vm *hv_vm_target_vm(const char *target);
/* Run one input in the VM (what every vm-<target> LLVMFuzzerTestOneInput does). */
int hv_vm_target_run(const char *target, const uint8_t *data, size_t size);

#endif
