/*
 * TPM 2.0 CRB interface (TCG PC Client Platform TPM Profile spec, 6.5 "CRB
 * Interface", 6.4.2 locality; register layout of table 6.5.3), modelled on
 * QEMU 7.2's tpm-crb (hw/tpm/tpm_crb.c) so programs replay there:
 *  - locality 0 only (one 4 KiB region); LOC_CTRL requestAccess grants it,
 *    relinquish drops it; the other LOC_CTRL bits do nothing;
 *  - CTRL_REQ cmdReady / goIdle toggle CTRL_STS.tpmIdle (CTRL_REQ reads 0:
 *    the request is done at once);
 *  - CTRL_START = 1 with the locality assigned and no command running runs
 *    the command in the data buffer: min(header size, 3968) bytes through
 *    tpm_execute(), the response written over the same buffer, then
 *    CTRL_START cleared (synchronously, so CTRL_CANCEL never finds a
 *    command to cancel);
 *  - LOC_CTRL, CTRL_REQ, CTRL_CANCEL and CTRL_START act on the written
 *    value; no other register is writable;
 *  - accesses are split into naturally aligned pieces of at most 4 bytes,
 *    as QEMU's memory core does for this region (valid sizes 1-4).
 * LOC_STATE.tpmEstablished reads 1 (QEMU reports !established, and the
 * established flag of a fresh swtpm is 0).
 */
#include "targets/tpm/tpm_crb.h"

#include <stdlib.h>
#include <string.h>

#include "targets/tpm/tpm.h"

#define CRB_NREGS (TPM_CRB_DATA_BUFFER / 4)
#define CRB_RSP_MAX 4096u /* TPM_MAX_RESPONSE_SIZE: tpm_execute's scratch */
#define TPM_HEADER_SIZE 10u

struct tpm_crb {
    hv_dev dev;
    uint32_t regs[CRB_NREGS]; /* registers 0x00-0x7f, as QEMU keeps them */
    uint8_t *buf;             /* TPM_CRB_BUF_SIZE bytes: the data buffer */
    uint8_t *rsp;             /* CRB_RSP_MAX bytes: response scratch */
    struct tpm *tpm;
    size_t tpm_state_size;    /* tpm_save() blob size (fixed per build) */
};

/* What save() returns: the struct, then the buffer, then the TPM blob. */
#define CRB_SAVE_BUF_OFF sizeof(struct tpm_crb)
#define CRB_SAVE_TPM_OFF (CRB_SAVE_BUF_OFF + TPM_CRB_BUF_SIZE)

static struct tpm_crb *to_crb(hv_dev *d)
{
    return (struct tpm_crb *)d;
}

static uint32_t *reg(struct tpm_crb *c, uint32_t off)
{
    return &c->regs[off / 4];
}

static void set_bits(struct tpm_crb *c, uint32_t off, uint32_t bits, bool on)
{
    if (on)
        *reg(c, off) |= bits;
    else
        *reg(c, off) &= ~bits;
}

static void crb_regs_reset(struct tpm_crb *c)
{
    memset(c->regs, 0, sizeof(c->regs));
    *reg(c, TPM_CRB_LOC_STATE) = TPM_CRB_LOC_STATE_VALID;
    *reg(c, TPM_CRB_CTRL_STS) = TPM_CRB_CTRL_STS_IDLE;
    *reg(c, TPM_CRB_INTF_ID) = TPM_CRB_INTF_ID_VALUE;
    *reg(c, TPM_CRB_INTF_ID + 4) = TPM_CRB_INTF_ID2_VALUE;
    *reg(c, TPM_CRB_CTRL_CMD_SIZE) = TPM_CRB_BUF_SIZE;
    *reg(c, TPM_CRB_CTRL_CMD_LADDR) = (uint32_t)(TPM_CRB_BASE + TPM_CRB_DATA_BUFFER);
    *reg(c, TPM_CRB_CTRL_RSP_SIZE) = TPM_CRB_BUF_SIZE;
    *reg(c, TPM_CRB_CTRL_RSP_ADDR) = (uint32_t)(TPM_CRB_BASE + TPM_CRB_DATA_BUFFER);
}

