/*
 * hvfuzz-agent: the guest side of full-system mode (DESIGN.md, "Full-system
 * mode"). Runs in ring 3 with IOPL 3 under either host:
 *  - hvfuzz-vmm (harness/vmm/hv_vmm_abi.h): target name from the mailbox;
 *    boot the devices, run the init program if any, hypercall READY (the
 *    VMM snapshots there and writes the input to HV_GPA_INPUT), run the
 *    input, hypercall DONE;
 *  - stock QEMU (PVH boot, entry.S): target and input from fw_cfg files;
 *    boot, run the input once printing the per-op trace on COM1 in the
 *    in-process host's format (harness/host/host.c), exit through
 *    isa-debug-exit.
 * The devices are reached as a driver reaches them: MMIO by loads/stores of
 * the exact size at the (identity-mapped) GPA, PIO by in/out, PCI config
 * space by configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2:
 * address dword to 0xCF8, data at 0xCFC + (offset & 3)).
 */
#include "harness/agent/agent.h"
#include "harness/agent/agent_abi.h"
#include "harness/program/hv_program.h"
#include "harness/vmm/hv_vmm_abi.h"

#include <stdbool.h>

_Static_assert(AG_GPA_PML4 == HV_GPA_PML4, "agent_abi.h != hv_vmm_abi.h");
_Static_assert(AG_GPA_PDPT == HV_GPA_PDPT, "agent_abi.h != hv_vmm_abi.h");
_Static_assert(AG_GPA_PD0 == HV_GPA_PD0, "agent_abi.h != hv_vmm_abi.h");
_Static_assert(AG_GPA_GDT == HV_GPA_GDT, "agent_abi.h != hv_vmm_abi.h");
_Static_assert(AG_GPA_TSS == HV_GPA_TSS, "agent_abi.h != hv_vmm_abi.h");
_Static_assert(AG_GPA_STACK_TOP == HV_GPA_STACK_TOP, "agent_abi.h != hv_vmm_abi.h");
_Static_assert(AG_SEL_KCODE == HV_SEL_KCODE, "agent_abi.h != hv_vmm_abi.h");
_Static_assert(AG_SEL_KDATA == HV_SEL_KDATA, "agent_abi.h != hv_vmm_abi.h");
_Static_assert(AG_SEL_UDATA == HV_SEL_UDATA, "agent_abi.h != hv_vmm_abi.h");
_Static_assert(AG_SEL_UCODE == HV_SEL_UCODE, "agent_abi.h != hv_vmm_abi.h");
_Static_assert(AG_SEL_TSS == HV_SEL_TSS, "agent_abi.h != hv_vmm_abi.h");

#define PCI_CONFIG_ENABLE 0x80000000u
#define IDENTITY_LIMIT 0x100000000ull /* the page tables map 0-4 GiB */
#define QEMU_EXIT_OK 0    /* QEMU exits with status (0 << 1) | 1 = 1 */
#define QEMU_EXIT_FAULT 1 /* status 3 (a triple fault exits with 0) */

struct agent {
    volatile struct hv_mailbox *mb;
    bool vmm;          /* under hvfuzz-vmm; else stock QEMU */
    bool trace_serial; /* QEMU: per-op trace lines on COM1 */
    bool trace_vmm;    /* hvfuzz-vmm: report RAM writes (HV_MB_TRACE) */
};

static void hypercall(uint32_t code)
{
    outl(HV_PORT_HYPERCALL, code);
}

__attribute__((noreturn)) static void qemu_exit(uint16_t code)
{
    outw(HV_PORT_QEMU_EXIT, code);
    /* No isa-debug-exit: #UD with no IDT, a triple fault; QEMU run with
     * -no-reboot exits. */
    for (;;)
        __asm__ volatile("ud2");
}

__attribute__((noreturn, format(printf, 2, 3))) static void
fault(struct agent *a, const char *fmt, ...)
{
    char msg[sizeof(a->mb->fault)];
    va_list ap;

    va_start(ap, fmt);
    ag_vformat(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ag_printf("hvfuzz-agent: fault: %s\n", msg);
    if (!a->vmm)
        qemu_exit(QEMU_EXIT_FAULT);
    for (size_t i = 0; i < sizeof(msg); i++)
        a->mb->fault[i] = msg[i];
    for (;;) /* the VMM ends the run; if it resumes us, say it again */
        hypercall(HV_HC_FAULT);
}

/* ---- hv_exec_ops: the devices as a driver sees them -------------------- */

static uint64_t a_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
    struct agent *a = ctx;
    uintptr_t p = (uintptr_t)gpa;
    uint64_t v;

    if (gpa >= IDENTITY_LIMIT - 8) /* not mapped: would triple-fault */
        v = ~0ull >> (64 - 8 * size);
    else if (size == 1)
        v = *(volatile uint8_t *)p;
    else if (size == 2)
        v = *(volatile uint16_t *)p;
    else if (size == 4)
        v = *(volatile uint32_t *)p;
    else
        v = *(volatile uint64_t *)p;
    if (a->trace_serial)
        ag_printf("mmio_read 0x%llx %u -> 0x%llx\n", (unsigned long long)gpa,
                  size, (unsigned long long)v);
    return v;
}

