/*
 * hvfuzz program text form: assembler and disassembler (host side, libc).
 *
 * One op per line; '#' starts a comment (outside quotes); blank lines are
 * ignored. Numbers are decimal or 0x-hex. Raw operand values are shown, so
 * text -> binary -> text is exact; reduction happens at execution.
 *
 *   line      := [op] ['#' comment]
 *   op        := mnemonic arg*
 *   REGION    := layout region name (bar4) | number   (mmio / pio tables)
 *   DEV       := layout device name (vblk) | number
 *   DATA      := item ('+' item)*
 *   item      := hex:HEXDIGITS | "string" (C escapes \\ \" \n \r \t \0 \xNN)
 *              | BYTE*COUNT | le16:N | le32:N | le64:N
 *
 *   mmio_read     REGION OFF SIZE            mmio_read bar4 0x14 1
 *   mmio_write    REGION OFF SIZE VAL        mmio_write bar4 0x14 1 0x3
 *   pio_read      REGION OFF SIZE            pio_read bar0 0x12 1
 *   pio_write     REGION OFF SIZE VAL        pio_write bar0 0x12 1 0x0
 *   pci_cfg_read  DEV OFF SIZE               pci_cfg_read vblk 0x4 2
 *   pci_cfg_write DEV OFF SIZE VAL           pci_cfg_write vblk 0x4 2 0x107
 *   dma_write     OFF DATA                   dma_write 0x10000 hex:0011aa
 *   dma_fill      OFF LEN BYTE               dma_fill 0x10000 512 0xaa
 *   clock_advance NS                         clock_advance 1000000
 *   rx_inject     DATA                       rx_inject hex:ffffffffffff
 *   virtq_setup   [features=U32] [queues=1..256] [size=U16|max]
 *                 virtq_setup features=0x30006e54 queues=1 size=256
 *                 (queues=N encodes raw N-1: 1 + raw % 4 queues are set up)
 *   virtq_submit  [vq=N] [out=L,L..] [in=L,..] [data=DATA]
 *                 [indirect] [nokick] [noint] | [flags=U8]
 *                 virtq_submit vq=0 out=16 in=512,1 data=hex:00000000...
 *   .bytes HEX    raw bytes, emitted verbatim   .bytes ff
 *   .target NAME  asserts the target the text is written for
 *
 * hvfuzz-disasm prints ops in this form (blk_* as virtq_submit), with
 * "  # ..." comments naming registers (common.device_status, msix[1].ctrl,
 * command, ...), the reduced access when reduction changes it
 * ("# -> bar4+0x14/1"), and virtio-blk request headers ("# blk read
 * sector=0"). Bytes the text cannot reproduce from an op's form (unassigned
 * opcodes, virtq_submit raw counts above 7, a truncated last op) print as
 * ".bytes HEX  # what they decode to".
 *
 * Convenience directives (asm only; they assemble to virtq_submit, with the
 * 16-byte virtio-blk header le32 type, le32 reserved, le64 sector in the
 * first out segment, and a 1-byte status as the last in segment), all with
 * optional vq= / indirect / nokick / noint / flags=:
 *   blk_read  sector=S [len=512]           blk_write sector=S data=D [len=L]
 *   blk_flush                              blk_get_id [len=20]
 *   blk_discard sector=S num=N [dflags=F]  blk_write_zeroes sector=S num=N [unmap]
 *   blk_req type=T [sector=S] [out=L,..] [in=L,..] [data=D]   (in= default 1)
 * blk_read/blk_get_id: in = len,1; blk_write: out = 16,L; blk_flush may take
 * sector=; blk_discard/blk_write_zeroes: header sector 0, a second 16-byte
 * out segment le64 sector, le32 num, le32 dflags (unmap = bit 0); blk_req
 * puts its out= lengths after the header segment and data after the header.
 */
#include "harness/program/hv_text.h"

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "targets/virtio/virtio_regs.h"

/* ---- growable buffers -------------------------------------------------- */

struct bbuf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
};

static void bb_put(struct bbuf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n + 1)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void bb_byte(struct bbuf *b, uint8_t v) { bb_put(b, &v, 1); }

static void bb_le(struct bbuf *b, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        bb_byte(b, (uint8_t)(v >> (8 * i)));
}

static void bb_printf(struct bbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bb_printf(struct bbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        bb_put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    bb_put(b, big, (size_t)n);
    free(big);
}

static void bb_hex(struct bbuf *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char c[2] = {hx[p[i] >> 4], hx[p[i] & 15]};
        bb_put(b, c, 2);
    }
}

/* ======================================================================= */
/*                               disassembler                              */
/* ======================================================================= */

static void fmt_region(struct bbuf *b, const struct hv_layout_region *t,
                       uint8_t n, uint8_t raw)
{
    if (raw < n && t[raw].name)
        bb_printf(b, "%s", t[raw].name);
    else
        bb_printf(b, "%u", raw);
}

static void fmt_dev(struct bbuf *b, const struct hv_layout *l, uint8_t raw)
{
    if (raw < l->ndevs && l->devs[raw].name)
        bb_printf(b, "%s", l->devs[raw].name);
    else
        bb_printf(b, "%u", raw);
}

/* Data as hex chunks and BYTE*COUNT runs (runs of 16 or more). */
static void fmt_data(struct bbuf *b, const uint8_t *p, size_t n)
{
    if (n == 0) {
        bb_printf(b, "hex:");
        return;
    }
    size_t i = 0, chunk = 0;
    bool first = true;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && p[j] == p[i])
            j++;
        if (j - i >= 16) {
            if (i > chunk) {
                bb_printf(b, "%shex:", first ? "" : "+");
                bb_hex(b, p + chunk, i - chunk);
                first = false;
            }
            bb_printf(b, "%s0x%02x*%zu", first ? "" : "+", p[i], j - i);
            first = false;
            chunk = j;
        }
        i = j;
    }
    if (n > chunk) {
        bb_printf(b, "%shex:", first ? "" : "+");
        bb_hex(b, p + chunk, n - chunk);
    }
}

