/*
 * selftest-canary: a toy PCI device with ONE planted bug, so the finding
 * pipeline (engine -> crash -> report -> stack hash -> repro) can be tested
 * end to end in seconds. The length check below allows up to 32 bytes into
 * a 16-byte heap buffer: a heap-buffer-overflow for len 17..32. It is not
 * a model of any real device and is never part of a real target.
 */
#include "targets/selftest/canary.h"

#include <stdlib.h>

struct canary {
    hv_dev dev;
    uint8_t len;
    uint8_t *buf; /* CANARY_BUF_SIZE bytes, heap, so ASan sees the overflow */
};

static struct canary *to_canary(hv_dev *d)
{
    return (struct canary *)d;
}

static void canary_copy(struct canary *c, uint64_t val)
{
    if (c->len > 2 * CANARY_BUF_SIZE) /* planted bug: should be CANARY_BUF_SIZE */
        return;
    for (unsigned i = 0; i < c->len; i++)
        c->buf[i] = (uint8_t)(val >> (8 * (i % 8)));
}

static uint64_t canary_read(hv_dev *d, int bar, uint64_t off, unsigned size)
{
    struct canary *c = to_canary(d);
    uint64_t sum = 0;

    (void)bar;
    (void)size;
    if (off == CANARY_REG_LEN)
        return c->len;
    if (off == CANARY_REG_SUM)
        for (unsigned i = 0; i < CANARY_BUF_SIZE; i++)
            sum += c->buf[i];
    return sum;
}

static void canary_write(hv_dev *d, int bar, uint64_t off, unsigned size,
                         uint64_t val)
{
    struct canary *c = to_canary(d);

    (void)bar;
    (void)size;
    if (off == CANARY_REG_LEN)
        c->len = (uint8_t)val;
    else if (off == CANARY_REG_COPY)
        canary_copy(c, val);
}

static void canary_reset(hv_dev *d)
{
    struct canary *c = to_canary(d);

    c->len = 0;
    for (unsigned i = 0; i < CANARY_BUF_SIZE; i++)
        c->buf[i] = 0;
}

static void canary_destroy(hv_dev *d)
{
    struct canary *c = to_canary(d);

    free(c->buf);
    free(c);
}

static const struct hv_dev_ops canary_ops = {
    .mmio_read = canary_read,
    .mmio_write = canary_write,
    .reset = canary_reset,
    .destroy = canary_destroy,
};

hv_dev *canary_create(hv_machine *m)
{
    struct canary *c = calloc(1, sizeof(*c));

    if (!c || !(c->buf = calloc(1, CANARY_BUF_SIZE))) {
        free(c);
        return NULL;
    }
    hv_dev_init(&c->dev, m, &canary_ops, "canary");
    hv_pci_init(&c->dev, CANARY_VENDOR_ID, CANARY_DEVICE_ID, 0xff0000, 0,
                CANARY_VENDOR_ID, CANARY_DEVICE_ID);
    hv_pci_set_bar(&c->dev, 0, HV_BAR_MEM32, CANARY_BAR0_SIZE, false);
    hv_pci_finalize(&c->dev);
    return &c->dev;
}
