/*
 * hvfuzz programs: the one input format shared by every host (in-process
 * targets, hvfuzz-vmm's guest agent, the agent under stock QEMU).
 *
 * Freestanding C: no libc, no malloc. The guest agent compiles these files.
 *
 * A program is a byte string of ops. Every byte string decodes: an op is an
 * opcode byte followed by fixed little-endian operands; an unassigned opcode
 * is skipped (one byte); an op whose operands are cut off ends the program.
 * Opcode numbers never change (checked-in corpora keep their meaning).
 *
 *  code name           operands                          effect
 *  0x01 mmio_read      region:u8 off:u32 size:u8         read  layout.mmio[region]
 *  0x02 mmio_write     region:u8 off:u32 size:u8 val:u64 write layout.mmio[region]
 *  0x03 pio_read       region:u8 off:u16 size:u8         read  layout.pio[region]
 *  0x04 pio_write      region:u8 off:u16 size:u8 val:u32 write layout.pio[region]
 *  0x05 pci_cfg_read   dev:u8 off:u8 size:u8             config space of a PCI dev
 *  0x06 pci_cfg_write  dev:u8 off:u8 size:u8 val:u32
 *  0x07 dma_write      off:u32 len:u16 data[len]         driver writes its RAM
 *  0x08 dma_fill       off:u32 len:u16 byte:u8
 *  0x09 clock_advance  ns:u32
 *  0x0a rx_inject      len:u16 data[len]                 frame from the wire
 *  0x10 virtq_setup    features:u32 nqueues:u8 qsize:u16 driver init (virtio)
 *  0x11 virtq_submit   vq:u8 flags:u8 nout:u8 nin:u8     chain + kick
 *                      len:u16[nout&7 + nin&7] dlen:u16 data[dlen]
 *  0x20 nvme_setup     ioqs:u8 qsize:u16 flags:u8        driver init (NVMe)
 *  0x21 nvme_submit    q:u8 flags:u8 opc:u8 nsid:u32     SQ entry + doorbell,
 *                      cdw10..cdw15:u32[6] xfer:u32      then reap the CQ
 *                      dlen:u16 data[dlen]
 *  0x30 e1000_setup    flags:u8 ntx:u8 nrx:u8            driver init (e1000)
 *  0x31 e1000_tx       flags:u8 nseg:u8 mss:u16 hdrlen:u8 TX descriptors +
 *                      special:u16 ipcss:u8 ipcso:u8     TDT write
 *                      tucss:u8 tucso:u8 dlen:u16 data[dlen]
 *  0x32 e1000_rx_post  n:u8                              refill RX ring, RDT
 *  0x40 tpm_cmd        flags:u8 len:u16 data[len]        one TPM command via
 *                                                        the CRB, response read
 *  0x22-0x2f nvme, 0x33-0x3f e1000, 0x41-0x4f tpm: reserved for those issues.
 *
 * Operand reduction happens at execution, never at decode, so the text form
 * can show raw values (exact round trip):
 *  - region/dev: index mod the layout's count (op skipped if count is 0);
 *  - size: 1,2,4,8 (pio/cfg: 1,2,4) as given, otherwise 1 << (raw & 3)
 *    (pio/cfg: 1 << (raw % 3));
 *  - mmio/pio off: mod the region size, then moved down so off+size fits;
 *    cfg off: aligned down to size (an access never crosses a dword);
 *  - dma off: mod the window size; len clipped at the window end;
 *  - virtq_setup: accepted features = device features & (VERSION_1 |
 *    features); nqueues = 1 + raw % HV_VIRTQ_MAX (clipped to num_queues);
 *    qsize = 0 -> device maximum, else the largest power of two <= raw,
 *    clipped to the device maximum and HV_VIRTQ_MAX_SIZE (in both cases
 *    then rounded down to a power of two; a queue whose device maximum
 *    is 0 is left unused, as Linux does);
 *  - virtq_submit: vq mod the number set up (skipped if none);
 *    flags bit0 INDIRECT, bit1 NOKICK, bit2 NO_INTERRUPT (avail flags);
 *    `nout` device-readable then `nin` device-writable segments of the given
 *    lengths (0 allowed); data fills the readable segments in order.
 *  - nvme_setup: I/O queue pairs = 1 + ioqs % HV_NVME_MAX_IOQ (then clipped
 *    to what Set Features granted, see below); qsize = 0 -> 64, else
 *    clipped to 2..HV_NVME_IOQ_MAX_SIZE and to CAP.MQES + 1; flags bit0
 *    IDENTIFY, bit1 NUM_QUEUES, bit2 DBBUF, bit3 CSS_NVM (other bits ignored);
 *  - nvme_submit: q mod (1 + number of I/O queues set up; 0 = admin),
 *    skipped before an nvme_setup; xfer mod (HV_NVME_MAX_XFER + 1); flags
 *    bits 2:0 data pointer mode (below), bit3 OFFSET, bit4 ODD, bit5 NOKICK,
 *    bit6 NOREAP, bit7 ignored; data is copied to the buffer's first
 *    min(dlen, xfer) bytes;
 *  - e1000_setup: ring sizes ntx/nrx: raw 0 -> 256 descriptors, else
 *    raw rounded down to a multiple of 8, at least 8; flags bit0 EEPROM,
 *    bit1 PHY, bit2 PROMISC, bit3 LPE, bit4 LOOPBACK, bit5 VLAN, bit6
 *    RXCSUM, bit7 SECRC (see below);
 *  - e1000_tx: skipped before an e1000_setup; flags bits 1:0 mode (0
 *    LEGACY, 1 CTX, 2 TSO, 3 DATA), bit2 AUTO, bit3 IXSM, bit4 TXSM, bit5
 *    VLE, bit6 NOKICK, bit7 REAP; the packet is split over 1 + nseg % 8
 *    data descriptors;
 *  - e1000_rx_post: skipped before an e1000_setup; n % nrx descriptors
 *    (0 -> nrx - 1);
 *  - tpm_cmd: flags bit0 NOLOC, bit1 NOREADY, bit2 NOPOLL, bit3 RAWSIZE,
 *    bit4 KEEP, bit5 WIDE, bit6 CANCEL, bit7 ignored (see below); the
 *    command is the first min(len, HV_TPM_BUF_SIZE) bytes of data;
 *  - written values are masked to the access size;
 *  - an access size larger than its region is halved until it fits; an op
 *    naming an empty table (no regions, devices) or a non-PCI device's
 *    config space is skipped; so are ops whose host callback is NULL.
 *
 * virtq_setup, as Linux's virtio_pci_modern does it (common cfg at
 * VIRTIO_PCI_COMMON_OFF of the layout's virtio region): PCI command
 * register of the region's device read (cfg 0x04, 2 bytes) and, if memory
 * decoding (+ I/O decoding when the device has a pio region) or bus
 * mastering is off, written with them on (pci_enable_device +
 * pci_set_master; skipped without cfg callbacks); status 0;
 * status ACK|DRIVER; device features (select 0, read; select 1, read);
 * driver features (select 0, write lo; select 1, write hi); status
 * |FEATURES_OK; read status back (FEATURES_OK cleared by the device: write
 * status|FAILED and stop, no queue is set up); read num_queues; per queue:
 * select, read size (0: skip the queue), write size, zero the ring memory
 * (mem_fill), write desc/avail/used addresses (lo, hi), enable = 1; then
 * status |DRIVER_OK. MSI-X vectors are left at their reset value. The
 * shadow's queues are reset (data_next is kept).
 *
 * virtq_submit: one buffer per segment from the data area (round robin,
 * 16-byte aligned, wraps to HV_DATA_AREA_OFF); the out data written there
 * (bytes past the data are left as they are); the chain written to the
 * descriptor table from the queue's next_desc slot on (wrapping mod size),
 * or, with INDIRECT or when the chain is longer than the queue, to the
 * queue's indirect area (round robin, HV_VIRTQ_MAX_SIZE entries) plus one
 * INDIRECT descriptor; a chain of 0 segments writes no descriptor and
 * publishes the slot next_desc as it is (a stale chain). Then avail flags,
 * avail ring[idx % size], with VIRTIO_F_EVENT_IDX negotiated used_event
 * (= this request's used index; with NO_INTERRUPT the one before it),
 * avail idx (last), and unless NOKICK the notify
 * write: 2 bytes, value = queue index, at VIRTIO_PCI_NOTIFY_OFF +
 * VIRTIO_PCI_NOTIFY_MULTIPLIER * queue (QEMU: queue_notify_off = index).
 * The structure-aware ops need a DMA window of at least HV_VIRTQ_MIN_WINDOW
 * bytes and a virtio region holding the notify area; else they are skipped.
 *
 * nvme_setup (harness/program/nvmeq.c), on the first mmio region whose
 * device's model is "nvme" and whose bar is 0, as Linux 6.1's nvme driver
 * (nvme_pci_enable, nvme_pci_configure_admin_queue, nvme_init_ctrl_finish,
 * nvme_setup_io_queues): PCI command memory + bus master as virtq_setup
 * does; MSI-X on as pci_alloc_irq_vectors does: the
 * capability list walked from cfg 0x34 (1 byte; each entry read as 2 bytes
 * at ptr & ~3, at most 48, stopping below 0x40 or on a self-loop), and the
 * MSI-X message control (cap + 2, 2 bytes) read and, without ENABLE
 * (0x8000), written with it (table entries stay as they are); read CAP (lo, hi: 4 bytes each; DSTRD and MQES
 * kept) and VS; CC = 0; read CSTS; zero the admin SQ/CQ, the I/O queues
 * and (DBBUF) the shadow doorbell and event index pages (mem_fill); AQA =
 * 0x1f001f (32-entry admin queues); ASQ, ACQ (lo, hi); CC = 0x460061
 * (IOCQES 4, IOSQES 6, CSS 6 = all I/O command sets, EN) or, with CSS_NVM,
 * 0x460001; read CSTS (not polled: setup goes on whatever it says). Then
 * admin commands, each submitted and reaped exactly as nvme_submit does on
 * queue 0 with an empty data pointer unless named: IDENTIFY: Identify
 * (0x06) CNS 1 into a 4 KiB data area buffer (PRP1, allocated as
 * nvme_submit allocates); NUM_QUEUES: Set Features
 * (0x09) FID 7, cdw11 = (n-1) << 16 | (n-1); when its completion was reaped
 * with status 0, n = min(n, 1 + min(dw0 & 0xffff, dw0 >> 16)); per I/O
 * queue pair qid = 1..n: Create I/O CQ (0x05; PRP1 the CQ, cdw10 = (size-1)
 * << 16 | qid, cdw11 = vector << 16 | IEN | PC, vector = qid with MSI-X on,
 * else 0 as Linux does on INTx), then Create I/O SQ (0x01;
 * PRP1 the SQ, cdw10 the same, cdw11 = qid << 16 | PC). DBBUF: Doorbell
 * Buffer Config (0x7c; PRP1 the shadow doorbell page, PRP2 the event index
 * page), after which I/O queues use shadow doorbells. The shadow is reset
 * first (data_next is kept); queues are recorded whatever their completions
 * say. CIDs come from one 16-bit counter, starting at 0 on reset.
 *
 * nvme_submit: a buffer of xfer bytes (0: none) from the data area
 * (page aligned; with OFFSET it starts at page offset 0xe00, with ODD 2
 * bytes further), the data written to it; the 64-byte SQ entry: CDW0 = opc
 * | PSDT << 14 | cid << 16 (PSDT 01 for the SGL modes), NSID, CDW2-3 and
 * MPTR 0, the data pointer at bytes 24-39, CDW10-15; written at the SQ
 * tail, tail + 1 mod size. Data pointer modes (empty buffer: all zero):
 *   0 PRP      as a driver: PRP1 = buffer; 2 pages: PRP2 = second page;
 *              more: PRP2 = a PRP list (at the PRP list page) of pages 2..n
 *   1 PRP1     PRP1 only, PRP2 0 whatever the length
 *   2 LIST     a PRP list from 2 pages on (never a plain PRP2)
 *   3 CHAIN    the PRP list starts 16 bytes before the end of the first PRP
 *              list page: with more than 2 entries its second slot points
 *              to the rest, at the second PRP list page
 *   4 SGL      one Data Block descriptor (type 0) in SGL1
 *   5 SGL_SEG  the buffer cut at page boundaries into n Data Blocks: n = 1:
 *              SGL1 = Last Segment (type 3) -> [block]; else SGL1 = Segment
 *              (type 2) -> [block 1, Last Segment -> [blocks 2..n]] (first
 *              then second SGL page)
 *   6 SGL_BB   SGL1 = Last Segment -> [Data Block of xfer - xfer/2 bytes,
 *              Bit Bucket (type 1) of xfer/2 bytes]
 *   7 NULL     data pointer 0 (the buffer is still written)
 * Then, unless NOKICK, the SQ tail doorbell, and unless NOREAP the
 * completions reaped as Linux's nvme_process_cq (first, with a host
 * settle callback, for a device that completes later: up to 4096 settle
 * calls until the new command's CID is among the new CQ entries): mem_read
 * of the 16-byte CQ
 * entry at the head while its phase bit equals the shadow's phase (at most
 * size entries), head + 1 and the phase flipped at the wrap; the CQ head
 * doorbell written once if any were reaped. Doorbells: 4-byte writes at
 * 0x1000 + (2 * qid + is_cq) * (4 << CAP.DSTRD), skipped when outside the
 * region. With DBBUF, an I/O queue's doorbell goes as Linux's
 * nvme_dbbuf_update_and_check_event: read the old shadow value, write the
 * new one (shadow page at the same (2 * qid + is_cq) * (4 << DSTRD)
 * offset), read the event index (same offset of its page), and ring the
 * MMIO doorbell only if (u16)(new - ei - 1) < (u16)(new - old).
 * The NVMe ops need a DMA window of at least HV_NVME_MIN_WINDOW bytes, the
 * host's mmio and mem callbacks, and an "nvme" bar-0 region of at least
 * 0x1010 bytes; else they are skipped.
 *
 * e1000_setup (harness/program/e1000q.c), on the first mmio region whose
 * device's model is "e1000" and whose bar is 0, in the order of Linux 6.1's
 * e1000 driver (e1000_probe, e1000_reset_hw, e1000_init_hw, e1000_open):
 * PCI command memory + I/O + bus master as virtq_setup does; IMC =
 * 0xffffffff, RCTL = 0, TCTL = PSP, read CTRL, CTRL = that | RST, IMC =
 * 0xffffffff, read ICR, read STATUS. EEPROM: words 0..2 read by EERD
 * (write addr << 8 | START, read; data = bits 31:16) give the MAC, else
 * the fixed 52:54:00:12:34:56. PHY: MDIC read PHY_CTRL (reg 0, phy 1;
 * write the MDIC command, read MDIC back), MDIC write PHY_CTRL = 0x1340
 * (autoneg enable + restart, 1000 Mb/s full duplex), clock_advance 1 s
 * (the link is down until autonegotiation completes: QEMU takes 500 ms;
 * Linux waits for link-up), read PHY_STATUS (reg 1) twice. RAL0 = MAC bytes 0-3, RAH0 = bytes 4-5 | AV; MTA[0..127] = 0.
 * VLAN: VET = 0x8100, read CTRL, CTRL = that | VME. TX ring (zeroed with
 * mem_fill): TDLEN = ntx * 16, TDBAH, TDBAL, TDT = 0, TDH = 0, TIPG =
 * 0x602008, TIDV = 8, TADV = 0x20, TCTL = 0x0103f0fa (EN, PSP, CT 0xf, COLD
 * 0x3f, RTLC). RX: RDTR = 0, RDLEN = nrx * 16, RDBAH, RDBAL, RDT = 0, RDH
 * = 0; all nrx descriptors written (mem_write: buffer i % HV_E1000_RXBUFS
 * of 2048 bytes, other fields 0); RXCSUM (flag): read, written TUOFL
 * (0x200); RCTL = EN | BAM | BSIZE 2048 (0x8002) | UPE | MPE (PROMISC) |
 * LPE | LBM MAC loopback (LOOPBACK, 0x40) | SECRC; RDT = nrx - 1 (so
 * nrx - 1 buffers belong to the device); IMS = 0x9d (TXDW, LSC,
 * RXSEQ, RXDMT0, RXT0). The shadow's TX and RX tails are set (TX 0, RX
 * nrx - 1); data_next is kept.
 *
 * e1000_tx: the packet (data, if any) written to one data area buffer
 * (16-byte aligned, round robin as virtq_submit); cut into k = 1 + nseg % 8 pieces
 * (piece i = bytes [dlen*i/k, dlen*(i+1)/k), so pieces may be empty), one
 * data descriptor each, written from the shadow's TX tail on (wrapping mod
 * ntx; one mem_write per descriptor). Header offsets: with AUTO they come
 * from the packet (L2 = 14, 18 with an 802.1Q tag; IPv4 IHL or the 40-byte
 * IPv6 header; TCP data offset or 8 for UDP (any protocol but 17 is
 * TCP); another EtherType counts as IPv4/TCP with 20-byte headers; bytes
 * past the packet read as 0, but a missing TCP data offset as 20): IPCSS = L2, IPCSO = L2 + 10, IPCSE = L2 + L3 - 1
 * (IPv6: 0), TUCSS = L2 + L3, TUCSO = TUCSS + 16 (TCP) / 6 (UDP), TUCSE =
 * 0, HDRLEN = L2 + L3 + L4; else the raw ipcss/ipcso/tucss/tucso/hdrlen
 * with IPCSE = TUCSE = 0. Modes:
 *   LEGACY  legacy descriptors: CSO = TUCSO, CSS = TUCSS, CMD = IFCS |
 *           IC (TXSM) | VLE (VLE), the last one | EOP | RS; special
 *   CTX     one context descriptor (TUCMD = DEXT | TCP for a TCP packet,
 *           as e1000_tx_csum), then data descriptors (DTYP 1, DCMD =
 *           DEXT | IFCS | VLE, the last | EOP | RS; POPTS IXSM/TXSM; special)
 *   TSO     the same with TUCMD | TSE | IP (IPv4) | TCP (TCP), PAYLEN =
 *           (dlen - HDRLEN) & 0xfffff (wrapping when HDRLEN > dlen), MSS =
 *           mss, and DCMD | TSE in the data descriptors
 *   DATA    data descriptors with TSE and no context descriptor (the
 *           device's previous context stays)
 * Context descriptor bytes: IPCSS, IPCSO, IPCSE:u16, TUCSS, TUCSO,
 * TUCSE:u16, PAYLEN[19:0] | TUCMD << 24, STA 0, HDRLEN, MSS:u16 (mss and
 * HDRLEN are in every context descriptor; PAYLEN 0 outside TSO). Legacy
 * descriptor: addr:u64, length:u16, CSO, CMD, STA 0, CSS, special:u16;
 * data descriptor: addr:u64, length[19:0] | DTYP 1 << 20 | DCMD << 24,
 * STA 0, POPTS, special:u16. Then
 * the shadow's tail advances by the descriptors written; unless NOKICK,
 * TDT = tail; with REAP, read TDH and ICR (e1000_clean_tx_irq).
 *
 * e1000_rx_post: read ICR (the interrupt handler), then count descriptors
 * from the shadow's RX tail on rewritten (buffer, status 0), the tail
 * advanced by count (mod nrx), RDT = tail.
 * The e1000 ops need a DMA window of at least HV_E1000_MIN_WINDOW bytes,
 * the host's mmio and mem callbacks, and an "e1000" bar-0 region of at
 * least 0x5800 bytes; else they are skipped.
 *
 * tpm_cmd (harness/program/tpmq.c), on the first mmio region whose device's
 * model is "tpm-crb" and whose bar (fixed-region index) is 0, as Linux
 * 6.1's tpm_crb driver sends one command (tpm_chip_start, crb_send,
 * crb_status polling, crb_recv, tpm_chip_stop); every access 4 bytes
 * unless said otherwise, offsets in the CRB region:
 *   - unless NOLOC or the shadow says the locality is held: LOC_CTRL (0x08)
 *     = 1 (requestAccess), LOC_STATE (0x00) polled for 0x82 (regValid |
 *     locAssigned); the shadow then holds the locality;
 *   - unless NOREADY: CTRL_REQ (0x40) = 1 (cmdReady), CTRL_REQ polled for
 *     bit 0 clear;
 *   - CTRL_CANCEL (0x48) = 0;
 *   - the command written to the data buffer (0x80 on) in 4-byte (WIDE: 8)
 *     mmio writes, the last one padded with zero bytes; unless RAWSIZE and
 *     when it is at least 6 bytes long, its header size field (bytes 2-5,
 *     big-endian) says the written length; CTRL_CMD_SIZE/ADDR and
 *     CTRL_RSP_SIZE/ADDR are left as the device has them (Linux only
 *     reads them, at probe);
 *   - CTRL_START (0x4c) = 1; with CANCEL, CTRL_CANCEL = 1 right after;
 *   - unless NOPOLL: CTRL_START polled for bit 0 clear, then CTRL_STS
 *     (0x44) read, the response's first 8 bytes read (one 8-byte read at
 *     0x80), and, when the size field in them is 10..HV_TPM_BUF_SIZE, the
 *     rest up to that size in 4-byte (WIDE: 8) reads from 0x88 on;
 *   - unless KEEP: CTRL_REQ = 2 (goIdle), CTRL_REQ polled for bit 1
 *     clear; and if the shadow holds the locality, LOC_CTRL = 2
 *     (relinquish), LOC_STATE polled for bit 1 clear, the shadow no longer
 *     holding it.
 * "Polled" is one read with hvfuzz's hosts; with a host settle callback,
 * up to HV_TPM_POLL_MAX more reads while the value differs, each after a
 * settle call that returned true. The op needs the host's mmio callbacks
 * and a "tpm-crb" region of at least HV_TPM_CRB_MIN_REGION bytes; else it
 * is skipped. It uses no DMA.
 *
 * DMA window layout used by the structure-aware ops (offsets in the window):
 *   virtio queue q (0..3): desc table  q*0x4000 + 0x0000 (256 * 16 bytes)
 *                   avail ring  q*0x4000 + 0x1000
 *                   used ring   q*0x4000 + 0x2000
 *                   indirect    q*0x4000 + 0x3000 (256 * 16 bytes)
 *   nvme:           admin SQ    0x0000 (32 * 64 bytes)
 *                   admin CQ    0x1000 (32 * 16 bytes)
 *                   I/O SQ qid  0x2000 + (qid-1)*0x1000 (64 * 64 bytes)
 *                   I/O CQ qid  0x6000 + (qid-1)*0x1000 (64 * 16 bytes)
 *                   shadow doorbells 0xa000, event indexes 0xb000
 *                   PRP list pages 0xc000, 0xd000
 *                   SGL segment pages 0xe000, 0xf000
 *                   (nvme_setup's identify buffer: a data area page)
 *   e1000:          TX ring     0x0000 (up to 256 * 16 bytes)
 *                   RX ring     0x1000 (up to 256 * 16 bytes)
 *                   RX buffers  0x8000 + (i % 16) * 0x800 (descriptor i)
 *   data buffers    0x10000 .. window end, handed out round-robin (shared
 *                   by all: the shadow's data_next).
 */
