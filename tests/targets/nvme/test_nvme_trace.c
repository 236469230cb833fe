/*
 * Replay QEMU 7.2's real-driver NVMe trace (SeaBIOS, then Linux 6.1's nvme
 * driver; data/README.txt) against the model, in order.
 *
 * Checked:
 *  - every PCI config read below 0x100 and every MMIO read of BAR0
 *    (registers, MSI-X table) returns what QEMU returned; config reads at
 *    0x100 and above (PCIe extended space, 0 in QEMU) are skipped: the
 *    common PCI layer models 256 bytes only;
 *  - every command: its submission entry is rebuilt from the trace events
 *    that QEMU printed for it (admin_cmd/io_cmd: opcode, cid, nsid, sqid;
 *    identify: cns, cntid, csi, nsid; create_sq/cq: address, qid, size,
 *    flags, vector, cqid; del_sq/cq: qid; get_log: lid, lsp, rae, length,
 *    offset; setfeat: fid, save, nsid, cdw11 and the timestamp value as the
 *    data; dbbuf_config: both buffers; read/write: nsid, slba, nlb; map_prp:
 *    PRP1/PRP2), written into the SQ, and the doorbell write is replayed;
 *    then each completion QEMU enqueued (enqueue_req_completion: cid, dw0,
 *    status) must be in the model's CQ, in order, with the right phase, and
 *    nothing more;
 *  - interrupts: the MSI-X vectors the model signals during a doorbell
 *    write are exactly QEMU's irq_msix lines; an irq_pin line means the
 *    INTx pin is asserted afterwards; irq_masked means no interrupt;
 *  - shadow doorbells: after Doorbell Buffer Config the test writes the
 *    I/O queues' doorbell values into the shadow buffer before each MMIO
 *    doorbell write (as Linux does); the model's event index for each SQ
 *    must equal QEMU's last eventidx_sq value;
 *  - data: the guest's two 4 KiB writes get a known pattern, and every read
 *    returns that pattern for written blocks and zeroes elsewhere.
 * Not checked: the contents of identify/log data (not in the trace); the
 *  get-log NSID is not in the trace either: FFFFFFFFh is used for SMART,
 *  0 for the others (what Linux sends).
 * Guest addresses (queues, PRPs, shadow buffers) are relocated into a 4 MiB
 * DMA window; the register writes of ASQ/ACQ carry the relocated values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv_test.h"
#include "hv_trace.h"
#include "targets/common/hv_device.h"
#include "targets/nvme/nvme.h"
#include "targets/nvme/nvme_regs.h"

#ifndef NT_TRACE_FILE
#error "NT_TRACE_FILE must name the trace"
#endif

#define TR_BDF 0x08
#define TR_BAR0 0xfebf8000ull
#define TR_WIN_SIZE (4u << 20)
#define TR_MAX_LINES 4096
#define TR_MAX_RELOC 128
#define TR_MAX_WRITES 16

struct reloc {
    uint64_t guest, size, win;
};

struct shadow_q {
    bool valid;
    uint64_t base;
    uint32_t size, pos; /* SQ: tail; CQ: next entry the test reads */
    uint8_t phase;
};

struct written {
    uint64_t off, len; /* disk bytes */
};

struct replay {
    hv_machine *m;
    hv_dev *d;
    char *lines[TR_MAX_LINES];
    unsigned nlines, line;
    struct reloc rel[TR_MAX_RELOC];
    unsigned nrel;
    uint64_t next_free;
    uint32_t aqa;
    uint64_t asq, acq; /* relocated */
    bool enabled, dbbuf;
    uint64_t dbs, eis;
    struct shadow_q sq[65], cq[65];
    struct written wr[TR_MAX_WRITES];
    unsigned nwr;
    unsigned msix[64], nmsix;
    unsigned cfg_reads, cfg_skipped, mmio_reads, writes, cmds, cqes, irqs,
        eventidx, data_checks, mismatches;
};