static void fmt_list(struct bbuf *b, const char *key, const uint16_t *v,
                     unsigned n)
{
    if (!n)
        return;
    bb_printf(b, " %s=", key);
    for (unsigned i = 0; i < n; i++)
        bb_printf(b, "%s%u", i ? "," : "", v[i]);
}

static const char *common_field(unsigned off)
{
    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT: return "device_feature_select";
    case VIRTIO_PCI_COMMON_DF: return "device_feature";
    case VIRTIO_PCI_COMMON_GFSELECT: return "driver_feature_select";
    case VIRTIO_PCI_COMMON_GF: return "driver_feature";
    case VIRTIO_PCI_COMMON_MSIX: return "config_msix_vector";
    case VIRTIO_PCI_COMMON_NUMQ: return "num_queues";
    case VIRTIO_PCI_COMMON_STATUS: return "device_status";
    case VIRTIO_PCI_COMMON_CFGGENERATION: return "config_generation";
    case VIRTIO_PCI_COMMON_Q_SELECT: return "queue_select";
    case VIRTIO_PCI_COMMON_Q_SIZE: return "queue_size";
    case VIRTIO_PCI_COMMON_Q_MSIX: return "queue_msix_vector";
    case VIRTIO_PCI_COMMON_Q_ENABLE: return "queue_enable";
    case VIRTIO_PCI_COMMON_Q_NOFF: return "queue_notify_off";
    case VIRTIO_PCI_COMMON_Q_DESCLO: return "queue_desc_lo";
    case VIRTIO_PCI_COMMON_Q_DESCHI: return "queue_desc_hi";
    case VIRTIO_PCI_COMMON_Q_AVAILLO: return "queue_driver_lo";
    case VIRTIO_PCI_COMMON_Q_AVAILHI: return "queue_driver_hi";
    case VIRTIO_PCI_COMMON_Q_USEDLO: return "queue_device_lo";
    case VIRTIO_PCI_COMMON_Q_USEDHI: return "queue_device_hi";
    default: return NULL;
    }
}

static const char *cfg_field(unsigned off)
{
    switch (off) {
    case 0x00: return "vendor_id";
    case 0x02: return "device_id";
    case 0x04: return "command";
    case 0x06: return "status";
    case 0x08: return "revision/class";
    case 0x0c: return "cache_line_size";
    case 0x0d: return "latency_timer";
    case 0x0e: return "header_type";
    case 0x10: return "bar0";
    case 0x14: return "bar1";
    case 0x18: return "bar2";
    case 0x1c: return "bar3";
    case 0x20: return "bar4";
    case 0x24: return "bar5";
    case 0x2c: return "subsystem_vendor_id";
    case 0x2e: return "subsystem_id";
    case 0x30: return "rom_address";
    case 0x34: return "capabilities_ptr";
    case 0x3c: return "interrupt_line";
    case 0x3d: return "interrupt_pin";
    default: return NULL;
    }
}

/* "  # ..." after a raw region access: the register, and the reduced
 * address when reduction changed the raw operands. */
static void annotate(struct bbuf *b, const struct hv_layout *l,
                     const struct hv_op *op)
{
    uint64_t addr;
    unsigned size;
    uint8_t bdf;
    if (!hv_op_resolve(l, op, &addr, &size, &bdf)) {
        bb_printf(b, "  # skipped");
        return;
    }
    char what[96] = "";
    bool reduced = false;
    const struct hv_layout_region *r = NULL;
    switch (op->code) {
    case HV_OP_MMIO_READ:
    case HV_OP_MMIO_WRITE: {
        unsigned ri = op->region % l->nmmio;
        r = &l->mmio[ri];
        uint64_t off = addr - r->base;
        reduced = op->region != ri || off != op->off || size != op->size;
        if ((int)ri == l->virtio_region) {
            if (off < VIRTIO_PCI_ISR_OFF) {
                const char *f = common_field((unsigned)off);
                if (f)
                    snprintf(what, sizeof what, "common.%s", f);
                else
                    snprintf(what, sizeof what, "common+0x%x", (unsigned)off);
            } else if (off < VIRTIO_PCI_DEVICE_OFF) {
                if (off == VIRTIO_PCI_ISR_OFF)
                    snprintf(what, sizeof what, "isr");
                else
                    snprintf(what, sizeof what, "isr+0x%x",
                             (unsigned)(off - VIRTIO_PCI_ISR_OFF));
            } else if (off < VIRTIO_PCI_NOTIFY_OFF) {
                snprintf(what, sizeof what, "device_cfg+0x%x",
                         (unsigned)(off - VIRTIO_PCI_DEVICE_OFF));
            } else if (off < VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_REGION_SIZE &&
                       (off - VIRTIO_PCI_NOTIFY_OFF) %
                               VIRTIO_PCI_NOTIFY_MULTIPLIER == 0) {
                snprintf(what, sizeof what, "notify q%u",
                         (unsigned)((off - VIRTIO_PCI_NOTIFY_OFF) /
                                    VIRTIO_PCI_NOTIFY_MULTIPLIER));
            }
        }
        const char *model = r->dev < l->ndevs ? l->devs[r->dev].model : NULL;
        if (!what[0] && model && !strncmp(model, "virtio", 6) &&
            r->bar == VIRTIO_PCI_MSIX_BAR) {
            static const char *const field[4] = {"addr_lo", "addr_hi", "data",
                                                 "ctrl"};
            if (off < VIRTIO_PCI_MSIX_PBA_OFF)
                snprintf(what, sizeof what, "msix[%u].%s", (unsigned)(off / 16),
                         field[(off % 16) / 4]);
            else
                snprintf(what, sizeof what, "msix_pba+0x%x",
                         (unsigned)(off - VIRTIO_PCI_MSIX_PBA_OFF));
        }
        if (reduced)
            bb_printf(b, "  # -> %s+0x%llx/%u%s%s", r->name ? r->name : "?",
                      (unsigned long long)off, size, what[0] ? " " : "", what);
        else if (what[0])
            bb_printf(b, "  # %s", what);
        return;
    }
    case HV_OP_PIO_READ:
    case HV_OP_PIO_WRITE: {
        unsigned ri = op->region % l->npio;
        r = &l->pio[ri];
        uint64_t off = addr - r->base;
        if (op->region != ri || off != op->off || size != op->size)
            bb_printf(b, "  # -> %s+0x%llx/%u", r->name ? r->name : "?",
                      (unsigned long long)off, size);
        return;
    }
    default: {
        unsigned di = op->region % l->ndevs;
        const char *f = cfg_field((unsigned)addr);
        reduced = op->region != di || addr != op->off || size != op->size;
        if (reduced)
            bb_printf(b, "  # -> %s 0x%x/%u%s%s",
                      l->devs[di].name ? l->devs[di].name : "?",
                      (unsigned)addr, size, f ? " " : "", f ? f : "");
        else if (f)
            bb_printf(b, "  # %s", f);
        return;
    }
    }
}

