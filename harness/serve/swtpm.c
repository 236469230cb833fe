/*
 * hvfuzz-serve tpm: serve hvfuzz's TPM 2.0 model (targets/tpm, the code
 * the tpm-cmd / tpm-crb / tpm-diff fuzz targets run) the way swtpm serves
 * libtpms, so that QEMU's `-tpmdev emulator` and a real guest driver
 * (tpm_crb, tpm_tis) drive it.
 *
 * The protocol (swtpm's tpm_ioctl.h, "commands used by the non-CUSE
 * TPMs"; all integers big-endian):
 *  - control channel: the unix socket QEMU connects to (-chardev socket).
 *    A request is a u32 command code followed by the command's fixed
 *    request body; the answer is the command's response body, whose first
 *    u32 is a TPM 1.2-style result (0 success, TPM_BAD_PARAMETER,
 *    TPM_BAD_ORDINAL, ...), except GET_CAPABILITY which answers the u64
 *    capability mask alone.
 *  - data channel: a stream socket QEMU passes with CMD_SET_DATAFD
 *    (SCM_RIGHTS, one end of a socketpair). TPM 2.0 command buffers go in
 *    back to back, each as long as its header's commandSize (QEMU sends
 *    min(commandSize, buffer size) bytes); one response comes back for
 *    each.
 *
 * One process, one thread: poll() on a signalfd (SIGINT/SIGTERM), the
 * listening or the connected control socket and the data socket. One
 * front-end at a time. Every read is bounded (control requests by their
 * fixed size, at most 4 KiB of HASH_DATA; commands by the buffer size) and
 * time-limited, so a peer that stops in the middle of a message is dropped
 * or answered instead of blocking the server.
 */
#define _GNU_SOURCE
#include "harness/serve/swtpm.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness/backends/hv_tpm_nvfile.h"
#include "harness/serve/serve.h"
#include "targets/tpm/tpm.h"

/* ---- protocol constants (swtpm tpm_ioctl.h) ---------------------------------- */

enum {
    CMD_GET_CAPABILITY = 0x01,
    CMD_INIT = 0x02,
    CMD_SHUTDOWN = 0x03,
    CMD_GET_TPMESTABLISHED = 0x04,
    CMD_SET_LOCALITY = 0x05,
    CMD_HASH_START = 0x06,
    CMD_HASH_DATA = 0x07,
    CMD_HASH_END = 0x08,
    CMD_CANCEL_TPM_CMD = 0x09,
    CMD_STORE_VOLATILE = 0x0a,
    CMD_RESET_TPMESTABLISHED = 0x0b,
    CMD_GET_STATEBLOB = 0x0c,
    CMD_SET_STATEBLOB = 0x0d,
    CMD_STOP = 0x0e,
    CMD_GET_CONFIG = 0x0f,
    CMD_SET_DATAFD = 0x10,
    CMD_SET_BUFFERSIZE = 0x11,
    CMD_GET_INFO = 0x12,
    CMD_LAST = CMD_GET_INFO,
};

#define PTM_CAP_INIT (1u << 0)
#define PTM_CAP_SHUTDOWN (1u << 1)
#define PTM_CAP_GET_TPMESTABLISHED (1u << 2)
#define PTM_CAP_SET_LOCALITY (1u << 3)
#define PTM_CAP_CANCEL_TPM_CMD (1u << 5)
#define PTM_CAP_RESET_TPMESTABLISHED (1u << 7)
#define PTM_CAP_STOP (1u << 10)
#define PTM_CAP_GET_CONFIG (1u << 11)
#define PTM_CAP_SET_DATAFD (1u << 12)
#define PTM_CAP_SET_BUFFERSIZE (1u << 13)

/* What this server implements. Not offered: HASHING (the model has no
 * _TPM_Hash_Start/Data/End entry point), STORE_VOLATILE, GET/SET_STATEBLOB
 * (QEMU then blocks migration), GET_INFO, SEND_COMMAND_HEADER. */
#define SWTPM_CAPS                                                             \
    (PTM_CAP_INIT | PTM_CAP_SHUTDOWN | PTM_CAP_GET_TPMESTABLISHED |           \
     PTM_CAP_SET_LOCALITY | PTM_CAP_CANCEL_TPM_CMD |                          \
     PTM_CAP_RESET_TPMESTABLISHED | PTM_CAP_STOP | PTM_CAP_GET_CONFIG |       \
     PTM_CAP_SET_DATAFD | PTM_CAP_SET_BUFFERSIZE)

