/*
 * Structure-aware TPM op: tpm_cmd, one TPM 2.0 command through the CRB
 * interface (TCG PC Client Platform TPM Profile spec, 6.5) exactly as
 * Linux 6.1's tpm_crb driver sends it (tpm_chip_start: crb_request_locality
 * + crb_cmd_ready; crb_send; tpm_try_transmit's crb_status polling;
 * crb_recv; tpm_chip_stop: crb_go_idle + crb_relinquish_locality),
 * expanded into hv_exec_ops calls. See hv_program.h for the exact sequence.
 * Freestanding C: no libc, no malloc, no mutable globals.
 */
#include "harness/program/hv_program.h"
#include "harness/program/hv_program_internal.h"

/* CRB registers, locality 0 (PTP 6.5.3); mirrors targets/tpm/tpm_crb.h,
 * which this freestanding file does not include. */
#define CRB_LOC_STATE 0x00u
#define CRB_LOC_CTRL 0x08u
#define CRB_CTRL_REQ 0x40u
#define CRB_CTRL_STS 0x44u
#define CRB_CTRL_CANCEL 0x48u
#define CRB_CTRL_START 0x4cu
#define CRB_DATA 0x80u

#define LOC_STATE_READY 0x82u /* tpmRegValidSts | locAssigned */
#define LOC_STATE_ASSIGNED 0x02u
#define LOC_CTRL_REQUEST 0x1u
#define LOC_CTRL_RELINQUISH 0x2u
#define REQ_CMD_READY 0x1u
#define REQ_GO_IDLE 0x2u
#define START_INVOKE 0x1u
#define CANCEL_INVOKE 0x1u
#define TPM_HDR 10u

struct tctx {
    const struct hv_exec_ops *ops;
    void *ctx;
    uint64_t base; /* GPA of the CRB region */
};

static uint32_t rd32(const struct tctx *t, uint32_t off)
{
    return (uint32_t)t->ops->mmio_read(t->ctx, t->base + off, 4);
}

static void wr32(const struct tctx *t, uint32_t off, uint32_t val)
{
    t->ops->mmio_write(t->ctx, t->base + off, 4, val);
}

/* Linux's crb_wait_for_reg_32 / wait_for_tpm_stat: read until
 * (reg & mask) == want. One read when the host has no settle callback
 * (hvfuzz's models finish inside the access); else up to
 * HV_TPM_POLL_MAX more reads, a settle call before each. */
static uint32_t poll_reg(const struct tctx *t, uint32_t off, uint32_t mask,
                         uint32_t want)
{
    uint32_t v = rd32(t, off);

    for (unsigned i = 0; i < HV_TPM_POLL_MAX && (v & mask) != want; i++) {
        if (!t->ops->settle || !t->ops->settle(t->ctx))
            break;
        v = rd32(t, off);
    }
    return v;
}

/* Byte i of the command as written: the header's size field is patched
 * to the written length unless RAWSIZE. */
static uint8_t cmd_byte(const struct hv_op *op, uint32_t len, uint32_t i)
{
    if (i >= len)
        return 0;
    if (!(op->flags & HV_TPM_F_RAWSIZE) && len >= 6 && i >= 2 && i < 6)
        return (uint8_t)(len >> (8 * (5 - i)));
    return op->data[i];
}

/* memcpy_toio of the command: chunks of 4 (WIDE: 8) bytes, the last one
 * padded with zeros. */
static void write_command(const struct tctx *t, const struct hv_op *op,
                          uint32_t len)
{
    unsigned w = (op->flags & HV_TPM_F_WIDE) ? 8u : 4u;

    for (uint32_t i = 0; i < len; i += w) {
        uint64_t v = 0;
        for (unsigned k = 0; k < w; k++)
            v |= (uint64_t)cmd_byte(op, len, i + k) << (8 * k);
        t->ops->mmio_write(t->ctx, t->base + CRB_DATA + i, w, v);
    }
}

