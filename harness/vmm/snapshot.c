/* Snapshot at HV_HC_READY; per input, restore only what changed: guest
 * pages in KVM's dirty log, pages the VMM wrote itself (the input, the
 * mailbox), window pages the devices wrote (machine->dirty), the vCPU and
 * the device state. No fork, no reboot. */
#include "harness/vmm/hv_vmm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define PAGE HV_PAGE_SIZE
#define LONG_BITS (8 * sizeof(unsigned long))

static int get_log(struct hv_vm *vm, unsigned slot)
{
    struct kvm_dirty_log log = {.slot = slot};

    log.dirty_bitmap = vm->bitmap;
    return ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log);
}

static size_t bitmap_bytes(size_t bytes)
{
    size_t pages = (bytes + PAGE - 1) / PAGE;

    return (pages + LONG_BITS - 1) / LONG_BITS * sizeof(unsigned long);
}

/* The last exit's instruction completes only on the next KVM_RUN (an IN
 * or MMIO read writes its register, RIP moves past it). Enter once with
 * immediate_exit so KVM finishes it without running the guest: the state we
 * save is then consistent, and a restore is not undone by a stale
 * completion (an input that stopped mid-exit: budget, fault). */
static int complete_pending(struct hv_vm *vm)
{
    int rc;

    vm->run->immediate_exit = 1;
    rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    vm->run->immediate_exit = 0;
    return rc < 0 && errno != EINTR ? -1 : 0;
}

int hv_vm_snapshot(struct hv_vm *vm, char *err, size_t errlen)
{
    if (!vm->bitmap) {
        size_t n = bitmap_bytes(vm->ram_size);
        size_t w = bitmap_bytes(vm->win_size);

        vm->bitmap = calloc(1, n > w ? n : w);
        vm->ram_snap = malloc(vm->ram_size);
        vm->win_snap = malloc(vm->win_size);
        if (!vm->bitmap || !vm->ram_snap || !vm->win_snap)
            return ERR("out of memory (snapshot)");
    }
    if (complete_pending(vm) < 0)
        return ERR("completing the READY exit: %s", strerror(errno));
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &vm->regs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_SREGS, &vm->sregs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_FPU, &vm->fpu) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &vm->events) < 0)
        return ERR("saving the vCPU state: %s", strerror(errno));
    /* Clear both logs: from here on they list what an input changed. */
    if (get_log(vm, 0) < 0 || get_log(vm, 1) < 0)
        return ERR("KVM_GET_DIRTY_LOG: %s", strerror(errno));
    memcpy(vm->ram_snap, vm->ram, vm->ram_size);
    memcpy(vm->win_snap, vm->win, vm->win_size);
    memset(vm->host->m->dirty, 0, (vm->win_size + PAGE - 1) / PAGE);
    vm->have_snap = 1;
    return 0;
}

static size_t copy_dirty(uint8_t *dst, const uint8_t *src, size_t size,
                         const unsigned long *bm)
{
    size_t pages = (size + PAGE - 1) / PAGE, n = 0;

    for (size_t w = 0; w * LONG_BITS < pages; w++) {
        unsigned long bits = bm[w];

        while (bits) {
            size_t p = w * LONG_BITS + (size_t)__builtin_ctzl(bits);

            bits &= bits - 1;
            if (p >= pages)
                break;
            size_t len = size - p * PAGE < PAGE ? size - p * PAGE : PAGE;
            memcpy(dst + p * PAGE, src + p * PAGE, len);
            n++;
        }
    }
    return n;
}

static void mark(unsigned long *bm, size_t first, size_t last)
{
    for (size_t p = first; p <= last; p++)
        bm[p / LONG_BITS] |= 1ul << (p % LONG_BITS);
}

int hv_vm_restore(struct hv_vm *vm)
{
    hv_machine *m = vm->host->m;
    size_t wpages = (vm->win_size + PAGE - 1) / PAGE;
    size_t n = 0;

    /* Guest RAM: what the guest wrote, plus the VMM's own writes. */
    if (get_log(vm, 0) < 0)
        return -1;
    mark(vm->bitmap, HV_GPA_MAILBOX / PAGE,
         (HV_GPA_MAILBOX + sizeof(struct hv_mailbox) - 1) / PAGE);
    if (vm->input_len)
        mark(vm->bitmap, HV_GPA_INPUT / PAGE,
             (HV_GPA_INPUT + vm->input_len - 1) / PAGE);
    n += copy_dirty(vm->ram, vm->ram_snap, vm->ram_size, vm->bitmap);
    vm->input_len = 0;

    /* The window: the guest's writes, and the devices' (machine->dirty,
     * read before the device reset clears it). */
    if (get_log(vm, 1) < 0)
        return -1;
    for (size_t p = 0; p < wpages; p++)
        if (m->dirty[p])
            mark(vm->bitmap, p, p);
    /* Devices back to the snapshot (reset point, or the init snapshot);
     * this also counts the input for the trace ("# input N"). */
    hv_host_prepare(vm->host);
    for (size_t p = 0; p < wpages; p++)
        if (m->dirty[p])
            mark(vm->bitmap, p, p);
    n += copy_dirty(vm->win, vm->win_snap, vm->win_size, vm->bitmap);
    memset(m->dirty, 0, wpages);
    vm->stats.pages_restored += n;

    /* vCPU: registers always; the rest after an abnormal end. An input that
     * ended with HV_HC_DONE left only its OUT pending, which KVM completes
     * as a no-op once RIP was moved (kvm_is_linear_rip); any other end may
     * have left an IN or MMIO read half done: finish it first. */
    if ((vm->need_full_vcpu && complete_pending(vm) < 0) ||
        ioctl(vm->vcpu_fd, KVM_SET_REGS, &vm->regs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_SET_FPU, &vm->fpu) < 0)
        return -1;
    if (vm->need_full_vcpu) {
        if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &vm->sregs) < 0 ||
            ioctl(vm->vcpu_fd, KVM_SET_VCPU_EVENTS, &vm->events) < 0)
            return -1;
        vm->need_full_vcpu = 0;
    }
    vm->pci_addr = 0;
    return 0;
}