/* Control-channel results (TPM 1.2 codes, libtpms tpm_error.h). */
enum {
    PTM_SUCCESS = 0,
    PTM_BAD_PARAMETER = 3,
    PTM_FAIL = 9,
    PTM_BAD_ORDINAL = 10,
    PTM_IOERROR = 31,
    PTM_BAD_LOCALITY = 61,
};

/* Buffer sizes (SET_BUFFERSIZE): libtpms 0.9's TPM 2.0 limits. */
#define SWTPM_BUF_MIN 2808u
#define SWTPM_BUF_MAX 4096u
#define HASH_DATA_MAX 4096u   /* ptm_hdata's data[] */
#define CTRL_DEADLINE_MS 2000 /* to finish a control request once begun */
#define DATA_DEADLINE_MS 2000 /* to finish a command once begun */
#define DATA_QUIET_MS 100     /* a command of unknown length ends here */
#define WRITE_TIMEOUT_MS 10000
#define DRAIN_MAX 65536u

#define TPM_HEADER 10u
#define TPM_ST_NO_SESSIONS 0x8001u
#define TPM_RC_FAILURE 0x101u

/* ---- options ----------------------------------------------------------------------- */

struct swtpm_options {
    const char *socket;
    const char *state;
    const char *log_commands;
    uint64_t seed;
    bool fault_rc_failure;
};


static int sw_bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sw_bad_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("hvfuzz-serve: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see hvfuzz-serve tpm --help)\n", stderr);
    return 2;
}

static void sw_usage(FILE *f)
{
    fputs("usage: hvfuzz-serve tpm --swtpm SOCKET [--state FILE] "
          "[--log-commands FILE] [--seed N]\n"
          "                        [--verbose] [--inject-fault rc-failure]\n"
          "\n"
          "Serve hvfuzz's TPM 2.0 model (the fuzz targets' code) as swtpm "
          "serves libtpms:\n"
          "listen on SOCKET for QEMU's TPM emulator backend (-chardev "
          "socket,id=chrtpm,path=SOCKET\n"
          "-tpmdev emulator,id=tpm0,chardev=chrtpm -device "
          "tpm-crb,tpmdev=tpm0). SOCKET is swtpm's\n"
          "control channel; QEMU passes the data channel with "
          "CMD_SET_DATAFD.\n"
          "\n"
          "  --swtpm SOCKET        unix socket to create and listen on\n"
          "  --state FILE          keep the TPM's NV state (NV indices, "
          "hierarchy auth) in FILE,\n"
          "                        replaced atomically on every change; "
          "default: in memory only\n"
          "  --log-commands FILE   append every command the model executes "
          "to FILE (raw TPM 2.0\n"
          "                        command buffers back to back, as "
          "hvfuzz-tpm-diff reads them);\n"
          "                        the N-th power cycle (CMD_INIT) with "
          "commands goes to FILE.N\n"
          "  --seed N              seed of the model's DRBG (default 0)\n"
          "  --verbose             log every TPM command and its response "
          "code\n"
          "  --inject-fault rc-failure\n"
          "                        testing the tests: every command is "
          "answered TPM_RC_FAILURE\n"
          "\n"
          "SIGINT/SIGTERM: stop, close the state file, remove SOCKET, exit 0.\n",
          f);
}

static int sw_parse_args(int argc, char **argv, struct swtpm_options *o)
{
    enum { OPT_SWTPM = 256, OPT_STATE, OPT_LOG, OPT_SEED, OPT_FAULT };
    static const struct option longopts[] = {
        {"swtpm", required_argument, NULL, OPT_SWTPM},
        {"state", required_argument, NULL, OPT_STATE},
        {"log-commands", required_argument, NULL, OPT_LOG},
        {"seed", required_argument, NULL, OPT_SEED},
        {"verbose", no_argument, NULL, 'v'},
        {"inject-fault", required_argument, NULL, OPT_FAULT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    int c;

    opterr = 0;
    optind = 2; /* argv[1] is "tpm" */
    while ((c = getopt_long(argc, argv, ":hv", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': sw_usage(stdout); exit(0);
        case 'v': serve_verbose = true; break;
        case OPT_SWTPM: o->socket = optarg; break;
        case OPT_STATE: o->state = optarg; break;
        case OPT_LOG: o->log_commands = optarg; break;
        case OPT_SEED:
            errno = 0;
            o->seed = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end)
                return sw_bad_usage("--seed: '%s' is not a number", optarg);
            break;
        case OPT_FAULT:
            if (strcmp(optarg, "rc-failure"))
                return sw_bad_usage("--inject-fault: unknown fault '%s' "
                                    "(known for tpm: rc-failure)", optarg);
            o->fault_rc_failure = true;
            break;
        case ':':
            return sw_bad_usage("missing value for option '%s'", argv[optind - 1]);
        default:
            return sw_bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return sw_bad_usage("unexpected argument '%s'", argv[optind]);
    if (!o->socket)
        return sw_bad_usage("--swtpm SOCKET is required");
    return 0;
}

/* ---- small helpers ---------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        struct pollfd p = {fd, events, 0};
        int rc;

        if (left < 0)
            left = 0;
        rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        return rc < 0 ? -1 : rc > 0;
    }
}

/* Writes all of buf within WRITE_TIMEOUT_MS; 0 or -1 with a reason. */
static int write_all(int fd, const uint8_t *buf, size_t len, const char **err)
{
    int64_t deadline = now_ms() + WRITE_TIMEOUT_MS;

    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, deadline) == 1)
                continue;
            *err = "the peer does not read its responses (10 s)";
            return -1;
        }
        *err = strerror(errno);
        return -1;
    }
    return 0;
}