static bool locality_assigned(struct tpm_crb *c)
{
    return *reg(c, TPM_CRB_LOC_STATE) & TPM_CRB_LOC_STATE_ASSIGNED;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The size field of the command header (big-endian at bytes 2..5), bounded
 * by the buffer, as QEMU's tpm_cmd_get_size + MIN(.., be_buffer_size). */
static size_t command_length(const struct tpm_crb *c)
{
    uint32_t size = be32(c->buf + 2);
    return size < TPM_CRB_BUF_SIZE ? size : TPM_CRB_BUF_SIZE;
}

static void crb_execute(struct tpm_crb *c)
{
    size_t in = command_length(c);
    size_t out = tpm_execute(c->tpm, c->buf, in, c->rsp, TPM_CRB_BUF_SIZE);

    if (!hv_assert(&c->dev, out <= TPM_CRB_BUF_SIZE)) /* tpm_execute's contract */
        return;
    memcpy(c->buf, c->rsp, out);
    if (hv_tracing(c->dev.machine))
        hv_trace(c->dev.machine, "tpm-crb: command %zu bytes -> %zu bytes rc 0x%x",
                 in, out, out >= TPM_HEADER_SIZE ? be32(c->rsp + 6) : 0u);
}

static void write_loc_ctrl(struct tpm_crb *c, uint32_t val)
{
    if (val == TPM_CRB_LOC_CTRL_REQUEST) {
        set_bits(c, TPM_CRB_LOC_STS, TPM_CRB_LOC_STS_GRANTED, true);
        set_bits(c, TPM_CRB_LOC_STS, TPM_CRB_LOC_STS_SEIZED, false);
        set_bits(c, TPM_CRB_LOC_STATE, TPM_CRB_LOC_STATE_ASSIGNED, true);
    } else if (val == TPM_CRB_LOC_CTRL_RELINQUISH) {
        set_bits(c, TPM_CRB_LOC_STATE, TPM_CRB_LOC_STATE_ASSIGNED, false);
        set_bits(c, TPM_CRB_LOC_STS, TPM_CRB_LOC_STS_GRANTED, false);
    }
    /* seize and resetEstablishment: nothing for locality 0 */
}

static void write_ctrl_req(struct tpm_crb *c, uint32_t val)
{
    if (val == TPM_CRB_CTRL_REQ_CMD_READY)
        set_bits(c, TPM_CRB_CTRL_STS, TPM_CRB_CTRL_STS_IDLE, false);
    else if (val == TPM_CRB_CTRL_REQ_GO_IDLE)
        set_bits(c, TPM_CRB_CTRL_STS, TPM_CRB_CTRL_STS_IDLE, true);
}

static void write_ctrl_start(struct tpm_crb *c, uint32_t val)
{
    uint32_t *start = reg(c, TPM_CRB_CTRL_START);

    if (val != TPM_CRB_START_INVOKE || (*start & TPM_CRB_START_INVOKE) ||
        !locality_assigned(c))
        return;
    *start |= TPM_CRB_START_INVOKE;
    crb_execute(c);
    *start &= ~TPM_CRB_START_INVOKE;
}

static void write_ctrl_cancel(struct tpm_crb *c, uint32_t val)
{
    /* QEMU cancels only a running command; ours completed inside START. */
    if (val == TPM_CRB_CANCEL_INVOKE && (*reg(c, TPM_CRB_CTRL_START) & TPM_CRB_START_INVOKE))
        hv_trace(c->dev.machine, "tpm-crb: cancel");
}

/* One naturally aligned piece of at most 4 bytes. */
static void reg_write(struct tpm_crb *c, uint32_t off, uint32_t val)
{
    switch (off) {
    case TPM_CRB_LOC_CTRL: write_loc_ctrl(c, val); break;
    case TPM_CRB_CTRL_REQ: write_ctrl_req(c, val); break;
    case TPM_CRB_CTRL_CANCEL: write_ctrl_cancel(c, val); break;
    case TPM_CRB_CTRL_START: write_ctrl_start(c, val); break;
    default: break; /* read-only or unimplemented: ignored, as in QEMU */
    }
}

static uint32_t reg_read(struct tpm_crb *c, uint32_t off, unsigned size)
{
    uint32_t val = *reg(c, off & ~3u) >> (8 * (off & 3));

    if (off == TPM_CRB_LOC_STATE)
        val |= TPM_CRB_LOC_STATE_ESTABLISHED; /* !established */
    return size == 4 ? val : val & ((1u << (8 * size)) - 1);
}

/* Largest piece at `off`: at most 4 bytes, `left`, and off's alignment. */
static unsigned piece_size(uint64_t off, unsigned left)
{
    unsigned n = 4;

    while (n > left || (off & (n - 1)))
        n >>= 1;
    return n;
}

static uint64_t crb_read_piece(struct tpm_crb *c, uint64_t off, unsigned n)
{
    if (off >= TPM_CRB_DATA_BUFFER)
        return hv_ld_le(c->buf + (off - TPM_CRB_DATA_BUFFER), n);
    return reg_read(c, (uint32_t)off, n);
}

static void crb_write_piece(struct tpm_crb *c, uint64_t off, unsigned n,
                            uint64_t val)
{
    if (off >= TPM_CRB_DATA_BUFFER)
        hv_st_le(c->buf + (off - TPM_CRB_DATA_BUFFER), n, val);
    else
        reg_write(c, (uint32_t)off, (uint32_t)val);
}

static uint64_t crb_mmio_read(hv_dev *d, int bar, uint64_t off, unsigned size)
{
    struct tpm_crb *c = to_crb(d);
    uint64_t val = 0;
    unsigned done = 0;

    (void)bar;
    while (done < size) { /* at most 8 bytes: two pieces of 4 */
        unsigned n = piece_size(off + done, size - done);
        val |= crb_read_piece(c, off + done, n) << (8 * done);
        done += n;
    }
    return val;
}

static void crb_mmio_write(hv_dev *d, int bar, uint64_t off, unsigned size,
                           uint64_t val)
{
    struct tpm_crb *c = to_crb(d);
    unsigned done = 0;

    (void)bar;
    while (done < size) {
        unsigned n = piece_size(off + done, size - done);
        uint64_t piece = (val >> (8 * done)) & ((1ull << (8 * n)) - 1);
        crb_write_piece(c, off + done, n, piece);
        done += n;
    }
}

static void crb_reset(hv_dev *d)
{
    struct tpm_crb *c = to_crb(d);

    crb_regs_reset(c);
    memset(c->buf, 0, TPM_CRB_BUF_SIZE);
    memset(c->rsp, 0, CRB_RSP_MAX);
    tpm_reset(c->tpm);
}

static void *crb_save(const hv_dev *d)
{
    const struct tpm_crb *c = (const struct tpm_crb *)d;
    uint8_t *s = malloc(CRB_SAVE_TPM_OFF + c->tpm_state_size);

    if (!s)
        return NULL;
    memcpy(s, c, sizeof(*c));
    memcpy(s + CRB_SAVE_BUF_OFF, c->buf, TPM_CRB_BUF_SIZE);
    if (tpm_save(c->tpm, s + CRB_SAVE_TPM_OFF, c->tpm_state_size) !=
        c->tpm_state_size) {
        free(s);
        return NULL;
    }
    return s;
}

static void crb_load(hv_dev *d, const void *state)
{
    struct tpm_crb *c = to_crb(d);
    const uint8_t *s = state;
    const struct tpm_crb *saved = state;

    memcpy(c->regs, saved->regs, sizeof(c->regs));
    memcpy(c->buf, s + CRB_SAVE_BUF_OFF, TPM_CRB_BUF_SIZE);
    if (!tpm_load(c->tpm, s + CRB_SAVE_TPM_OFF, c->tpm_state_size))
        tpm_reset(c->tpm); /* cannot happen with a blob of this build */
}

static void crb_destroy(hv_dev *d)
{
    struct tpm_crb *c = to_crb(d);

    tpm_destroy(c->tpm);
    free(c->rsp);
    free(c->buf);
    free(c);
}

static const struct hv_dev_ops crb_ops = {
    .mmio_read = crb_mmio_read,
    .mmio_write = crb_mmio_write,
    .reset = crb_reset,
    .destroy = crb_destroy,
    .save = crb_save,
    .load = crb_load,
};

hv_dev *tpm_crb_create(hv_machine *m)
{
    struct tpm_crb *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->buf = calloc(1, TPM_CRB_BUF_SIZE);
    c->rsp = calloc(1, CRB_RSP_MAX);
    c->tpm = tpm_create(&(struct tpm_params){.seed = 0});
    if (!c->buf || !c->rsp || !c->tpm) {
        if (c->tpm)
            tpm_destroy(c->tpm);
        free(c->rsp);
        free(c->buf);
        free(c);
        return NULL;
    }
    c->tpm_state_size = tpm_save(c->tpm, NULL, 0);
    hv_dev_init(&c->dev, m, &crb_ops, "tpm-crb");
    c->dev.is_pci = false;
    c->dev.fixed[0] = (struct hv_fixed_region){.is_pio = false,
                                               .base = TPM_CRB_BASE,
                                               .size = TPM_CRB_SIZE};
    c->dev.nfixed = 1;
    crb_regs_reset(c);
    return &c->dev;
}
