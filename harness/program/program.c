/*
 * hvfuzz programs: decoder, encoder and executor of the raw ops.
 * Freestanding C (compiled into the guest agent too): no libc, no malloc,
 * no mutable globals.
 */
#include "harness/program/hv_program.h"
#include "harness/program/hv_program_internal.h"

/* ---- little-endian helpers ---------------------------------------------- */

/* ---- opcode table -------------------------------------------------------- */

const char *hv_op_name(uint8_t code)
{
    switch (code) {
    case HV_OP_MMIO_READ: return "mmio_read";
    case HV_OP_MMIO_WRITE: return "mmio_write";
    case HV_OP_PIO_READ: return "pio_read";
    case HV_OP_PIO_WRITE: return "pio_write";
    case HV_OP_CFG_READ: return "pci_cfg_read";
    case HV_OP_CFG_WRITE: return "pci_cfg_write";
    case HV_OP_DMA_WRITE: return "dma_write";
    case HV_OP_DMA_FILL: return "dma_fill";
    case HV_OP_CLOCK_ADVANCE: return "clock_advance";
    case HV_OP_RX_INJECT: return "rx_inject";
    case HV_OP_VIRTQ_SETUP: return "virtq_setup";
    case HV_OP_VIRTQ_SUBMIT: return "virtq_submit";
    case HV_OP_NVME_SETUP: return "nvme_setup";
    case HV_OP_NVME_SUBMIT: return "nvme_submit";
    case HV_OP_E1000_SETUP: return "e1000_setup";
    case HV_OP_E1000_TX: return "e1000_tx";
    case HV_OP_E1000_RX_POST: return "e1000_rx_post";
    case HV_OP_TPM_CMD: return "tpm_cmd";
    default: return NULL;
    }
}

/* ---- decoder ------------------------------------------------------------- */

static void op_clear(struct hv_op *op, uint8_t code)
{
    op->code = code;
    op->known = true;
    op->region = 0;
    op->size = 0;
    op->flags = 0;
    op->nout = 0;
    op->nin = 0;
    op->off = 0;
    op->len = 0;
    op->val = 0;
    for (unsigned i = 0; i < HV_VIRTQ_MAX_SEGS; i++)
        op->seg[i] = 0;
    for (unsigned i = 0; i < 7; i++)
        op->dw[i] = 0;
    op->data = NULL;
}

