/*
 * The contract between hvfuzz-vmm (harness/vmm) and the guest agent
 * (harness/agent): guest-physical memory map, ports, mailbox. Freestanding
 * (the agent includes it). Under stock QEMU the agent uses only what QEMU
 * also has: fw_cfg, COM1, 0xCF8/0xCFC, and isa-debug-exit to stop.
 */
#ifndef HV_VMM_ABI_H
#define HV_VMM_ABI_H

#include <stdint.h>

/* ---- guest-physical memory (RAM slot 0 covers [0, HV_GUEST_RAM_SIZE)) -- */
#define HV_GUEST_RAM_SIZE 0x1000000ull  /* 16 MiB */
#define HV_GPA_PML4 0x1000ull           /* page tables: PML4, PDPT, 4 PDs */
#define HV_GPA_PDPT 0x2000ull
#define HV_GPA_PD0 0x3000ull            /* 4 x 512 x 2 MiB: identity 0-4 GiB */
#define HV_GPA_GDT 0x8000ull
#define HV_GPA_TSS 0x9000ull            /* + 8 KiB I/O bitmap (all ports open) */
#define HV_GPA_MAILBOX 0x10000ull       /* struct hv_mailbox */
#define HV_GPA_AGENT 0x100000ull        /* agent ELF load address (1 MiB) */
#define HV_GPA_STACK_TOP 0x800000ull    /* ring-3 stack grows down from here */
#define HV_GPA_INPUT 0x800000ull        /* program bytes (HV_INPUT_MAX) */
#define HV_INPUT_MAX 0x100000u          /* 1 MiB */
/* The DMA window is its own memory slot at HV_DMA_WINDOW_BASE
 * (targets/common/hv_device.h), as in every host. */

/* GDT selectors */
#define HV_SEL_KCODE 0x08
#define HV_SEL_KDATA 0x10
#define HV_SEL_UDATA 0x1b /* 0x18 | RPL 3 */
#define HV_SEL_UCODE 0x23 /* 0x20 | RPL 3 */
#define HV_SEL_TSS 0x28

/* ---- ports -------------------------------------------------------------- */
#define HV_PORT_COM1 0x3f8
#define HV_PORT_PCI_ADDR 0xcf8
#define HV_PORT_PCI_DATA 0xcfc
#define HV_PORT_FWCFG_SEL 0x510
#define HV_PORT_FWCFG_DATA 0x511
#define HV_PORT_FWCFG_DMA 0x514
#define HV_PORT_QEMU_EXIT 0x501 /* QEMU's isa-debug-exit (iobase=0x501) */

/* hvfuzz-vmm's hypercall port: 32-bit OUT of a code, the argument in the
 * mailbox. Reading it returns HV_HYPERCALL_MAGIC in hvfuzz-vmm (all-ones
 * elsewhere): how the agent knows which host it runs under. */
#define HV_PORT_HYPERCALL 0x5f8
#define HV_HYPERCALL_MAGIC 0x68764d4du /* "MvhM" */
enum hv_hypercall {
    HV_HC_READY = 1,         /* set up; snapshot me; then give me an input */
    HV_HC_DONE = 2,          /* the input ran to its end */
    HV_HC_FAULT = 3,         /* the agent failed (mailbox.fault says why) */
    HV_HC_CLOCK_ADVANCE = 4, /* mailbox.arg = nanoseconds */
    HV_HC_RX_INJECT = 5,     /* mailbox.arg = GPA, mailbox.arg2 = length */
    HV_HC_TRACE_MEM = 6,     /* trace only: the agent wrote its RAM:
                              * arg = GPA, arg2 = length, arg3 = fill byte
                              * + 0x100 for a fill, 0 for a copy */
};

/* ---- the mailbox (GPA HV_GPA_MAILBOX) ------------------------------------- */
#define HV_MAILBOX_MAGIC 0x786f626c69616d68ull /* "hmailbox" */
struct hv_mailbox {
    uint64_t magic;        /* set by the VMM before the first entry */
    char target[64];       /* NUL-terminated layout name */
    uint32_t input_len;    /* bytes at HV_GPA_INPUT for this iteration */
    uint32_t flags;        /* HV_MB_TRACE: report RAM writes (HV_HC_TRACE_MEM) */
    uint64_t arg, arg2, arg3;
    char fault[128];       /* HV_HC_FAULT: a message */
};
#define HV_MB_TRACE 0x1u

/* ---- fw_cfg (QEMU docs/specs/fw_cfg.rst) -------------------------------- */
#define HV_FWCFG_SIGNATURE 0x0000
#define HV_FWCFG_ID 0x0001
#define HV_FWCFG_FILE_DIR 0x0019
/* Files the agent looks for under any host: */
#define HV_FWCFG_FILE_TARGET "opt/hvfuzz/target"  /* layout name */
#define HV_FWCFG_FILE_INPUT "opt/hvfuzz/input"    /* program bytes */

#endif
