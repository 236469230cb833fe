/*
 * NVMe controller: NVMe base specification 1.4 section 3.1 (controller
 * registers: CAP, VS, INTMS/INTMC, CC, CSTS, NSSR, AQA, ASQ, ACQ,
 * doorbells), 3.5 (controller initialization, reset and shutdown), 4.1
 * and 4.6 (submission/completion queues, phase tag), 5 (admin command set:
 * Delete/Create I/O SQ/CQ 5.6/5.4/5.5/5.3, Get Log Page 5.14, Identify
 * 5.15, Abort 5.1, Set/Get Features 5.21/5.9, Asynchronous Event Request
 * 5.2, Doorbell Buffer Config 5.7, Format NVM 5.23), 7.5 (interrupts:
 * MSI-X per CQ vector, INTx with INTMS masking). Namespaces and the NVM
 * command set are in nvme_io.c.
 *
 * Mirrors QEMU 7.2 hw/nvme (values and status codes as its trace shows);
 * commands run synchronously inside the doorbell write. Differences:
 *  - a command is fetched only when its CQ has a free slot (QEMU fetches
 *    and parks the completion); processing resumes on the CQ doorbell;
 *  - shadow doorbell values (Doorbell Buffer Config) at or above the queue
 *    size are ignored (QEMU uses them and cycles through stale entries);
 *    a shadow doorbell the DMA monitor refuses keeps its value (QEMU's
 *    re-entrancy guard reads 0 on its own BAR);
 *  - Get Features with a reserved SEL (100b-111b): Invalid Field (QEMU
 *    treats it as "current");
 *  - Get Log Page with NUMD = FFFFFFFFh: Invalid Field, above MDTS (QEMU's
 *    32-bit length wraps to 0 bytes);
 *  - Identify ONCS sets Verify (QEMU supports Verify without the bit) and
 *    not Copy (nvme_io.c).
 * As QEMU 7.2: NSSR is reserved (CAP.NSSRS = 0: "NVMe" does nothing) and
 * CSTS read-only; arbitration, power management, interrupt coalescing,
 * interrupt vector configuration and write atomicity are supported but
 * not changeable; an event for an outstanding AER completes it before the
 * command that raised it; CNS 08h (NVMe 2.0) is an invalid CNS.
 * Guest errors never stop the model: invalid doorbells post an error
 * asynchronous event while an AER is outstanding (5.2, as QEMU; misaligned
 * ones are ignored), a failed SQ fetch or CQ write makes CSTS just CFS
 * (RDY clears, as QEMU).
 */
#include <stdlib.h>
#include <string.h>

#include "targets/nvme/nvme_int.h"

#define NVME_NO_COMPLETE 0xffffu /* AER: completed later */
#define NVME_NSID_BROADCAST 0xffffffffu
#define NVME_CAP_VALUE                                                         \
    ((uint64_t)NVME_MQES | NVME_CAP_CQR |                                      \
     (uint64_t)NVME_CAP_TIMEOUT << NVME_CAP_TO_SHIFT |                         \
     (uint64_t)(NVME_CAP_CSS_NVM | NVME_CAP_CSS_CSI | NVME_CAP_CSS_ADMIN_ONLY) \
         << NVME_CAP_CSS_SHIFT |                                               \
     (uint64_t)NVME_MPSMAX << NVME_CAP_MPSMAX_SHIFT)
#define NVME_ARB_DEFAULT 0x7u /* arbitration burst: no limit */
#define NVME_TEMP_TMPSEL(dw11) (((dw11) >> 16) & 0xfu)
#define NVME_TEMP_THSEL(dw11) (((dw11) >> 20) & 0x3u)
#define NVME_INTVC_NOCOALESCING (1u << 16)
#define NVME_TS_MASK 0xffffffffffffull

static uint64_t ld64(const uint8_t *p)
{
    return hv_ld_le(p, 4) | (uint64_t)hv_ld_le(p + 4, 4) << 32;
}

/* ---- interrupts (7.5.1) -------------------------------------------------- */

static bool cq_empty(const struct nvme_cq *cq)
{
    return cq->head == cq->tail;
}

/* INTx is level: a vector is pending while one of its CQs holds entries. */
static void irq_update_pin(struct nvme_ctrl *n)
{
    n->irq_status = 0;
    for (unsigned i = 0; i < NVME_NUM_QUEUES; i++) {
        const struct nvme_cq *cq = &n->cq[i];

        if (cq->valid && cq->irq_enabled && !cq_empty(cq) && cq->vector < 32)
            n->irq_status |= 1u << cq->vector;
    }
    hv_irq_set_level(&n->dev, !hv_msix_enabled(&n->dev) &&
                                  (n->irq_status & ~n->intms) != 0);
}

static void cq_notify(struct nvme_ctrl *n, struct nvme_cq *cq)
{
    if (!cq->irq_enabled) {
        hv_trace(n->dev.machine, "nvme cq%u irq disabled", (unsigned)(cq - n->cq));
        return;
    }
    if (hv_msix_enabled(&n->dev))
        hv_msix_notify(&n->dev, cq->vector);
    else
        irq_update_pin(n);
}

/* ---- completions (4.6) ------------------------------------------------------ */

/* CSTS becomes CFS alone (RDY clears), as QEMU 7.2's DMA-error handling. */
static void set_fatal(struct nvme_ctrl *n, const char *why)
{
    n->csts = NVME_CSTS_CFS;
    hv_trace(n->dev.machine, "nvme fatal: %s", why);
}

static void dbbuf_write(struct nvme_ctrl *n, uint64_t addr, uint32_t val)
{
    uint8_t b[4];

    hv_st_le(b, 4, val);
    hv_dma_write(&n->dev, addr, b, sizeof(b));
}

/* Doorbell Buffer Config: the host's doorbell values live in guest
 * memory. A refused read keeps the value the controller has: outside the
 * DMA window it is RAM under QEMU, where the value written back reads
 * back the same. (On QEMU's own BAR its re-entrancy guard reads 0.) */
static bool dbbuf_read(struct nvme_ctrl *n, uint64_t addr, uint32_t *val)
{
    uint8_t b[4];

    if (hv_dma_read(&n->dev, addr, b, sizeof(b)))
        return false;
    *val = hv_ld_le(b, 4);
    return true;
}

static void update_cq_head(struct nvme_ctrl *n, struct nvme_cq *cq)
{
    uint32_t head;

    if (!n->dbbuf_enabled || !dbbuf_read(n, cq->db_addr, &head))
        return;
    if (head < cq->size)
        cq->head = head;
}

/* Free CQ slots (one always stays empty: 4.6). */
static uint32_t cq_room(struct nvme_ctrl *n, struct nvme_cq *cq)
{
    update_cq_head(n, cq);
    return (cq->head + cq->size - cq->tail - 1) % cq->size;
}

static bool cq_full(struct nvme_ctrl *n, struct nvme_cq *cq)
{
    return cq_room(n, cq) == 0;
}

static void post_cqe(struct nvme_ctrl *n, uint16_t sqid, uint16_t cid,
                     uint32_t dw0, uint16_t status)
{
    struct nvme_sq *sq = &n->sq[sqid];
    struct nvme_cq *cq = &n->cq[sq->cqid];
    uint8_t e[NVME_CQE_SIZE] = {0};

    hv_st_le(e, 4, dw0);
    hv_st_le(e + 8, 2, sq->head);
    hv_st_le(e + 10, 2, sqid);
    hv_st_le(e + 12, 2, cid);
    hv_st_le(e + 14, 2, (uint32_t)(status << 1) | cq->phase);
    hv_trace(n->dev.machine,
             "nvme cqe cq%u cid=%u dw0=0x%x status=0x%x", sq->cqid, cid, dw0,
             status);
    if (hv_dma_write(&n->dev, cq->dma + (uint64_t)cq->tail * NVME_CQE_SIZE, e,
                     sizeof(e))) {
        set_fatal(n, "completion queue write failed");
        return;
    }
    if (++cq->tail == cq->size) {
        cq->tail = 0;
        cq->phase ^= 1;
    }
    /* The CQ event index is the head the controller last saw, so the host
     * rings the CQ head doorbell after every reap: what Linux did against
     * QEMU 7.2 in the trace (an MMIO CQ doorbell after each shadow update). */
    if (n->dbbuf_enabled)
        dbbuf_write(n, cq->ei_addr, cq->head);
    cq_notify(n, cq);
}

/* ---- asynchronous events (5.2) ------------------------------------------- */

/* While an admin command runs, one admin CQ slot stays reserved for its
 * own completion (it was fetched for that slot). */
