/* Internal to harness/program: the structure-aware expansions (virtq.c, nvmeq.c,
 * e1000q.c). */
#ifndef HV_PROGRAM_INTERNAL_H
#define HV_PROGRAM_INTERNAL_H

#include "harness/program/hv_program.h"

bool hv_virtq_setup(const struct hv_layout *l, const struct hv_op *op,
                    const struct hv_exec_ops *ops, void *ctx,
                    struct hv_shadow *sh);
bool hv_virtq_submit(const struct hv_layout *l, const struct hv_op *op,
                     const struct hv_exec_ops *ops, void *ctx,
                     struct hv_shadow *sh);

bool hv_nvme_setup(const struct hv_layout *l, const struct hv_op *op,
                   const struct hv_exec_ops *ops, void *ctx,
                   struct hv_shadow *sh);
bool hv_nvme_submit(const struct hv_layout *l, const struct hv_op *op,
                    const struct hv_exec_ops *ops, void *ctx,
                    struct hv_shadow *sh);
void hv_nvme_shadow_reset(struct hv_nvme_shadow *s);

bool hv_e1000_setup(const struct hv_layout *l, const struct hv_op *op,
                    const struct hv_exec_ops *ops, void *ctx,
                    struct hv_shadow *sh);
bool hv_e1000_tx(const struct hv_layout *l, const struct hv_op *op,
                 const struct hv_exec_ops *ops, void *ctx,
                 struct hv_shadow *sh);
bool hv_e1000_rx_post(const struct hv_layout *l, const struct hv_op *op,
                      const struct hv_exec_ops *ops, void *ctx,
                      struct hv_shadow *sh);
void hv_e1000_shadow_reset(struct hv_e1000_shadow *s);

/* The queue half of hv_shadow_reset (virtq_setup resets the device, not
 * the data area cursor). */
void hv_shadow_reset_queues(struct hv_shadow *sh);

#endif