static const char *ctrl_name(uint32_t cmd)
{
    static const char *const names[] = {
        [CMD_GET_CAPABILITY] = "GET_CAPABILITY",
        [CMD_INIT] = "INIT",
        [CMD_SHUTDOWN] = "SHUTDOWN",
        [CMD_GET_TPMESTABLISHED] = "GET_TPMESTABLISHED",
        [CMD_SET_LOCALITY] = "SET_LOCALITY",
        [CMD_HASH_START] = "HASH_START",
        [CMD_HASH_DATA] = "HASH_DATA",
        [CMD_HASH_END] = "HASH_END",
        [CMD_CANCEL_TPM_CMD] = "CANCEL_TPM_CMD",
        [CMD_STORE_VOLATILE] = "STORE_VOLATILE",
        [CMD_RESET_TPMESTABLISHED] = "RESET_TPMESTABLISHED",
        [CMD_GET_STATEBLOB] = "GET_STATEBLOB",
        [CMD_SET_STATEBLOB] = "SET_STATEBLOB",
        [CMD_STOP] = "STOP",
        [CMD_GET_CONFIG] = "GET_CONFIG",
        [CMD_SET_DATAFD] = "SET_DATAFD",
        [CMD_SET_BUFFERSIZE] = "SET_BUFFERSIZE",
        [CMD_GET_INFO] = "GET_INFO",
    };

    return cmd >= 1 && cmd <= CMD_LAST ? names[cmd] : "unknown";
}

/* TPM 2.0 command names for the log (the common ones). */
static const char *tpm_cc_name(uint32_t cc)
{
    static const struct { uint32_t cc; const char *name; } names[] = {
        {0x11f, "NV_UndefineSpaceSpecial"}, {0x121, "Clear"},
        {0x122, "NV_UndefineSpace"}, {0x129, "HierarchyChangeAuth"},
        {0x12a, "NV_DefineSpace"}, {0x12b, "PCR_Allocate"},
        {0x131, "CreatePrimary"}, {0x134, "NV_Increment"},
        {0x137, "NV_Write"}, {0x13c, "PCR_Event"}, {0x13d, "PCR_Reset"},
        {0x142, "IncrementalSelfTest"}, {0x143, "SelfTest"},
        {0x144, "Startup"}, {0x145, "Shutdown"}, {0x146, "StirRandom"},
        {0x14e, "NV_Read"}, {0x153, "Create"}, {0x157, "Load"},
        {0x15d, "Unseal"}, {0x161, "ContextLoad"}, {0x162, "ContextSave"},
        {0x165, "FlushContext"}, {0x169, "NV_ReadPublic"},
        {0x173, "ReadPublic"}, {0x176, "StartAuthSession"},
        {0x17a, "GetCapability"}, {0x17b, "GetRandom"},
        {0x17c, "GetTestResult"}, {0x17d, "Hash"}, {0x17e, "PCR_Read"},
        {0x181, "ReadClock"}, {0x182, "PCR_Extend"},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].cc == cc)
            return names[i].name;
    return "?";
}

/* ---- the server -------------------------------------------------------------------- */

