/* virtio-blk over modern virtio-pci: programs drive the model's BARs, PCI
 * config space and the DMA window (layout "virtio-blk"). */
#include "harness/inproc/inproc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return hv_inproc_run("virtio-blk", data, size);
}
