/* Internal to harness/program: the structure-aware expansions (virtq.c, nvmeq.c,
 * e1000q.c, tpmq.c). */
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

bool hv_tpm_cmd(const struct hv_layout *l, const struct hv_op *op,
                const struct hv_exec_ops *ops, void *ctx, struct hv_shadow *sh);
void hv_tpm_shadow_reset(struct hv_tpm_shadow *s);

/* Little-endian packing and a freestanding strcmp() == 0, inline: the
 * decoder uses them for every op. */
static inline void hv_prog_st_le(uint8_t *p, unsigned n, uint64_t v)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t hv_prog_ld_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline bool hv_prog_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* Shared driver-side helpers (driver.c). */
/* The first mmio region on BAR 0 of a device of that model, or NULL. */
const struct hv_layout_region *hv_prog_model_region(const struct hv_layout *l,
                                                    const char *model);
/* pci_enable_device + pci_set_master: the command register of layout
 * device `dev` read (2 bytes) and, if memory decoding, bus mastering or
 * (when the device has a pio region) I/O decoding is off, written with
 * them on. Nothing without cfg callbacks or for a non-PCI device. */
void hv_prog_pci_enable(const struct hv_layout *l, uint8_t dev,
                        const struct hv_exec_ops *ops, void *ctx);

/* The queue half of hv_shadow_reset (virtq_setup resets the device, not
 * the data area cursor). */
void hv_shadow_reset_queues(struct hv_shadow *sh);

#endif
