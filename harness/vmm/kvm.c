/* KVM plumbing: the VM, its memory slots, one vCPU in 64-bit ring 3 with
 * the page tables, GDT and TSS of hv_vmm_abi.h. */
#include "harness/vmm/hv_vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* TSS: 0x68 bytes, the 8 KiB I/O bitmap and its 0xff terminator byte */
#define TSS_LIMIT (0x68u + 8192u)

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

int hv_kvm_open(struct hv_vm *vm, char *err, size_t errlen)
{
    int v;

    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENXIO || e == ENODEV)
            return ERR("/dev/kvm is missing: VM mode needs KVM (%s)", strerror(e));
        if (e == EACCES || e == EPERM)
            return ERR("/dev/kvm: permission denied (add yourself to the kvm group)");
        return ERR("/dev/kvm: %s", strerror(e));
    }
    v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (v != KVM_API_VERSION)
        return ERR("/dev/kvm: unsupported KVM API version %d", v);
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0)
        return ERR("KVM_CREATE_VM: %s", strerror(errno));
    /* Only needed by VMX for real mode; harmless elsewhere. */
    (void)ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
    return 0;
}

int hv_kvm_add_slot(struct hv_vm *vm, unsigned slot, uint64_t gpa, void *host,
                    size_t size, char *err, size_t errlen)
{
    struct kvm_userspace_memory_region r = {
        .slot = slot,
        .flags = KVM_MEM_LOG_DIRTY_PAGES,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)host,
    };

    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
        return ERR("KVM_SET_USER_MEMORY_REGION (slot %u): %s", slot, strerror(errno));
    return 0;
}

static int set_cpuid(struct hv_vm *vm, char *err, size_t errlen)
{
    unsigned n = 128;
    struct kvm_cpuid2 *c;

    for (;;) {
        c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
        if (!c)
            return ERR("out of memory");
        c->nent = n;
        if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
            break;
        free(c);
        if (errno != E2BIG || n >= 4096)
            return ERR("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
        n *= 2;
    }
    if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, c) < 0) {
        free(c);
        return ERR("KVM_SET_CPUID2: %s", strerror(errno));
    }
    free(c);
    return 0;
}

static void put64(uint8_t *ram, uint64_t gpa, uint64_t v)
{
    memcpy(ram + gpa, &v, 8);
}

/* Identity map of 0-4 GiB in 2 MiB user pages; GDT; a TSS (no IDT: any
 * exception in the guest escalates to a triple fault = KVM_EXIT_SHUTDOWN,
 * which ends the input). */
static void build_tables(struct hv_vm *vm)
{
    uint8_t *ram = vm->ram;

    put64(ram, HV_GPA_PML4, HV_GPA_PDPT | 0x7);
    for (uint64_t i = 0; i < 4; i++) {
        put64(ram, HV_GPA_PDPT + 8 * i, (HV_GPA_PD0 + 0x1000 * i) | 0x7);
        for (uint64_t j = 0; j < 512; j++)
            put64(ram, HV_GPA_PD0 + 0x1000 * i + 8 * j,
                  ((i << 30) | (j << 21)) | 0x87);
    }
    put64(ram, HV_GPA_GDT + 0x00, 0);
    put64(ram, HV_GPA_GDT + HV_SEL_KCODE, 0x00af9b000000ffffull);
    put64(ram, HV_GPA_GDT + HV_SEL_KDATA, 0x00cf93000000ffffull);
    put64(ram, HV_GPA_GDT + (HV_SEL_UDATA & ~3), 0x00cff3000000ffffull);
    put64(ram, HV_GPA_GDT + (HV_SEL_UCODE & ~3), 0x00affb000000ffffull);
    /* 64-bit TSS descriptor (16 bytes): base HV_GPA_TSS, type 9, with an
     * all-zero I/O permission bitmap (every port allowed from ring 3: the
     * paravirtual nested KVM here checks it even at IOPL 3). */
    uint64_t base = HV_GPA_TSS;
    uint64_t lo = (TSS_LIMIT & 0xffff) | ((base & 0xffffff) << 16) |
                  (0x89ull << 40) | ((uint64_t)(TSS_LIMIT >> 16) << 48) |
                  (((base >> 24) & 0xff) << 56);
    put64(ram, HV_GPA_GDT + HV_SEL_TSS, lo);
    put64(ram, HV_GPA_GDT + HV_SEL_TSS + 8, base >> 32);
    /* TSS: RSP0 (unused: no interrupt ever reaches ring 0), IOPB past limit */
    put64(ram, HV_GPA_TSS + 4, HV_GPA_STACK_TOP);
    ram[HV_GPA_TSS + 0x66] = 0x68; /* IOPB offset; bitmap zero, then 0xff */
    memset(ram + HV_GPA_TSS + 0x68, 0, 8192);
    ram[HV_GPA_TSS + 0x68 + 8192] = 0xff;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int code)
{
    memset(s, 0, sizeof(*s));
    s->base = 0;
    s->limit = 0xffffffff;
    s->selector = sel;
    s->type = type;
    s->present = 1;
    s->dpl = sel & 3;
    s->s = 1;
    s->g = 1;
    s->l = code ? 1 : 0;
    s->db = code ? 0 : 1;
}

