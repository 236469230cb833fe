/*
 * Driver-side helpers for the e1000 tests: a machine with the NIC at
 * 00:01.0 and QEMU's BAR addresses, register accessors, a TX and an RX ring
 * in the DMA window written with hv_mem_write as a driver would, and an
 * independent Internet checksum (RFC 1071) to verify the device's offloads.
 */
#ifndef HV_TEST_E1000_ETEST_H
#define HV_TEST_E1000_ETEST_H

#include <stdlib.h>
#include <string.h>

#include "hv_test.h"
#include "targets/common/hv_device.h"
#include "targets/common/hv_net.h"
#include "targets/e1000/e1000.h"
#include "targets/e1000/e1000_regs.h"

#define ET_BDF 0x08
#define ET_MMIO E1000_DEFAULT_MMIO_ADDR
#define ET_IO E1000_DEFAULT_IO_ADDR
#define ET_DMA HV_DMA_WINDOW_BASE
#define ET_TXRING (ET_DMA + 0x0000u)
#define ET_RXRING (ET_DMA + 0x1000u)
#define ET_TXBUF (ET_DMA + 0x4000u) /* up to 0x1c000 bytes of TX data */
#define ET_RXBUF (ET_DMA + 0x20000u)
#define ET_RXBUF_STRIDE 0x800u
#define ET_TX_N 64u
#define ET_RX_N 16u

static const uint8_t et_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t et_peer[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};

struct et {
    hv_machine *m;
    hv_dev *d;
    uint32_t tdt, txbuf_off;
};

static inline void et_program_bars(hv_machine *m)
{
    hv_bus_cfg_write(m, ET_BDF, HV_PCI_BAR0, 4, ET_MMIO);
    hv_bus_cfg_write(m, ET_BDF, HV_PCI_BAR0 + 4, 4, ET_IO);
    hv_bus_cfg_write(m, ET_BDF, HV_PCI_COMMAND, 2,
                     HV_PCI_CMD_IO | HV_PCI_CMD_MEM | HV_PCI_CMD_MASTER);
}

/* A machine with one e1000 (params may be NULL), BARs programmed. */
static inline void et_init(struct et *t, const struct e1000_params *p)
{
    memset(t, 0, sizeof(*t));
    t->m = hv_machine_create(NULL);
    t->d = t->m ? e1000_create_ex(t->m, p) : NULL;
    if (!t->d || hv_machine_add(t->m, t->d, ET_BDF) < 0) {
        fprintf(stderr, "cannot build the machine\n");
        exit(2);
    }
    t->m->findings_fatal = false;
    hv_machine_reset(t->m);
    et_program_bars(t->m);
}

static inline void et_fini(struct et *t)
{
    hv_machine_destroy(t->m);
}

static inline uint32_t et_rd(struct et *t, uint32_t reg)
{
    return (uint32_t)hv_bus_mmio_read(t->m, ET_MMIO + reg, 4);
}

static inline void et_wr(struct et *t, uint32_t reg, uint32_t v)
{
    hv_bus_mmio_write(t->m, ET_MMIO + reg, 4, v);
}

static inline struct hv_netsink *et_sink(struct et *t)
{
    return (struct hv_netsink *)e1000_backend(t->d);
}

/* ---- EEPROM ---------------------------------------------------------------- */

static inline uint16_t et_eerd(struct et *t, unsigned word)
{
    et_wr(t, E1000_EERD, word << E1000_EERD_ADDR_SHIFT | E1000_EERD_START);
    return (uint16_t)(et_rd(t, E1000_EERD) >> E1000_EERD_DATA_SHIFT);
}

static inline void et_ee_clock(struct et *t, uint32_t eecd)
{
    et_wr(t, E1000_EECD, eecd | E1000_EECD_SK);
    et_wr(t, E1000_EECD, eecd);
}

