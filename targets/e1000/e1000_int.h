/* e1000 model internals shared by e1000.c (registers, EEPROM, PHY, RX,
 * lifecycle) and e1000_tx.c (transmit, offloads, TSO). */
#ifndef HV_E1000_INT_H
/* Work-budget units of one frame sent or received, plus one per 64 bytes. */
#define E1000_FRAME_UNITS 16u
#define HV_E1000_INT_H

#include "targets/e1000/e1000.h"
#include "targets/e1000/e1000_regs.h"

#define E1000_NREGS (E1000_REG_SPACE / 4u)
#define REG(off) ((off) / 4u)

/* TX assembly buffer: QEMU's 64 KiB packet limit, plus room in front for
 * an inserted VLAN tag. TSO headers are at most 255 bytes. */
#define E1000_TX_MAX 0x10000u
#define E1000_TX_HEADROOM 4u
#define E1000_TX_HDR_MAX 256u
#define E1000_VLAN_TAG_LEN 4u
/* RX: frames above 16 KiB are dropped (the largest LPE frame is 16380). */
#define E1000_RX_MAX 0x4000u
#define E1000_ETH_MIN 60u
#define E1000_ETH_HLEN 14u
#define E1000_FCS_LEN 4u
#define E1000_MAX_STD_FRAME 1518u /* header + VLAN tag + 1500 */
#define E1000_AUTONEG_NS 500000000ull
#define E1000_MIT_UNIT_NS 256u /* ITR unit; RADV/TADV are 4 of them (1.024 us) */
#define E1000_MIT_MIN 500u     /* at most 7813 interrupts/s (13.4.18) */

struct e1000_tx_ctx { /* one context descriptor (3.3.6) */
    uint8_t ipcss, ipcso, tucss, tucso, hdr_len;
    uint16_t ipcse, tucse, mss;
    uint32_t paylen;
    bool ip, tcp, tse;
};

struct e1000_tx {
    uint8_t *buf;  /* heap: HEADROOM + TX_MAX bytes; set at creation */
    uint8_t *data; /* buf + HEADROOM: the packet being assembled */
    uint32_t size;
    uint8_t header[E1000_TX_HDR_MAX]; /* TSO header template */
    uint8_t sum_needed;               /* POPTS of the first data descriptor */
    bool vlan_needed, cptse;
    uint16_t vlan_tci;
    uint8_t legacy_cso, legacy_css;
    bool legacy_ic;
    struct e1000_tx_ctx props, tso_props;
    uint32_t tso_frames;
    bool busy;
};

struct e1000_eeprom_state { /* the Microwire shift register (5.3.1) */
    uint32_t val_in, old_eecd;
    uint16_t bitnum_in, bitnum_out;
    bool reading;
};

struct e1000 {
    hv_dev dev; /* first */
    struct hv_net *net;
    uint8_t macaddr[6];
    uint32_t mac[E1000_NREGS];
    uint16_t phy[PHY_NREGS];
    uint16_t eeprom[E1000_EEPROM_WORDS];
    struct e1000_eeprom_state ee;
    uint32_t ioaddr;
    uint32_t rxbuf_size;
    unsigned rx_min_shift;
    bool autoneg_pending;
    uint64_t autoneg_deadline;
    /* interrupt moderation (QEMU's "mit"): after an edge, further edges
     * wait until mit_deadline */
    bool mit_timer_on, mit_irq_level;
    uint32_t mit_ide; /* a TX descriptor asked for a delayed interrupt */
    uint64_t mit_deadline;
    struct e1000_tx tx;
    uint8_t *rxbuf; /* heap scratch, E1000_RX_MAX bytes (not state) */
};

static inline uint32_t e1000_reg(const struct e1000 *s, uint32_t off)
{
    return s->mac[REG(off)];
}

void e1000_raise(struct e1000 *s, uint32_t cause);
void e1000_stat_inc(struct e1000 *s, uint32_t off);
void e1000_stat_add64(struct e1000 *s, uint32_t lo_off, uint64_t n);
void e1000_size_stat(struct e1000 *s, uint32_t first_off, size_t len);
bool e1000_receive(struct e1000 *s, const uint8_t *frame, size_t len);

void e1000_start_xmit(struct e1000 *s);
void e1000_tx_reset(struct e1000 *s);

#endif
