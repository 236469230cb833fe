/*
 * The TPM CRB device (targets/tpm/tpm_crb.c) through the bus, as Linux's
 * tpm_crb driver drives it (crb_request_locality, crb_cmd_ready, crb_send,
 * crb_status polling, crb_recv): responses must equal what tpm_execute
 * gives for the same commands on a fresh TPM. Plus QEMU 7.2's behaviour on
 * bad sequences (start without a locality, oversize header, START written
 * while idle), register reset values, reset and a snapshot round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv_test.h"
#include "targets/common/hv_device.h"
#include "targets/tpm/tpm.h"
#include "targets/tpm/tpm_crb.h"

#define REG(off) (TPM_CRB_BASE + (off))
#define BUF TPM_CRB_BASE + TPM_CRB_DATA_BUFFER

static hv_machine *m;

static uint32_t rd(uint32_t off)
{
    return (uint32_t)hv_bus_mmio_read(m, REG(off), 4);
}

static void wr(uint32_t off, uint32_t val)
{
    hv_bus_mmio_write(m, REG(off), 4, val);
}

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;

    for (const char *p = hex; p[0] && p[1]; p += 2) {
        unsigned v;
        sscanf(p, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void request_locality(void)
{
    wr(TPM_CRB_LOC_CTRL, TPM_CRB_LOC_CTRL_REQUEST);
    CHECK_EQ(rd(TPM_CRB_LOC_STATE) & 0x83u, 0x83u); /* valid, assigned, est. */
    CHECK_EQ(rd(TPM_CRB_LOC_STS), TPM_CRB_LOC_STS_GRANTED);
}

static void cmd_ready(void)
{
    wr(TPM_CRB_CTRL_REQ, TPM_CRB_CTRL_REQ_CMD_READY);
    CHECK_EQ(rd(TPM_CRB_CTRL_REQ), 0);
    CHECK_EQ(rd(TPM_CRB_CTRL_STS), 0);
}

/* crb_send + status polling + crb_recv. Returns the response length. */
static size_t transact(const uint8_t *cmd, size_t len, uint8_t *rsp)
{
    uint8_t hdr[8];
    size_t n;

    wr(TPM_CRB_CTRL_CANCEL, 0);
    for (size_t i = 0; i < len; i += 4) {
        uint32_t w = 0;
        memcpy(&w, cmd + i, len - i < 4 ? len - i : 4);
        hv_bus_mmio_write(m, BUF + i, 4, w);
    }
    wr(TPM_CRB_CTRL_START, TPM_CRB_START_INVOKE);
    for (int i = 0; i < 10 && (rd(TPM_CRB_CTRL_START) & 1); i++)
        ;
    CHECK_EQ(rd(TPM_CRB_CTRL_START), 0);
    CHECK_EQ(rd(TPM_CRB_CTRL_STS) & TPM_CRB_CTRL_STS_ERROR, 0);
    uint64_t q = hv_bus_mmio_read(m, BUF, 8);
    memcpy(hdr, &q, 8);
    n = be32(hdr + 2);
    CHECK(n >= 10 && n <= TPM_CRB_BUF_SIZE);
    if (n < 10 || n > TPM_CRB_BUF_SIZE)
        return 0;
    memcpy(rsp, hdr, 8);
    for (size_t i = 8; i < n; i++)
        rsp[i] = (uint8_t)hv_bus_mmio_read(m, BUF + i, 1);
    return n;
}

static void go_idle(void)
{
    wr(TPM_CRB_CTRL_REQ, TPM_CRB_CTRL_REQ_GO_IDLE);
    CHECK_EQ(rd(TPM_CRB_CTRL_STS), TPM_CRB_CTRL_STS_IDLE);
}

static void relinquish(void)
{
    wr(TPM_CRB_LOC_CTRL, TPM_CRB_LOC_CTRL_RELINQUISH);
    CHECK_EQ(rd(TPM_CRB_LOC_STATE), 0x81u);
    CHECK_EQ(rd(TPM_CRB_LOC_STS), 0);
}

static const char *const boot_cmds[] = {
    "80010000000c000001440000",                     /* Startup(CLEAR) */
    "80010000000b0000014301",                       /* SelfTest(full) */
    "8001000000160000017a000000050000000000000008", /* GetCapability PCRS */
    "8001000000160000017a000000060000012900000001", /* GetCapability props */
    "8001000000140000017e00000001000b03010000",     /* PCR_Read sha256 0 */
    "8001000000140000017e00000001000b03870000",     /* PCR_Read 0,1,2,7 */
    "80010000000c0000017b0010",                     /* GetRandom 16 */
};

