/* Device models the layouts may name. Adding a model is one line here. */
#include "harness/host/hv_host.h"

#include <string.h>

#include "harness/backends/hv_pcap.h"
#include "targets/e1000/e1000.h"
#include "targets/nvme/nvme.h"
#include "targets/selftest/canary.h"
#include "targets/tpm/tpm_crb.h"
#include "targets/virtio/virtio_blk.h"
#include "targets/virtio/virtio_net.h"

static hv_dev *e1000_create_nic(hv_machine *m, struct hv_net *backend)
{
    const struct e1000_params p = {.backend = backend};

    return e1000_create_ex(m, &p);
}

static hv_dev *virtio_net_create_nic(hv_machine *m, struct hv_net *backend)
{
    const struct virtio_net_params p = {.backend = backend};

    return virtio_net_create_ex(m, &p);
}

static const struct hv_model models[] = {
    {"virtio-blk", virtio_blk_create, NULL},
    {"nvme", nvme_create, NULL},
    {"e1000", e1000_create, e1000_create_nic},
    {"selftest-canary", canary_create, NULL},
    {"tpm-crb", tpm_crb_create, NULL},
    {"virtio-net", virtio_net_create, virtio_net_create_nic},
};

/* Host configuration (not device state): where NICs write their frames. */
static const char *pcap_path;

void hv_models_set_pcap(const char *path)
{
    pcap_path = path;
}

hv_dev *hv_model_create(const struct hv_model *model, hv_machine *m,
                        const char **err)
{
    static char why[256];
    struct hv_net *pcap;
    hv_dev *d;

    if (!pcap_path || !model->create_nic) {
        d = model->create(m);
        if (!d)
            *err = "device creation failed (out of memory?)";
        return d;
    }
    pcap = hv_pcap_create(pcap_path, why, sizeof(why));
    if (!pcap) {
        *err = why;
        return NULL;
    }
    d = model->create_nic(m, pcap);
    if (!d) {
        pcap->ops->destroy(pcap);
        *err = "device creation failed (out of memory?)";
    }
    return d;
}

const struct hv_model *hv_model_find(const char *name)
{
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        if (strcmp(models[i].name, name) == 0)
            return &models[i];
    return NULL;
}
