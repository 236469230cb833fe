/* hvfuzz-vmm with a tiny ring-3 guest of our own (no agent): long-mode
 * entry, PIO exits into the target's port region, snapshot/restore of
 * dirty RAM, and a guest fault and a guest hang each ending the input
 * cleanly. Skips (77) without /dev/kvm. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/vmm/hv_vmm.h"
#include "hv_test.h"

/* Input byte 0: 0xff -> ud2 (triple fault), 0xfe -> spin forever,
 * else that many 1-byte OUTs to port 0xc000 (virtio-blk's legacy BAR).
 * Every input increments the dword at 0x200000 (restored each time). */
static const uint8_t code[] = {
    0x66, 0xba, 0xf8, 0x05,                         /* mov dx, 0x5f8 */
    0xb8, 0x01, 0x00, 0x00, 0x00,                   /* mov eax, READY */
    0xef,                                           /* out dx, eax */
    0x0f, 0xb6, 0x0c, 0x25, 0x00, 0x00, 0x80, 0x00, /* movzx ecx, byte [0x800000] */
    0x80, 0xf9, 0xff, 0x75, 0x02, 0x0f, 0x0b,       /* cmp cl,0xff; jne; ud2 */
    0x80, 0xf9, 0xfe, 0x75, 0x02, 0xeb, 0xfe,       /* cmp cl,0xfe; jne; jmp $ */
    0xff, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00,       /* inc dword [0x200000] */
    0x66, 0xba, 0x00, 0xc0,                         /* mov dx, 0xc000 */
    0x85, 0xc9, 0x74, 0x05,                         /* test ecx,ecx; jz done */
    0xee, 0xff, 0xc9, 0x75, 0xfb,                   /* out dx,al; dec ecx; jnz */
    0x66, 0xba, 0xf8, 0x05,                         /* done: mov dx, 0x5f8 */
    0xb8, 0x02, 0x00, 0x00, 0x00,                   /* mov eax, DONE */
    0xef,                                           /* out dx, eax */
    0xeb, 0xfe,                                     /* jmp $ */
};

static void put(uint8_t *p, unsigned n, uint64_t v)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ELF64 header + one PT_LOAD at HV_GPA_AGENT. */
static int write_elf(const char *path, int bad)
{
    uint8_t img[0x100 + sizeof(code)];
    FILE *f;

    memset(img, 0, sizeof(img));
    memcpy(img, "\177ELF", 4);
    img[4] = 2; /* 64-bit */
    img[5] = 1; /* little endian */
    img[6] = 1;
    put(img + 16, 2, 2);          /* ET_EXEC */
    put(img + 18, 2, bad ? 3 : 62); /* EM_X86_64 (bad: EM_386) */
    put(img + 20, 4, 1);
    put(img + 24, 8, HV_GPA_AGENT + 0x100); /* entry */
    put(img + 32, 8, 64);                   /* phoff */
    put(img + 52, 2, 64);                   /* ehsize */
    put(img + 54, 2, 56);                   /* phentsize */
    put(img + 56, 2, 1);                    /* phnum */
    uint8_t *ph = img + 64;
    put(ph, 4, 1);                          /* PT_LOAD */
    put(ph + 4, 4, 5);                      /* R X */
    put(ph + 8, 8, 0);                      /* offset */
    put(ph + 16, 8, HV_GPA_AGENT);          /* vaddr */
    put(ph + 24, 8, HV_GPA_AGENT);          /* paddr */
    put(ph + 32, 8, sizeof(img));           /* filesz */
    put(ph + 40, 8, sizeof(img) + 0x1000);  /* memsz */
    memcpy(img + 0x100, code, sizeof(code));
    f = fopen(path, "wb");
    if (!f)
        return -1;
    fwrite(img, 1, sizeof(img), f);
    return fclose(f);
}

int main(void)
{
    char path[] = "/tmp/hvfuzz-tiny-XXXXXX";
    char err[512];
    struct hv_vm *vm;
    int fd;

    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        printf("SKIP: /dev/kvm is not available\n");
        return 77;
    }
    setenv("HVFUZZ_VM_TIMEOUT_MS", "200", 1);
    fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);

    /* malformed agent: a clear error, no VM */
    CHECK(write_elf(path, 1) == 0);
    vm = hv_vm_create("virtio-blk", path, err, sizeof(err));
    CHECK(vm == NULL);
    CHECK(strstr(err, "not an x86-64 ELF") != NULL);
    printf("malformed: %s\n", err);
    vm = hv_vm_create("virtio-blk", "/nonexistent/agent.elf", err, sizeof(err));
    CHECK(vm == NULL && strstr(err, "No such file") != NULL);
    printf("missing: %s\n", err);
    vm = hv_vm_create("no-such-target", path, err, sizeof(err));
    CHECK(vm == NULL && strstr(err, "unknown target") != NULL);

    CHECK(write_elf(path, 0) == 0);
    vm = hv_vm_create("virtio-blk", path, err, sizeof(err));
    if (!vm) {
        fprintf(stderr, "create: %s\n", err);
        unlink(path);
        return 1;
    }
    for (unsigned i = 0; i < 50; i++) {
        uint8_t in = (uint8_t)(i % 7);
        unsigned long e0 = vm->stats.exits;

        CHECK_EQ(hv_vm_run_input(vm, &in, 1), HV_VM_DONE);
        CHECK_EQ(vm->stats.exits - e0, in + 1u);
        uint32_t ctr;
        memcpy(&ctr, vm->ram + 0x200000, 4);
        CHECK_EQ(ctr, 1); /* restored to 0 before every input */
    }
    uint8_t bad = 0xff, spin = 0xfe, ok = 3;
    CHECK_EQ(hv_vm_run_input(vm, &bad, 1), HV_VM_FAULT);
    printf("fault: %s\n", vm->why);
    CHECK_EQ(hv_vm_run_input(vm, &ok, 1), HV_VM_DONE);
    double t0 = hv_vm_now_us();
    CHECK_EQ(hv_vm_run_input(vm, &spin, 1), HV_VM_HANG);
    printf("hang: %s after %.0f ms\n", vm->why, (hv_vm_now_us() - t0) / 1000);
    CHECK_EQ(hv_vm_run_input(vm, &ok, 1), HV_VM_DONE);
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(hv_vm_run_input(vm, &bad, 1), HV_VM_FAULT);
        CHECK_EQ(hv_vm_run_input(vm, &ok, 1), HV_VM_DONE);
    }
    uint32_t ctr;
    memcpy(&ctr, vm->ram + 0x200000, 4);
    CHECK_EQ(ctr, 1);
    hv_vm_print_stats(vm, stdout);
    hv_vm_destroy(vm);
    unlink(path);
    return hv_test_done("test_vmm_tiny");
}
