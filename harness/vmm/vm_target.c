/* Shared state of a VM-mode target binary (vm-<target>): one VM per
 * process, created lazily by the first input, so under AFL++'s fork server
 * it belongs to the child (a KVM VM cannot cross fork). Provides the
 * hv_inproc_* entry points harness/inproc/replay.c and afl_main.c use, so
 * the same mains serve both modes. */
#include "harness/vmm/vm_target.h"

#include <stdlib.h>
#include <string.h>

#ifndef HVFUZZ_AGENT_DEFAULT
#define HVFUZZ_AGENT_DEFAULT "hvfuzz-agent.elf"
#endif

static struct hv_vm *the_vm;
static const char *the_target;
static FILE *trace_to;

const char *hv_vm_agent_path(void)
{
    const char *p = getenv("HVFUZZ_AGENT");

    return p && *p ? p : HVFUZZ_AGENT_DEFAULT;
}

const char *hv_inproc_target(void)
{
    return the_target;
}

void hv_inproc_set_trace(FILE *f)
{
    trace_to = f;
    if (the_vm)
        hv_vm_set_trace(the_vm, f);
}

static void print_stats(void)
{
    if (the_vm)
        hv_vm_print_stats(the_vm, stderr);
}

struct hv_vm *hv_vm_target_vm(const char *target)
{
    char err[512];

    if (the_vm)
        return the_vm;
    the_target = target;
    the_vm = hv_vm_create(target, hv_vm_agent_path(), err, sizeof(err));
    if (!the_vm) {
        fprintf(stderr, "hvfuzz: error: VM mode: %s\n", err);
        exit(2);
    }
    if (trace_to)
        hv_vm_set_trace(the_vm, trace_to);
    if (getenv("HVFUZZ_VM_STATS"))
        atexit(print_stats);
    return the_vm;
}

/* replay.c's --bench times the in-process host's halves; a VM has none. */
struct hv_host *hv_inproc_host(const char *target)
{
    (void)target;
    fprintf(stderr, "hvfuzz: error: --bench is in-process only; for VM mode set "
                    "HVFUZZ_VM_STATS=1 (statistics at exit)\n");
    exit(2);
}

int hv_vm_target_run(const char *target, const uint8_t *data, size_t size)
{
    hv_vm_run_input(hv_vm_target_vm(target), data, size);
    return 0;
}