struct swtpm_server {
    const struct swtpm_options *o;
    struct tpm *tpm;
    struct hv_tpm_nvfile *nv;
    int lfd, sfd, cfd, dfd, logfd;
    bool running;     /* CMD_INIT done and not stopped since */
    bool established; /* TPM_ACCESS tpmEstablishment (nothing sets it) */
    uint8_t locality;
    uint32_t bufsize;
    unsigned cycle;            /* power cycles (CMD_INIT) so far */
    unsigned log_cycle;        /* the power cycle the log file holds */
    unsigned log_file;         /* 1: FILE, n: FILE.n */
    unsigned long cycle_cmds;  /* commands logged in the log file */
    unsigned long commands;    /* commands the model executed */
    bool stop;
    size_t dlen;               /* data bytes pending in cmd[] */
    uint8_t cmd[SWTPM_BUF_MAX], rsp[SWTPM_BUF_MAX];
    uint8_t hash[HASH_DATA_MAX];
};

static int open_log(struct swtpm_server *sv, unsigned file)
{
    char path[4096];

    if (file <= 1)
        snprintf(path, sizeof(path), "%s", sv->o->log_commands);
    else
        snprintf(path, sizeof(path), "%s.%u", sv->o->log_commands, file);
    if (sv->logfd >= 0)
        close(sv->logfd);
    sv->logfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (sv->logfd < 0)
        return serve_error("--log-commands %s: %s", path, strerror(errno));
    sv->log_file = file;
    sv->cycle_cmds = 0;
    if (file > 1)
        serve_log("power cycle %u: its commands go to %s", sv->cycle, path);
    return 0;
}

/* One file per power cycle that executes commands: a stream replayed from
 * a fresh TPM (hvfuzz-tpm-diff) must not hold two Startups. */
static void log_command(struct swtpm_server *sv, const uint8_t *cmd, size_t len)
{
    size_t done = 0;

    if (sv->logfd < 0)
        return;
    if (sv->cycle > sv->log_cycle) {
        if (sv->cycle_cmds > 0 && open_log(sv, sv->log_file + 1) < 0) {
            sv->logfd = -1;
            return;
        }
        sv->log_cycle = sv->cycle;
    }
    if (len < TPM_HEADER || be32(cmd + 2) != len)
        serve_log("--log-commands: this command's commandSize is not its length "
                  "(%zu bytes): a replay of the log (hvfuzz-tpm-diff) splits the "
                  "commands from here on differently", len);
    while (done < len) {
        ssize_t n = write(sv->logfd, cmd + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            serve_log("--log-commands: %s; command log stopped",
                      n < 0 ? strerror(errno) : "short write");
            close(sv->logfd);
            sv->logfd = -1;
            return;
        }
        done += (size_t)n;
    }
    sv->cycle_cmds++;
}

/* ---- data channel -------------------------------------------------------------------- */

static void close_data(struct swtpm_server *sv, const char *why)
{
    if (sv->dfd < 0)
        return;
    close(sv->dfd);
    sv->dfd = -1;
    sv->dlen = 0;
    serve_log("data channel closed: %s", why);
}

static size_t failure_response(uint8_t *rsp)
{
    rsp[0] = TPM_ST_NO_SESSIONS >> 8;
    rsp[1] = TPM_ST_NO_SESSIONS & 0xff;
    put_be32(rsp + 2, TPM_HEADER);
    put_be32(rsp + 6, TPM_RC_FAILURE);
    return TPM_HEADER;
}

/* The length of the command at the start of cmd[], once it is known:
 * min(commandSize, buffer size) for a header whose commandSize is at least
 * a header; 0 while unknown (fewer than 6 bytes, or a commandSize below
 * the header: such a command ends when the peer goes quiet). */
static size_t command_target(const struct swtpm_server *sv)
{
    uint32_t size;

    if (sv->dlen < 6)
        return 0;
    size = be32(sv->cmd + 2);
    if (size < TPM_HEADER)
        return 0;
    return size < sv->bufsize ? size : sv->bufsize;
}

/* Collects one command; returns its length, 0 when the channel closed. */
static size_t read_command(struct swtpm_server *sv)
{
    int64_t deadline = now_ms() + DATA_DEADLINE_MS;

    for (;;) {
        size_t target = command_target(sv);
        int64_t wait_until;
        ssize_t n;
        int rc;

        if (target && sv->dlen >= target)
            return target;
        if (sv->dlen >= sv->bufsize)
            return sv->bufsize;
        wait_until = target ? deadline : now_ms() + DATA_QUIET_MS;
        if (wait_until > deadline)
            wait_until = deadline;
        rc = sv->dlen ? wait_fd(sv->dfd, POLLIN, wait_until) : 1;
        if (rc < 0) {
            close_data(sv, strerror(errno));
            return 0;
        }
        if (rc == 0) {
            if (target)
                serve_log("incomplete command: %zu of %zu bytes after %d ms; "
                          "executing what came", sv->dlen, target,
                          DATA_DEADLINE_MS);
            return sv->dlen;
        }
        n = recv(sv->dfd, sv->cmd + sv->dlen, sv->bufsize - sv->dlen,
                 MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!sv->dlen)
                return 0; /* spurious wake-up: nothing pending */
            continue;
        }
        if (n <= 0) {
            close_data(sv, n < 0 ? strerror(errno)
                                 : sv->dlen ? "the peer closed it in the middle "
                                              "of a command"
                                            : "the peer closed it");
            return 0;
        }
        sv->dlen += (size_t)n;
    }
}

