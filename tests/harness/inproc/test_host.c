/* harness/host: machine built from the layout, booted like the agent does,
 * every input from the reset state, clear errors for unknown targets. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/host/hv_host.h"
#include "hv_test.h"

static const uint8_t canary_set_len[] = {
    HV_OP_MMIO_WRITE, 0, 0, 0, 0, 0, 1, 5, 0, 0, 0, 0, 0, 0, 0, /* LEN = 5 */
    HV_OP_DMA_WRITE, 0x00, 0x20, 0, 0, 2, 0, 0xaa, 0xbb,        /* RAM */
};
static const uint8_t canary_read_len[] = {
    HV_OP_MMIO_READ, 0, 0, 0, 0, 0, 1,
};

static char *run_traced(struct hv_host *h, const uint8_t *p, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    hv_host_set_trace(h, f);
    hv_host_run(h, p, n);
    hv_host_set_trace(h, NULL);
    fclose(f);
    return buf;
}

static void test_unknown_target(void)
{
    const char *err = NULL;

    CHECK(hv_host_create("no-such-target", &err) == NULL);
    CHECK(err && strstr(err, "unknown target"));
}

static void test_reset_between_inputs(void)
{
    const char *err = NULL;
    struct hv_host *h = hv_host_create("selftest-canary", &err);
    uint8_t ram[2];
    char *t;

    CHECK(h != NULL);
    if (!h)
        return;
    t = run_traced(h, canary_set_len, sizeof(canary_set_len));
    CHECK(strstr(t, "mmio_write 0xfe000000 1 0x5") != NULL);
    free(t);
    hv_mem_read(h->m, HV_DMA_WINDOW_BASE + 0x2000, ram, 2);
    CHECK_EQ(ram[0], 0xaa);
    /* the next input starts from reset: register and RAM are back to 0 */
    t = run_traced(h, canary_read_len, sizeof(canary_read_len));
    CHECK(strstr(t, "mmio_read 0xfe000000 1 -> 0x0") != NULL);
    free(t);
    hv_mem_read(h->m, HV_DMA_WINDOW_BASE + 0x2000, ram, 2);
    CHECK_EQ(ram[0], 0);
    hv_host_destroy(h);
}

static void test_virtio_blk_booted(void)
{
    struct hv_host *h = hv_host_create("virtio-blk", NULL);

    CHECK(h != NULL);
    if (!h)
        return;
    /* BARs at the layout's (= SeaBIOS's) addresses, decoding on */
    CHECK_EQ(hv_bus_cfg_read(h->m, 0x08, HV_PCI_BAR0, 4), 0xc001);
    CHECK_EQ(hv_bus_cfg_read(h->m, 0x08, HV_PCI_BAR0 + 4, 4), 0xfebfe000);
    CHECK_EQ(hv_bus_cfg_read(h->m, 0x08, HV_PCI_BAR0 + 16, 4), 0xfebf800c);
    CHECK_EQ(hv_bus_cfg_read(h->m, 0x08, HV_PCI_COMMAND, 2) & 0x7, 0x7);
    /* the device answers at its modern BAR: device_status reads 0 */
    CHECK_EQ(hv_bus_mmio_read(h->m, 0xfebf8000 + 0x14, 1), 0);
    hv_host_destroy(h);
}

/* virtio-blk-init: blk_write sector 1 then the same request's status; the
 * second input reads sector 1 back. */
static const uint8_t blk_write_s1[] = {
    HV_OP_VIRTQ_SUBMIT, 0, 0, 2, 1,          /* vq 0, out 16,512, in 1 */
    16, 0, 0x00, 0x02, 1, 0,                 /* segment lengths */
    24, 0,                                   /* data: header + 8 bytes */
    1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
    'h', 'v', 'f', 'u', 'z', 'z', '!', '!',
};
static const uint8_t blk_read_s1[] = {
    HV_OP_VIRTQ_SUBMIT, 0, 0, 1, 2,          /* vq 0, out 16, in 512,1 */
    16, 0, 0x00, 0x02, 1, 0,
    16, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
};

static uint16_t used_idx(struct hv_host *h)
{
    uint16_t idx = 0;

    hv_mem_read(h->m, HV_DMA_WINDOW_BASE + HV_VIRTQ_USED_OFF + 2, &idx, 2);
    return idx;
}

static void test_initialized_variant(void)
{
    const char *err = NULL;
    struct hv_host *h = hv_host_create("virtio-blk-init", &err);
    uint8_t data[8];
    /* where the read's 512-byte in-buffer lands: the data area after the
     * 16-byte header (see hv_program.h) */
    uint64_t rbuf = HV_DMA_WINDOW_BASE + HV_DATA_AREA_OFF + 16;

    CHECK(h != NULL);
    if (!h)
        return;
    /* the init ran: DRIVER_OK, queue 0 enabled with 256 entries */
    CHECK_EQ(hv_bus_mmio_read(h->m, 0xfebf8000 + 0x14, 1), 0xf);
    CHECK_EQ(h->init_shadow.vq[0].size, 256);
    hv_host_run(h, blk_write_s1, sizeof(blk_write_s1));
    CHECK_EQ(used_idx(h), 1);
    hv_host_run(h, blk_read_s1, sizeof(blk_read_s1));
    /* the input started from the snapshot: same ring position, and the
     * disk is back to zeroes (the previous input's write is gone) */
    CHECK_EQ(used_idx(h), 1);
    hv_mem_read(h->m, rbuf, data, sizeof(data));
    CHECK_EQ(data[0], 0);
    CHECK_EQ(hv_bus_mmio_read(h->m, 0xfebf8000 + 0x14, 1), 0xf);
    /* within one input the write is visible */
    {
        uint8_t both[sizeof(blk_write_s1) + sizeof(blk_read_s1)];
        memcpy(both, blk_write_s1, sizeof(blk_write_s1));
        memcpy(both + sizeof(blk_write_s1), blk_read_s1, sizeof(blk_read_s1));
        hv_host_run(h, both, sizeof(both));
        CHECK_EQ(used_idx(h), 2);
        /* data area, 16-byte aligned per segment: write 16+512+1 bytes
         * (0x10000-0x10210), read header 0x10220, read buffer 0x10230 */
        hv_mem_read(h->m, HV_DMA_WINDOW_BASE + 0x10230, data, sizeof(data));
        CHECK(memcmp(data, "hvfuzz!!", 8) == 0);
    }
    hv_host_destroy(h);
}

int main(void)
{
    test_unknown_target();
    test_reset_between_inputs();
    test_virtio_blk_booted();
    test_initialized_variant();
    return hv_test_done("test_host");
}