static bool has_model(const struct hv_layout *l, const char *model)
{
    for (unsigned i = 0; i < l->ndevs; i++)
        if (l->devs[i].model && !strcmp(l->devs[i].model, model))
            return true;
    return false;
}

static uint64_t ld_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* "  # blk read sector=N" for a submit that carries a virtio-blk header */
static void annotate_blk(struct bbuf *b, const struct hv_layout *l,
                         const struct hv_op *op)
{
    if (!has_model(l, "virtio-blk") || (op->nout & 7) == 0 ||
        op->seg[0] != VIRTIO_BLK_REQ_HDR_SIZE || op->len < VIRTIO_BLK_REQ_HDR_SIZE)
        return;
    uint32_t type = (uint32_t)ld_le(op->data, 4);
    uint64_t sector = ld_le(op->data + 8, 8);
    const char *name = type == VIRTIO_BLK_T_IN ? "read"
                       : type == VIRTIO_BLK_T_OUT ? "write"
                       : type == VIRTIO_BLK_T_FLUSH ? "flush"
                       : type == VIRTIO_BLK_T_GET_ID ? "get_id"
                       : type == VIRTIO_BLK_T_DISCARD ? "discard"
                       : type == VIRTIO_BLK_T_WRITE_ZEROES ? "write_zeroes"
                                                           : NULL;
    if (name)
        bb_printf(b, "  # blk %s", name);
    else
        bb_printf(b, "  # blk type=0x%x", type);
    if (type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT)
        bb_printf(b, " sector=%llu", (unsigned long long)sector);
    else if ((type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) &&
             (op->nout & 7) >= 2 && op->seg[1] >= 16 && op->len >= 32)
        bb_printf(b, " sector=%llu num=%u flags=0x%x",
                  (unsigned long long)ld_le(op->data + 16, 8),
                  (unsigned)ld_le(op->data + 24, 4),
                  (unsigned)ld_le(op->data + 28, 4));
}

/* " REGION|DEV OFF SIZE [VAL]" of a raw register or config access. */
static void fmt_access(struct bbuf *b, const struct hv_layout *l,
                       const struct hv_op *op)
{
    bb_printf(b, " ");
    if (op->code == HV_OP_MMIO_READ || op->code == HV_OP_MMIO_WRITE)
        fmt_region(b, l->mmio, l->nmmio, op->region);
    else if (op->code == HV_OP_PIO_READ || op->code == HV_OP_PIO_WRITE)
        fmt_region(b, l->pio, l->npio, op->region);
    else
        fmt_dev(b, l, op->region);
    bb_printf(b, " 0x%x %u", op->off, op->size);
    if (op->code == HV_OP_MMIO_WRITE || op->code == HV_OP_PIO_WRITE ||
        op->code == HV_OP_CFG_WRITE)
        bb_printf(b, " 0x%llx", (unsigned long long)op->val);
}

/* The text of a known op, with annotation comments if `comments`. */
static void fmt_op(struct bbuf *b, const struct hv_layout *l,
                   const struct hv_op *op, bool comments)
{
    const char *name = hv_op_name(op->code);
    bb_printf(b, "%s", name);
    switch (op->code) {
    case HV_OP_MMIO_READ:
    case HV_OP_MMIO_WRITE:
    case HV_OP_PIO_READ:
    case HV_OP_PIO_WRITE:
    case HV_OP_CFG_READ:
    case HV_OP_CFG_WRITE:
        fmt_access(b, l, op);
        if (comments)
            annotate(b, l, op);
        break;
    case HV_OP_DMA_WRITE:
        bb_printf(b, " 0x%x ", op->off);
        fmt_data(b, op->data, op->len);
        break;
    case HV_OP_DMA_FILL:
        bb_printf(b, " 0x%x %u 0x%02x", op->off, op->len, (unsigned)op->val);
        break;
    case HV_OP_CLOCK_ADVANCE:
        bb_printf(b, " %llu", (unsigned long long)op->val);
        break;
    case HV_OP_RX_INJECT:
        bb_printf(b, " ");
        fmt_data(b, op->data, op->len);
        break;
    case HV_OP_VIRTQ_SETUP:
        bb_printf(b, " features=0x%llx queues=%u size=", (unsigned long long)op->val,
                  op->region + 1u);
        if (op->len)
            bb_printf(b, "%u", op->len);
        else
            bb_printf(b, "max");
        break;
    case HV_OP_VIRTQ_SUBMIT: {
        unsigned nout = op->nout & 7u, nin = op->nin & 7u;
        bb_printf(b, " vq=%u", op->region);
        fmt_list(b, "out", op->seg, nout);
        fmt_list(b, "in", op->seg + nout, nin);
        if (op->len) {
            bb_printf(b, " data=");
            fmt_data(b, op->data, op->len);
        }
        if (op->flags & ~7u) {
            bb_printf(b, " flags=0x%02x", op->flags);
        } else {
            if (op->flags & HV_SUBMIT_F_INDIRECT)
                bb_printf(b, " indirect");
            if (op->flags & HV_SUBMIT_F_NOKICK)
                bb_printf(b, " nokick");
            if (op->flags & HV_SUBMIT_F_NO_INTERRUPT)
                bb_printf(b, " noint");
        }
        if (comments)
            annotate_blk(b, l, op);
        break;
    }
    }
}

/* Can the op's bytes be reproduced from its text form? */
static bool canonical(const struct hv_op *op)
{
    if (op->code == HV_OP_VIRTQ_SUBMIT)
        return op->nout <= 7 && op->nin <= 7;
    return true;
}

