/*
 * Replay QEMU 7.2's real-driver trace (SeaBIOS + Linux 6.1 e1000, three
 * pings; see data/README.txt) against the model: every PCI config, BAR0
 * MMIO and BAR1 I/O access in order, comparing each value read with what
 * QEMU answered.
 *
 * What the trace cannot give, and how the replay supplies it:
 *  - Ring addresses (TDBAL/RDBAL) point outside the test's DMA window: they
 *    are moved into it (TX ring at +0, RX ring at +0x1000, both zeroed).
 *  - Descriptor contents are not traced. On each TDT write the replay puts
 *    what Linux's e1000 queues for these packets (ARP, ICMP, ICMPv6: no
 *    offload, one buffer) into the new slots: a legacy descriptor with
 *    EOP|IFCS|RS over a 60-byte buffer. When RDBAL is written, every RX
 *    descriptor gets a buffer, as Linux's e1000_alloc_rx_buffers does.
 *  - Frames QEMU received show up as e1000x_rx_flt_ucast_match events: the
 *    replay injects a 60-byte frame with that destination and ethertype.
 *  - QEMU's autonegotiation timer (500 ms of virtual time) fired at the
 *    e1000x_link_negotiation_done event: the replay advances the virtual
 *    clock by 500 ms there.
 *  - Config reads carry no size: one of the aligned 1/2/4-byte reads must
 *    match.
 *
 * Exceptions (reads allowed to differ, counted and printed): statistics
 * that depend on the real frames' sizes and destinations, which the trace
 * does not hold — GORCL/H, GOTCL/H, TORL/H, TOTL/H, PRC64..PRC1522,
 * PTC64..PTC1522, BPRC, MPRC, BPTC, MPTC. Every other read must match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etest.h"
#include "hv_trace.h"

#ifndef ET_TRACE_FILE
#error "ET_TRACE_FILE must name the trace"
#endif

#define TX_FRAME_LEN 60u

struct replay {
    hv_machine *m;
    unsigned line, reads, matched, excepted, writes, rx_frames;
    uint32_t tdt; /* the driver's TX tail as last written */
};

static bool excepted_reg(uint32_t off)
{
    static const uint32_t regs[] = {
        E1000_GORCL, E1000_GORCH, E1000_GOTCL, E1000_GOTCH, E1000_TORL,
        E1000_TORH, E1000_TOTL, E1000_TOTH, E1000_BPRC, E1000_MPRC,
        E1000_BPTC, E1000_MPTC,
    };

    if ((off >= E1000_PRC64 && off <= E1000_PRC1522) ||
        (off >= E1000_PTC64 && off <= E1000_PTC1522))
        return true;
    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
        if (regs[i] == off)
            return true;
    return false;
}

static void compare(struct replay *r, const char *what, uint32_t off,
                    unsigned long long want, unsigned long long got)
{
    r->reads++;
    if (want == got) {
        r->matched++;
        return;
    }
    if (excepted_reg(off)) {
        r->excepted++;
        printf("excepted: trace line %u: %s 0x%x: QEMU 0x%llx, model 0x%llx\n",
               r->line, what, off, want, got);
        return;
    }
    hv_test_checks++;
    hv_test_failures++;
    fprintf(stderr, "trace line %u: %s 0x%x: QEMU 0x%llx, model 0x%llx\n",
            r->line, what, off, want, got);
}

static unsigned cfg_write_size(unsigned off)
{
    if (off == HV_PCI_COMMAND)
        return 2;
    if (off >= HV_PCI_BAR0 && off % 4 == 0)
        return 4;
    return 1;
}

static void cfg_read(struct replay *r, unsigned off, uint32_t want)
{
    uint32_t got;

    if (hv_trace_cfg_read_matches(r->m, ET_BDF, off, want, &got))
        got = want;
    compare(r, "pci_cfg_read", off, want, got);
}

/* Linux's descriptors for the packets the guest sent (see above). */
static void fill_tx_slots(struct replay *r, uint32_t new_tdt)
{
    for (uint32_t i = r->tdt; i != new_tdt; i = (i + 1) % 256) {
        uint8_t d[E1000_DESC_SIZE] = {0};

        hv_st_le(d, 4, (uint32_t)ET_TXBUF);
        hv_st_le(d + 8, 4, TX_FRAME_LEN | E1000_TXD_CMD_EOP |
                               E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS);
        hv_mem_write(r->m, et_desc_gpa(i), d, sizeof(d));
    }
    r->tdt = new_tdt;
}

/* Linux gives every RX descriptor a buffer (e1000_alloc_rx_buffers); one
 * shared 2 KiB buffer stands for them. */
