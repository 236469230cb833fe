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

/* The queue half of hv_shadow_reset (virtq_setup resets the device, not
 * the data area cursor). */
void hv_shadow_reset_queues(struct hv_shadow *sh);

#endif