size_t hv_op_decode(const uint8_t *p, size_t n, struct hv_op *op)
{
    if (n == 0)
        return 0;
    op_clear(op, p[0]);
    const uint8_t *q = p + 1;
    size_t rest = n - 1;

    switch (p[0]) {
    case HV_OP_MMIO_READ: /* region:u8 off:u32 size:u8 */
    case HV_OP_MMIO_WRITE: /* ... val:u64 */
        if (rest < 6)
            return 0;
        op->region = q[0];
        op->off = (uint32_t)hv_prog_ld_le(q + 1, 4);
        op->size = q[5];
        if (p[0] == HV_OP_MMIO_READ)
            return 7;
        if (rest < 14)
            return 0;
        op->val = hv_prog_ld_le(q + 6, 8);
        return 15;
    case HV_OP_PIO_READ: /* region:u8 off:u16 size:u8 */
    case HV_OP_PIO_WRITE: /* ... val:u32 */
        if (rest < 4)
            return 0;
        op->region = q[0];
        op->off = (uint32_t)hv_prog_ld_le(q + 1, 2);
        op->size = q[3];
        if (p[0] == HV_OP_PIO_READ)
            return 5;
        if (rest < 8)
            return 0;
        op->val = hv_prog_ld_le(q + 4, 4);
        return 9;
    case HV_OP_CFG_READ: /* dev:u8 off:u8 size:u8 */
    case HV_OP_CFG_WRITE: /* ... val:u32 */
        if (rest < 3)
            return 0;
        op->region = q[0];
        op->off = q[1];
        op->size = q[2];
        if (p[0] == HV_OP_CFG_READ)
            return 4;
        if (rest < 7)
            return 0;
        op->val = hv_prog_ld_le(q + 3, 4);
        return 8;
    case HV_OP_DMA_WRITE: /* off:u32 len:u16 data[len] */
        if (rest < 6)
            return 0;
        op->off = (uint32_t)hv_prog_ld_le(q, 4);
        op->len = (uint32_t)hv_prog_ld_le(q + 4, 2);
        if (rest - 6 < op->len)
            return 0;
        op->data = q + 6;
        return 7 + (size_t)op->len;
    case HV_OP_DMA_FILL: /* off:u32 len:u16 byte:u8 */
        if (rest < 7)
            return 0;
        op->off = (uint32_t)hv_prog_ld_le(q, 4);
        op->len = (uint32_t)hv_prog_ld_le(q + 4, 2);
        op->val = q[6];
        return 8;
    case HV_OP_CLOCK_ADVANCE: /* ns:u32 */
        if (rest < 4)
            return 0;
        op->val = hv_prog_ld_le(q, 4);
        return 5;
    case HV_OP_RX_INJECT: /* len:u16 data[len] */
        if (rest < 2)
            return 0;
        op->len = (uint32_t)hv_prog_ld_le(q, 2);
        if (rest - 2 < op->len)
            return 0;
        op->data = q + 2;
        return 3 + (size_t)op->len;
    case HV_OP_VIRTQ_SETUP: /* features:u32 nqueues:u8 qsize:u16 */
        if (rest < 7)
            return 0;
        op->val = hv_prog_ld_le(q, 4);
        op->region = q[4];
        op->len = (uint32_t)hv_prog_ld_le(q + 5, 2);
        return 8;
    case HV_OP_VIRTQ_SUBMIT: { /* vq flags nout nin len:u16[] dlen data */
        if (rest < 4)
            return 0;
        op->region = q[0];
        op->flags = q[1];
        op->nout = q[2];
        op->nin = q[3];
        unsigned nseg = (unsigned)(op->nout & 7) + (op->nin & 7);
        size_t need = 4 + 2 * (size_t)nseg + 2;
        if (rest < need)
            return 0;
        for (unsigned i = 0; i < nseg; i++)
            op->seg[i] = (uint16_t)hv_prog_ld_le(q + 4 + 2 * i, 2);
        op->len = (uint32_t)hv_prog_ld_le(q + need - 2, 2);
        if (rest - need < op->len)
            return 0;
        op->data = q + need;
        return 1 + need + (size_t)op->len;
    }
    case HV_OP_NVME_SETUP: /* ioqs:u8 qsize:u16 flags:u8 */
        if (rest < 4)
            return 0;
        op->region = q[0];
        op->len = (uint32_t)hv_prog_ld_le(q + 1, 2);
        op->flags = q[3];
        return 5;
    case HV_OP_NVME_SUBMIT: { /* q flags opc nsid cdw10..15 xfer dlen data */
        const size_t need = HV_NVME_SUBMIT_HDR - 1;
        if (rest < need)
            return 0;
        op->region = q[0];
        op->flags = q[1];
        op->val = q[2];
        for (unsigned i = 0; i < 7; i++)
            op->dw[i] = (uint32_t)hv_prog_ld_le(q + 3 + 4 * i, 4);
        op->off = (uint32_t)hv_prog_ld_le(q + 31, 4);
        op->len = (uint32_t)hv_prog_ld_le(q + 35, 2);
        if (rest - need < op->len)
            return 0;
        op->data = q + need;
        return 1 + need + (size_t)op->len;
    }
    case HV_OP_E1000_SETUP: /* flags:u8 ntx:u8 nrx:u8 */
        if (rest < 3)
            return 0;
        op->flags = q[0];
        op->region = q[1];
        op->size = q[2];
        return 4;
    case HV_OP_E1000_TX: { /* flags nseg mss hdrlen special offsets dlen data */
        const size_t need = HV_E1000_TX_HDR - 1;
        if (rest < need)
            return 0;
        op->flags = q[0];
        op->nout = q[1];
        op->off = (uint32_t)hv_prog_ld_le(q + 2, 2);
        op->size = q[4];
        op->val = hv_prog_ld_le(q + 5, 2);
        for (unsigned i = 0; i < 4; i++)
            op->dw[i] = q[7 + i];
        op->len = (uint32_t)hv_prog_ld_le(q + 11, 2);
        if (rest - need < op->len)
            return 0;
        op->data = q + need;
        return 1 + need + (size_t)op->len;
    }
    case HV_OP_E1000_RX_POST: /* n:u8 */
        if (rest < 1)
            return 0;
        op->region = q[0];
        return 2;
    case HV_OP_TPM_CMD: /* flags:u8 len:u16 data[len] */
        if (rest < 3)
            return 0;
        op->flags = q[0];
        op->len = (uint32_t)hv_prog_ld_le(q + 1, 2);
        if (rest - 3 < op->len)
            return 0;
        op->data = q + 3;
        return 4 + (size_t)op->len;
    default:
        op->known = false;
        return 1;
    }
}

