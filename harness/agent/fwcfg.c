/*
 * QEMU's firmware configuration device (QEMU docs/specs/fw_cfg.rst), through
 * its traditional x86 I/O ports: a 16-bit write of a key to the selector
 * port (HV_PORT_FWCFG_SEL), then bytes read one at a time from the data
 * port (HV_PORT_FWCFG_DATA). The file directory (key FILE_DIR) is a
 * big-endian u32 count followed by entries of { be32 size; be16 select;
 * u16 reserved; char name[56]; }.
 */
#include "harness/agent/agent.h"
#include "harness/vmm/hv_vmm_abi.h"

#define FWCFG_NAME_LEN 56

static void fwcfg_read(void *buf, uint32_t n)
{
    uint8_t *p = buf;

    while (n--)
        *p++ = inb(HV_PORT_FWCFG_DATA);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

int ag_fwcfg_present(void)
{
    uint8_t sig[4];

    outw(HV_PORT_FWCFG_SEL, HV_FWCFG_SIGNATURE);
    fwcfg_read(sig, sizeof(sig));
    return sig[0] == 'Q' && sig[1] == 'E' && sig[2] == 'M' && sig[3] == 'U';
}

static int name_eq(const char *a, const char *b)
{
    size_t i;

    for (i = 0; i < FWCFG_NAME_LEN && a[i] && a[i] == b[i]; i++)
        ;
    return i == FWCFG_NAME_LEN || a[i] == b[i];
}

int64_t ag_fwcfg_read_file(const char *name, void *buf, uint32_t cap)
{
    uint8_t hdr[4], ent[8];
    char fname[FWCFG_NAME_LEN];
    uint32_t count;

    outw(HV_PORT_FWCFG_SEL, HV_FWCFG_FILE_DIR);
    fwcfg_read(hdr, sizeof(hdr));
    count = be32(hdr);
    for (uint32_t i = 0; i < count; i++) {
        fwcfg_read(ent, sizeof(ent));
        fwcfg_read(fname, sizeof(fname));
        if (name_eq(fname, name)) {
            uint32_t size = be32(ent);
            uint16_t key = (uint16_t)(ent[4] << 8 | ent[5]);

            outw(HV_PORT_FWCFG_SEL, key);
            fwcfg_read(buf, size < cap ? size : cap);
            return size;
        }
    }
    return -1;
}