static void process_aers(struct nvme_ctrl *n)
{
    uint32_t i = 0, reserve = n->in_admin_cmd ? 1 : 0;

    while (n->outstanding_aers && i < n->aer_count) {
        struct nvme_aer_event ev = n->aer_queue[i];
        uint16_t cid;

        if (n->aer_mask & (1u << ev.type)) {
            i++;
            continue;
        }
        if (!n->sq[0].valid || cq_room(n, &n->cq[0]) <= reserve)
            return;
        memmove(&n->aer_queue[i], &n->aer_queue[i + 1],
                (n->aer_count - i - 1) * sizeof(ev));
        n->aer_count--;
        n->aer_mask |= (uint8_t)(1u << ev.type);
        cid = n->aer_cids[--n->outstanding_aers];
        hv_trace(n->dev.machine, "nvme aer cid=%u type=%u info=%u log=%u", cid,
                 ev.type, ev.info, ev.log);
        post_cqe(n, 0, cid,
                 ev.type | (uint32_t)ev.info << 8 | (uint32_t)ev.log << 16,
                 NVME_SUCCESS);
    }
}

/* Posted at once when an AER is outstanding, so before the completion of
 * the command that raised it (as QEMU 7.2); if the admin CQ has no slot
 * beyond the running command's, after that completion. */
static void enqueue_event(struct nvme_ctrl *n, uint8_t type, uint8_t info,
                          uint8_t log)
{
    if (n->aer_count < NVME_AER_MAX_QUEUED)
        n->aer_queue[n->aer_count++] = (struct nvme_aer_event){type, info, log};
    process_aers(n);
}

static void clear_events(struct nvme_ctrl *n, uint8_t type)
{
    n->aer_mask &= (uint8_t)~(1u << type);
}

/* ---- queues (5.3 - 5.6) ---------------------------------------------------- */

static bool sqid_ok(const struct nvme_ctrl *n, uint32_t qid)
{
    return qid < NVME_NUM_QUEUES && n->sq[qid].valid;
}

static bool cqid_ok(const struct nvme_ctrl *n, uint32_t qid)
{
    return qid < NVME_NUM_QUEUES && n->cq[qid].valid;
}

static void init_sq(struct nvme_ctrl *n, uint16_t qid, uint16_t cqid,
                    uint64_t dma, uint32_t size)
{
    n->sq[qid] = (struct nvme_sq){.valid = true, .cqid = cqid, .size = size,
                                  .dma = dma};
    if (n->dbbuf_enabled) {
        n->sq[qid].db_addr = n->dbbuf_dbs + ((uint64_t)qid << 3);
        n->sq[qid].ei_addr = n->dbbuf_eis + ((uint64_t)qid << 3);
    }
}

static void init_cq(struct nvme_ctrl *n, uint16_t qid, uint16_t vector,
                    bool ien, uint64_t dma, uint32_t size)
{
    n->cq[qid] = (struct nvme_cq){.valid = true, .irq_enabled = ien,
                                  .phase = 1, .vector = vector, .size = size,
                                  .dma = dma};
    if (n->dbbuf_enabled) {
        n->cq[qid].db_addr = n->dbbuf_dbs + ((uint64_t)qid << 3) + 4;
        n->cq[qid].ei_addr = n->dbbuf_eis + ((uint64_t)qid << 3) + 4;
    }
}

static uint16_t adm_create_cq(struct nvme_ctrl *n, const struct nvme_cmd *c)
{
    uint32_t qid = c->cdw10 & 0xffff, qsize = c->cdw10 >> 16;
    uint32_t vector = c->cdw11 >> 16;
    bool pc = c->cdw11 & 1, ien = c->cdw11 & 2;

    if (!qid || qid > NVME_MAX_IOQPAIRS || n->cq[qid].valid)
        return NVME_INVALID_QID | NVME_DNR;
    if (!qsize || qsize > NVME_MQES)
        return NVME_MAX_QSIZE_EXCEEDED | NVME_DNR;
    if (c->prp1 & (n->page_size - 1))
        return NVME_INVALID_PRP_OFFSET | NVME_DNR;
    if ((!hv_msix_enabled(&n->dev) && vector) || vector >= NVME_MSIX_VECTORS)
        return NVME_INVALID_IRQ_VECTOR | NVME_DNR;
    if (!pc)
        return NVME_INVALID_FIELD | NVME_DNR;
    init_cq(n, (uint16_t)qid, (uint16_t)vector, ien, c->prp1, qsize + 1);
    hv_trace(n->dev.machine, "nvme create cq%u size=%u vector=%u ien=%u", qid,
             qsize + 1, vector, ien);
    return NVME_SUCCESS;
}

static uint16_t adm_create_sq(struct nvme_ctrl *n, const struct nvme_cmd *c)
{
    uint32_t qid = c->cdw10 & 0xffff, qsize = c->cdw10 >> 16;
    uint32_t cqid = c->cdw11 >> 16;

    if (!cqid || !cqid_ok(n, cqid))
        return NVME_INVALID_CQID | NVME_DNR;
    if (!qid || qid > NVME_MAX_IOQPAIRS || n->sq[qid].valid)
        return NVME_INVALID_QID | NVME_DNR;
    if (!qsize || qsize > NVME_MQES)
        return NVME_MAX_QSIZE_EXCEEDED | NVME_DNR;
    if (c->prp1 & (n->page_size - 1))
        return NVME_INVALID_PRP_OFFSET | NVME_DNR;
    if (!(c->cdw11 & 1))
        return NVME_INVALID_FIELD | NVME_DNR;
    init_sq(n, (uint16_t)qid, (uint16_t)cqid, c->prp1, qsize + 1);
    hv_trace(n->dev.machine, "nvme create sq%u size=%u cq%u", qid, qsize + 1,
             cqid);
    return NVME_SUCCESS;
}

static uint16_t adm_delete_sq(struct nvme_ctrl *n, const struct nvme_cmd *c)
{
    uint32_t qid = c->cdw10 & 0xffff;

    if (!qid || !sqid_ok(n, qid))
        return NVME_INVALID_QID | NVME_DNR;
    memset(&n->sq[qid], 0, sizeof(n->sq[qid]));
    hv_trace(n->dev.machine, "nvme delete sq%u", qid);
    return NVME_SUCCESS;
}

static uint16_t adm_delete_cq(struct nvme_ctrl *n, const struct nvme_cmd *c)
{
    uint32_t qid = c->cdw10 & 0xffff;

    if (!qid || !cqid_ok(n, qid))
        return NVME_INVALID_CQID | NVME_DNR;
    for (unsigned i = 1; i < NVME_NUM_QUEUES; i++)
        if (n->sq[i].valid && n->sq[i].cqid == qid)
            return NVME_INVALID_QUEUE_DEL;
    memset(&n->cq[qid], 0, sizeof(n->cq[qid]));
    irq_update_pin(n);
    hv_trace(n->dev.machine, "nvme delete cq%u", qid);
    return NVME_SUCCESS;
}

/* ---- identify (5.15) ------------------------------------------------------- */

static void pad_str(uint8_t *dst, size_t len, const char *s)
{
    size_t n = strlen(s);

    memset(dst, ' ', len);
    memcpy(dst, s, n < len ? n : len);
}

