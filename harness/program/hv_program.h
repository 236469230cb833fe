/*
 * hvfuzz programs: the one input format shared by every host (in-process
 * targets, hvfuzz-vmm's guest agent, the agent under stock QEMU).
 *
 * Freestanding C: no libc, no malloc. The guest agent compiles these files.
 *
 * A program is a byte string of ops. Every byte string decodes: an op is an
 * opcode byte followed by fixed little-endian operands; an unassigned opcode
 * is skipped (one byte); an op whose operands are cut off ends the program.
 * Opcode numbers never change (checked-in corpora keep their meaning).
 *
 *  code name           operands                          effect
 *  0x01 mmio_read      region:u8 off:u32 size:u8         read  layout.mmio[region]
 *  0x02 mmio_write     region:u8 off:u32 size:u8 val:u64 write layout.mmio[region]
 *  0x03 pio_read       region:u8 off:u16 size:u8         read  layout.pio[region]
 *  0x04 pio_write      region:u8 off:u16 size:u8 val:u32 write layout.pio[region]
 *  0x05 pci_cfg_read   dev:u8 off:u8 size:u8             config space of a PCI dev
 *  0x06 pci_cfg_write  dev:u8 off:u8 size:u8 val:u32
 *  0x07 dma_write      off:u32 len:u16 data[len]         driver writes its RAM
 *  0x08 dma_fill       off:u32 len:u16 byte:u8
 *  0x09 clock_advance  ns:u32
 *  0x0a rx_inject      len:u16 data[len]                 frame from the wire
 *  0x10 virtq_setup    features:u32 nqueues:u8 qsize:u16 driver init (virtio)
 *  0x11 virtq_submit   vq:u8 flags:u8 nout:u8 nin:u8     chain + kick
 *                      len:u16[nout&7 + nin&7] dlen:u16 data[dlen]
 *  0x20-0x2f nvme, 0x30-0x3f e1000, 0x40-0x4f tpm: reserved for those issues.
 *
 * Operand reduction happens at execution, never at decode, so the text form
 * can show raw values (exact round trip):
 *  - region/dev: index mod the layout's count (op skipped if count is 0);
 *  - size: 1,2,4,8 (pio/cfg: 1,2,4) as given, otherwise 1 << (raw & 3)
 *    (pio/cfg: 1 << (raw % 3));
 *  - mmio/pio off: mod the region size, then moved down so off+size fits;
 *    cfg off: aligned down to size (an access never crosses a dword);
 *  - dma off: mod the window size; len clipped at the window end;
 *  - virtq_setup: accepted features = device features & (VERSION_1 |
 *    features); nqueues = 1 + raw % HV_VIRTQ_MAX (clipped to num_queues);
 *    qsize = 0 -> device maximum, else the largest power of two <= raw,
 *    clipped to the device maximum and HV_VIRTQ_MAX_SIZE (in both cases
 *    then rounded down to a power of two; a queue whose device maximum
 *    is 0 is left unused, as Linux does);
 *  - virtq_submit: vq mod the number set up (skipped if none);
 *    flags bit0 INDIRECT, bit1 NOKICK, bit2 NO_INTERRUPT (avail flags);
 *    `nout` device-readable then `nin` device-writable segments of the given
 *    lengths (0 allowed); data fills the readable segments in order.
 *  - written values are masked to the access size;
 *  - an access size larger than its region is halved until it fits; an op
 *    naming an empty table (no regions, devices) or a non-PCI device's
 *    config space is skipped; so are ops whose host callback is NULL.
 *
 * virtq_setup, as Linux's virtio_pci_modern does it (common cfg at
 * VIRTIO_PCI_COMMON_OFF of the layout's virtio region): PCI command
 * register of the region's device read (cfg 0x04, 2 bytes) and, if memory
 * decoding (+ I/O decoding when the device has a pio region) or bus
 * mastering is off, written with them on (pci_enable_device +
 * pci_set_master; skipped without cfg callbacks); status 0;
 * status ACK|DRIVER; device features (select 0, read; select 1, read);
 * driver features (select 0, write lo; select 1, write hi); status
 * |FEATURES_OK; read status back (FEATURES_OK cleared by the device: write
 * status|FAILED and stop, no queue is set up); read num_queues; per queue:
 * select, read size (0: skip the queue), write size, zero the ring memory
 * (mem_fill), write desc/avail/used addresses (lo, hi), enable = 1; then
 * status |DRIVER_OK. MSI-X vectors are left at their reset value. The
 * shadow's queues are reset (data_next is kept).
 *
 * virtq_submit: one buffer per segment from the data area (round robin,
 * 16-byte aligned, wraps to HV_DATA_AREA_OFF); the out data written there
 * (bytes past the data are left as they are); the chain written to the
 * descriptor table from the queue's next_desc slot on (wrapping mod size),
 * or, with INDIRECT or when the chain is longer than the queue, to the
 * queue's indirect area (round robin, HV_VIRTQ_MAX_SIZE entries) plus one
 * INDIRECT descriptor; a chain of 0 segments writes no descriptor and
 * publishes the slot next_desc as it is (a stale chain). Then avail flags,
 * avail ring[idx % size], with VIRTIO_F_EVENT_IDX negotiated used_event
 * (= this request's used index; with NO_INTERRUPT the one before it),
 * avail idx (last), and unless NOKICK the notify
 * write: 2 bytes, value = queue index, at VIRTIO_PCI_NOTIFY_OFF +
 * VIRTIO_PCI_NOTIFY_MULTIPLIER * queue (QEMU: queue_notify_off = index).
 * The structure-aware ops need a DMA window of at least HV_VIRTQ_MIN_WINDOW
 * bytes and a virtio region holding the notify area; else they are skipped.
 *
 * DMA window layout used by the structure-aware ops (offsets in the window):
 *   queue q (0..3): desc table  q*0x4000 + 0x0000 (256 * 16 bytes)
 *                   avail ring  q*0x4000 + 0x1000
 *                   used ring   q*0x4000 + 0x2000
 *                   indirect    q*0x4000 + 0x3000 (256 * 16 bytes)
 *   data buffers    0x10000 .. window end, handed out round-robin.
 */
