/* Shared by the QEMU trace replays (tests/targets/<model>/test_<model>_trace.c). */
#ifndef HV_TRACE_H
#define HV_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "targets/common/hv_device.h"

/* QEMU's pci_cfg_read trace lines do not give the access size: a read
 * matches when one of the aligned 1/2/4-byte reads at `off` returns what
 * QEMU answered. *got is the last value read (for the report). */
static inline bool hv_trace_cfg_read_matches(hv_machine *m, uint8_t bdf,
                                             unsigned off, uint32_t want,
                                             uint32_t *got)
{
    static const unsigned sizes[] = {1, 2, 4};

    *got = 0;
    for (int i = 0; i < 3; i++) {
        if (off % sizes[i])
            continue;
        *got = hv_bus_cfg_read(m, bdf, off, sizes[i]);
        if (*got == want)
            return true;
    }
    return false;
}

#endif
