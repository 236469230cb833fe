/*
 * NVMe controller model, functional tests through the bus (as a guest
 * driver): PCI identity, registers and enable rules, identify data, data
 * paths (PRP1, PRP1+PRP2, PRP lists incl. a chained list, SGL data block /
 * segment / last segment, bit buckets refused), queue wrap and CQ-full
 * flow control, status codes for bad fields (QEMU 7.2's where it is
 * conformant), reset and shutdown, features, log pages, asynchronous
 * events (and their order against the command that raised them), shadow
 * doorbells, MSI-X and INTx, format, snapshot save/load.
 */
#include "ntest.h"

#define SC(x) ((uint16_t)(x))

/* ---- PCI and registers ------------------------------------------------------- */

static void test_pci_identity(void)
{
    hv_machine *m = nt_machine(NULL, NULL);

    CHECK_EQ(hv_bus_cfg_read(m, NT_BDF, 0x00, 4), 0x00101b36);
    CHECK_EQ(hv_bus_cfg_read(m, NT_BDF, 0x08, 4), 0x01080202);
    CHECK_EQ(hv_bus_cfg_read(m, NT_BDF, 0x2c, 4), 0x11001af4);
    CHECK_EQ(hv_bus_cfg_read(m, NT_BDF, 0x3d, 1), 1);
    CHECK_EQ(hv_bus_cfg_read(m, NT_BDF, 0x34, 1), 0x40);
    CHECK_EQ(hv_bus_cfg_read(m, NT_BDF, 0x40, 2), 0x8011);
    CHECK_EQ(hv_bus_cfg_read(m, NT_BDF, 0x42, 2), 64); /* 65 vectors */
    CHECK_EQ(hv_bus_cfg_read(m, NT_BDF, 0x44, 4), 0x2000);
    CHECK_EQ(hv_bus_cfg_read(m, NT_BDF, 0x48, 4), 0x3000);
    CHECK_EQ(hv_bus_cfg_read(m, NT_BDF, 0x80, 2), 0x6010);
    CHECK_EQ(hv_bus_cfg_read(m, NT_BDF, 0x60, 2), 0x0001);
    hv_bus_cfg_write(m, NT_BDF, 0x10, 4, 0xffffffff);
    CHECK_EQ(hv_bus_cfg_read(m, NT_BDF, 0x10, 4), 0xffffc004); /* 16 KiB, 64-bit */
    hv_bus_cfg_write(m, NT_BDF, 0x10, 4, (uint32_t)NT_BAR0);
    CHECK_EQ(hv_bus_mmio_read(m, NT_BAR0 + NVME_REG_CAP, 8), 0x004018200f0107ffull);
    CHECK_EQ(nt_reg(m, NVME_REG_VS), 0x10400);
    CHECK_EQ(nt_reg(m, NVME_REG_CSTS), 0);
    CHECK_EQ(nt_reg(m, NVME_REG_CMBSZ), 0);
    CHECK_EQ(nt_reg(m, NVME_REG_CMBLOC), 0);
    CHECK_EQ(nt_reg(m, NVME_DB_BASE), 0); /* doorbells read as zero */
    nt_wreg(m, NVME_REG_CAP, 0); /* read-only */
    CHECK_EQ(nt_reg(m, NVME_REG_CAP), 0x0f0107ff);
    hv_machine_destroy(m);
}

static void test_enable_rules(void)
{
    struct nt t;

    nt_init(&t, NULL);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), NVME_CSTS_RDY);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CC), NT_CC_DEFAULT | 1);
    CHECK_EQ(nt_reg(t.m, NVME_REG_AQA), 0x001f001f);
    CHECK_EQ(nt_reg(t.m, NVME_REG_ASQ), (uint32_t)NT_ASQ);
    /* bad IOSQES, MPS above MPSMAX, AQA of one entry, misaligned ASQ */
    CHECK_EQ(nt_enable_cc(&t, 32, 0x00450000), NVME_CSTS_CFS);
    CHECK_EQ(nt_enable_cc(&t, 32, NT_CC_DEFAULT | 5u << 7), NVME_CSTS_CFS);
    CHECK_EQ(nt_enable_cc(&t, 1, NT_CC_DEFAULT), NVME_CSTS_CFS);
    nt_wreg(t.m, NVME_REG_CC, 0);
    nt_wreg(t.m, NVME_REG_AQA, 0x001f001f);
    nt_wreg(t.m, NVME_REG_ASQ, (uint32_t)NT_ASQ + 0x200);
    nt_wreg(t.m, NVME_REG_CC, NT_CC_DEFAULT | 1);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), NVME_CSTS_CFS);
    /* ASQ = ACQ = 0: addresses like any other (QEMU 7.2 starts too) */
    nt_wreg(t.m, NVME_REG_CC, 0);
    nt_wreg(t.m, NVME_REG_ASQ, 0);
    nt_wreg(t.m, NVME_REG_ACQ, 0);
    nt_wreg(t.m, NVME_REG_CC, NT_CC_DEFAULT | 1);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), NVME_CSTS_RDY);
    /* recovers after CC.EN 1 -> 0 */
    CHECK_EQ(nt_enable_cc(&t, 32, NT_CC_DEFAULT), NVME_CSTS_RDY);
    /* shutdown notification */
    nt_wreg(t.m, NVME_REG_CC, NT_CC_DEFAULT | 1 | 1u << 14);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), NVME_CSTS_RDY | NVME_CSTS_SHST_COMPLETE);
    /* NVM subsystem reset: CAP.NSSRS is 0, so NSSR is reserved and even
     * "NVMe" has no effect (3.1.8; QEMU 7.2 ignores it too); CSTS is
     * read-only */
    nt_wreg(t.m, NVME_REG_NSSR, 0x12345678);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS) & NVME_CSTS_RDY, 1);
    nt_wreg(t.m, NVME_REG_NSSR, NVME_NSSR_RESET);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), NVME_CSTS_RDY | NVME_CSTS_SHST_COMPLETE);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CC), NT_CC_DEFAULT | 1 | 1u << 14);
    nt_wreg(t.m, NVME_REG_CSTS, 0xffffffff);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), NVME_CSTS_RDY | NVME_CSTS_SHST_COMPLETE);
    hv_machine_destroy(t.m);
}

/* ---- identify ------------------------------------------------------------------ */

