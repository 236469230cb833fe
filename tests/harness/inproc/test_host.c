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

int main(void)
{
    test_unknown_target();
    test_reset_between_inputs();
    test_virtio_blk_booted();
    return hv_test_done("test_host");
}