#ifndef HV_PROGRAM_H
#define HV_PROGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hv_opcode {
    HV_OP_MMIO_READ = 0x01,
    HV_OP_MMIO_WRITE = 0x02,
    HV_OP_PIO_READ = 0x03,
    HV_OP_PIO_WRITE = 0x04,
    HV_OP_CFG_READ = 0x05,
    HV_OP_CFG_WRITE = 0x06,
    HV_OP_DMA_WRITE = 0x07,
    HV_OP_DMA_FILL = 0x08,
    HV_OP_CLOCK_ADVANCE = 0x09,
    HV_OP_RX_INJECT = 0x0a,
    HV_OP_VIRTQ_SETUP = 0x10,
    HV_OP_VIRTQ_SUBMIT = 0x11,
    HV_OP_NVME_SETUP = 0x20,
    HV_OP_NVME_SUBMIT = 0x21,
    HV_OP_E1000_SETUP = 0x30,
    HV_OP_E1000_TX = 0x31,
    HV_OP_E1000_RX_POST = 0x32,
    HV_OP_TPM_CMD = 0x40,
};

#define HV_VIRTQ_MAX 4
#define HV_VIRTQ_MAX_SIZE 256
#define HV_VIRTQ_MAX_SEGS 14 /* 7 out + 7 in */
#define HV_VIRTQ_AREA 0x4000u
#define HV_VIRTQ_DESC_OFF 0x0000u
#define HV_VIRTQ_AVAIL_OFF 0x1000u
#define HV_VIRTQ_USED_OFF 0x2000u
#define HV_VIRTQ_INDIRECT_OFF 0x3000u
#define HV_DATA_AREA_OFF 0x10000u