char *hv_disasm_op(const struct hv_layout *l, const struct hv_op *op)
{
    struct bbuf b = {0};
    if (!op->known) {
        bb_printf(&b, ".bytes %02x  # unassigned opcode, skipped", op->code);
    } else {
        fmt_op(&b, l, op, true);
        if (!canonical(op))
            bb_printf(&b, "  # raw nout=0x%02x nin=0x%02x", op->nout, op->nin);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (!b.p)
        return calloc(1, 1);
    return (char *)b.p;
}

char *hv_disasm(const struct hv_layout *l, const uint8_t *prog, size_t len)
{
    struct bbuf b = {0};
    struct hv_op op;
    size_t pos = 0;

    bb_printf(&b, ".target %s\n", l->target);
    while (pos < len && !b.oom) {
        size_t n = hv_op_decode(prog + pos, len - pos, &op);
        if (n == 0) {
            const char *name = hv_op_name(prog[pos]);
            bb_printf(&b, ".bytes ");
            bb_hex(&b, prog + pos, len - pos);
            bb_printf(&b, "  # truncated %s: the program ends here\n", name);
            break;
        }
        if (!op.known) {
            size_t run = 1;
            while (pos + run < len && !hv_op_name(prog[pos + run]))
                run++;
            bb_printf(&b, ".bytes ");
            bb_hex(&b, prog + pos, run);
            bb_printf(&b, "  # unassigned opcode%s, skipped\n",
                      run > 1 ? "s" : "");
            pos += run;
            continue;
        }
        if (canonical(&op)) {
            fmt_op(&b, l, &op, true);
        } else {
            bb_printf(&b, ".bytes ");
            bb_hex(&b, prog + pos, n);
            bb_printf(&b, "  # raw nout=0x%02x nin=0x%02x: ", op.nout, op.nin);
            fmt_op(&b, l, &op, false);
        }
        bb_printf(&b, "\n");
        pos += n;
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return (char *)b.p;
}

/* ======================================================================= */
/*                                assembler                                */
/* ======================================================================= */

#define MAX_TOKS 64

struct tok {
    const char *s;
    size_t n;
    unsigned col; /* 1-based */
};

struct asm_ctx {
    const struct hv_layout *l;
    const char *fname;
    unsigned line;
    struct bbuf out;
    struct bbuf tmp; /* data of the current op */
    struct bbuf pay; /* blk_* payload */
    char *err;
    size_t errsz;
    jmp_buf fail;
};

static void asm_error(struct asm_ctx *a, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
static void asm_error(struct asm_ctx *a, unsigned col, const char *fmt, ...)
{
    if (a->errsz) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(a->err, a->errsz, "%s:%u:%u: error: %s", a->fname, a->line,
                 col, msg);
    }
    longjmp(a->fail, 1);
}

static bool tok_is(const struct tok *t, const char *s)
{
    return strlen(s) == t->n && memcmp(t->s, s, t->n) == 0;
}

/* Split a line into tokens at whitespace outside double quotes; stop at
 * '#' outside quotes. */
static unsigned tokenize(struct asm_ctx *a, const char *line, size_t n,
                         struct tok *toks)
{
    unsigned nt = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' ||
                         line[i] == '\f' || line[i] == '\v'))
            i++;
        if (i >= n || line[i] == '#')
            break;
        size_t start = i;
        bool inq = false;
        while (i < n) {
            char c = line[i];
            if (inq) {
                if (c == '\\' && i + 1 < n)
                    i++;
                else if (c == '"')
                    inq = false;
            } else if (c == '"') {
                inq = true;
            } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
                       c == '\v' || c == '#') {
                break;
            }
            i++;
        }
        if (inq)
            asm_error(a, (unsigned)start + 1, "unterminated string");
        if (nt == MAX_TOKS)
            asm_error(a, (unsigned)start + 1, "too many operands");
        toks[nt].s = line + start;
        toks[nt].n = i - start;
        toks[nt].col = (unsigned)start + 1;
        nt++;
    }
    return nt;
}

static uint64_t parse_num(struct asm_ctx *a, const char *s, size_t n,
                          unsigned col, uint64_t max, const char *what)
{
    uint64_t v = 0;
    size_t i = 0;
    unsigned base = 10;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i >= n)
        asm_error(a, col, "expected a number for %s, got '%.*s'", what, (int)n, s);
    for (; i < n; i++) {
        int d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            asm_error(a, col, "expected a number for %s, got '%.*s'", what,
                      (int)n, s);
        if (v > (UINT64_MAX - (uint64_t)d) / base)
            asm_error(a, col, "%s '%.*s' is too large", what, (int)n, s);
        v = v * base + (uint64_t)d;
    }
    if (v > max)
        asm_error(a, col, "%s %.*s out of range (max 0x%llx)", what, (int)n, s,
                  (unsigned long long)max);
    return v;
}

