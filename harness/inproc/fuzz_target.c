/* The in-process fuzz target of every layout listed in targets.list: the
 * build compiles this file once per target with HV_TARGET_NAME set to the
 * layout's name (harness/program/layouts.c). */
#include "harness/inproc/inproc.h"

#ifndef HV_TARGET_NAME
#error "HV_TARGET_NAME must name the target's layout"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return hv_inproc_run(HV_TARGET_NAME, data, size);
}

HV_DEFINE_UNIT_MUTATOR(hv_program_unit_len)
