/*
 * The numbers of harness/vmm/hv_vmm_abi.h that the assembly entry code
 * (entry.S) needs, as plain defines (that header holds C declarations).
 * main.c checks each one against hv_vmm_abi.h at compile time.
 */
#ifndef AGENT_ABI_H
#define AGENT_ABI_H

#define AG_GPA_PML4 0x1000
#define AG_GPA_PDPT 0x2000
#define AG_GPA_PD0 0x3000
#define AG_GPA_GDT 0x8000
#define AG_GPA_TSS 0x9000
#define AG_GPA_STACK_TOP 0x800000

#define AG_SEL_KCODE 0x08
#define AG_SEL_KDATA 0x10
#define AG_SEL_UDATA 0x1b
#define AG_SEL_UCODE 0x23
#define AG_SEL_TSS 0x28

/* RFLAGS at the ring-3 entry: IOPL 3 (bits 12-13) | reserved bit 1; IF 0. */
#define AG_RFLAGS_USER 0x3002

#endif
