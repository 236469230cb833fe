/*
 * hvfuzz-vmm: a minimal KVM VMM that runs the guest agent (harness/agent)
 * in 64-bit ring 3 and serves its PIO/MMIO exits with the device models of
 * harness/host. One VM per process; snapshot/restore per input (Nyx-style:
 * dirty guest pages, vCPU state, device state).
 *
 *   kvm.c       VM, memory slots, vCPU, long-mode state (hv_vmm_abi.h)
 *   loader.c    agent ELF loading
 *   exits.c     PIO / MMIO / hypercall exits -> hv_host_exec_ops
 *   snapshot.c  snapshot after HV_HC_READY, restore per input
 *   vmm.c       create, run one input (budgets: exits, wall clock), stats
 */
#ifndef HV_VMM_H
#define HV_VMM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/kvm.h>

#include "harness/host/hv_host.h"
#include "harness/vmm/hv_vmm_abi.h"

/* How one KVM_RUN loop ended. */
enum hv_vm_stop {
    HV_VM_READY = 1, /* HV_HC_READY */
    HV_VM_DONE,      /* HV_HC_DONE */
    HV_VM_FAULT,     /* HV_HC_FAULT, triple fault, failed entry, bad exit */
    HV_VM_HANG,      /* exit budget or wall-clock limit exceeded */
    HV_VM_ERROR,     /* the VMM itself failed (ioctl error) */
};

struct hv_vm_stats {
    unsigned long iterations, exits, faults, hangs;
    double run_us;     /* time in the run loop (guest + exit handling) */
    double restore_us; /* time restoring (pages, vCPU, devices) */
    unsigned long pages_restored;
};

struct hv_vm {
    int kvm_fd, vm_fd, vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    uint8_t *ram; /* slot 0: [0, HV_GUEST_RAM_SIZE) */
    size_t ram_size;
    uint8_t *win; /* slot 1: the DMA window at layout->dma_base */
    uint64_t win_base, win_size;
    struct hv_host *host;
    const struct hv_layout *layout;
    uint64_t entry;
    uint32_t pci_addr; /* 0xCF8 latch */
    FILE *serial;      /* COM1 output, or NULL (dropped) */
    /* the snapshot taken at HV_HC_READY */
    int have_snap;
    uint8_t *ram_snap, *win_snap;
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;
    struct kvm_vcpu_events events;
    int need_full_vcpu; /* last run ended abnormally: restore sregs/events */
    unsigned long *bitmap; /* dirty-log bitmap, big enough for slot 0 */
    size_t input_len;      /* bytes the VMM wrote at HV_GPA_INPUT */
    /* budgets */
    unsigned long max_exits;
    unsigned timeout_ms;
    int timer_ok;
    int check_restore; /* HVFUZZ_VM_CHECK_RESTORE: verify every restore */
    void *timer; /* timer_t */
    /* last stop */
    char why[160];
    struct hv_vm_stats stats;
};

/* kvm.c */
int hv_kvm_open(struct hv_vm *vm, char *err, size_t errlen);
int hv_kvm_add_slot(struct hv_vm *vm, unsigned slot, uint64_t gpa, void *host,
                    size_t size, char *err, size_t errlen);
int hv_kvm_setup_cpu(struct hv_vm *vm, char *err, size_t errlen);
void hv_kvm_close(struct hv_vm *vm);

/* loader.c: load an ELF64 x86-64 executable into guest RAM. */
int hv_load_agent(struct hv_vm *vm, const char *path, char *err, size_t errlen);

/* exits.c: KVM_RUN until a hypercall stops the guest, a fault or a budget. */
enum hv_vm_stop hv_vm_run(struct hv_vm *vm, volatile int *expired);

/* snapshot.c */
int hv_vm_snapshot(struct hv_vm *vm, char *err, size_t errlen);
int hv_vm_restore(struct hv_vm *vm);

/* vmm.c: the public face. */
/* Build the VM for `target` with the agent at `agent_path`, boot it to
 * HV_HC_READY and snapshot it. NULL with a one-line message in err. */
struct hv_vm *hv_vm_create(const char *target, const char *agent_path,
                           char *err, size_t errlen);
void hv_vm_destroy(struct hv_vm *vm);
/* Restore (from the second input on) and run one input. */
enum hv_vm_stop hv_vm_run_input(struct hv_vm *vm, const uint8_t *data,
                                size_t len);
void hv_vm_set_trace(struct hv_vm *vm, FILE *f);
void hv_vm_print_stats(const struct hv_vm *vm, FILE *f);
const char *hv_vm_stop_name(enum hv_vm_stop s);
double hv_vm_now_us(void);

#endif
