/*
 * hvfuzz-agent internals: x86 port I/O, the COM1 log, fw_cfg. Freestanding
 * (no libc): the agent runs in ring 3 with IOPL 3, so in/out work directly.
 */
#ifndef AGENT_H
#define AGENT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* The "memory" clobbers keep every RAM write (mailbox, rings) before the
 * port access that makes the host look at it. */
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/* serial.c: COM1 output and a small printf: %s %c %d %u %x with an
 * optional 0-padded width and l/ll/z length modifiers. */
void ag_puts(const char *s);
void ag_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
size_t ag_vformat(char *buf, size_t cap, const char *fmt, va_list ap);
size_t ag_format(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* fwcfg.c: QEMU's fw_cfg over its I/O ports. */
int ag_fwcfg_present(void);
/* Reads file `name` into buf (at most cap bytes). Returns the file's full
 * size (may exceed cap), or -1 if there is no such file. */
int64_t ag_fwcfg_read_file(const char *name, void *buf, uint32_t cap);

/* libc.c: what the compiler may call. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
