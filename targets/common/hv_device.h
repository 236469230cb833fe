/*
 * hvfuzz device API: what every device model sees of the world.
 *
 * A device is an ops table plus a state struct that embeds `struct hv_dev`
 * as its first member (kvmtool / QEMU MemoryRegionOps style). Devices reach
 * guest memory, interrupts and time only through the machine they are
 * created in (`hv_machine`), never through globals, files or clocks, so a
 * program replays to the same device behaviour in every host.
 *
 * Dependencies point one way: harness/ -> targets/<dev> -> targets/common.
 */
#ifndef HV_DEVICE_H
#define HV_DEVICE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HV_PAGE_SIZE 4096u
#define HV_PCI_CFG_SIZE 256u
#define HV_PCI_NUM_BARS 6
#define HV_MAX_DEVICES 8
#define HV_MAX_FIXED_REGIONS 4

/* Default DMA window: guest RAM the devices may touch, at the same GPA in
 * every host (in-process, hvfuzz-vmm, stock QEMU with -m >= 512M). */
#define HV_DMA_WINDOW_BASE 0x10000000ull
#define HV_DMA_WINDOW_SIZE 0x40000ull

/* Per-input work budget: every unit is one iteration of a guest-driven loop.
 * Clean models stay far below it; exceeding it is a "hang" finding. */
#define HV_WORK_BUDGET_DEFAULT (1u << 22)

/* How many bytes of one DMA transfer may be routed onto MMIO (device to
 * device). Bounds the work a single descriptor can cause there. */
#define HV_DMA_MMIO_MAX 4096u

typedef struct hv_machine hv_machine;
typedef struct hv_dev hv_dev;

/* ---- findings --------------------------------------------------------- */

enum hv_finding_kind {
    HV_FINDING_ASSERT = 1, /* device invariant violated (hv_assert) */
    HV_FINDING_REENTRANCY, /* a device handler entered while already active */
    HV_FINDING_BUDGET,     /* per-input work budget exceeded: a hang */
};

const char *hv_finding_kind_name(enum hv_finding_kind kind);

/*
 * Report a finding. Prints "==HVFUZZ== FINDING kind=<k> site=<s>: <msg>" to
 * stderr. When the machine's findings are fatal (the default, and always in
 * fuzz/replay binaries) it then aborts so the engine and sanitizer record
 * the stack; when not (unit tests), it counts the finding and returns, and
 * the caller must refuse the operation that triggered it.
 */
