/*
 * Virtio 1.2 constants shared by the device models (targets/virtio) and the
 * driver-side op expansion (harness/program): device status, feature bits,
 * split-virtqueue layout (section 2.7), the modern virtio-pci capabilities
 * and common configuration layout (section 4.1.4), virtio-blk (section 5.2).
 * The BAR layout mirrors QEMU 7.2's virtio-pci (see the trace in
 * tests/targets/virtio/data/).
 */
#ifndef HV_VIRTIO_REGS_H
#define HV_VIRTIO_REGS_H

/* 2.1 device status */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01u
#define VIRTIO_STATUS_DRIVER 0x02u
#define VIRTIO_STATUS_DRIVER_OK 0x04u
#define VIRTIO_STATUS_FEATURES_OK 0x08u
#define VIRTIO_STATUS_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED 0x80u

/* 6 reserved feature bits */
#define VIRTIO_F_NOTIFY_ON_EMPTY 24 /* legacy interface only */
#define VIRTIO_F_ANY_LAYOUT 27      /* legacy interface only */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED 34
#define VIRTIO_F_RING_RESET 40
#define VIRTIO_F_BAD_FEATURE 30 /* QEMU: legacy "driver did not negotiate" */

/* 2.7.5 descriptor flags */
#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY 1u

#define VIRTQ_DESC_SIZE 16u      /* le64 addr, le32 len, le16 flags, le16 next */
#define VIRTQ_AVAIL_HDR 4u       /* le16 flags, le16 idx, then ring[] */
#define VIRTQ_USED_HDR 4u        /* le16 flags, le16 idx, then ring[] */
#define VIRTQ_USED_ELEM_SIZE 8u  /* le32 id, le32 len */
#define VIRTQ_MAX_SIZE 32768u

/* 4.1.4 virtio-pci capabilities (cfg_type) */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5

/* 4.1.4.3 common configuration structure, offsets within it */
#define VIRTIO_PCI_COMMON_DFSELECT 0x00   /* le32 device_feature_select */
#define VIRTIO_PCI_COMMON_DF 0x04         /* le32 device_feature (ro) */
#define VIRTIO_PCI_COMMON_GFSELECT 0x08   /* le32 driver_feature_select */
#define VIRTIO_PCI_COMMON_GF 0x0c         /* le32 driver_feature */
#define VIRTIO_PCI_COMMON_MSIX 0x10       /* le16 config_msix_vector */
#define VIRTIO_PCI_COMMON_NUMQ 0x12       /* le16 num_queues (ro) */
#define VIRTIO_PCI_COMMON_STATUS 0x14     /* u8 device_status */
#define VIRTIO_PCI_COMMON_CFGGENERATION 0x15 /* u8 (ro) */
#define VIRTIO_PCI_COMMON_Q_SELECT 0x16   /* le16 */
#define VIRTIO_PCI_COMMON_Q_SIZE 0x18     /* le16 */
#define VIRTIO_PCI_COMMON_Q_MSIX 0x1a     /* le16 */
#define VIRTIO_PCI_COMMON_Q_ENABLE 0x1c   /* le16 */
#define VIRTIO_PCI_COMMON_Q_NOFF 0x1e     /* le16 queue_notify_off (ro) */
#define VIRTIO_PCI_COMMON_Q_DESCLO 0x20
#define VIRTIO_PCI_COMMON_Q_DESCHI 0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO 0x28
#define VIRTIO_PCI_COMMON_Q_AVAILHI 0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO 0x30
#define VIRTIO_PCI_COMMON_Q_USEDHI 0x34
#define VIRTIO_PCI_COMMON_SIZE 0x38
#define VIRTIO_PCI_COMMON_Q_NDATA 0x38    /* le16 queue_notify_data (ro) */
#define VIRTIO_PCI_COMMON_Q_RESET 0x3a    /* le16 queue_reset (RING_RESET) */

/* 4.1.4 capability structure sizes and field offsets */
#define VIRTIO_PCI_CAP_LEN 16u         /* struct virtio_pci_cap */
#define VIRTIO_PCI_NOTIFY_CAP_LEN 20u  /* + le32 notify_off_multiplier */
#define VIRTIO_PCI_CFG_CAP_LEN 20u     /* + u8 pci_cfg_data[4] */
#define VIRTIO_PCI_CAP_CFG_TYPE 3u
#define VIRTIO_PCI_CAP_BAR 4u
#define VIRTIO_PCI_CAP_OFFSET 8u
#define VIRTIO_PCI_CAP_LENGTH 12u
#define VIRTIO_PCI_CAP_NOTIFY_MULT 16u
#define VIRTIO_PCI_CAP_CFG_DATA 16u

/* 4.1.4.10 legacy interface: I/O BAR 0 of a transitional device */
#define VIRTIO_PCI_LEGACY_BAR 0
#define VIRTIO_PCI_LEGACY_BAR_SIZE 0x80u
#define VIRTIO_PCI_LEGACY_HOST_FEATURES 0x00  /* le32 (ro) */
#define VIRTIO_PCI_LEGACY_GUEST_FEATURES 0x04 /* le32 */
#define VIRTIO_PCI_LEGACY_QUEUE_PFN 0x08      /* le32, page frame >> 12 */
#define VIRTIO_PCI_LEGACY_QUEUE_NUM 0x0c      /* le16 (ro) */
#define VIRTIO_PCI_LEGACY_QUEUE_SEL 0x0e      /* le16 */
#define VIRTIO_PCI_LEGACY_QUEUE_NOTIFY 0x10   /* le16 */
#define VIRTIO_PCI_LEGACY_STATUS 0x12         /* u8 */
#define VIRTIO_PCI_LEGACY_ISR 0x13            /* u8, read clears */
#define VIRTIO_PCI_LEGACY_MSIX_CONFIG 0x14    /* le16, only with MSI-X on */
#define VIRTIO_PCI_LEGACY_MSIX_QUEUE 0x16     /* le16, only with MSI-X on */
#define VIRTIO_PCI_LEGACY_CONFIG_OFF 0x14u    /* device cfg, MSI-X off */
#define VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX 0x18u
#define VIRTIO_PCI_LEGACY_PFN_SHIFT 12
#define VIRTIO_PCI_LEGACY_VRING_ALIGN 4096u