static void test_reset_values(void)
{
    CHECK_EQ(rd(TPM_CRB_LOC_STATE), 0x81u);
    CHECK_EQ(rd(TPM_CRB_LOC_STS), 0);
    CHECK_EQ(rd(TPM_CRB_INTF_ID), TPM_CRB_INTF_ID_VALUE);
    CHECK_EQ(rd(TPM_CRB_INTF_ID + 4), TPM_CRB_INTF_ID2_VALUE);
    CHECK_EQ(hv_bus_mmio_read(m, REG(TPM_CRB_INTF_ID), 8),
             (uint64_t)TPM_CRB_INTF_ID2_VALUE << 32 | TPM_CRB_INTF_ID_VALUE);
    CHECK_EQ(rd(TPM_CRB_CTRL_STS), TPM_CRB_CTRL_STS_IDLE);
    CHECK_EQ(rd(TPM_CRB_CTRL_CMD_SIZE), 3968);
    CHECK_EQ(rd(TPM_CRB_CTRL_CMD_LADDR), 0xfed40080u);
    CHECK_EQ(rd(TPM_CRB_CTRL_CMD_HADDR), 0);
    CHECK_EQ(rd(TPM_CRB_CTRL_RSP_SIZE), 3968);
    CHECK_EQ(hv_bus_mmio_read(m, REG(TPM_CRB_CTRL_RSP_ADDR), 8), 0xfed40080ull);
    CHECK_EQ(hv_bus_mmio_read(m, REG(TPM_CRB_LOC_STATE), 1), 0x81u);
    CHECK_EQ(hv_bus_mmio_read(m, REG(TPM_CRB_INTF_ID + 1), 1), 0x58u);
    /* registers are read-only except the command ones */
    wr(TPM_CRB_CTRL_CMD_SIZE, 16);
    wr(TPM_CRB_INT_ENABLE, 0xffffffffu);
    CHECK_EQ(rd(TPM_CRB_CTRL_CMD_SIZE), 3968);
    CHECK_EQ(rd(TPM_CRB_INT_ENABLE), 0);
}

/* The Linux driver's protocol; each response equal to tpm_execute's. */
static void test_linux_sequence(void)
{
    struct tpm *ref = tpm_create(&(struct tpm_params){.seed = 0});
    uint8_t cmd[256], got[4096], want[4096];

    hv_machine_reset(m);
    for (size_t i = 0; i < sizeof(boot_cmds) / sizeof(boot_cmds[0]); i++) {
        size_t len = unhex(boot_cmds[i], cmd);
        request_locality();
        cmd_ready();
        size_t n = transact(cmd, len, got);
        size_t w = tpm_execute(ref, cmd, len, want, sizeof(want));
        CHECK_EQ(n, w);
        CHECK(n == w && memcmp(got, want, n) == 0);
        CHECK_EQ(be32(got + 6), 0);
        go_idle();
        relinquish();
    }
    tpm_destroy(ref);
}

static uint32_t last_rc(void)
{
    uint8_t h[10];
    for (unsigned i = 0; i < 10; i++)
        h[i] = (uint8_t)hv_bus_mmio_read(m, BUF + i, 1);
    return be32(h + 6);
}