static void on_data(struct swtpm_server *sv)
{
    const char *err = NULL;
    size_t len = read_command(sv), rlen;
    uint32_t cc, rc;

    if (!len)
        return;
    cc = len >= TPM_HEADER ? be32(sv->cmd + 6) : 0;
    if (!sv->running) {
        rlen = failure_response(sv->rsp);
        serve_log("TPM command cc 0x%03" PRIx32 " while the TPM is not running "
                  "(no CMD_INIT): answered TPM_RC_FAILURE", cc);
    } else {
        log_command(sv, sv->cmd, len);
        rlen = tpm_execute(sv->tpm, sv->cmd, len, sv->rsp, sv->bufsize);
        sv->commands++;
        if (tpm_nv_status(sv->tpm) == TPM_NV_SAVE_FAILED)
            serve_log("NV: %s", tpm_nv_error(sv->tpm));
        if (sv->o->fault_rc_failure)
            rlen = failure_response(sv->rsp);
    }
    rc = rlen >= TPM_HEADER ? be32(sv->rsp + 6) : 0;
    if (serve_verbose && sv->running)
        serve_log("<- TPM cmd %lu: cc 0x%03" PRIx32 " %s, %zu bytes -> rc 0x%03"
                  PRIx32 ", %zu bytes", sv->commands, cc, tpm_cc_name(cc), len,
                  rc, rlen);
    sv->dlen -= len;
    memmove(sv->cmd, sv->cmd + len, sv->dlen);
    if (write_all(sv->dfd, sv->rsp, rlen, &err) < 0)
        close_data(sv, err);
}

/* ---- control channel ------------------------------------------------------------------- */

/* Reads exactly n bytes of a control request (the rest of it once begun)
 * within CTRL_DEADLINE_MS. A descriptor that comes along (SCM_RIGHTS) is
 * kept in *fd if fd is non-NULL and none was kept yet; every other one is
 * closed. Returns 1, 0 at end of file before any byte, -1 with a reason. */
static int ctrl_read(struct swtpm_server *sv, uint8_t *buf, size_t n, int *fd,
                     const char **err)
{
    int64_t deadline = now_ms() + CTRL_DEADLINE_MS;
    size_t got = 0;

    while (got < n) {
        union {
            char buf[CMSG_SPACE(4 * sizeof(int))];
            struct cmsghdr align;
        } control;
        struct iovec iov = {buf + got, n - got};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf)};
        ssize_t r;
        int w = wait_fd(sv->cfd, POLLIN, deadline);

        if (w <= 0) {
            *err = w == 0 ? "the front-end stopped in the middle of a control "
                            "request (2 s)"
                          : strerror(errno);
            return -1;
        }
        r = recvmsg(sv->cfd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        for (struct cmsghdr *c = r >= 0 ? CMSG_FIRSTHDR(&msg) : NULL; c;
             c = CMSG_NXTHDR(&msg, c)) {
            size_t nfds;
            int fds[4];

            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            if (nfds > 4)
                nfds = 4;
            memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
            for (size_t i = 0; i < nfds; i++) {
                if (fd && *fd < 0 && !(msg.msg_flags & MSG_CTRUNC))
                    *fd = fds[i];
                else
                    close(fds[i]);
            }
        }
        if (r < 0) {
            *err = strerror(errno);
            return -1;
        }
        if (r == 0) {
            if (!got && !n)
                return 1;
            if (!got)
                return 0;
            *err = "the front-end closed the connection in the middle of a "
                   "control request";
            return -1;
        }
        got += (size_t)r;
    }
    return 1;
}

/* Discards what the front-end has already sent (the body of a request this
 * server does not implement); false when that is more than DRAIN_MAX. */
static bool ctrl_drain(struct swtpm_server *sv)
{
    size_t total = 0;

    for (;;) {
        uint8_t buf[4096];
        ssize_t r = recv(sv->cfd, buf, sizeof(buf), MSG_DONTWAIT);

        if (r <= 0)
            return true;
        total += (size_t)r;
        if (total > DRAIN_MAX)
            return false;
    }
}

