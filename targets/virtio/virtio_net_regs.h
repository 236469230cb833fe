/*
 * virtio-net constants (virtio 1.2 section 5.1), shared by the device model
 * (targets/virtio/virtio_net.c) and the driver-side text sugar
 * (harness/program/text.c): feature bits (5.1.3), the device configuration
 * layout (5.1.4), the packet header (5.1.6) and the control virtqueue
 * classes and commands (5.1.6.5). Freestanding: macros only.
 */
#ifndef HV_VIRTIO_NET_REGS_H
#define HV_VIRTIO_NET_REGS_H

#define VIRTIO_ID_NET 1
#define VIRTIO_PCI_DEVICE_ID_NET_TRANSITIONAL 0x1000
#define VIRTIO_PCI_CLASS_NETWORK_ETHERNET 0x020000u

/* 5.1.3 feature bits */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS 2
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_CTRL_RX 18
#define VIRTIO_NET_F_CTRL_VLAN 19
#define VIRTIO_NET_F_CTRL_RX_EXTRA 20
#define VIRTIO_NET_F_GUEST_ANNOUNCE 21
#define VIRTIO_NET_F_MQ 22
#define VIRTIO_NET_F_CTRL_MAC_ADDR 23

/* 5.1.4 struct virtio_net_config, offsets */
#define VIRTIO_NET_CFG_MAC 0x00       /* u8[6] */
#define VIRTIO_NET_CFG_STATUS 0x06    /* le16 */
#define VIRTIO_NET_CFG_MAX_VQ_PAIRS 0x08 /* le16 */
#define VIRTIO_NET_CFG_MTU 0x0a       /* le16 */
/* QEMU sizes the structure by the offered features (5.1.4: the fields
 * exist if their feature is offered). */
#define VIRTIO_NET_CFG_LEN_STATUS 0x08u /* mac + status */
#define VIRTIO_NET_CFG_LEN_MQ 0x0au     /* + max_virtqueue_pairs */
#define VIRTIO_NET_CFG_LEN_MTU 0x0cu    /* + mtu */

#define VIRTIO_NET_S_LINK_UP 1u
#define VIRTIO_NET_S_ANNOUNCE 2u

/* 5.1.6 struct virtio_net_hdr */
#define VIRTIO_NET_HDR_FLAGS 0u       /* u8 */
#define VIRTIO_NET_HDR_GSO_TYPE 1u    /* u8 */
#define VIRTIO_NET_HDR_HDR_LEN 2u     /* le16 */
#define VIRTIO_NET_HDR_GSO_SIZE 4u    /* le16 */
#define VIRTIO_NET_HDR_CSUM_START 6u  /* le16 */
#define VIRTIO_NET_HDR_CSUM_OFFSET 8u /* le16 */
#define VIRTIO_NET_HDR_NUM_BUFFERS 10u /* le16 */
#define VIRTIO_NET_HDR_LEN_LEGACY 10u  /* legacy without MRG_RXBUF */
#define VIRTIO_NET_HDR_LEN 12u

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1u
#define VIRTIO_NET_HDR_F_DATA_VALID 2u
#define VIRTIO_NET_HDR_F_RSC_INFO 4u
#define VIRTIO_NET_HDR_GSO_NONE 0u
#define VIRTIO_NET_HDR_GSO_TCPV4 1u
#define VIRTIO_NET_HDR_GSO_UDP 3u
#define VIRTIO_NET_HDR_GSO_TCPV6 4u
#define VIRTIO_NET_HDR_GSO_ECN 0x80u

/* 5.1.6.5 control virtqueue: u8 class, u8 command, data, u8 ack */
#define VIRTIO_NET_CTRL_HDR_LEN 2u
#define VIRTIO_NET_OK 0u
#define VIRTIO_NET_ERR 1u

#define VIRTIO_NET_CTRL_RX 0
#define VIRTIO_NET_CTRL_RX_PROMISC 0
#define VIRTIO_NET_CTRL_RX_ALLMULTI 1
#define VIRTIO_NET_CTRL_RX_ALLUNI 2
#define VIRTIO_NET_CTRL_RX_NOMULTI 3
#define VIRTIO_NET_CTRL_RX_NOUNI 4
#define VIRTIO_NET_CTRL_RX_NOBCAST 5

#define VIRTIO_NET_CTRL_MAC 1
#define VIRTIO_NET_CTRL_MAC_TABLE_SET 0
#define VIRTIO_NET_CTRL_MAC_ADDR_SET 1

#define VIRTIO_NET_CTRL_VLAN 2
#define VIRTIO_NET_CTRL_VLAN_ADD 0
#define VIRTIO_NET_CTRL_VLAN_DEL 1

#define VIRTIO_NET_CTRL_ANNOUNCE 3
#define VIRTIO_NET_CTRL_ANNOUNCE_ACK 0

#define VIRTIO_NET_CTRL_MQ 4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VIRTIO_NET_CTRL_MQ_RSS_CONFIG 1
#define VIRTIO_NET_CTRL_MQ_HASH_CONFIG 2
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN 1u
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX 0x8000u

#define VIRTIO_NET_CTRL_GUEST_OFFLOADS 5
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET 0

#define VIRTIO_NET_MAC_TABLE_ENTRIES 64u /* QEMU's MAC_TABLE_ENTRIES */
#define VIRTIO_NET_MAX_VLAN 4096u
#define VIRTIO_NET_ETH_ALEN 6u

#endif