static uint64_t tok_num(struct asm_ctx *a, const struct tok *t, uint64_t max,
                        const char *what)
{
    return parse_num(a, t->s, t->n, t->col, max, what);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void parse_hex(struct asm_ctx *a, const char *s, size_t n, unsigned col,
                      struct bbuf *dst)
{
    if (n % 2)
        asm_error(a, col, "odd number of hex digits");
    for (size_t i = 0; i < n; i += 2) {
        int h = hexval(s[i]), lo = hexval(s[i + 1]);
        if (h < 0 || lo < 0)
            asm_error(a, col + (unsigned)i, "bad hex digit");
        bb_byte(dst, (uint8_t)(h << 4 | lo));
    }
}

/* DATA := item ('+' item)* into dst */
static void parse_data(struct asm_ctx *a, const char *s, size_t n, unsigned col,
                       struct bbuf *dst)
{
    size_t i = 0;
    if (n == 0)
        asm_error(a, col, "expected data (hex:.., \"..\", BYTE*COUNT, le32:N)");
    for (;;) {
        unsigned icol = col + (unsigned)i;
        if (i < n && s[i] == '"') {
            i++;
            while (i < n && s[i] != '"') {
                char c = s[i++];
                if (c != '\\') {
                    bb_byte(dst, (uint8_t)c);
                    continue;
                }
                if (i >= n)
                    break;
                char e = s[i++];
                switch (e) {
                case 'n': bb_byte(dst, '\n'); break;
                case 'r': bb_byte(dst, '\r'); break;
                case 't': bb_byte(dst, '\t'); break;
                case '0': bb_byte(dst, 0); break;
                case '\\': bb_byte(dst, '\\'); break;
                case '"': bb_byte(dst, '"'); break;
                case 'x': {
                    int h = i < n ? hexval(s[i]) : -1;
                    int lo = i + 1 < n ? hexval(s[i + 1]) : -1;
                    if (h < 0 || lo < 0)
                        asm_error(a, col + (unsigned)i, "\\x needs two hex digits");
                    bb_byte(dst, (uint8_t)(h << 4 | lo));
                    i += 2;
                    break;
                }
                default:
                    asm_error(a, col + (unsigned)i - 2, "unknown escape \\%c", e);
                }
            }
            if (i >= n)
                asm_error(a, icol, "unterminated string");
            i++; /* closing quote */
        } else {
            size_t end = i;
            while (end < n && s[end] != '+')
                end++;
            const char *it = s + i;
            size_t in = end - i;
            const char *star = memchr(it, '*', in);
            if (in >= 4 && memcmp(it, "hex:", 4) == 0) {
                parse_hex(a, it + 4, in - 4, icol + 4, dst);
            } else if (in >= 5 && (memcmp(it, "le16:", 5) == 0 ||
                                   memcmp(it, "le32:", 5) == 0 ||
                                   memcmp(it, "le64:", 5) == 0)) {
                unsigned w = it[2] == '1' ? 2 : it[2] == '3' ? 4 : 8;
                uint64_t max = w == 8 ? UINT64_MAX : (1ull << (8 * w)) - 1;
                uint64_t v = parse_num(a, it + 5, in - 5, icol + 5, max, "value");
                bb_le(dst, v, w);
            } else if (star) {
                size_t bl = (size_t)(star - it);
                uint64_t byte = parse_num(a, it, bl, icol, 0xff, "byte");
                uint64_t cnt = parse_num(a, star + 1, in - bl - 1,
                                         icol + (unsigned)bl + 1, 0xffff, "count");
                for (uint64_t k = 0; k < cnt; k++)
                    bb_byte(dst, (uint8_t)byte);
            } else {
                asm_error(a, icol,
                          "bad data item '%.*s' (want hex:.., \"..\", "
                          "BYTE*COUNT, le16:/le32:/le64:N)", (int)in, it);
            }
            i = end;
        }
        if (dst->n > 0xffff)
            asm_error(a, col, "data longer than 65535 bytes");
        if (i >= n)
            break;
        if (s[i] != '+')
            asm_error(a, col + (unsigned)i, "expected '+' between data items");
        i++;
        if (i >= n)
            asm_error(a, col + (unsigned)i, "expected a data item after '+'");
    }
}

static uint8_t parse_region(struct asm_ctx *a, const struct tok *t,
                            const struct hv_layout_region *tab, uint8_t n,
                            const char *what)
{
    for (unsigned i = 0; i < n; i++)
        if (tab[i].name && tok_is(t, tab[i].name))
            return (uint8_t)i;
    if (t->n && isdigit((unsigned char)t->s[0]))
        return (uint8_t)tok_num(a, t, 0xff, what);
    char names[256] = "";
    for (unsigned i = 0; i < n; i++)
        if (tab[i].name) {
            size_t k = strlen(names);
            snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "",
                     tab[i].name);
        }
    asm_error(a, t->col, "unknown %s '%.*s' (target %s has: %s; or a number)",
              what, (int)t->n, t->s, a->l->target, names[0] ? names : "none");
}

static uint8_t parse_dev(struct asm_ctx *a, const struct tok *t)
{
    const struct hv_layout *l = a->l;
    for (unsigned i = 0; i < l->ndevs; i++)
        if (l->devs[i].name && tok_is(t, l->devs[i].name))
            return (uint8_t)i;
    if (t->n && isdigit((unsigned char)t->s[0]))
        return (uint8_t)tok_num(a, t, 0xff, "device");
    char names[256] = "";
    for (unsigned i = 0; i < l->ndevs; i++)
        if (l->devs[i].name) {
            size_t k = strlen(names);
            snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "",
                     l->devs[i].name);
        }
    asm_error(a, t->col, "unknown device '%.*s' (target %s has: %s; or a number)",
              (int)t->n, t->s, l->target, names[0] ? names : "none");
}

static void want_args(struct asm_ctx *a, const struct tok *toks, unsigned nt,
                      unsigned want, const char *usage)
{
    if (nt - 1 < want)
        asm_error(a, toks[nt - 1].col + (unsigned)toks[nt - 1].n,
                  "missing operand: usage: %s", usage);
    if (nt - 1 > want)
        asm_error(a, toks[want + 1].col, "too many operands: usage: %s", usage);
}

static void emit(struct asm_ctx *a, const struct hv_op *op, unsigned col)
{
    uint8_t *buf = malloc(HV_OP_MAX_BYTES);
    if (!buf)
        asm_error(a, col, "out of memory");
    size_t n = hv_op_encode(op, buf, HV_OP_MAX_BYTES);
    if (n == 0) {
        free(buf);
        asm_error(a, col, "cannot encode op");
    }
    bb_put(&a->out, buf, n);
    free(buf);
}

/* key=value parsing for the keyword ops */
struct kv {
    const struct tok *t;
    const char *v; /* value (after '=') or NULL for a bare keyword */
    size_t vn;
    unsigned vcol;
};

static void split_kv(const struct tok *t, struct kv *kv)
{
    const char *eq = memchr(t->s, '=', t->n);
    kv->t = t;
    if (eq) {
        kv->v = eq + 1;
        kv->vn = t->n - (size_t)(eq + 1 - t->s);
        kv->vcol = t->col + (unsigned)(eq + 1 - t->s);
    } else {
        kv->v = NULL;
        kv->vn = 0;
        kv->vcol = t->col;
    }
}