static int ctrl_result(struct swtpm_server *sv, uint32_t res, const char **err)
{
    uint8_t out[4];

    put_be32(out, res);
    return write_all(sv->cfd, out, sizeof(out), err);
}

static bool is_stream_socket(int fd)
{
    struct stat st;
    int type = 0;
    socklen_t len = sizeof(type);

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
           getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
           type == SOCK_STREAM;
}

/* CMD_INIT: _TPM_Init (a power cycle). The TPM then waits for Startup. */
static uint32_t do_init(struct swtpm_server *sv, uint32_t flags)
{
    tpm_init(sv->tpm);
    sv->cycle++;
    sv->dlen = 0;
    if (tpm_nv_status(sv->tpm) != TPM_NV_OK) {
        sv->running = false;
        serve_log("CMD_INIT: NV state refused, the TPM stays off: %s",
                  tpm_nv_error(sv->tpm));
        return PTM_FAIL;
    }
    sv->running = true;
    serve_log("CMD_INIT (flags 0x%" PRIx32 "): TPM powered on (power cycle %u)",
              flags, sv->cycle);
    return PTM_SUCCESS;
}

/* Request body sizes of the commands whose body has a fixed part. */
static size_t ctrl_body_size(uint32_t cmd)
{
    switch (cmd) {
    case CMD_INIT: case CMD_SET_BUFFERSIZE: case CMD_HASH_DATA: return 4;
    case CMD_SET_LOCALITY: case CMD_RESET_TPMESTABLISHED: return 1;
    case CMD_GET_STATEBLOB: case CMD_SET_STATEBLOB: return 12;
    case CMD_GET_INFO: return 16;
    default: return 0;
    }
}

/* SET_LOCALITY and RESET_TPMESTABLISHED carry one byte, but QEMU sends
 * the whole union (ptm_loc, ptm_reset_est: 4 bytes), as swtpm accepts:
 * up to 3 more bytes that came with the request are part of it. */
static void ctrl_take_padding(struct swtpm_server *sv, uint32_t cmd)
{
    uint8_t pad[3];

    if (cmd == CMD_SET_LOCALITY || cmd == CMD_RESET_TPMESTABLISHED)
        (void)!recv(sv->cfd, pad, sizeof(pad), MSG_DONTWAIT);
}