static void test_bad_sequences(void)
{
    uint8_t cmd[64];
    size_t len = unhex(boot_cmds[0], cmd);

    hv_machine_reset(m);
    /* START without the locality: ignored, the buffer keeps the command */
    for (size_t i = 0; i < len; i++)
        hv_bus_mmio_write(m, BUF + i, 1, cmd[i]);
    wr(TPM_CRB_CTRL_START, 1);
    CHECK_EQ(rd(TPM_CRB_CTRL_START), 0);
    CHECK_EQ(hv_bus_mmio_read(m, BUF, 4), 0x00000180u);
    CHECK_EQ(last_rc(), 0x144u); /* still the command code */
    /* START with another value than 1: ignored */
    request_locality();
    wr(TPM_CRB_CTRL_START, 3);
    CHECK_EQ(last_rc(), 0x144u);
    /* START while idle (no cmdReady): QEMU runs it anyway */
    wr(TPM_CRB_CTRL_START, 1);
    CHECK_EQ(last_rc(), 0);
    /* CANCEL after completion: nothing */
    wr(TPM_CRB_CTRL_CANCEL, 1);
    CHECK_EQ(rd(TPM_CRB_CTRL_CANCEL), 0);
    CHECK_EQ(last_rc(), 0);
    /* a header size beyond the buffer: bounded to 3968 bytes, and the
     * parser answers (TPM_RC_COMMAND_SIZE or the like), never a crash */
    static const uint8_t big[] = {0x80, 0x01, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0x7b};
    for (size_t i = 0; i < sizeof(big); i++)
        hv_bus_mmio_write(m, BUF + i, 1, big[i]);
    hv_bus_mmio_write(m, REG(TPM_CRB_CTRL_START), 1, 1); /* 1-byte write */
    CHECK(last_rc() != 0);
    CHECK_EQ(rd(TPM_CRB_CTRL_START), 0);
    /* a size of 0 and of 3968 exactly */
    static const uint8_t zero[] = {0x80, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x7b};
    for (size_t i = 0; i < sizeof(zero); i++)
        hv_bus_mmio_write(m, BUF + i, 1, zero[i]);
    wr(TPM_CRB_CTRL_START, 1);
    CHECK(last_rc() != 0);
    /* the last byte of the buffer is addressable, the region ends there */
    hv_bus_mmio_write(m, REG(TPM_CRB_SIZE - 1), 1, 0xa5);
    CHECK_EQ(hv_bus_mmio_read(m, REG(TPM_CRB_SIZE - 1), 1), 0xa5u);
    CHECK_EQ(hv_bus_mmio_read(m, REG(TPM_CRB_SIZE), 4), 0xffffffffu);
    /* relinquish, then START again: ignored */
    relinquish();
    len = unhex(boot_cmds[2], cmd);
    for (size_t i = 0; i < len; i++)
        hv_bus_mmio_write(m, BUF + i, 1, cmd[i]);
    wr(TPM_CRB_CTRL_START, 1);
    CHECK_EQ(last_rc(), 0x17au); /* the command is still there */
}

static void test_reset_and_snapshot(void)
{
    uint8_t cmd[64], r1[4096], r2[4096];
    size_t len;

    hv_machine_reset(m);
    request_locality();
    cmd_ready();
    len = unhex(boot_cmds[0], cmd);
    transact(cmd, len, r1);
    struct hv_snapshot *s = hv_machine_snapshot(m);
    CHECK(s != NULL);
    if (!s)
        return;
    /* after the snapshot: the locality is still ours, TPM started */
    len = unhex(boot_cmds[4], cmd);
    size_t n1 = transact(cmd, len, r1);
    hv_machine_restore(m, s);
    CHECK_EQ(rd(TPM_CRB_LOC_STATE), 0x83u);
    CHECK_EQ(rd(TPM_CRB_CTRL_STS), 0);
    len = unhex(boot_cmds[4], cmd);
    size_t n2 = transact(cmd, len, r2);
    CHECK(n1 == n2 && n1 > 10 && memcmp(r1, r2, n1) == 0);
    hv_snapshot_free(s);

    /* reset: registers and TPM back to power-on (Startup needed again) */
    hv_machine_reset(m);
    CHECK_EQ(rd(TPM_CRB_LOC_STATE), 0x81u);
    CHECK_EQ(rd(TPM_CRB_CTRL_STS), TPM_CRB_CTRL_STS_IDLE);
    CHECK_EQ(hv_bus_mmio_read(m, BUF, 8), 0);
    request_locality();
    n1 = transact(cmd, len, r1);
    CHECK_EQ(be32(r1 + 6), 0x100u); /* TPM_RC_INITIALIZE */
}

int main(void)
{
    m = hv_machine_create(NULL);
    hv_dev *d = tpm_crb_create(m);

    CHECK(d != NULL);
    if (!d)
        return 1;
    CHECK_EQ(hv_machine_add(m, d, 0xff), 0);
    CHECK(!d->is_pci && d->nfixed == 1);
    test_reset_values();
    test_linux_sequence();
    test_bad_sequences();
    test_reset_and_snapshot();
    hv_machine_destroy(m);
    return hv_test_done("test_tpm_crb");
}
