/* virtio-blk, initialized variant: every input starts after the driver's
 * init (layout "virtio-blk-init", a machine snapshot), so it spends its
 * bytes and time on requests. */
#include "harness/inproc/inproc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return hv_inproc_run("virtio-blk-init", data, size);
}