/* ---- encoder ------------------------------------------------------------- */

size_t hv_op_encode(const struct hv_op *op, uint8_t *buf, size_t cap)
{
    uint8_t hdr[HV_NVME_SUBMIT_HDR + 2 * HV_VIRTQ_MAX_SEGS + 16];
    size_t n = 0;
    uint32_t dlen = 0;
    const uint8_t *data = NULL;

    hdr[n++] = op->code;
    switch (op->code) {
    case HV_OP_MMIO_READ:
    case HV_OP_MMIO_WRITE:
        hdr[n++] = op->region;
        hv_prog_st_le(hdr + n, 4, op->off);
        n += 4;
        hdr[n++] = op->size;
        if (op->code == HV_OP_MMIO_WRITE) {
            hv_prog_st_le(hdr + n, 8, op->val);
            n += 8;
        }
        break;
    case HV_OP_PIO_READ:
    case HV_OP_PIO_WRITE:
        hdr[n++] = op->region;
        hv_prog_st_le(hdr + n, 2, op->off);
        n += 2;
        hdr[n++] = op->size;
        if (op->code == HV_OP_PIO_WRITE) {
            hv_prog_st_le(hdr + n, 4, op->val);
            n += 4;
        }
        break;
    case HV_OP_CFG_READ:
    case HV_OP_CFG_WRITE:
        hdr[n++] = op->region;
        hdr[n++] = (uint8_t)op->off;
        hdr[n++] = op->size;
        if (op->code == HV_OP_CFG_WRITE) {
            hv_prog_st_le(hdr + n, 4, op->val);
            n += 4;
        }
        break;
    case HV_OP_DMA_WRITE:
        hv_prog_st_le(hdr + n, 4, op->off);
        n += 4;
        hv_prog_st_le(hdr + n, 2, op->len);
        n += 2;
        dlen = op->len & 0xffffu;
        data = op->data;
        break;
    case HV_OP_DMA_FILL:
        hv_prog_st_le(hdr + n, 4, op->off);
        n += 4;
        hv_prog_st_le(hdr + n, 2, op->len);
        n += 2;
        hdr[n++] = (uint8_t)op->val;
        break;
    case HV_OP_CLOCK_ADVANCE:
        hv_prog_st_le(hdr + n, 4, op->val);
        n += 4;
        break;
    case HV_OP_RX_INJECT:
        hv_prog_st_le(hdr + n, 2, op->len);
        n += 2;
        dlen = op->len & 0xffffu;
        data = op->data;
        break;
    case HV_OP_VIRTQ_SETUP:
        hv_prog_st_le(hdr + n, 4, op->val);
        n += 4;
        hdr[n++] = op->region;
        hv_prog_st_le(hdr + n, 2, op->len);
        n += 2;
        break;
    case HV_OP_VIRTQ_SUBMIT: {
        hdr[n++] = op->region;
        hdr[n++] = op->flags;
        hdr[n++] = op->nout;
        hdr[n++] = op->nin;
        unsigned nseg = (unsigned)(op->nout & 7) + (op->nin & 7);
        for (unsigned i = 0; i < nseg; i++) {
            hv_prog_st_le(hdr + n, 2, op->seg[i]);
            n += 2;
        }
        hv_prog_st_le(hdr + n, 2, op->len);
        n += 2;
        dlen = op->len & 0xffffu;
        data = op->data;
        break;
    }
    case HV_OP_NVME_SETUP:
        hdr[n++] = op->region;
        hv_prog_st_le(hdr + n, 2, op->len);
        n += 2;
        hdr[n++] = op->flags;
        break;
    case HV_OP_NVME_SUBMIT:
        hdr[n++] = op->region;
        hdr[n++] = op->flags;
        hdr[n++] = (uint8_t)op->val;
        for (unsigned i = 0; i < 7; i++) {
            hv_prog_st_le(hdr + n, 4, op->dw[i]);
            n += 4;
        }
        hv_prog_st_le(hdr + n, 4, op->off);
        n += 4;
        hv_prog_st_le(hdr + n, 2, op->len);
        n += 2;
        dlen = op->len & 0xffffu;
        data = op->data;
        break;
    case HV_OP_E1000_SETUP:
        hdr[n++] = op->flags;
        hdr[n++] = op->region;
        hdr[n++] = op->size;
        break;
    case HV_OP_E1000_TX:
        hdr[n++] = op->flags;
        hdr[n++] = op->nout;
        hv_prog_st_le(hdr + n, 2, op->off);
        n += 2;
        hdr[n++] = op->size;
        hv_prog_st_le(hdr + n, 2, op->val);
        n += 2;
        for (unsigned i = 0; i < 4; i++)
            hdr[n++] = (uint8_t)op->dw[i];
        hv_prog_st_le(hdr + n, 2, op->len);
        n += 2;
        dlen = op->len & 0xffffu;
        data = op->data;
        break;
    case HV_OP_E1000_RX_POST:
        hdr[n++] = op->region;
        break;
    case HV_OP_TPM_CMD:
        hdr[n++] = op->flags;
        hv_prog_st_le(hdr + n, 2, op->len);
        n += 2;
        dlen = op->len & 0xffffu;
        data = op->data;
        break;
    default:
        return 0;
    }
    if (dlen && !data)
        return 0;
    if (cap < n || cap - n < dlen)
        return 0;
    for (size_t i = 0; i < n; i++)
        buf[i] = hdr[i];
    for (size_t i = 0; i < dlen; i++)
        buf[n + i] = data[i];
    return n + dlen;
}

