/*
 * The machine layout of every target: devices, PCI addresses, BAR
 * addresses, DMA window. Every host builds its bus from these tables and
 * the guest agent programs the BARs to these addresses, so a program sees
 * the same addresses everywhere. Addresses mirror what SeaBIOS assigns
 * under QEMU 7.2 (q35) for the same device, so programs replay on QEMU.
 *
 * To add a target: a static layout below and its entry in hv_layouts[].
 * Freestanding C: no libc.
 */
#include "harness/program/hv_program.h"
#include "harness/program/hv_program_internal.h"

/* Must equal HV_DMA_WINDOW_BASE / HV_DMA_WINDOW_SIZE (targets/common/
 * hv_device.h; not included here to keep this file freestanding; a test
 * checks they agree). */
#define DMA_BASE 0x10000000ull
#define DMA_SIZE 0x40000ull

/* ---- virtio-blk: one virtio-blk-pci at 00:01.0 (QEMU's BAR layout) ---- */

static const struct hv_layout_device virtio_blk_devs[] = {
    {.model = "virtio-blk", .name = "vblk", .bdf = 0x08},
};
static const struct hv_layout_region virtio_blk_mmio[] = {
    /* modern virtio-pci: common 0x0000, isr 0x1000, device 0x2000,
     * notify 0x3000 (64-bit prefetchable BAR 4) */
    {.name = "bar4", .dev = 0, .bar = 4, .base = 0xfebf8000ull, .size = 0x4000},
    /* MSI-X table (0x000) and PBA (0x800) */
    {.name = "bar1", .dev = 0, .bar = 1, .base = 0xfebfe000ull, .size = 0x1000},
};
static const struct hv_layout_region virtio_blk_pio[] = {
    /* legacy (transitional) I/O BAR */
    {.name = "bar0", .dev = 0, .bar = 0, .base = 0xc000, .size = 0x80},
};
#define VIRTIO_BLK_MACHINE                                                     \
    .devs = virtio_blk_devs, .ndevs = 1, .mmio = virtio_blk_mmio, .nmmio = 2,  \
    .pio = virtio_blk_pio, .npio = 1, .dma_base = DMA_BASE,                    \
    .dma_size = DMA_SIZE, .virtio_region = 0

static const struct hv_layout virtio_blk_layout = {
    .target = "virtio-blk",
    VIRTIO_BLK_MACHINE,
};

/* ---- virtio-blk-init: the same machine, every input starting after the
 * driver's init (QEMU's features, one queue of 256): the "initialized"
 * variant, so inputs spend their bytes and time on requests. */

static const uint8_t virtio_blk_init_prog[] = {
    HV_OP_VIRTQ_SETUP, 0x54, 0x6e, 0x00, 0x30, /* features=0x30006e54 */
    0x00,                                      /* queues=1 */
    0x00, 0x01,                                /* size=256 */
};
static const struct hv_layout virtio_blk_init_layout = {
    .target = "virtio-blk-init",
    VIRTIO_BLK_MACHINE,
    .init = virtio_blk_init_prog,
    .init_len = sizeof(virtio_blk_init_prog),
};

/* ---- nvme: QEMU 7.2's `-device nvme` at 00:01.0: one 64-bit BAR 0 of
 * 16 KiB (registers 0x0000, doorbells 0x1000, MSI-X table 0x2000, PBA
 * 0x3000) at the address SeaBIOS gave it in tests/targets/nvme/data. */

static const struct hv_layout_device nvme_devs[] = {
    {.model = "nvme", .name = "nvme", .bdf = 0x08},
};
static const struct hv_layout_region nvme_mmio[] = {
    {.name = "bar0", .dev = 0, .bar = 0, .base = 0xfebf8000ull, .size = 0x4000},
};
#define NVME_MACHINE                                                           \
    .devs = nvme_devs, .ndevs = 1, .mmio = nvme_mmio, .nmmio = 1,              \
    .dma_base = DMA_BASE, .dma_size = DMA_SIZE, .virtio_region = -1

static const struct hv_layout nvme_layout = {
    .target = "nvme",
    NVME_MACHINE,
};

/* ---- nvme-init: the same machine, every input starting after Linux's
 * bring-up (one I/O queue pair of 64, identify, number of queues, shadow
 * doorbells): inputs spend their bytes on commands. */

static const uint8_t nvme_init_prog[] = {
    HV_OP_NVME_SETUP, 0x00, /* ioqs=1 */
    0x00, 0x00,             /* qsize=max (64) */
    0x07,                   /* identify numq dbbuf */
};
static const struct hv_layout nvme_init_layout = {
    .target = "nvme-init",
    NVME_MACHINE,
    .init = nvme_init_prog,
    .init_len = sizeof(nvme_init_prog),
};

/* ---- e1000: QEMU 7.2's `-device e1000` (82540EM) at 00:01.0: BAR 0 the
 * 128 KiB register file, BAR 1 the IOADDR/IODATA window, at the addresses
 * SeaBIOS gave them in tests/targets/e1000/data. */

