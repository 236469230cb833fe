/*
 * libtpms oracle (see tpm_libtpms.h). NV callbacks: a start loads the
 * provisioned permanent image (see ref_provision) and nothing else; stores
 * made while running are dropped because libtpms keeps its NV image in
 * memory, so every start sees the same state.
 *
 * The globals below are the oracle's, not a device model's: libtpms is one
 * TPM per process (TPMLIB_* keep their state in the library and call these
 * callbacks without a context pointer), so its adapter cannot be anything
 * else. One tpm-diff run at a time per process.
 */
#include "targets/tpm/diff/tpm_libtpms.h"

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <libtpms/tpm_memory.h>
#include <stdlib.h>
#include <string.h>
#include <libtpms/tpm_nvfilename.h>

static bool ref_running;

static TPM_RESULT nv_init(void) { return TPM_SUCCESS; }

/* The permanent-state image every start loads ("permall"): empty until
 * ref_provision() captured one. */
static unsigned char *template_image;
static uint32_t template_len;
static bool capturing;

static TPM_RESULT nv_load(unsigned char **data, uint32_t *length,
                          uint32_t tpm_number, const char *name)
{
    (void)tpm_number;
    *data = NULL;
    *length = 0;
    if (!template_image || strcmp(name, TPM_PERMANENT_ALL_NAME))
        return TPM_RETRY;
    if (TPM_Malloc(data, template_len) != TPM_SUCCESS)
        return TPM_FAIL;
    memcpy(*data, template_image, template_len);
    *length = template_len;
    return TPM_SUCCESS;
}

static TPM_RESULT nv_store(const unsigned char *data, uint32_t length,
                           uint32_t tpm_number, const char *name)
{
    (void)tpm_number;
    if (!capturing || strcmp(name, TPM_PERMANENT_ALL_NAME))
        return TPM_SUCCESS;
    free(template_image);
    template_image = malloc(length ? length : 1);
    if (!template_image)
        return TPM_FAIL;
    memcpy(template_image, data, length);
    template_len = length;
    return TPM_SUCCESS;
}

static TPM_RESULT nv_delete(uint32_t tpm_number, const char *name,
                            TPM_BOOL must_exist)
{
    (void)tpm_number;
    (void)name;
    (void)must_exist;
    return TPM_SUCCESS;
}

static TPM_RESULT io_init(void) { return TPM_SUCCESS; }

static TPM_RESULT io_locality(TPM_MODIFIER_INDICATOR *locality,
                              uint32_t tpm_number)
{
    (void)tpm_number;
    *locality = 0;
    return TPM_SUCCESS;
}

static TPM_RESULT io_presence(TPM_BOOL *present, uint32_t tpm_number)
{
    (void)tpm_number;
    *present = 0;
    return TPM_SUCCESS;
}

static struct libtpms_callbacks ref_callbacks = {
    .sizeOfStruct = sizeof(struct libtpms_callbacks),
    .tpm_nvram_init = nv_init,
    .tpm_nvram_loaddata = nv_load,
    .tpm_nvram_storedata = nv_store,
    .tpm_nvram_deletename = nv_delete,
    .tpm_io_init = io_init,
    .tpm_io_getlocality = io_locality,
    .tpm_io_getphysicalpresence = io_presence,
};

static bool ref_init(void)
{
    if (TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_2) != TPM_SUCCESS ||
        TPMLIB_RegisterCallbacks(&ref_callbacks) != TPM_SUCCESS ||
        TPMLIB_MainInit() != TPM_SUCCESS)
        return false;
    ref_running = true;
    return true;
}

static bool ref_send_ok(const uint8_t *cmd, size_t len)
{
    uint8_t rsp[64];

    return tpm_ref_execute(cmd, len, rsp, sizeof(rsp)) >= 10 &&
           !rsp[6] && !rsp[7] && !rsp[8] && !rsp[9];
}

/* A freshly manufactured libtpms has no PCR bank allocated (swtpm_setup
 * allocates them). Provision as hvfuzz's model: SHA-1 and SHA-256 banks
 * with all 24 PCRs, the others off; PCR_Allocate takes effect at the next
 * TPM reset, so the permanent image is captured after an orderly
 * shutdown and every start loads that image. */
static bool ref_provision(void)
{
    static const uint8_t startup[] = {0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01,
                                      0x44, 0, 0};
    static const uint8_t allocate[] = {
        0x80, 0x02, 0, 0, 0, 55, 0, 0, 0x01, 0x2b, 0x40, 0, 0, 0x0c, /* platform */
        0, 0, 0, 9, 0x40, 0, 0, 0x09, 0, 0, 0, 0, 0,                 /* pw session */
        0, 0, 0, 4,                                                  /* 4 banks */
        0, 0x04, 3, 0xff, 0xff, 0xff, 0, 0x0b, 3, 0xff, 0xff, 0xff,
        0, 0x0c, 3, 0, 0, 0, 0, 0x0d, 3, 0, 0, 0};
    static const uint8_t shutdown[] = {0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01,
                                       0x45, 0, 0};
    bool ok;

    capturing = true;
    ok = ref_init() && ref_send_ok(startup, sizeof(startup)) &&
         ref_send_ok(allocate, sizeof(allocate)) &&
         ref_send_ok(shutdown, sizeof(shutdown));
    tpm_ref_stop();
    capturing = false;
    return ok && template_image;
}

bool tpm_ref_start(void)
{
    tpm_ref_stop();
    if (!template_image && !ref_provision())
        return false;
    return ref_init();
}

size_t tpm_ref_execute(const uint8_t *cmd, size_t len, uint8_t *rsp, size_t cap)
{
    unsigned char *out = NULL;
    uint32_t out_len = 0, out_size = 0;
    unsigned char *in = NULL; /* TPM_Malloc refuses a non-NULL pointer */
    size_t n;

    if (!ref_running || len > UINT32_MAX)
        return 0;
    /* TPMLIB_Process takes a non-const buffer: hand it a private copy. */
    if (TPM_Malloc(&in, (uint32_t)(len ? len : 1)) != TPM_SUCCESS)
        return 0;
    if (len)
        memcpy(in, cmd, len);
    if (TPMLIB_Process(&out, &out_len, &out_size, in, (uint32_t)len) !=
        TPM_SUCCESS)
        out_len = 0;
    TPM_Free(in);
    n = out_len < cap ? out_len : cap;
    if (n)
        memcpy(rsp, out, n);
    TPM_Free(out);
    return out_len;
}

void tpm_ref_stop(void)
{
    if (ref_running)
        TPMLIB_Terminate();
    ref_running = false;
}
