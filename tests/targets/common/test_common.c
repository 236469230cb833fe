/* targets/common: PCI config space, bus decoding, DMA reference monitor,
 * re-entrancy, dirty-page reset, MSI-X, INTx, work budget, frame delivery. */
#include <stdlib.h>
#include <string.h>

#include "hv_test.h"
#include "targets/common/hv_device.h"

#define BAR0_ADDR 0xfe000000ull /* mem32 4 KiB */
#define BAR1_PORT 0xc000u       /* io 0x80 */
#define BAR2_ADDR 0xfe100000ull /* mem64 16 KiB prefetchable */
#define BAR4_ADDR 0xfe200000ull /* mem32 4 KiB: MSI-X */

struct toy {
    hv_dev dev;
    uint64_t last_off, last_val;
    int last_bar, writes;
    uint64_t dma_gpa; /* a write to reg 0x100 DMAs 4 bytes here */
    int dma_rc;
    size_t rx_len;    /* the last frame received */
    uint8_t rx_first;
    unsigned rx_active; /* dev.active seen inside rx */
};

static uint64_t toy_read(hv_dev *d, int bar, uint64_t off, unsigned size)
{
    (void)d;
    return 0x1000u * (unsigned)bar + off + size;
}

static void toy_write(hv_dev *d, int bar, uint64_t off, unsigned size, uint64_t val)
{
    struct toy *t = (struct toy *)d;
    uint32_t word = 0xdeadbeef;

    (void)size;
    t->last_bar = bar;
    t->last_off = off;
    t->last_val = val;
    t->writes++;
    if (off == 0x100)
        t->dma_rc = hv_dma_write(d, t->dma_gpa, &word, sizeof(word));
}

static uint32_t toy_pio_read(hv_dev *d, int bar, uint64_t off, unsigned size)
{
    (void)d;
    (void)size;
    return 0xab00u + (uint32_t)off + (uint32_t)bar;
}

static void toy_reset(hv_dev *d)
{
    struct toy *t = (struct toy *)d;

    t->last_off = t->last_val = 0;
    t->last_bar = t->writes = 0;
}

static void toy_destroy(hv_dev *d)
{
    free(d);
}

static bool toy_rx(hv_dev *d, const uint8_t *frame, size_t len)
{
    struct toy *t = (struct toy *)d;

    t->rx_len = len;
    t->rx_first = len ? frame[0] : 0;
    t->rx_active = d->active;
    return true;
}

static const struct hv_dev_ops toy_nic_ops = {
    .mmio_read = toy_read,
    .rx = toy_rx,
    .reset = toy_reset,
    .destroy = toy_destroy,
};

static const struct hv_dev_ops toy_ops = {
    .mmio_read = toy_read,
    .mmio_write = toy_write,
    .pio_read = toy_pio_read,
    .reset = toy_reset,
    .destroy = toy_destroy,
};

static struct toy *toy_create(hv_machine *m, const char *name)
{
    struct toy *t = calloc(1, sizeof(*t));

    hv_dev_init(&t->dev, m, &toy_ops, name);
    hv_pci_init(&t->dev, 0x1234, 0x5678, 0x020000, 1, 0x1af4, 0x0002);
    hv_pci_set_bar(&t->dev, 0, HV_BAR_MEM32, 0x1000, false);
    hv_pci_set_bar(&t->dev, 1, HV_BAR_IO, 0x80, false);
    hv_pci_set_bar(&t->dev, 2, HV_BAR_MEM64, 0x4000, true);
    hv_pci_set_bar(&t->dev, 4, HV_BAR_MEM32, 0x1000, false);
    hv_pci_set_interrupt_pin(&t->dev, 1);
    hv_pci_add_cap(&t->dev, HV_PCI_CAP_ID_VNDR, 0x40, 16);
    hv_pci_add_cap(&t->dev, HV_PCI_CAP_ID_VNDR, 0x50, 16);
    hv_msix_init(&t->dev, 3, 4, 0, 0x800, 0x98);
    hv_pci_finalize(&t->dev);
    return t;
}