static uint16_t identify(struct nt *t, uint8_t cns, uint32_t nsid, uint8_t csi,
                         uint8_t *out)
{
    uint8_t e[64];
    uint16_t st;

    hv_mem_fill(t->m, NT_DATA, 0xee, 4096);
    nt_sqe(e, NVME_ADM_IDENTIFY, nsid);
    nt_prp(e, NT_DATA, 0);
    nt_cdw(e, 10, cns);
    nt_cdw(e, 11, (uint32_t)csi << 24); /* CSI: CDW11[31:24] */
    st = nt_admin(t, e, NULL);
    hv_mem_read(t->m, NT_DATA, out, 4096);
    return st;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static void test_identify(void)
{
    struct nt t;
    uint8_t id[4096];

    nt_init(&t, NULL);
    CHECK_EQ(identify(&t, NVME_CNS_CTRL, 0, 0, id), 0);
    CHECK_EQ(hv_ld_le(id + NVME_IDC_VID, 2), 0x1b36);
    CHECK_EQ(hv_ld_le(id + NVME_IDC_SSVID, 2), 0x1af4);
    CHECK(memcmp(id + NVME_IDC_SN, "deadbeef            ", 20) == 0);
    CHECK(memcmp(id + NVME_IDC_MN, "QEMU NVMe Ctrl ", 15) == 0);
    CHECK_EQ(id[NVME_IDC_MDTS], 7);
    CHECK_EQ(hv_ld_le(id + NVME_IDC_VER, 4), 0x10400);
    CHECK_EQ(id[NVME_IDC_SQES], 0x66);
    CHECK_EQ(id[NVME_IDC_CQES], 0x44);
    CHECK_EQ(hv_ld_le(id + NVME_IDC_NN, 4), 256);
    CHECK_EQ(id[NVME_IDC_AERL], 3);
    CHECK(hv_ld_le(id + NVME_IDC_OACS, 2) & NVME_OACS_DBBUF);
    CHECK_EQ(hv_ld_le(id + NVME_IDC_SGLS, 4), 0x1); /* no bit bucket (QEMU 7.2) */
    CHECK(hv_ld_le(id + NVME_IDC_ONCS, 2) & NVME_ONCS_DSM);
    CHECK(memcmp(id + NVME_IDC_SUBNQN, "nqn.2019-08.org.qemu:deadbeef", 29) == 0);

    CHECK_EQ(identify(&t, NVME_CNS_NS, 1, 0, id), 0);
    CHECK_EQ(nt_get(t.m, NT_DATA + NVME_IDNS_NSZE, 8), 32768);
    CHECK_EQ(nt_get(t.m, NT_DATA + NVME_IDNS_NCAP, 8), 32768);
    CHECK_EQ(nt_get(t.m, NT_DATA + NVME_IDNS_NUSE, 8), 32768);
    CHECK_EQ(id[NVME_IDNS_NLBAF], 7);
    CHECK_EQ(id[NVME_IDNS_FLBAS], 0);
    CHECK_EQ(id[NVME_IDNS_LBAF + 2], 9);
    CHECK_EQ(id[NVME_IDNS_LBAF + 4 * 4 + 2], 12);
    CHECK_EQ(identify(&t, NVME_CNS_NS, 2, 0, id), 0);
    CHECK_EQ(nt_get(t.m, NT_DATA + NVME_IDNS_NSZE, 8), 256); /* 1 MiB / 4 KiB */
    CHECK_EQ(id[NVME_IDNS_FLBAS], 4);
    /* inactive NSID in range: zeroes; beyond NN or broadcast: invalid */
    CHECK_EQ(identify(&t, NVME_CNS_NS, 3, 0, id), 0);
    CHECK(all_zero(id, 4096));
    CHECK_EQ(identify(&t, NVME_CNS_NS, 256, 0, id), 0);
    CHECK_EQ(identify(&t, NVME_CNS_NS, 257, 0, id), NVME_INVALID_NSID | NVME_DNR);
    CHECK_EQ(identify(&t, NVME_CNS_NS, 0xffffffff, 0, id),
             NVME_INVALID_NSID | NVME_DNR);
    /* active lists */
    CHECK_EQ(identify(&t, NVME_CNS_NS_ACTIVE_LIST, 0, 0, id), 0);
    CHECK_EQ(hv_ld_le(id, 4), 1);
    CHECK_EQ(hv_ld_le(id + 4, 4), 2);
    CHECK_EQ(hv_ld_le(id + 8, 4), 0);
    CHECK_EQ(identify(&t, NVME_CNS_NS_ACTIVE_LIST, 1, 0, id), 0);
    CHECK_EQ(hv_ld_le(id, 4), 2);
    CHECK_EQ(identify(&t, NVME_CNS_NS_ACTIVE_LIST, 0xfffffffe, 0, id),
             NVME_INVALID_NSID | NVME_DNR);
    CHECK_EQ(identify(&t, NVME_CNS_CS_NS_ACTIVE_LIST, 0, 0, id), 0);
    CHECK_EQ(hv_ld_le(id, 4), 1);
    CHECK_EQ(identify(&t, NVME_CNS_CS_NS_ACTIVE_LIST, 0, 2, id),
             NVME_INVALID_FIELD | NVME_DNR);
    /* descriptor list: EUI-64 then CSI */
    CHECK_EQ(identify(&t, NVME_CNS_NS_DESCR_LIST, 1, 0, id), 0);
    CHECK_EQ(id[0], NVME_NIDT_EUI64);
    CHECK_EQ(id[1], 8);
    CHECK_EQ(id[12], NVME_NIDT_CSI);
    CHECK_EQ(id[13], 1);
    CHECK_EQ(identify(&t, NVME_CNS_NS_DESCR_LIST, 5, 0, id),
             NVME_INVALID_FIELD | NVME_DNR);
    /* CSI variants (what Linux 6.1 asks) */
    CHECK_EQ(identify(&t, NVME_CNS_CS_CTRL, 0, 0, id), 0);
    CHECK_EQ(id[0], 7);
    CHECK_EQ(identify(&t, NVME_CNS_CS_CTRL, 0, 2, id), NVME_INVALID_FIELD | NVME_DNR);
    CHECK_EQ(identify(&t, NVME_CNS_CS_NS, 1, 0, id), 0);
    CHECK(all_zero(id, 4096));
    CHECK_EQ(identify(&t, NVME_CNS_CS_NS, 1, 2, id), NVME_INVALID_FIELD | NVME_DNR);
    /* CNS 08h is NVMe 2.0 (reserved in 1.4; QEMU 7.2 rejects it too) */
    CHECK_EQ(identify(&t, 0x08, 1, 0, id), NVME_INVALID_FIELD | NVME_DNR);
    CHECK_EQ(identify(&t, 0x1f, 0, 0, id), NVME_INVALID_FIELD | NVME_DNR);
    hv_machine_destroy(t.m);
}

/* ---- data paths ------------------------------------------------------------------ */

/* Write `len` bytes at slba from gpa_w via the entry's data pointer, read
 * them back into a plain PRP buffer, compare. */
static void write_read(struct nt *t, uint8_t *w, uint32_t nsid, uint64_t slba,
                       uint32_t len, uint64_t wbuf, uint8_t seed)
{
    uint8_t r[64];
    uint32_t lbs = nsid == 2 ? 4096 : 512;
    uint64_t rbuf = NT_DATA + 0x20000;

    nt_fill_pattern(t->m, wbuf, len, seed);
    CHECK_EQ(nt_io(t, w), 0);
    hv_mem_fill(t->m, rbuf, 0, len);
    nt_rw(r, NVME_CMD_READ, nsid, slba, len / lbs);
    nt_prp(r, rbuf, rbuf + 0x1000);
    if (len > 0x2000) { /* PRP list for the read side */
        for (uint32_t i = 1; i < len / 0x1000; i++)
            nt_put(t->m, NT_LIST + 0x800 + 8 * (i - 1), 8, rbuf + 0x1000ull * i);
        nt_prp(r, rbuf, NT_LIST + 0x800);
    }
    CHECK_EQ(nt_io(t, r), 0);
    CHECK(nt_check_pattern(t->m, rbuf, len, seed));
}

static void test_prp(void)
{
    struct nt t;
    uint8_t w[64];

    nt_init(&t, NULL);
    nt_io_queues(&t, 16);
    /* PRP1 only, with an offset inside the page */
    nt_rw(w, NVME_CMD_WRITE, 1, 10, 1);
    nt_prp(w, NT_DATA + 0x200, 0);
    write_read(&t, w, 1, 10, 512, NT_DATA + 0x200, 1);
    /* PRP1 with offset + PRP2: 4 KiB across two pages */
    nt_rw(w, NVME_CMD_WRITE, 1, 100, 8);
    nt_prp(w, NT_DATA + 0xe00, NT_DATA + 0x1000);
    write_read(&t, w, 1, 100, 4096, NT_DATA + 0xe00, 2);
    /* PRP list: 16 KiB = PRP1 + a list of three */
    for (int i = 1; i < 4; i++)
        nt_put(t.m, NT_LIST + 8 * (i - 1), 8, NT_DATA + 0x1000ull * i);
    nt_rw(w, NVME_CMD_WRITE, 1, 200, 32);
    nt_prp(w, NT_DATA, NT_LIST);
    write_read(&t, w, 1, 200, 16384, NT_DATA, 3);
    /* chained list: it starts two entries before the end of its page, the
     * last entry of that page points to the next list page */
    nt_put(t.m, NT_LIST + 0xff0, 8, NT_DATA + 0x1000);
    nt_put(t.m, NT_LIST + 0xff8, 8, NT_LIST + 0x1000);
    nt_put(t.m, NT_LIST + 0x1000, 8, NT_DATA + 0x2000);
    nt_put(t.m, NT_LIST + 0x1008, 8, NT_DATA + 0x3000);
    nt_rw(w, NVME_CMD_WRITE, 1, 300, 32);
    nt_prp(w, NT_DATA, NT_LIST + 0xff0);
    write_read(&t, w, 1, 300, 16384, NT_DATA, 4);
    /* namespace 2, 4 KiB blocks */
    nt_rw(w, NVME_CMD_WRITE, 2, 7, 2);
    nt_prp(w, NT_DATA, NT_DATA + 0x1000);
    write_read(&t, w, 2, 7, 8192, NT_DATA, 5);
    /* bad PRPs */
    nt_rw(w, NVME_CMD_WRITE, 1, 0, 8);
    nt_prp(w, NT_DATA + 0x200, NT_DATA + 0x1100); /* PRP2 with an offset */
    CHECK_EQ(nt_io(&t, w), NVME_INVALID_PRP_OFFSET | NVME_DNR);
    /* PRP1 = 0 is an address like any other (QEMU), here outside the DMA
     * window; a refused DMA is a Data Transfer Error with DNR (QEMU) */
    nt_prp(w, 0, 0);
    CHECK_EQ(nt_io(&t, w), NVME_DATA_TRANSFER_ERROR | NVME_DNR);
    nt_prp(w, 0x1000, 0); /* outside the DMA window */
    CHECK_EQ(nt_io(&t, w), NVME_DATA_TRANSFER_ERROR | NVME_DNR);
    nt_put(t.m, NT_LIST, 8, NT_DATA + 0x1234); /* list entry with an offset */
    nt_rw(w, NVME_CMD_WRITE, 1, 0, 24);
    nt_prp(w, NT_DATA, NT_LIST);
    CHECK_EQ(nt_io(&t, w), NVME_INVALID_PRP_OFFSET | NVME_DNR);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), NVME_CSTS_RDY);
    hv_machine_destroy(t.m);
}

static void sgl_cmd(uint8_t *e, uint8_t opc, uint64_t slba, uint32_t nlb,
                    uint64_t addr, uint32_t len, uint8_t type)
{
    nt_rw(e, opc, 1, slba, nlb);
    e[1] = 1u << 6; /* PSDT: SGL */
    hv_st_le(e + 24, 8, addr);
    hv_st_le(e + 32, 4, len);
    e[39] = (uint8_t)(type << 4);
}