static bool key_is(const struct kv *kv, const char *k)
{
    size_t kn = kv->v ? (size_t)(kv->v - 1 - kv->t->s) : kv->t->n;
    return strlen(k) == kn && memcmp(kv->t->s, k, kn) == 0;
}

static void need_value(struct asm_ctx *a, const struct kv *kv, bool want)
{
    if (want && !kv->v)
        asm_error(a, kv->t->col, "'%.*s' needs a value (%.*s=...)",
                  (int)kv->t->n, kv->t->s, (int)kv->t->n, kv->t->s);
    if (!want && kv->v)
        asm_error(a, kv->t->col, "'%.*s' takes no value",
                  (int)(kv->v - 1 - kv->t->s), kv->t->s);
}

static uint64_t kv_num(struct asm_ctx *a, const struct kv *kv, uint64_t max,
                       const char *what)
{
    need_value(a, kv, true);
    return parse_num(a, kv->v, kv->vn, kv->vcol, max, what);
}

/* L,L,... (at most 7 u16 lengths) */
static unsigned kv_list(struct asm_ctx *a, const struct kv *kv, uint16_t *out,
                        unsigned room)
{
    need_value(a, kv, true);
    unsigned cnt = 0;
    size_t i = 0;
    if (kv->vn == 0)
        return 0;
    for (;;) {
        size_t end = i;
        while (end < kv->vn && kv->v[end] != ',')
            end++;
        if (cnt == room)
            asm_error(a, kv->vcol + (unsigned)i,
                      "too many segments (at most 7 out and 7 in)");
        out[cnt++] = (uint16_t)parse_num(a, kv->v + i, end - i,
                                         kv->vcol + (unsigned)i, 0xffff,
                                         "segment length");
        if (end >= kv->vn)
            break;
        i = end + 1;
    }
    return cnt;
}

/* Options shared by virtq_submit and the blk_* directives. */
static bool submit_flag(struct asm_ctx *a, const struct kv *kv, uint8_t *flags)
{
    if (key_is(kv, "indirect") || key_is(kv, "nokick") || key_is(kv, "noint")) {
        need_value(a, kv, false);
        *flags |= key_is(kv, "indirect") ? HV_SUBMIT_F_INDIRECT
                  : key_is(kv, "nokick") ? HV_SUBMIT_F_NOKICK
                                         : HV_SUBMIT_F_NO_INTERRUPT;
        return true;
    }
    if (key_is(kv, "flags")) {
        *flags |= (uint8_t)kv_num(a, kv, 0xff, "flags");
        return true;
    }
    return false;
}

static void asm_virtq_setup(struct asm_ctx *a, const struct tok *toks,
                            unsigned nt, struct hv_op *op)
{
    op->val = 0;
    op->region = 0;
    op->len = 0;
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (key_is(&kv, "features")) {
            op->val = kv_num(a, &kv, 0xffffffffu, "features");
        } else if (key_is(&kv, "queues")) {
            uint64_t q = kv_num(a, &kv, 256, "queues");
            if (q == 0)
                asm_error(a, kv.vcol, "queues must be 1..256");
            op->region = (uint8_t)(q - 1);
        } else if (key_is(&kv, "size")) {
            need_value(a, &kv, true);
            if (kv.vn == 3 && memcmp(kv.v, "max", 3) == 0)
                op->len = 0;
            else
                op->len = (uint32_t)kv_num(a, &kv, 0xffff, "size");
        } else {
            asm_error(a, toks[i].col,
                      "unknown virtq_setup option '%.*s' (features=, queues=, size=)",
                      (int)toks[i].n, toks[i].s);
        }
    }
}

static void asm_virtq_submit(struct asm_ctx *a, const struct tok *toks,
                             unsigned nt, struct hv_op *op)
{
    uint16_t outl[7], inl[7];
    unsigned nout = 0, nin = 0;
    bool have_data = false;
    a->tmp.n = 0;
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (key_is(&kv, "vq"))
            op->region = (uint8_t)kv_num(a, &kv, 0xff, "vq");
        else if (submit_flag(a, &kv, &op->flags))
            ;
        else if (key_is(&kv, "out"))
            nout = kv_list(a, &kv, outl, 7);
        else if (key_is(&kv, "in"))
            nin = kv_list(a, &kv, inl, 7);
        else if (key_is(&kv, "data")) {
            need_value(a, &kv, true);
            if (have_data)
                asm_error(a, toks[i].col, "data given twice");
            have_data = true;
            parse_data(a, kv.v, kv.vn, kv.vcol, &a->tmp);
        } else
            asm_error(a, toks[i].col,
                      "unknown virtq_submit option '%.*s' (vq=, out=, in=, data=, "
                      "indirect, nokick, noint, flags=)",
                      (int)toks[i].n, toks[i].s);
    }
    op->nout = (uint8_t)nout;
    op->nin = (uint8_t)nin;
    for (unsigned i = 0; i < nout; i++)
        op->seg[i] = outl[i];
    for (unsigned i = 0; i < nin; i++)
        op->seg[nout + i] = inl[i];
    op->len = (uint32_t)a->tmp.n;
    op->data = a->tmp.p;
}

/* blk_* convenience directives -> virtq_submit */
static void asm_blk(struct asm_ctx *a, const struct tok *toks, unsigned nt,
                    struct hv_op *op)
{
    const struct tok *m = &toks[0];
    enum { READ, WRITE, FLUSH, GET_ID, DISCARD, WZEROES, REQ } kind;
    if (tok_is(m, "blk_read")) kind = READ;
    else if (tok_is(m, "blk_write")) kind = WRITE;
    else if (tok_is(m, "blk_flush")) kind = FLUSH;
    else if (tok_is(m, "blk_get_id")) kind = GET_ID;
    else if (tok_is(m, "blk_discard")) kind = DISCARD;
    else if (tok_is(m, "blk_write_zeroes")) kind = WZEROES;
    else if (tok_is(m, "blk_req")) kind = REQ;
    else
        asm_error(a, m->col, "unknown directive '%.*s'", (int)m->n, m->s);

