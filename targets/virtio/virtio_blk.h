/*
 * virtio-blk (virtio 1.2 section 5.2) on the virtio-pci transport, over a
 * struct hv_blk backend. Defaults mirror QEMU 7.2's virtio-blk-pci with a
 * 16 MiB raw image: one queue of 256, transitional device ID 0x1001, the
 * feature set and configuration space QEMU offered in
 * tests/targets/virtio/data/virtio-blk-ioeventfd-off.trace.
 *
 * The harness creates it with virtio_blk_create(m), registers it with
 * hv_machine_add(m, dev, 0x08) and programs BAR0 0xc000 (I/O), BAR1
 * 0xfebfe000 (MSI-X), BAR4 0xfebf8000 (modern, 64-bit).
 */
#ifndef HV_VIRTIO_BLK_H
#define HV_VIRTIO_BLK_H

#include <stdint.h>

#include "targets/common/hv_backend.h"
#include "targets/common/hv_device.h"

#define VIRTIO_BLK_DEFAULT_DISK_SIZE (16ull << 20) /* capacity 0x8000 */
#define VIRTIO_BLK_DEFAULT_QUEUE_SIZE 256u
#define VIRTIO_BLK_MAX_REQ_BYTES (1u << 20) /* data of one IN/OUT request */
#define VIRTIO_BLK_MAX_DWZ_SECTORS 0x3fffffu /* QEMU's default limits */
#define VIRTIO_BLK_DEFAULT_SERIAL "hvfuzz-virtio-blk"

struct virtio_blk_params {
    struct hv_blk *backend; /* taken over (destroyed with the device);
                               NULL: RAM disk of disk_size bytes */
    uint64_t disk_size;     /* RAM disk size; 0: 16 MiB */
    uint16_t num_queues;    /* 0: 1; more than 1 offers VIRTIO_BLK_F_MQ */
    uint16_t queue_size;    /* power of two; 0: 256; seg_max = size - 2 */
    uint32_t dwz_max_seg;   /* discard/write-zeroes segments per request;
                               0: 1 (as QEMU) */
    const char *serial;     /* GET_ID (first 20 bytes); NULL: default */
};

/* The device QEMU 7.2 shows in the trace (16 MiB RAM disk). NULL when out
 * of memory. The machine takes ownership once it is added. */
hv_dev *virtio_blk_create(hv_machine *m);
/* Same with explicit parameters (NULL: defaults). On failure the backend
 * in `p` is destroyed too. */
hv_dev *virtio_blk_create_ex(hv_machine *m, const struct virtio_blk_params *p);

#endif
