/*
 * TPM 2.0 constants: TPM 2.0 Library spec Part 2 (Structures), rev 1.59:
 * 6.3 TPM_ST, 6.5 TPM_CC, 6.6 TPM_RC, 6.9 TPM_SU, 6.12 TPM_CAP,
 * 6.13 TPM_PT, 7 handles, 8 attributes (TPMA_SESSION, TPMA_NV),
 * 6.1 TPM_ALG_ID.
 */
#ifndef HV_TPM_TYPES_H
#define HV_TPM_TYPES_H
#include <stdint.h>

typedef uint32_t TPM_RC;

/* TPM_ST (6.9) */
enum {
    TPM_ST_RSP_COMMAND = 0x00C4,
    TPM_ST_NULL = 0x8000,
    TPM_ST_NO_SESSIONS = 0x8001,
    TPM_ST_SESSIONS = 0x8002,
};

/* TPM_SU (6.5) */
enum { TPM_SU_CLEAR = 0x0000, TPM_SU_STATE = 0x0001 };

/* TPM_SE (6.11) */
enum { TPM_SE_HMAC = 0x00, TPM_SE_POLICY = 0x01, TPM_SE_TRIAL = 0x03 };

/* TPM_CC (6.5.2) */
enum {
    TPM_CC_NV_UndefineSpaceSpecial = 0x011F,
    TPM_CC_NV_UndefineSpace = 0x0122,
    TPM_CC_HierarchyChangeAuth = 0x0129,
    TPM_CC_NV_DefineSpace = 0x012A,
    TPM_CC_PCR_Allocate = 0x012B,
    TPM_CC_NV_Increment = 0x0134,
    TPM_CC_NV_Write = 0x0137,
    TPM_CC_PCR_Event = 0x013C,
    TPM_CC_PCR_Reset = 0x013D,
    TPM_CC_IncrementalSelfTest = 0x0142,
    TPM_CC_SelfTest = 0x0143,
    TPM_CC_Startup = 0x0144,
    TPM_CC_Shutdown = 0x0145,
    TPM_CC_StirRandom = 0x0146,
    TPM_CC_NV_Read = 0x014E,
    TPM_CC_FlushContext = 0x0165,
    TPM_CC_NV_ReadPublic = 0x0169,
    TPM_CC_StartAuthSession = 0x0176,
    TPM_CC_GetCapability = 0x017A,
    TPM_CC_GetRandom = 0x017B,
    TPM_CC_GetTestResult = 0x017C,
    TPM_CC_Hash = 0x017D,
    TPM_CC_PCR_Read = 0x017E,
    TPM_CC_ReadClock = 0x0181,
    TPM_CC_PCR_Extend = 0x0182,
};

/* TPM_RC (6.6): format-zero codes */
enum {
    TPM_RC_SUCCESS = 0x000,
    TPM_RC_BAD_TAG = 0x01E,
    TPM_RC_VER1 = 0x100,
    TPM_RC_INITIALIZE = 0x100,
    TPM_RC_FAILURE = 0x101,
    TPM_RC_AUTH_MISSING = 0x125,
    TPM_RC_AUTH_UNAVAILABLE = 0x12F,
    TPM_RC_COMMAND_SIZE = 0x142,
    TPM_RC_COMMAND_CODE = 0x143,
    TPM_RC_AUTHSIZE = 0x144,
    TPM_RC_AUTH_CONTEXT = 0x145,
    TPM_RC_NV_RANGE = 0x146,
    TPM_RC_NV_SIZE = 0x147,
    TPM_RC_NV_LOCKED = 0x148,
    TPM_RC_NV_AUTHORIZATION = 0x149,
    TPM_RC_NV_UNINITIALIZED = 0x14A,
    TPM_RC_NV_SPACE = 0x14B,
    TPM_RC_NV_DEFINED = 0x14C,
};