static void test_sgl(void)
{
    struct nt t;
    uint8_t w[64], r[64];
    uint64_t seg = NT_LIST, seg2 = NT_LIST + 0x100;

    nt_init(&t, NULL);
    nt_io_queues(&t, 16);
    /* one data block descriptor in the command */
    sgl_cmd(w, NVME_CMD_WRITE, 20, 2, NT_DATA + 0x100, 1024, NVME_SGL_DATA_BLOCK);
    write_read(&t, w, 1, 20, 1024, NT_DATA + 0x100, 6);
    /* last segment with two scattered data blocks */
    nt_fill_pattern(t.m, NT_DATA, 1024, 7);
    nt_sgl_desc(t.m, seg, NT_DATA, 512, NVME_SGL_DATA_BLOCK);
    nt_sgl_desc(t.m, seg + 16, NT_DATA + 0x3000, 512, NVME_SGL_DATA_BLOCK);
    {
        uint8_t tmp[512];
        hv_mem_read(t.m, NT_DATA + 512, tmp, 512);
        hv_mem_write(t.m, NT_DATA + 0x3000, tmp, 512);
    }
    sgl_cmd(w, NVME_CMD_WRITE, 40, 2, seg, 32, NVME_SGL_LAST_SEGMENT);
    CHECK_EQ(nt_io(&t, w), 0);
    nt_rw(r, NVME_CMD_READ, 1, 40, 2);
    nt_prp(r, NT_DATA + 0x20000, 0);
    hv_mem_fill(t.m, NT_DATA + 0x20000, 0, 1024);
    CHECK_EQ(nt_io(&t, r), 0);
    CHECK(nt_check_pattern(t.m, NT_DATA + 0x20000, 1024, 7));
    /* segment -> last segment chain, read back through SGL too */
    nt_sgl_desc(t.m, seg, NT_DATA + 0x25000, 512, NVME_SGL_DATA_BLOCK);
    nt_sgl_desc(t.m, seg + 16, seg2, 16, NVME_SGL_LAST_SEGMENT);
    nt_sgl_desc(t.m, seg2, NT_DATA + 0x25800, 512, NVME_SGL_DATA_BLOCK);
    hv_mem_fill(t.m, NT_DATA + 0x25000, 0, 0x1000);
    sgl_cmd(r, NVME_CMD_READ, 40, 2, seg, 32, NVME_SGL_SEGMENT);
    CHECK_EQ(nt_io(&t, r), 0);
    {
        uint8_t a[512], b[512], want[1024];
        hv_mem_read(t.m, NT_DATA + 0x20000, want, 1024);
        hv_mem_read(t.m, NT_DATA + 0x25000, a, 512);
        hv_mem_read(t.m, NT_DATA + 0x25800, b, 512);
        CHECK(memcmp(a, want, 512) == 0);
        CHECK(memcmp(b, want + 512, 512) == 0);
    }
    /* no bit bucket (SGLS bit 16 clear, as QEMU 7.2): before the last
     * descriptor it is an invalid type, for reads and writes alike; as
     * the last one the segment asks for a next segment, which a Last
     * Segment may not (QEMU's status) */
    nt_sgl_desc(t.m, seg, 0, 512, NVME_SGL_BIT_BUCKET);
    nt_sgl_desc(t.m, seg + 16, NT_DATA + 0x26000, 512, NVME_SGL_DATA_BLOCK);
    sgl_cmd(r, NVME_CMD_READ, 40, 2, seg, 32, NVME_SGL_LAST_SEGMENT);
    CHECK_EQ(nt_io(&t, r), NVME_SGL_DESCR_TYPE_INVALID | NVME_DNR);
    sgl_cmd(w, NVME_CMD_WRITE, 40, 2, seg, 32, NVME_SGL_LAST_SEGMENT);
    CHECK_EQ(nt_io(&t, w), NVME_SGL_DESCR_TYPE_INVALID | NVME_DNR);
    nt_sgl_desc(t.m, seg, NT_DATA + 0x26000, 512, NVME_SGL_DATA_BLOCK);
    nt_sgl_desc(t.m, seg + 16, 0, 512, NVME_SGL_BIT_BUCKET);
    CHECK_EQ(nt_io(&t, r), NVME_INVALID_SGL_SEG_DESCR | NVME_DNR);
    /* a non-empty data block after the transfer is covered: excess */
    nt_sgl_desc(t.m, seg + 16, NT_DATA + 0x27000, 1024, NVME_SGL_DATA_BLOCK);
    sgl_cmd(r, NVME_CMD_READ, 40, 1, seg, 32, NVME_SGL_LAST_SEGMENT);
    CHECK_EQ(nt_io(&t, r), NVME_DATA_SGL_LEN_INVALID | NVME_DNR);
    nt_sgl_desc(t.m, seg + 16, NT_DATA + 0x27000, 0, NVME_SGL_DATA_BLOCK);
    CHECK_EQ(nt_io(&t, r), 0); /* an empty one is not */
    /* errors: too short, bad segment length, a segment chain that points
     * to itself, unknown type, PSDT 3 */
    sgl_cmd(w, NVME_CMD_WRITE, 40, 2, NT_DATA, 512, NVME_SGL_DATA_BLOCK);
    CHECK_EQ(nt_io(&t, w), NVME_DATA_SGL_LEN_INVALID | NVME_DNR);
    sgl_cmd(w, NVME_CMD_WRITE, 40, 2, seg, 24, NVME_SGL_SEGMENT);
    CHECK_EQ(nt_io(&t, w), NVME_INVALID_SGL_SEG_DESCR | NVME_DNR);
    nt_sgl_desc(t.m, seg, NT_DATA, 16, NVME_SGL_DATA_BLOCK);
    nt_sgl_desc(t.m, seg + 16, seg, 32, NVME_SGL_SEGMENT);
    sgl_cmd(w, NVME_CMD_WRITE, 40, 2, seg, 32, NVME_SGL_SEGMENT);
    CHECK_EQ(nt_io(&t, w), NVME_INVALID_NUM_SGL_DESCR | NVME_DNR);
    nt_sgl_desc(t.m, seg + 16, seg, 32, NVME_SGL_SEGMENT);
    sgl_cmd(w, NVME_CMD_WRITE, 40, 2, seg, 32, NVME_SGL_LAST_SEGMENT);
    CHECK_EQ(nt_io(&t, w), NVME_INVALID_SGL_SEG_DESCR | NVME_DNR);
    /* SGL1 neither a data block nor a segment: QEMU 7.2's status */
    sgl_cmd(w, NVME_CMD_WRITE, 40, 2, NT_DATA, 1024, 0x4);
    CHECK_EQ(nt_io(&t, w), NVME_INVALID_SGL_SEG_DESCR | NVME_DNR);
    sgl_cmd(w, NVME_CMD_WRITE, 40, 2, NT_DATA, 1024, NVME_SGL_DATA_BLOCK);
    w[1] = 3u << 6;
    CHECK_EQ(nt_io(&t, w), NVME_INVALID_FIELD | NVME_DNR);
    hv_machine_destroy(t.m);
}

/* ---- I/O commands and their status codes ------------------------------------- */

