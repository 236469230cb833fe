/* The run loop and its exits: PCI config (0xCF8/0xCFC), the layout's port
 * and MMIO regions (through hv_host_exec_ops: the same calls, and the same
 * trace lines, as in-process), COM1, the hypercall port. */
#include "harness/vmm/hv_vmm.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

static struct hv_mailbox *mailbox(struct hv_vm *vm)
{
    return (struct hv_mailbox *)(vm->ram + HV_GPA_MAILBOX);
}

static int in_regions(const struct hv_layout_region *rs, unsigned n,
                      uint64_t a, unsigned size)
{
    for (unsigned i = 0; i < n; i++)
        if (a >= rs[i].base && a - rs[i].base < rs[i].size &&
            size <= rs[i].size - (a - rs[i].base))
            return 1;
    return 0;
}

/* ---- PCI configuration mechanism #1 ------------------------------------ */

static int cfg_target(struct hv_vm *vm, uint16_t port, unsigned size,
                      uint8_t *bdf, uint8_t *off)
{
    uint32_t a = vm->pci_addr;
    unsigned byte = port - HV_PORT_PCI_DATA;

    if (!(a & 0x80000000u) || ((a >> 16) & 0xff) != 0 || byte + size > 4)
        return 0;
    *bdf = (uint8_t)(a >> 8);
    *off = (uint8_t)((a & 0xfc) + byte);
    return 1;
}

static uint32_t pio_in(struct hv_vm *vm, uint16_t port, unsigned size)
{
    struct hv_host *h = vm->host;
    uint8_t bdf, off;

    if (port == HV_PORT_PCI_ADDR && size == 4)
        return vm->pci_addr;
    if (port >= HV_PORT_PCI_DATA && port < HV_PORT_PCI_DATA + 4) {
        if (cfg_target(vm, port, size, &bdf, &off))
            return hv_host_exec_ops.cfg_read(h, bdf, off, size);
        return 0xffffffffu;
    }
    if (port == HV_PORT_HYPERCALL)
        return HV_HYPERCALL_MAGIC;
    if (port == HV_PORT_COM1 + 5) /* LSR: THR empty, transmitter idle */
        return 0x60;
    if (port >= HV_PORT_COM1 && port < HV_PORT_COM1 + 8)
        return 0;
    if (in_regions(vm->layout->pio, vm->layout->npio, port, size))
        return hv_host_exec_ops.pio_read(h, port, size);
    return 0xffffffffu;
}

/* Returns a stop reason for hypercalls that end the run, else 0. */
static enum hv_vm_stop hypercall(struct hv_vm *vm, uint32_t code)
{
    struct hv_mailbox *mb = mailbox(vm);
    struct hv_host *h = vm->host;

    switch (code) {
    case HV_HC_READY:
        return HV_VM_READY;
    case HV_HC_DONE:
        return HV_VM_DONE;
    case HV_HC_FAULT: {
        char msg[sizeof(mb->fault)];

        memcpy(msg, mb->fault, sizeof(msg));
        msg[sizeof(msg) - 1] = 0;
        snprintf(vm->why, sizeof(vm->why), "agent fault: %s", msg);
        return HV_VM_FAULT;
    }
    case HV_HC_CLOCK_ADVANCE:
        hv_host_exec_ops.clock_advance(h, (uint32_t)mb->arg);
        return 0;
    case HV_HC_RX_INJECT: {
        uint64_t gpa = mb->arg, len = mb->arg2;

        if (gpa < vm->ram_size && len <= vm->ram_size - gpa)
            hv_host_exec_ops.rx_inject(h, vm->ram + gpa, (uint32_t)len);
        else if (gpa >= vm->win_base && gpa - vm->win_base < vm->win_size &&
                 len <= vm->win_size - (gpa - vm->win_base))
            hv_host_exec_ops.rx_inject(h, vm->win + (gpa - vm->win_base),
                                       (uint32_t)len);
        return 0;
    }
    case HV_HC_TRACE_MEM:
        /* The agent already wrote its RAM: print what the in-process host
         * prints for the same op (harness/host/host.c), without the write. */
        if (h->trace) {
            if (mb->arg3 & 0x100)
                fprintf(h->trace, "mem_fill 0x%llx %u 0x%02x\n",
                        (unsigned long long)mb->arg, (uint32_t)mb->arg2,
                        (unsigned)(mb->arg3 & 0xff));
            else
                fprintf(h->trace, "mem_write 0x%llx %u\n",
                        (unsigned long long)mb->arg, (uint32_t)mb->arg2);
        }
        return 0;
    default:
        snprintf(vm->why, sizeof(vm->why), "unknown hypercall %u", code);
        return HV_VM_FAULT;
    }
}