#define HV_VIRTQ_MIN_WINDOW 0x20000u /* rings + a 64 KiB data area */

#define HV_SUBMIT_F_INDIRECT 0x01u
#define HV_SUBMIT_F_NOKICK 0x02u
#define HV_SUBMIT_F_NO_INTERRUPT 0x04u

#define HV_NVME_MAX_IOQ 4
#define HV_NVME_ADMIN_QSIZE 32u
#define HV_NVME_IOQ_MAX_SIZE 64u
#define HV_NVME_MAX_XFER 0x8000u /* bytes per nvme_submit buffer */
#define HV_NVME_PAGE 0x1000u     /* CC.MPS = 0 */
#define HV_NVME_ASQ_OFF 0x0000u
#define HV_NVME_ACQ_OFF 0x1000u
#define HV_NVME_IOSQ_OFF 0x2000u /* + (qid-1) * HV_NVME_PAGE */
#define HV_NVME_IOCQ_OFF 0x6000u /* + (qid-1) * HV_NVME_PAGE (page aligned, as
                                    Create I/O CQ requires with PC = 1) */
#define HV_NVME_DBS_OFF 0xa000u
#define HV_NVME_EIS_OFF 0xb000u
#define HV_NVME_PRP_OFF 0xc000u
#define HV_NVME_SGL_OFF 0xe000u
#define HV_NVME_MIN_WINDOW 0x20000u /* structures + a 64 KiB data area */
#define HV_NVME_BUF_OFFSET 0xe00u   /* OFFSET: buffer start in its page */

