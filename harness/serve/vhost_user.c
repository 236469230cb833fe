/*
 * vhost-user wire protocol: framing, descriptors, replies, payload decoding.
 * See vhost_user.h for the bounds every message is held to.
 */
#define _GNU_SOURCE
#include "harness/serve/vhost_user.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Descriptors of one control message: SCM_RIGHTS, at most VU_MAX_FDS. */
static int take_cmsg_fds(struct msghdr *mh, struct vu_msg *m, const char **err)
{
    int rc = 0;

    if (mh->msg_flags & MSG_CTRUNC) {
        *err = "more file descriptors than the protocol allows (8)";
        rc = -1;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        size_t n;
        int fds[VU_MAX_FDS];

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        n = n > VU_MAX_FDS ? VU_MAX_FDS : n;
        memcpy(fds, CMSG_DATA(c), n * sizeof(int));
        for (size_t i = 0; i < n; i++) {
            if (m->nfds < VU_MAX_FDS) {
                m->fds[m->nfds++] = fds[i];
            } else {
                close(fds[i]);
                *err = "more file descriptors than the protocol allows (8)";
                rc = -1;
            }
        }
    }
    return rc;
}

/* Read exactly `len` bytes; 0 bytes at the start of a message is a clean
 * close (returns 0). */
static int recv_exact(int sock, void *buf, size_t len, bool at_start,
                      struct vu_msg *m, const char **err)
{
    size_t got = 0;

    while (got < len) {
        union {
            char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {(char *)buf + got, len - got};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = ctl.buf,
                            .msg_controllen = sizeof(ctl.buf)};
        ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *err = errno == EAGAIN || errno == EWOULDBLOCK
                       ? "no complete message within 10 s"
                       : strerror(errno);
            return -1;
        }
        if (n == 0) {
            if (at_start && got == 0)
                return 0;
            *err = "connection closed in the middle of a message";
            return -1;
        }
        if (take_cmsg_fds(&mh, m, err))
            return -1;
        got += (size_t)n;
    }
    return 1;
}

static int check_header(const struct vu_msg *m, const char **err)
{
    if ((m->flags & VU_FLAG_VERSION_MASK) != VU_VERSION) {
        *err = "unsupported protocol version (flags & 3 != 1)";
        return -1;
    }
    if (m->size > VU_MAX_PAYLOAD) {
        *err = "payload larger than 1024 bytes";
        return -1;
    }
    return 0;
}

int vu_recv(int sock, struct vu_msg *m, const char **err)
{
    uint8_t hdr[VU_HDR_SIZE];
    int rc;

    m->nfds = 0;
    m->size = 0;
    rc = recv_exact(sock, hdr, sizeof(hdr), true, m, err);
    if (rc == 1) {
        memcpy(&m->request, hdr, 4);
        memcpy(&m->flags, hdr + 4, 4);
        memcpy(&m->size, hdr + 8, 4);
        rc = check_header(m, err) ? -1 : 1;
    }
    if (rc == 1 && m->size)
        rc = recv_exact(sock, m->payload, m->size, false, m, err);
    if (rc != 1)
        vu_close_fds(m);
    return rc;
}

void vu_close_fds(struct vu_msg *m)
{
    for (unsigned i = 0; i < m->nfds; i++)
        if (m->fds[i] >= 0)
            close(m->fds[i]);
    m->nfds = 0;
}

int vu_take_fd(struct vu_msg *m, unsigned i)
{
    int fd;

    if (i >= m->nfds)
        return -1;
    fd = m->fds[i];
    m->fds[i] = -1;
    return fd;
}

static int send_all(int sock, const uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t n = send(sock, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int vu_reply(int sock, const struct vu_msg *req, const void *payload,
             uint32_t size)
{
    uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
    uint32_t flags = VU_VERSION | VU_FLAG_REPLY;

    if (size > VU_MAX_PAYLOAD)
        return -1;
    memcpy(buf, &req->request, 4);
    memcpy(buf + 4, &flags, 4);
    memcpy(buf + 8, &size, 4);
    if (size)
        memcpy(buf + VU_HDR_SIZE, payload, size);
    return send_all(sock, buf, VU_HDR_SIZE + size);
}

int vu_reply_u64(int sock, const struct vu_msg *req, uint64_t v)
{
    return vu_reply(sock, req, &v, sizeof(v));
}

int vu_get_u64(const struct vu_msg *m, uint64_t *v)
{
    if (m->size != VU_U64_SIZE)
        return -1;
    memcpy(v, m->payload, 8);
    return 0;
}

int vu_get_state(const struct vu_msg *m, struct vu_state *s)
{
    if (m->size != VU_STATE_SIZE)
        return -1;
    memcpy(&s->index, m->payload, 4);
    memcpy(&s->num, m->payload + 4, 4);
    return 0;
}

int vu_get_addr(const struct vu_msg *m, struct vu_addr *a)
{
    if (m->size != VU_ADDR_SIZE)
        return -1;
    memcpy(&a->index, m->payload, 4);
    memcpy(&a->flags, m->payload + 4, 4);
    memcpy(&a->desc, m->payload + 8, 8);
    memcpy(&a->used, m->payload + 16, 8);
    memcpy(&a->avail, m->payload + 24, 8);
    memcpy(&a->log, m->payload + 32, 8);
    return 0;
}

const char *vu_request_name(uint32_t request)
{
    static const char *const names[] = {
        [VU_GET_FEATURES] = "GET_FEATURES",
        [VU_SET_FEATURES] = "SET_FEATURES",
        [VU_SET_OWNER] = "SET_OWNER",
        [VU_RESET_OWNER] = "RESET_OWNER",
        [VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
        [VU_SET_LOG_BASE] = "SET_LOG_BASE",
        [VU_SET_LOG_FD] = "SET_LOG_FD",
        [VU_SET_VRING_NUM] = "SET_VRING_NUM",
        [VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
        [VU_SET_VRING_BASE] = "SET_VRING_BASE",
        [VU_GET_VRING_BASE] = "GET_VRING_BASE",
        [VU_SET_VRING_KICK] = "SET_VRING_KICK",
        [VU_SET_VRING_CALL] = "SET_VRING_CALL",
        [VU_SET_VRING_ERR] = "SET_VRING_ERR",
        [VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
        [VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
        [VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
        [VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
        [VU_GET_CONFIG] = "GET_CONFIG",
        [VU_SET_CONFIG] = "SET_CONFIG",
        [VU_RESET_DEVICE] = "RESET_DEVICE",
        [VU_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
    };

    if (request < sizeof(names) / sizeof(names[0]) && names[request])
        return names[request];
    return "unknown request";
}
