/*
 * Intel 8254x (82540EM) register offsets and bit fields: Software
 * Developer's Manual (317453006EN, rev 4.0), chapter 13 (register
 * descriptions), 3.2-3.4 (descriptors), 5.6 (EEPROM map), 8 (PHY).
 */
#ifndef HV_E1000_REGS_H
#define HV_E1000_REGS_H

/* ---- BAR0 register offsets (13.4) ---------------------------------------- */
#define E1000_CTRL 0x0000u
#define E1000_STATUS 0x0008u
#define E1000_EECD 0x0010u
#define E1000_EERD 0x0014u
#define E1000_CTRL_EXT 0x0018u
#define E1000_MDIC 0x0020u
#define E1000_FCAL 0x0028u
#define E1000_FCAH 0x002cu
#define E1000_FCT 0x0030u
#define E1000_VET 0x0038u
#define E1000_ICR 0x00c0u
#define E1000_ITR 0x00c4u
#define E1000_ICS 0x00c8u
#define E1000_IMS 0x00d0u
#define E1000_IMC 0x00d8u
#define E1000_RCTL 0x0100u
#define E1000_FCTTV 0x0170u
#define E1000_TCTL 0x0400u
#define E1000_TIPG 0x0410u
#define E1000_AIT 0x0458u
#define E1000_LEDCTL 0x0e00u
#define E1000_PBA 0x1000u
#define E1000_FCRTL 0x2160u
#define E1000_FCRTH 0x2168u
#define E1000_RDBAL 0x2800u
#define E1000_RDBAH 0x2804u
#define E1000_RDLEN 0x2808u
#define E1000_RDH 0x2810u
#define E1000_RDT 0x2818u
#define E1000_RDTR 0x2820u
#define E1000_RXDCTL 0x2828u
#define E1000_RADV 0x282cu
#define E1000_TDBAL 0x3800u
#define E1000_TDBAH 0x3804u
#define E1000_TDLEN 0x3808u
#define E1000_TDH 0x3810u
#define E1000_TDT 0x3818u
#define E1000_TIDV 0x3820u
#define E1000_TXDCTL 0x3828u
#define E1000_TADV 0x382cu
#define E1000_RXCSUM 0x5000u
#define E1000_MTA 0x5200u  /* 128 entries */
#define E1000_RA 0x5400u   /* 16 pairs RAL/RAH */
#define E1000_VFTA 0x5600u /* 128 entries */
#define E1000_WUC 0x5800u
#define E1000_WUFC 0x5808u
#define E1000_WUS 0x5810u
#define E1000_MANC 0x5820u
#define E1000_IPAV 0x5838u
#define E1000_IP4AT 0x5840u /* 7 entries (at 8-byte stride, QEMU: dwords) */
#define E1000_IP6AT 0x5880u /* 4 entries */
#define E1000_WUPM 0x5a00u  /* 32 entries */
#define E1000_SWSM 0x5b50u
#define E1000_REG_SPACE 0x6000u /* registers modelled below this offset */

#define E1000_MTA_N 128u
#define E1000_RA_N 16u
#define E1000_VFTA_N 128u

/* Statistics (13.7): 0x4000-0x40fc, clear on read. */
#define E1000_STATS_BEGIN 0x4000u
#define E1000_STATS_END 0x4100u
#define E1000_MPC 0x4010u
#define E1000_PRC64 0x405cu
#define E1000_PRC127 0x4060u
#define E1000_PRC255 0x4064u
#define E1000_PRC511 0x4068u
#define E1000_PRC1023 0x406cu
#define E1000_PRC1522 0x4070u
#define E1000_GPRC 0x4074u
#define E1000_BPRC 0x4078u
#define E1000_MPRC 0x407cu
#define E1000_GPTC 0x4080u
#define E1000_GORCL 0x4088u
#define E1000_GORCH 0x408cu
#define E1000_GOTCL 0x4090u
#define E1000_GOTCH 0x4094u
#define E1000_RNBC 0x40a0u
#define E1000_ROC 0x40acu
#define E1000_TORL 0x40c0u
#define E1000_TORH 0x40c4u
#define E1000_TOTL 0x40c8u
#define E1000_TOTH 0x40ccu
#define E1000_TPR 0x40d0u
#define E1000_TPT 0x40d4u
#define E1000_PTC64 0x40d8u
#define E1000_PTC127 0x40dcu
#define E1000_PTC255 0x40e0u
#define E1000_PTC511 0x40e4u
#define E1000_PTC1023 0x40e8u
#define E1000_PTC1522 0x40ecu
#define E1000_MPTC 0x40f0u
#define E1000_BPTC 0x40f4u
#define E1000_TSCTC 0x40f8u
#define E1000_TSCTFC 0x40fcu