/* ---- executor ------------------------------------------------------------ */

void hv_shadow_reset_queues(struct hv_shadow *sh)
{
    for (unsigned i = 0; i < HV_VIRTQ_MAX; i++) {
        sh->vq[i].size = 0;
        sh->vq[i].avail_idx = 0;
        sh->vq[i].next_desc = 0;
        sh->vq[i].next_ind = 0;
    }
    sh->nvq = 0;
    sh->features = 0;
}

void hv_shadow_reset(struct hv_shadow *sh)
{
    hv_shadow_reset_queues(sh);
    hv_nvme_shadow_reset(&sh->nvme);
    hv_e1000_shadow_reset(&sh->e1000);
    hv_tpm_shadow_reset(&sh->tpm);
    sh->data_next = HV_DATA_AREA_OFF;
}

/* mmio sizes 1,2,4,8 as given, else 1 << (raw & 3) */
static unsigned mmio_size(uint8_t raw)
{
    if (raw == 1 || raw == 2 || raw == 4 || raw == 8)
        return raw;
    return 1u << (raw & 3);
}

/* pio/cfg sizes 1,2,4 as given, else 1 << (raw % 3) */
static unsigned io_size(uint8_t raw)
{
    if (raw == 1 || raw == 2 || raw == 4)
        return raw;
    return 1u << (raw % 3);
}

/* off mod size, moved down so that off + *asz fits; *asz halved while it
 * exceeds the region. False for an empty region. */
static bool fit(uint64_t rsize, uint32_t raw_off, unsigned *asz, uint64_t *off)
{
    if (rsize == 0)
        return false;
    while (*asz > rsize)
        *asz >>= 1;
    uint64_t o = raw_off % rsize;
    if (o + *asz > rsize)
        o = rsize - *asz;
    *off = o;
    return true;
}

