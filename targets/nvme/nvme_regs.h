/*
 * NVMe base specification 1.4 constants: controller registers (3.1),
 * submission/completion entry layout (4.2, 4.6), PRP/SGL (4.3, 4.4),
 * admin and NVM command set opcodes (5, 6), status codes (4.6.1.2),
 * identify (5.15), features (5.21), log pages (5.14), asynchronous events
 * (5.2). Values QEMU 7.2's hw/nvme reports are kept next to them.
 */
#ifndef HV_NVME_REGS_H
#define HV_NVME_REGS_H

/* ---- PCI identity and BAR0 layout (QEMU 7.2 "nvme") --------------------- */

#define NVME_PCI_VENDOR 0x1b36
#define NVME_PCI_DEVICE 0x0010
#define NVME_PCI_CLASS 0x010802 /* mass storage, NVM, NVMe I/O controller */
#define NVME_PCI_REVISION 0x02
#define NVME_PCI_SUBSYS_VENDOR 0x1af4
#define NVME_PCI_SUBSYS_ID 0x1100
#define NVME_BAR0_SIZE 0x4000u
#define NVME_REG_REGION_SIZE 0x2000u /* registers + doorbells */
#define NVME_DB_BASE 0x1000u
#define NVME_MSIX_TABLE_OFF 0x2000u
#define NVME_MSIX_PBA_OFF 0x3000u
#define NVME_MSIX_TABLE_BYTES (65u * 16u)
#define NVME_MSIX_PBA_BYTES 16u

#define NVME_CAP_OFF_MSIX 0x40
#define NVME_CAP_OFF_PM 0x60
#define NVME_CAP_OFF_PCIE 0x80
#define NVME_PCI_CAP_ID_PM 0x01
#define NVME_PCI_CAP_ID_EXP 0x10
#define NVME_PCIE_CAP_LEN 0x3c
#define NVME_PM_CAP_LEN 8

/* ---- controller registers (3.1) ----------------------------------------- */

enum nvme_reg {
    NVME_REG_CAP = 0x00,
    NVME_REG_VS = 0x08,
    NVME_REG_INTMS = 0x0c,
    NVME_REG_INTMC = 0x10,
    NVME_REG_CC = 0x14,
    NVME_REG_CSTS = 0x1c,
    NVME_REG_NSSR = 0x20,
    NVME_REG_AQA = 0x24,
    NVME_REG_ASQ = 0x28,
    NVME_REG_ACQ = 0x30,
    NVME_REG_CMBLOC = 0x38,
    NVME_REG_CMBSZ = 0x3c,
    NVME_REG_END = 0x40,
};

/* CAP (3.1.1): QEMU 7.2's value, 0x004018200f0107ff. */
#define NVME_CAP_MQES_SHIFT 0
#define NVME_CAP_CQR (1ull << 16)
#define NVME_CAP_TO_SHIFT 24
#define NVME_CAP_DSTRD_SHIFT 32
#define NVME_CAP_NSSRS (1ull << 36)
#define NVME_CAP_CSS_SHIFT 37
#define NVME_CAP_MPSMIN_SHIFT 48
#define NVME_CAP_MPSMAX_SHIFT 52
#define NVME_CAP_CSS_NVM 0x01u
#define NVME_CAP_CSS_CSI 0x40u
#define NVME_CAP_CSS_ADMIN_ONLY 0x80u
#define NVME_MQES 0x7ffu
#define NVME_CAP_TIMEOUT 0x0f
#define NVME_MPSMAX 4u

#define NVME_VS_1_4 0x00010400u

/* CC (3.1.5) */
#define NVME_CC_EN 0x1u
#define NVME_CC_CSS_ADMIN_ONLY 0x7u
#define NVME_CC_CSS(cc) (((cc) >> 4) & 0x7u)
#define NVME_CC_MPS(cc) (((cc) >> 7) & 0xfu)
#define NVME_CC_AMS(cc) (((cc) >> 11) & 0x7u)
#define NVME_CC_SHN(cc) (((cc) >> 14) & 0x3u)
#define NVME_CC_IOSQES(cc) (((cc) >> 16) & 0xfu)
#define NVME_CC_IOCQES(cc) (((cc) >> 20) & 0xfu)