    uint64_t sector = 0, num = 0, dflags = 0, type = 0;
    uint64_t len = kind == GET_ID ? VIRTIO_BLK_ID_BYTES : VIRTIO_BLK_SECTOR_SIZE;
    bool have_len = false, have_data = false, have_type = false, have_in = false;
    bool have_sector = false, have_num = false;
    uint16_t outl[7], inl[7];
    unsigned nout = 0, nin = 0;
    struct bbuf *payload = &a->pay;
    payload->n = 0;

    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        bool ok = true;
        if (key_is(&kv, "vq"))
            op->region = (uint8_t)kv_num(a, &kv, 0xff, "vq");
        else if (submit_flag(a, &kv, &op->flags))
            ;
        else if (key_is(&kv, "sector") && kind != GET_ID) {
            sector = kv_num(a, &kv, UINT64_MAX, "sector");
            have_sector = true;
        } else if (key_is(&kv, "len") &&
                   (kind == READ || kind == WRITE || kind == GET_ID)) {
            len = kv_num(a, &kv, 0xffff, "len");
            have_len = true;
        } else if (key_is(&kv, "num") && (kind == DISCARD || kind == WZEROES)) {
            num = kv_num(a, &kv, 0xffffffffu, "num");
            have_num = true;
        } else if (key_is(&kv, "dflags") && (kind == DISCARD || kind == WZEROES))
            dflags = kv_num(a, &kv, 0xffffffffu, "dflags");
        else if (key_is(&kv, "unmap") && kind == WZEROES) {
            need_value(a, &kv, false);
            dflags |= 1;
        } else if (key_is(&kv, "type") && kind == REQ) {
            type = kv_num(a, &kv, 0xffffffffu, "type");
            have_type = true;
        } else if (key_is(&kv, "out") && kind == REQ)
            nout = kv_list(a, &kv, outl + 1, 6);
        else if (key_is(&kv, "in") && kind == REQ) {
            nin = kv_list(a, &kv, inl, 7);
            have_in = true;
        } else if (key_is(&kv, "data") && (kind == WRITE || kind == REQ)) {
            need_value(a, &kv, true);
            if (have_data)
                asm_error(a, toks[i].col, "data given twice");
            have_data = true;
            parse_data(a, kv.v, kv.vn, kv.vcol, payload);
        } else
            ok = false;
        if (!ok) {
            asm_error(a, toks[i].col, "unknown %.*s option '%.*s'", (int)m->n,
                      m->s, (int)toks[i].n, toks[i].s);
        }
    }
    const char *missing = NULL;
    if ((kind == READ || kind == WRITE || kind == DISCARD || kind == WZEROES) &&
        !have_sector)
        missing = "sector=";
    else if (kind == WRITE && !have_data)
        missing = "data=";
    else if ((kind == DISCARD || kind == WZEROES) && !have_num)
        missing = "num=";
    else if (kind == REQ && !have_type)
        missing = "type=";
    if (missing)
        asm_error(a, m->col, "%.*s needs %s", (int)m->n, m->s, missing);

    /* the request: header, then per kind */
    struct bbuf *d = &a->tmp;
    d->n = 0;
    uint32_t t = kind == READ ? VIRTIO_BLK_T_IN
                 : kind == WRITE ? VIRTIO_BLK_T_OUT
                 : kind == FLUSH ? VIRTIO_BLK_T_FLUSH
                 : kind == GET_ID ? VIRTIO_BLK_T_GET_ID
                 : kind == DISCARD ? VIRTIO_BLK_T_DISCARD
                 : kind == WZEROES ? VIRTIO_BLK_T_WRITE_ZEROES
                                   : (uint32_t)type;
    bb_le(d, t, 4);
    bb_le(d, 0, 4);
    bb_le(d, (kind == DISCARD || kind == WZEROES) ? 0 : sector, 8);
    outl[0] = VIRTIO_BLK_REQ_HDR_SIZE;
    switch (kind) {
    case READ:
    case GET_ID:
        nout = 1;
        inl[0] = (uint16_t)len;
        inl[1] = 1;
        nin = 2;
        break;
    case WRITE:
        if (!have_len)
            len = payload->n;
        if (len > 0xffff)
            asm_error(a, m->col, "data longer than 65535 bytes");
        bb_put(d, payload->p, payload->n);
        outl[1] = (uint16_t)len;
        nout = 2;
        inl[0] = 1;
        nin = 1;
        break;
    case FLUSH:
        nout = 1;
        inl[0] = 1;
        nin = 1;
        break;
    case DISCARD:
    case WZEROES:
        bb_le(d, sector, 8);
        bb_le(d, num, 4);
        bb_le(d, dflags, 4);
        outl[1] = 16;
        nout = 2;
        inl[0] = 1;
        nin = 1;
        break;
    case REQ:
        bb_put(d, payload->p, payload->n);
        nout += 1;
        if (!have_in) {
            inl[0] = 1;
            nin = 1;
        }
        break;
    }
    if (d->n > 0xffff)
        asm_error(a, m->col, "request longer than 65535 bytes");
    op->nout = (uint8_t)nout;
    op->nin = (uint8_t)nin;
    for (unsigned i = 0; i < nout; i++)
        op->seg[i] = outl[i];
    for (unsigned i = 0; i < nin; i++)
        op->seg[nout + i] = inl[i];
    op->len = (uint32_t)d->n;
    op->data = d->p;
}