static void identify_ctrl(const struct nvme_ctrl *n, uint8_t *id)
{
    char serial[sizeof(n->serial) + 1] = {0};

    memcpy(serial, n->serial, sizeof(n->serial));
    hv_st_le(id + NVME_IDC_VID, 2, NVME_PCI_VENDOR);
    hv_st_le(id + NVME_IDC_SSVID, 2, NVME_PCI_SUBSYS_VENDOR);
    pad_str(id + NVME_IDC_SN, 20, serial);
    pad_str(id + NVME_IDC_MN, 40, "QEMU NVMe Ctrl");
    pad_str(id + NVME_IDC_FR, 8, "1.0");
    id[NVME_IDC_RAB] = 6;
    id[NVME_IDC_IEEE] = 0x00; /* OUI 52:54:00, least significant first */
    id[NVME_IDC_IEEE + 1] = 0x54;
    id[NVME_IDC_IEEE + 2] = 0x52;
    id[NVME_IDC_MDTS] = NVME_MDTS;
    hv_st_le(id + NVME_IDC_VER, 4, NVME_VS_1_4);
    hv_st_le(id + NVME_IDC_OAES, 4, NVME_OAES_NS_ATTR);
    id[NVME_IDC_CNTRLTYPE] = 1; /* I/O controller */
    hv_st_le(id + NVME_IDC_OACS, 2, NVME_OACS_FORMAT | NVME_OACS_DBBUF);
    id[NVME_IDC_ACL] = 3;
    id[NVME_IDC_AERL] = NVME_AERL;
    id[NVME_IDC_FRMW] = 0x3; /* one slot, slot 1 read-only */
    id[NVME_IDC_LPA] = 0x7;  /* per-ns SMART, effects log, extended data */
    hv_st_le(id + NVME_IDC_WCTEMP, 2, NVME_TEMP_WARNING);
    hv_st_le(id + NVME_IDC_CCTEMP, 2, NVME_TEMP_CRITICAL);
    id[NVME_IDC_SQES] = NVME_SQES << 4 | NVME_SQES;
    id[NVME_IDC_CQES] = NVME_CQES << 4 | NVME_CQES;
    hv_st_le(id + NVME_IDC_NN, 4, NVME_NN);
    hv_st_le(id + NVME_IDC_ONCS, 2,
             NVME_ONCS_COMPARE | NVME_ONCS_DSM | NVME_ONCS_WRITE_ZEROES |
                 NVME_ONCS_FEATURES | NVME_ONCS_TIMESTAMP | NVME_ONCS_VERIFY);
    id[NVME_IDC_VWC] = 0x7; /* present, broadcast flush supported */
    hv_st_le(id + NVME_IDC_SGLS, 4, NVME_SGLS_SUPPORTED); /* no bit bucket */
    memcpy(id + NVME_IDC_SUBNQN, "nqn.2019-08.org.qemu:", 21);
    memcpy(id + NVME_IDC_SUBNQN + 21, serial, strlen(serial));
    hv_st_le(id + NVME_IDC_PSD0, 2, 0x9c4); /* max power 25 W */
    hv_st_le(id + NVME_IDC_PSD0 + 4, 4, 0x10); /* entry latency */
    hv_st_le(id + NVME_IDC_PSD0 + 8, 4, 0x4);  /* exit latency */
}

static bool nsid_valid(uint32_t nsid)
{
    return nsid && (nsid == NVME_NSID_BROADCAST || nsid <= NVME_NN);
}

/* CNS 00h, 05h, 11h: inactive NSIDs in range read all zeroes. */
static uint16_t identify_ns(struct nvme_ctrl *n, const struct nvme_cmd *c,
                            uint8_t cns, uint8_t *id)
{
    struct nvme_ns *ns;
    uint8_t csi = NVME_IDENTIFY_CSI(c);

    if (!nsid_valid(c->nsid) || c->nsid == NVME_NSID_BROADCAST)
        return NVME_INVALID_NSID | NVME_DNR;
    ns = nvme_ns_get(n, c->nsid);
    if (ns && (cns == NVME_CNS_NS || cns == NVME_CNS_NS_PRESENT))
        nvme_ns_identify(ns, id);
    else if (ns && cns == NVME_CNS_CS_NS && csi != NVME_CSI_NVM)
        return NVME_INVALID_FIELD | NVME_DNR;
    return nvme_c2h(n, c, id, NVME_IDENTIFY_BYTES);
}

/* CNS 02h, 07h, 10h: active NSIDs above c->nsid, ascending. */
static uint16_t identify_nslist(struct nvme_ctrl *n, const struct nvme_cmd *c,
                                uint8_t cns, uint8_t *id)
{
    unsigned j = 0;

    if (c->nsid >= NVME_NSID_BROADCAST - 1)
        return NVME_INVALID_NSID | NVME_DNR;
    if (cns == NVME_CNS_CS_NS_ACTIVE_LIST && NVME_IDENTIFY_CSI(c) != NVME_CSI_NVM)
        return NVME_INVALID_FIELD | NVME_DNR;
    for (unsigned i = 0; i < n->nns; i++)
        if (n->ns[i].nsid > c->nsid)
            hv_st_le(id + 4 * j++, 4, n->ns[i].nsid);
    return nvme_c2h(n, c, id, NVME_IDENTIFY_BYTES);
}

static uint16_t identify_descr(struct nvme_ctrl *n, const struct nvme_cmd *c,
                               uint8_t *id)
{
    struct nvme_ns *ns;

    if (!nsid_valid(c->nsid) || c->nsid == NVME_NSID_BROADCAST)
        return NVME_INVALID_NSID | NVME_DNR;
    ns = nvme_ns_get(n, c->nsid);
    if (!ns)
        return NVME_INVALID_FIELD | NVME_DNR;
    id[0] = NVME_NIDT_EUI64;
    id[1] = 8;
    hv_st_le(id + 4, 8, __builtin_bswap64(0x5254000000000000ull | ns->nsid));
    id[12] = NVME_NIDT_CSI;
    id[13] = 1;
    id[16] = NVME_CSI_NVM;
    return nvme_c2h(n, c, id, NVME_IDENTIFY_BYTES);
}

static uint16_t adm_identify(struct nvme_ctrl *n, const struct nvme_cmd *c)
{
    uint8_t id[NVME_IDENTIFY_BYTES] = {0};
    uint8_t cns = c->cdw10 & 0xff, csi = NVME_IDENTIFY_CSI(c);

    hv_trace(n->dev.machine, "nvme identify cns=%u nsid=%u csi=%u", cns,
             c->nsid, csi);
    switch (cns) {
    case NVME_CNS_NS:
    case NVME_CNS_CS_NS:
    case NVME_CNS_NS_PRESENT:
        return identify_ns(n, c, cns, id);
    case NVME_CNS_CTRL:
        identify_ctrl(n, id);
        return nvme_c2h(n, c, id, NVME_IDENTIFY_BYTES);
    case NVME_CNS_CS_CTRL:
        if (csi != NVME_CSI_NVM)
            return NVME_INVALID_FIELD | NVME_DNR;
        id[0] = NVME_VSL; /* verify size limit, as QEMU */
        return nvme_c2h(n, c, id, NVME_IDENTIFY_BYTES);
    case NVME_CNS_NS_ACTIVE_LIST:
    case NVME_CNS_CS_NS_ACTIVE_LIST:
    case NVME_CNS_NS_PRESENT_LIST:
        return identify_nslist(n, c, cns, id);
    case NVME_CNS_NS_DESCR_LIST:
        return identify_descr(n, c, id);
    default:
        return NVME_INVALID_FIELD | NVME_DNR;
    }
}

/* ---- features (5.21) ------------------------------------------------------- */

static bool feature_supported(uint8_t fid)
{
    switch (fid) {
    case NVME_FEAT_ARBITRATION:
    case NVME_FEAT_POWER_MGMT:
    case NVME_FEAT_TEMP_THRESHOLD:
    case NVME_FEAT_ERROR_RECOVERY:
    case NVME_FEAT_VWC:
    case NVME_FEAT_NUM_QUEUES:
    case NVME_FEAT_INT_COALESCING:
    case NVME_FEAT_INT_VECTOR_CONFIG:
    case NVME_FEAT_WRITE_ATOMICITY:
    case NVME_FEAT_ASYNC_EVENT_CONF:
    case NVME_FEAT_TIMESTAMP:
    case NVME_FEAT_HOST_BEHAVIOR:
        return true;
    default:
        return false;
    }
}

/* Get Features SEL 11b. Arbitration, power management, interrupt
 * coalescing, interrupt vector configuration and write atomicity keep
 * their defaults: supported, not changeable (QEMU 7.2's choice). */
static uint32_t feature_cap(uint8_t fid)
{
    switch (fid) {
    case NVME_FEAT_ERROR_RECOVERY:
        return NVME_FEAT_CAP_CHANGE | NVME_FEAT_CAP_NS;
    case NVME_FEAT_TEMP_THRESHOLD:
    case NVME_FEAT_VWC:
    case NVME_FEAT_NUM_QUEUES:
    case NVME_FEAT_ASYNC_EVENT_CONF:
    case NVME_FEAT_TIMESTAMP:
    case NVME_FEAT_HOST_BEHAVIOR:
        return NVME_FEAT_CAP_CHANGE;
    default:
        return 0;
    }
}

static uint32_t numq_value(void)
{
    return (NVME_MAX_IOQPAIRS - 1) | (NVME_MAX_IOQPAIRS - 1) << 16;
}

static uint64_t timestamp_now(const struct nvme_ctrl *n)
{
    uint64_t elapsed = (hv_clock_ns(&n->dev) - n->feat.timestamp_set_ns) /
                       1000000u;

    return (n->feat.timestamp_ms + elapsed) & NVME_TS_MASK;
}