/* CSTS (3.1.6) */
#define NVME_CSTS_RDY 0x1u
#define NVME_CSTS_CFS 0x2u
#define NVME_CSTS_SHST_COMPLETE 0x8u
#define NVME_CSTS_NSSRO 0x10u

#define NVME_NSSR_RESET 0x4e564d65u /* "NVMe" */

#define NVME_AQA_ASQS(aqa) ((aqa) & 0xfffu)
#define NVME_AQA_ACQS(aqa) (((aqa) >> 16) & 0xfffu)

/* ---- queue entries (4.2, 4.6) ------------------------------------------- */

#define NVME_SQE_SIZE 64u
#define NVME_CQE_SIZE 16u
#define NVME_SQES 6u /* log2 of the entry sizes, in CC and identify */
#define NVME_CQES 4u

enum nvme_sqe_off {
    NVME_SQE_OPC = 0,
    NVME_SQE_FLAGS = 1, /* FUSE 1:0, PSDT 7:6 */
    NVME_SQE_CID = 2,
    NVME_SQE_NSID = 4,
    NVME_SQE_MPTR = 16,
    NVME_SQE_DPTR = 24, /* PRP1, PRP2 or one SGL descriptor */
    NVME_SQE_CDW10 = 40,
};

#define NVME_FUSE(flags) ((flags) & 0x3u)
#define NVME_PSDT(flags) (((flags) >> 6) & 0x3u)
#define NVME_PSDT_PRP 0u
#define NVME_PSDT_SGL_MPTR_CONTIG 1u
#define NVME_PSDT_SGL_MPTR_SGL 2u

/* ---- SGL descriptors (4.4) ---------------------------------------------- */

#define NVME_SGL_DESC_SIZE 16u
#define NVME_SGL_TYPE(b) (((b) >> 4) & 0xfu)
#define NVME_SGL_SUBTYPE(b) ((b) & 0xfu)
enum nvme_sgl_type {
    NVME_SGL_DATA_BLOCK = 0x0,
    NVME_SGL_BIT_BUCKET = 0x1,
    NVME_SGL_SEGMENT = 0x2,
    NVME_SGL_LAST_SEGMENT = 0x3,
};

/* ---- opcodes (5, 6) ------------------------------------------------------ */

enum nvme_admin_opc {
    NVME_ADM_DELETE_SQ = 0x00,
    NVME_ADM_CREATE_SQ = 0x01,
    NVME_ADM_GET_LOG_PAGE = 0x02,
    NVME_ADM_DELETE_CQ = 0x04,
    NVME_ADM_CREATE_CQ = 0x05,
    NVME_ADM_IDENTIFY = 0x06,
    NVME_ADM_ABORT = 0x08,
    NVME_ADM_SET_FEATURES = 0x09,
    NVME_ADM_GET_FEATURES = 0x0a,
    NVME_ADM_ASYNC_EV_REQ = 0x0c,
    NVME_ADM_DBBUF_CONFIG = 0x7c,
    NVME_ADM_FORMAT_NVM = 0x80,
};

enum nvme_io_opc {
    NVME_CMD_FLUSH = 0x00,
    NVME_CMD_WRITE = 0x01,
    NVME_CMD_READ = 0x02,
    NVME_CMD_COMPARE = 0x05,
    NVME_CMD_WRITE_ZEROES = 0x08,
    NVME_CMD_DSM = 0x09,
    NVME_CMD_VERIFY = 0x0c,
};

/* ---- status (4.6.1.2): SCT << 8 | SC, plus More and Do Not Retry ------- */

