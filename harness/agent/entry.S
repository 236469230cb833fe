/*
 * hvfuzz-agent entries.
 *
 * _start (e_entry): hvfuzz-vmm enters here in 64-bit long mode at CPL 3,
 * IOPL 3, RSP = HV_GPA_STACK_TOP, with the page tables, GDT and TSS of
 * harness/vmm/hv_vmm_abi.h already built. Nothing to set up.
 *
 * pvh_start32: the PVH entry for stock QEMU, named by the ELF note
 * XEN_ELFNOTE_PHYS32_ENTRY (Xen's "x86/HVM direct boot ABI",
 * xen/include/public/arch-x86/hvm/start_info.h; QEMU loads such an ELF with
 * -kernel through its pvh option ROM): 32-bit protected mode, flat
 * segments, paging off, CPL 0, %ebx = start_info (unused). It builds the
 * same state hvfuzz-vmm builds (identity map 0-4 GiB with 2 MiB user pages,
 * GDT with the ABI selectors, a TSS, EFER.LME, CR4.PAE, CR0.PG), jumps to
 * 64-bit code and drops to CPL 3 with IOPL 3 on the same stack, at _start.
 * There is no IDT: any fault triple-faults (QEMU -no-reboot exits; the VMM
 * sees a shutdown exit).
 */
#include "harness/agent/agent_abi.h"

#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_US 0x4
#define PTE_PS 0x80
#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100

    .section .text.entry, "ax"
    .code64
    .globl _start
    .type _start, @function
_start:
    cld
    xorl %ebp, %ebp
    /* .bss is zeroed here: whichever loader ran, it starts clean. */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb
    andq $-16, %rsp
    call agent_main
1:  ud2                     /* agent_main does not return */
    jmp 1b
    .size _start, . - _start

    .code32
    .globl pvh_start32
    .type pvh_start32, @function
pvh_start32:
    cli
    cld
    movl $AG_GPA_STACK_TOP, %esp

    /* PML4, PDPT and 4 PDs (6 pages from HV_GPA_PML4), cleared */
    movl $AG_GPA_PML4, %edi
    movl $(6 * 4096 / 4), %ecx
    xorl %eax, %eax
    rep stosl
    movl $(AG_GPA_PDPT | PTE_P | PTE_RW | PTE_US), AG_GPA_PML4
    /* PDPT[0..3] -> the 4 PDs */
    movl $AG_GPA_PDPT, %edi
    movl $(AG_GPA_PD0 | PTE_P | PTE_RW | PTE_US), %eax
    movl $4, %ecx
1:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 1b
    /* 2048 PDEs: 2 MiB pages, identity 0-4 GiB, user-accessible */
    movl $AG_GPA_PD0, %edi
    movl $(PTE_P | PTE_RW | PTE_US | PTE_PS), %eax
    movl $2048, %ecx
2:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 2b

    /* GDT at HV_GPA_GDT: copied from gdt_image */
    movl $gdt_image, %esi
    movl $AG_GPA_GDT, %edi
    movl $((gdt_image_end - gdt_image) / 4), %ecx
    rep movsl
    /* TSS at HV_GPA_TSS: zero; rsp0 below the GDT (unused: no IDT, no
     * interrupts); I/O map base past the limit (IOPL 3 needs none). */
    movl $AG_GPA_TSS, %edi
    movl $(104 / 4), %ecx
    xorl %eax, %eax
    rep stosl
    movl $AG_GPA_GDT, (AG_GPA_TSS + 4)
    movw $104, (AG_GPA_TSS + 102)
    lgdt gdt_ptr

    /* long mode: PAE, CR3, EFER.LME, paging */
    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $AG_GPA_PML4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    orl $(CR0_PG | CR0_PE), %eax
    movl %eax, %cr0
    ljmp $AG_SEL_KCODE, $pvh_long64

    .code64
pvh_long64:
    movl $AG_SEL_KDATA, %eax
    movl %eax, %ss
    movl $AG_SEL_TSS, %eax
    ltr %ax
    movl $AG_SEL_UDATA, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %fs
    movl %eax, %gs
    /* to CPL 3, IOPL 3, on the same stack: iretq */
    pushq $AG_SEL_UDATA
    pushq $AG_GPA_STACK_TOP
    pushq $AG_RFLAGS_USER
    pushq $AG_SEL_UCODE
    pushq $_start
    iretq
    .size pvh_start32, . - pvh_start32

    .section .rodata
    .balign 8
gdt_image:
    .quad 0                     /* null */
    .quad 0x00af9a000000ffff    /* 0x08 kernel code, 64-bit, DPL 0 */
    .quad 0x00cf92000000ffff    /* 0x10 kernel data, DPL 0 */
    .quad 0x00cff2000000ffff    /* 0x18 user data, DPL 3 */
    .quad 0x00affa000000ffff    /* 0x20 user code, 64-bit, DPL 3 */
    /* 0x28 TSS (16 bytes): base HV_GPA_TSS, limit 103, 64-bit available */
    .word 103
    .word AG_GPA_TSS & 0xffff
    .byte (AG_GPA_TSS >> 16) & 0xff
    .byte 0x89
    .byte 0
    .byte (AG_GPA_TSS >> 24) & 0xff
    .quad 0
gdt_image_end:
    .balign 2
gdt_ptr:
    .word gdt_image_end - gdt_image - 1
    .long AG_GPA_GDT

    /* PVH entry point: XEN_ELFNOTE_PHYS32_ENTRY (18), name "Xen". The
     * descriptor is 8 bytes (QEMU reads a 64-bit value for an ELF64). */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .balign 4
    .quad pvh_start32
    .balign 4

    .section .note.GNU-stack, "", @progbits
