/*
 * NVMe model internals shared by nvme.c (controller, queues, admin) and
 * nvme_io.c (namespaces, data mapping, NVM commands). One state struct,
 * no globals; every field is plain data or a pointer set at creation, so
 * save/load is a byte copy.
 */
#ifndef HV_NVME_INT_H
#define HV_NVME_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "targets/nvme/nvme.h"
#include "targets/nvme/nvme_regs.h"

#define NVME_MAX_IOQPAIRS 64u
#define NVME_NUM_QUEUES (NVME_MAX_IOQPAIRS + 1u)
#define NVME_MSIX_VECTORS 65u
#define NVME_NN 256u
#define NVME_MAX_NS 2u
#define NVME_MDTS 7u
#define NVME_MAX_XFER (4096u << NVME_MDTS) /* MDTS in CAP.MPSMIN pages */
#define NVME_VSL 7u /* Verify Size Limit: 2^VSL memory pages */
#define NVME_AERL 3u                       /* 0's based: 4 outstanding */
#define NVME_AER_MAX_QUEUED 64u
#define NVME_SG_MAX 512u        /* scatter entries per command */
#define NVME_SGL_MAX_SEGMENTS 32u
#define NVME_SGL_SEG_MAX_DESCR 256u

struct nvme_cmd {
    uint8_t opc, flags;
    uint16_t cid;
    uint32_t nsid;
    uint64_t mptr, prp1, prp2;
    uint8_t dptr[16]; /* PRP1|PRP2, or one SGL descriptor */
    uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};

struct nvme_req {
    struct nvme_cmd cmd;
    uint16_t sqid;
    uint32_t dw0;
};

struct nvme_sq {
    bool valid;
    uint16_t cqid;
    uint32_t size, head, tail;
    uint64_t dma, db_addr, ei_addr;
};

struct nvme_cq {
    bool valid, irq_enabled;
    uint8_t phase;
    uint16_t vector;
    uint32_t size, head, tail;
    uint64_t dma, db_addr, ei_addr;
};

struct nvme_ns {
    uint32_t nsid;
    uint8_t flbas, lbads;
    uint64_t nsze; /* logical blocks */
    struct hv_blk *blk;
};

struct nvme_sg {
    uint64_t addr;
    uint32_t len;
};

struct nvme_aer_event {
    uint8_t type, info, log;
};

struct nvme_features {
    uint32_t temp_over, temp_under;
    uint32_t error_recovery[NVME_MAX_NS];
    uint32_t async_config;
    bool vwc;
    uint64_t timestamp_ms, timestamp_set_ns;
    uint8_t hbs[NVME_HBS_BYTES];
};

struct nvme_stats {
    uint64_t units_read, units_written; /* 512-byte units */
    uint64_t read_cmds, write_cmds;
};

struct nvme_ctrl {
    hv_dev dev; /* first */
    /* registers (3.1) */
    uint64_t cap, asq, acq;
    uint32_t vs, intms, cc, csts, aqa;
    uint32_t page_size;
    uint32_t irq_status; /* INTx: one bit per pending vector */
    /* queues */
    struct nvme_sq sq[NVME_NUM_QUEUES];
    struct nvme_cq cq[NVME_NUM_QUEUES];
    bool dbbuf_enabled;
    uint64_t dbbuf_dbs, dbbuf_eis;
    /* asynchronous events (5.2): AER cids as a stack, events as a ring */
    uint16_t aer_cids[NVME_AERL + 1];
    uint8_t outstanding_aers, aer_mask;
    bool in_admin_cmd; /* an admin command is executing */
    struct nvme_aer_event aer_queue[NVME_AER_MAX_QUEUED];
    uint32_t aer_head, aer_count;
    /* features, logs */
    struct nvme_features feat;
    struct nvme_stats stats;
    uint32_t changed_ns[NVME_MAX_NS];
    uint32_t nchanged_ns;
    /* identity and namespaces */
    char serial[20];
    unsigned nns;
    struct nvme_ns ns[NVME_MAX_NS];
    /* scratch for one command's data mapping (heap, fixed size) */
    struct nvme_sg *sg;
    uint32_t nsg;
    uint8_t *sgl_seg; /* one SGL segment: NVME_SGL_SEG_MAX_DESCR * 16 bytes */
};

static inline struct nvme_ctrl *to_nvme(hv_dev *dev)
{
    return (struct nvme_ctrl *)dev;
}

/* nvme_io.c */
struct nvme_ns *nvme_ns_get(struct nvme_ctrl *n, uint32_t nsid);
void nvme_ns_format(struct nvme_ns *ns, uint8_t lbaf);
void nvme_ns_identify(const struct nvme_ns *ns, uint8_t *id);
uint16_t nvme_map_dptr(struct nvme_ctrl *n, const struct nvme_cmd *c,
                       uint64_t len);
uint16_t nvme_xfer(struct nvme_ctrl *n, uint8_t *buf, uint64_t len,
                   bool to_host);
uint16_t nvme_c2h(struct nvme_ctrl *n, const struct nvme_cmd *c,
                  const void *buf, uint64_t len);
uint16_t nvme_h2c(struct nvme_ctrl *n, const struct nvme_cmd *c, void *buf,
                  uint64_t len);
uint16_t nvme_io_cmd(struct nvme_ctrl *n, struct nvme_req *req);

#endif