/* Microwire READ as Linux's e1000_read_eeprom does it (SDM 5.3.1). */
static inline uint16_t et_ee_bitbang(struct et *t, unsigned word)
{
    uint32_t cmd = E1000_EEPROM_READ_OPCODE << 6 | (word & 0x3f);
    uint32_t cs = E1000_EECD_REQ | E1000_EECD_CS;
    uint16_t v = 0;

    et_wr(t, E1000_EECD, E1000_EECD_REQ);
    et_wr(t, E1000_EECD, cs);
    for (int i = E1000_EEPROM_CMD_BITS - 1; i >= 0; i--)
        et_ee_clock(t, cs | (((cmd >> i) & 1) ? E1000_EECD_DI : 0));
    for (int i = 0; i < 16; i++) {
        et_wr(t, E1000_EECD, cs | E1000_EECD_SK);
        v = (uint16_t)(v << 1 | ((et_rd(t, E1000_EECD) & E1000_EECD_DO) ? 1 : 0));
        et_wr(t, E1000_EECD, cs);
    }
    et_wr(t, E1000_EECD, E1000_EECD_REQ);
    et_wr(t, E1000_EECD, 0);
    return v;
}

/* ---- rings ------------------------------------------------------------------ */

static inline void et_put(struct et *t, uint64_t gpa, unsigned size, uint64_t v)
{
    uint8_t b[8];

    hv_st_le(b, size > 4 ? 4 : size, v);
    if (size > 4)
        hv_st_le(b + 4, 4, v >> 32);
    hv_mem_write(t->m, gpa, b, size);
}

static inline uint64_t et_get(struct et *t, uint64_t gpa, unsigned size)
{
    uint8_t b[8] = {0};

    hv_mem_read(t->m, gpa, b, size);
    return hv_ld_le(b, size > 4 ? 4 : size) |
           (size > 4 ? (uint64_t)hv_ld_le(b + 4, 4) << 32 : 0);
}

static inline void et_tx_setup(struct et *t)
{
    hv_mem_fill(t->m, ET_TXRING, 0, ET_TX_N * E1000_DESC_SIZE);
    et_wr(t, E1000_TDBAL, (uint32_t)ET_TXRING);
    et_wr(t, E1000_TDBAH, 0);
    et_wr(t, E1000_TDLEN, ET_TX_N * E1000_DESC_SIZE);
    et_wr(t, E1000_TDH, 0);
    et_wr(t, E1000_TDT, 0);
    et_wr(t, E1000_TCTL, E1000_TCTL_EN);
    t->tdt = 0;
    t->txbuf_off = 0;
}

/* Copy `len` bytes into the TX buffer area; returns their GPA. */
static inline uint64_t et_txbuf(struct et *t, const void *data, uint32_t len)
{
    uint64_t gpa = ET_TXBUF + t->txbuf_off;

    hv_mem_write(t->m, gpa, data, len);
    t->txbuf_off = (t->txbuf_off + len + 15) & ~15u;
    return gpa;
}

static inline uint64_t et_desc_gpa(uint32_t i)
{
    return ET_TXRING + (uint64_t)i * E1000_DESC_SIZE;
}

/* Queue one raw descriptor (not yet visible to the device). */
static inline uint32_t et_txd(struct et *t, uint64_t addr, uint32_t lower,
                              uint32_t upper)
{
    uint32_t i = t->tdt;

    et_put(t, et_desc_gpa(i), 8, addr);
    et_put(t, et_desc_gpa(i) + 8, 4, lower);
    et_put(t, et_desc_gpa(i) + 12, 4, upper);
    t->tdt = (t->tdt + 1) % ET_TX_N;
    return i;
}

/* Context descriptor (SDM 3.3.6). */
static inline void et_txctx(struct et *t, uint8_t ipcss, uint8_t ipcso,
                            uint16_t ipcse, uint8_t tucss, uint8_t tucso,
                            uint16_t tucse, uint32_t cmd_paylen,
                            uint8_t hdr_len, uint16_t mss)
{
    uint64_t lo = ipcss | (uint32_t)ipcso << 8 | (uint32_t)ipcse << 16 |
                  (uint64_t)(tucss | (uint32_t)tucso << 8 |
                             (uint32_t)tucse << 16) << 32;

    et_txd(t, lo, cmd_paylen | E1000_TXD_CMD_DEXT,
           (uint32_t)hdr_len << 8 | (uint32_t)mss << 16);
}

static inline void et_tx_kick(struct et *t)
{
    et_wr(t, E1000_TDT, t->tdt);
}

