/*
 * A virtio-pci device model driven as a driver would drive it: the
 * vhost-user server turns the front-end's ring set-up into register
 * accesses on the model's own transport (common configuration, device
 * configuration, notify region, MSI-X table), through the machine's bus.
 * The model runs unchanged; its guest memory is the front-end's (see
 * hv_machine_set_ram_regions) and its MSI-X messages reach the server
 * through hv_machine_set_msi_sink: queue q uses vector q, configuration
 * changes (device errors) vector num_queues.
 */
#ifndef HV_VPROXY_H
#define HV_VPROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "targets/common/hv_device.h"

/* Where the proxy maps the device (QEMU's q35 addresses, as everywhere). */
#define VPROXY_BDF 0x08u
#define VPROXY_BAR0_PIO 0xc000u
#define VPROXY_BAR1 0xfebfe000ull
#define VPROXY_BAR4 0xfebf8000ull

struct virtio_pci;

struct vproxy {
    hv_machine *m;
    struct virtio_pci *vp;
    uint16_t num_queues;
    uint16_t queue_max;  /* queue size after reset */
    uint64_t offered;    /* device_feature */
};

/* `dev` must be a virtio-pci model already added to `m` at VPROXY_BDF.
 * Maps its BARs, enables decoding, bus mastering and MSI-X. */
void vproxy_init(struct vproxy *p, hv_machine *m, hv_dev *dev);
/* Device reset (status 0), then ACKNOWLEDGE | DRIVER, `features`,
 * FEATURES_OK, DRIVER_OK. -1 when the device refuses FEATURES_OK. */
int vproxy_negotiate(struct vproxy *p, uint64_t features);
/* Status 0: every queue stopped, features forgotten. */
void vproxy_reset(struct vproxy *p);
/* Configure and enable queue q (disabled before) with ring GPAs, then
 * resume it at avail index `base`. */
void vproxy_queue_start(struct vproxy *p, uint16_t q, uint16_t size,
                        uint64_t desc, uint64_t avail, uint64_t used,
                        uint16_t base);
/* Reset queue q; returns the avail index it stopped at. */
uint16_t vproxy_queue_stop(struct vproxy *p, uint16_t q);
/* Available buffer notification for queue q (the notify register). */
void vproxy_kick(struct vproxy *p, uint16_t q);
/* Device configuration space, through the device-config region. */
void vproxy_config_read(struct vproxy *p, uint32_t off, uint8_t *buf,
                        uint32_t len);
void vproxy_config_write(struct vproxy *p, uint32_t off, const uint8_t *buf,
                         uint32_t len);
/* Why the device set DEVICE_NEEDS_RESET, or NULL. */
const char *vproxy_error(const struct vproxy *p);

#endif