/* crb_recv: CTRL_STS, the first 8 bytes (one 8-byte read), the size field
 * from them, then the rest up to that size in 4-byte (WIDE: 8) reads;
 * nothing more when the size is below 10 or beyond the buffer. */
static void read_response(const struct tctx *t, const struct hv_op *op)
{
    unsigned w = (op->flags & HV_TPM_F_WIDE) ? 8u : 4u;
    uint64_t head;
    uint32_t size;

    (void)rd32(t, CRB_CTRL_STS);
    head = t->ops->mmio_read(t->ctx, t->base + CRB_DATA, 8);
    size = (uint32_t)((head >> 16) & 0xffu) << 24 |
           (uint32_t)((head >> 24) & 0xffu) << 16 |
           (uint32_t)((head >> 32) & 0xffu) << 8 | (uint32_t)((head >> 40) & 0xffu);
    if (size < TPM_HDR || size > HV_TPM_BUF_SIZE)
        return;
    for (uint32_t i = 8; i < size; i += w)
        (void)t->ops->mmio_read(t->ctx, t->base + CRB_DATA + i, w);
}

static void chip_start(const struct tctx *t, const struct hv_op *op,
                       struct hv_tpm_shadow *s)
{
    if (!(op->flags & HV_TPM_F_NOLOC) && !s->locality) {
        wr32(t, CRB_LOC_CTRL, LOC_CTRL_REQUEST);
        (void)poll_reg(t, CRB_LOC_STATE, LOC_STATE_READY, LOC_STATE_READY);
        s->locality = 1;
    }
    if (!(op->flags & HV_TPM_F_NOREADY)) {
        wr32(t, CRB_CTRL_REQ, REQ_CMD_READY);
        (void)poll_reg(t, CRB_CTRL_REQ, REQ_CMD_READY, 0);
    }
}

static void chip_stop(const struct tctx *t, const struct hv_op *op,
                      struct hv_tpm_shadow *s)
{
    if (op->flags & HV_TPM_F_KEEP)
        return;
    wr32(t, CRB_CTRL_REQ, REQ_GO_IDLE);
    (void)poll_reg(t, CRB_CTRL_REQ, REQ_GO_IDLE, 0);
    if (s->locality) {
        wr32(t, CRB_LOC_CTRL, LOC_CTRL_RELINQUISH);
        (void)poll_reg(t, CRB_LOC_STATE, LOC_STATE_ASSIGNED, 0);
        s->locality = 0;
    }
}

bool hv_tpm_cmd(const struct hv_layout *l, const struct hv_op *op,
                const struct hv_exec_ops *ops, void *ctx, struct hv_shadow *sh)
{
    const struct hv_layout_region *r = hv_prog_model_region(l, "tpm-crb");
    struct tctx t = {.ops = ops, .ctx = ctx};
    uint32_t len = op->len < HV_TPM_BUF_SIZE ? op->len : HV_TPM_BUF_SIZE;

    if (!r || r->size < HV_TPM_CRB_MIN_REGION || !ops->mmio_read ||
        !ops->mmio_write)
        return false;
    t.base = r->base;
    chip_start(&t, op, &sh->tpm);
    wr32(&t, CRB_CTRL_CANCEL, 0);
    write_command(&t, op, len);
    wr32(&t, CRB_CTRL_START, START_INVOKE);
    if (op->flags & HV_TPM_F_CANCEL)
        wr32(&t, CRB_CTRL_CANCEL, CANCEL_INVOKE);
    if (!(op->flags & HV_TPM_F_NOPOLL)) {
        (void)poll_reg(&t, CRB_CTRL_START, START_INVOKE, 0);
        read_response(&t, op);
    }
    chip_stop(&t, op, &sh->tpm);
    return true;
}

void hv_tpm_shadow_reset(struct hv_tpm_shadow *s)
{
    s->locality = 0;
}