static void test_io_status(void)
{
    struct nt t;
    uint8_t e[64];

    nt_init(&t, NULL);
    nt_io_queues(&t, 16);
    nt_rw(e, 0x7f, 1, 0, 1);
    CHECK_EQ(nt_io(&t, e), NVME_INVALID_OPCODE | NVME_DNR);
    nt_rw(e, NVME_CMD_READ, 1, 0, 1);
    nt_prp(e, NT_DATA, 0);
    e[1] = 0x2; /* fused, second command */
    CHECK_EQ(nt_io(&t, e), NVME_INVALID_FIELD);
    nt_rw(e, NVME_CMD_READ, 0, 0, 1);
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), NVME_INVALID_NSID | NVME_DNR);
    nt_rw(e, NVME_CMD_READ, 257, 0, 1);
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), NVME_INVALID_NSID | NVME_DNR);
    nt_rw(e, NVME_CMD_READ, 3, 0, 1); /* inactive */
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), NVME_INVALID_FIELD | NVME_DNR);
    nt_rw(e, NVME_CMD_READ, 1, 32768, 1);
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), NVME_LBA_RANGE | NVME_DNR);
    nt_rw(e, NVME_CMD_READ, 1, 32767, 2);
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), NVME_LBA_RANGE | NVME_DNR);
    nt_rw(e, NVME_CMD_READ, 1, 0xffffffffffffffffull, 2);
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), NVME_LBA_RANGE | NVME_DNR);
    nt_rw(e, NVME_CMD_READ, 1, 0, 1025); /* above MDTS (512 KiB) */
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), NVME_INVALID_FIELD | NVME_DNR);
    nt_rw(e, NVME_CMD_WRITE_ZEROES, 1, 32760, 9);
    CHECK_EQ(nt_io(&t, e), NVME_LBA_RANGE | NVME_DNR);

    /* write zeroes, deallocate, flush, compare */
    nt_rw(e, NVME_CMD_WRITE, 1, 50, 2);
    nt_prp(e, NT_DATA, 0);
    nt_fill_pattern(t.m, NT_DATA, 1024, 9);
    CHECK_EQ(nt_io(&t, e), 0);
    nt_rw(e, NVME_CMD_COMPARE, 1, 50, 2);
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), 0);
    nt_put(t.m, NT_DATA + 700, 1, 0xff ^ nt_get(t.m, NT_DATA + 700, 1));
    CHECK_EQ(nt_io(&t, e), NVME_COMPARE_FAILURE); /* no DNR, as QEMU 7.2 */
    /* Verify: no data moves; LBA range, then QEMU's size limit (VSL 7:
     * 512 KiB, above MDTS and the 16-bit NLB of 512-byte blocks on ns 2) */
    nt_rw(e, NVME_CMD_VERIFY, 1, 50, 2);
    CHECK_EQ(nt_io(&t, e), 0);
    nt_rw(e, NVME_CMD_VERIFY, 1, (16u << 20) / 512 - 1, 2);
    CHECK_EQ(nt_io(&t, e), NVME_LBA_RANGE | NVME_DNR);
    nt_rw(e, NVME_CMD_VERIFY, 2, 0, 129); /* 129 blocks of 4 KiB */
    CHECK_EQ(nt_io(&t, e), NVME_INVALID_FIELD | NVME_DNR);
    nt_rw(e, NVME_CMD_WRITE_ZEROES, 1, 51, 1);
    CHECK_EQ(nt_io(&t, e), 0);
    nt_rw(e, NVME_CMD_READ, 1, 50, 2);
    nt_prp(e, NT_DATA + 0x1000, 0);
    CHECK_EQ(nt_io(&t, e), 0);
    CHECK(nt_check_pattern(t.m, NT_DATA + 0x1000, 512, 9));
    {
        uint8_t z[512];
        hv_mem_read(t.m, NT_DATA + 0x1200, z, 512);
        CHECK(all_zero(z, 512));
    }
    /* DSM deallocate of LBA 50 (plus one range beyond the end, skipped) */
    nt_put(t.m, NT_LIST + 4, 4, 1);
    nt_put(t.m, NT_LIST + 8, 8, 50);
    nt_put(t.m, NT_LIST + 16 + 4, 4, 8);
    nt_put(t.m, NT_LIST + 16 + 8, 8, 40000);
    nt_sqe(e, NVME_CMD_DSM, 1);
    nt_prp(e, NT_LIST, 0);
    nt_cdw(e, 10, 1);
    nt_cdw(e, 11, 1u << 2);
    CHECK_EQ(nt_io(&t, e), 0);
    nt_rw(e, NVME_CMD_READ, 1, 50, 1);
    nt_prp(e, NT_DATA + 0x2000, 0);
    CHECK_EQ(nt_io(&t, e), 0);
    {
        uint8_t z[512];
        hv_mem_read(t.m, NT_DATA + 0x2000, z, 512);
        CHECK(all_zero(z, 512));
    }
    nt_sqe(e, NVME_CMD_FLUSH, 1);
    CHECK_EQ(nt_io(&t, e), 0);
    nt_sqe(e, NVME_CMD_FLUSH, 0xffffffff);
    CHECK_EQ(nt_io(&t, e), 0);
    nt_sqe(e, NVME_CMD_FLUSH, 3);
    CHECK_EQ(nt_io(&t, e), NVME_INVALID_FIELD | NVME_DNR);
    /* CC.CSS = admin command set only: no NVM commands */
    CHECK_EQ(nt_enable_cc(&t, 8, NT_CC_DEFAULT | 7u << 4), NVME_CSTS_RDY);
    nt_io_queues(&t, 8);
    nt_rw(e, NVME_CMD_READ, 1, 0, 1);
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), NVME_INVALID_OPCODE | NVME_DNR);
    hv_machine_destroy(t.m);
}

/* ---- admin queue management ---------------------------------------------------- */

static void test_queue_admin(void)
{
    struct nt t;
    uint8_t e[64];

    nt_init(&t, NULL);
    CHECK_EQ(nt_create_cq(&t, 0, 16, NT_IOCQ, 1, 0), NVME_INVALID_QID | NVME_DNR);
    CHECK_EQ(nt_create_cq(&t, 65, 16, NT_IOCQ, 1, 0), NVME_INVALID_QID | NVME_DNR);
    CHECK_EQ(nt_create_cq(&t, 1, 1, NT_IOCQ, 1, 0),
             NVME_MAX_QSIZE_EXCEEDED | NVME_DNR);
    CHECK_EQ(nt_create_cq(&t, 1, 4097, NT_IOCQ, 1, 0),
             NVME_MAX_QSIZE_EXCEEDED | NVME_DNR);
    CHECK_EQ(nt_create_cq(&t, 1, 16, NT_IOCQ + 8, 1, 0),
             NVME_INVALID_PRP_OFFSET | NVME_DNR);
    CHECK_EQ(nt_create_cq(&t, 1, 16, NT_IOCQ, 1, 1), /* MSI-X is off */
             NVME_INVALID_IRQ_VECTOR | NVME_DNR);
    CHECK_EQ(nt_create_cq(&t, 1, 16, NT_IOCQ, 0, 0), NVME_INVALID_FIELD | NVME_DNR);
    CHECK_EQ(nt_create_sq(&t, 1, 16, NT_IOSQ, 1), NVME_INVALID_CQID | NVME_DNR);
    CHECK_EQ(nt_create_cq(&t, 1, 16, NT_IOCQ, 1, 0), 0);
    CHECK_EQ(nt_create_cq(&t, 1, 16, NT_IOCQ, 1, 0), NVME_INVALID_QID | NVME_DNR);
    CHECK_EQ(nt_create_sq(&t, 0, 16, NT_IOSQ, 1), NVME_INVALID_QID | NVME_DNR);
    CHECK_EQ(nt_create_sq(&t, 1, 16, NT_IOSQ, 0), NVME_INVALID_CQID | NVME_DNR);
    CHECK_EQ(nt_create_sq(&t, 1, 16, NT_IOSQ, 1), 0);
    CHECK_EQ(nt_create_sq(&t, 2, 16, NT_DMA + 0x8000, 1), 0); /* CQ shared */
    nt_sqe(e, NVME_ADM_DELETE_CQ, 0);
    nt_cdw(e, 10, 1);
    CHECK_EQ(nt_admin(&t, e, NULL), NVME_INVALID_QUEUE_DEL);
    nt_sqe(e, NVME_ADM_DELETE_SQ, 0);
    nt_cdw(e, 10, 0);
    CHECK_EQ(nt_admin(&t, e, NULL), NVME_INVALID_QID | NVME_DNR);
    for (uint32_t q = 1; q <= 2; q++) {
        nt_cdw(e, 10, q);
        CHECK_EQ(nt_admin(&t, e, NULL), 0);
    }
    CHECK_EQ(nt_admin(&t, e, NULL), NVME_INVALID_QID | NVME_DNR);
    nt_sqe(e, NVME_ADM_DELETE_CQ, 0);
    nt_cdw(e, 10, 1);
    CHECK_EQ(nt_admin(&t, e, NULL), 0);
    CHECK_EQ(nt_admin(&t, e, NULL), NVME_INVALID_CQID | NVME_DNR);
    nt_sqe(e, 0x3f, 0);
    CHECK_EQ(nt_admin(&t, e, NULL), NVME_INVALID_OPCODE | NVME_DNR);
    nt_sqe(e, NVME_ADM_IDENTIFY, 0);
    e[1] = 1u << 6; /* SGL for an admin command */
    CHECK_EQ(nt_admin(&t, e, NULL), NVME_INVALID_FIELD | NVME_DNR);
    e[0] = 0x3f; /* the opcode is checked first */
    CHECK_EQ(nt_admin(&t, e, NULL), NVME_INVALID_OPCODE | NVME_DNR);
    nt_sqe(e, NVME_ADM_IDENTIFY, 0);
    e[1] = 0x1; /* fused operation: unsupported */
    CHECK_EQ(nt_admin(&t, e, NULL), NVME_INVALID_FIELD);
    {
        uint32_t dw0 = 0;
        nt_sqe(e, NVME_ADM_ABORT, 0);
        CHECK_EQ(nt_admin(&t, e, &dw0), 0);
        CHECK_EQ(dw0, 1); /* not aborted */
    }
    hv_machine_destroy(t.m);
}