/* QEMU 7.2 virtio-pci modern BAR layout (BAR 4, 16 KiB, 64-bit prefetchable;
 * MSI-X in BAR 1, 4 KiB; legacy I/O in BAR 0 when transitional). */
#define VIRTIO_PCI_MODERN_BAR 4
#define VIRTIO_PCI_MODERN_BAR_SIZE 0x4000u
#define VIRTIO_PCI_MSIX_BAR 1
#define VIRTIO_PCI_MSIX_BAR_SIZE 0x1000u
#define VIRTIO_PCI_MSIX_PBA_OFF 0x800u
#define VIRTIO_PCI_COMMON_OFF 0x0000u
#define VIRTIO_PCI_ISR_OFF 0x1000u
#define VIRTIO_PCI_DEVICE_OFF 0x2000u
#define VIRTIO_PCI_NOTIFY_OFF 0x3000u
#define VIRTIO_PCI_REGION_SIZE 0x1000u
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4u /* queue_notify_off = queue index */
#define VIRTIO_PCI_CAP_MSIX_OFF 0x98
#define VIRTIO_PCI_CAP_PCICFG_OFF 0x84
#define VIRTIO_PCI_CAP_NOTIFY_OFF 0x70
#define VIRTIO_PCI_CAP_DEVICE_OFF 0x60
#define VIRTIO_PCI_CAP_ISR_OFF 0x50
#define VIRTIO_PCI_CAP_COMMON_OFF 0x40
#define VIRTIO_PCI_VENDOR_ID 0x1af4
#define VIRTIO_PCI_ISR_QUEUE 0x1u
#define VIRTIO_PCI_ISR_CONFIG 0x2u
#define VIRTIO_PCI_QUEUE_SEL_MAX 1024u /* QEMU's VIRTIO_QUEUE_MAX */

/* 5.2 virtio-blk */
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_PCI_DEVICE_ID_BLK_TRANSITIONAL 0x1001
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_PCI_CLASS_STORAGE_SCSI 0x010000u /* QEMU's class for blk */

/* 5.2.4 struct virtio_blk_config, offsets */
#define VIRTIO_BLK_CFG_CAPACITY 0x00       /* le64 */
#define VIRTIO_BLK_CFG_SIZE_MAX 0x08       /* le32 */
#define VIRTIO_BLK_CFG_SEG_MAX 0x0c        /* le32 */
#define VIRTIO_BLK_CFG_CYLINDERS 0x10      /* le16 */
#define VIRTIO_BLK_CFG_HEADS 0x12          /* u8 */
#define VIRTIO_BLK_CFG_SECTORS 0x13        /* u8 */
#define VIRTIO_BLK_CFG_BLK_SIZE 0x14       /* le32 */
#define VIRTIO_BLK_CFG_PHYS_BLOCK_EXP 0x18 /* u8 */
#define VIRTIO_BLK_CFG_ALIGN_OFFSET 0x19   /* u8 */
#define VIRTIO_BLK_CFG_MIN_IO_SIZE 0x1a    /* le16 */
#define VIRTIO_BLK_CFG_OPT_IO_SIZE 0x1c    /* le32 */
#define VIRTIO_BLK_CFG_WRITEBACK 0x20      /* u8 */
#define VIRTIO_BLK_CFG_NUM_QUEUES 0x22     /* le16 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 0x24 /* le32 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG 0x28     /* le32 */
#define VIRTIO_BLK_CFG_DISCARD_ALIGN 0x2c       /* le32 */
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS 0x30      /* le32 */
#define VIRTIO_BLK_CFG_MAX_WZ_SEG 0x34          /* le32 */
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP 0x38        /* u8 */
#define VIRTIO_BLK_CFG_LEN 0x39 /* QEMU 7.2 with DISCARD + WRITE_ZEROES */

#define VIRTIO_BLK_T_IN 0u
#define VIRTIO_BLK_T_OUT 1u
#define VIRTIO_BLK_T_FLUSH 4u
#define VIRTIO_BLK_T_GET_ID 8u
#define VIRTIO_BLK_T_DISCARD 11u
#define VIRTIO_BLK_T_WRITE_ZEROES 13u

#define VIRTIO_BLK_S_OK 0u
#define VIRTIO_BLK_S_IOERR 1u
#define VIRTIO_BLK_S_UNSUPP 2u

#define VIRTIO_BLK_SECTOR_SIZE 512u
#define VIRTIO_BLK_ID_BYTES 20u
#define VIRTIO_BLK_REQ_HDR_SIZE 16u /* le32 type, le32 reserved, le64 sector */
/* 5.2.6 struct virtio_blk_discard_write_zeroes: le64 sector, le32
 * num_sectors, le32 flags */
#define VIRTIO_BLK_DWZ_SEG_SIZE 16u
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u

#endif