static const struct hv_layout_device e1000_devs[] = {
    {.model = "e1000", .name = "e1000", .bdf = 0x08},
};
static const struct hv_layout_region e1000_mmio[] = {
    {.name = "bar0", .dev = 0, .bar = 0, .base = 0xfebc0000ull, .size = 0x20000},
};
static const struct hv_layout_region e1000_pio[] = {
    {.name = "bar1", .dev = 0, .bar = 1, .base = 0xc000, .size = 0x40},
};
#define E1000_MACHINE                                                          \
    .devs = e1000_devs, .ndevs = 1, .mmio = e1000_mmio, .nmmio = 1,            \
    .pio = e1000_pio, .npio = 1, .dma_base = DMA_BASE, .dma_size = DMA_SIZE,   \
    .virtio_region = -1

static const struct hv_layout e1000_layout = {
    .target = "e1000",
    E1000_MACHINE,
};

/* ---- e1000-init: the same machine, every input starting after Linux's
 * bring-up (EEPROM MAC, PHY autonegotiation and link-up, RX checksum
 * offload, rings of 256): inputs spend their bytes on frames. */

static const uint8_t e1000_init_prog[] = {
    HV_OP_E1000_SETUP, 0x43, /* eeprom phy rxcsum */
    0x00, 0x00,              /* tx=256 rx=256 */
};
static const struct hv_layout e1000_init_layout = {
    .target = "e1000-init",
    E1000_MACHINE,
    .init = e1000_init_prog,
    .init_len = sizeof(e1000_init_prog),
};

/* ---- selftest-canary: the toy device with a planted bug (targets/selftest)
 * that proves the finding pipeline end to end. */

static const struct hv_layout_device canary_devs[] = {
    {.model = "selftest-canary", .name = "canary", .bdf = 0x08},
};
static const struct hv_layout_region canary_mmio[] = {
    {.name = "bar0", .dev = 0, .bar = 0, .base = 0xfe000000ull, .size = 0x1000},
};
static const struct hv_layout canary_layout = {
    .target = "selftest-canary",
    .devs = canary_devs,
    .ndevs = 1,
    .mmio = canary_mmio,
    .nmmio = 1,
    .dma_base = DMA_BASE,
    .dma_size = DMA_SIZE,
    .virtio_region = -1,
};

/* ---- tpm-crb: QEMU 7.2's `-device tpm-crb` (swtpm backend): not a PCI
 * device; its CRB is a fixed MMIO region of 4 KiB at 0xFED40000 (TCG PTP
 * spec; registers 0x00-0x7f, data buffer 0x80-0xfff), fixed region 0 of
 * the model. It does no DMA, but every host expects the window. */

static const struct hv_layout_device tpm_crb_devs[] = {
    {.model = "tpm-crb", .name = "tpm", .bdf = HV_NO_BDF},
};
static const struct hv_layout_region tpm_crb_mmio[] = {
    {.name = "crb", .dev = 0, .bar = 0, .base = 0xfed40000ull, .size = 0x1000},
};
static const struct hv_layout tpm_crb_layout = {
    .target = "tpm-crb",
    .devs = tpm_crb_devs,
    .ndevs = 1,
    .mmio = tpm_crb_mmio,
    .nmmio = 1,
    .dma_base = DMA_BASE,
    .dma_size = DMA_SIZE,
    .virtio_region = -1,
};

/* ---- virtio-net: QEMU 7.2's `-device virtio-net-pci` at 00:01.0, at the
 * addresses SeaBIOS gave it in tests/targets/virtio/data/virtio-net-*.trace
 * (same BAR layout as virtio-blk; the 256 KiB ROM BAR is left unmapped).
 * Queues: 0 RX, 1 TX, 2 control (64 entries). */

static const struct hv_layout_device virtio_net_devs[] = {
    {.model = "virtio-net", .name = "vnet", .bdf = 0x08},
};
static const struct hv_layout_region virtio_net_mmio[] = {
    {.name = "bar4", .dev = 0, .bar = 4, .base = 0xfebfc000ull, .size = 0x4000},
    {.name = "bar1", .dev = 0, .bar = 1, .base = 0xfebc0000ull, .size = 0x1000},
};
static const struct hv_layout_region virtio_net_pio[] = {
    {.name = "bar0", .dev = 0, .bar = 0, .base = 0xc040, .size = 0x20},
};
static const struct hv_layout virtio_net_layout = {
    .target = "virtio-net",
    .devs = virtio_net_devs,
    .ndevs = 1,
    .mmio = virtio_net_mmio,
    .nmmio = 2,
    .pio = virtio_net_pio,
    .npio = 1,
    .dma_base = DMA_BASE,
    .dma_size = DMA_SIZE,
    .virtio_region = 0,
};

/* ---- all targets -------------------------------------------------------- */

const struct hv_layout *const hv_layouts[] = {
    &virtio_blk_layout,
    &virtio_blk_init_layout,
    &nvme_layout,
    &nvme_init_layout,
    &e1000_layout,
    &e1000_init_layout,
    &canary_layout,
    &tpm_crb_layout,
    &virtio_net_layout,
    NULL,
};

const struct hv_layout *hv_layout_find(const char *target)
{
    if (!target)
        return NULL;
    for (unsigned i = 0; hv_layouts[i]; i++)
        if (hv_prog_str_eq(hv_layouts[i]->target, target))
            return hv_layouts[i];
    return NULL;
}
