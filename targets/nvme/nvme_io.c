/*
 * NVMe namespaces, data pointers and the NVM command set: NVMe base spec
 * 1.4 section 4.3 (PRP entries and lists), 4.4 (SGL: data block, segment,
 * last segment), 5.15.2.1 (identify namespace), 6.1 (NVM command set:
 * Flush 6.8, Read 6.9, Write 6.15, Write Zeroes 6.16, Compare 6.2,
 * Dataset Management 6.7, Verify 6.14). Status choices follow QEMU 7.2:
 *  - NSID 0 or above NN (but not FFFFFFFFh): Invalid Namespace; an inactive
 *    NSID in range or FFFFFFFFh for anything but Flush: Invalid Field;
 *  - transfers above MDTS: Invalid Field; LBA range beyond NSZE: LBA Out of
 *    Range; a DMA the machine refuses (outside the DMA window, the
 *    controller's own BAR): Data Transfer Error with DNR;
 *  - Compare failure without DNR;
 *  - Dataset Management skips ranges beyond the namespace (QEMU does);
 *  - with CC.CSS = admin only, every I/O command but Flush is an invalid
 *    opcode (QEMU selects no I/O command set then);
 *  - SGLs without Bit Bucket descriptors (QEMU 7.1 dropped them, SGLS bit
 *    16 clear): QEMU's segment walk and status codes, including Data SGL
 *    Length Invalid for a non-empty data block past the transfer;
 *  - Verify: LBA range and QEMU's size limit (VSL); no data is checked.
 * Deliberate differences: a PRP list may start at any qword of its page
 * and chains at the last entry of each list page (the spec's rule; QEMU
 * counts entries from the list start); SGL chains are bounded at
 * NVME_SGL_MAX_SEGMENTS segments (QEMU: unbounded); Copy (19h) is an
 * invalid opcode (QEMU implements it; out of scope). Write Uncorrectable
 * and the zoned commands are invalid opcodes in both.
 */
#include <stdlib.h>
#include <string.h>

#include "targets/nvme/nvme_int.h"

#define NVME_NSID_BROADCAST 0xffffffffu
#define NVME_RW_FUA (1u << 30)
#define NVME_DSM_AD (1u << 2)
#define NVME_DSM_RANGE_SIZE 16u

static const struct {
    uint16_t ms;
    uint8_t ds;
} nvme_lbaf[8] = {{0, 9}, {8, 9}, {16, 9}, {64, 9},
                  {0, 12}, {8, 12}, {16, 12}, {64, 12}};

static uint64_t ld64(const uint8_t *p)
{
    return hv_ld_le(p, 4) | (uint64_t)hv_ld_le(p + 4, 4) << 32;
}

/* ---- namespaces ------------------------------------------------------------ */

struct nvme_ns *nvme_ns_get(struct nvme_ctrl *n, uint32_t nsid)
{
    return nsid >= 1 && nsid <= n->nns ? &n->ns[nsid - 1] : NULL;
}

void nvme_ns_format(struct nvme_ns *ns, uint8_t lbaf)
{
    ns->flbas = lbaf;
    ns->lbads = nvme_lbaf[lbaf & 7].ds;
    ns->nsze = ns->blk->size >> ns->lbads;
}

void nvme_ns_identify(const struct nvme_ns *ns, uint8_t *id)
{
    hv_st_le(id + NVME_IDNS_NSZE, 8, ns->nsze);
    hv_st_le(id + NVME_IDNS_NCAP, 8, ns->nsze);
    hv_st_le(id + NVME_IDNS_NUSE, 8, ns->nsze);
    id[NVME_IDNS_NLBAF] = 7; /* 0's based: eight formats */
    id[NVME_IDNS_FLBAS] = ns->flbas;
    id[NVME_IDNS_DLFEAT] = 0x1; /* deallocated blocks read as zeroes */
    /* QEMU's default EUI-64: the 52:54:00 OUI, then the namespace id */
    hv_st_le(id + NVME_IDNS_EUI64, 8,
             __builtin_bswap64(0x5254000000000000ull | ns->nsid));
    for (unsigned i = 0; i < 8; i++) {
        hv_st_le(id + NVME_IDNS_LBAF + 4 * i, 2, nvme_lbaf[i].ms);
        id[NVME_IDNS_LBAF + 4 * i + 2] = nvme_lbaf[i].ds;
    }
}