/* Queue wrap flips the phase; a full CQ holds further commands back. */
static void test_wrap_and_full(void)
{
    struct nt t;
    uint8_t e[64];
    struct nt_cqe c;
    uint16_t cids[4];

    nt_init(&t, NULL);
    nt_io_queues(&t, 4);
    for (int i = 0; i < 10; i++) {
        nt_rw(e, NVME_CMD_READ, 1, (uint64_t)i, 1);
        nt_prp(e, NT_DATA, 0);
        CHECK_EQ(nt_io(&t, e), 0);
        if (i == 3)
            CHECK_EQ(t.cq.phase, 0); /* wrapped once */
    }
    CHECK_EQ(t.cq.pos, 2);
    CHECK_EQ(t.cq.phase, 1); /* and back */
    /* three submitted at once, CQ has room for its size - 1 = 3 ... */
    for (int i = 0; i < 3; i++) {
        nt_rw(e, NVME_CMD_READ, 1, 0, 1);
        nt_prp(e, NT_DATA, 0);
        cids[i] = nt_push(&t, &t.sq, e);
    }
    nt_ring_sq(&t, &t.sq);
    for (int i = 0; i < 3; i++) {
        c = nt_pop(&t, &t.cq, false);
        CHECK(c.present);
        CHECK_EQ(c.cid, cids[i]);
    }
    /* ... now the CQ is full (head not moved): the next one waits */
    nt_rw(e, NVME_CMD_READ, 1, 0, 1);
    nt_prp(e, NT_DATA, 0);
    cids[3] = nt_push(&t, &t.sq, e);
    nt_ring_sq(&t, &t.sq);
    c = nt_pop(&t, &t.cq, false);
    CHECK(!c.present);
    nt_wreg(t.m, NVME_DB_BASE + 12, t.cq.pos); /* free the slots */
    c = nt_pop(&t, &t.cq, true);
    CHECK(c.present);
    CHECK_EQ(c.cid, cids[3]);
    CHECK_EQ(c.sqhd, t.sq.pos);
    hv_machine_destroy(t.m);
}

/* ---- reset ----------------------------------------------------------------------- */

static void test_reset(void)
{
    struct nt t;
    uint8_t e[64];

    nt_init(&t, NULL);
    nt_io_queues(&t, 8);
    nt_wreg(t.m, NVME_REG_CC, 0);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), 0);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CC), 0);
    /* the I/O queue is gone: its doorbell does nothing */
    nt_rw(e, NVME_CMD_READ, 1, 0, 1);
    nt_prp(e, NT_DATA, 0);
    nt_push(&t, &t.sq, e);
    nt_ring_sq(&t, &t.sq);
    CHECK(!nt_pop(&t, &t.cq, false).present);
    /* back up: queue 1 can be created again */
    CHECK_EQ(nt_enable_cc(&t, 8, NT_CC_DEFAULT), NVME_CSTS_RDY);
    nt_io_queues(&t, 8);
    nt_rw(e, NVME_CMD_READ, 1, 0, 1);
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), 0);
    /* power-on reset of the machine */
    hv_machine_reset(t.m);
    CHECK_EQ(hv_bus_cfg_read(t.m, NT_BDF, HV_PCI_COMMAND, 2), 0);
    hv_machine_destroy(t.m);
}

/* ---- features --------------------------------------------------------------------- */

static uint16_t feat(struct nt *t, uint8_t opc, uint32_t cdw10, uint32_t cdw11,
                     uint32_t nsid, uint32_t *dw0)
{
    uint8_t e[64];

    nt_sqe(e, opc, nsid);
    nt_prp(e, NT_DATA, 0);
    nt_cdw(e, 10, cdw10);
    nt_cdw(e, 11, cdw11);
    *dw0 = 0xdead;
    return nt_admin(t, e, dw0);
}