int hv_kvm_setup_cpu(struct hv_vm *vm, char *err, size_t errlen)
{
    struct kvm_sregs sr;
    struct kvm_regs r;
    struct kvm_fpu fpu;
    int sz;

    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0)
        return ERR("KVM_CREATE_VCPU: %s", strerror(errno));
    sz = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (sz <= 0)
        return ERR("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
    vm->run_size = (size_t)sz;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                   vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        vm->run = NULL;
        return ERR("mmap(kvm_run): %s", strerror(errno));
    }
    if (set_cpuid(vm, err, errlen) < 0)
        return -1;
    build_tables(vm);

    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) < 0)
        return ERR("KVM_GET_SREGS: %s", strerror(errno));
    seg(&sr.cs, HV_SEL_UCODE, 11, 1);
    seg(&sr.ds, HV_SEL_UDATA, 3, 0);
    sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
    memset(&sr.tr, 0, sizeof(sr.tr));
    sr.tr.base = HV_GPA_TSS;
    sr.tr.limit = TSS_LIMIT;
    sr.tr.selector = HV_SEL_TSS;
    sr.tr.type = 11; /* busy 64-bit TSS */
    sr.tr.present = 1;
    memset(&sr.ldt, 0, sizeof(sr.ldt));
    sr.ldt.unusable = 1;
    sr.gdt.base = HV_GPA_GDT;
    sr.gdt.limit = HV_SEL_TSS + 16 - 1;
    sr.idt.base = 0;
    sr.idt.limit = 0;
    sr.cr3 = HV_GPA_PML4;
    sr.cr0 = 0x80050033; /* PG AM WP NE ET MP PE */
    sr.cr4 = 0x620;      /* OSXMMEXCPT OSFXSR PAE */
    sr.efer = 0x500;     /* LMA LME */
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sr) < 0)
        return ERR("KVM_SET_SREGS: %s", strerror(errno));

    memset(&fpu, 0, sizeof(fpu));
    fpu.fcw = 0x37f;
    fpu.mxcsr = 0x1f80;
    if (ioctl(vm->vcpu_fd, KVM_SET_FPU, &fpu) < 0)
        return ERR("KVM_SET_FPU: %s", strerror(errno));

    memset(&r, 0, sizeof(r));
    r.rip = vm->entry;
    r.rsp = HV_GPA_STACK_TOP;      /* 16-byte aligned, as at process entry */
    r.rflags = 0x3002;             /* IOPL 3: port I/O from ring 3 */
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
        return ERR("KVM_SET_REGS: %s", strerror(errno));
    return 0;
}

void hv_kvm_close(struct hv_vm *vm)
{
    if (vm->run)
        munmap(vm->run, vm->run_size);
    vm->run = NULL;
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    vm->vcpu_fd = vm->vm_fd = vm->kvm_fd = -1;
}
