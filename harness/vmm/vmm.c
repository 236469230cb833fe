/* hvfuzz-vmm: create the VM, boot the agent to READY, run inputs with
 * budgets (exits and wall clock), count what it costs. */
#define _GNU_SOURCE
#include "harness/vmm/hv_vmm.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), NULL)

/* The wall-clock limit: a one-shot timer signals this thread; the handler
 * sets immediate_exit so a KVM_RUN in progress (EINTR) or about to start
 * returns at once. One VM per process. */
#define HV_VM_SIGNAL (SIGRTMIN + 5)
static struct kvm_run *volatile timer_run;
static volatile int timer_expired;

static void on_timer(int sig)
{
    (void)sig;
    timer_expired = 1;
    if (timer_run)
        timer_run->immediate_exit = 1;
}

double hv_vm_now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static unsigned long env_ul(const char *name, unsigned long dflt)
{
    const char *s = getenv(name);
    char *end;
    unsigned long v;

    if (!s || !*s)
        return dflt;
    v = strtoul(s, &end, 10);
    return *end || v == 0 ? dflt : v;
}

static int timer_setup(struct hv_vm *vm)
{
    struct sigaction sa;
    struct sigevent sev;
    timer_t t;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_timer;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART spares other syscalls (trace writes); KVM_RUN returns
     * EINTR regardless (never restarted), and immediate_exit covers a
     * signal that lands just before it. */
    sa.sa_flags = SA_RESTART;
    if (sigaction(HV_VM_SIGNAL, &sa, NULL) < 0)
        return -1;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = HV_VM_SIGNAL;
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    if (timer_create(CLOCK_MONOTONIC, &sev, &t) < 0)
        return -1;
    vm->timer = malloc(sizeof(timer_t));
    if (!vm->timer) {
        timer_delete(t);
        return -1;
    }
    memcpy(vm->timer, &t, sizeof(t));
    vm->timer_ok = 1;
    return 0;
}

static void timer_arm(struct hv_vm *vm, unsigned ms)
{
    struct itimerspec its;
    timer_t t;

    timer_expired = 0;
    vm->run->immediate_exit = 0;
    timer_run = vm->run;
    if (!vm->timer_ok)
        return;
    memcpy(&t, vm->timer, sizeof(t));
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
    timer_settime(t, 0, &its, NULL);
}

static void timer_disarm(struct hv_vm *vm)
{
    struct itimerspec its;
    timer_t t;

    if (vm->timer_ok) {
        memcpy(&t, vm->timer, sizeof(t));
        memset(&its, 0, sizeof(its));
        timer_settime(t, 0, &its, NULL);
    }
    timer_run = NULL;
    vm->run->immediate_exit = 0;
}

const char *hv_vm_stop_name(enum hv_vm_stop s)
{
    switch (s) {
    case HV_VM_READY: return "ready";
    case HV_VM_DONE: return "done";
    case HV_VM_FAULT: return "fault";
    case HV_VM_HANG: return "hang";
    case HV_VM_ERROR: return "error";
    }
    return "?";
}

static enum hv_vm_stop run_timed(struct hv_vm *vm, unsigned ms)
{
    enum hv_vm_stop s;

    timer_arm(vm, ms);
    s = hv_vm_run(vm, &timer_expired);
    timer_disarm(vm);
    return s;
}