static void test_features(void)
{
    struct nt t;
    uint32_t v;
    const uint8_t G = NVME_ADM_GET_FEATURES, S = NVME_ADM_SET_FEATURES;

    nt_init(&t, NULL);
    CHECK_EQ(feat(&t, S, NVME_FEAT_NUM_QUEUES, 0, 0, &v), 0);
    CHECK_EQ(v, 0x3f003f);
    CHECK_EQ(feat(&t, S, NVME_FEAT_NUM_QUEUES, 0xffff, 0, &v),
             NVME_INVALID_FIELD | NVME_DNR);
    CHECK_EQ(feat(&t, G, NVME_FEAT_NUM_QUEUES, 0, 0, &v), 0);
    CHECK_EQ(v, 0x3f003f);
    CHECK_EQ(feat(&t, G, NVME_FEAT_ARBITRATION, 0, 0, &v), 0);
    CHECK_EQ(v, 7);
    /* supported but not changeable, as QEMU 7.2: arbitration, power
     * management, interrupt coalescing, vector configuration, atomicity */
    CHECK_EQ(feat(&t, S, NVME_FEAT_ARBITRATION, 0x03020101, 0, &v),
             NVME_FEAT_NOT_CHANGEABLE | NVME_DNR);
    CHECK_EQ(feat(&t, G, NVME_FEAT_ARBITRATION, 0, 0, &v), 0);
    CHECK_EQ(v, 7);
    CHECK_EQ(feat(&t, G, NVME_FEAT_ARBITRATION | 1u << 8, 0, 0, &v), 0); /* default */
    CHECK_EQ(v, 7);
    CHECK_EQ(feat(&t, G, NVME_FEAT_INT_COALESCING | 3u << 8, 0, 0, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(feat(&t, G, NVME_FEAT_VWC | 3u << 8, 0, 0, &v), 0);
    CHECK_EQ(v, NVME_FEAT_CAP_CHANGE);
    CHECK_EQ(feat(&t, S, NVME_FEAT_INT_COALESCING, 0x0a05, 0, &v),
             NVME_FEAT_NOT_CHANGEABLE | NVME_DNR);
    CHECK_EQ(feat(&t, S, NVME_FEAT_POWER_MGMT, 0, 0, &v),
             NVME_FEAT_NOT_CHANGEABLE | NVME_DNR);
    CHECK_EQ(feat(&t, S, NVME_FEAT_INT_VECTOR_CONFIG, 1, 0, &v),
             NVME_FEAT_NOT_CHANGEABLE | NVME_DNR);
    CHECK_EQ(feat(&t, S, NVME_FEAT_WRITE_ATOMICITY, 1, 0, &v),
             NVME_FEAT_NOT_CHANGEABLE | NVME_DNR);
    CHECK_EQ(feat(&t, G, NVME_FEAT_INT_COALESCING, 0, 0, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(feat(&t, G, NVME_FEAT_VWC, 0, 0, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(feat(&t, S, NVME_FEAT_VWC, 0, 0, &v), 0);
    CHECK_EQ(feat(&t, G, NVME_FEAT_VWC, 0, 0, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(feat(&t, G, NVME_FEAT_TEMP_THRESHOLD, 0, 0, &v), 0);
    CHECK_EQ(v, 0x157);
    CHECK_EQ(feat(&t, S, NVME_FEAT_TEMP_THRESHOLD, 0x160, 0, &v), 0);
    CHECK_EQ(feat(&t, G, NVME_FEAT_TEMP_THRESHOLD, 0, 0, &v), 0);
    CHECK_EQ(v, 0x160);
    CHECK_EQ(feat(&t, S, NVME_FEAT_TEMP_THRESHOLD, 3u << 20, 0, &v),
             NVME_INVALID_FIELD | NVME_DNR);
    CHECK_EQ(feat(&t, S, NVME_FEAT_ASYNC_EVENT_CONF, 0x100, 0, &v), 0);
    CHECK_EQ(feat(&t, G, NVME_FEAT_ASYNC_EVENT_CONF, 0, 0, &v), 0);
    CHECK_EQ(v, 0x100);
    CHECK_EQ(feat(&t, G, NVME_FEAT_INT_VECTOR_CONFIG, 0, 0, &v), 0);
    CHECK_EQ(v, 1u << 16); /* the admin CQ's vector */
    CHECK_EQ(feat(&t, G, NVME_FEAT_INT_VECTOR_CONFIG, 65, 0, &v),
             NVME_INVALID_FIELD | NVME_DNR);
    CHECK_EQ(feat(&t, G, NVME_FEAT_ERROR_RECOVERY, 0, 1, &v), 0);
    CHECK_EQ(feat(&t, G, NVME_FEAT_ERROR_RECOVERY, 0, 3, &v),
             NVME_INVALID_FIELD | NVME_DNR);
    CHECK_EQ(feat(&t, S, NVME_FEAT_ARBITRATION, 0, 1, &v),
             NVME_FEAT_NOT_NS_SPEC | NVME_DNR);
    CHECK_EQ(feat(&t, S, NVME_FEAT_ARBITRATION | 1u << 31, 0, 0, &v),
             NVME_FID_NOT_SAVEABLE | NVME_DNR);
    CHECK_EQ(feat(&t, G, 0x7f, 0, 0, &v), NVME_INVALID_FIELD | NVME_DNR);
    /* timestamp: host value plus the virtual clock's progress */
    nt_put(t.m, NT_DATA, 8, 1000);
    CHECK_EQ(feat(&t, S, NVME_FEAT_TIMESTAMP, 0, 0, &v), 0);
    hv_machine_clock_advance(t.m, 5000000);
    hv_mem_fill(t.m, NT_DATA, 0, 8);
    CHECK_EQ(feat(&t, G, NVME_FEAT_TIMESTAMP, 0, 0, &v), 0);
    CHECK_EQ(nt_get(t.m, NT_DATA, 8) & 0xffffffffffffull, 1005);
    CHECK_EQ(nt_get(t.m, NT_DATA + 6, 1), 0x2);
    /* host behavior support: 512 bytes in, same out */
    nt_fill_pattern(t.m, NT_DATA, 512, 11);
    CHECK_EQ(feat(&t, S, NVME_FEAT_HOST_BEHAVIOR, 0, 0, &v), 0);
    hv_mem_fill(t.m, NT_DATA, 0, 512);
    CHECK_EQ(feat(&t, G, NVME_FEAT_HOST_BEHAVIOR, 0, 0, &v), 0);
    CHECK(nt_check_pattern(t.m, NT_DATA, 512, 11));
    /* number of queues is fixed once I/O queues exist */
    nt_io_queues(&t, 4);
    CHECK_EQ(feat(&t, S, NVME_FEAT_NUM_QUEUES, 0, 0, &v), NVME_CMD_SEQ_ERROR | NVME_DNR);
    hv_machine_destroy(t.m);
}

/* ---- log pages ------------------------------------------------------------------- */

static uint16_t get_log(struct nt *t, uint8_t lid, uint32_t len, uint32_t off,
                        bool rae, uint32_t nsid)
{
    uint8_t e[64];
    uint32_t numd = len / 4 - 1;

    nt_sqe(e, NVME_ADM_GET_LOG_PAGE, nsid);
    nt_prp(e, NT_DATA, 0);
    nt_cdw(e, 10, lid | (uint32_t)rae << 15 | (numd & 0xffff) << 16);
    nt_cdw(e, 11, numd >> 16);
    nt_cdw(e, 12, off);
    hv_mem_fill(t->m, NT_DATA, 0xee, 4096);
    return nt_admin(t, e, NULL);
}

static void test_logs(void)
{
    struct nt t;
    uint8_t e[64];

    nt_init(&t, NULL);
    nt_io_queues(&t, 8);
    nt_rw(e, NVME_CMD_WRITE, 1, 0, 8);
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), 0);
    CHECK_EQ(get_log(&t, NVME_LOG_SMART_INFO, 512, 0, false, 0xffffffff), 0);
    CHECK_EQ(nt_get(t.m, NT_DATA + 1, 2), 0x143);
    CHECK_EQ(nt_get(t.m, NT_DATA + 48, 8), 1); /* 8 units, rounded up */
    CHECK_EQ(nt_get(t.m, NT_DATA + 80, 8), 1); /* one write command */
    CHECK_EQ(get_log(&t, NVME_LOG_SMART_INFO, 512, 0, false, 9),
             NVME_INVALID_NSID | NVME_DNR);
    CHECK_EQ(get_log(&t, NVME_LOG_FW_SLOT_INFO, 512, 0, false, 0), 0);
    CHECK_EQ(nt_get(t.m, NT_DATA, 1), 1);
    CHECK_EQ(nt_get(t.m, NT_DATA + 8, 4), 0x20302e31); /* "1.0 " */
    CHECK_EQ(get_log(&t, NVME_LOG_CMD_EFFECTS, 4096, 0, false, 0), 0);
    CHECK_EQ(nt_get(t.m, NT_DATA + 4 * NVME_ADM_IDENTIFY, 4), NVME_EFF_CSUPP);
    CHECK_EQ(nt_get(t.m, NT_DATA + 1024 + 4 * NVME_CMD_WRITE, 4),
             NVME_EFF_CSUPP | NVME_EFF_LBCC);
    CHECK_EQ(get_log(&t, NVME_LOG_ERROR_INFO, 64, 0, false, 0), 0);
    CHECK_EQ(nt_get(t.m, NT_DATA, 8), 0);
    CHECK_EQ(nt_get(t.m, NT_DATA + 64, 1), 0xee); /* only 64 bytes */
    CHECK_EQ(get_log(&t, NVME_LOG_SMART_INFO, 8, 4, false, 0xffffffff), 0); /* offset */
    CHECK_EQ(get_log(&t, NVME_LOG_SMART_INFO, 8, 2, false, 0xffffffff),
             NVME_INVALID_FIELD | NVME_DNR);
    CHECK_EQ(get_log(&t, NVME_LOG_SMART_INFO, 8, 512, false, 0xffffffff),
             NVME_INVALID_FIELD | NVME_DNR);
    /* as QEMU 7.2: NSID 0 is no namespace, not "the controller" */
    CHECK_EQ(get_log(&t, NVME_LOG_SMART_INFO, 512, 0, false, 0),
             NVME_INVALID_NSID | NVME_DNR);
    CHECK_EQ(get_log(&t, NVME_LOG_SMART_INFO, 512, 0, false, 1), 0);
    CHECK_EQ(get_log(&t, 0x70, 512, 0, false, 0), NVME_INVALID_FIELD | NVME_DNR);
    hv_machine_destroy(t.m);
}

/* ---- asynchronous events ------------------------------------------------------- */

/* Run an admin command that raises an event for an outstanding AER: the
 * AER completes first, then the command, successfully (QEMU 7.2's order).
 * Returns the AER's dw0. */
static uint32_t admin_with_event(struct nt *t, uint8_t *e)
{
    uint16_t cid = nt_push(t, &t->asq, e);
    struct nt_cqe aer, c;

    nt_ring_sq(t, &t->asq);
    aer = nt_pop(t, &t->acq, true);
    c = nt_pop(t, &t->acq, true);
    CHECK(aer.present && c.present);
    CHECK(aer.cid != cid);
    CHECK_EQ(aer.status, 0);
    CHECK_EQ(c.cid, cid);
    CHECK_EQ(c.status, 0);
    return aer.dw0;
}

static void test_aer(void)
{
    struct nt t;
    uint8_t e[64];
    struct nt_cqe c;
    uint16_t cid;

    nt_init(&t, NULL);
    /* invalid doorbell writes are reported only while an AER is
     * outstanding (5.2; QEMU 7.2): this one is not queued for later */
    nt_wreg(t.m, NVME_DB_BASE + 8 * 5, 1);
    nt_sqe(e, NVME_ADM_ASYNC_EV_REQ, 0);
    cid = nt_push(&t, &t.asq, e);
    nt_ring_sq(&t, &t.asq);
    CHECK(!nt_pop(&t, &t.acq, false).present); /* outstanding */
    nt_wreg(t.m, NVME_DB_BASE + 2, 1); /* misaligned: ignored (QEMU) */
    CHECK(!nt_pop(&t, &t.acq, false).present);
    nt_wreg(t.m, NVME_DB_BASE + 8 * 5, 1); /* doorbell of a missing SQ */
    c = nt_pop(&t, &t.acq, true);
    CHECK(c.present);
    CHECK_EQ(c.cid, cid);
    CHECK_EQ(c.status, 0);
    CHECK_EQ(c.dw0, NVME_AER_TYPE_ERROR | NVME_AER_INFO_ERR_INVALID_DB_REGISTER << 8 |
                        NVME_LOG_ERROR_INFO << 16);
    /* a second error stays queued (masked) until the error log is read */
    nt_sqe(e, NVME_ADM_ASYNC_EV_REQ, 0);
    cid = nt_push(&t, &t.asq, e);
    nt_ring_sq(&t, &t.asq);
    nt_wreg(t.m, NVME_DB_BASE, 100); /* admin SQ tail beyond its size */
    CHECK(!nt_pop(&t, &t.acq, false).present);
    CHECK_EQ(get_log(&t, NVME_LOG_ERROR_INFO, 64, 0, false, 0), 0);
    c = nt_pop(&t, &t.acq, true);
    CHECK(c.present);
    CHECK_EQ(c.cid, cid);
    CHECK_EQ(c.dw0, NVME_AER_INFO_ERR_INVALID_DB_VALUE << 8 | NVME_LOG_ERROR_INFO << 16);
    /* AERL = 3: four may be outstanding, the fifth fails */
    for (int i = 0; i < 4; i++) {
        nt_sqe(e, NVME_ADM_ASYNC_EV_REQ, 0);
        nt_push(&t, &t.asq, e);
    }
    nt_ring_sq(&t, &t.asq);
    CHECK(!nt_pop(&t, &t.acq, false).present);
    nt_sqe(e, NVME_ADM_ASYNC_EV_REQ, 0);
    CHECK_EQ(nt_admin(&t, e, NULL), NVME_AER_LIMIT_EXCEEDED);
    /* namespace attribute notice after a format, when enabled */
    {
        uint32_t v;
        uint8_t id[4096];
        CHECK_EQ(feat(&t, NVME_ADM_SET_FEATURES, NVME_FEAT_ASYNC_EVENT_CONF,
                      NVME_AEC_NS_ATTR, 0, &v), 0);
        nt_sqe(e, NVME_ADM_FORMAT_NVM, 1);
        nt_cdw(e, 10, 4);
        CHECK_EQ(admin_with_event(&t, e),
                 NVME_AER_TYPE_NOTICE | NVME_LOG_CHANGED_NSLIST << 16);
        CHECK_EQ(get_log(&t, NVME_LOG_CHANGED_NSLIST, 4096, 0, false, 0), 0);
        CHECK_EQ(nt_get(t.m, NT_DATA, 4), 1);
        CHECK_EQ(nt_get(t.m, NT_DATA + 4, 4), 0);
        CHECK_EQ(identify(&t, NVME_CNS_NS, 1, 0, id), 0);
        CHECK_EQ(nt_get(t.m, NT_DATA, 8), 4096); /* 16 MiB / 4 KiB */
        CHECK_EQ(id[NVME_IDNS_FLBAS], 4);
        nt_sqe(e, NVME_ADM_FORMAT_NVM, 1);
        nt_cdw(e, 10, 1); /* metadata format: unsupported */
        CHECK_EQ(nt_admin(&t, e, NULL), NVME_INVALID_FORMAT | NVME_DNR);
        /* SMART: over-temperature threshold below the composite value */
        CHECK_EQ(feat(&t, NVME_ADM_SET_FEATURES, NVME_FEAT_ASYNC_EVENT_CONF,
                      NVME_AEC_SMART_TEMP, 0, &v), 0);
        nt_sqe(e, NVME_ADM_SET_FEATURES, 0);
        nt_cdw(e, 10, NVME_FEAT_TEMP_THRESHOLD);
        nt_cdw(e, 11, 0x100);
        CHECK_EQ(admin_with_event(&t, e), NVME_AER_TYPE_SMART |
                                              NVME_AER_INFO_SMART_TEMP << 8 |
                                              NVME_LOG_SMART_INFO << 16);
        CHECK_EQ(get_log(&t, NVME_LOG_SMART_INFO, 512, 0, false, 0xffffffff), 0);
        CHECK_EQ(nt_get(t.m, NT_DATA, 1), 0x2); /* critical warning */
    }
    hv_machine_destroy(t.m);
}

/* An event raised by an admin command when the admin CQ has only the slot
 * the command was fetched for: the command completes first, the AER once
 * the host frees a slot. */
static void test_aer_cq_room(void)
{
    struct nt t;
    uint8_t e[64];
    struct nt_cqe c;
    uint32_t v;
    uint16_t cid;

    nt_init(&t, NULL);
    CHECK_EQ(nt_enable_cc(&t, 4, NT_CC_DEFAULT), NVME_CSTS_RDY); /* 3 usable */
    CHECK_EQ(feat(&t, NVME_ADM_SET_FEATURES, NVME_FEAT_ASYNC_EVENT_CONF,
                  NVME_AEC_SMART_TEMP, 0, &v), 0);
    nt_sqe(e, NVME_ADM_ASYNC_EV_REQ, 0);
    nt_push(&t, &t.asq, e);
    nt_ring_sq(&t, &t.asq);
    for (int i = 0; i < 2; i++) { /* two completions left in the CQ */
        nt_sqe(e, NVME_ADM_GET_FEATURES, 0);
        nt_cdw(e, 10, NVME_FEAT_NUM_QUEUES);
        nt_push(&t, &t.asq, e);
        nt_ring_sq(&t, &t.asq);
        CHECK(nt_pop(&t, &t.acq, false).present);
    }
    nt_sqe(e, NVME_ADM_SET_FEATURES, 0);
    nt_cdw(e, 10, NVME_FEAT_TEMP_THRESHOLD);
    nt_cdw(e, 11, 0x100);
    cid = nt_push(&t, &t.asq, e);
    nt_ring_sq(&t, &t.asq);
    c = nt_pop(&t, &t.acq, false);
    CHECK(c.present);
    CHECK_EQ(c.cid, cid);
    CHECK_EQ(c.status, 0);
    CHECK(!nt_pop(&t, &t.acq, false).present); /* CQ full */
    nt_wreg(t.m, NVME_DB_BASE + 4, t.acq.pos);  /* free the slots */
    c = nt_pop(&t, &t.acq, true);
    CHECK(c.present);
    CHECK_EQ(c.dw0, NVME_AER_TYPE_SMART | NVME_AER_INFO_SMART_TEMP << 8 |
                        NVME_LOG_SMART_INFO << 16);
    hv_machine_destroy(t.m);
}

/* ---- shadow doorbells ---------------------------------------------------------- */

static void test_shadow_doorbells(void)
{
    struct nt t;
    uint8_t e[64];

    nt_init(&t, NULL);
    nt_io_queues(&t, 8);
    hv_mem_fill(t.m, NT_DBS, 0, 0x2000);
    nt_sqe(e, NVME_ADM_DBBUF_CONFIG, 0);
    nt_prp(e, NT_DBS + 8, NT_EIS);
    CHECK_EQ(nt_admin(&t, e, NULL), NVME_INVALID_FIELD | NVME_DNR);
    nt_prp(e, NT_DBS, NT_EIS);
    CHECK_EQ(nt_admin(&t, e, NULL), 0);
    t.dbbuf = true;
    /* the controller wrote the current admin tail / head and I/O values */
    CHECK_EQ(nt_get(t.m, NT_DBS, 4), t.asq.pos);
    CHECK_EQ(nt_get(t.m, NT_DBS + 8, 4), 0);
    /* admin: the MMIO doorbell value is copied to the shadow */
    nt_sqe(e, NVME_ADM_GET_FEATURES, 0);
    nt_cdw(e, 10, NVME_FEAT_NUM_QUEUES);
    CHECK_EQ(nt_admin(&t, e, NULL), 0);
    CHECK_EQ(nt_get(t.m, NT_DBS, 4), t.asq.pos);
    CHECK_EQ(nt_get(t.m, NT_EIS, 4), t.asq.pos);
    /* I/O: two entries announced through the shadow only are both run on
     * one MMIO doorbell carrying the older value */
    nt_rw(e, NVME_CMD_READ, 1, 0, 1);
    nt_prp(e, NT_DATA, 0);
    nt_push(&t, &t.sq, e);
    nt_push(&t, &t.sq, e);
    nt_put(t.m, NT_DBS + 8, 4, t.sq.pos);
    nt_wreg(t.m, NVME_DB_BASE + 8, 1);
    CHECK(nt_pop(&t, &t.cq, true).present);
    CHECK(nt_pop(&t, &t.cq, true).present);
    CHECK_EQ(nt_get(t.m, NT_EIS + 8, 4), 2); /* event index = tail */
    hv_machine_destroy(t.m);
}

/* ---- interrupts ----------------------------------------------------------------- */

static void test_intx(void)
{
    struct nt t;
    uint8_t e[64];

    nt_init(&t, NULL);
    nt_io_queues(&t, 8);
    nt_rw(e, NVME_CMD_READ, 1, 0, 1);
    nt_prp(e, NT_DATA, 0);
    nt_push(&t, &t.sq, e);
    nt_ring_sq(&t, &t.sq);
    CHECK_EQ(t.d->intx_level, 1);
    nt_wreg(t.m, NVME_REG_INTMS, 1);
    CHECK_EQ(t.d->intx_level, 0);
    CHECK_EQ(nt_reg(t.m, NVME_REG_INTMS), 1);
    CHECK_EQ(nt_reg(t.m, NVME_REG_INTMC), 1);
    nt_wreg(t.m, NVME_REG_INTMC, 1);
    CHECK_EQ(t.d->intx_level, 1);
    CHECK(nt_pop(&t, &t.cq, true).present); /* head == tail: deasserted */
    CHECK_EQ(t.d->intx_level, 0);
    /* a CQ without interrupts enabled never raises the pin */
    CHECK_EQ(nt_create_cq(&t, 2, 8, NT_DMA + 0x9000, 1, 0), 0);
    CHECK_EQ(nt_create_sq(&t, 2, 8, NT_DMA + 0x8000, 2), 0);
    {
        struct nt_q sq2, cq2;
        nt_q_init(&sq2, NT_DMA + 0x8000, 2, 8, 0);
        nt_q_init(&cq2, NT_DMA + 0x9000, 2, 8, 1);
        hv_mem_fill(t.m, NT_DMA + 0x9000, 0, 0x80);
        CHECK_EQ(nt_run(&t, &sq2, &cq2, e, NULL), 0);
        CHECK_EQ(t.d->intx_level, 0);
    }
    hv_machine_destroy(t.m);
}

static void test_msix(void)
{
    struct nt t;
    struct nt_trace tr = {0};
    uint8_t e[64];

    nt_init(&t, NULL);
    hv_machine_set_trace(t.m, nt_trace_fn, &tr);
    hv_bus_cfg_write(t.m, NT_BDF, 0x42, 2, 0x8000 | 64);
    for (unsigned v = 0; v < 3; v++) {
        uint64_t ent = NT_BAR0 + NVME_MSIX_TABLE_OFF + 16 * v;
        hv_bus_mmio_write(t.m, ent, 4, 0xfee00000);
        hv_bus_mmio_write(t.m, ent + 8, 4, 0x40 + v);
        hv_bus_mmio_write(t.m, ent + 12, 4, 0);
    }
    CHECK_EQ(hv_bus_mmio_read(t.m, NT_BAR0 + NVME_MSIX_TABLE_OFF + 8, 4), 0x40);
    CHECK_EQ(nt_create_cq(&t, 1, 8, NT_IOCQ, 3, 2), 0);
    CHECK_EQ(nt_create_sq(&t, 1, 8, NT_IOSQ, 1), 0);
    CHECK_EQ(nt_create_cq(&t, 2, 8, NT_IOCQ, 3, 65), NVME_INVALID_IRQ_VECTOR | NVME_DNR);
    CHECK_EQ(tr.nmsix, 3); /* admin completions on vector 0 */
    CHECK_EQ(tr.msix[0], 0);
    nt_q_init(&t.cq, NT_IOCQ, 1, 8, 1);
    nt_q_init(&t.sq, NT_IOSQ, 1, 8, 0);
    tr.nmsix = 0;
    nt_rw(e, NVME_CMD_READ, 1, 0, 1);
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), 0);
    CHECK_EQ(tr.nmsix, 1);
    CHECK_EQ(tr.msix[0], 2);
    CHECK_EQ(t.d->intx_level, 0);
    /* INTMS is ignored while MSI-X is on */
    nt_wreg(t.m, NVME_REG_INTMS, 1);
    CHECK_EQ(nt_reg(t.m, NVME_REG_INTMS), 0);
    /* a masked vector is left pending in the PBA */
    hv_bus_mmio_write(t.m, NT_BAR0 + NVME_MSIX_TABLE_OFF + 32 + 12, 4, 1);
    tr.nmsix = 0;
    CHECK_EQ(nt_io(&t, e), 0);
    CHECK_EQ(tr.nmsix, 0);
    CHECK_EQ(hv_bus_mmio_read(t.m, NT_BAR0 + NVME_MSIX_PBA_OFF, 4), 0x4);
    hv_machine_destroy(t.m);
}

/* ---- snapshots ------------------------------------------------------------------ */

static void test_snapshot(void)
{
    struct nt t, saved;
    struct hv_snapshot *s;
    uint8_t e[64], id[4096];

    nt_init(&t, NULL);
    nt_io_queues(&t, 8);
    nt_rw(e, NVME_CMD_READ, 1, 0, 1);
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), 0);
    s = hv_machine_snapshot(t.m);
    CHECK(s != NULL);
    saved = t;
    /* change everything: more I/O, a write, then a controller reset */
    nt_rw(e, NVME_CMD_WRITE, 1, 5, 1);
    nt_prp(e, NT_DATA, 0);
    CHECK_EQ(nt_io(&t, e), 0);
    nt_wreg(t.m, NVME_REG_CC, 0);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), 0);
    hv_machine_restore(t.m, s);
    t = saved;
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), NVME_CSTS_RDY);
    /* the queues are where they were: the next command completes in the
     * next slot with the saved phase */
    nt_rw(e, NVME_CMD_READ, 1, 5, 1);
    nt_prp(e, NT_DATA + 0x1000, 0);
    hv_mem_fill(t.m, NT_DATA + 0x1000, 0xff, 512);
    CHECK_EQ(nt_io(&t, e), 0);
    {
        uint8_t z[512];
        hv_mem_read(t.m, NT_DATA + 0x1000, z, 512);
        CHECK(all_zero(z, 512)); /* the disk is back at its snapshot content */
    }
    CHECK_EQ(identify(&t, NVME_CNS_CTRL, 0, 0, id), 0);
    CHECK_EQ(hv_ld_le(id, 2), 0x1b36);
    hv_snapshot_free(s);
    hv_machine_destroy(t.m);
}