/* TPM_RC format-one codes; add TPM_RC_H/P/S and the number (rc_handle()...) */
enum {
    TPM_RC_FMT1 = 0x080,
    TPM_RC_ATTRIBUTES = 0x082,
    TPM_RC_HASH = 0x083,
    TPM_RC_VALUE = 0x084,
    TPM_RC_HIERARCHY = 0x085,
    TPM_RC_TYPE = 0x08A,
    TPM_RC_MODE = 0x089,
    TPM_RC_HANDLE = 0x08B,
    TPM_RC_RANGE = 0x08D,
    TPM_RC_AUTH_FAIL = 0x08E,
    TPM_RC_NONCE = 0x08F,
    TPM_RC_SIZE = 0x095,
    TPM_RC_SYMMETRIC = 0x096,
    TPM_RC_INSUFFICIENT = 0x09A,
    TPM_RC_RESERVED_BITS = 0x0A1,
    TPM_RC_BAD_AUTH = 0x0A2,
    TPM_RC_H = 0x000,
    TPM_RC_P = 0x040,
    TPM_RC_S = 0x800,
    TPM_RC_N_SHIFT = 8,
};

/* TPM_RC warnings */
enum {
    TPM_RC_SESSION_MEMORY = 0x903,
    TPM_RC_LOCALITY = 0x907,
    TPM_RC_LOCKOUT = 0x921,
    TPM_RC_REFERENCE_H0 = 0x910,
    TPM_RC_RETRY = 0x922,
};

/* Handles (Part 2 section 7) */
enum {
    TPM_HT_PCR = 0x00,
    TPM_HT_NV_INDEX = 0x01,
    TPM_HT_HMAC_SESSION = 0x02,
    TPM_HT_POLICY_SESSION = 0x03,
    TPM_HT_PERMANENT = 0x40,
    TPM_HT_TRANSIENT = 0x80,
    TPM_HT_PERSISTENT = 0x81,
};
#define TPM_RH_OWNER 0x40000001u
#define TPM_RH_NULL 0x40000007u
#define TPM_RS_PW 0x40000009u
#define TPM_RH_LOCKOUT 0x4000000Au
#define TPM_RH_ENDORSEMENT 0x4000000Bu
#define TPM_RH_PLATFORM 0x4000000Cu
#define TPM_RH_PLATFORM_NV 0x4000000Du
#define HMAC_SESSION_FIRST 0x02000000u
#define NV_INDEX_FIRST 0x01000000u
#define NV_INDEX_LAST 0x01FFFFFFu
#define TPM_HANDLE_TYPE(h) ((uint8_t)((h) >> 24))

/* TPM_ALG_ID (6.3) */
enum {
    TPM_ALG_TDES = 0x0003,
    TPM_ALG_AES = 0x0006,
    TPM_ALG_SHA1 = 0x0004,
    TPM_ALG_HMAC = 0x0005,
    TPM_ALG_SHA256 = 0x000B,
    TPM_ALG_SHA384 = 0x000C,
    TPM_ALG_SHA512 = 0x000D,
    TPM_ALG_XOR = 0x000A,
    TPM_ALG_NULL = 0x0010,
    TPM_ALG_CAMELLIA = 0x0026,
    TPM_ALG_CTR = 0x0040,
    TPM_ALG_ECB = 0x0044,
};

/* TPM_CAP (6.12) */
enum {
    TPM_CAP_ALGS = 0,
    TPM_CAP_HANDLES = 1,
    TPM_CAP_COMMANDS = 2,
    TPM_CAP_PP_COMMANDS = 3,
    TPM_CAP_AUDIT_COMMANDS = 4,
    TPM_CAP_PCRS = 5,
    TPM_CAP_TPM_PROPERTIES = 6,
    TPM_CAP_PCR_PROPERTIES = 7,
    TPM_CAP_ECC_CURVES = 8,
    TPM_CAP_AUTH_POLICIES = 9,
    TPM_CAP_ACT = 10,
    TPM_CAP_LAST = 10,
    TPM_CAP_VENDOR_PROPERTY = 0x100,
};