#ifndef HV_PROGRAM_H
#define HV_PROGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hv_opcode {
    HV_OP_MMIO_READ = 0x01,
    HV_OP_MMIO_WRITE = 0x02,
    HV_OP_PIO_READ = 0x03,
    HV_OP_PIO_WRITE = 0x04,
    HV_OP_CFG_READ = 0x05,
    HV_OP_CFG_WRITE = 0x06,
    HV_OP_DMA_WRITE = 0x07,
    HV_OP_DMA_FILL = 0x08,
    HV_OP_CLOCK_ADVANCE = 0x09,
    HV_OP_RX_INJECT = 0x0a,
    HV_OP_VIRTQ_SETUP = 0x10,
    HV_OP_VIRTQ_SUBMIT = 0x11,
};

#define HV_VIRTQ_MAX 4
#define HV_VIRTQ_MAX_SIZE 256
#define HV_VIRTQ_MAX_SEGS 14 /* 7 out + 7 in */
#define HV_VIRTQ_AREA 0x4000u
#define HV_VIRTQ_DESC_OFF 0x0000u
#define HV_VIRTQ_AVAIL_OFF 0x1000u
#define HV_VIRTQ_USED_OFF 0x2000u
#define HV_VIRTQ_INDIRECT_OFF 0x3000u
#define HV_DATA_AREA_OFF 0x10000u

#define HV_VIRTQ_MIN_WINDOW 0x20000u /* rings + a 64 KiB data area */

#define HV_SUBMIT_F_INDIRECT 0x01u
#define HV_SUBMIT_F_NOKICK 0x02u
#define HV_SUBMIT_F_NO_INTERRUPT 0x04u