/* Handles one control request; -1 drops the front-end (with a reason). */
static int on_control_request(struct swtpm_server *sv, const char **err)
{
    uint8_t hdr[4], body[16], out[16];
    int passed = -1, rc;
    uint32_t cmd, res = PTM_SUCCESS;
    const char *why = NULL;

    rc = ctrl_read(sv, hdr, sizeof(hdr), &passed, err);
    if (rc == 0)
        *err = NULL; /* the front-end left between requests */
    if (rc <= 0)
        return -1;
    cmd = be32(hdr);
    if (passed >= 0 && cmd != CMD_SET_DATAFD) {
        serve_log("control: a descriptor came with %s (0x%02" PRIx32 "): closed",
                  ctrl_name(cmd), cmd);
        close(passed);
        passed = -1;
    }
    if (ctrl_body_size(cmd) &&
        ctrl_read(sv, body, ctrl_body_size(cmd), NULL, err) <= 0) {
        if (!*err)
            *err = "the front-end closed the connection in the middle of a "
                   "control request";
        return -1;
    }
    ctrl_take_padding(sv, cmd);
    switch (cmd) {
    case CMD_GET_CAPABILITY:
        put_be32(out, 0);
        put_be32(out + 4, SWTPM_CAPS);
        serve_log("-> CMD_GET_CAPABILITY: 0x%x", SWTPM_CAPS);
        return write_all(sv->cfd, out, 8, err);
    case CMD_INIT:
        res = do_init(sv, be32(body));
        break;
    case CMD_STOP:
        sv->running = false;
        serve_log("-> CMD_STOP: TPM stopped");
        break;
    case CMD_SHUTDOWN:
        sv->running = false;
        serve_log("-> CMD_SHUTDOWN: TPM powered off (%lu commands executed); "
                  "still serving", sv->commands);
        break;
    case CMD_GET_TPMESTABLISHED:
        if (!sv->running) {
            res = PTM_BAD_ORDINAL, why = "the TPM is not running";
            break;
        }
        memset(out, 0, 8);
        out[4] = sv->established;
        if (serve_verbose)
            serve_log("-> CMD_GET_TPMESTABLISHED: %u", sv->established);
        return write_all(sv->cfd, out, 8, err);
    case CMD_SET_LOCALITY:
        if (body[0] > 4) {
            res = PTM_BAD_LOCALITY, why = "locality above 4";
            break;
        }
        sv->locality = body[0];
        if (serve_verbose)
            serve_log("-> CMD_SET_LOCALITY %u", body[0]);
        break;
    case CMD_RESET_TPMESTABLISHED:
        if (!sv->running)
            res = PTM_BAD_ORDINAL, why = "the TPM is not running";
        else if (body[0] > 4 || body[0] < 3)
            res = PTM_BAD_LOCALITY,
            why = "only localities 3 and 4 may reset tpmEstablished";
        else
            sv->established = false;
        break;
    case CMD_CANCEL_TPM_CMD:
        /* Commands run to completion before the next request is read:
         * there is never one to cancel. */
        if (!sv->running)
            res = PTM_BAD_ORDINAL, why = "the TPM is not running";
        break;
    case CMD_GET_CONFIG:
        memset(out, 0, 8); /* result 0, flags 0: no state encryption keys */
        return write_all(sv->cfd, out, 8, err);
    case CMD_SET_DATAFD:
        if (sv->dfd >= 0)
            res = PTM_IOERROR, why = "a data channel is already set";
        else if (passed < 0)
            res = PTM_BAD_PARAMETER, why = "no descriptor came with it";
        else if (!is_stream_socket(passed))
            res = PTM_BAD_PARAMETER, why = "the descriptor is no stream socket";
        if (res == PTM_SUCCESS) {
            sv->dfd = passed;
            sv->dlen = 0;
            serve_log("-> CMD_SET_DATAFD: data channel set");
        } else if (passed >= 0) {
            close(passed);
        }
        break;
    case CMD_SET_BUFFERSIZE: {
        uint32_t want = be32(body);

        if (want && sv->running) {
            res = PTM_BAD_ORDINAL, why = "the TPM is running (send CMD_STOP first)";
            break;
        }
        if (want)
            sv->bufsize = want < SWTPM_BUF_MIN ? SWTPM_BUF_MIN
                          : want > SWTPM_BUF_MAX ? SWTPM_BUF_MAX : want;
        put_be32(out, 0);
        put_be32(out + 4, sv->bufsize);
        put_be32(out + 8, SWTPM_BUF_MIN);
        put_be32(out + 12, SWTPM_BUF_MAX);
        serve_log("-> CMD_SET_BUFFERSIZE %" PRIu32 ": buffer size %" PRIu32, want,
                  sv->bufsize);
        return write_all(sv->cfd, out, 16, err);
    }
    case CMD_HASH_DATA: {
        uint32_t len = be32(body);

        if (len > HASH_DATA_MAX) {
            *err = "HASH_DATA longer than 4096 bytes";
            return -1;
        }
        if (len && ctrl_read(sv, sv->hash, len, NULL, err) <= 0) {
            if (!*err)
                *err = "the front-end closed the connection in HASH_DATA";
            return -1;
        }
    }
        /* fall through */
    case CMD_HASH_START:
    case CMD_HASH_END:
        res = PTM_BAD_ORDINAL;
        why = sv->running ? "not supported: the model has no H-CRTM "
                            "(_TPM_Hash_Start/Data/End) entry point"
                          : "the TPM is not running";
        break;
    default:
        /* STORE_VOLATILE, GET/SET_STATEBLOB, GET_INFO and unknown codes:
         * whatever else the front-end sent with it is discarded. */
        if (!ctrl_drain(sv)) {
            *err = "more than 64 KiB came with an unsupported control request";
            return -1;
        }
        res = PTM_BAD_ORDINAL;
        why = "not supported";
        break;
    }
    if (why)
        serve_log("control: %s (0x%02" PRIx32 ") refused with %u: %s",
                  ctrl_name(cmd), cmd, (unsigned)res, why);
    else if (cmd != CMD_SET_LOCALITY && cmd != CMD_STOP && cmd != CMD_SHUTDOWN &&
             cmd != CMD_INIT && cmd != CMD_SET_DATAFD)
        serve_log("-> CMD_%s", ctrl_name(cmd));
    return ctrl_result(sv, res, err);
}

static void end_frontend(struct swtpm_server *sv)
{
    close_data(sv, "the front-end left");
    close(sv->cfd);
    sv->cfd = -1;
    sv->running = false;
    sv->locality = 0;
    serve_log("front-end disconnected (TPM off, NV kept); waiting for the next one");
}