/* ---- data pointers --------------------------------------------------------- */

#define NVME_DTE (NVME_DATA_TRANSFER_ERROR | NVME_DNR) /* QEMU sets DNR */

static bool sg_add(struct nvme_ctrl *n, uint64_t addr, uint32_t len)
{
    if (n->nsg >= NVME_SG_MAX)
        return false;
    n->sg[n->nsg++] = (struct nvme_sg){addr, len};
    return true;
}

static int read_prp_entry(struct nvme_ctrl *n, uint64_t addr, uint64_t *ent)
{
    uint8_t b[8];

    if (hv_dma_read(&n->dev, addr, b, sizeof(b)))
        return -1;
    *ent = ld64(b);
    return 0;
}

/* 4.3: PRP1 may have an offset; PRP2 is the second page or a list whose
 * last entry of every page points to the next list page. */
static uint16_t map_prp_list(struct nvme_ctrl *n, uint64_t list, uint64_t len)
{
    uint64_t ps = n->page_size, ent;

    if (list & 0x7)
        return NVME_INVALID_PRP_OFFSET | NVME_DNR;
    while (len) {
        if (!hv_budget(&n->dev, 1) || read_prp_entry(n, list, &ent))
            return NVME_DTE;
        if ((list & (ps - 1)) == ps - 8 && len > ps) {
            if (ent & (ps - 1))
                return NVME_INVALID_PRP_OFFSET | NVME_DNR;
            list = ent;
            continue;
        }
        if (ent & (ps - 1))
            return NVME_INVALID_PRP_OFFSET | NVME_DNR;
        if (!sg_add(n, ent, (uint32_t)(len < ps ? len : ps)))
            return NVME_INTERNAL_ERROR;
        len -= len < ps ? len : ps;
        list += 8;
    }
    return NVME_SUCCESS;
}

/* PRP1 = 0 is a valid address (QEMU maps it like any other). */
static uint16_t map_prp(struct nvme_ctrl *n, uint64_t prp1, uint64_t prp2,
                        uint64_t len)
{
    uint64_t ps = n->page_size;
    uint64_t first = ps - (prp1 & (ps - 1));

    if (first > len)
        first = len;
    sg_add(n, prp1, (uint32_t)first);
    len -= first;
    if (!len)
        return NVME_SUCCESS;
    if (len > ps)
        return map_prp_list(n, prp2, len);
    if (prp2 & (ps - 1))
        return NVME_INVALID_PRP_OFFSET | NVME_DNR;
    sg_add(n, prp2, (uint32_t)len);
    return NVME_SUCCESS;
}

/* `nd` descriptors that must all be Data Blocks (4.4; no Bit Bucket: QEMU
 * 7.2 dropped it and does not set SGLS bit 16). Zero-length blocks are
 * skipped; a non-empty block once the transfer is covered is an excess. */
static uint16_t sgl_data(struct nvme_ctrl *n, const uint8_t *d, uint32_t nd,
                         uint64_t *remaining)
{
    for (uint32_t i = 0; i < nd; i++, d += NVME_SGL_DESC_SIZE) {
        unsigned type = NVME_SGL_TYPE(d[15]);
        uint64_t addr = ld64(d), len = hv_ld_le(d + 8, 4), take;

        if (!hv_budget(&n->dev, 1))
            return NVME_DTE;
        if (type == NVME_SGL_SEGMENT || type == NVME_SGL_LAST_SEGMENT)
            return NVME_INVALID_NUM_SGL_DESCR | NVME_DNR;
        if (type != NVME_SGL_DATA_BLOCK || NVME_SGL_SUBTYPE(d[15]))
            return NVME_SGL_DESCR_TYPE_INVALID | NVME_DNR;
        if (!len)
            continue;
        if (!*remaining || addr > UINT64_MAX - len)
            return NVME_DATA_SGL_LEN_INVALID | NVME_DNR;
        take = len < *remaining ? len : *remaining;
        if (!sg_add(n, addr, (uint32_t)take))
            return NVME_INVALID_NUM_SGL_DESCR | NVME_DNR;
        *remaining -= take;
    }
    return NVME_SUCCESS;
}

