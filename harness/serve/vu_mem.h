/*
 * The front-end's memory table (VHOST_USER_SET_MEM_TABLE): each region is
 * a shared-memory file descriptor, mapped here; guest-physical addresses
 * then reach the device model through hv_machine_set_ram_regions and
 * front-end user addresses (ring addresses) translate to guest-physical.
 */
#ifndef HV_VU_MEM_H
#define HV_VU_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "harness/serve/vhost_user.h"
#include "targets/common/hv_device.h"

struct vu_mem_region {
    struct vu_region r;
    uint8_t *map;   /* what mmap returned */
    size_t map_len;
    uint8_t *host;  /* guest address r.gpa */
};

struct vu_mem {
    struct vu_mem_region reg[VU_MAX_REGIONS];
    unsigned n;
};

/* Replace the table with the one in `m` (payload and descriptors; the
 * descriptors are consumed). Checks: 1..8 regions, payload size, one fd
 * per region, non-empty regions that neither wrap nor overlap in guest
 * memory, each inside its file. On error (message in err) the old table
 * stays. */
int vu_mem_set(struct vu_mem *mem, struct vu_msg *m, char *err, size_t errlen);
void vu_mem_clear(struct vu_mem *mem);
/* The region table for hv_machine_set_ram_regions; returns the count. */
unsigned vu_mem_ram_regions(const struct vu_mem *mem, struct hv_ram_region *out);
/* Front-end user address -> guest-physical; -1 if in no region. */
int vu_mem_uva_to_gpa(const struct vu_mem *mem, uint64_t uva, uint64_t *gpa);

#endif