static void on_control(struct swtpm_server *sv)
{
    const char *err = NULL;

    if (sv->cfd < 0) {
        int fd = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0) {
            serve_log("accept: %s", strerror(errno));
            return;
        }
        sv->cfd = fd;
        sv->bufsize = SWTPM_BUF_MAX;
        serve_log("front-end connected");
        return;
    }
    if (on_control_request(sv, &err) == 0)
        return;
    if (err)
        serve_log("dropping the front-end: %s", err);
    end_frontend(sv);
}

/* ---- socket, signals, loop ------------------------------------------------------------- */

static int sw_run(struct swtpm_server *sv)
{
    while (!sv->stop) {
        struct pollfd pfd[3] = {
            {sv->sfd, POLLIN, 0},
            {sv->cfd >= 0 ? sv->cfd : sv->lfd, POLLIN, 0},
            {sv->dfd, POLLIN, 0},
        };

        bool pending = sv->dfd >= 0 && sv->dlen > 0; /* pipelined commands */

        if (poll(pfd, sv->dfd >= 0 ? 3 : 2, pending ? 0 : -1) < 0) {
            if (errno == EINTR)
                continue;
            return serve_error("poll: %s", strerror(errno));
        }
        if (pfd[0].revents) {
            struct signalfd_siginfo si;

            if (read(sv->sfd, &si, sizeof(si)) == sizeof(si))
                serve_log("%s: stopping", strsignal((int)si.ssi_signo));
            sv->stop = true;
            return 0;
        }
        /* Commands first: QEMU waits for each response. */
        if (sv->dfd >= 0 && (pfd[2].revents || pending))
            on_data(sv);
        if (pfd[1].revents)
            on_control(sv);
    }
    return 0;
}

int swtpm_main(int argc, char **argv)
{
    struct swtpm_options o = {0};
    static struct swtpm_server sv;
    char err[512] = "";
    bool had_state;
    int rc = sw_parse_args(argc, argv, &o);

    if (rc)
        return rc;
    sv = (struct swtpm_server){.o = &o, .lfd = -1, .sfd = -1, .cfd = -1,
                               .dfd = -1, .logfd = -1, .bufsize = SWTPM_BUF_MAX};
    had_state = o.state && access(o.state, F_OK) == 0;
    if (o.state && !(sv.nv = hv_tpm_nvfile_open(o.state, err, sizeof(err)))) {
        serve_error("--state: %s", err);
        return 1;
    }
    sv.tpm = tpm_create(&(struct tpm_params){
        .seed = o.seed, .store = sv.nv ? hv_tpm_nvfile_store(sv.nv) : NULL});
    if (!sv.tpm) {
        serve_error("cannot create the TPM model (out of memory)");
        hv_tpm_nvfile_close(sv.nv);
        return 1;
    }
    if (tpm_nv_status(sv.tpm) != TPM_NV_OK) {
        /* As swtpm does: a state that cannot be loaded is not overwritten. */
        serve_error("refusing to start: %s", tpm_nv_error(sv.tpm));
        rc = 1;
        goto out;
    }
    if (o.log_commands && open_log(&sv, 1) < 0) {
        rc = 1;
        goto out;
    }
    sv.sfd = serve_signal_fd();
    sv.lfd = serve_listen(o.socket);
    if (sv.lfd < 0 || sv.sfd < 0) {
        rc = 1;
        goto out;
    }
    serve_log("tpm: hvfuzz's TPM 2.0 model, NV %s%s, buffer %u bytes, caps 0x%x%s",
              o.state ? (had_state ? "loaded from " : "kept in (new) ") : "in memory",
              o.state ? o.state : "", SWTPM_BUF_MAX, SWTPM_CAPS,
              o.fault_rc_failure ? "; FAULT INJECTED: every command answers "
                                   "TPM_RC_FAILURE"
                                 : "");
    serve_log("waiting for a swtpm front-end (QEMU -tpmdev emulator) on %s", o.socket);
    rc = sw_run(&sv) ? 1 : 0;
    if (sv.cfd >= 0)
        end_frontend(&sv);
    close(sv.lfd);
    unlink(o.socket);
out:
    if (sv.sfd >= 0)
        close(sv.sfd);
    if (sv.logfd >= 0)
        close(sv.logfd);
    tpm_destroy(sv.tpm);
    if (sv.nv && !rc)
        serve_log("NV state: %lu saves to %s", hv_tpm_nvfile_saves(sv.nv), o.state);
    hv_tpm_nvfile_close(sv.nv);
    if (!rc)
        serve_log("stopped");
    return rc;
}
