/* Build a target's machine from its layout and run programs against it. */
#include "harness/host/hv_host.h"

#include <stdlib.h>
#include <string.h>

static void trace_line(void *opaque, const char *line)
{
    struct hv_host *h = opaque;

    fprintf(h->trace, "  %s\n", line);
}

static void trace_boot(struct hv_host *h);

void hv_host_set_trace(struct hv_host *h, FILE *f)
{
    const char *data = getenv("HVFUZZ_TRACE_DATA");

    h->trace = f;
    h->trace_data = data && data[0] == '1';
    hv_machine_set_trace(h->m, f ? trace_line : NULL, h);
    if (f && h->trace_data && h->self_booted)
        trace_boot(h);
}

/* What the agent does after firmware: BARs to the layout's addresses, then
 * memory/IO decoding and bus mastering on. The same code as the agent's
 * (harness/program/boot.c), through this host's exec ops. */
static void boot(struct hv_host *h)
{
    hv_program_boot(h->layout, &hv_host_exec_ops, h);
}

/* HVFUZZ_WORK_BUDGET=N: the per-input work budget (triage replays a
 * budget finding with a larger one to tell a hang from a heavy input);
 * unset or invalid: the machine's default. */
static uint32_t work_budget_from_env(void)
{
    const char *v = getenv("HVFUZZ_WORK_BUDGET");
    char *end;
    unsigned long n;

    if (!v || !*v)
        return 0;
    n = strtoul(v, &end, 0);
    return *end || n > UINT32_MAX ? 0 : (uint32_t)n;
}

static int add_devices(struct hv_host *h, const char **err)
{
    const struct hv_layout *l = h->layout;

    for (unsigned i = 0; i < l->ndevs; i++) {
        const struct hv_model *model = hv_model_find(l->devs[i].model);
        hv_dev *d;

        if (!model) {
            *err = "layout names an unknown device model";
            return -1;
        }
        d = hv_model_create(model, h->m, err);
        if (!d)
            return -1;
        if (hv_machine_add(h->m, d, l->devs[i].bdf) < 0) {
            d->ops->destroy(d);
            *err = "too many devices or duplicate PCI address in layout";
            return -1;
        }
    }
    return 0;
}

/* The initialized variant: run the layout's init program once, then keep
 * the machine and the driver shadow it produced as the starting point. */
static int run_init(struct hv_host *h, const char **err)
{
    hv_program_run(h->layout, h->layout->init, h->layout->init_len,
                   &hv_host_exec_ops, h, &h->shadow);
    h->snap = hv_machine_snapshot(h->m);
    if (!h->snap) {
        *err = "the target's init program needs snapshots (save/load) of every device";
        return -1;
    }
    h->init_shadow = h->shadow;
    return 0;
}

struct hv_host *hv_host_create(const char *target, const char **err)
{
    return hv_host_create_with_ram(target, NULL, err);
}

struct hv_host *hv_host_create_with_ram(const char *target, uint8_t *ram,
                                        const char **err)
{
    return hv_host_create_ex(target, ram, 0, err);
}

struct hv_host *hv_host_create_ex(const char *target, uint8_t *ram,
                                  unsigned flags, const char **err)
{
    const char *dummy;
    struct hv_host *h;
    struct hv_machine_config cfg = {0};

    if (!err)
        err = &dummy;
    *err = NULL;
    const struct hv_layout *l = hv_layout_find(target);
    if (!l) {
        *err = "unknown target";
        return NULL;
    }
    h = calloc(1, sizeof(*h));
    if (!h) {
        *err = "out of memory";
        return NULL;
    }
    h->layout = l;
    h->raw_ops_only = getenv("HVFUZZ_ABLATE") &&
                      !strcmp(getenv("HVFUZZ_ABLATE"), "raw-ops");
    cfg.dma_base = l->dma_base;
    cfg.dma_size = l->dma_size;
    cfg.ram = ram;
    cfg.work_budget = work_budget_from_env();
    h->m = hv_machine_create(&cfg);
    if (!h->m) {
        *err = "out of memory";
        free(h);
        return NULL;
    }
    if (add_devices(h, err) < 0) {
        hv_host_destroy(h);
        return NULL;
    }
    hv_machine_reset(h->m);
    if (flags & HV_HOST_GUEST_BOOT)
        return h;
    boot(h);
    h->self_booted = 1;
    hv_machine_set_reset_point(h->m);
    if (l->init && run_init(h, err) < 0) {
        hv_host_destroy(h);
        return NULL;
    }
    return h;
}

void hv_host_destroy(struct hv_host *h)
{
    if (!h)
        return;
    hv_snapshot_free(h->snap);
    hv_machine_destroy(h->m);
    free(h);
}

void hv_host_prepare(struct hv_host *h)
{
    if (h->snap) {
        if (h->inputs++)
            hv_machine_restore(h->m, h->snap);
        h->shadow = h->init_shadow;
    } else {
        if (h->inputs++)
            hv_machine_reset(h->m);
        hv_shadow_reset(&h->shadow);
    }
}

unsigned hv_host_exec(struct hv_host *h, const uint8_t *prog, size_t len)
{
    unsigned n;

    if (h->trace)
        fprintf(h->trace, "# input %lu: %zu bytes\n", h->inputs, len);
    n = (h->raw_ops_only ? hv_program_continue_raw : hv_program_continue)(
        h->layout, prog, len, &hv_host_exec_ops, h, &h->shadow);
    if (h->trace)
        fflush(h->trace);
    return n;
}