static inline void et_rx_setup(struct et *t, uint32_t rctl)
{
    hv_mem_fill(t->m, ET_RXRING, 0, ET_RX_N * E1000_DESC_SIZE);
    for (uint32_t i = 0; i < ET_RX_N; i++)
        et_put(t, ET_RXRING + i * E1000_DESC_SIZE, 8,
               ET_RXBUF + (uint64_t)i * ET_RXBUF_STRIDE);
    et_wr(t, E1000_RDBAL, (uint32_t)ET_RXRING);
    et_wr(t, E1000_RDBAH, 0);
    et_wr(t, E1000_RDLEN, ET_RX_N * E1000_DESC_SIZE);
    et_wr(t, E1000_RDH, 0);
    et_wr(t, E1000_RDT, ET_RX_N - 1);
    et_wr(t, E1000_RCTL, rctl | E1000_RCTL_EN);
}

static inline uint8_t et_rx_status(struct et *t, uint32_t i)
{
    return (uint8_t)et_get(t, ET_RXRING + i * E1000_DESC_SIZE + 12, 1);
}

static inline uint16_t et_rx_len(struct et *t, uint32_t i)
{
    return (uint16_t)et_get(t, ET_RXRING + i * E1000_DESC_SIZE + 8, 2);
}

/* ---- packets and an independent checksum -------------------------------------- */

static inline uint32_t et_sum(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i < len; i++)
        sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
    return sum;
}

static inline uint16_t et_fold(uint32_t sum)
{
    while (sum > 0xffff)
        sum = (sum >> 16) + (sum & 0xffff);
    return (uint16_t)sum;
}

static inline uint16_t et_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t et_be32(const uint8_t *p)
{
    return (uint32_t)et_be16(p) << 16 | et_be16(p + 2);
}

static inline void et_set_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* True if the IPv4 header at `ip` carries a valid checksum. */
static inline bool et_ip_csum_ok(const uint8_t *ip)
{
    return et_fold(et_sum(ip, (ip[0] & 0xf) * 4u, 0)) == 0xffff;
}

/* Pseudo-header sum (RFC 793/768) of an IPv4 packet, L4 length `l4len`. */
static inline uint32_t et_pseudo(const uint8_t *ip, uint32_t l4len)
{
    return et_sum(ip + 12, 8, 0) + ip[9] + l4len;
}

/* True if the TCP/UDP segment after the IPv4 header checks out. */
static inline bool et_l4_csum_ok(const uint8_t *ip, size_t iplen)
{
    size_t ihl = (ip[0] & 0xf) * 4u;
    uint32_t l4len = (uint32_t)(iplen - ihl);

    return et_fold(et_sum(ip + ihl, l4len, et_pseudo(ip, l4len))) == 0xffff;
}

#define ET_ETH_HLEN 14u
#define ET_IP_HLEN 20u
#define ET_TCP_HLEN 20u
#define ET_UDP_HLEN 8u
#define ET_TCP_FIN 0x01
#define ET_TCP_PSH 0x08
#define ET_TCP_ACK 0x10

/* Ethernet + IPv4 + TCP (proto 6) or UDP (17) with `paylen` payload bytes;
 * checksums zero. Returns the frame length. */
static inline size_t et_build(uint8_t *f, uint8_t proto, size_t paylen,
                              uint8_t tcp_flags)
{
    size_t l4h = proto == 6 ? ET_TCP_HLEN : ET_UDP_HLEN;
    uint8_t *ip = f + ET_ETH_HLEN, *l4 = ip + ET_IP_HLEN;
    size_t len = ET_ETH_HLEN + ET_IP_HLEN + l4h + paylen;

    memset(f, 0, len);
    memcpy(f, et_peer, 6);
    memcpy(f + 6, et_mac, 6);
    et_set_be16(f + 12, 0x0800);
    ip[0] = 0x45;
    et_set_be16(ip + 2, (uint16_t)(len - ET_ETH_HLEN));
    et_set_be16(ip + 4, 0x1234);
    et_set_be16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, (const uint8_t[]){10, 0, 2, 15, 10, 0, 2, 2}, 8);
    et_set_be16(l4, 40000);
    et_set_be16(l4 + 2, 40001);
    if (proto == 6) {
        l4[4] = 0x10; /* seq 0x10000000 */
        l4[12] = 0x50;
        l4[13] = tcp_flags;
        et_set_be16(l4 + 14, 0xffff);
    } else {
        et_set_be16(l4 + 4, (uint16_t)(ET_UDP_HLEN + paylen));
    }
    for (size_t i = 0; i < paylen; i++)
        l4[l4h + i] = (uint8_t)(i * 7 + 3);
    return len;
}

#endif
