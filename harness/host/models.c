/* Device models the layouts may name. Adding a model is one line here. */
#include "harness/host/hv_host.h"

#include <string.h>

#include "targets/e1000/e1000.h"
#include "targets/nvme/nvme.h"
#include "targets/selftest/canary.h"
#include "targets/virtio/virtio_blk.h"

static const struct hv_model models[] = {
    {"virtio-blk", virtio_blk_create},
    {"nvme", nvme_create},
    {"e1000", e1000_create},
    {"selftest-canary", canary_create},
};

const struct hv_model *hv_model_find(const char *name)
{
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        if (strcmp(models[i].name, name) == 0)
            return &models[i];
    return NULL;
}