unsigned hv_host_run(struct hv_host *h, const uint8_t *prog, size_t len)
{
    hv_host_prepare(h);
    return hv_host_exec(h, prog, len);
}

/* ---- hv_exec_ops over the machine ------------------------------------- */

#define TRACE(h, ...)                                                          \
    do {                                                                       \
        if ((h)->trace)                                                        \
            fprintf((h)->trace, __VA_ARGS__);                                  \
    } while (0)

static uint64_t x_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
    struct hv_host *h = ctx;
    uint64_t v = hv_bus_mmio_read(h->m, gpa, size);

    TRACE(h, "mmio_read 0x%llx %u -> 0x%llx\n", (unsigned long long)gpa, size,
          (unsigned long long)v);
    return v;
}

static void x_mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
    struct hv_host *h = ctx;

    TRACE(h, "mmio_write 0x%llx %u 0x%llx\n", (unsigned long long)gpa, size,
          (unsigned long long)val);
    hv_bus_mmio_write(h->m, gpa, size, val);
}

static uint32_t x_pio_read(void *ctx, uint16_t port, unsigned size)
{
    struct hv_host *h = ctx;
    uint32_t v = hv_bus_pio_read(h->m, port, size);

    TRACE(h, "pio_read 0x%x %u -> 0x%x\n", port, size, v);
    return v;
}

static void x_pio_write(void *ctx, uint16_t port, unsigned size, uint32_t val)
{
    struct hv_host *h = ctx;

    TRACE(h, "pio_write 0x%x %u 0x%x\n", port, size, val);
    hv_bus_pio_write(h->m, port, size, val);
}

static uint32_t x_cfg_read(void *ctx, uint8_t bdf, uint8_t off, unsigned size)
{
    struct hv_host *h = ctx;
    uint32_t v = hv_bus_cfg_read(h->m, bdf, off, size);

    TRACE(h, "cfg_read %02x.%x 0x%02x %u -> 0x%x\n", bdf >> 3, bdf & 7, off,
          size, v);
    return v;
}

static void x_cfg_write(void *ctx, uint8_t bdf, uint8_t off, unsigned size,
                        uint32_t val)
{
    struct hv_host *h = ctx;

    TRACE(h, "cfg_write %02x.%x 0x%02x %u 0x%x\n", bdf >> 3, bdf & 7, off,
          size, val);
    hv_bus_cfg_write(h->m, bdf, off, size, val);
}

static void x_mem_write(void *ctx, uint64_t gpa, const void *buf, uint32_t len)
{
    struct hv_host *h = ctx;

    if (h->trace && h->trace_data) {
        fprintf(h->trace, "mem_write 0x%llx %u ", (unsigned long long)gpa, len);
        for (uint32_t i = 0; i < len; i++)
            fprintf(h->trace, "%02x", ((const uint8_t *)buf)[i]);
        fputc('\n', h->trace);
    } else {
        TRACE(h, "mem_write 0x%llx %u\n", (unsigned long long)gpa, len);
    }
    hv_mem_write(h->m, gpa, buf, len);
}

static void x_mem_fill(void *ctx, uint64_t gpa, uint8_t byte, uint32_t len)
{
    struct hv_host *h = ctx;

    TRACE(h, "mem_fill 0x%llx %u 0x%02x\n", (unsigned long long)gpa, len, byte);
    hv_mem_fill(h->m, gpa, byte, len);
}

static void x_mem_read(void *ctx, uint64_t gpa, void *buf, uint32_t len)
{
    hv_mem_read(((struct hv_host *)ctx)->m, gpa, buf, len);
}

static void x_clock_advance(void *ctx, uint32_t ns)
{
    struct hv_host *h = ctx;

    TRACE(h, "clock_advance %u\n", ns);
    hv_machine_clock_advance(h->m, ns);
}

static void x_rx_inject(void *ctx, const uint8_t *buf, uint32_t len)
{
    struct hv_host *h = ctx;

    /* The same line in every host (the agent under QEMU has no way to
     * hand QEMU a frame: it prints it and the op sequence still matches). */
    TRACE(h, "rx_inject %u\n", len);
    hv_machine_rx_inject(h->m, buf, len);
}

/* HVFUZZ_TRACE_DATA: the boot's config accesses, printed once when the
 * trace is turned on (hvfuzz export replays them on QEMU under qtest, where
 * no firmware assigns the BARs). Reads go to the device (side-effect free
 * for the BAR and command registers); writes are printed, not executed. */
static void x_cfg_write_print(void *ctx, uint8_t bdf, uint8_t off,
                              unsigned size, uint32_t val)
{
    struct hv_host *h = ctx;

    TRACE(h, "cfg_write %02x.%x 0x%02x %u 0x%x\n", bdf >> 3, bdf & 7, off,
          size, val);
}

static void trace_boot(struct hv_host *h)
{
    static const struct hv_exec_ops print_ops = {
        .cfg_read = x_cfg_read,
        .cfg_write = x_cfg_write_print,
    };

    fprintf(h->trace, "# boot\n");
    hv_program_boot(h->layout, &print_ops, h);
}

const struct hv_exec_ops hv_host_exec_ops = {
    .mmio_read = x_mmio_read,
    .mmio_write = x_mmio_write,
    .pio_read = x_pio_read,
    .pio_write = x_pio_write,
    .cfg_read = x_cfg_read,
    .cfg_write = x_cfg_write,
    .mem_write = x_mem_write,
    .mem_fill = x_mem_fill,
    .mem_read = x_mem_read,
    .clock_advance = x_clock_advance,
    .rx_inject = x_rx_inject,
};