#define HV_NVME_SETUP_F_IDENTIFY 0x01u
#define HV_NVME_SETUP_F_NUM_QUEUES 0x02u
#define HV_NVME_SETUP_F_DBBUF 0x04u
#define HV_NVME_SETUP_F_CSS_NVM 0x08u

enum hv_nvme_dptr {
    HV_NVME_DPTR_PRP = 0,
    HV_NVME_DPTR_PRP1 = 1,
    HV_NVME_DPTR_LIST = 2,
    HV_NVME_DPTR_CHAIN = 3,
    HV_NVME_DPTR_SGL = 4,
    HV_NVME_DPTR_SGL_SEG = 5,
    HV_NVME_DPTR_SGL_BB = 6,
    HV_NVME_DPTR_NULL = 7,
};
#define HV_NVME_F_DPTR_MASK 0x07u
#define HV_NVME_F_OFFSET 0x08u
#define HV_NVME_F_ODD 0x10u
#define HV_NVME_F_NOKICK 0x20u
#define HV_NVME_F_NOREAP 0x40u

#define HV_E1000_MAX_DESC 256u
#define HV_E1000_TX_OFF 0x0000u
#define HV_E1000_RX_OFF 0x1000u
#define HV_E1000_RXBUF_OFF 0x8000u
#define HV_E1000_RXBUFS 16u
#define HV_E1000_RXBUF_SIZE 0x800u
#define HV_E1000_MAX_SPLIT 8u
#define HV_E1000_MIN_WINDOW 0x20000u /* rings, RX buffers, 64 KiB data */
#define HV_E1000_TX_HDR 14u          /* e1000_tx bytes before data */