static uint16_t get_timestamp(struct nvme_ctrl *n, const struct nvme_cmd *c)
{
    uint8_t ts[8];

    hv_st_le(ts, 8, timestamp_now(n));
    ts[6] = n->feat.timestamp_ms ? 0x2 : 0x0; /* origin: set by the host */
    return nvme_c2h(n, c, ts, sizeof(ts));
}

static uint16_t set_timestamp(struct nvme_ctrl *n, const struct nvme_cmd *c)
{
    uint8_t ts[8];
    uint16_t st = nvme_h2c(n, c, ts, sizeof(ts));

    if (st)
        return st;
    n->feat.timestamp_ms = ld64(ts) & NVME_TS_MASK;
    n->feat.timestamp_set_ns = hv_clock_ns(&n->dev);
    hv_trace(n->dev.machine, "nvme timestamp=0x%llx",
             (unsigned long long)n->feat.timestamp_ms);
    return NVME_SUCCESS;
}

static uint16_t temp_threshold(const struct nvme_ctrl *n, uint32_t dw11,
                               bool defaults, uint32_t *out)
{
    *out = 0;
    if (NVME_TEMP_TMPSEL(dw11) != 0)
        return NVME_SUCCESS;
    switch (NVME_TEMP_THSEL(dw11)) {
    case 0:
        *out = defaults ? NVME_TEMP_WARNING : n->feat.temp_over;
        return NVME_SUCCESS;
    case 1:
        *out = defaults ? 0 : n->feat.temp_under;
        return NVME_SUCCESS;
    default:
        return NVME_INVALID_FIELD | NVME_DNR;
    }
}

static uint16_t feature_default(struct nvme_ctrl *n, uint8_t fid,
                                uint32_t dw11, uint32_t *out)
{
    uint32_t iv = dw11 & 0xffff;

    *out = 0;
    switch (fid) {
    case NVME_FEAT_ARBITRATION:
        *out = NVME_ARB_DEFAULT;
        return NVME_SUCCESS;
    case NVME_FEAT_TEMP_THRESHOLD:
        return temp_threshold(n, dw11, true, out);
    case NVME_FEAT_VWC:
        *out = 1;
        return NVME_SUCCESS;
    case NVME_FEAT_NUM_QUEUES:
        *out = numq_value();
        return NVME_SUCCESS;
    case NVME_FEAT_INT_VECTOR_CONFIG:
        if (iv >= NVME_MSIX_VECTORS)
            return NVME_INVALID_FIELD | NVME_DNR;
        *out = iv | (iv == n->cq[0].vector ? NVME_INTVC_NOCOALESCING : 0);
        return NVME_SUCCESS;
    default:
        return NVME_SUCCESS;
    }
}

static uint16_t feature_current(struct nvme_ctrl *n, const struct nvme_cmd *c,
                                uint8_t fid, uint32_t *out)
{
    switch (fid) {
    case NVME_FEAT_TEMP_THRESHOLD:
        return temp_threshold(n, c->cdw11, false, out);
    case NVME_FEAT_ERROR_RECOVERY:
        *out = n->feat.error_recovery[c->nsid - 1];
        return NVME_SUCCESS;
    case NVME_FEAT_VWC:
        *out = n->feat.vwc;
        return NVME_SUCCESS;
    case NVME_FEAT_ASYNC_EVENT_CONF:
        *out = n->feat.async_config;
        return NVME_SUCCESS;
    default: /* the features that cannot be changed */
        return feature_default(n, fid, c->cdw11, out);
    }
}

static uint16_t feature_ns_check(struct nvme_ctrl *n, uint8_t fid,
                                 uint32_t nsid, bool set)
{
    if (feature_cap(fid) & NVME_FEAT_CAP_NS) {
        if (set && nsid == NVME_NSID_BROADCAST)
            return NVME_SUCCESS;
        if (!nsid_valid(nsid) || nsid == NVME_NSID_BROADCAST)
            return NVME_INVALID_NSID | NVME_DNR;
        return nvme_ns_get(n, nsid) ? NVME_SUCCESS
                                    : NVME_INVALID_FIELD | NVME_DNR;
    }
    if (set && nsid && nsid != NVME_NSID_BROADCAST)
        return nsid_valid(nsid) ? NVME_FEAT_NOT_NS_SPEC | NVME_DNR
                                : NVME_INVALID_NSID | NVME_DNR;
    return NVME_SUCCESS;
}

static uint16_t adm_get_features(struct nvme_ctrl *n, struct nvme_req *req)
{
    const struct nvme_cmd *c = &req->cmd;
    uint8_t fid = c->cdw10 & 0xff;
    unsigned sel = NVME_GETFEAT_SEL(c->cdw10);
    uint16_t st;

    if (!feature_supported(fid))
        return NVME_INVALID_FIELD | NVME_DNR;
    st = feature_ns_check(n, fid, c->nsid, false);
    if (st)
        return st;
    if (sel == NVME_SEL_SUPPORTED) {
        req->dw0 = feature_cap(fid);
        return NVME_SUCCESS;
    }
    if (sel == NVME_SEL_DEFAULT || sel == NVME_SEL_SAVED)
        return feature_default(n, fid, c->cdw11, &req->dw0);
    if (sel != NVME_SEL_CURRENT)
        return NVME_INVALID_FIELD | NVME_DNR;
    if (fid == NVME_FEAT_TIMESTAMP)
        return get_timestamp(n, c);
    if (fid == NVME_FEAT_HOST_BEHAVIOR)
        return nvme_c2h(n, c, n->feat.hbs, sizeof(n->feat.hbs));
    return feature_current(n, c, fid, &req->dw0);
}

