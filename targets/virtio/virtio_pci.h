/*
 * Virtio over PCI, modern interface plus the transitional legacy I/O BAR
 * (virtio 1.2 section 4.1), laid out exactly as QEMU 7.2's virtio-pci:
 *   BAR0  I/O, legacy register file (4.1.4.10), pow2ceil(0x18 + cfg len)
 *   BAR1  32-bit memory, 4 KiB: MSI-X table at 0, PBA at 0x800,
 *         num_queues + 1 vectors
 *   BAR4  64-bit prefetchable memory, 16 KiB: common cfg 0x0000, ISR
 *         0x1000, device cfg 0x2000, notify 0x3000 (multiplier 4,
 *         queue_notify_off = queue index)
 *   capabilities: MSI-X 0x98 -> PCI_CFG 0x84 -> notify 0x70 -> device 0x60
 *         -> ISR 0x50 -> common 0x40
 *
 * A device model embeds `struct virtio_pci` as its FIRST member (so the
 * hv_dev, the transport and the model share one address and one heap
 * block) and plugs in through `struct virtio_dev_ops`.
 */
#ifndef HV_VIRTIO_PCI_H
#define HV_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "targets/common/hv_device.h"
#include "targets/virtio/virtqueue.h"

#define VIRTIO_PCI_MAX_QUEUES 64u

struct virtio_pci;

/* What a virtio device model provides to the transport. */
struct virtio_dev_ops {
    /* Fill the `config_len` bytes of the device configuration (5.x.4). */
    void (*get_config)(struct virtio_pci *vp, uint8_t *cfg);
    /* The driver wrote into the device configuration: `cfg` is the whole
     * structure with the written bytes applied. Optional. */
    void (*set_config)(struct virtio_pci *vp, const uint8_t *cfg);
    /* The driver wrote device_status and the transport accepted it
     * (called before a write of 0 resets the device). Optional. */
    void (*status_changed)(struct virtio_pci *vp, uint8_t status);
    /* Available buffer notification for queue `q`. Only called with
     * DRIVER_OK set, bus mastering on, the device not broken and the queue
     * ready. Errors go through virtq_set_error / virtio_pci_set_error. */
    void (*queue_kick)(struct virtio_pci *vp, uint16_t q);
    /* Device reset (status 0, 2.1.1); `power_on`: machine reset, which
     * also restores backends. The transport has reset its own state. */
    void (*reset)(struct virtio_pci *vp, bool power_on);
    /* Free the model's own allocations (not the struct itself). */
    void (*destroy)(struct virtio_pci *vp);
    /* The device state was just loaded from a snapshot: bring backends
     * back to their reset content. Optional. */
    void (*restored)(struct virtio_pci *vp);
};

struct virtio_pci_params {
    const char *name;         /* hv_dev name, e.g. "virtio-blk" */
    uint16_t virtio_id;       /* device ID (5.x): subsystem ID too */
    uint16_t pci_device_id;   /* transitional 0x1000 + id - 1 */
    uint32_t class_code;      /* class << 16 | subclass << 8 | prog-if */
    uint16_t num_queues;      /* 1..VIRTIO_PCI_MAX_QUEUES */
    uint16_t queue_max_size;  /* power of two, <= VIRTQ_MAX_SIZE */
    uint32_t config_len;      /* bytes of device configuration, <= 0x1000 */
    uint64_t device_features; /* device-specific bits offered */
    size_t state_size;        /* sizeof the model's struct (snapshots) */
};

struct virtio_pci_queue {
    struct virtq vq;
    uint16_t vector; /* queue_msix_vector */
};

struct virtio_pci {
    hv_dev dev; /* first: the bus, the transport and the model share it */
    const struct virtio_dev_ops *vops;
    struct virtio_pci_params p;
    uint64_t host_features;   /* offered: transport | device */
    /* common configuration (4.1.4.3) */
    uint32_t dfselect, gfselect;
    uint32_t gf[2];           /* driver_feature words as written */
    uint64_t features;        /* in effect: written & offered */
    uint16_t config_vector;
    uint16_t queue_sel;
    uint8_t status;
    uint8_t generation;
    uint8_t isr;              /* 4.1.4.5: bit 0 queue, bit 1 config */
    bool broken;              /* device error: NEEDS_RESET is set */
    const char *error;        /* first device error (static string) */
    struct virtio_pci_queue *queues; /* heap, num_queues entries */
    uint8_t *config;          /* heap, exactly config_len bytes */
};

/* Build the PCI function, MSI-X, queues. `vp` comes zeroed from the
 * model's calloc. 0, or -1 (what this call allocated is freed again; the
 * caller frees its struct). Once its own state is ready the model calls
 * virtio_pci_reset(vp, false) to reach the reset state. */
int virtio_pci_init(struct virtio_pci *vp, hv_machine *m,
                    const struct virtio_dev_ops *vops,
                    const struct virtio_pci_params *p);
/* Queue `q` (< num_queues), else NULL. */
struct virtq *virtio_pci_vq(struct virtio_pci *vp, uint16_t q);
bool virtio_pci_has_feature(const struct virtio_pci *vp, unsigned bit);
/* Used buffer notification for queue `q`: ISR bit 0, then MSI-X vector or
 * INTx (4.1.4.5, 4.1.5.3/4). Callers check virtq_should_notify first. */
void virtio_pci_notify_queue(struct virtio_pci *vp, uint16_t q);
/* Configuration change notification (only once DRIVER_OK is set). */
void virtio_pci_notify_config(struct virtio_pci *vp);
/* Device error (2.1.2): set DEVICE_NEEDS_RESET, stop every queue until
 * the driver resets the device, send a configuration change notification. */
void virtio_pci_set_error(struct virtio_pci *vp, const char *why);
/* Reset the device (as a driver write of 0 to device_status does); with
 * `power_on` also PCI config, MSI-X table and backends. */
void virtio_pci_reset(struct virtio_pci *vp, bool power_on);


#endif