#define HV_E1000_SETUP_F_EEPROM 0x01u
#define HV_E1000_SETUP_F_PHY 0x02u
#define HV_E1000_SETUP_F_PROMISC 0x04u
#define HV_E1000_SETUP_F_LPE 0x08u
#define HV_E1000_SETUP_F_LOOPBACK 0x10u
#define HV_E1000_SETUP_F_VLAN 0x20u
#define HV_E1000_SETUP_F_RXCSUM 0x40u
#define HV_E1000_SETUP_F_SECRC 0x80u

enum hv_e1000_tx_mode {
    HV_E1000_TX_LEGACY = 0,
    HV_E1000_TX_CTX = 1,
    HV_E1000_TX_TSO = 2,
    HV_E1000_TX_DATA = 3,
};
#define HV_E1000_TX_F_MODE_MASK 0x03u
#define HV_E1000_TX_F_AUTO 0x04u
#define HV_E1000_TX_F_IXSM 0x08u
#define HV_E1000_TX_F_TXSM 0x10u
#define HV_E1000_TX_F_VLE 0x20u
#define HV_E1000_TX_F_NOKICK 0x40u
#define HV_E1000_TX_F_REAP 0x80u

#define HV_TPM_BUF_SIZE 3968u       /* CRB data buffer: 0x80..0x1000 */
#define HV_TPM_CRB_MIN_REGION 0x1000u
#define HV_TPM_POLL_MAX 4096u