/* SGL1 is a Data Block, or a (Last) Segment: each segment ending in a Data
 * Block is the last one; otherwise its last descriptor is the next
 * segment, which a Last Segment may not have (QEMU 7.2's walk and status
 * codes). Segments are bounded by NVME_SGL_MAX_SEGMENTS (QEMU: none). */
static uint16_t map_sgl(struct nvme_ctrl *n, const uint8_t *sgl1, uint64_t len)
{
    uint8_t d[NVME_SGL_DESC_SIZE];
    uint64_t remaining = len;
    uint16_t st = NVME_SUCCESS;

    memcpy(d, sgl1, sizeof(d));
    if (NVME_SGL_TYPE(d[15]) == NVME_SGL_DATA_BLOCK) {
        st = sgl_data(n, d, 1, &remaining);
        return st ? st
                  : remaining ? NVME_DATA_SGL_LEN_INVALID | NVME_DNR
                              : NVME_SUCCESS;
    }
    for (unsigned seg = 0;; seg++) {
        unsigned type = NVME_SGL_TYPE(d[15]);
        uint32_t seglen = hv_ld_le(d + 8, 4);
        uint32_t nd = seglen / NVME_SGL_DESC_SIZE;
        const uint8_t *last;

        if ((type != NVME_SGL_SEGMENT && type != NVME_SGL_LAST_SEGMENT) ||
            NVME_SGL_SUBTYPE(d[15]) || !seglen || seglen % NVME_SGL_DESC_SIZE)
            return NVME_INVALID_SGL_SEG_DESCR | NVME_DNR;
        if (nd > NVME_SGL_SEG_MAX_DESCR || seg == NVME_SGL_MAX_SEGMENTS)
            return NVME_INVALID_NUM_SGL_DESCR | NVME_DNR;
        if (hv_dma_read(&n->dev, ld64(d), n->sgl_seg, seglen))
            return NVME_DTE;
        last = n->sgl_seg + (nd - 1) * NVME_SGL_DESC_SIZE;
        if (NVME_SGL_TYPE(last[15]) == NVME_SGL_DATA_BLOCK) {
            st = sgl_data(n, n->sgl_seg, nd, &remaining);
            break;
        }
        if (type == NVME_SGL_LAST_SEGMENT)
            return NVME_INVALID_SGL_SEG_DESCR | NVME_DNR;
        st = sgl_data(n, n->sgl_seg, nd - 1, &remaining);
        if (st)
            return st;
        memcpy(d, last, sizeof(d));
    }
    if (st)
        return st;
    return remaining ? NVME_DATA_SGL_LEN_INVALID | NVME_DNR : NVME_SUCCESS;
}

uint16_t nvme_map_dptr(struct nvme_ctrl *n, const struct nvme_cmd *c,
                       uint64_t len)
{
    n->nsg = 0;
    if (len == 0)
        return NVME_SUCCESS;
    switch (NVME_PSDT(c->flags)) {
    case NVME_PSDT_PRP:
        return map_prp(n, c->prp1, c->prp2, len);
    case NVME_PSDT_SGL_MPTR_CONTIG:
    case NVME_PSDT_SGL_MPTR_SGL:
        return map_sgl(n, c->dptr, len);
    default:
        return NVME_INVALID_FIELD | NVME_DNR;
    }
}

uint16_t nvme_xfer(struct nvme_ctrl *n, uint8_t *buf, uint64_t len,
                   bool to_host)
{
    uint64_t off = 0;

    for (uint32_t i = 0; i < n->nsg && off < len; i++) {
        const struct nvme_sg *s = &n->sg[i];
        int rc;

        if (!hv_budget(&n->dev, 1))
            return NVME_DTE;
        rc = to_host ? hv_dma_write(&n->dev, s->addr, buf + off, s->len)
                     : hv_dma_read(&n->dev, s->addr, buf + off, s->len);
        if (rc)
            return NVME_DTE;
        off += s->len;
    }
    return NVME_SUCCESS;
}

uint16_t nvme_c2h(struct nvme_ctrl *n, const struct nvme_cmd *c,
                  const void *buf, uint64_t len)
{
    uint16_t st = nvme_map_dptr(n, c, len);

    return st ? st : nvme_xfer(n, (uint8_t *)buf, len, true);
}

uint16_t nvme_h2c(struct nvme_ctrl *n, const struct nvme_cmd *c, void *buf,
                  uint64_t len)
{
    uint16_t st = nvme_map_dptr(n, c, len);

    return st ? st : nvme_xfer(n, buf, len, false);
}