#define NVME_DNR 0x4000u
enum nvme_status {
    NVME_SUCCESS = 0x0000,
    NVME_INVALID_OPCODE = 0x0001,
    NVME_INVALID_FIELD = 0x0002,
    NVME_CID_CONFLICT = 0x0003,
    NVME_DATA_TRANSFER_ERROR = 0x0004,
    NVME_INTERNAL_ERROR = 0x0006,
    NVME_ABORT_REQ = 0x0007,
    NVME_ABORT_SQ_DELETED = 0x0008,
    NVME_INVALID_NSID = 0x000b,
    NVME_CMD_SEQ_ERROR = 0x000c,
    NVME_INVALID_SGL_SEG_DESCR = 0x000d,
    NVME_INVALID_NUM_SGL_DESCR = 0x000e,
    NVME_DATA_SGL_LEN_INVALID = 0x000f,
    NVME_SGL_DESCR_TYPE_INVALID = 0x0011,
    NVME_INVALID_PRP_OFFSET = 0x0013,
    NVME_LBA_RANGE = 0x0080,
    NVME_INVALID_CQID = 0x0100,
    NVME_INVALID_QID = 0x0101,
    NVME_MAX_QSIZE_EXCEEDED = 0x0102,
    NVME_AER_LIMIT_EXCEEDED = 0x0105,
    NVME_INVALID_IRQ_VECTOR = 0x0108,
    NVME_INVALID_LOG_ID = 0x0109,
    NVME_INVALID_FORMAT = 0x010a,
    NVME_INVALID_QUEUE_DEL = 0x010c,
    NVME_FID_NOT_SAVEABLE = 0x010d,
    NVME_FEAT_NOT_CHANGEABLE = 0x010e,
    NVME_FEAT_NOT_NS_SPEC = 0x010f,
    NVME_COMPARE_FAILURE = 0x0285,
};

/* ---- identify (5.15) ---------------------------------------------------- */

#define NVME_IDENTIFY_BYTES 4096u
enum nvme_cns {
    NVME_CNS_NS = 0x00,
    NVME_CNS_CTRL = 0x01,
    NVME_CNS_NS_ACTIVE_LIST = 0x02,
    NVME_CNS_NS_DESCR_LIST = 0x03,
    NVME_CNS_CS_NS = 0x05,
    NVME_CNS_CS_CTRL = 0x06,
    NVME_CNS_CS_NS_ACTIVE_LIST = 0x07,
    NVME_CNS_NS_PRESENT_LIST = 0x10,
    NVME_CNS_NS_PRESENT = 0x11,
};
#define NVME_CSI_NVM 0x00
#define NVME_IDENTIFY_CSI(c) ((uint8_t)((c)->cdw11 >> 24)) /* CDW11[31:24] */

/* Identify Controller offsets (figure 247) */
enum nvme_id_ctrl {
    NVME_IDC_VID = 0, NVME_IDC_SSVID = 2, NVME_IDC_SN = 4, NVME_IDC_MN = 24,
    NVME_IDC_FR = 64, NVME_IDC_RAB = 72, NVME_IDC_IEEE = 73, NVME_IDC_MDTS = 77,
    NVME_IDC_CNTLID = 78, NVME_IDC_VER = 80, NVME_IDC_OAES = 92,
    NVME_IDC_CNTRLTYPE = 111, NVME_IDC_OACS = 256, NVME_IDC_ACL = 258,
    NVME_IDC_AERL = 259, NVME_IDC_FRMW = 260, NVME_IDC_LPA = 261,
    NVME_IDC_ELPE = 262, NVME_IDC_WCTEMP = 266, NVME_IDC_CCTEMP = 268,
    NVME_IDC_SQES = 512, NVME_IDC_CQES = 513, NVME_IDC_NN = 516,
    NVME_IDC_ONCS = 520, NVME_IDC_VWC = 525, NVME_IDC_SGLS = 536,
    NVME_IDC_SUBNQN = 768, NVME_IDC_PSD0 = 2048,
};

/* Identify Namespace offsets (figure 245) */
enum nvme_id_ns {
    NVME_IDNS_NSZE = 0, NVME_IDNS_NCAP = 8, NVME_IDNS_NUSE = 16,
    NVME_IDNS_NSFEAT = 24, NVME_IDNS_NLBAF = 25, NVME_IDNS_FLBAS = 26,
    NVME_IDNS_MC = 27, NVME_IDNS_DLFEAT = 33, NVME_IDNS_NGUID = 104,
    NVME_IDNS_EUI64 = 120, NVME_IDNS_LBAF = 128,
};