static void asm_line(struct asm_ctx *a, const char *line, size_t n)
{
    struct tok toks[MAX_TOKS];
    unsigned nt = tokenize(a, line, n, toks);
    if (nt == 0)
        return;
    const struct tok *m = &toks[0];
    const struct hv_layout *l = a->l;
    struct hv_op op;
    memset(&op, 0, sizeof op);
    op.known = true;

    if (tok_is(m, ".bytes")) {
        a->tmp.n = 0;
        for (unsigned i = 1; i < nt; i++)
            parse_hex(a, toks[i].s, toks[i].n, toks[i].col, &a->tmp);
        bb_put(&a->out, a->tmp.p, a->tmp.n);
        return;
    }
    if (tok_is(m, ".target")) {
        want_args(a, toks, nt, 1, ".target NAME");
        if (!tok_is(&toks[1], l->target))
            asm_error(a, toks[1].col,
                      "program is for target '%.*s', assembling for '%s' (use -t)",
                      (int)toks[1].n, toks[1].s, l->target);
        return;
    }
    if (m->n > 4 && memcmp(m->s, "blk_", 4) == 0) {
        op.code = HV_OP_VIRTQ_SUBMIT;
        a->tmp.n = 0;
        asm_blk(a, toks, nt, &op);
        emit(a, &op, m->col);
        return;
    }

    static const uint8_t codes[] = {
        HV_OP_MMIO_READ,  HV_OP_MMIO_WRITE,    HV_OP_PIO_READ,
        HV_OP_PIO_WRITE,  HV_OP_CFG_READ,      HV_OP_CFG_WRITE,
        HV_OP_DMA_WRITE,  HV_OP_DMA_FILL,      HV_OP_CLOCK_ADVANCE,
        HV_OP_RX_INJECT,  HV_OP_VIRTQ_SETUP,   HV_OP_VIRTQ_SUBMIT,
    };
    bool found = false;
    for (unsigned i = 0; i < sizeof codes; i++)
        if (tok_is(m, hv_op_name(codes[i]))) {
            op.code = codes[i];
            found = true;
        }
    if (!found)
        asm_error(a, m->col, "unknown op '%.*s'", (int)m->n, m->s);

    a->tmp.n = 0;
    switch (op.code) {
    case HV_OP_MMIO_READ:
    case HV_OP_MMIO_WRITE: {
        bool w = op.code == HV_OP_MMIO_WRITE;
        want_args(a, toks, nt, w ? 4 : 3,
                  w ? "mmio_write REGION OFF SIZE VAL" : "mmio_read REGION OFF SIZE");
        op.region = parse_region(a, &toks[1], l->mmio, l->nmmio, "mmio region");
        op.off = (uint32_t)tok_num(a, &toks[2], 0xffffffffu, "offset");
        op.size = (uint8_t)tok_num(a, &toks[3], 0xff, "size");
        if (w)
            op.val = tok_num(a, &toks[4], UINT64_MAX, "value");
        break;
    }
    case HV_OP_PIO_READ:
    case HV_OP_PIO_WRITE: {
        bool w = op.code == HV_OP_PIO_WRITE;
        want_args(a, toks, nt, w ? 4 : 3,
                  w ? "pio_write REGION OFF SIZE VAL" : "pio_read REGION OFF SIZE");
        op.region = parse_region(a, &toks[1], l->pio, l->npio, "pio region");
        op.off = (uint32_t)tok_num(a, &toks[2], 0xffff, "offset");
        op.size = (uint8_t)tok_num(a, &toks[3], 0xff, "size");
        if (w)
            op.val = tok_num(a, &toks[4], 0xffffffffu, "value");
        break;
    }
    case HV_OP_CFG_READ:
    case HV_OP_CFG_WRITE: {
        bool w = op.code == HV_OP_CFG_WRITE;
        want_args(a, toks, nt, w ? 4 : 3,
                  w ? "pci_cfg_write DEV OFF SIZE VAL" : "pci_cfg_read DEV OFF SIZE");
        op.region = parse_dev(a, &toks[1]);
        op.off = (uint32_t)tok_num(a, &toks[2], 0xff, "offset");
        op.size = (uint8_t)tok_num(a, &toks[3], 0xff, "size");
        if (w)
            op.val = tok_num(a, &toks[4], 0xffffffffu, "value");
        break;
    }
    case HV_OP_DMA_WRITE:
        want_args(a, toks, nt, 2, "dma_write OFF DATA");
        op.off = (uint32_t)tok_num(a, &toks[1], 0xffffffffu, "offset");
        parse_data(a, toks[2].s, toks[2].n, toks[2].col, &a->tmp);
        op.len = (uint32_t)a->tmp.n;
        op.data = a->tmp.p;
        break;
    case HV_OP_DMA_FILL:
        want_args(a, toks, nt, 3, "dma_fill OFF LEN BYTE");
        op.off = (uint32_t)tok_num(a, &toks[1], 0xffffffffu, "offset");
        op.len = (uint32_t)tok_num(a, &toks[2], 0xffff, "length");
        op.val = tok_num(a, &toks[3], 0xff, "byte");
        break;
    case HV_OP_CLOCK_ADVANCE:
        want_args(a, toks, nt, 1, "clock_advance NS");
        op.val = tok_num(a, &toks[1], 0xffffffffu, "nanoseconds");
        break;
    case HV_OP_RX_INJECT:
        want_args(a, toks, nt, 1, "rx_inject DATA");
        parse_data(a, toks[1].s, toks[1].n, toks[1].col, &a->tmp);
        op.len = (uint32_t)a->tmp.n;
        op.data = a->tmp.p;
        break;
    case HV_OP_VIRTQ_SETUP:
        asm_virtq_setup(a, toks, nt, &op);
        break;
    case HV_OP_VIRTQ_SUBMIT:
        asm_virtq_submit(a, toks, nt, &op);
        break;
    }
    emit(a, &op, m->col);
}

uint8_t *hv_asm(const struct hv_layout *l, const char *fname, const char *text,
                size_t len, size_t *out_len, char *err, size_t errsz)
{
    struct asm_ctx *a = calloc(1, sizeof *a);
    if (!a) {
        if (errsz)
            snprintf(err, errsz, "%s: error: out of memory", fname);
        return NULL;
    }
    a->l = l;
    a->fname = fname ? fname : "<input>";
    a->err = err;
    a->errsz = errsz;
    if (errsz)
        err[0] = 0;

    if (setjmp(a->fail)) {
        free(a->out.p);
        free(a->tmp.p);
        free(a->pay.p);
        free(a);
        return NULL;
    }
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        a->line++;
        for (size_t i = pos; i < end; i++)
            if (text[i] == 0)
                asm_error(a, (unsigned)(i - pos) + 1, "NUL byte in text");
        asm_line(a, text + pos, end - pos);
        if (a->out.oom || a->tmp.oom)
            asm_error(a, 1, "out of memory");
        pos = end + 1;
    }
    uint8_t *p = a->out.p ? a->out.p : malloc(1);
    *out_len = a->out.n;
    free(a->tmp.p);
    free(a->pay.p);
    free(a);
    return p;
}