/* TPM_PT (6.13) */
enum {
    TPM_PT_FIXED = 0x100,
    TPM_PT_TOTAL_COMMANDS = 0x129,
    TPM_PT_LIBRARY_COMMANDS = 0x12A,
    TPM_PT_VAR = 0x200,
    TPM_PT_PERMANENT = 0x200,
    TPM_PT_STARTUP_CLEAR = 0x201,
};

/* TPMA_SESSION (8.4) */
enum {
    TPMA_SESSION_CONTINUE = 0x01,
    TPMA_SESSION_AUDITEXCLUSIVE = 0x02,
    TPMA_SESSION_AUDITRESET = 0x04,
    TPMA_SESSION_RESERVED = 0x18,
    TPMA_SESSION_DECRYPT = 0x20,
    TPMA_SESSION_ENCRYPT = 0x40,
    TPMA_SESSION_AUDIT = 0x80,
};

/* TPMA_NV (13.4) */
#define TPMA_NV_PPWRITE (1u << 0)
#define TPMA_NV_OWNERWRITE (1u << 1)
#define TPMA_NV_AUTHWRITE (1u << 2)
#define TPMA_NV_POLICYWRITE (1u << 3)
#define TPMA_NV_TYPE_SHIFT 4
#define TPMA_NV_TYPE_MASK (0xFu << 4)
#define TPMA_NV_RESERVED (3u << 8 | 0x1Fu << 20)
#define TPMA_NV_POLICY_DELETE (1u << 10)
#define TPMA_NV_WRITELOCKED (1u << 11)
#define TPMA_NV_WRITEALL (1u << 12)
#define TPMA_NV_WRITEDEFINE (1u << 13)
#define TPMA_NV_WRITE_STCLEAR (1u << 14)
#define TPMA_NV_GLOBALLOCK (1u << 15)
#define TPMA_NV_PPREAD (1u << 16)
#define TPMA_NV_OWNERREAD (1u << 17)
#define TPMA_NV_AUTHREAD (1u << 18)
#define TPMA_NV_POLICYREAD (1u << 19)
#define TPMA_NV_NO_DA (1u << 25)
#define TPMA_NV_ORDERLY (1u << 26)
#define TPMA_NV_CLEAR_STCLEAR (1u << 27)
#define TPMA_NV_READLOCKED (1u << 28)
#define TPMA_NV_WRITTEN (1u << 29)
#define TPMA_NV_PLATFORMCREATE (1u << 30)
#define TPMA_NV_READ_STCLEAR (1u << 31)
enum {
    TPM_NT_ORDINARY = 0x0,
    TPM_NT_COUNTER = 0x1,
    TPM_NT_BITS = 0x2,
    TPM_NT_EXTEND = 0x4,
    TPM_NT_PIN_FAIL = 0x8,
    TPM_NT_PIN_PASS = 0x9,
};

/* Implementation sizes (libtpms 0.9 values, reported in TPM_PT_*) */
enum {
    TPM_MAX_COMMAND_SIZE = 4096,
    TPM_MAX_RESPONSE_SIZE = 4096,
    TPM_MAX_DIGEST_SIZE = 64,
    TPM_MAX_NV_BUFFER_SIZE = 1024,
    TPM_MAX_NV_INDEX_SIZE = 2048,
    TPM_MAX_DIGEST_BUFFER = 1024,
    TPM_MAX_SESSIONS_PER_CMD = 3,
    TPM_MAX_LOADED_SESSIONS = 3,
    TPM_MAX_ACTIVE_SESSIONS = 64,
    TPM_PCR_COUNT = 24,
    TPM_PCR_SELECT_MIN = 3,
    TPM_PCR_SELECT_MAX = 3,
    TPM_HASH_COUNT = 4,
    TPM_MAX_RNG_BYTES = 64,
    TPM_MAX_NV_INDICES = 32,
    TPM_MAX_NV_TOTAL_BYTES = 16384,
};
#endif