bool hv_op_resolve(const struct hv_layout *l, const struct hv_op *op,
                   uint64_t *addr, unsigned *size, uint8_t *bdf)
{
    uint64_t off;
    switch (op->code) {
    case HV_OP_MMIO_READ:
    case HV_OP_MMIO_WRITE: {
        if (l->nmmio == 0)
            return false;
        const struct hv_layout_region *r = &l->mmio[op->region % l->nmmio];
        *size = mmio_size(op->size);
        if (!fit(r->size, op->off, size, &off))
            return false;
        *addr = r->base + off;
        return true;
    }
    case HV_OP_PIO_READ:
    case HV_OP_PIO_WRITE: {
        if (l->npio == 0)
            return false;
        const struct hv_layout_region *r = &l->pio[op->region % l->npio];
        *size = io_size(op->size);
        if (!fit(r->size, op->off, size, &off))
            return false;
        if (r->base + off + *size > 0x10000u)
            return false;
        *addr = r->base + off;
        return true;
    }
    case HV_OP_CFG_READ:
    case HV_OP_CFG_WRITE: {
        if (l->ndevs == 0)
            return false;
        const struct hv_layout_device *d = &l->devs[op->region % l->ndevs];
        if (d->bdf == HV_NO_BDF)
            return false;
        *size = io_size(op->size);
        *addr = (op->off & 0xffu) & ~(uint64_t)(*size - 1);
        *bdf = d->bdf;
        return true;
    }
    default:
        return false;
    }
}

/* DMA window offset reduction: off mod size, len clipped at the end. */
static bool dma_range(const struct hv_layout *l, uint32_t raw_off,
                      uint32_t raw_len, uint64_t *gpa, uint32_t *len)
{
    if (l->dma_size == 0)
        return false;
    uint64_t off = raw_off % l->dma_size;
    uint64_t n = raw_len;
    if (n > l->dma_size - off)
        n = l->dma_size - off;
    if (n == 0)
        return false;
    *gpa = l->dma_base + off;
    *len = (uint32_t)n;
    return true;
}

bool hv_op_exec(const struct hv_layout *l, const struct hv_op *op,
                const struct hv_exec_ops *ops, void *ctx,
                struct hv_shadow *sh)
{
    uint64_t addr;
    unsigned size;
    uint8_t bdf = 0;
    uint32_t len;

    if (!op->known)
        return false;
    switch (op->code) {
    case HV_OP_MMIO_READ:
        if (!ops->mmio_read || !hv_op_resolve(l, op, &addr, &size, &bdf))
            return false;
        (void)ops->mmio_read(ctx, addr, size);
        return true;
    case HV_OP_MMIO_WRITE:
        if (!ops->mmio_write || !hv_op_resolve(l, op, &addr, &size, &bdf))
            return false;
        ops->mmio_write(ctx, addr, size,
                        size == 8 ? op->val
                                  : op->val & ((1ull << (8 * size)) - 1));
        return true;
    case HV_OP_PIO_READ:
        if (!ops->pio_read || !hv_op_resolve(l, op, &addr, &size, &bdf))
            return false;
        (void)ops->pio_read(ctx, (uint16_t)addr, size);
        return true;
    case HV_OP_PIO_WRITE:
        if (!ops->pio_write || !hv_op_resolve(l, op, &addr, &size, &bdf))
            return false;
        ops->pio_write(ctx, (uint16_t)addr, size,
                       (uint32_t)(size == 4 ? op->val
                                            : op->val & ((1u << (8 * size)) - 1)));
        return true;
    case HV_OP_CFG_READ:
        if (!ops->cfg_read || !hv_op_resolve(l, op, &addr, &size, &bdf))
            return false;
        (void)ops->cfg_read(ctx, bdf, (uint8_t)addr, size);
        return true;
    case HV_OP_CFG_WRITE:
        if (!ops->cfg_write || !hv_op_resolve(l, op, &addr, &size, &bdf))
            return false;
        ops->cfg_write(ctx, bdf, (uint8_t)addr, size,
                       (uint32_t)(size == 4 ? op->val
                                            : op->val & ((1u << (8 * size)) - 1)));
        return true;
    case HV_OP_DMA_WRITE:
        if (!ops->mem_write || !dma_range(l, op->off, op->len, &addr, &len))
            return false;
        ops->mem_write(ctx, addr, op->data, len);
        return true;
    case HV_OP_DMA_FILL:
        if (!ops->mem_fill || !dma_range(l, op->off, op->len, &addr, &len))
            return false;
        ops->mem_fill(ctx, addr, (uint8_t)op->val, len);
        return true;
    case HV_OP_CLOCK_ADVANCE:
        if (!ops->clock_advance)
            return false;
        ops->clock_advance(ctx, (uint32_t)op->val);
        return true;
    case HV_OP_RX_INJECT:
        if (!ops->rx_inject)
            return false;
        ops->rx_inject(ctx, op->data, op->len);
        return true;
    case HV_OP_VIRTQ_SETUP:
        return hv_virtq_setup(l, op, ops, ctx, sh);
    case HV_OP_VIRTQ_SUBMIT:
        return hv_virtq_submit(l, op, ops, ctx, sh);
    case HV_OP_NVME_SETUP:
        return hv_nvme_setup(l, op, ops, ctx, sh);
    case HV_OP_NVME_SUBMIT:
        return hv_nvme_submit(l, op, ops, ctx, sh);
    case HV_OP_E1000_SETUP:
        return hv_e1000_setup(l, op, ops, ctx, sh);
    case HV_OP_E1000_TX:
        return hv_e1000_tx(l, op, ops, ctx, sh);
    case HV_OP_E1000_RX_POST:
        return hv_e1000_rx_post(l, op, ops, ctx, sh);
    case HV_OP_TPM_CMD:
        return hv_tpm_cmd(l, op, ops, ctx, sh);
    default:
        return false;
    }
}