static void fail(struct replay *r, const char *what, unsigned long long want,
                 unsigned long long got)
{
    r->mismatches++;
    fprintf(stderr, "%s:%u: %s: QEMU 0x%llx, model 0x%llx\n", NT_TRACE_FILE,
            r->line + 1, what, want, got);
}

/* ---- guest memory ------------------------------------------------------- */

static uint64_t reloc(struct replay *r, uint64_t guest, uint64_t size)
{
    uint64_t page = guest & ~0xfffull;
    uint64_t span = ((guest - page) + size + 0xfff) & ~0xfffull;

    for (unsigned i = 0; i < r->nrel; i++) {
        const struct reloc *e = &r->rel[i];
        if (guest >= e->guest && guest + size <= e->guest + e->size)
            return e->win + (guest - e->guest);
    }
    if (r->nrel == TR_MAX_RELOC || r->next_free + span > TR_WIN_SIZE) {
        fprintf(stderr, "relocation space exhausted\n");
        exit(2);
    }
    r->rel[r->nrel++] = (struct reloc){page, span,
                                       HV_DMA_WINDOW_BASE + r->next_free};
    r->next_free += span;
    return HV_DMA_WINDOW_BASE + r->next_free - span + (guest - page);
}

static void put32(hv_machine *m, uint64_t gpa, uint32_t v)
{
    uint8_t b[4];

    hv_st_le(b, 4, v);
    hv_mem_write(m, gpa, b, 4);
}

static uint32_t get32(hv_machine *m, uint64_t gpa)
{
    uint8_t b[4];

    hv_mem_read(m, gpa, b, 4);
    return hv_ld_le(b, 4);
}

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)(off ^ (off >> 8) ^ (off >> 16) ^ 0x5a);
}

/* ---- trace capture (interrupts) ------------------------------------------ */

static void on_trace(void *opaque, const char *line)
{
    struct replay *r = opaque;
    unsigned v;

    if (sscanf(line, "irq nvme msix vector=%u", &v) == 1 && r->nmsix < 64)
        r->msix[r->nmsix++] = v;
}

/* ---- config space ------------------------------------------------------- */

static void cfg_read(struct replay *r, unsigned off, uint32_t want)
{
    uint32_t got;

    if (off >= HV_PCI_CFG_SIZE) {
        r->cfg_skipped++;
        return;
    }
    r->cfg_reads++;
    if (!hv_trace_cfg_read_matches(r->m, TR_BDF, off, want, &got))
        fail(r, "pci_cfg_read", want, got);
}

static unsigned cfg_write_size(unsigned off)
{
    if (off == HV_PCI_COMMAND || off == 0x42 || off == 0x88)
        return 2;
    if (off == HV_PCI_INTERRUPT_LINE)
        return 1;
    return off % 4 == 0 ? 4 : off % 2 == 0 ? 2 : 1;
}

/* ---- one command, rebuilt from its trace events -------------------------- */

struct cmd {
    uint8_t sqe[64];
    bool is_write, is_read, is_dbbuf;
    uint64_t data_win, data_off, data_len;
    bool has_ts;
    uint64_t ts;
    int create_cq, create_sq, del_sq, del_cq; /* qid or -1 */
    uint32_t new_q_size;
    uint16_t new_sq_cqid;
    uint64_t new_q_base;
};