static enum hv_vm_stop pio_out(struct hv_vm *vm, uint16_t port, unsigned size,
                               uint32_t val)
{
    struct hv_host *h = vm->host;
    uint8_t bdf, off;

    if (port == HV_PORT_PCI_ADDR && size == 4) {
        vm->pci_addr = val;
    } else if (port >= HV_PORT_PCI_DATA && port < HV_PORT_PCI_DATA + 4) {
        if (cfg_target(vm, port, size, &bdf, &off))
            hv_host_exec_ops.cfg_write(h, bdf, off, size, val);
    } else if (port == HV_PORT_HYPERCALL) {
        return hypercall(vm, val);
    } else if (port == HV_PORT_COM1) {
        if (vm->serial) {
            fputc((int)(val & 0xff), vm->serial);
            if ((val & 0xff) == '\n')
                fflush(vm->serial);
        }
    } else if (port == HV_PORT_QEMU_EXIT) {
        snprintf(vm->why, sizeof(vm->why), "agent wrote the QEMU exit port");
        return HV_VM_FAULT;
    } else if (in_regions(vm->layout->pio, vm->layout->npio, port, size)) {
        hv_host_exec_ops.pio_write(h, port, size, val);
    }
    return 0;
}

static enum hv_vm_stop exit_io(struct hv_vm *vm)
{
    struct kvm_run *run = vm->run;
    unsigned size = run->io.size;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    enum hv_vm_stop stop = 0;

    for (uint32_t i = 0; i < run->io.count && !stop; i++, data += size) {
        uint32_t v = 0;

        if (run->io.direction == KVM_EXIT_IO_OUT) {
            memcpy(&v, data, size);
            stop = pio_out(vm, run->io.port, size, v);
        } else {
            v = pio_in(vm, run->io.port, size);
            memcpy(data, &v, size);
        }
    }
    return stop;
}

static void exit_mmio(struct hv_vm *vm)
{
    struct kvm_run *run = vm->run;
    uint64_t gpa = run->mmio.phys_addr;
    unsigned len = run->mmio.len;
    int ok = (len == 1 || len == 2 || len == 4 || len == 8) &&
             in_regions(vm->layout->mmio, vm->layout->nmmio, gpa, len);

    if (run->mmio.is_write) {
        uint64_t v = 0;

        memcpy(&v, run->mmio.data, len <= 8 ? len : 8);
        if (ok)
            hv_host_exec_ops.mmio_write(vm->host, gpa, len, v);
    } else {
        uint64_t v = ok ? hv_host_exec_ops.mmio_read(vm->host, gpa, len)
                        : ~0ull; /* nothing there: all-ones */
        memcpy(run->mmio.data, &v, len <= 8 ? len : 8);
    }
}

enum hv_vm_stop hv_vm_run(struct hv_vm *vm, volatile int *expired)
{
    struct kvm_run *run = vm->run;
    unsigned long exits = 0;

    vm->why[0] = 0;
    for (;;) {
        enum hv_vm_stop stop = 0;

        if (*expired || exits >= vm->max_exits) {
            run->immediate_exit = 0;
            snprintf(vm->why, sizeof(vm->why), "guest hang: %s",
                     *expired ? "wall-clock limit" : "exit budget");
            vm->stats.exits += exits;
            return HV_VM_HANG;
        }
        if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue; /* the timer fired (immediate_exit), or a stray signal */
            snprintf(vm->why, sizeof(vm->why), "KVM_RUN: %s", strerror(errno));
            vm->stats.exits += exits;
            return HV_VM_ERROR;
        }
        exits++;
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            stop = exit_io(vm);
            break;
        case KVM_EXIT_MMIO:
            exit_mmio(vm);
            break;
        case KVM_EXIT_INTR:
            break;
        case KVM_EXIT_SHUTDOWN:
            {
                struct kvm_regs r;
                if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) == 0)
                    snprintf(vm->why, sizeof(vm->why),
                             "guest triple fault (shutdown) at rip 0x%llx",
                             (unsigned long long)r.rip);
                else
                    snprintf(vm->why, sizeof(vm->why), "guest triple fault (shutdown)");
            }
            stop = HV_VM_FAULT;
            break;
        case KVM_EXIT_FAIL_ENTRY:
            snprintf(vm->why, sizeof(vm->why), "VM entry failed (reason 0x%llx)",
                     (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            stop = HV_VM_FAULT;
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            snprintf(vm->why, sizeof(vm->why), "KVM internal error (suberror %u)",
                     run->internal.suberror);
            stop = HV_VM_FAULT;
            break;
        case KVM_EXIT_HLT:
            snprintf(vm->why, sizeof(vm->why), "guest halted");
            stop = HV_VM_FAULT;
            break;
        default:
            snprintf(vm->why, sizeof(vm->why), "unexpected exit reason %u",
                     run->exit_reason);
            stop = HV_VM_FAULT;
            break;
        }
        if (stop) {
            vm->stats.exits += exits;
            return stop;
        }
    }
}