/* ---- NVM command set ------------------------------------------------------- */

static uint16_t check_bounds(const struct nvme_ns *ns, uint64_t slba,
                             uint64_t nlb)
{
    return slba > ns->nsze || nlb > ns->nsze - slba ? NVME_LBA_RANGE | NVME_DNR
                                                   : NVME_SUCCESS;
}

static uint64_t cmd_slba(const struct nvme_cmd *c)
{
    return c->cdw10 | (uint64_t)c->cdw11 << 32;
}

static uint16_t flush_ns(struct nvme_ns *ns)
{
    return hv_blk_flush(ns->blk) ? NVME_INTERNAL_ERROR : NVME_SUCCESS;
}

static uint16_t io_flush(struct nvme_ctrl *n, uint32_t nsid)
{
    struct nvme_ns *ns;
    uint16_t st = NVME_SUCCESS;

    if (nsid != NVME_NSID_BROADCAST) {
        ns = nvme_ns_get(n, nsid);
        return ns ? flush_ns(ns) : NVME_INVALID_FIELD | NVME_DNR;
    }
    for (unsigned i = 0; i < n->nns && !st; i++)
        st = flush_ns(&n->ns[i]);
    return st;
}

static void count_io(struct nvme_ctrl *n, bool write, uint64_t bytes)
{
    if (write) {
        n->stats.write_cmds++;
        n->stats.units_written += bytes / 512;
    } else {
        n->stats.read_cmds++;
        n->stats.units_read += bytes / 512;
    }
}

static uint16_t rw_data(struct nvme_ctrl *n, struct nvme_ns *ns,
                        const struct nvme_cmd *c, uint8_t *buf, uint64_t len)
{
    uint64_t off = cmd_slba(c) << ns->lbads;
    uint8_t *disk;
    uint16_t st;

    switch (c->opc) {
    case NVME_CMD_READ:
        if (hv_blk_read(ns->blk, off, buf, len))
            return NVME_INTERNAL_ERROR;
        return nvme_xfer(n, buf, len, true);
    case NVME_CMD_WRITE:
        st = nvme_xfer(n, buf, len, false);
        if (st)
            return st;
        if (hv_blk_write(ns->blk, off, buf, len) ||
            (((c->cdw12 & NVME_RW_FUA) || !n->feat.vwc) && hv_blk_flush(ns->blk)))
            return NVME_INTERNAL_ERROR;
        return NVME_SUCCESS;
    default: /* compare */
        st = nvme_xfer(n, buf, len, false);
        if (st)
            return st;
        disk = malloc(len);
        if (!disk)
            return NVME_INTERNAL_ERROR;
        st = hv_blk_read(ns->blk, off, disk, len) ? NVME_INTERNAL_ERROR
             : memcmp(buf, disk, len)             ? NVME_COMPARE_FAILURE
                                                  : NVME_SUCCESS;
        free(disk);
        return st;
    }
}

/* Read, Write, Compare: one bounce buffer of the exact transfer size. */
static uint16_t io_rw(struct nvme_ctrl *n, struct nvme_ns *ns,
                      const struct nvme_cmd *c)
{
    uint64_t nlb = (c->cdw12 & 0xffff) + 1u, len = nlb << ns->lbads;
    uint8_t *buf;
    uint16_t st;

    if (len > NVME_MAX_XFER)
        return NVME_INVALID_FIELD | NVME_DNR;
    st = check_bounds(ns, cmd_slba(c), nlb);
    if (!st)
        st = nvme_map_dptr(n, c, len);
    if (st)
        return st;
    buf = malloc(len);
    if (!buf)
        return NVME_INTERNAL_ERROR;
    st = rw_data(n, ns, c, buf, len);
    free(buf);
    if (!st && c->opc != NVME_CMD_COMPARE)
        count_io(n, c->opc == NVME_CMD_WRITE, len);
    return st;
}

/* Verify (6.14): no data transfer; the blocks are read (a RAM disk cannot
 * fail) and, without protection information, nothing is checked. QEMU's
 * limit is its Verify Size Limit (VSL 7: 2^7 memory pages); counted as a
 * read as QEMU's block accounting does. */