static void a_mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
    struct agent *a = ctx;
    uintptr_t p = (uintptr_t)gpa;

    if (a->trace_serial)
        ag_printf("mmio_write 0x%llx %u 0x%llx\n", (unsigned long long)gpa,
                  size, (unsigned long long)val);
    if (gpa >= IDENTITY_LIMIT - 8)
        return;
    switch (size) {
    case 1: *(volatile uint8_t *)p = (uint8_t)val; break;
    case 2: *(volatile uint16_t *)p = (uint16_t)val; break;
    case 4: *(volatile uint32_t *)p = (uint32_t)val; break;
    default: *(volatile uint64_t *)p = val; break;
    }
}

static uint32_t port_in(uint16_t port, unsigned size)
{
    switch (size) {
    case 1: return inb(port);
    case 2: return inw(port);
    default: return inl(port);
    }
}

static void port_out(uint16_t port, unsigned size, uint32_t val)
{
    switch (size) {
    case 1: outb(port, (uint8_t)val); break;
    case 2: outw(port, (uint16_t)val); break;
    default: outl(port, val); break;
    }
}

static uint32_t a_pio_read(void *ctx, uint16_t port, unsigned size)
{
    struct agent *a = ctx;
    uint32_t v = port_in(port, size);

    if (a->trace_serial)
        ag_printf("pio_read 0x%x %u -> 0x%x\n", port, size, v);
    return v;
}

static void a_pio_write(void *ctx, uint16_t port, unsigned size, uint32_t val)
{
    struct agent *a = ctx;

    if (a->trace_serial)
        ag_printf("pio_write 0x%x %u 0x%x\n", port, size, val);
    port_out(port, size, val);
}

static void cfg_select(uint8_t bdf, uint8_t off)
{
    outl(HV_PORT_PCI_ADDR, PCI_CONFIG_ENABLE | (uint32_t)bdf << 8 | (off & 0xfcu));
}

static uint32_t a_cfg_read(void *ctx, uint8_t bdf, uint8_t off, unsigned size)
{
    struct agent *a = ctx;
    uint32_t v;

    cfg_select(bdf, off);
    v = port_in((uint16_t)(HV_PORT_PCI_DATA + (off & 3u)), size);
    if (a->trace_serial)
        ag_printf("cfg_read %02x.%x 0x%02x %u -> 0x%x\n", bdf >> 3, bdf & 7,
                  off, size, v);
    return v;
}

static void a_cfg_write(void *ctx, uint8_t bdf, uint8_t off, unsigned size,
                        uint32_t val)
{
    struct agent *a = ctx;

    if (a->trace_serial)
        ag_printf("cfg_write %02x.%x 0x%02x %u 0x%x\n", bdf >> 3, bdf & 7, off,
                  size, val);
    cfg_select(bdf, off);
    port_out((uint16_t)(HV_PORT_PCI_DATA + (off & 3u)), size, val);
}

/* hvfuzz-vmm cannot see the agent's RAM writes: report them for its trace. */
static void trace_mem(struct agent *a, uint64_t gpa, uint32_t len,
                      uint64_t fill)
{
    a->mb->arg = gpa;
    a->mb->arg2 = len;
    a->mb->arg3 = fill;
    hypercall(HV_HC_TRACE_MEM);
}

static void a_mem_write(void *ctx, uint64_t gpa, const void *buf, uint32_t len)
{
    struct agent *a = ctx;

    if (a->trace_serial)
        ag_printf("mem_write 0x%llx %u\n", (unsigned long long)gpa, len);
    memcpy((void *)(uintptr_t)gpa, buf, len);
    if (a->trace_vmm)
        trace_mem(a, gpa, len, 0);
}

static void a_mem_fill(void *ctx, uint64_t gpa, uint8_t byte, uint32_t len)
{
    struct agent *a = ctx;

    if (a->trace_serial)
        ag_printf("mem_fill 0x%llx %u 0x%02x\n", (unsigned long long)gpa, len,
                  byte);
    memset((void *)(uintptr_t)gpa, byte, len);
    if (a->trace_vmm)
        trace_mem(a, gpa, len, 0x100u | byte);
}

