/*
 * vhost-user wire protocol, back-end side (QEMU docs/interop/vhost-user.rst):
 * a 12-byte header {request, flags, size}, a payload of `size` bytes in
 * native byte order, file descriptors as SCM_RIGHTS ancillary data.
 *
 * Everything the front-end sends is bounded here: the payload by
 * VU_MAX_PAYLOAD, the descriptors by VU_MAX_FDS (more, or a truncated
 * control message, ends the connection). Payload layouts are decoded with
 * memcpy into aligned structs, never cast.
 */
#ifndef HV_VHOST_USER_H
#define HV_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Front-end requests (the subset this back-end knows by name). */
enum vu_request {
    VU_GET_FEATURES = 1,
    VU_SET_FEATURES = 2,
    VU_SET_OWNER = 3,
    VU_RESET_OWNER = 4,
    VU_SET_MEM_TABLE = 5,
    VU_SET_LOG_BASE = 6,
    VU_SET_LOG_FD = 7,
    VU_SET_VRING_NUM = 8,
    VU_SET_VRING_ADDR = 9,
    VU_SET_VRING_BASE = 10,
    VU_GET_VRING_BASE = 11,
    VU_SET_VRING_KICK = 12,
    VU_SET_VRING_CALL = 13,
    VU_SET_VRING_ERR = 14,
    VU_GET_PROTOCOL_FEATURES = 15,
    VU_SET_PROTOCOL_FEATURES = 16,
    VU_GET_QUEUE_NUM = 17,
    VU_SET_VRING_ENABLE = 18,
    VU_GET_CONFIG = 24,
    VU_SET_CONFIG = 25,
    VU_RESET_DEVICE = 34,
    VU_GET_MAX_MEM_SLOTS = 36,
};

#define VU_VERSION 1u
#define VU_FLAG_VERSION_MASK 0x3u
#define VU_FLAG_REPLY (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)

/* Feature bit 30 of GET/SET_FEATURES: the protocol-features extension. */
#define VU_F_PROTOCOL_FEATURES 30
/* Protocol feature bits. */
#define VU_PROTOCOL_F_MQ 0
#define VU_PROTOCOL_F_REPLY_ACK 3
#define VU_PROTOCOL_F_CONFIG 9
#define VU_PROTOCOL_F_RESET_DEVICE 13

#define VU_HDR_SIZE 12u
#define VU_MAX_PAYLOAD 1024u
#define VU_MAX_FDS 8u
#define VU_MAX_REGIONS 8u  /* VHOST_MEMORY_BASELINE_NREGIONS */
#define VU_MAX_CONFIG 256u /* VHOST_USER_MAX_CONFIG_SIZE */

/* Payload sizes. */
#define VU_U64_SIZE 8u
#define VU_STATE_SIZE 8u      /* {u32 index, u32 num} */
#define VU_ADDR_SIZE 40u      /* {u32 index, flags; u64 desc, used, avail, log} */
#define VU_REGION_SIZE 32u    /* {u64 gpa, size, uva, mmap_offset} */
#define VU_MEM_HDR_SIZE 8u    /* {u32 nregions, u32 padding} */
#define VU_CONFIG_HDR_SIZE 12u /* {u32 offset, size, flags} */

/* Bits 0-7 of a vring fd message: the index; bit 8: no fd (polling). */
#define VU_VRING_IDX_MASK 0xffu
#define VU_VRING_NOFD (1ull << 8)

struct vu_msg {
    uint32_t request;
    uint32_t flags;
    uint32_t size;
    uint8_t payload[VU_MAX_PAYLOAD];
    int fds[VU_MAX_FDS];
    unsigned nfds;
};

struct vu_state {
    uint32_t index, num;
};

struct vu_addr {
    uint32_t index, flags;
    uint64_t desc, used, avail, log;
};

struct vu_region {
    uint64_t gpa, size, uva, mmap_offset;
};

/* Read one message (blocking). 1: got one; 0: the peer closed the
 * connection between messages; -1: I/O error or a malformed message
 * (*err says which); no descriptor is left open then. */
int vu_recv(int sock, struct vu_msg *m, const char **err);
/* Close the descriptors the handlers did not take (fds[i] >= 0). */
void vu_close_fds(struct vu_msg *m);
/* Take descriptor i (ownership moves to the caller), or -1. */
int vu_take_fd(struct vu_msg *m, unsigned i);

/* Replies: the request's header with the REPLY flag and this payload. */
int vu_reply(int sock, const struct vu_msg *req, const void *payload,
             uint32_t size);
int vu_reply_u64(int sock, const struct vu_msg *req, uint64_t v);

/* Payload decoders; each checks the size exactly. 0 or -1. */
int vu_get_u64(const struct vu_msg *m, uint64_t *v);
int vu_get_state(const struct vu_msg *m, struct vu_state *s);
int vu_get_addr(const struct vu_msg *m, struct vu_addr *a);

const char *vu_request_name(uint32_t request);

#endif