struct hv_vm *hv_vm_create(const char *target, const char *agent_path,
                           char *err, size_t errlen)
{
    const struct hv_layout *l = hv_layout_find(target);
    const char *herr = NULL;
    struct hv_vm *vm;
    struct hv_mailbox *mb;
    enum hv_vm_stop s;

    if (!l)
        return ERR("unknown target '%s'", target ? target : "(null)");
    vm = calloc(1, sizeof(*vm));
    if (!vm)
        return ERR("out of memory");
    vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
    vm->layout = l;
    vm->max_exits = env_ul("HVFUZZ_VM_MAX_EXITS", 1ul << 20);
    vm->timeout_ms = (unsigned)env_ul("HVFUZZ_VM_TIMEOUT_MS", 2000);
    vm->check_restore = getenv("HVFUZZ_VM_CHECK_RESTORE") != NULL;
    if (getenv("HVFUZZ_VM_SERIAL"))
        vm->serial = stderr;

    if (hv_kvm_open(vm, err, errlen) < 0)
        goto fail;
    vm->ram_size = HV_GUEST_RAM_SIZE;
    vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    vm->win_base = l->dma_base;
    vm->win_size = (l->dma_size + HV_PAGE_SIZE - 1) & ~(uint64_t)(HV_PAGE_SIZE - 1);
    vm->win = mmap(NULL, vm->win_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm->ram == MAP_FAILED || vm->win == MAP_FAILED) {
        if (vm->ram == MAP_FAILED)
            vm->ram = NULL;
        if (vm->win == MAP_FAILED)
            vm->win = NULL;
        snprintf(err, errlen, "out of memory (guest RAM)");
        goto fail;
    }
    if (vm->win_base < vm->ram_size) {
        snprintf(err, errlen, "DMA window overlaps guest RAM");
        goto fail;
    }
    if (hv_kvm_add_slot(vm, 0, 0, vm->ram, vm->ram_size, err, errlen) < 0 ||
        hv_kvm_add_slot(vm, 1, vm->win_base, vm->win, vm->win_size, err, errlen) < 0)
        goto fail;
    vm->host = hv_host_create_ex(target, vm->win, HV_HOST_GUEST_BOOT, &herr);
    if (!vm->host) {
        snprintf(err, errlen, "cannot build target '%s': %s", target,
                 herr ? herr : "unknown error");
        goto fail;
    }
    if (hv_load_agent(vm, agent_path, err, errlen) < 0 ||
        hv_kvm_setup_cpu(vm, err, errlen) < 0)
        goto fail;
    if (timer_setup(vm) < 0)
        fprintf(stderr, "hvfuzz-vmm: warning: no wall-clock timer (%s); only "
                        "the exit budget bounds a hanging guest\n",
                strerror(errno));

    mb = (struct hv_mailbox *)(vm->ram + HV_GPA_MAILBOX);
    mb->magic = HV_MAILBOX_MAGIC;
    /* HVFUZZ_VM_MAILBOX_TARGET (tests only): hand the agent another name. */
    snprintf(mb->target, sizeof(mb->target), "%s",
             getenv("HVFUZZ_VM_MAILBOX_TARGET") ? getenv("HVFUZZ_VM_MAILBOX_TARGET")
                                                : target);
    mb->input_len = 0;
    mb->flags = 0;

    /* Boot: the agent enumerates PCI, programs the BARs (through our exits
     * into the same machine), runs the init program if any, then READY. */
    {
        unsigned long per_input = vm->max_exits;

        /* Booting takes more than any input's budget should allow. */
        vm->max_exits = per_input > (1ul << 20) ? per_input : (1ul << 20);
        s = run_timed(vm, vm->timeout_ms > 10000 ? vm->timeout_ms : 10000);
        vm->max_exits = per_input;
    }
    if (s != HV_VM_READY) {
        snprintf(err, errlen, "the agent did not get ready for target '%s': %s%s%s",
                 target, hv_vm_stop_name(s), vm->why[0] ? ": " : "", vm->why);
        goto fail;
    }
    /* The reset point is the booted state, as in-process. */
    hv_machine_set_reset_point(vm->host->m);
    if (l->init) {
        vm->host->snap = hv_machine_snapshot(vm->host->m);
        if (!vm->host->snap) {
            snprintf(err, errlen, "target '%s': its init program needs device "
                                  "snapshots (save/load)", target);
            goto fail;
        }
    }
    if (hv_vm_snapshot(vm, err, errlen) < 0)
        goto fail;
    vm->stats.exits = 0;
    return vm;
fail:
    hv_vm_destroy(vm);
    return NULL;
}

void hv_vm_destroy(struct hv_vm *vm)
{
    if (!vm)
        return;
    if (vm->timer_ok) {
        timer_t t;

        memcpy(&t, vm->timer, sizeof(t));
        timer_delete(t);
    }
    free(vm->timer);
    hv_kvm_close(vm);
    hv_host_destroy(vm->host);
    if (vm->ram)
        munmap(vm->ram, vm->ram_size);
    if (vm->win)
        munmap(vm->win, vm->win_size);
    free(vm->ram_snap);
    free(vm->win_snap);
    free(vm->bitmap);
    free(vm);
}

