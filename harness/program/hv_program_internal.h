/* Internal to harness/program: the structure-aware expansions (virtq.c). */
#ifndef HV_PROGRAM_INTERNAL_H
#define HV_PROGRAM_INTERNAL_H

#include "harness/program/hv_program.h"

bool hv_virtq_setup(const struct hv_layout *l, const struct hv_op *op,
                    const struct hv_exec_ops *ops, void *ctx,
                    struct hv_shadow *sh);
bool hv_virtq_submit(const struct hv_layout *l, const struct hv_op *op,
                     const struct hv_exec_ops *ops, void *ctx,
                     struct hv_shadow *sh);

#endif