#define HV_TPM_F_NOLOC 0x01u
#define HV_TPM_F_NOREADY 0x02u
#define HV_TPM_F_NOPOLL 0x04u
#define HV_TPM_F_RAWSIZE 0x08u
#define HV_TPM_F_KEEP 0x10u
#define HV_TPM_F_WIDE 0x20u
#define HV_TPM_F_CANCEL 0x40u

/* ---- machine layout: one table per target ------------------------------ */

#define HV_NO_BDF 0xffu

struct hv_layout_device {
    const char *model; /* device model name, e.g. "virtio-blk" */
    const char *name;  /* instance name used in text programs */
    uint8_t bdf;       /* bus 0 device<<3|function, HV_NO_BDF if not PCI */
};

struct hv_layout_region {
    const char *name; /* text-form name, e.g. "bar4" */
    uint8_t dev;      /* index into devices */
    uint8_t bar;      /* PCI BAR, or fixed-region index for non-PCI */
    uint64_t base;    /* GPA or port, programmed into the BAR by every host */
    uint64_t size;
};

struct hv_layout {
    const char *target;
    const struct hv_layout_device *devs;
    uint8_t ndevs;
    const struct hv_layout_region *mmio;
    uint8_t nmmio;
    const struct hv_layout_region *pio;
    uint8_t npio;
    uint64_t dma_base, dma_size;
    /* structure-aware ops: index into mmio of the virtio modern BAR, or -1 */
    int8_t virtio_region;
    /* Optional init program (binary): the "initialized" variant of a target
     * runs it once, snapshots the machine, and starts every input from that
     * snapshot (and the driver shadow it left) instead of from reset. */
    const uint8_t *init;
    uint16_t init_len;
};

