/*
 * The model-side seams hvfuzz-serve relies on: guest RAM regions replacing
 * the DMA window (hv_machine_set_ram_regions), the MSI-X sink
 * (hv_machine_set_msi_sink) and virtq_resume_at.
 */
#include <stdlib.h>
#include <string.h>

#include "hv_test.h"
#include "targets/common/hv_device.h"
#include "targets/virtio/virtqueue.h"

static void nop_reset(hv_dev *d)
{
    (void)d;
}

static void nop_destroy(hv_dev *d)
{
    (void)d;
}

static const struct hv_dev_ops nop_ops = {.reset = nop_reset,
                                          .destroy = nop_destroy};

static void test_ram_regions(void)
{
    hv_machine *m = hv_machine_create(NULL);
    static uint8_t a[8192], b[4096];
    struct hv_ram_region r[2] = {{0x100000, sizeof(a), a},
                                 {0x200000, sizeof(b), b}};
    struct hv_ram_region many[HV_MAX_RAM_REGIONS + 1];
    hv_dev d;
    uint8_t buf[16];

    hv_dev_init(&d, m, &nop_ops, "dma-master"); /* not PCI: may master */
    CHECK_EQ(hv_dma_write(&d, HV_DMA_WINDOW_BASE, "w", 1), 0);
    CHECK_EQ(hv_machine_set_ram_regions(m, r, 2), 0);
    CHECK_EQ(hv_dma_write(&d, 0x100010, "abc", 3), 0);
    CHECK(memcmp(a + 0x10, "abc", 3) == 0);
    b[5] = 0x5a;
    CHECK_EQ(hv_dma_read(&d, 0x200000, buf, 16), 0);
    CHECK_EQ(buf[5], 0x5a);
    CHECK_EQ(hv_dma_read(&d, 0x100000 + sizeof(a) - 2, buf, 4), -1); /* straddles */
    CHECK_EQ(hv_dma_read(&d, 0x300000, buf, 4), -1);                 /* in no region */
    CHECK_EQ(hv_dma_read(&d, HV_DMA_WINDOW_BASE, buf, 1), -1);       /* window gone */
    hv_mem_write(m, 0x100020, "xy", 2);
    CHECK(memcmp(a + 0x20, "xy", 2) == 0);
    /* Refused tables leave the current one in place. */
    for (unsigned i = 0; i < HV_MAX_RAM_REGIONS + 1; i++)
        many[i] = (struct hv_ram_region){0x1000000ull * (i + 1), 16, a};
    CHECK_EQ(hv_machine_set_ram_regions(m, many, HV_MAX_RAM_REGIONS + 1), -1);
    CHECK_EQ(hv_machine_set_ram_regions(
                 m, &(struct hv_ram_region){~0ull - 8, 16, a}, 1), -1);
    CHECK_EQ(hv_machine_set_ram_regions(m, &(struct hv_ram_region){0, 0, a}, 1), -1);
    CHECK_EQ(hv_machine_set_ram_regions(m, &(struct hv_ram_region){0, 16, NULL}, 1), -1);
    CHECK_EQ(m->nram, 2);
    /* No regions: back to the window. */
    CHECK_EQ(hv_machine_set_ram_regions(m, NULL, 0), 0);
    CHECK_EQ(hv_dma_read(&d, HV_DMA_WINDOW_BASE, buf, 1), 0);
    CHECK_EQ(buf[0], 'w');
    CHECK_EQ(hv_dma_read(&d, 0x100000, buf, 1), -1);
    hv_machine_destroy(m);
}

static unsigned sink_calls;
static uint16_t sink_vector;

static void sink(void *opaque, hv_dev *dev, uint16_t vector)
{
    CHECK(opaque == &sink_calls);
    CHECK(dev != NULL);
    sink_calls++;
    sink_vector = vector;
}

static void test_msi_sink(void)
{
    hv_machine *m = hv_machine_create(NULL);
    hv_dev d;

    hv_dev_init(&d, m, &nop_ops, "msi");
    hv_pci_init(&d, 0x1234, 0x5678, 0x020000, 1, 0x1af4, 2);
    hv_pci_set_bar(&d, 1, HV_BAR_MEM32, 0x1000, false);
    CHECK_EQ(hv_msix_init(&d, 2, 1, 0, 0x800, 0x98), 0);
    hv_pci_finalize(&d);
    hv_pci_cfg_write(&d, d.msix.cap + 2, 2, HV_MSIX_CTRL_ENABLE);
    hv_msix_notify(&d, 1); /* masked: pending, no sink yet */
    CHECK_EQ(sink_calls, 0);
    hv_machine_set_msi_sink(m, sink, &sink_calls);
    d.msix.table[1 * HV_MSIX_ENTRY_SIZE + 12] = 0;
    hv_msix_notify(&d, 1);
    CHECK_EQ(sink_calls, 1);
    CHECK_EQ(sink_vector, 1);
    hv_msix_notify(&d, 0); /* still masked */
    CHECK_EQ(sink_calls, 1);
    hv_machine_set_msi_sink(m, NULL, NULL);
    hv_msix_notify(&d, 1);
    CHECK_EQ(sink_calls, 1);
    hv_msix_free(&d);
    hv_machine_destroy(m);
}

static void test_resume_at(void)
{
    hv_machine *m = hv_machine_create(NULL);
    hv_dev d;
    struct virtq vq;

    hv_dev_init(&d, m, &nop_ops, "vq");
    virtq_init(&vq, &d, 0, 8);
    vq.inflight = 2;
    vq.signalled_used_valid = true;
    virtq_resume_at(&vq, 0xfffe);
    CHECK_EQ(vq.last_avail_idx, 0xfffe);
    CHECK_EQ(vq.used_idx, 0xfffe);
    CHECK_EQ(vq.inflight, 0);
    CHECK(!vq.signalled_used_valid);
    hv_machine_destroy(m);
}

int main(void)
{
    test_ram_regions();
    test_msi_sink();
    test_resume_at();
    return hv_test_done("test_serve_seams");
}