static uint16_t io_verify(struct nvme_ctrl *n, struct nvme_ns *ns,
                          const struct nvme_cmd *c)
{
    uint64_t nlb = (c->cdw12 & 0xffff) + 1u, len = nlb << ns->lbads;
    uint16_t st;

    if (len > (uint64_t)n->page_size << NVME_VSL)
        return NVME_INVALID_FIELD | NVME_DNR;
    st = check_bounds(ns, cmd_slba(c), nlb);
    if (!st)
        count_io(n, false, len);
    return st;
}

static uint16_t io_write_zeroes(struct nvme_ns *ns, const struct nvme_cmd *c)
{
    uint64_t slba = cmd_slba(c), nlb = (c->cdw12 & 0xffff) + 1u;
    uint16_t st = check_bounds(ns, slba, nlb);

    if (st)
        return st;
    return hv_blk_discard(ns->blk, slba << ns->lbads, nlb << ns->lbads)
               ? NVME_INTERNAL_ERROR
               : NVME_SUCCESS;
}

static uint16_t dsm_ranges(struct nvme_ctrl *n, struct nvme_ns *ns,
                           const uint8_t *r, uint32_t nr)
{
    for (uint32_t i = 0; i < nr; i++, r += NVME_DSM_RANGE_SIZE) {
        uint64_t nlb = hv_ld_le(r + 4, 4), slba = ld64(r + 8);

        if (!hv_budget(&n->dev, 1))
            return NVME_INTERNAL_ERROR;
        if (check_bounds(ns, slba, nlb))
            continue;
        if (hv_blk_discard(ns->blk, slba << ns->lbads, nlb << ns->lbads))
            return NVME_INTERNAL_ERROR;
    }
    return NVME_SUCCESS;
}

static uint16_t io_dsm(struct nvme_ctrl *n, struct nvme_ns *ns,
                       const struct nvme_cmd *c)
{
    uint32_t nr = (c->cdw10 & 0xff) + 1u;
    uint8_t *ranges;
    uint16_t st;

    if (!(c->cdw11 & NVME_DSM_AD))
        return NVME_SUCCESS;
    ranges = malloc((size_t)nr * NVME_DSM_RANGE_SIZE);
    if (!ranges)
        return NVME_INTERNAL_ERROR;
    st = nvme_h2c(n, c, ranges, (uint64_t)nr * NVME_DSM_RANGE_SIZE);
    if (!st)
        st = dsm_ranges(n, ns, ranges, nr);
    free(ranges);
    return st;
}

static bool io_opcode_supported(uint8_t opc)
{
    switch (opc) {
    case NVME_CMD_FLUSH:
    case NVME_CMD_WRITE:
    case NVME_CMD_READ:
    case NVME_CMD_COMPARE:
    case NVME_CMD_WRITE_ZEROES:
    case NVME_CMD_DSM:
    case NVME_CMD_VERIFY:
        return true;
    default:
        return false;
    }
}

static bool nsid_valid(uint32_t nsid)
{
    return nsid && (nsid == NVME_NSID_BROADCAST || nsid <= NVME_NN);
}

uint16_t nvme_io_cmd(struct nvme_ctrl *n, struct nvme_req *req)
{
    const struct nvme_cmd *c = &req->cmd;
    struct nvme_ns *ns;

    if (!nsid_valid(c->nsid))
        return NVME_INVALID_NSID | NVME_DNR;
    if (c->opc == NVME_CMD_FLUSH)
        return io_flush(n, c->nsid);
    ns = nvme_ns_get(n, c->nsid);
    if (!ns)
        return NVME_INVALID_FIELD | NVME_DNR;
    if (!io_opcode_supported(c->opc) ||
        NVME_CC_CSS(n->cc) == NVME_CC_CSS_ADMIN_ONLY)
        return NVME_INVALID_OPCODE | NVME_DNR;
    if (NVME_FUSE(c->flags))
        return NVME_INVALID_FIELD;
    switch (c->opc) {
    case NVME_CMD_READ:
    case NVME_CMD_WRITE:
    case NVME_CMD_COMPARE:
        return io_rw(n, ns, c);
    case NVME_CMD_WRITE_ZEROES:
        return io_write_zeroes(ns, c);
    case NVME_CMD_VERIFY:
        return io_verify(n, ns, c);
    default: /* NVME_CMD_DSM */
        return io_dsm(n, ns, c);
    }
}
