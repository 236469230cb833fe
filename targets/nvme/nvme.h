/*
 * NVMe controller (NVMe base specification 1.4, a faithful subset) over the
 * RAM disk backend. Defaults mirror QEMU 7.2's `-device nvme,serial=deadbeef`
 * with a 16 MiB raw image, as recorded in tests/targets/nvme/data/nvme.trace:
 * vendor 0x1b36 device 0x0010, one 64-bit memory BAR 0 of 16 KiB (registers
 * 0x0000, doorbells 0x1000 with CAP.DSTRD = 0, MSI-X table 0x2000 with 65
 * vectors, PBA 0x3000), capabilities MSI-X 0x40 -> PCIe 0x80 -> PM 0x60,
 * interrupt pin INTA. Namespace 1: 512-byte LBAs over the 16 MiB disk;
 * namespace 2: 4096-byte LBAs over a 1 MiB disk. NN = 256 (as QEMU).
 *
 * The harness creates it with nvme_create(m), registers it with
 * hv_machine_add(m, dev, 0x08) and programs BAR0 0xfebf8000.
 */
#ifndef HV_NVME_H
#define HV_NVME_H

#include <stdint.h>

#include "targets/common/hv_backend.h"
#include "targets/common/hv_device.h"

#define NVME_DEFAULT_DISK_SIZE (16ull << 20)
#define NVME_DEFAULT_NS2_SIZE (1ull << 20)
#define NVME_DEFAULT_SERIAL "deadbeef"

struct nvme_params {
    uint64_t disk_size; /* namespace 1 (512-byte LBAs); 0: 16 MiB */
    uint64_t ns2_size;  /* namespace 2 (4096-byte LBAs); 0: 1 MiB */
    bool no_ns2;        /* only namespace 1, exactly QEMU's device */
    const char *serial; /* NULL: "deadbeef" */
};

/* The device of the trace; NULL when out of memory. The machine takes
 * ownership once it is added. */
hv_dev *nvme_create(hv_machine *m);
hv_dev *nvme_create_ex(hv_machine *m, const struct nvme_params *p);

#endif