/* All targets' layouts, NULL-terminated; and lookup by target name. */
extern const struct hv_layout *const hv_layouts[];
const struct hv_layout *hv_layout_find(const char *target);

/* ---- what a host provides to execute a program ------------------------- */

/* Absolute addresses only: the program code turns (region, off) into
 * GPAs/ports from the layout, exactly as the guest agent does. */
struct hv_exec_ops {
    uint64_t (*mmio_read)(void *ctx, uint64_t gpa, unsigned size);
    void (*mmio_write)(void *ctx, uint64_t gpa, unsigned size, uint64_t val);
    uint32_t (*pio_read)(void *ctx, uint16_t port, unsigned size);
    void (*pio_write)(void *ctx, uint16_t port, unsigned size, uint32_t val);
    uint32_t (*cfg_read)(void *ctx, uint8_t bdf, uint8_t off, unsigned size);
    void (*cfg_write)(void *ctx, uint8_t bdf, uint8_t off, unsigned size,
                      uint32_t val);
    /* The driver writing / reading its own RAM (the DMA window), by GPA. */
    void (*mem_write)(void *ctx, uint64_t gpa, const void *buf, uint32_t len);
    void (*mem_fill)(void *ctx, uint64_t gpa, uint8_t byte, uint32_t len);
    void (*mem_read)(void *ctx, uint64_t gpa, void *buf, uint32_t len);
    void (*clock_advance)(void *ctx, uint32_t ns);
    void (*rx_inject)(void *ctx, const uint8_t *buf, uint32_t len);
    /* Optional: let a device that works asynchronously (stock QEMU's,
     * under the agent) make progress before the driver looks for a result;
     * returns false when waiting is pointless (hvfuzz's own models finish
     * their work inside the access). NULL: never wait. Structure-aware ops
     * call it in a bounded loop; it issues no op, so traces are unchanged. */
    bool (*settle)(void *ctx);
};

/* "Boot" the layout's PCI devices through ops->cfg_read/cfg_write only, as
 * firmware would (harness/program/boot.c): every BAR named by a layout region
 * written with the region's base (its low dword read first: a 64-bit memory
 * BAR also gets the high dword), then the command register of every PCI
 * device set to I/O | memory | bus master. The in-process host and the guest
 * agent (after QEMU's firmware, too) both boot this way. */
void hv_program_boot(const struct hv_layout *l, const struct hv_exec_ops *ops,
                     void *ctx);

/* ---- driver shadow: state of the structure-aware ops ------------------- */

struct hv_virtq_shadow {
    uint16_t size;      /* 0: not set up */
    uint16_t avail_idx; /* next avail index the driver publishes */
    uint16_t next_desc; /* next free descriptor slot */
    uint16_t next_ind;  /* next free entry of the queue's indirect area */
};

struct hv_nvme_queue {
    uint16_t size;    /* entries; 0: not set up */
    uint16_t sq_tail; /* next SQ slot the driver writes */
    uint16_t cq_head; /* next CQ entry the driver reads */
    uint8_t phase;    /* phase bit the next new CQ entry carries */
};

struct hv_nvme_shadow {
    struct hv_nvme_queue q[1 + HV_NVME_MAX_IOQ]; /* 0: admin */
    uint8_t nioq;   /* I/O queue pairs set up */
    uint8_t dstrd;  /* CAP.DSTRD */
    uint8_t dbbuf;  /* shadow doorbells configured */
    uint8_t ready;  /* nvme_setup ran */
    uint16_t cid;   /* next command identifier */
};

struct hv_e1000_shadow {
    uint16_t ntx, nrx;  /* ring sizes; 0: e1000_setup has not run */
    uint16_t tx_tail;   /* next TX descriptor the driver writes */
    uint16_t rx_tail;   /* RDT as last written */
};

struct hv_tpm_shadow {
    uint8_t locality; /* the driver holds locality 0 (tpm_cmd KEEP) */
};

struct hv_shadow {
    struct hv_virtq_shadow vq[HV_VIRTQ_MAX];
    uint8_t nvq;
    uint64_t features;  /* negotiated */
    uint32_t data_next; /* next free byte in the data area (window offset) */
    struct hv_nvme_shadow nvme;
    struct hv_e1000_shadow e1000;
    struct hv_tpm_shadow tpm;
};