static void fill_rx_ring(struct replay *r)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint8_t d[E1000_DESC_SIZE] = {0};

        hv_st_le(d, 4, (uint32_t)ET_RXBUF);
        hv_mem_write(r->m, ET_RXRING + (uint64_t)i * E1000_DESC_SIZE, d,
                     sizeof(d));
    }
}

static uint64_t mmio_write_value(struct replay *r, uint32_t off, uint64_t val)
{
    switch (off) {
    case E1000_TDBAL:
        return (uint32_t)ET_TXRING;
    case E1000_RDBAL:
        fill_rx_ring(r);
        return (uint32_t)ET_RXRING;
    case E1000_TDBAH:
    case E1000_RDBAH:
        return 0;
    case E1000_TDT:
        fill_tx_slots(r, (uint32_t)val % 256);
        return val;
    default:
        return val;
    }
}

static void mem_access(struct replay *r, bool write, uint64_t addr,
                       uint64_t val, unsigned size, char region)
{
    bool io = region == 'I';
    uint32_t off = (uint32_t)(addr - (io ? ET_IO : ET_MMIO));

    if (write) {
        r->writes++;
        if (io)
            hv_bus_pio_write(r->m, addr, size, (uint32_t)val);
        else
            hv_bus_mmio_write(r->m, addr, size, mmio_write_value(r, off, val));
        return;
    }
    compare(r, io ? "io read" : "mmio read", off, val,
            io ? hv_bus_pio_read(r->m, addr, size)
               : hv_bus_mmio_read(r->m, addr, size));
}

static void inject(struct replay *r, unsigned proto, const char *mac)
{
    uint8_t f[60] = {0};
    unsigned b[6];

    if (sscanf(mac, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
               &b[5]) != 6)
        return;
    for (int i = 0; i < 6; i++)
        f[i] = (uint8_t)b[i];
    memcpy(f + 6, et_peer, 6);
    et_set_be16(f + 12, (uint16_t)proto);
    r->rx_frames++;
    CHECK(hv_machine_rx_inject(r->m, f, sizeof(f)) != NULL);
}

static void replay_line(struct replay *r, const char *s)
{
    char kind[8], region, mac[32];
    unsigned long long a, v;
    unsigned size, proto;

    if (sscanf(s, "%u %7s", &r->line, kind) != 2)
        return;
    s = strchr(s, ' ') + 1;
    s = strchr(s, ' ');
    if (!strcmp(kind, "CR") && sscanf(s, "%llx %llx", &a, &v) == 2) {
        cfg_read(r, (unsigned)a, (uint32_t)v);
    } else if (!strcmp(kind, "CW") && sscanf(s, "%llx %llx", &a, &v) == 2) {
        r->writes++;
        hv_bus_cfg_write(r->m, ET_BDF, (unsigned)a, cfg_write_size((unsigned)a),
                         (uint32_t)v);
    } else if ((!strcmp(kind, "R") || !strcmp(kind, "W")) &&
               sscanf(s, "%llx %llx %u %c", &a, &v, &size, &region) == 4) {
        mem_access(r, kind[0] == 'W', a, v, size, region);
    } else if (!strcmp(kind, "NEGDONE")) {
        hv_machine_clock_advance(r->m, 500000000ull);
    } else if (!strcmp(kind, "RX") && sscanf(s, "%x %31s", &proto, mac) == 2) {
        inject(r, proto, mac);
    }
}

int main(void)
{
    struct replay r = {0};
    char line[256];
    FILE *f = fopen(ET_TRACE_FILE, "r");
    hv_dev *d;

    if (!f) {
        perror(ET_TRACE_FILE);
        return 1;
    }
    r.m = hv_machine_create(NULL);
    d = e1000_create(r.m);
    if (!d || hv_machine_add(r.m, d, ET_BDF) < 0)
        return 2;
    hv_machine_reset(r.m); /* power-on: BARs unprogrammed, as for SeaBIOS */
    while (fgets(line, sizeof(line), f))
        replay_line(&r, line);
    fclose(f);
    printf("replayed to trace line %u: %u reads checked, %u matched, %u "
           "excepted (frame-size statistics), %u writes, %u frames injected\n",
           r.line, r.reads, r.matched, r.excepted, r.writes, r.rx_frames);
    CHECK(r.reads >= 7000); /* the whole trace was understood */
    CHECK(r.writes >= 6000);
    CHECK_EQ(r.rx_frames, 5);
    CHECK_EQ(r.matched + r.excepted, r.reads);
    CHECK(r.excepted <= 40);
    CHECK_EQ(r.m->findings, 0);
    hv_machine_destroy(r.m);
    return hv_test_done("test_e1000_trace");
}