static void a_mem_read(void *ctx, uint64_t gpa, void *buf, uint32_t len)
{
    (void)ctx;
    memcpy(buf, (const void *)(uintptr_t)gpa, len);
}

/* ICH9 (q35) ACPI PM timer: 3.579545 MHz, 24 bits, at PMBASE 0x600 + 8
 * (where SeaBIOS puts PMBASE). */
#define PM_TIMER_PORT 0x608
#define PM_TIMER_HZ 3579545ull
#define PM_TIMER_MASK 0xffffffu
#define QEMU_WAIT_MAX_NS 2000000000u
#define PM_TIMER_STUCK 100000u

/* QEMU's clock runs by itself: let `ns` of it pass (capped), so timers a
 * program waits for (e1000 autonegotiation) fire as on hvfuzz-vmm's
 * virtual clock. */
static void qemu_wait_ns(uint32_t ns)
{
    uint64_t ticks = (uint64_t)(ns < QEMU_WAIT_MAX_NS ? ns : QEMU_WAIT_MAX_NS) *
                     PM_TIMER_HZ / 1000000000ull;
    uint32_t last = inl(PM_TIMER_PORT) & PM_TIMER_MASK;
    uint64_t waited = 0;
    unsigned still = 0; /* reads without the timer moving */

    /* A machine without the PM timer there reads a constant: give up
     * rather than hang the agent. */
    while (waited < ticks && still < PM_TIMER_STUCK) {
        uint32_t now = inl(PM_TIMER_PORT) & PM_TIMER_MASK;
        still = now == last ? still + 1 : 0;
        waited += (now - last) & PM_TIMER_MASK;
        last = now;
    }
}

static void a_clock_advance(void *ctx, uint32_t ns)
{
    struct agent *a = ctx;

    if (a->trace_serial)
        ag_printf("clock_advance %u\n", ns);
    if (a->vmm) {
        a->mb->arg = ns;
        hypercall(HV_HC_CLOCK_ADVANCE);
    } else {
        qemu_wait_ns(ns);
    }
}

/* Stock QEMU completes some device work in its main loop (NVMe runs its
 * queues from 500 ns virtual-clock timers): spin ~20k TSC cycles on the
 * unassigned POST port, whose exits let the main loop run. The caller
 * bounds the calls (NVMe: 4096, tens of ms). hvfuzz-vmm's models finish
 * inside the access: never wait there. */
static bool a_settle(void *ctx)
{
    struct agent *a = ctx;

    if (a->vmm)
        return false;
    uint64_t start = rdtsc();
    do
        (void)inb(0x80);
    while (rdtsc() - start < 20000);
    return true;
}

static void a_rx_inject(void *ctx, const uint8_t *buf, uint32_t len)
{
    struct agent *a = ctx;

    if (a->trace_serial)
        ag_printf("rx_inject %u\n", len);
    if (a->vmm) { /* the frame is in guest RAM (the input) already */
        a->mb->arg = (uint64_t)(uintptr_t)buf;
        a->mb->arg2 = len;
        hypercall(HV_HC_RX_INJECT);
    }
}

static const struct hv_exec_ops agent_ops = {
    .mmio_read = a_mmio_read,
    .mmio_write = a_mmio_write,
    .pio_read = a_pio_read,
    .pio_write = a_pio_write,
    .cfg_read = a_cfg_read,
    .cfg_write = a_cfg_write,
    .mem_write = a_mem_write,
    .mem_fill = a_mem_fill,
    .mem_read = a_mem_read,
    .clock_advance = a_clock_advance,
    .rx_inject = a_rx_inject,
    .settle = a_settle,
};

/* ---- the two hosts ------------------------------------------------------ */

static struct hv_shadow shadow, init_shadow;

__attribute__((noreturn)) static void run_vmm(struct agent *a,
                                              const struct hv_layout *l)
{
    const uint8_t *input = (const uint8_t *)(uintptr_t)HV_GPA_INPUT;

    a->trace_vmm = (a->mb->flags & HV_MB_TRACE) != 0;
    hv_shadow_reset(&shadow);
    if (l->init)
        hv_program_run(l, l->init, l->init_len, &agent_ops, a, &shadow);
    init_shadow = shadow;
    hypercall(HV_HC_READY);
    /* The VMM restores the snapshot taken at READY after every input; were
     * it to resume us after DONE instead, the next input runs the same way. */
    for (;;) {
        uint32_t len = a->mb->input_len;

        if (len > HV_INPUT_MAX)
            len = HV_INPUT_MAX;
        a->trace_vmm = (a->mb->flags & HV_MB_TRACE) != 0;
        shadow = init_shadow;
        hv_program_continue(l, input, len, &agent_ops, a, &shadow);
        hypercall(HV_HC_DONE);
    }
}