void hv_vm_set_trace(struct hv_vm *vm, FILE *f)
{
    hv_host_set_trace(vm->host, f);
}

/* HVFUZZ_VM_CHECK_RESTORE=1 (tests): after each restore, guest RAM and
 * the window must equal the snapshot byte for byte. */
static void check_restore(struct hv_vm *vm)
{
    for (size_t off = 0; off < vm->ram_size; off += HV_PAGE_SIZE)
        if (memcmp(vm->ram + off, vm->ram_snap + off, HV_PAGE_SIZE)) {
            fprintf(stderr, "hvfuzz-vmm: error: restore missed guest page 0x%zx\n", off);
            abort();
        }
    for (size_t off = 0; off < vm->win_size; off += HV_PAGE_SIZE)
        if (memcmp(vm->win + off, vm->win_snap + off, HV_PAGE_SIZE)) {
            fprintf(stderr, "hvfuzz-vmm: error: restore missed window page 0x%llx\n",
                    (unsigned long long)(vm->win_base + off));
            abort();
        }
}

enum hv_vm_stop hv_vm_run_input(struct hv_vm *vm, const uint8_t *data,
                                size_t len)
{
    struct hv_mailbox *mb = (struct hv_mailbox *)(vm->ram + HV_GPA_MAILBOX);
    struct hv_host *h = vm->host;
    enum hv_vm_stop s;
    double t0 = hv_vm_now_us(), t1;

    if (vm->stats.iterations == 0 && h->inputs == 0) {
        hv_host_prepare(h); /* the first input starts from the snapshot */
    } else if (hv_vm_restore(vm) < 0) {
        fprintf(stderr, "hvfuzz-vmm: error: restoring the VM: %s\n", strerror(errno));
        abort();
    }
    if (vm->check_restore && vm->stats.iterations)
        check_restore(vm);
    if (len > HV_INPUT_MAX)
        len = HV_INPUT_MAX;
    memcpy(vm->ram + HV_GPA_INPUT, data, len);
    vm->input_len = len;
    mb->input_len = (uint32_t)len;
    mb->flags = h->trace ? HV_MB_TRACE : 0;
    t1 = hv_vm_now_us();
    if (vm->stats.iterations)
        vm->stats.restore_us += t1 - t0;
    if (h->trace)
        fprintf(h->trace, "# input %lu: %zu bytes\n", h->inputs, len);
    s = run_timed(vm, vm->timeout_ms);
    vm->stats.run_us += hv_vm_now_us() - t1;
    vm->stats.iterations++;
    if (h->trace)
        fflush(h->trace);
    if (s != HV_VM_DONE) {
        vm->need_full_vcpu = 1;
        if (s == HV_VM_HANG)
            vm->stats.hangs++;
        else
            vm->stats.faults++;
        if (s == HV_VM_ERROR) {
            fprintf(stderr, "hvfuzz-vmm: error: %s\n", vm->why);
            abort();
        }
        if (getenv("HVFUZZ_VM_VERBOSE"))
            fprintf(stderr, "hvfuzz-vmm: input ended early: %s\n", vm->why);
    }
    return s;
}

void hv_vm_print_stats(const struct hv_vm *vm, FILE *f)
{
    const struct hv_vm_stats *st = &vm->stats;
    unsigned long it = st->iterations ? st->iterations : 1;
    unsigned long rs = st->iterations > 1 ? st->iterations - 1 : 1;

    fprintf(f,
            "vm-stats: iterations=%lu exits=%lu exits_per_iter=%.2f "
            "us_per_exit=%.2f us_per_iter=%.2f us_per_restore=%.2f "
            "pages_per_restore=%.2f faults=%lu hangs=%lu\n",
            st->iterations, st->exits, (double)st->exits / it,
            st->exits ? st->run_us / st->exits : 0.0,
            (st->run_us + st->restore_us) / it, st->restore_us / rs,
            (double)st->pages_restored / rs, st->faults, st->hangs);
}