unsigned hv_program_run(const struct hv_layout *l, const uint8_t *prog,
                        size_t len, const struct hv_exec_ops *ops, void *ctx,
                        struct hv_shadow *sh)
{
    hv_shadow_reset(sh);
    return hv_program_continue(l, prog, len, ops, ctx, sh);
}

/* Hot path of mutated inputs: most bytes are not opcodes. */
static bool opcode_assigned(uint8_t code)
{
    switch (code) {
    case HV_OP_MMIO_READ:
    case HV_OP_MMIO_WRITE:
    case HV_OP_PIO_READ:
    case HV_OP_PIO_WRITE:
    case HV_OP_CFG_READ:
    case HV_OP_CFG_WRITE:
    case HV_OP_DMA_WRITE:
    case HV_OP_DMA_FILL:
    case HV_OP_CLOCK_ADVANCE:
    case HV_OP_RX_INJECT:
    case HV_OP_VIRTQ_SETUP:
    case HV_OP_VIRTQ_SUBMIT:
    case HV_OP_NVME_SETUP:
    case HV_OP_NVME_SUBMIT:
    case HV_OP_E1000_SETUP:
    case HV_OP_E1000_TX:
    case HV_OP_E1000_RX_POST:
    case HV_OP_TPM_CMD:
        return true;
    default:
        return false;
    }
}

/* Opcodes below HV_OP_VIRTQ_SETUP are the raw ones (register, config,
 * memory, clock and frame ops). */
static bool structure_aware(uint8_t code)
{
    return code >= HV_OP_VIRTQ_SETUP;
}

static unsigned run_ops(const struct hv_layout *l, const uint8_t *prog,
                        size_t len, const struct hv_exec_ops *ops, void *ctx,
                        struct hv_shadow *sh, bool raw_only)
{
    struct hv_op op;
    unsigned count = 0;
    size_t pos = 0;

    while (pos < len) {
        if (!opcode_assigned(prog[pos]) ||
            (raw_only && structure_aware(prog[pos]))) {
            pos++; /* an unassigned opcode is skipped */
            continue;
        }
        size_t n = hv_op_decode(prog + pos, len - pos, &op);
        if (n == 0)
            break;
        pos += n;
        if (hv_op_exec(l, &op, ops, ctx, sh))
            count++;
    }
    return count;
}

unsigned hv_program_continue(const struct hv_layout *l, const uint8_t *prog,
                             size_t len, const struct hv_exec_ops *ops,
                             void *ctx, struct hv_shadow *sh)
{
    return run_ops(l, prog, len, ops, ctx, sh, false);
}

unsigned hv_program_continue_raw(const struct hv_layout *l, const uint8_t *prog,
                                 size_t len, const struct hv_exec_ops *ops,
                                 void *ctx, struct hv_shadow *sh)
{
    return run_ops(l, prog, len, ops, ctx, sh, true);
}