static void map_toy(hv_machine *m, uint8_t bdf, uint64_t bar0, uint64_t bar2,
                    uint64_t bar4, uint16_t port)
{
    hv_bus_cfg_write(m, bdf, 0x10, 4, (uint32_t)bar0);
    hv_bus_cfg_write(m, bdf, 0x14, 4, port);
    hv_bus_cfg_write(m, bdf, 0x18, 4, (uint32_t)bar2);
    hv_bus_cfg_write(m, bdf, 0x1c, 4, (uint32_t)(bar2 >> 32));
    hv_bus_cfg_write(m, bdf, 0x20, 4, (uint32_t)bar4);
    hv_bus_cfg_write(m, bdf, HV_PCI_COMMAND, 2, 0x7);
}

static char last_trace[256];
static int ntrace;
static void record_trace(void *opaque, const char *line)
{
    (void)opaque;
    snprintf(last_trace, sizeof(last_trace), "%s", line);
    ntrace++;
}

static uint32_t size_bar(hv_machine *m, uint8_t bdf, unsigned off)
{
    uint32_t old = hv_bus_cfg_read(m, bdf, off, 4), sized;

    hv_bus_cfg_write(m, bdf, off, 4, 0xffffffff);
    sized = hv_bus_cfg_read(m, bdf, off, 4);
    hv_bus_cfg_write(m, bdf, off, 4, old);
    return sized;
}

static void test_pci_config(void)
{
    hv_machine *m = hv_machine_create(NULL);
    struct toy *t = toy_create(m, "toy");

    CHECK(hv_machine_add(m, &t->dev, 0x08) == 0);
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, 0, 4), 0x56781234);
    CHECK_EQ(hv_bus_cfg_read(m, 0x10, 0, 4), 0xffffffff); /* no device */
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, 0x08, 4), 0x02000001);
    CHECK_EQ(size_bar(m, 0x08, 0x10), 0xfffff000);
    CHECK_EQ(size_bar(m, 0x08, 0x14), 0xffffff81);
    CHECK_EQ(size_bar(m, 0x08, 0x18), 0xffffc00c);
    CHECK_EQ(size_bar(m, 0x08, 0x1c), 0xffffffff);
    CHECK_EQ(size_bar(m, 0x08, 0x24), 0); /* unused BAR */
    /* capability list is built head first, as QEMU does */
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, HV_PCI_CAP_PTR, 1), 0x98);
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, 0x98, 2), 0x5011);
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, 0x50, 2), 0x4009);
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, 0x40, 2), 0x0009);
    CHECK(hv_bus_cfg_read(m, 0x08, HV_PCI_STATUS, 2) & HV_PCI_STATUS_CAP_LIST);
    /* read-only identity, writable command bits only */
    hv_bus_cfg_write(m, 0x08, 0, 4, 0);
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, 0, 4), 0x56781234);
    hv_bus_cfg_write(m, 0x08, HV_PCI_COMMAND, 2, 0xffff);
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, HV_PCI_COMMAND, 2), 0x0547);
    /* out-of-range config accesses are refused, not overflowed */
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, 0xfe, 4), 0xffffffff);
    hv_bus_cfg_write(m, 0x08, 0xff, 2, 0xffff);
    /* reset restores the initial image */
    hv_bus_cfg_write(m, 0x08, 0x10, 4, 0xfe000000);
    hv_machine_reset(m);
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, 0x10, 4), 0);
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, HV_PCI_COMMAND, 2), 0);
    hv_machine_destroy(m);
}

