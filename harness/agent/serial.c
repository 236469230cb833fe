/*
 * The agent's log on COM1: a 16550 UART at HV_PORT_COM1, polled (wait for
 * LSR bit 5, "transmit holding register empty", before each byte; no
 * interrupts, no init: QEMU's and hvfuzz-vmm's UARTs accept bytes at
 * reset). Plus a small printf for the trace lines.
 */
#include "harness/agent/agent.h"
#include "harness/vmm/hv_vmm_abi.h"

#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20

static void ag_putc(char c)
{
    while (!(inb(HV_PORT_COM1 + UART_LSR) & UART_LSR_THRE))
        ;
    outb(HV_PORT_COM1 + UART_THR, (uint8_t)c);
}

void ag_puts(const char *s)
{
    while (*s)
        ag_putc(*s++);
}

struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned base, int neg,
                    unsigned width, char pad)
{
    char tmp[24];
    unsigned n = 0;

    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    while (width > n) {
        put(o, pad);
        width--;
    }
    while (n)
        put(o, tmp[--n]);
}

size_t ag_vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
    struct out o = {buf, cap, 0};

    for (; *fmt; fmt++) {
        unsigned width = 0, lng = 0;
        char pad = ' ';

        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (unsigned)(*fmt++ - '0');
        while (*fmt == 'l' || *fmt == 'z') {
            lng++;
            fmt++;
        }
        switch (*fmt) {
        case 'd': {
            int64_t v = lng ? va_arg(ap, long) : va_arg(ap, int);
            put_num(&o, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10, v < 0,
                    width, pad);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t v = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            put_num(&o, v, *fmt == 'u' ? 10 : 16, 0, width, pad);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            for (s = s ? s : "(null)"; *s; s++)
                put(&o, *s);
            break;
        }
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case '%':
            put(&o, '%');
            break;
        default: /* unknown conversion: print it as it is */
            put(&o, '%');
            if (!*fmt)
                fmt--;
            else
                put(&o, *fmt);
            break;
        }
    }
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len;
}

size_t ag_format(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    n = ag_vformat(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

void ag_printf(const char *fmt, ...)
{
    char line[256];
    va_list ap;

    va_start(ap, fmt);
    ag_vformat(line, sizeof(line), fmt, ap);
    va_end(ap);
    ag_puts(line);
}