/* QEMU completes requests asynchronously (its block layer runs in another
 * thread): before the summary, wait a bounded while for every virtqueue the
 * program set up to catch up (used idx == avail idx), then report how far
 * each got. Not traced; polling RAM has no side effect on the device. */
#define DRAIN_SPINS 5000000u /* ~1 s of TCG */

static void drain_virtqueues(const struct hv_layout *l,
                             const struct hv_shadow *sh)
{
    for (unsigned q = 0; q < HV_VIRTQ_MAX; q++) {
        volatile uint16_t *used_idx;
        uint32_t spins = 0;

        if (!sh->vq[q].size || l->dma_size < HV_VIRTQ_MIN_WINDOW)
            continue;
        used_idx = (volatile uint16_t *)(uintptr_t)(
            l->dma_base + q * HV_VIRTQ_AREA + HV_VIRTQ_USED_OFF + 2);
        while (*used_idx != sh->vq[q].avail_idx && spins++ < DRAIN_SPINS)
            __asm__ volatile("pause");
        ag_printf("hvfuzz-agent: vq%u avail %u used %u\n", q,
                  sh->vq[q].avail_idx, *used_idx);
    }
}

__attribute__((noreturn)) static void run_qemu(struct agent *a,
                                               const struct hv_layout *l)
{
    uint8_t *input = (uint8_t *)(uintptr_t)HV_GPA_INPUT;
    int64_t len = ag_fwcfg_read_file(HV_FWCFG_FILE_INPUT, input, HV_INPUT_MAX);

    if (len < 0)
        fault(a, "no fw_cfg file %s", HV_FWCFG_FILE_INPUT);
    if (len > HV_INPUT_MAX) {
        ag_printf("hvfuzz-agent: input cut to %u bytes\n", HV_INPUT_MAX);
        len = HV_INPUT_MAX;
    }
    /* As the in-process host: the init program runs untraced, then the
     * input continues from the shadow it left. */
    hv_shadow_reset(&shadow);
    if (l->init)
        hv_program_run(l, l->init, l->init_len, &agent_ops, a, &shadow);
    a->trace_serial = true;
    ag_printf("# input 1: %u bytes\n", (unsigned)len);
    hv_program_continue(l, input, (size_t)len, &agent_ops, a, &shadow);
    a->trace_serial = false;
    drain_virtqueues(l, &shadow);
    ag_puts("hvfuzz-agent: done\n");
    qemu_exit(QEMU_EXIT_OK);
}

/* Called by entry.S at CPL 3 with a clean .bss. */
__attribute__((noreturn)) void agent_main(void);
void agent_main(void)
{
    struct agent a = {.mb = (volatile struct hv_mailbox *)HV_GPA_MAILBOX};
    char target[sizeof(a.mb->target)];
    const struct hv_layout *l;

    a.vmm = inl(HV_PORT_HYPERCALL) == HV_HYPERCALL_MAGIC;
    if (a.vmm) {
        if (a.mb->magic != HV_MAILBOX_MAGIC)
            fault(&a, "no mailbox at 0x%llx",
                  (unsigned long long)HV_GPA_MAILBOX);
        for (size_t i = 0; i < sizeof(target); i++)
            target[i] = a.mb->target[i];
        target[sizeof(target) - 1] = '\0';
    } else {
        int64_t n;

        if (!ag_fwcfg_present())
            fault(&a, "unknown host: neither hvfuzz-vmm nor fw_cfg");
        n = ag_fwcfg_read_file(HV_FWCFG_FILE_TARGET, target, sizeof(target) - 1);
        if (n < 0)
            fault(&a, "no fw_cfg file %s", HV_FWCFG_FILE_TARGET);
        if (n > (int64_t)sizeof(target) - 1)
            n = sizeof(target) - 1;
        target[n] = '\0';
        /* -fw_cfg string= and file= may end in a newline or a NUL */
        while (n > 0 && (target[n - 1] == '\n' || target[n - 1] == '\0'))
            target[--n] = '\0';
    }
    ag_printf("hvfuzz-agent: target %s, host %s\n", target,
              a.vmm ? "hvfuzz-vmm" : "qemu");
    l = hv_layout_find(target);
    if (!l)
        fault(&a, "unknown target '%s'", target);
    hv_program_boot(l, &agent_ops, &a);
    if (a.vmm)
        run_vmm(&a, l);
    run_qemu(&a, l);
}