static void test_bus_decode(void)
{
    hv_machine *m = hv_machine_create(NULL);
    struct toy *t = toy_create(m, "toy");

    hv_machine_add(m, &t->dev, 0x08);
    /* unmapped: nothing claims the address */
    CHECK_EQ(hv_bus_mmio_read(m, BAR0_ADDR + 4, 4), 0xffffffff);
    map_toy(m, 0x08, BAR0_ADDR, BAR2_ADDR, BAR4_ADDR, BAR1_PORT);
    CHECK_EQ(hv_bus_mmio_read(m, BAR0_ADDR + 4, 4), 0x0 + 4 + 4);
    CHECK_EQ(hv_bus_mmio_read(m, BAR2_ADDR + 0x10, 2), 0x2000 + 0x10 + 2);
    CHECK_EQ(hv_bus_pio_read(m, BAR1_PORT + 3, 1), (0xab00u + 3 + 1) & 0xff);
    hv_bus_mmio_write(m, BAR2_ADDR + 0x3ff8, 8, 0x1122334455667788ull);
    CHECK_EQ(t->last_bar, 2);
    CHECK_EQ(t->last_off, 0x3ff8);
    CHECK_EQ(t->last_val, 0x1122334455667788ull);
    /* an access that straddles the BAR end is not claimed */
    CHECK_EQ(hv_bus_mmio_read(m, BAR2_ADDR + 0x3ffe, 4), 0xffffffff);
    /* clearing MEM decoding unmaps memory BARs */
    hv_bus_cfg_write(m, 0x08, HV_PCI_COMMAND, 2, HV_PCI_CMD_IO);
    CHECK_EQ(hv_bus_mmio_read(m, BAR0_ADDR, 4), 0xffffffff);
    CHECK(hv_bus_pio_read(m, BAR1_PORT, 2) != 0xffff);
    hv_machine_destroy(m);
}

static void test_dma(void)
{
    hv_machine *m = hv_machine_create(NULL);
    struct toy *a = toy_create(m, "a"), *b = toy_create(m, "b");
    uint8_t buf[64], zero[64] = {0};
    uint64_t w = HV_DMA_WINDOW_BASE, wend = HV_DMA_WINDOW_BASE + HV_DMA_WINDOW_SIZE;

    hv_machine_add(m, &a->dev, 0x08);
    hv_machine_add(m, &b->dev, 0x10);
    map_toy(m, 0x08, BAR0_ADDR, BAR2_ADDR, BAR4_ADDR, BAR1_PORT);
    map_toy(m, 0x10, 0xfe300000, 0xfe400000, 0xfe500000, 0xc100);

    memset(buf, 0x5a, sizeof(buf));
    CHECK_EQ(hv_dma_write(&a->dev, w + 0x100, buf, 64), 0);
    memset(buf, 0, sizeof(buf));
    CHECK_EQ(hv_dma_read(&a->dev, w + 0x100, buf, 64), 0);
    CHECK_EQ(buf[0], 0x5a);
    CHECK_EQ(buf[63], 0x5a);
    /* the last byte of the window is fine; one past it is not */
    CHECK_EQ(hv_dma_write(&a->dev, wend - 1, buf, 1), 0);
    CHECK_EQ(hv_dma_write(&a->dev, wend - 1, buf, 2), -1);
    CHECK_EQ(hv_dma_read(&a->dev, w - 1, buf, 2), -1);
    CHECK_EQ(hv_dma_read(&a->dev, 0x1000, buf, 4), -1); /* not in the table */
    CHECK_EQ(hv_dma_read(&a->dev, UINT64_MAX - 2, buf, 8), -1); /* wraps */
    CHECK_EQ(memcmp(m->ram + HV_DMA_WINDOW_SIZE - 2, zero, 1), 0);
    /* DMA onto another device's BAR is routed through the bus */
    b->writes = 0;
    CHECK_EQ(hv_dma_write(&a->dev, 0xfe300000 + 0x20, "\x01\x02\x03\x04", 4), 0);
    CHECK_EQ(b->writes, 1);
    CHECK_EQ(b->last_off, 0x20);
    CHECK_EQ(b->last_val, 0x04030201);
    /* ...but onto its own BAR it is refused */
    a->writes = 0;
    CHECK_EQ(hv_dma_write(&a->dev, BAR0_ADDR + 0x20, buf, 4), -1);
    CHECK_EQ(a->writes, 0);
    /* no DMA at all while bus mastering is off */
    hv_bus_cfg_write(m, 0x08, HV_PCI_COMMAND, 2, HV_PCI_CMD_MEM | HV_PCI_CMD_IO);
    CHECK_EQ(hv_dma_read(&a->dev, w + 0x100, buf, 4), -1);
    hv_bus_cfg_write(m, 0x08, HV_PCI_COMMAND, 2, 0x7);
    CHECK_EQ(hv_dma_read(&a->dev, w + 0x100, buf, 4), 0);
    /* a routed DMA longer than the bound is refused */
    static uint8_t big[HV_DMA_MMIO_MAX + 4];
    CHECK_EQ(hv_dma_write(&a->dev, 0xfe400000, big, sizeof(big)), -1);
    hv_machine_destroy(m);
}