/* ---- BAR1 I/O window (13.2.1) --------------------------------------------- */
#define E1000_IOADDR 0x00u
#define E1000_IODATA 0x04u
#define E1000_IOADDR_MASK 0x0001fffcu

/* ---- CTRL / STATUS ------------------------------------------------------- */
#define E1000_CTRL_SLU (1u << 6)
#define E1000_CTRL_SPD_1000 (2u << 8)
#define E1000_CTRL_SWDPIN0 (1u << 18)
#define E1000_CTRL_SWDPIN2 (1u << 20)
#define E1000_CTRL_RST (1u << 26)
#define E1000_CTRL_VME (1u << 30)

#define E1000_STATUS_FD (1u << 0)
#define E1000_STATUS_LU (1u << 1)
#define E1000_STATUS_SPEED_1000 (2u << 6)
#define E1000_STATUS_ASDV_1000 (3u << 8)
#define E1000_STATUS_MTXCKOK (1u << 10)
#define E1000_STATUS_GIO_MASTER_EN (1u << 19)
#define E1000_STATUS_QEMU_BIT31 (1u << 31) /* QEMU sets it; reserved in SDM */

/* ---- EECD / EERD (5.3, 13.4.3-4) ------------------------------------------ */
#define E1000_EECD_SK (1u << 0)
#define E1000_EECD_CS (1u << 1)
#define E1000_EECD_DI (1u << 2)
#define E1000_EECD_DO (1u << 3)
#define E1000_EECD_FWE_MASK (3u << 4)
#define E1000_EECD_REQ (1u << 6)
#define E1000_EECD_GNT (1u << 7)
#define E1000_EECD_PRES (1u << 8)
#define E1000_EECD_WRITABLE                                                    \
    (E1000_EECD_SK | E1000_EECD_CS | E1000_EECD_DI | E1000_EECD_FWE_MASK |     \
     E1000_EECD_REQ)
#define E1000_EERD_START (1u << 0)
#define E1000_EERD_DONE (1u << 4)
#define E1000_EERD_ADDR_SHIFT 8
#define E1000_EERD_DATA_SHIFT 16
#define E1000_EEPROM_WORDS 64u
#define E1000_EEPROM_CSUM_WORD 0x3fu
#define E1000_EEPROM_SUM 0xbabau
#define E1000_EEPROM_READ_OPCODE 6u /* Microwire READ: 1 1 0 */
#define E1000_EEPROM_CMD_BITS 9u    /* 3 opcode bits + 6 address bits */

/* ---- MDIC and the PHY (13.4.7, 8.x; M88E1011 register set) ---------------- */
#define E1000_MDIC_DATA_MASK 0xffffu
#define E1000_MDIC_REG_SHIFT 16
#define E1000_MDIC_REG_MASK (0x1fu << 16)
#define E1000_MDIC_PHY_SHIFT 21
#define E1000_MDIC_PHY_MASK (0x1fu << 21)
#define E1000_MDIC_OP_WRITE (1u << 26)
#define E1000_MDIC_OP_READ (2u << 26)
#define E1000_MDIC_READY (1u << 28)
#define E1000_MDIC_INT_EN (1u << 29)
#define E1000_MDIC_ERROR (1u << 30)
#define E1000_PHY_ADDR 1u

#define PHY_CTRL 0x00u
#define PHY_STATUS 0x01u
#define PHY_ID1 0x02u
#define PHY_ID2 0x03u
#define PHY_AUTONEG_ADV 0x04u
#define PHY_LP_ABILITY 0x05u
#define PHY_AUTONEG_EXP 0x06u
#define PHY_1000T_CTRL 0x09u
#define PHY_1000T_STATUS 0x0au
#define PHY_SPEC_CTRL 0x10u
#define PHY_SPEC_STATUS 0x11u
#define PHY_EXT_SPEC_CTRL 0x14u
#define PHY_RX_ERR_CNTR 0x15u
#define PHY_NREGS 0x20u

#define PHY_CTRL_SPEED_1000 (1u << 6)
#define PHY_CTRL_FD (1u << 8)
#define PHY_CTRL_RESTART_AN (1u << 9)
#define PHY_CTRL_AN_EN (1u << 12)
#define PHY_CTRL_LOOPBACK (1u << 14)
#define PHY_CTRL_RESET (1u << 15)
#define PHY_STATUS_LINK (1u << 2)
#define PHY_STATUS_AN_COMP (1u << 5)
#define PHY_LP_ACK (1u << 14)