static bool starts(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static bool is_access(const char *s)
{
    return starts(s, "cfgr ") || starts(s, "cfgw ") || starts(s, "mr ") ||
           starts(s, "mw ");
}

static bool is_cmd_start(const char *s)
{
    return starts(s, "admin_cmd ") || starts(s, "io_cmd ");
}

static void map_prp(struct replay *r, struct cmd *c, const char *s)
{
    unsigned trans, len;
    unsigned long long p1, p2;

    if (sscanf(s, "map_prp trans_len %u len %u prp1 0x%llx prp2 0x%llx", &trans,
               &len, &p1, &p2) != 4)
        return;
    c->data_win = reloc(r, p1, trans);
    c->data_len = len;
    hv_st_le(c->sqe + 24, 8, c->data_win);
    if (p2 && len > trans)
        hv_st_le(c->sqe + 32, 8, reloc(r, p2, len - trans));
}

static void sqe_cdw(struct cmd *c, unsigned n, uint32_t v)
{
    hv_st_le(c->sqe + 40 + 4 * (n - 10), 4, v);
}

static void parse_create(struct replay *r, struct cmd *c, const char *s)
{
    unsigned long long a;
    unsigned qid, cqid, vector, qsize, qflags, ien;

    if (sscanf(s, "create_cq create completion queue, addr=0x%llx, cqid=%u, "
                  "vector=%u, qsize=%u, qflags=%u, ien=%u",
               &a, &qid, &vector, &qsize, &qflags, &ien) == 6) {
        c->new_q_base = reloc(r, a, (qsize + 1ull) * 16);
        hv_st_le(c->sqe + 24, 8, c->new_q_base);
        sqe_cdw(c, 10, qid | qsize << 16);
        sqe_cdw(c, 11, qflags | vector << 16);
        c->create_cq = (int)qid;
        c->new_q_size = qsize + 1;
    } else if (sscanf(s, "create_sq create submission queue, addr=0x%llx, "
                         "sqid=%u, cqid=%u, qsize=%u, qflags=%u",
                      &a, &qid, &cqid, &qsize, &qflags) == 5) {
        c->new_q_base = reloc(r, a, (qsize + 1ull) * 64);
        hv_st_le(c->sqe + 24, 8, c->new_q_base);
        sqe_cdw(c, 10, qid | qsize << 16);
        sqe_cdw(c, 11, qflags | cqid << 16);
        c->create_sq = (int)qid;
        c->new_q_size = qsize + 1;
        c->new_sq_cqid = (uint16_t)cqid;
    }
}

static void parse_identify(struct cmd *c, const char *s)
{
    unsigned cid, cns, cntid, csi, nsid;

    if (sscanf(s, "identify cid %u cns 0x%x ctrlid %u csi 0x%x", &cid, &cns,
               &cntid, &csi) == 4) {
        sqe_cdw(c, 10, cns | cntid << 16);
        sqe_cdw(c, 11, csi << 24); /* CSI: CDW11[31:24] */
    } else if (sscanf(s, "identify_ns nsid %u", &nsid) == 1 ||
               sscanf(s, "identify_nslist nsid %u", &nsid) == 1 ||
               sscanf(s, "identify_ns_descr_list nsid %u", &nsid) == 1 ||
               sscanf(s, "identify_ns_csi nsid=%u", &nsid) == 1) {
        hv_st_le(c->sqe + 4, 4, nsid);
    }
}

static void parse_admin_detail(struct replay *r, struct cmd *c, const char *s)
{
    unsigned cid, lid, lsp, rae, len, nsid, fid, save, cdw11, qid;
    unsigned long long off, a, b;

    if (sscanf(s, "get_log cid %u lid 0x%x lsp 0x%x rae 0x%x len %u off %llu",
               &cid, &lid, &lsp, &rae, &len, &off) == 6) {
        uint32_t numd = len / 4 - 1;
        sqe_cdw(c, 10, lid | lsp << 8 | rae << 15 | (numd & 0xffff) << 16);
        sqe_cdw(c, 11, numd >> 16);
        sqe_cdw(c, 12, (uint32_t)off);
        sqe_cdw(c, 13, (uint32_t)(off >> 32));
        hv_st_le(c->sqe + 4, 4, lid == NVME_LOG_SMART_INFO ? 0xffffffffu : 0);
    } else if (sscanf(s, "setfeat cid %u nsid 0x%x fid 0x%x save 0x%x cdw11 0x%x",
                      &cid, &nsid, &fid, &save, &cdw11) == 5) {
        hv_st_le(c->sqe + 4, 4, nsid);
        sqe_cdw(c, 10, fid | save << 31);
        sqe_cdw(c, 11, cdw11);
    } else if (sscanf(s, "setfeat_timestamp set feature timestamp = 0x%llx",
                      &a) == 1) {
        c->has_ts = true;
        c->ts = a;
    } else if (sscanf(s, "dbbuf_config dbs_addr=0x%llx eis_addr=0x%llx", &a,
                      &b) == 2) {
        r->dbs = reloc(r, a, 4096);
        r->eis = reloc(r, b, 4096);
        hv_st_le(c->sqe + 24, 8, r->dbs);
        hv_st_le(c->sqe + 32, 8, r->eis);
        c->is_dbbuf = true;
    } else if (sscanf(s, "del_sq deleting submission queue sqid=%u", &qid) == 1) {
        sqe_cdw(c, 10, qid);
        c->del_sq = (int)qid;
    } else if (sscanf(s, "del_cq deleted completion queue, cqid=%u", &qid) == 1) {
        sqe_cdw(c, 10, qid);
        c->del_cq = (int)qid;
    } else if (starts(s, "create_")) {
        parse_create(r, c, s);
    } else if (starts(s, "identify")) {
        parse_identify(c, s);
    }
}

static void parse_io_detail(struct cmd *c, const char *s)
{
    unsigned cid, nsid, nlb, count;
    unsigned long long lba;
    bool w = starts(s, "write ");

    if ((w || starts(s, "read ")) &&
        sscanf(s + (w ? 6 : 5), "cid %u nsid %u nlb %u count %u lba 0x%llx",
               &cid, &nsid, &nlb, &count, &lba) == 5) {
        sqe_cdw(c, 10, (uint32_t)lba);
        sqe_cdw(c, 11, (uint32_t)(lba >> 32));
        sqe_cdw(c, 12, nlb - 1);
        c->data_off = lba * 512;
        c->is_write = w;
        c->is_read = !w;
    }
}

/* Lines [from, to) are one command's events. */
static void build_cmd(struct replay *r, struct cmd *c, unsigned from,
                      unsigned to)
{
    const char *h = r->lines[from];
    unsigned cid, sqid, opc, nsid;
    bool io = starts(h, "io_cmd ");

    memset(c, 0, sizeof(*c));
    c->create_cq = c->create_sq = c->del_sq = c->del_cq = -1;
    if (io && sscanf(h, "io_cmd cid %u nsid 0x%x sqid %u opc 0x%x", &cid, &nsid,
                     &sqid, &opc) == 4) {
        hv_st_le(c->sqe + 4, 4, nsid);
    } else if (!io && sscanf(h, "admin_cmd cid %u sqid %u opc 0x%x", &cid,
                             &sqid, &opc) != 3) {
        return;
    }
    c->sqe[0] = (uint8_t)opc;
    hv_st_le(c->sqe + 2, 2, cid);
    for (unsigned i = from + 1; i < to; i++) {
        if (starts(r->lines[i], "map_prp "))
            map_prp(r, c, r->lines[i]);
        else if (io)
            parse_io_detail(c, r->lines[i]);
        else
            parse_admin_detail(r, c, r->lines[i]);
    }
}

static bool range_written(const struct replay *r, uint64_t off)
{
    for (unsigned i = 0; i < r->nwr; i++)
        if (off >= r->wr[i].off && off < r->wr[i].off + r->wr[i].len)
            return true;
    return false;
}

static void prepare_data(struct replay *r, const struct cmd *c)
{
    uint8_t buf[4096];

    if (c->has_ts) {
        hv_st_le(buf, 8, c->ts);
        hv_mem_write(r->m, c->data_win, buf, 8);
    }
    if (c->is_write && c->data_len <= sizeof(buf)) {
        for (unsigned k = 0; k < c->data_len; k++)
            buf[k] = pattern(c->data_off + k);
        hv_mem_write(r->m, c->data_win, buf, c->data_len);
        if (r->nwr < TR_MAX_WRITES)
            r->wr[r->nwr++] = (struct written){c->data_off, c->data_len};
    }
    if (c->is_read && c->data_len <= sizeof(buf))
        hv_mem_fill(r->m, c->data_win, 0xa5, c->data_len);
}

static void check_read_data(struct replay *r, const struct cmd *c)
{
    uint8_t buf[4096];
    unsigned bad = 0;

    if (!c->is_read || c->data_len > sizeof(buf))
        return;
    hv_mem_read(r->m, c->data_win, buf, c->data_len);
    for (unsigned k = 0; k < c->data_len; k++) {
        uint64_t off = c->data_off + k;
        uint8_t want = range_written(r, off) ? pattern(off) : 0;
        bad += buf[k] != want;
    }
    r->data_checks++;
    if (bad)
        fail(r, "read data: bytes differing", 0, bad);
}

/* Test-side queue bookkeeping once QEMU said the command succeeded. */
static void apply_cmd(struct replay *r, const struct cmd *c)
{
    if (c->create_cq >= 0)
        r->cq[c->create_cq] = (struct shadow_q){true, c->new_q_base,
                                                c->new_q_size, 0, 1};
    if (c->create_sq >= 0)
        r->sq[c->create_sq] = (struct shadow_q){true, c->new_q_base,
                                                c->new_q_size, 0, 0};
    if (c->del_sq >= 0)
        r->sq[c->del_sq].valid = false;
    if (c->del_cq >= 0)
        r->cq[c->del_cq].valid = false;
    if (c->is_dbbuf)
        r->dbbuf = true;
}

/* ---- completions, interrupts, event indexes ------------------------------- */

static void check_cqe(struct replay *r, const char *s)
{
    unsigned cid, cqid, dw0, dw1, status;
    struct shadow_q *q;
    uint8_t e[16];

    if (sscanf(s, "enqueue_req_completion cid %u cqid %u dw0 0x%x dw1 0x%x status 0x%x",
               &cid, &cqid, &dw0, &dw1, &status) != 5 || cqid > 64)
        return;
    q = &r->cq[cqid];
    r->cqes++;
    if (!q->valid) {
        fail(r, "completion on a CQ the test does not know", cqid, 0);
        return;
    }
    hv_mem_read(r->m, q->base + (uint64_t)q->pos * 16, e, sizeof(e));
    if ((hv_ld_le(e + 14, 2) & 1) != q->phase) {
        fail(r, "no completion (phase)", q->phase, hv_ld_le(e + 14, 2) & 1);
        return;
    }
    if (hv_ld_le(e + 12, 2) != cid)
        fail(r, "completion cid", cid, hv_ld_le(e + 12, 2));
    if (hv_ld_le(e, 4) != dw0)
        fail(r, "completion dw0", dw0, hv_ld_le(e, 4));
    if (hv_ld_le(e + 4, 4) != dw1)
        fail(r, "completion dw1", dw1, hv_ld_le(e + 4, 4));
    if (hv_ld_le(e + 14, 2) >> 1 != status)
        fail(r, "completion status", status, hv_ld_le(e + 14, 2) >> 1);
    if (++q->pos == q->size) {
        q->pos = 0;
        q->phase ^= 1;
    }
}

static void check_no_more_cqes(struct replay *r)
{
    for (unsigned i = 0; i < 65; i++) {
        const struct shadow_q *q = &r->cq[i];
        uint8_t e[16];

        if (!q->valid)
            continue;
        hv_mem_read(r->m, q->base + (uint64_t)q->pos * 16, e, sizeof(e));
        if ((hv_ld_le(e + 14, 2) & 1) == q->phase)
            fail(r, "unexpected completion, cq", i, hv_ld_le(e + 12, 2));
    }
}

static void check_irqs(struct replay *r, unsigned from, unsigned to)
{
    unsigned want[64], nwant = 0, v;
    bool pin = false;

    for (unsigned i = from; i < to; i++) {
        const char *s = r->lines[i];
        if (sscanf(s, "irq_msix raising MSI-X IRQ vector %u", &v) == 1 && nwant < 64)
            want[nwant++] = v;
        else if (starts(s, "irq_pin"))
            pin = true;
    }
    r->irqs += nwant + pin;
    if (nwant != r->nmsix)
        fail(r, "MSI-X interrupts", nwant, r->nmsix);
    for (unsigned i = 0; i < nwant && i < r->nmsix; i++)
        if (want[i] != r->msix[i])
            fail(r, "MSI-X vector", want[i], r->msix[i]);
    if (pin && !r->d->intx_level)
        fail(r, "INTx asserted", 1, 0);
}

static void check_eventidx(struct replay *r, unsigned from, unsigned to)
{
    unsigned last[65], sqid, v;
    bool seen[65] = {false};

    for (unsigned i = from; i < to; i++)
        if (sscanf(r->lines[i], "eventidx_sq sqid %u new_eventidx %u", &sqid,
                   &v) == 2 && sqid < 65) {
            last[sqid] = v;
            seen[sqid] = true;
        }
    for (unsigned q = 0; q < 65; q++) {
        if (!seen[q])
            continue;
        r->eventidx++;
        if (get32(r->m, r->eis + 8ull * q) != last[q])
            fail(r, "event index", last[q], get32(r->m, r->eis + 8ull * q));
    }
}

/* ---- doorbells -------------------------------------------------------------- */

static unsigned group_end(const struct replay *r, unsigned from)
{
    unsigned i = from;

    while (i < r->nlines && !is_access(r->lines[i]))
        i++;
    return i;
}

static void sq_doorbell(struct replay *r, uint64_t addr, uint32_t val,
                        unsigned size, unsigned qid)
{
    unsigned from = r->line + 1, to = group_end(r, from), ncmd = 0;
    struct shadow_q *sq = &r->sq[qid];
    struct cmd cmds[16];

    for (unsigned i = from; i < to; i++) {
        unsigned end = i + 1;
        if (!is_cmd_start(r->lines[i]))
            continue;
        while (end < to && !is_cmd_start(r->lines[end]))
            end++;
        if (ncmd < 16 && sq->valid) {
            struct cmd *c = &cmds[ncmd++];
            build_cmd(r, c, i, end);
            prepare_data(r, c);
            hv_mem_write(r->m, sq->base + (uint64_t)sq->pos * 64, c->sqe, 64);
            sq->pos = (sq->pos + 1) % sq->size;
        }
    }
    r->cmds += ncmd;
    if (sq->valid && sq->pos != val)
        fail(r, "doorbell vs commands in the trace", val, sq->pos);
    if (r->dbbuf && qid)
        put32(r->m, r->dbs + 8ull * qid, val);
    r->nmsix = 0;
    hv_bus_mmio_write(r->m, addr, size, val);
    for (unsigned i = from; i < to; i++)
        if (starts(r->lines[i], "enqueue_req_completion "))
            check_cqe(r, r->lines[i]);
    check_no_more_cqes(r);
    check_irqs(r, from, to);
    for (unsigned i = 0; i < ncmd; i++) {
        check_read_data(r, &cmds[i]);
        apply_cmd(r, &cmds[i]);
    }
    if (r->dbbuf)
        check_eventidx(r, from, to);
}

static void cc_written(struct replay *r, uint32_t val)
{
    if (!(val & NVME_CC_EN)) {
        if (r->enabled) {
            memset(r->sq, 0, sizeof(r->sq));
            memset(r->cq, 0, sizeof(r->cq));
            r->dbbuf = false;
        }
        r->enabled = false;
        return;
    }
    if (r->enabled)
        return;
    r->enabled = true;
    r->sq[0] = (struct shadow_q){true, r->asq, NVME_AQA_ASQS(r->aqa) + 1, 0, 0};
    r->cq[0] = (struct shadow_q){true, r->acq, NVME_AQA_ACQS(r->aqa) + 1, 0, 1};
}

static void reg_write(struct replay *r, uint64_t addr, uint64_t val,
                      unsigned size)
{
    uint64_t off = addr - TR_BAR0;

    if (off == NVME_REG_AQA)
        r->aqa = (uint32_t)val;
    if (off == NVME_REG_ASQ)
        val = r->asq = reloc(r, val, (NVME_AQA_ASQS(r->aqa) + 1ull) * 64);
    if (off == NVME_REG_ACQ)
        val = r->acq = reloc(r, val, (NVME_AQA_ACQS(r->aqa) + 1ull) * 16);
    if (off >= NVME_DB_BASE && off < NVME_REG_REGION_SIZE) {
        unsigned qid = (unsigned)((off - NVME_DB_BASE) >> 3);
        bool cq = (off >> 2) & 1;
        if (!cq && qid < 65) {
            sq_doorbell(r, addr, (uint32_t)val, size, qid);
            return;
        }
        if (cq && qid && r->dbbuf)
            put32(r->m, r->dbs + 8ull * qid + 4, (uint32_t)val);
    }
    hv_bus_mmio_write(r->m, addr, size, val);
    if (off == NVME_REG_CC)
        cc_written(r, (uint32_t)val);
}

static void replay_line(struct replay *r, const char *s)
{
    unsigned off, v, size;
    unsigned long long addr, val;
    char region[32];

    if (sscanf(s, "cfgr 0x%x 0x%x", &off, &v) == 2) {
        cfg_read(r, off, v);
    } else if (sscanf(s, "cfgw 0x%x 0x%x", &off, &v) == 2) {
        r->writes++;
        hv_bus_cfg_write(r->m, TR_BDF, off, cfg_write_size(off), v);
    } else if (sscanf(s, "mr 0x%llx 0x%llx %u %31s", &addr, &val, &size,
                      region) == 4) {
        uint64_t got = hv_bus_mmio_read(r->m, addr, size);
        r->mmio_reads++;
        if (got != val)
            fail(r, region, val, got);
    } else if (sscanf(s, "mw 0x%llx 0x%llx %u %31s", &addr, &val, &size,
                      region) == 4) {
        r->writes++;
        if (strcmp(region, "nvme") == 0)
            reg_write(r, addr, val, size);
        else
            hv_bus_mmio_write(r->m, addr, size, val);
    }
}

static void load(struct replay *r)
{
    char buf[512];
    FILE *f = fopen(NT_TRACE_FILE, "r");

    if (!f) {
        perror(NT_TRACE_FILE);
        exit(1);
    }
    while (r->nlines < TR_MAX_LINES && fgets(buf, sizeof(buf), f)) {
        buf[strcspn(buf, "\n")] = 0;
        r->lines[r->nlines++] = strdup(buf);
    }
    fclose(f);
}

int main(void)
{
    static struct replay r;
    struct hv_machine_config cfg = {.dma_size = TR_WIN_SIZE};

    load(&r);
    r.m = hv_machine_create(&cfg);
    r.d = nvme_create(r.m);
    if (!r.d || hv_machine_add(r.m, r.d, TR_BDF) < 0)
        return 2;
    hv_machine_reset(r.m); /* power-on: BARs unprogrammed, as for SeaBIOS */
    r.m->findings_fatal = false;
    hv_machine_set_trace(r.m, on_trace, &r);
    for (r.line = 0; r.line < r.nlines; r.line++)
        replay_line(&r, r.lines[r.line]);
    printf("replayed %u lines: %u config reads compared (%u above 0xff "
           "skipped), %u MMIO reads compared, %u writes, %u commands rebuilt, "
           "%u completions compared, %u interrupts, %u event indexes, "
           "%u read buffers checked\n",
           r.nlines, r.cfg_reads, r.cfg_skipped, r.mmio_reads, r.writes, r.cmds,
           r.cqes, r.irqs, r.eventidx, r.data_checks);
    CHECK_EQ(r.mismatches, 0);
    CHECK(r.cfg_reads >= 150);
    CHECK(r.mmio_reads >= 40);
    CHECK_EQ(r.cmds, 278 + 8);
    CHECK_EQ(r.cqes, 285);
    CHECK(r.data_checks >= 6);
    CHECK_EQ(r.m->findings, 0);
    /* where Linux left it: shut down (CSTS.RDY | SHST complete) */
    CHECK_EQ(hv_bus_mmio_read(r.m, TR_BAR0 + NVME_REG_CSTS, 4), 0x9);
    hv_machine_destroy(r.m);
    for (unsigned i = 0; i < r.nlines; i++)
        free(r.lines[i]);
    return hv_test_done("test_nvme_trace");
}