/* ---- robustness --------------------------------------------------------------- */

static void test_guest_errors(void)
{
    struct nt t;
    uint8_t e[64];

    nt_init(&t, NULL);
    nt_io_queues(&t, 8);
    /* misaligned and unknown doorbells, odd register sizes */
    nt_wreg(t.m, NVME_DB_BASE + 2, 1);
    hv_bus_mmio_write(t.m, NT_BAR0 + NVME_DB_BASE + 0xff8, 4, 1);
    hv_bus_mmio_write(t.m, NT_BAR0 + NVME_REG_CC, 1, 0);
    hv_bus_mmio_read(t.m, NT_BAR0 + 0x3c, 8);
    hv_bus_mmio_read(t.m, NT_BAR0 + 0x2ff0, 4);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), 0); /* the 1-byte CC write disabled */
    /* an SQ in memory the controller cannot reach: fatal status */
    CHECK_EQ(nt_enable_cc(&t, 8, NT_CC_DEFAULT), NVME_CSTS_RDY);
    CHECK_EQ(nt_create_cq(&t, 1, 8, NT_IOCQ, 1, 0), 0);
    CHECK_EQ(nt_create_sq(&t, 1, 8, 0x1000, 1), 0);
    nt_wreg(t.m, NVME_DB_BASE + 8, 1);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), NVME_CSTS_CFS); /* RDY clears (QEMU) */
    /* bus mastering off: no DMA at all */
    CHECK_EQ(nt_enable_cc(&t, 8, NT_CC_DEFAULT), NVME_CSTS_RDY);
    hv_bus_cfg_write(t.m, NT_BDF, HV_PCI_COMMAND, 2, HV_PCI_CMD_MEM);
    nt_sqe(e, NVME_ADM_IDENTIFY, 0);
    nt_push(&t, &t.asq, e);
    nt_ring_sq(&t, &t.asq);
    CHECK_EQ(nt_reg(t.m, NVME_REG_CSTS), NVME_CSTS_CFS);
    CHECK_EQ(t.m->findings, 0);
    hv_machine_destroy(t.m);
}