static void test_reentrancy(void)
{
    hv_machine *m = hv_machine_create(NULL);
    struct toy *a = toy_create(m, "a");

    hv_machine_add(m, &a->dev, 0x08);
    map_toy(m, 0x08, BAR0_ADDR, BAR2_ADDR, BAR4_ADDR, BAR1_PORT);
    m->findings_fatal = false;
    /* a clean device refuses DMA into itself: no finding */
    a->dma_gpa = BAR0_ADDR + 0x10;
    hv_bus_mmio_write(m, BAR0_ADDR + 0x100, 4, 1);
    CHECK_EQ(a->dma_rc, -1);
    CHECK_EQ(m->findings, 0);
    /* without that check, the bus catches the re-entry */
    a->dev.dma_refuse_self = false;
    a->writes = 0;
    hv_bus_mmio_write(m, BAR0_ADDR + 0x100, 4, 1);
    CHECK_EQ(m->findings, 1);
    CHECK_EQ(m->last_finding, HV_FINDING_REENTRANCY);
    CHECK_EQ(a->writes, 1); /* the nested write was refused */
    CHECK_EQ(a->dev.active, 0);
    hv_machine_destroy(m);
}

static void test_dirty_reset(void)
{
    hv_machine *m = hv_machine_create(NULL);
    struct toy *a = toy_create(m, "a");
    uint8_t b = 0;

    hv_machine_add(m, &a->dev, 0x08);
    hv_bus_cfg_write(m, 0x08, HV_PCI_COMMAND, 2, HV_PCI_CMD_MASTER);
    hv_mem_write(m, HV_DMA_WINDOW_BASE + 0x1234, "x", 1);
    CHECK(hv_dma_write(&a->dev, HV_DMA_WINDOW_BASE + 0x3000, "y", 1) == 0);
    m->ram[0x9000] = 0x77; /* written behind the record's back */
    CHECK_EQ(m->dirty[1], 1);
    CHECK_EQ(m->dirty[3], 1);
    CHECK_EQ(m->dirty[9], 0);
    hv_machine_clock_advance(m, 500);
    CHECK_EQ(hv_clock_ns(&a->dev), 500);
    hv_machine_reset(m);
    hv_mem_read(m, HV_DMA_WINDOW_BASE + 0x1234, &b, 1);
    CHECK_EQ(b, 0);
    hv_mem_read(m, HV_DMA_WINDOW_BASE + 0x3000, &b, 1);
    CHECK_EQ(b, 0);
    CHECK_EQ(m->ram[0x9000], 0x77); /* only recorded pages are reset */
    CHECK_EQ(m->dirty[1], 0);
    CHECK_EQ(hv_clock_ns(&a->dev), 0);
    hv_machine_destroy(m);
}