void hv_shadow_reset(struct hv_shadow *sh);

/* ---- decoding single ops ------------------------------------------------ */

/* One decoded op: the raw operand values, exactly as encoded (no reduction).
 * Which fields an opcode uses:
 *   mmio_read/write   region off size [val]
 *   pio_read/write    region off size [val]
 *   pci_cfg_read/write region(=dev) off size [val]
 *   dma_write         off data/len        dma_fill  off len val(=byte)
 *   clock_advance     val(=ns)            rx_inject data/len
 *   virtq_setup       val(=features) region(=nqueues) len(=qsize)
 *   virtq_submit      region(=vq) flags nout nin seg[] data/len(=dlen)
 *   nvme_setup        region(=ioqs) len(=qsize) flags
 *   nvme_submit       region(=q) flags val(=opc) dw[0](=nsid)
 *                     dw[1..6](=cdw10..cdw15) off(=xfer) data/len(=dlen)
 *   e1000_setup       flags region(=ntx) size(=nrx)
 *   e1000_tx          flags nout(=nseg) off(=mss) size(=hdrlen)
 *                     val(=special) dw[0..3](=ipcss ipcso tucss tucso)
 *                     data/len(=dlen)
 *   e1000_rx_post     region(=n)
 *   tpm_cmd           flags data/len
 * `data` points into the decoded buffer (not copied). */
struct hv_op {
    uint8_t code;  /* opcode byte */
    bool known;    /* false: unassigned opcode, skipped (1 byte) */
    uint8_t region;
    uint8_t size;
    uint8_t flags;
    uint8_t nout, nin; /* raw counts; nout & 7, nin & 7 segments */
    uint32_t off;
    uint32_t len;
    uint64_t val;
    uint16_t seg[HV_VIRTQ_MAX_SEGS]; /* nout&7 out lengths then nin&7 in */
    uint32_t dw[7];                  /* nvme_submit: nsid, cdw10..cdw15 */
    const uint8_t *data;
};

/* Longest op encoding: nvme_submit (38 header bytes; virtq_submit with 14
 * segments has 35) with 64 KiB of data. */
#define HV_NVME_SUBMIT_HDR 38u
#define HV_OP_MAX_BYTES (HV_NVME_SUBMIT_HDR + 0xffffu)

/* Decode the op at p[0..n). Returns the bytes it occupies (1 for an
 * unassigned opcode, op->known = false), or 0 when n == 0 or its operands
 * are cut off (the program ends there). */
size_t hv_op_decode(const uint8_t *p, size_t n, struct hv_op *op);

/* Inverse of hv_op_decode for a known opcode: writes the encoding of `op`
 * (raw values as they are; len/data for ops that carry data) into buf.
 * Returns the byte count, or 0 if it does not fit in cap or the opcode is
 * unassigned. hv_op_decode(hv_op_encode(op)) reproduces op. */
size_t hv_op_encode(const struct hv_op *op, uint8_t *buf, size_t cap);

/* Name of an assigned opcode ("mmio_write"), or NULL. */
const char *hv_op_name(uint8_t code);

/* Execute one decoded op (reduction, address resolution, expansion). Returns
 * false if the op was skipped (unassigned opcode, empty table, ...). */
bool hv_op_exec(const struct hv_layout *l, const struct hv_op *op,
                const struct hv_exec_ops *ops, void *ctx,
                struct hv_shadow *sh);

/* Resolved (reduced) form of a raw region access, as hv_op_exec computes
 * it, for op->code HV_OP_MMIO_*, HV_OP_PIO_* and HV_OP_CFG_* (others:
 * false).
 * Returns false when the op is skipped. *addr is the GPA / port / config
 * offset, *bdf is set for cfg, *size the access size. */
bool hv_op_resolve(const struct hv_layout *l, const struct hv_op *op,
                   uint64_t *addr, unsigned *size, uint8_t *bdf);

/* Run a whole program from its first byte. Returns the number of ops
 * executed (expanded structure-aware ops count once; unassigned opcodes and
 * skipped ops do not count). The shadow is reset first: every input starts
 * from the device's reset state. */
unsigned hv_program_run(const struct hv_layout *l, const uint8_t *prog,
                        size_t len, const struct hv_exec_ops *ops, void *ctx,
                        struct hv_shadow *sh);
/* The same, continuing from the driver shadow as it is (after an init
 * program restored from a snapshot). */
unsigned hv_program_continue(const struct hv_layout *l, const uint8_t *prog,
                             size_t len, const struct hv_exec_ops *ops,
                             void *ctx, struct hv_shadow *sh);
/* Ablation (bench/bugbench's "raw ops only"): the same, with every
 * structure-aware opcode (>= HV_OP_VIRTQ_SETUP) skipped as if unassigned. */
unsigned hv_program_continue_raw(const struct hv_layout *l, const uint8_t *prog,
                                 size_t len, const struct hv_exec_ops *ops,
                                 void *ctx, struct hv_shadow *sh);

#endif