static uint16_t set_temp_threshold(struct nvme_ctrl *n, uint32_t dw11)
{
    if (NVME_TEMP_TMPSEL(dw11) != 0)
        return NVME_SUCCESS;
    switch (NVME_TEMP_THSEL(dw11)) {
    case 0:
        n->feat.temp_over = dw11 & 0xffff;
        break;
    case 1:
        n->feat.temp_under = dw11 & 0xffff;
        break;
    default:
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if ((NVME_TEMPERATURE >= n->feat.temp_over ||
         NVME_TEMPERATURE <= n->feat.temp_under) &&
        (n->feat.async_config & NVME_AEC_SMART_TEMP))
        enqueue_event(n, NVME_AER_TYPE_SMART, NVME_AER_INFO_SMART_TEMP,
                      NVME_LOG_SMART_INFO);
    return NVME_SUCCESS;
}

static bool any_io_queue(const struct nvme_ctrl *n)
{
    for (unsigned i = 1; i < NVME_NUM_QUEUES; i++)
        if (n->sq[i].valid || n->cq[i].valid)
            return true;
    return false;
}

static uint16_t set_num_queues(struct nvme_ctrl *n, struct nvme_req *req)
{
    uint32_t dw11 = req->cmd.cdw11;

    if (any_io_queue(n))
        return NVME_CMD_SEQ_ERROR | NVME_DNR;
    if ((dw11 & 0xffff) == 0xffff || (dw11 >> 16) == 0xffff)
        return NVME_INVALID_FIELD | NVME_DNR;
    req->dw0 = numq_value();
    return NVME_SUCCESS;
}

static uint16_t set_feature(struct nvme_ctrl *n, struct nvme_req *req,
                            uint8_t fid)
{
    const struct nvme_cmd *c = &req->cmd;

    switch (fid) {
    case NVME_FEAT_TEMP_THRESHOLD:
        return set_temp_threshold(n, c->cdw11);
    case NVME_FEAT_ERROR_RECOVERY:
        for (unsigned i = 0; i < n->nns; i++)
            if (c->nsid == NVME_NSID_BROADCAST || c->nsid == n->ns[i].nsid)
                n->feat.error_recovery[i] = c->cdw11 & 0x1ffff;
        return NVME_SUCCESS;
    case NVME_FEAT_VWC:
        n->feat.vwc = c->cdw11 & 1;
        return NVME_SUCCESS;
    case NVME_FEAT_NUM_QUEUES:
        return set_num_queues(n, req);
    case NVME_FEAT_ASYNC_EVENT_CONF:
        n->feat.async_config = c->cdw11;
        return NVME_SUCCESS;
    case NVME_FEAT_TIMESTAMP:
        return set_timestamp(n, c);
    default: /* NVME_FEAT_HOST_BEHAVIOR */
        return nvme_h2c(n, c, n->feat.hbs, sizeof(n->feat.hbs));
    }
}

static uint16_t adm_set_features(struct nvme_ctrl *n, struct nvme_req *req)
{
    const struct nvme_cmd *c = &req->cmd;
    uint8_t fid = c->cdw10 & 0xff;
    uint16_t st;

    if (c->cdw10 & (1u << 31)) /* SV: nothing is saveable */
        return NVME_FID_NOT_SAVEABLE | NVME_DNR;
    if (!feature_supported(fid))
        return NVME_INVALID_FIELD | NVME_DNR;
    st = feature_ns_check(n, fid, c->nsid, true);
    if (st)
        return st;
    if (!(feature_cap(fid) & NVME_FEAT_CAP_CHANGE))
        return NVME_FEAT_NOT_CHANGEABLE | NVME_DNR;
    hv_trace(n->dev.machine, "nvme setfeat fid=0x%x cdw11=0x%x", fid, c->cdw11);
    return set_feature(n, req, fid);
}

/* ---- log pages (5.14) ------------------------------------------------------ */

static void smart_log(const struct nvme_ctrl *n, uint8_t *log)
{
    uint64_t hours = hv_clock_ns(&n->dev) / 3600000000000ull;
    uint16_t temp = NVME_TEMPERATURE;

    if (temp >= n->feat.temp_over || temp <= n->feat.temp_under)
        log[0] = 0x2; /* critical warning: temperature */
    hv_st_le(log + 1, 2, temp);
    hv_st_le(log + 32, 8, (n->stats.units_read + 999) / 1000);
    hv_st_le(log + 48, 8, (n->stats.units_written + 999) / 1000);
    hv_st_le(log + 64, 8, n->stats.read_cmds);
    hv_st_le(log + 80, 8, n->stats.write_cmds);
    hv_st_le(log + 128, 8, hours);
}

static void effects_log(uint8_t *log)
{
    static const uint8_t admin[] = {
        NVME_ADM_DELETE_SQ,    NVME_ADM_CREATE_SQ,    NVME_ADM_GET_LOG_PAGE,
        NVME_ADM_DELETE_CQ,    NVME_ADM_CREATE_CQ,    NVME_ADM_IDENTIFY,
        NVME_ADM_ABORT,        NVME_ADM_SET_FEATURES, NVME_ADM_GET_FEATURES,
        NVME_ADM_ASYNC_EV_REQ, NVME_ADM_DBBUF_CONFIG};
    static const struct {
        uint8_t opc;
        uint32_t eff;
    } io[] = {{NVME_CMD_FLUSH, NVME_EFF_CSUPP | NVME_EFF_LBCC},
              {NVME_CMD_WRITE, NVME_EFF_CSUPP | NVME_EFF_LBCC},
              {NVME_CMD_READ, NVME_EFF_CSUPP},
              {NVME_CMD_COMPARE, NVME_EFF_CSUPP},
              {NVME_CMD_WRITE_ZEROES, NVME_EFF_CSUPP | NVME_EFF_LBCC},
              {NVME_CMD_DSM, NVME_EFF_CSUPP | NVME_EFF_LBCC},
              {NVME_CMD_VERIFY, NVME_EFF_CSUPP}};

    for (size_t i = 0; i < sizeof(admin); i++)
        hv_st_le(log + 4 * admin[i], 4, NVME_EFF_CSUPP);
    hv_st_le(log + 4 * NVME_ADM_FORMAT_NVM, 4,
             NVME_EFF_CSUPP | NVME_EFF_LBCC | NVME_EFF_NCC | NVME_EFF_NIC);
    for (size_t i = 0; i < sizeof(io) / sizeof(io[0]); i++)
        hv_st_le(log + 1024 + 4 * io[i].opc, 4, io[i].eff);
}

/* Builds log `lid` into buf (zeroed, 4096 bytes); returns its size or 0. */
static uint32_t build_log(struct nvme_ctrl *n, uint8_t lid, uint8_t *buf)
{
    switch (lid) {
    case NVME_LOG_ERROR_INFO:
        return NVME_LOG_ERROR_BYTES;
    case NVME_LOG_SMART_INFO:
        smart_log(n, buf);
        return NVME_LOG_SMART_BYTES;
    case NVME_LOG_FW_SLOT_INFO:
        buf[0] = 0x1; /* active slot 1 */
        pad_str(buf + 8, 8, "1.0");
        return NVME_LOG_FW_BYTES;
    case NVME_LOG_CHANGED_NSLIST:
        for (uint32_t i = 0; i < n->nchanged_ns; i++)
            hv_st_le(buf + 4 * i, 4, n->changed_ns[i]);
        return NVME_LOG_NSLIST_BYTES;
    case NVME_LOG_CMD_EFFECTS:
        effects_log(buf);
        return NVME_LOG_EFFECTS_BYTES;
    default:
        return 0;
    }
}

static void log_read_done(struct nvme_ctrl *n, uint8_t lid, bool rae)
{
    if (lid == NVME_LOG_CHANGED_NSLIST)
        n->nchanged_ns = 0;
    if (rae)
        return;
    if (lid == NVME_LOG_ERROR_INFO)
        clear_events(n, NVME_AER_TYPE_ERROR);
    else if (lid == NVME_LOG_SMART_INFO)
        clear_events(n, NVME_AER_TYPE_SMART);
    else if (lid == NVME_LOG_CHANGED_NSLIST)
        clear_events(n, NVME_AER_TYPE_NOTICE);
}

static uint16_t adm_get_log(struct nvme_ctrl *n, const struct nvme_cmd *c)
{
    uint8_t buf[4096] = {0};
    uint8_t lid = c->cdw10 & 0xff;
    bool rae = (c->cdw10 >> 15) & 1;
    uint64_t len = ((uint64_t)((c->cdw11 & 0xffff) << 16 | c->cdw10 >> 16) + 1) << 2;
    uint64_t off = c->cdw12 | (uint64_t)c->cdw13 << 32;
    uint32_t size;
    uint16_t st;

    hv_trace(n->dev.machine, "nvme get log lid=0x%x len=%llu off=%llu", lid,
             (unsigned long long)len, (unsigned long long)off);
    if (off & 3 || len > NVME_MAX_XFER)
        return NVME_INVALID_FIELD | NVME_DNR;
    size = build_log(n, lid, buf);
    if (!size || off >= size)
        return NVME_INVALID_FIELD | NVME_DNR;
    /* QEMU 7.2 (after the offset check): the controller-wide SMART log is
     * NSID FFFFFFFFh only; NSID 0 is an invalid namespace like any
     * inactive one */
    if (lid == NVME_LOG_SMART_INFO && c->nsid != NVME_NSID_BROADCAST &&
        !nvme_ns_get(n, c->nsid))
        return NVME_INVALID_NSID | NVME_DNR;
    if (len > size - off)
        len = size - off;
    st = nvme_c2h(n, c, buf + off, len);
    if (!st)
        log_read_done(n, lid, rae);
    return st;
}

/* ---- other admin commands -------------------------------------------------- */

static uint16_t adm_aer(struct nvme_ctrl *n, const struct nvme_cmd *c)
{
    if (n->outstanding_aers > NVME_AERL)
        return NVME_AER_LIMIT_EXCEEDED;
    n->aer_cids[n->outstanding_aers++] = c->cid;
    hv_trace(n->dev.machine, "nvme aer cid=%u outstanding=%u", c->cid,
             n->outstanding_aers);
    return NVME_NO_COMPLETE;
}

static uint16_t adm_abort(struct nvme_ctrl *n, struct nvme_req *req)
{
    req->dw0 = 1; /* not aborted: commands complete synchronously */
    return sqid_ok(n, req->cmd.cdw10 & 0xffff) ? NVME_SUCCESS
                                               : NVME_INVALID_FIELD | NVME_DNR;
}

static uint16_t adm_dbbuf_config(struct nvme_ctrl *n, const struct nvme_cmd *c)
{
    if ((c->prp1 | c->prp2) & (n->page_size - 1))
        return NVME_INVALID_FIELD | NVME_DNR;
    n->dbbuf_dbs = c->prp1;
    n->dbbuf_eis = c->prp2;
    n->dbbuf_enabled = true;
    hv_trace(n->dev.machine, "nvme dbbuf dbs=0x%llx eis=0x%llx",
             (unsigned long long)c->prp1, (unsigned long long)c->prp2);
    for (unsigned i = 0; i < NVME_NUM_QUEUES; i++) {
        struct nvme_sq *sq = &n->sq[i];
        struct nvme_cq *cq = &n->cq[i];

        if (sq->valid) {
            sq->db_addr = c->prp1 + ((uint64_t)i << 3);
            sq->ei_addr = c->prp2 + ((uint64_t)i << 3);
            dbbuf_write(n, sq->db_addr, sq->tail);
        }
        if (cq->valid) {
            cq->db_addr = c->prp1 + ((uint64_t)i << 3) + 4;
            cq->ei_addr = c->prp2 + ((uint64_t)i << 3) + 4;
            dbbuf_write(n, cq->db_addr, cq->head);
        }
    }
    return NVME_SUCCESS;
}

static void ns_changed(struct nvme_ctrl *n, uint32_t nsid)
{
    for (uint32_t i = 0; i < n->nchanged_ns; i++)
        if (n->changed_ns[i] == nsid)
            return;
    if (n->nchanged_ns < NVME_MAX_NS)
        n->changed_ns[n->nchanged_ns++] = nsid;
    if (n->feat.async_config & NVME_AEC_NS_ATTR)
        enqueue_event(n, NVME_AER_TYPE_NOTICE,
                      NVME_AER_INFO_NOTICE_NS_ATTR_CHANGED,
                      NVME_LOG_CHANGED_NSLIST);
}

static uint16_t format_ns(struct nvme_ctrl *n, struct nvme_ns *ns, uint8_t lbaf)
{
    if (hv_blk_discard(ns->blk, 0, ns->blk->size))
        return NVME_INTERNAL_ERROR;
    nvme_ns_format(ns, lbaf);
    ns_changed(n, ns->nsid);
    return NVME_SUCCESS;
}

/* Only the metadata-free formats 0 (512 B) and 4 (4 KiB); no PI. */
static uint16_t adm_format(struct nvme_ctrl *n, const struct nvme_cmd *c)
{
    uint8_t lbaf = c->cdw10 & 0xf, pi = (c->cdw10 >> 5) & 0x7;
    uint8_t ses = (c->cdw10 >> 9) & 0x7;
    struct nvme_ns *ns;
    uint16_t st = NVME_SUCCESS;

    if (ses > 2 || pi)
        return NVME_INVALID_FIELD | NVME_DNR;
    if (lbaf != 0 && lbaf != 4)
        return NVME_INVALID_FORMAT | NVME_DNR;
    if (c->nsid == NVME_NSID_BROADCAST) {
        for (unsigned i = 0; i < n->nns && !st; i++)
            st = format_ns(n, &n->ns[i], lbaf);
        return st;
    }
    if (!nsid_valid(c->nsid))
        return NVME_INVALID_NSID | NVME_DNR;
    ns = nvme_ns_get(n, c->nsid);
    return ns ? format_ns(n, ns, lbaf) : NVME_INVALID_FIELD | NVME_DNR;
}

static bool admin_opcode_supported(uint8_t opc)
{
    switch (opc) {
    case NVME_ADM_DELETE_SQ:
    case NVME_ADM_CREATE_SQ:
    case NVME_ADM_GET_LOG_PAGE:
    case NVME_ADM_DELETE_CQ:
    case NVME_ADM_CREATE_CQ:
    case NVME_ADM_IDENTIFY:
    case NVME_ADM_ABORT:
    case NVME_ADM_SET_FEATURES:
    case NVME_ADM_GET_FEATURES:
    case NVME_ADM_ASYNC_EV_REQ:
    case NVME_ADM_DBBUF_CONFIG:
    case NVME_ADM_FORMAT_NVM:
        return true;
    default:
        return false;
    }
}

/* QEMU's order: opcode, then PSDT (no SGLs for admin over PCIe), then
 * fused operations (unsupported). */
static uint16_t admin_cmd(struct nvme_ctrl *n, struct nvme_req *req)
{
    const struct nvme_cmd *c = &req->cmd;

    if (!admin_opcode_supported(c->opc))
        return NVME_INVALID_OPCODE | NVME_DNR;
    if (NVME_PSDT(c->flags) != NVME_PSDT_PRP)
        return NVME_INVALID_FIELD | NVME_DNR;
    if (NVME_FUSE(c->flags))
        return NVME_INVALID_FIELD;
    switch (c->opc) {
    case NVME_ADM_DELETE_SQ:
        return adm_delete_sq(n, c);
    case NVME_ADM_CREATE_SQ:
        return adm_create_sq(n, c);
    case NVME_ADM_GET_LOG_PAGE:
        return adm_get_log(n, c);
    case NVME_ADM_DELETE_CQ:
        return adm_delete_cq(n, c);
    case NVME_ADM_CREATE_CQ:
        return adm_create_cq(n, c);
    case NVME_ADM_IDENTIFY:
        return adm_identify(n, c);
    case NVME_ADM_ABORT:
        return adm_abort(n, req);
    case NVME_ADM_SET_FEATURES:
        return adm_set_features(n, req);
    case NVME_ADM_GET_FEATURES:
        return adm_get_features(n, req);
    case NVME_ADM_ASYNC_EV_REQ:
        return adm_aer(n, c);
    case NVME_ADM_DBBUF_CONFIG:
        return adm_dbbuf_config(n, c);
    default: /* NVME_ADM_FORMAT_NVM */
        return adm_format(n, c);
    }
}

/* ---- submission queue processing ----------------------------------------- */

static void decode_cmd(struct nvme_cmd *c, const uint8_t *e)
{
    c->opc = e[NVME_SQE_OPC];
    c->flags = e[NVME_SQE_FLAGS];
    c->cid = (uint16_t)hv_ld_le(e + NVME_SQE_CID, 2);
    c->nsid = hv_ld_le(e + NVME_SQE_NSID, 4);
    c->mptr = ld64(e + NVME_SQE_MPTR);
    memcpy(c->dptr, e + NVME_SQE_DPTR, sizeof(c->dptr));
    c->prp1 = ld64(e + NVME_SQE_DPTR);
    c->prp2 = ld64(e + NVME_SQE_DPTR + 8);
    c->cdw10 = hv_ld_le(e + NVME_SQE_CDW10, 4);
    c->cdw11 = hv_ld_le(e + NVME_SQE_CDW10 + 4, 4);
    c->cdw12 = hv_ld_le(e + NVME_SQE_CDW10 + 8, 4);
    c->cdw13 = hv_ld_le(e + NVME_SQE_CDW10 + 12, 4);
    c->cdw14 = hv_ld_le(e + NVME_SQE_CDW10 + 16, 4);
    c->cdw15 = hv_ld_le(e + NVME_SQE_CDW10 + 20, 4);
}

static void update_sq_tail(struct nvme_ctrl *n, struct nvme_sq *sq)
{
    uint32_t tail;

    if (!n->dbbuf_enabled || !dbbuf_read(n, sq->db_addr, &tail))
        return;
    if (tail < sq->size)
        sq->tail = tail;
}

static void execute(struct nvme_ctrl *n, uint16_t sqid, const uint8_t *e)
{
    struct nvme_req req = {.sqid = sqid};
    uint16_t st;

    decode_cmd(&req.cmd, e);
    n->in_admin_cmd = !sqid;
    st = sqid ? nvme_io_cmd(n, &req) : admin_cmd(n, &req);
    n->in_admin_cmd = false;
    hv_trace(n->dev.machine, "nvme %s sq%u cid=%u opc=0x%x nsid=%u status=0x%x",
             sqid ? "io" : "admin", sqid, req.cmd.cid, req.cmd.opc,
             req.cmd.nsid, st);
    if (st != NVME_NO_COMPLETE)
        post_cqe(n, sqid, req.cmd.cid, req.dw0, st);
    process_aers(n);
}

/* Runs every entry between head and tail (at most one queue's worth), each
 * only while its CQ has room. */
static void process_sq(struct nvme_ctrl *n, uint16_t sqid)
{
    struct nvme_sq *sq = &n->sq[sqid];
    uint8_t e[NVME_SQE_SIZE];

    update_sq_tail(n, sq);
    for (uint32_t i = 0; sq->valid && i < sq->size; i++) {
        if (sq->head == sq->tail || !n->cq[sq->cqid].valid ||
            cq_full(n, &n->cq[sq->cqid]) || (n->csts & NVME_CSTS_CFS) ||
            !hv_budget(&n->dev, 1))
            break;
        if (hv_dma_read(&n->dev, sq->dma + (uint64_t)sq->head * NVME_SQE_SIZE,
                        e, sizeof(e))) {
            set_fatal(n, "submission queue read failed");
            break;
        }
        sq->head = (sq->head + 1) % sq->size;
        execute(n, sqid, e);
        if (n->dbbuf_enabled && sq->valid) {
            dbbuf_write(n, sq->ei_addr, sq->tail);
            update_sq_tail(n, sq);
        }
    }
}

/* ---- doorbells (3.1.24, 3.1.25) ------------------------------------------ */

/* 5.2: an invalid doorbell write is reported "if an Asynchronous Event
 * Request command is outstanding" (QEMU 7.2 too); otherwise ignored. */
static void invalid_doorbell(struct nvme_ctrl *n, uint8_t info, uint64_t off)
{
    hv_trace(n->dev.machine, "nvme invalid doorbell 0x%llx info=%u",
             (unsigned long long)off, info);
    if (!n->outstanding_aers)
        return;
    enqueue_event(n, NVME_AER_TYPE_ERROR, info, NVME_LOG_ERROR_INFO);
}

static void cq_doorbell(struct nvme_ctrl *n, uint32_t qid, uint32_t val,
                        uint64_t off)
{
    struct nvme_cq *cq = cqid_ok(n, qid) ? &n->cq[qid] : NULL;

    if (!cq || val >= cq->size) {
        invalid_doorbell(n, cq ? NVME_AER_INFO_ERR_INVALID_DB_VALUE
                               : NVME_AER_INFO_ERR_INVALID_DB_REGISTER, off);
        return;
    }
    cq->head = val;
    if (!qid && n->dbbuf_enabled)
        dbbuf_write(n, cq->db_addr, val);
    irq_update_pin(n);
    for (unsigned i = 0; i < NVME_NUM_QUEUES; i++) {
        struct nvme_sq *sq = &n->sq[i];

        if (sq->valid && sq->cqid == qid && sq->head != sq->tail)
            process_sq(n, (uint16_t)i);
    }
    if (!qid)
        process_aers(n);
}

static void sq_doorbell(struct nvme_ctrl *n, uint32_t qid, uint32_t val,
                        uint64_t off)
{
    struct nvme_sq *sq = sqid_ok(n, qid) ? &n->sq[qid] : NULL;

    if (!sq || val >= sq->size) {
        invalid_doorbell(n, sq ? NVME_AER_INFO_ERR_INVALID_DB_VALUE
                               : NVME_AER_INFO_ERR_INVALID_DB_REGISTER, off);
        return;
    }
    sq->tail = val;
    if (!qid && n->dbbuf_enabled)
        dbbuf_write(n, sq->db_addr, val);
    process_sq(n, (uint16_t)qid);
}

static void doorbell(struct nvme_ctrl *n, uint64_t off, uint32_t val)
{
    uint64_t rel = off - NVME_DB_BASE;

    if (rel & 3) /* misaligned: ignored, no event (QEMU 7.2) */
        hv_trace(n->dev.machine, "nvme misaligned doorbell 0x%llx",
                 (unsigned long long)off);
    else if ((rel >> 2) & 1)
        cq_doorbell(n, (uint32_t)(rel >> 3), val, off);
    else
        sq_doorbell(n, (uint32_t)(rel >> 3), val, off);
}

/* ---- controller state (3.5) ------------------------------------------------ */

/* CC.EN 1 -> 0 and subsystem reset: queues, events and registers go;
 * features and namespaces stay (QEMU's nvme_ctrl_reset). */
static void ctrl_reset(struct nvme_ctrl *n)
{
    memset(n->sq, 0, sizeof(n->sq));
    memset(n->cq, 0, sizeof(n->cq));
    memset(n->aer_cids, 0, sizeof(n->aer_cids));
    memset(n->aer_queue, 0, sizeof(n->aer_queue));
    n->outstanding_aers = 0;
    n->aer_mask = 0;
    n->aer_count = 0;
    n->dbbuf_enabled = false;
    n->dbbuf_dbs = n->dbbuf_eis = 0;
    n->cc = 0;
    n->csts = 0;
    n->intms = 0;
    irq_update_pin(n);
    hv_trace(n->dev.machine, "nvme controller reset");
}

static const char *start_error(const struct nvme_ctrl *n)
{
    uint32_t cc = n->cc, aqa = n->aqa;
    uint32_t ps = 1u << (12 + NVME_CC_MPS(cc));

    if (NVME_CC_MPS(cc) > NVME_MPSMAX)
        return "CC.MPS above CAP.MPSMAX";
    if ((n->asq | n->acq) & (ps - 1))
        return "ASQ/ACQ not page aligned";
    if (!((NVME_CAP_CSS_NVM | NVME_CAP_CSS_CSI | NVME_CAP_CSS_ADMIN_ONLY) &
          (1u << NVME_CC_CSS(cc))))
        return "CC.CSS unsupported";
    if (NVME_CC_IOCQES(cc) != NVME_CQES || NVME_CC_IOSQES(cc) != NVME_SQES)
        return "CC.IOSQES/IOCQES unsupported";
    if (!NVME_AQA_ASQS(aqa) || !NVME_AQA_ACQS(aqa))
        return "AQA: admin queue of one entry";
    return NULL; /* ASQ/ACQ 0 is an address like any other (QEMU 7.2) */
}

static void ctrl_start(struct nvme_ctrl *n)
{
    const char *err = start_error(n);

    if (err) {
        n->csts = NVME_CSTS_CFS;
        hv_trace(n->dev.machine, "nvme start failed: %s", err);
        return;
    }
    n->page_size = 1u << (12 + NVME_CC_MPS(n->cc));
    init_cq(n, 0, 0, true, n->acq, NVME_AQA_ACQS(n->aqa) + 1);
    init_sq(n, 0, 0, n->asq, NVME_AQA_ASQS(n->aqa) + 1);
    n->feat.timestamp_ms = 0;
    n->feat.timestamp_set_ns = hv_clock_ns(&n->dev);
    n->csts = NVME_CSTS_RDY;
    hv_trace(n->dev.machine, "nvme started cc=0x%x", n->cc);
}

static void write_cc(struct nvme_ctrl *n, uint32_t val)
{
    uint32_t old = n->cc;

    if (!(val & NVME_CC_EN) && (old & NVME_CC_EN)) {
        ctrl_reset(n);
        return;
    }
    n->cc = val;
    if ((val & NVME_CC_EN) && !(old & NVME_CC_EN))
        ctrl_start(n);
    if (NVME_CC_SHN(val) && !NVME_CC_SHN(old)) {
        for (unsigned i = 0; i < n->nns; i++)
            hv_blk_flush(n->ns[i].blk);
        n->csts |= NVME_CSTS_SHST_COMPLETE;
        hv_trace(n->dev.machine, "nvme shutdown complete");
    } else if (!NVME_CC_SHN(val) && NVME_CC_SHN(old)) {
        n->csts &= ~NVME_CSTS_SHST_COMPLETE;
    }
}

static void set_half(uint64_t *reg, bool high, unsigned size, uint64_t val)
{
    if (size == 8 && !high)
        *reg = val;
    else if (high)
        *reg = (*reg & 0xffffffffull) | (val & 0xffffffffull) << 32;
    else
        *reg = (*reg & ~0xffffffffull) | (val & 0xffffffffull);
}

static void write_reg(struct nvme_ctrl *n, uint64_t off, unsigned size,
                      uint64_t val)
{
    uint32_t v = (uint32_t)val;

    switch (off) {
    case NVME_REG_INTMS:
        if (!hv_msix_enabled(&n->dev)) {
            n->intms |= v;
            irq_update_pin(n);
        }
        break;
    case NVME_REG_INTMC:
        if (!hv_msix_enabled(&n->dev)) {
            n->intms &= ~v;
            irq_update_pin(n);
        }
        break;
    case NVME_REG_CC:
        write_cc(n, v);
        break;
    case NVME_REG_NSSR: /* CAP.NSSRS = 0: reserved (3.1.8), as QEMU 7.2 */
        if (v == NVME_NSSR_RESET)
            hv_trace(n->dev.machine, "nvme subsystem reset unsupported");
        break;
    case NVME_REG_AQA:
        n->aqa = v & 0x0fff0fffu;
        break;
    case NVME_REG_ASQ:
    case NVME_REG_ASQ + 4:
        set_half(&n->asq, off != NVME_REG_ASQ, size, val);
        break;
    case NVME_REG_ACQ:
    case NVME_REG_ACQ + 4:
        set_half(&n->acq, off != NVME_REG_ACQ, size, val);
        break;
    default: /* CAP, VS, CSTS, CMBLOC, CMBSZ, reserved: read-only */
        break;
    }
}

static uint64_t read_reg(const struct nvme_ctrl *n, uint64_t off,
                         unsigned size)
{
    uint8_t r[NVME_REG_END + 8] = {0};

    hv_st_le(r + NVME_REG_CAP, 8, n->cap);
    hv_st_le(r + NVME_REG_VS, 4, n->vs);
    hv_st_le(r + NVME_REG_INTMS, 4, n->intms);
    hv_st_le(r + NVME_REG_INTMC, 4, n->intms);
    hv_st_le(r + NVME_REG_CC, 4, n->cc);
    hv_st_le(r + NVME_REG_CSTS, 4, n->csts);
    hv_st_le(r + NVME_REG_AQA, 4, n->aqa);
    hv_st_le(r + NVME_REG_ASQ, 8, n->asq);
    hv_st_le(r + NVME_REG_ACQ, 8, n->acq);
    if (size == 8)
        return ld64(r + off);
    return hv_ld_le(r + off, size);
}

/* ---- hv_dev ops -------------------------------------------------------------- */

static uint64_t nvme_mmio_read(hv_dev *dev, int bar, uint64_t off,
                               unsigned size)
{
    uint64_t v = 0;

    if (hv_msix_mmio_read(dev, bar, off, size, &v))
        return v;
    if (bar != 0 || off >= NVME_REG_END)
        return 0; /* doorbells and reserved registers read as zero */
    return read_reg(to_nvme(dev), off, size);
}

static void nvme_mmio_write(hv_dev *dev, int bar, uint64_t off, unsigned size,
                            uint64_t val)
{
    struct nvme_ctrl *n = to_nvme(dev);

    if (hv_msix_mmio_write(dev, bar, off, size, val) || bar != 0)
        return;
    if (off < NVME_REG_END)
        write_reg(n, off, size, val);
    else if (off >= NVME_DB_BASE && off < NVME_REG_REGION_SIZE)
        doorbell(n, off, (uint32_t)val);
}

static void nvme_cfg_written(hv_dev *dev, unsigned off, unsigned size,
                             uint32_t val)
{
    (void)off;
    (void)size;
    (void)val;
    irq_update_pin(to_nvme(dev)); /* MSI-X or INTx disable may have changed */
}

static void features_power_on(struct nvme_ctrl *n)
{
    memset(&n->feat, 0, sizeof(n->feat));
    n->feat.temp_over = NVME_TEMP_WARNING;
    n->feat.vwc = true;
}

static void reset_backends(struct nvme_ctrl *n)
{
    for (unsigned i = 0; i < n->nns; i++)
        if (n->ns[i].blk->ops->reset)
            n->ns[i].blk->ops->reset(n->ns[i].blk);
}

static void nvme_power_on(struct nvme_ctrl *n)
{
    ctrl_reset(n);
    n->cap = NVME_CAP_VALUE;
    n->vs = NVME_VS_1_4;
    n->aqa = 0;
    n->asq = n->acq = 0;
    n->page_size = 4096;
    n->irq_status = 0;
    features_power_on(n);
    memset(&n->stats, 0, sizeof(n->stats));
    memset(n->changed_ns, 0, sizeof(n->changed_ns));
    n->nchanged_ns = 0;
    n->nsg = 0;
    for (unsigned i = 0; i < n->nns; i++)
        nvme_ns_format(&n->ns[i], i == 0 ? 0 : 4);
    reset_backends(n);
}

static void nvme_reset(hv_dev *dev)
{
    struct nvme_ctrl *n = to_nvme(dev);

    hv_pci_reset(dev);
    hv_msix_reset(dev);
    nvme_power_on(n);
    hv_irq_set_level(dev, 0);
}

static void nvme_free(struct nvme_ctrl *n)
{
    for (unsigned i = 0; i < NVME_MAX_NS; i++)
        if (n->ns[i].blk)
            n->ns[i].blk->ops->destroy(n->ns[i].blk);
    hv_msix_free(&n->dev);
    free(n->sg);
    free(n->sgl_seg);
    free(n);
}

static void nvme_destroy(hv_dev *dev)
{
    nvme_free(to_nvme(dev));
}

/* Snapshots: every pointer in the struct is set at creation and never
 * changes, so a byte copy is exact; the RAM disks go back to their reset
 * content (snapshots are taken before any disk write). */
static void *nvme_save(const hv_dev *dev)
{
    void *s = malloc(sizeof(struct nvme_ctrl));

    if (s)
        memcpy(s, dev, sizeof(struct nvme_ctrl));
    return s;
}

static void nvme_load(hv_dev *dev, const void *state)
{
    struct nvme_ctrl *n = to_nvme(dev);

    memcpy(n, state, sizeof(*n));
    reset_backends(n);
}

static const struct hv_dev_ops nvme_ops = {
    .mmio_read = nvme_mmio_read,
    .mmio_write = nvme_mmio_write,
    .cfg_written = nvme_cfg_written,
    .reset = nvme_reset,
    .destroy = nvme_destroy,
    .save = nvme_save,
    .load = nvme_load,
};

/* ---- construction ----------------------------------------------------------- */

/* QEMU's capability chain: MSI-X 0x40 -> PCIe 0x80 -> PM 0x60 (each new
 * capability goes to the head of the list). */
static int build_pci(hv_dev *dev)
{
    uint8_t *cfg = dev->pci.cfg;

    hv_pci_init(dev, NVME_PCI_VENDOR, NVME_PCI_DEVICE, NVME_PCI_CLASS,
                NVME_PCI_REVISION, NVME_PCI_SUBSYS_VENDOR, NVME_PCI_SUBSYS_ID);
    hv_pci_set_bar(dev, 0, HV_BAR_MEM64, NVME_BAR0_SIZE, false);
    hv_pci_set_interrupt_pin(dev, 1);
    hv_pci_add_cap(dev, NVME_PCI_CAP_ID_PM, NVME_CAP_OFF_PM, NVME_PM_CAP_LEN);
    hv_st_le(cfg + NVME_CAP_OFF_PM + 2, 2, 0x0003); /* PMC: version 3 */
    hv_st_le(cfg + NVME_CAP_OFF_PM + 4, 2, 0x0008); /* PMCSR: no soft reset */
    dev->pci.wmask[NVME_CAP_OFF_PM + 4] = 0x03;     /* power state */
    hv_pci_add_cap(dev, NVME_PCI_CAP_ID_EXP, NVME_CAP_OFF_PCIE,
                   NVME_PCIE_CAP_LEN);
    hv_st_le(cfg + NVME_CAP_OFF_PCIE + 2, 2, 0x0092); /* v2, RC endpoint */
    hv_st_le(cfg + NVME_CAP_OFF_PCIE + 4, 4, 0x10008000); /* FLR, RBER */
    hv_st_le(cfg + NVME_CAP_OFF_PCIE + 0x24, 4, 0x00300000); /* DEVCAP2 */
    return hv_msix_init(dev, NVME_MSIX_VECTORS, 0, NVME_MSIX_TABLE_OFF,
                        NVME_MSIX_PBA_OFF, NVME_CAP_OFF_MSIX);
}

static int add_ns(struct nvme_ctrl *n, uint64_t size, uint8_t lbaf)
{
    struct nvme_ns *ns = &n->ns[n->nns];

    ns->blk = hv_ramdisk_create(size);
    if (!ns->blk)
        return -1;
    ns->nsid = ++n->nns;
    nvme_ns_format(ns, lbaf);
    return 0;
}

hv_dev *nvme_create_ex(hv_machine *m, const struct nvme_params *p)
{
    static const struct nvme_params defaults = {0};
    struct nvme_ctrl *n = calloc(1, sizeof(*n));

    p = p ? p : &defaults;
    if (!n)
        return NULL;
    hv_dev_init(&n->dev, m, &nvme_ops, "nvme");
    strncpy(n->serial, p->serial ? p->serial : NVME_DEFAULT_SERIAL,
            sizeof(n->serial));
    n->sg = calloc(NVME_SG_MAX, sizeof(*n->sg));
    n->sgl_seg = calloc(NVME_SGL_SEG_MAX_DESCR, NVME_SGL_DESC_SIZE);
    if (!n->sg || !n->sgl_seg || build_pci(&n->dev) < 0 ||
        add_ns(n, p->disk_size ? p->disk_size : NVME_DEFAULT_DISK_SIZE, 0) ||
        (!p->no_ns2 &&
         add_ns(n, p->ns2_size ? p->ns2_size : NVME_DEFAULT_NS2_SIZE, 4))) {
        nvme_free(n);
        return NULL;
    }
    hv_pci_finalize(&n->dev);
    nvme_power_on(n);
    return &n->dev;
}

hv_dev *nvme_create(hv_machine *m)
{
    return nvme_create_ex(m, NULL);
}