static void test_single_namespace(void)
{
    struct nvme_params p = {.no_ns2 = true, .disk_size = 1 << 20};
    struct nt t;
    uint8_t id[4096];

    nt_init(&t, &p);
    CHECK_EQ(identify(&t, NVME_CNS_NS, 1, 0, id), 0);
    CHECK_EQ(nt_get(t.m, NT_DATA, 8), 2048);
    CHECK_EQ(identify(&t, NVME_CNS_NS, 2, 0, id), 0);
    CHECK(all_zero(id, 4096));
    hv_machine_destroy(t.m);
}

/* Random entries and register writes (fixed seed): no finding, no crash
 * (ASan/UBSan), the controller keeps answering. */
static void test_random(void)
{
    static const uint8_t opcodes[] = {
        0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x08, 0x09, 0x0a, 0x0c, 0x7c, 0x80,
        0x00, 0x01, 0x02, 0x05, 0x08, 0x09, 0x33};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    struct nt t;
    uint8_t e[64];
    unsigned done = 0, ok = 0;

    nt_init(&t, NULL);
    for (int i = 0; i < 3000; i++) {
        uint64_t x = hv_test_xorshift(&seed);
        bool admin = x & 1;

        if (i % 200 == 0) {
            nt_enable_cc(&t, 16, NT_CC_DEFAULT);
            nt_io_queues(&t, 8);
        }
        for (int k = 0; k < 64; k += 8)
            hv_st_le(e + k, 8, hv_test_xorshift(&seed));
        e[0] = opcodes[(x >> 8) % sizeof(opcodes)];
        e[1] = (x >> 14) % 4 ? 0 : e[1] & 0xc0;
        if ((x >> 17) & 1)
            hv_st_le(e + 4, 4, (x >> 20) % 4);
        if ((x >> 16) & 1) { /* a plausible NVM command */
            hv_st_le(e + 4, 4, 1 + (x >> 21) % 2);
            nt_cdw(e, 10, (uint32_t)(x >> 22) & 0xff);
            nt_cdw(e, 11, 0);
            nt_cdw(e, 12, (uint32_t)(x >> 30) & 0x7);
            hv_st_le(e + 24, 8, NT_DMA + 0x10000 + ((x >> 34) % 0x20) * 0x1000);
            hv_st_le(e + 32, 8, NT_DMA + 0x10000 + ((x >> 40) % 0x20) * 0x1000);
        }
        if ((x >> 18) & 1) {
            hv_st_le(e + 24, 8, NT_DMA + ((x >> 24) % 0x3f000));
            hv_st_le(e + 32, 8, NT_DMA + ((x >> 40) % 0x3f000));
        }
        if ((x >> 19) & 1)
            hv_st_le(e + 48, 4, (x >> 32) & 0x3ff); /* small nlb */
        if (e[0] == 0x04 || e[0] == 0x00) /* keep queue 1 mostly alive */
            nt_cdw(e, 10, 2 + (uint32_t)(x >> 50) % 4);
        nt_push(&t, admin ? &t.asq : &t.sq, e);
        nt_ring_sq(&t, admin ? &t.asq : &t.sq);
        for (int k = 0; k < 16; k++) {
            struct nt_cqe c = nt_pop(&t, admin ? &t.acq : &t.cq, true);
            if (!c.present)
                break;
            done++;
            ok += c.status == 0;
        }
        if ((x >> 60) == 0)
            hv_bus_mmio_write(t.m, NT_BAR0 + ((x >> 8) & 0x1ffc), 4,
                              (uint32_t)(x >> 20));
        if ((x >> 58) == 1)
            hv_mem_fill(t.m, NT_DMA + ((x >> 12) % 0x3f000), (uint8_t)x, 64);
    }
    printf("random: %u completions, %u successful\n", done, ok);
    CHECK(done > 1500 && ok > 150);
    CHECK_EQ(t.m->findings, 0);
    nt_enable_cc(&t, 16, NT_CC_DEFAULT);
    {
        uint8_t id[4096];
        CHECK_EQ(identify(&t, NVME_CNS_CTRL, 0, 0, id), 0);
    }
    hv_machine_destroy(t.m);
}

int main(void)
{
    test_pci_identity();
    test_enable_rules();
    test_identify();
    test_prp();
    test_sgl();
    test_io_status();
    test_queue_admin();
    test_wrap_and_full();
    test_reset();
    test_features();
    test_logs();
    test_aer();
    test_aer_cq_room();
    test_shadow_doorbells();
    test_intx();
    test_msix();
    test_snapshot();
    test_guest_errors();
    test_single_namespace();
    test_random();
    return hv_test_done("test_nvme");
}
