/*
 * Intel 82540EM (e1000) NIC model, as QEMU 7.2's `-device e1000` presents
 * it: PCI 8086:100e rev 3, subsystem 1af4:1100, BAR0 128 KiB registers,
 * BAR1 64-byte I/O window (IOADDR/IODATA), a 256 KiB expansion-ROM BAR
 * (sizing only, no content), INTA.
 */
#ifndef HV_E1000_H
#define HV_E1000_H

#include "targets/common/hv_device.h"
#include "targets/common/hv_net.h"

#define E1000_VENDOR_ID 0x8086u
#define E1000_DEVICE_ID 0x100eu /* 82540EM */
#define E1000_REVISION 0x03u
#define E1000_SUBSYS_VENDOR_ID 0x1af4u /* QEMU's default subsystem ids */
#define E1000_SUBSYS_ID 0x1100u
#define E1000_CLASS_ETHERNET 0x020000u
#define E1000_BAR_MMIO 0
#define E1000_BAR_IO 1
#define E1000_MMIO_SIZE 0x20000u
#define E1000_IO_SIZE 0x40u
#define E1000_ROM_SIZE 0x40000u
/* Where SeaBIOS put the BARs in the reference trace (q35, QEMU 7.2). */
#define E1000_DEFAULT_MMIO_ADDR 0xfebc0000u
#define E1000_DEFAULT_IO_ADDR 0xc000u

struct e1000_params {
    /* Receives every transmitted frame; the device owns it (destroyed with
     * the device). NULL: an in-memory hv_netsink. */
    struct hv_net *backend;
    /* All zero: QEMU's default 52:54:00:12:34:56. */
    uint8_t mac[6];
};

hv_dev *e1000_create(hv_machine *m);
hv_dev *e1000_create_ex(hv_machine *m, const struct e1000_params *p);
/* The backend the device sends to (tests look at the sink through it). */
struct hv_net *e1000_backend(hv_dev *dev);

#endif