/* ---- interrupts (13.4.17-21) ---------------------------------------------- */
#define E1000_ICR_TXDW (1u << 0)
#define E1000_ICR_TXQE (1u << 1)
#define E1000_ICR_LSC (1u << 2)
#define E1000_ICR_RXSEQ (1u << 3)
#define E1000_ICR_RXDMT0 (1u << 4)
#define E1000_ICR_RXO (1u << 6)
#define E1000_ICR_RXT0 (1u << 7)
#define E1000_ICR_MDAC (1u << 9)

/* ---- RCTL (13.4.22) -------------------------------------------------------- */
#define E1000_RCTL_EN (1u << 1)
#define E1000_RCTL_SBP (1u << 2)
#define E1000_RCTL_UPE (1u << 3)
#define E1000_RCTL_MPE (1u << 4)
#define E1000_RCTL_LPE (1u << 5)
#define E1000_RCTL_LBM_SHIFT 6
#define E1000_RCTL_LBM_MASK (3u << 6)
#define E1000_RCTL_LBM_MAC (1u << 6)
#define E1000_RCTL_RDMTS_SHIFT 8
#define E1000_RCTL_RDMTS_MASK (3u << 8)
#define E1000_RCTL_MO_SHIFT 12
#define E1000_RCTL_BAM (1u << 15)
#define E1000_RCTL_BSIZE_SHIFT 16
#define E1000_RCTL_BSIZE_MASK (3u << 16)
#define E1000_RCTL_VFE (1u << 18)
#define E1000_RCTL_BSEX (1u << 25)
#define E1000_RCTL_SECRC (1u << 26)

/* ---- TCTL (13.4.33) -------------------------------------------------------- */
#define E1000_TCTL_EN (1u << 1)

#define E1000_RAH_AV (1u << 31)
#define E1000_RXCSUM_IPOFL (1u << 8)
#define E1000_RXCSUM_TUOFL (1u << 9)

/* ---- descriptors (3.2.3 RX, 3.3.2 legacy TX, 3.3.6-7 context/data) -------- */
#define E1000_DESC_SIZE 16u

#define E1000_RXD_STAT_DD (1u << 0)
#define E1000_RXD_STAT_EOP (1u << 1)
#define E1000_RXD_STAT_IXSM (1u << 2)
#define E1000_RXD_STAT_VP (1u << 3)

/* TX lower dword (cmd in bits 31:24, DTYP 23:20, length 15:0 / 19:0) */
#define E1000_TXD_LEN_MASK 0xffffu
#define E1000_TXD_PAYLEN_MASK 0xfffffu
#define E1000_TXD_DTYP_D (1u << 20) /* data descriptor */
#define E1000_TXD_DTYP_C (0u << 20) /* context descriptor */
#define E1000_TXD_CMD_EOP (1u << 24)
#define E1000_TXD_CMD_IFCS (1u << 25)
#define E1000_TXD_CMD_IC (1u << 26)  /* legacy: insert checksum */
#define E1000_TXD_CMD_TSE (1u << 26) /* extended: TCP segmentation */
#define E1000_TXD_CMD_RS (1u << 27)
#define E1000_TXD_CMD_RPS (1u << 28)
#define E1000_TXD_CMD_DEXT (1u << 29)
#define E1000_TXD_CMD_VLE (1u << 30)
#define E1000_TXD_CMD_IDE (1u << 31)
/* context descriptor type/cmd bits in cmd_and_length */
#define E1000_TXD_CMD_TCP (1u << 24)
#define E1000_TXD_CMD_IP (1u << 25)

/* TX upper dword: STA 3:0, POPTS 15:8, special 31:16 */
#define E1000_TXD_STAT_DD (1u << 0)
#define E1000_TXD_STAT_EC (1u << 1)
#define E1000_TXD_STAT_LC (1u << 2)
#define E1000_TXD_STAT_TU (1u << 3)
#define E1000_TXD_POPTS_IXSM (1u << 0)
#define E1000_TXD_POPTS_TXSM (1u << 1)

/* Reset values QEMU 7.2 reports (mac_reg_init). */
#define E1000_PBA_INIT 0x00100030u
#define E1000_LEDCTL_INIT 0x602u
#define E1000_MANC_INIT 0x00222300u
#define E1000_VET_INIT 0x8100u

#endif