#define NVME_NIDT_EUI64 0x01
#define NVME_NIDT_UUID 0x03
#define NVME_NIDT_CSI 0x04

#define NVME_OACS_FORMAT (1u << 1)
#define NVME_OACS_DBBUF (1u << 8)
#define NVME_ONCS_COMPARE (1u << 0)
#define NVME_ONCS_DSM (1u << 2)
#define NVME_ONCS_WRITE_ZEROES (1u << 3)
#define NVME_ONCS_FEATURES (1u << 4)
#define NVME_ONCS_TIMESTAMP (1u << 6)
#define NVME_ONCS_VERIFY (1u << 7)
#define NVME_SGLS_SUPPORTED 0x1u
#define NVME_SGLS_BIT_BUCKET (1u << 16)
#define NVME_OAES_NS_ATTR (1u << 8)

/* ---- features (5.21.1) ---------------------------------------------------- */

enum nvme_fid {
    NVME_FEAT_ARBITRATION = 0x01,
    NVME_FEAT_POWER_MGMT = 0x02,
    NVME_FEAT_TEMP_THRESHOLD = 0x04,
    NVME_FEAT_ERROR_RECOVERY = 0x05,
    NVME_FEAT_VWC = 0x06,
    NVME_FEAT_NUM_QUEUES = 0x07,
    NVME_FEAT_INT_COALESCING = 0x08,
    NVME_FEAT_INT_VECTOR_CONFIG = 0x09,
    NVME_FEAT_WRITE_ATOMICITY = 0x0a,
    NVME_FEAT_ASYNC_EVENT_CONF = 0x0b,
    NVME_FEAT_TIMESTAMP = 0x0e,
    NVME_FEAT_HOST_BEHAVIOR = 0x16,
};
#define NVME_GETFEAT_SEL(dw10) (((dw10) >> 8) & 0x7u)
#define NVME_SEL_CURRENT 0
#define NVME_SEL_DEFAULT 1
#define NVME_SEL_SAVED 2
#define NVME_SEL_SUPPORTED 3
#define NVME_FEAT_CAP_NS 0x2u
#define NVME_FEAT_CAP_CHANGE 0x4u
#define NVME_HBS_BYTES 512u

#define NVME_TEMPERATURE 0x143 /* 323 K, QEMU's reported composite */
#define NVME_TEMP_WARNING 0x157
#define NVME_TEMP_CRITICAL 0x175

/* ---- log pages (5.14.1) ------------------------------------------------- */

enum nvme_lid {
    NVME_LOG_ERROR_INFO = 0x01,
    NVME_LOG_SMART_INFO = 0x02,
    NVME_LOG_FW_SLOT_INFO = 0x03,
    NVME_LOG_CHANGED_NSLIST = 0x04,
    NVME_LOG_CMD_EFFECTS = 0x05,
};
#define NVME_LOG_ERROR_BYTES 64u
#define NVME_LOG_SMART_BYTES 512u
#define NVME_LOG_FW_BYTES 512u
#define NVME_LOG_NSLIST_BYTES 4096u
#define NVME_LOG_EFFECTS_BYTES 4096u
#define NVME_EFF_CSUPP 0x1u
#define NVME_EFF_LBCC 0x2u
#define NVME_EFF_NCC 0x4u
#define NVME_EFF_NIC 0x8u
#define NVME_EFF_CCC 0x10u

/* ---- asynchronous events (5.2) ------------------------------------------- */

enum nvme_aer_type {
    NVME_AER_TYPE_ERROR = 0,
    NVME_AER_TYPE_SMART = 1,
    NVME_AER_TYPE_NOTICE = 2,
};
#define NVME_AER_INFO_ERR_INVALID_DB_REGISTER 0x00
#define NVME_AER_INFO_ERR_INVALID_DB_VALUE 0x01
#define NVME_AER_INFO_NOTICE_NS_ATTR_CHANGED 0x00
#define NVME_AER_INFO_SMART_TEMP 0x01
#define NVME_AEC_SMART_TEMP (1u << 1)
#define NVME_AEC_NS_ATTR (1u << 8)

#endif