static void test_msix_intx(void)
{
    hv_machine *m = hv_machine_create(NULL);
    struct toy *a = toy_create(m, "a");

    hv_machine_add(m, &a->dev, 0x08);
    map_toy(m, 0x08, BAR0_ADDR, BAR2_ADDR, BAR4_ADDR, BAR1_PORT);
    hv_machine_set_trace(m, record_trace, NULL);
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, 0x98 + 2, 2), 2); /* table size - 1 */
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, 0x98 + 4, 4), 0x4);
    CHECK_EQ(hv_bus_cfg_read(m, 0x08, 0x98 + 8, 4), 0x804);
    CHECK_EQ(hv_bus_mmio_read(m, BAR4_ADDR + 12, 4), 1); /* masked at reset */
    /* not enabled: nothing */
    ntrace = 0;
    hv_msix_notify(&a->dev, 1);
    CHECK_EQ(ntrace, 0);
    hv_bus_cfg_write(m, 0x08, 0x98 + 2, 2, HV_MSIX_CTRL_ENABLE);
    CHECK(hv_msix_enabled(&a->dev));
    /* masked: pending bit, no delivery */
    hv_msix_notify(&a->dev, 1);
    CHECK_EQ(ntrace, 0);
    CHECK_EQ(hv_bus_mmio_read(m, BAR4_ADDR + 0x800, 8), 0x2);
    /* program and unmask vector 1: the pending message is delivered */
    hv_bus_mmio_write(m, BAR4_ADDR + 16, 4, 0xfee00000);
    hv_bus_mmio_write(m, BAR4_ADDR + 24, 4, 0x41);
    hv_bus_mmio_write(m, BAR4_ADDR + 28, 4, 0xfffffffe);
    CHECK_EQ(hv_bus_mmio_read(m, BAR4_ADDR + 28, 4), 0);
    CHECK_EQ(ntrace, 1);
    CHECK(strstr(last_trace, "vector=1 addr=0xfee00000 data=0x41") != NULL);
    CHECK_EQ(hv_bus_mmio_read(m, BAR4_ADDR + 0x800, 8), 0);
    hv_msix_notify(&a->dev, 1);
    CHECK_EQ(ntrace, 2);
    hv_msix_notify(&a->dev, 7); /* out of range: ignored */
    CHECK_EQ(ntrace, 2);
    /* INTx: status bit follows the level; a trace event per change */
    hv_irq_set_level(&a->dev, 1);
    CHECK(hv_bus_cfg_read(m, 0x08, HV_PCI_STATUS, 2) & HV_PCI_STATUS_INTERRUPT);
    CHECK(strstr(last_trace, "intx level=1") != NULL);
    hv_irq_set_level(&a->dev, 0);
    CHECK(!(hv_bus_cfg_read(m, 0x08, HV_PCI_STATUS, 2) & HV_PCI_STATUS_INTERRUPT));
    hv_machine_destroy(m);
}

static void test_budget(void)
{
    struct hv_machine_config cfg = {.work_budget = 100};
    hv_machine *m = hv_machine_create(&cfg);
    struct toy *a = toy_create(m, "a");

    hv_machine_add(m, &a->dev, 0x08);
    m->findings_fatal = false;
    CHECK(hv_budget(&a->dev, 60));
    CHECK(hv_budget(&a->dev, 40));
    CHECK(!hv_budget(&a->dev, 1));
    CHECK_EQ(m->findings, 1);
    CHECK_EQ(m->last_finding, HV_FINDING_BUDGET);
    CHECK(!hv_budget(&a->dev, 1)); /* reported once per input */
    CHECK_EQ(m->findings, 1);
    hv_machine_reset(m);
    CHECK(hv_budget(&a->dev, 100));
    hv_machine_destroy(m);
}

static void test_rx_inject(void)
{
    hv_machine *m = hv_machine_create(NULL);
    struct toy *a = toy_create(m, "a"), *nic = toy_create(m, "nic");
    static const uint8_t frame[60] = {0xff, 0xff};

    hv_machine_add(m, &a->dev, 0x08);
    CHECK(hv_machine_rx_inject(m, frame, sizeof(frame)) == NULL); /* no NIC */
    nic->dev.ops = &toy_nic_ops;
    hv_machine_add(m, &nic->dev, 0x10);
    CHECK(hv_machine_rx_inject(m, frame, sizeof(frame)) == &nic->dev);
    CHECK_EQ(nic->rx_len, sizeof(frame));
    CHECK_EQ(nic->rx_first, 0xff);
    CHECK_EQ(nic->rx_active, 1); /* a device DMAing into itself is re-entry */
    CHECK_EQ(nic->dev.active, 0);
    hv_machine_destroy(m);
}

int main(void)
{
    test_pci_config();
    test_bus_decode();
    test_dma();
    test_reentrancy();
    test_dirty_reset();
    test_msix_intx();
    test_budget();
    test_rx_inject();
    return hv_test_done("test_common");
}