void hv_finding(hv_machine *m, enum hv_finding_kind kind, const char *site,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* For plumbing that decides where an access goes (address decoding, window
 * checks), not how a device behaves: keeps it out of the coverage signal
 * and off the fuzzer's comparison tracing, which costs per call. */
#if defined(__clang__)
#define HV_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define HV_NO_COVERAGE
#endif

#define HV_STR2(x) #x
#define HV_STR(x) HV_STR2(x)
#define HV_SITE __FILE__ ":" HV_STR(__LINE__)

/* Device invariant: evaluates to `cond`; reports an ASSERT finding if false. */
#define hv_assert(dev, cond)                                                   \
    ((cond) ? true                                                             \
            : (hv_finding((dev)->machine, HV_FINDING_ASSERT, HV_SITE,          \
                          "assertion failed: %s", #cond),                      \
               false))

/* Charge `units` of work to the input's budget. Returns false (after
 * reporting a BUDGET finding at `site`) once the budget is exhausted; the
 * caller must then stop its loop. */
bool hv_budget_charge(hv_dev *dev, uint32_t units, const char *site);
#define hv_budget(dev, units) hv_budget_charge((dev), (units), HV_SITE)

/* ---- tracing ---------------------------------------------------------- */

/* Device-visible events (DMA, IRQ, device notes) go to the machine's trace
 * sink when one is set; formatting is skipped otherwise. */
typedef void (*hv_trace_fn)(void *opaque, const char *line);
void hv_trace(hv_machine *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool hv_tracing(const hv_machine *m);

/* ---- PCI configuration space ------------------------------------------ */

enum {
    HV_PCI_VENDOR_ID = 0x00,
    HV_PCI_DEVICE_ID = 0x02,
    HV_PCI_COMMAND = 0x04,
    HV_PCI_STATUS = 0x06,
    HV_PCI_REVISION = 0x08,
    HV_PCI_CLASS_PROG = 0x09,
    HV_PCI_CLASS_DEVICE = 0x0a,
    HV_PCI_HEADER_TYPE = 0x0e,
    HV_PCI_BAR0 = 0x10,
    HV_PCI_SUBSYS_VENDOR_ID = 0x2c,
    HV_PCI_SUBSYS_ID = 0x2e,
    HV_PCI_ROM_ADDRESS = 0x30,
    HV_PCI_CAP_PTR = 0x34,
    HV_PCI_INTERRUPT_LINE = 0x3c,
    HV_PCI_INTERRUPT_PIN = 0x3d,
};

#define HV_PCI_CMD_IO 0x0001u
#define HV_PCI_CMD_MEM 0x0002u
#define HV_PCI_CMD_MASTER 0x0004u
#define HV_PCI_CMD_INTX_DISABLE 0x0400u
#define HV_PCI_STATUS_INTERRUPT 0x0008u
#define HV_PCI_STATUS_CAP_LIST 0x0010u

#define HV_PCI_CAP_ID_MSIX 0x11
#define HV_PCI_CAP_ID_VNDR 0x09

enum hv_bar_type {
    HV_BAR_NONE = 0,
    HV_BAR_IO,
    HV_BAR_MEM32,
    HV_BAR_MEM64, /* occupies this BAR slot and the next */
};

struct hv_bar {
    enum hv_bar_type type;
    bool prefetch;
    uint64_t size; /* power of two; 0 = unused */
};

/* Type 0 header with BAR sizing semantics, a capability list, and write
 * masks. `init` holds the image restored by reset. */
struct hv_pci {
    uint8_t cfg[HV_PCI_CFG_SIZE];
    uint8_t wmask[HV_PCI_CFG_SIZE];   /* bits the guest may write */
    uint8_t w1cmask[HV_PCI_CFG_SIZE]; /* write-1-to-clear bits */
    uint8_t init[HV_PCI_CFG_SIZE];    /* reset image (see hv_machine_set_reset_point) */
    struct hv_bar bars[HV_PCI_NUM_BARS];
    uint8_t next_cap_end; /* where the next capability may be placed */
};

/* ---- MSI-X (table and PBA live in one of the device's BARs) ------------ */

#define HV_MSIX_ENTRY_SIZE 16u
#define HV_MSIX_CTRL_ENABLE 0x8000u
#define HV_MSIX_CTRL_MASKALL 0x4000u
#define HV_MSIX_VECTOR_MASKED 0x1u

struct hv_msix {
    uint16_t nvec;      /* 0: no MSI-X */
    uint8_t cap;        /* offset of the capability in config space */
    uint8_t bar;
    uint32_t table_off; /* within `bar` */
    uint32_t pba_off;
    uint8_t *table;     /* nvec * 16 bytes, heap, exact size */
    uint8_t *pba;       /* ceil(nvec/64)*8 bytes, heap, exact size */
};

#define HV_MSIX_NO_VECTOR 0xffffu

/* ---- device ops and the device base struct ---------------------------- */

struct hv_dev_ops {
    /* BAR-relative MMIO (also used for fixed MMIO regions: bar = region
     * index). size is 1, 2, 4 or 8; `off + size <= BAR size` always holds. */
    uint64_t (*mmio_read)(hv_dev *dev, int bar, uint64_t off, unsigned size);
    void (*mmio_write)(hv_dev *dev, int bar, uint64_t off, unsigned size,
                       uint64_t val);
    /* I/O-port BAR relative; size 1, 2 or 4. */
    uint32_t (*pio_read)(hv_dev *dev, int bar, uint64_t off, unsigned size);
    void (*pio_write)(hv_dev *dev, int bar, uint64_t off, unsigned size,
                      uint32_t val);
    /* Optional: called before a config-space read returns, to refresh
     * bytes that mirror other state (virtio's PCI_CFG access window). */
    void (*cfg_read)(hv_dev *dev, unsigned off, unsigned size);
    /* Optional: called after the generic config-space write was applied
     * (command register, MSI-X enable, ...). */
    void (*cfg_written)(hv_dev *dev, unsigned off, unsigned size, uint32_t val);
    /* Optional: the virtual clock moved to `now_ns`. */
    void (*clock_advanced)(hv_dev *dev, uint64_t now_ns);
    /* Optional, NICs: a frame arrived from the wire (the rx_inject op).
     * Returns true if the device took it (false: dropped, e.g. RX off). */
    bool (*rx)(hv_dev *dev, const uint8_t *frame, size_t len);
    /* Restore every field to its power-on value (backends included). */
    void (*reset)(hv_dev *dev);
    /* Free everything the device allocated, including `dev` itself. */
    void (*destroy)(hv_dev *dev);
    /* Optional, for snapshots (hv_machine_snapshot): copy the device's whole
     * state, its hv_dev base included, into a new allocation (free() frees
     * it); and put such a copy back. MSI-X table/PBA contents and guest RAM
     * are saved by the machine. Backends must be back at their reset
     * content after `load` (snapshots are taken before any disk write). */
    void *(*save)(const hv_dev *dev);
    void (*load)(hv_dev *dev, const void *state);
};

struct hv_fixed_region { /* non-PCI MMIO / port range, e.g. TPM CRB */
    bool is_pio;
    uint64_t base, size;
};

struct hv_dev {
    const struct hv_dev_ops *ops;
    hv_machine *machine;
    const char *name;
    bool is_pci;
    struct hv_pci pci;
    struct hv_msix msix;
    struct hv_fixed_region fixed[HV_MAX_FIXED_REGIONS];
    unsigned nfixed;
    /* Refuse DMA that lands on this device's own BARs (the QEMU fix for
     * CVE-2021-3929). On by default; a planted bug may clear it. */
    bool dma_refuse_self;
    unsigned active; /* handler depth: >0 while one of our ops runs */
    uint8_t intx_level;
};

/* Initialise the base struct (not the PCI identity). */
void hv_dev_init(hv_dev *dev, hv_machine *m, const struct hv_dev_ops *ops,
                 const char *name);

/* ---- PCI helpers (targets/common/pci.c) -------------------------------- */

void hv_pci_init(hv_dev *dev, uint16_t vendor, uint16_t device,
                 uint32_t class_code /* class<<16|subclass<<8|progif */,
                 uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id);
void hv_pci_set_bar(hv_dev *dev, int bar, enum hv_bar_type type,
                    uint64_t size, bool prefetch);
void hv_pci_set_interrupt_pin(hv_dev *dev, uint8_t pin /* 1 = INTA */);
/* Add a capability of `len` bytes at `offset` (0: next free dword);
 * links it into the list; returns its offset. Bytes after the 2-byte
 * header are zero and read-only unless the caller changes wmask. */
uint8_t hv_pci_add_cap(hv_dev *dev, uint8_t id, uint8_t offset, uint8_t len);
/* Call once the device has built its config space: snapshots `init`. */
void hv_pci_finalize(hv_dev *dev);
void hv_pci_reset(hv_dev *dev);
uint32_t hv_pci_cfg_read(hv_dev *dev, unsigned off, unsigned size);
void hv_pci_cfg_write(hv_dev *dev, unsigned off, unsigned size, uint32_t val);
/* Current decoded BAR address, or UINT64_MAX when unmapped/disabled. */
uint64_t hv_pci_bar_addr(const hv_dev *dev, int bar);
uint16_t hv_pci_command(const hv_dev *dev);

static inline uint32_t hv_ld_le(const uint8_t *p, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static inline void hv_st_le(uint8_t *p, unsigned size, uint64_t v)
{
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- MSI-X (targets/common/msix.c) ------------------------------------- */

int hv_msix_init(hv_dev *dev, uint16_t nvec, uint8_t bar, uint32_t table_off,
                 uint32_t pba_off, uint8_t cap_offset);
bool hv_msix_enabled(const hv_dev *dev);
/* True if (bar, off) falls in the table or PBA; then the access is done. */
bool hv_msix_mmio_read(hv_dev *dev, int bar, uint64_t off, unsigned size,
                       uint64_t *val);
bool hv_msix_mmio_write(hv_dev *dev, int bar, uint64_t off, unsigned size,
                        uint64_t val);
/* Signal `vector`: a trace event if enabled and unmasked, else pending. */
void hv_msix_notify(hv_dev *dev, uint16_t vector);
void hv_msix_reset(hv_dev *dev);
void hv_msix_free(hv_dev *dev);
/* Config space changed (enable / function mask): deliver pending vectors. */
void hv_msix_cfg_written(hv_dev *dev);

/* ---- interrupts ------------------------------------------------------- */

/* INTx level (pin from config space); a trace event on every change. */
void hv_irq_set_level(hv_dev *dev, int level);

/* ---- DMA (targets/common/dma.c) ---------------------------------------- */

/* Device DMA. Succeeds (returns 0) only if the whole range lies in the DMA
 * window, or on mapped MMIO of some device (then it is routed through the
 * bus, <= HV_DMA_MMIO_MAX bytes). Anything else returns -1 and moves no
 * byte; so does DMA onto the device's own BARs when dma_refuse_self, and
 * any DMA from a PCI device whose bus mastering is off. */
int hv_dma_read(hv_dev *dev, uint64_t gpa, void *buf, size_t len);
int hv_dma_write(hv_dev *dev, uint64_t gpa, const void *buf, size_t len);
/* Fast path for the window only (no MMIO routing): a host pointer to
 * [gpa, gpa+len) or NULL. Writers must call hv_mem_mark_dirty. */
uint8_t *hv_dma_window_ptr(hv_machine *m, uint64_t gpa, size_t len);

/* ---- the virtual clock ------------------------------------------------- */

uint64_t hv_clock_ns(const hv_dev *dev);

/* ---- the machine: bus + guest RAM window + clock + findings ------------ */

struct hv_machine_config {
    uint64_t dma_base;    /* 0: HV_DMA_WINDOW_BASE */
    uint64_t dma_size;    /* 0: HV_DMA_WINDOW_SIZE */
    uint8_t *ram;         /* window backing; NULL: allocated (calloc) */
    uint32_t work_budget; /* 0: HV_WORK_BUDGET_DEFAULT */
};

/* Guest RAM outside the window: [gpa, gpa + size) at host address `host`
 * (a vhost-user frontend's shared memory, mapped by the host). */
struct hv_ram_region {
    uint64_t gpa, size;
    uint8_t *host;
};
#define HV_MAX_RAM_REGIONS 8

/* A host that delivers interrupts (the vhost-user server) is told of every
 * MSI-X message a device sends, after its trace event. */
typedef void (*hv_msi_fn)(void *opaque, hv_dev *dev, uint16_t vector);

/* One decoded address range: a mapped BAR or a fixed region. */
struct hv_bus_map {
    uint64_t base, size;
    hv_dev *dev;
    int bar;
    bool pio;
};
#define HV_MAX_MAPS (HV_MAX_DEVICES * (HV_PCI_NUM_BARS + HV_MAX_FIXED_REGIONS))

struct hv_machine {
    uint64_t dma_base, dma_size;
    uint8_t *ram;
    bool ram_owned;
    uint8_t *dirty; /* one byte per window page: written since reset */
    uint64_t clock_ns;
    uint32_t work_budget, work_used;
    bool budget_spent; /* the BUDGET finding was reported for this input */
    hv_dev *devs[HV_MAX_DEVICES];
    uint8_t bdf[HV_MAX_DEVICES]; /* device<<3 | function on bus 0 */
    unsigned ndevs;
    bool findings_fatal;        /* default true */
    unsigned findings;          /* count, when not fatal */
    enum hv_finding_kind last_finding;
    hv_trace_fn trace_fn;
    void *trace_opaque;
    /* Address decoding, rebuilt whenever a BAR or command register changes
     * (hv_bus_remap), so an access does not re-read config space. */
    struct hv_bus_map maps[HV_MAX_MAPS];
    unsigned nmaps;
    /* hv_machine_set_ram_regions: when nram > 0 they replace the window. */
    struct hv_ram_region ram_regions[HV_MAX_RAM_REGIONS];
    unsigned nram;
    hv_msi_fn msi_fn; /* hv_machine_set_msi_sink */
    void *msi_opaque;
};

hv_machine *hv_machine_create(const struct hv_machine_config *cfg);
/* Destroys every device too. */
void hv_machine_destroy(hv_machine *m);
/* Register a device (takes ownership). PCI devices get `bdf`; returns the
 * device index or -1 when full. */
int hv_machine_add(hv_machine *m, hv_dev *dev, uint8_t bdf);
/* Back to the reset point: every device's reset, PCI config restored to
 * its reset image, dirty RAM pages zeroed, clock and budget at 0. */
void hv_machine_reset(hv_machine *m);
/* Make the current PCI config spaces the reset image (power-on until then).
 * Hosts call it once firmware/agent set-up (BARs, command) is done, so each
 * input starts from the booted state without replaying the set-up. */
void hv_machine_set_reset_point(hv_machine *m);
void hv_machine_clock_advance(hv_machine *m, uint64_t ns);
/* A frame from the wire, delivered to the first device with an rx op.
 * Returns that device, or NULL when no device receives frames. */
hv_dev *hv_machine_rx_inject(hv_machine *m, const uint8_t *frame, size_t len);
void hv_machine_set_trace(hv_machine *m, hv_trace_fn fn, void *opaque);
/* Replace the DMA window by `n` guest RAM regions (n <= HV_MAX_RAM_REGIONS;
 * n = 0 goes back to the window): DMA and hv_mem_* then reach exactly these
 * (one access must lie inside one region) and MMIO; nothing in them is
 * tracked or reset. Copies the table. -1 (nothing changed) when n is too
 * large or a region is empty, wraps around or has no host address. */
int hv_machine_set_ram_regions(hv_machine *m, const struct hv_ram_region *r,
                               unsigned n);
/* Interrupt delivery for hosts that have a real interrupt path; NULL: none
 * (the default: an interrupt is a trace event only). */
void hv_machine_set_msi_sink(hv_machine *m, hv_msi_fn fn, void *opaque);

/* Snapshots: the machine's state after some set-up (an init program), to
 * start inputs from instead of the reset state. NULL when a device has no
 * save/load ops, or out of memory. */
struct hv_snapshot;
struct hv_snapshot *hv_machine_snapshot(hv_machine *m);
void hv_machine_restore(hv_machine *m, const struct hv_snapshot *s);
void hv_snapshot_free(struct hv_snapshot *s);

/* Guest-side memory access (what a driver writes into its own RAM). Offsets
 * are GPAs; the range must lie in the window (else ignored / zero-filled). */
void hv_mem_write(hv_machine *m, uint64_t gpa, const void *buf, size_t len);
void hv_mem_fill(hv_machine *m, uint64_t gpa, uint8_t byte, size_t len);
void hv_mem_read(hv_machine *m, uint64_t gpa, void *buf, size_t len);
void hv_mem_mark_dirty(hv_machine *m, uint64_t gpa, size_t len);

/* Bus accesses by address, as a CPU (or a DMA master) makes them.
 * Unclaimed reads return all-ones; unclaimed writes are dropped. Entering a
 * device that is already active is a REENTRANCY finding and is refused. */
uint64_t hv_bus_mmio_read(hv_machine *m, uint64_t gpa, unsigned size);
void hv_bus_mmio_write(hv_machine *m, uint64_t gpa, unsigned size,
                       uint64_t val);
uint32_t hv_bus_pio_read(hv_machine *m, uint64_t port, unsigned size);
void hv_bus_pio_write(hv_machine *m, uint64_t port, unsigned size,
                      uint32_t val);
/* True if an MMIO access at gpa would reach some device. */
bool hv_bus_mmio_claimed(hv_machine *m, uint64_t gpa, hv_dev **dev_out);
/* Config space of the device at bus 0 `bdf`: all-ones when absent. */
uint32_t hv_bus_cfg_read(hv_machine *m, uint8_t bdf, unsigned off,
                         unsigned size);
void hv_bus_cfg_write(hv_machine *m, uint8_t bdf, unsigned off, unsigned size,
                      uint32_t val);
hv_dev *hv_bus_find_bdf(hv_machine *m, uint8_t bdf);
/* Rebuild the address map from the devices' BARs and fixed regions. */
void hv_bus_remap(hv_machine *m);

#endif