/* ---- machine layout: one table per target ------------------------------ */

#define HV_NO_BDF 0xffu

struct hv_layout_device {
    const char *model; /* device model name, e.g. "virtio-blk" */
    const char *name;  /* instance name used in text programs */
    uint8_t bdf;       /* bus 0 device<<3|function, HV_NO_BDF if not PCI */
};

struct hv_layout_region {
    const char *name; /* text-form name, e.g. "bar4" */
    uint8_t dev;      /* index into devices */
    uint8_t bar;      /* PCI BAR, or fixed-region index for non-PCI */
    uint64_t base;    /* GPA or port, programmed into the BAR by every host */
    uint64_t size;
};

struct hv_layout {
    const char *target;
    const struct hv_layout_device *devs;
    uint8_t ndevs;
    const struct hv_layout_region *mmio;
    uint8_t nmmio;
    const struct hv_layout_region *pio;
    uint8_t npio;
    uint64_t dma_base, dma_size;
    /* structure-aware ops: index into mmio of the virtio modern BAR, or -1 */
    int8_t virtio_region;
    /* Optional init program (binary): the "initialized" variant of a target
     * runs it once, snapshots the machine, and starts every input from that
     * snapshot (and the driver shadow it left) instead of from reset. */
    const uint8_t *init;
    uint16_t init_len;
};

/* All targets' layouts, NULL-terminated; and lookup by target name. */
extern const struct hv_layout *const hv_layouts[];
const struct hv_layout *hv_layout_find(const char *target);

/* ---- what a host provides to execute a program ------------------------- */

/* Absolute addresses only: the program code turns (region, off) into
 * GPAs/ports from the layout, exactly as the guest agent does. */
struct hv_exec_ops {
    uint64_t (*mmio_read)(void *ctx, uint64_t gpa, unsigned size);
    void (*mmio_write)(void *ctx, uint64_t gpa, unsigned size, uint64_t val);
    uint32_t (*pio_read)(void *ctx, uint16_t port, unsigned size);
    void (*pio_write)(void *ctx, uint16_t port, unsigned size, uint32_t val);
    uint32_t (*cfg_read)(void *ctx, uint8_t bdf, uint8_t off, unsigned size);
    void (*cfg_write)(void *ctx, uint8_t bdf, uint8_t off, unsigned size,
                      uint32_t val);
    /* The driver writing / reading its own RAM (the DMA window), by GPA. */
    void (*mem_write)(void *ctx, uint64_t gpa, const void *buf, uint32_t len);
    void (*mem_fill)(void *ctx, uint64_t gpa, uint8_t byte, uint32_t len);
    void (*mem_read)(void *ctx, uint64_t gpa, void *buf, uint32_t len);
    void (*clock_advance)(void *ctx, uint32_t ns);
    void (*rx_inject)(void *ctx, const uint8_t *buf, uint32_t len);
};

/* "Boot" the layout's PCI devices through ops->cfg_read/cfg_write only, as
 * firmware would (harness/program/boot.c): every BAR named by a layout region
 * written with the region's base (its low dword read first: a 64-bit memory
 * BAR also gets the high dword), then the command register of every PCI
 * device set to I/O | memory | bus master. The in-process host and the guest
 * agent (after QEMU's firmware, too) both boot this way. */
void hv_program_boot(const struct hv_layout *l, const struct hv_exec_ops *ops,
                     void *ctx);

/* ---- driver shadow: state of the structure-aware ops ------------------- */

struct hv_virtq_shadow {
    uint16_t size;      /* 0: not set up */
    uint16_t avail_idx; /* next avail index the driver publishes */
    uint16_t next_desc; /* next free descriptor slot */
    uint16_t next_ind;  /* next free entry of the queue's indirect area */
};

struct hv_shadow {
    struct hv_virtq_shadow vq[HV_VIRTQ_MAX];
    uint8_t nvq;
    uint64_t features;  /* negotiated */
    uint32_t data_next; /* next free byte in the data area (window offset) */
};

void hv_shadow_reset(struct hv_shadow *sh);

/* ---- decoding single ops ------------------------------------------------ */

/* One decoded op: the raw operand values, exactly as encoded (no reduction).
 * Which fields an opcode uses:
 *   mmio_read/write   region off size [val]
 *   pio_read/write    region off size [val]
 *   pci_cfg_read/write region(=dev) off size [val]
 *   dma_write         off data/len        dma_fill  off len val(=byte)
 *   clock_advance     val(=ns)            rx_inject data/len
 *   virtq_setup       val(=features) region(=nqueues) len(=qsize)
 *   virtq_submit      region(=vq) flags nout nin seg[] data/len(=dlen)
 * `data` points into the decoded buffer (not copied). */
struct hv_op {
    uint8_t code;  /* opcode byte */
    bool known;    /* false: unassigned opcode, skipped (1 byte) */
    uint8_t region;
    uint8_t size;
    uint8_t flags;
    uint8_t nout, nin; /* raw counts; nout & 7, nin & 7 segments */
    uint32_t off;
    uint32_t len;
    uint64_t val;
    uint16_t seg[HV_VIRTQ_MAX_SEGS]; /* nout&7 out lengths then nin&7 in */
    const uint8_t *data;
};

/* Longest op encoding: virtq_submit with 14 segments and 64 KiB of data. */
#define HV_OP_MAX_BYTES (7u + 2u * HV_VIRTQ_MAX_SEGS + 0xffffu)

/* Decode the op at p[0..n). Returns the bytes it occupies (1 for an
 * unassigned opcode, op->known = false), or 0 when n == 0 or its operands
 * are cut off (the program ends there). */
size_t hv_op_decode(const uint8_t *p, size_t n, struct hv_op *op);

/* Inverse of hv_op_decode for a known opcode: writes the encoding of `op`
 * (raw values as they are; len/data for ops that carry data) into buf.
 * Returns the byte count, or 0 if it does not fit in cap or the opcode is
 * unassigned. hv_op_decode(hv_op_encode(op)) reproduces op. */
size_t hv_op_encode(const struct hv_op *op, uint8_t *buf, size_t cap);

/* Name of an assigned opcode ("mmio_write"), or NULL. */
const char *hv_op_name(uint8_t code);

/* Execute one decoded op (reduction, address resolution, expansion). Returns
 * false if the op was skipped (unassigned opcode, empty table, ...). */
bool hv_op_exec(const struct hv_layout *l, const struct hv_op *op,
                const struct hv_exec_ops *ops, void *ctx,
                struct hv_shadow *sh);

/* Resolved (reduced) form of a raw region access, as hv_op_exec computes
 * it, for op->code HV_OP_MMIO_*, HV_OP_PIO_* and HV_OP_CFG_* (others:
 * false).
 * Returns false when the op is skipped. *addr is the GPA / port / config
 * offset, *bdf is set for cfg, *size the access size. */
bool hv_op_resolve(const struct hv_layout *l, const struct hv_op *op,
                   uint64_t *addr, unsigned *size, uint8_t *bdf);

/* Run a whole program from its first byte. Returns the number of ops
 * executed (expanded structure-aware ops count once; unassigned opcodes and
 * skipped ops do not count). The shadow is reset first: every input starts
 * from the device's reset state. */
unsigned hv_program_run(const struct hv_layout *l, const uint8_t *prog,
                        size_t len, const struct hv_exec_ops *ops, void *ctx,
                        struct hv_shadow *sh);
/* The same, continuing from the driver shadow as it is (after an init
 * program restored from a snapshot). */
unsigned hv_program_continue(const struct hv_layout *l, const uint8_t *prog,
                             size_t len, const struct hv_exec_ops *ops,
                             void *ctx, struct hv_shadow *sh);

#endif
