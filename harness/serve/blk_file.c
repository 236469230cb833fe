/* File-backed block backend and the read-corrupting test decorator. */
#define _GNU_SOURCE
#include "harness/serve/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR 512u

struct file_blk {
    struct hv_blk blk;
    int fd;
};

static int file_fd(struct hv_blk *b)
{
    return ((struct file_blk *)b)->fd;
}

/* The whole transfer at `off`, resuming after short reads/writes and EINTR;
 * -1 at an error or end of file. */
static int f_io(struct hv_blk *b, uint64_t off, uint8_t *rbuf,
                const uint8_t *wbuf, size_t len)
{
    while (len) {
        ssize_t n = rbuf ? pread(file_fd(b), rbuf, len, (off_t)off)
                         : pwrite(file_fd(b), wbuf, len, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        if (rbuf)
            rbuf += n;
        else
            wbuf += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int f_read(struct hv_blk *b, uint64_t off, void *buf, size_t len)
{
    return f_io(b, off, buf, NULL, len);
}

static int f_write(struct hv_blk *b, uint64_t off, const void *buf, size_t len)
{
    return f_io(b, off, NULL, buf, len);
}

static int f_flush(struct hv_blk *b)
{
    return fdatasync(file_fd(b)) ? -1 : 0;
}

static int write_zeroes(struct hv_blk *b, uint64_t off, uint64_t len)
{
    static const uint8_t zero[64 * 1024];

    while (len) {
        size_t n = len < sizeof(zero) ? (size_t)len : sizeof(zero);

        if (f_write(b, off, zero, n))
            return -1;
        off += n;
        len -= n;
    }
    return 0;
}

/* Reads of a punched hole return zeroes, as hv_blk_ops.discard requires. */
static int f_discard(struct hv_blk *b, uint64_t off, uint64_t len)
{
    if (fallocate(file_fd(b), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)off, (off_t)len) == 0)
        return 0;
    return write_zeroes(b, off, len);
}

static void f_destroy(struct hv_blk *b)
{
    fdatasync(file_fd(b));
    close(file_fd(b));
    free(b);
}

static const struct hv_blk_ops file_ops = {
    .read = f_read,
    .write = f_write,
    .flush = f_flush,
    .discard = f_discard,
    .destroy = f_destroy, /* no reset: the file keeps its content */
};

static int check_image(int fd, const char *path, uint64_t *size, char *err,
                       size_t errlen)
{
    struct stat st;

    if (fstat(fd, &st)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    if (st.st_size == 0 || st.st_size % SECTOR) {
        snprintf(err, errlen,
                 "%s: size %lld is not a non-zero multiple of 512 bytes",
                 path, (long long)st.st_size);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return 0;
}

struct hv_blk *serve_blk_file_open(const char *path, bool read_only,
                                   char *err, size_t errlen)
{
    int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    struct file_blk *f;
    uint64_t size;

    if (fd < 0) {
        snprintf(err, errlen, "%s: %s%s%s", path, strerror(errno),
                 errno == ENOENT ? " (create an image with: truncate -s 64M " : "",
                 errno == ENOENT ? "FILE)" : "");
        return NULL;
    }
    if (check_image(fd, path, &size, err, errlen)) {
        close(fd);
        return NULL;
    }
    f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    f->blk = (struct hv_blk){&file_ops, size, read_only};
    f->fd = fd;
    return &f->blk;
}

/* ---- fault injection ----------------------------------------------------- */

struct flip_blk {
    struct hv_blk blk;
    struct hv_blk *inner;
};

static struct hv_blk *inner(struct hv_blk *b)
{
    return ((struct flip_blk *)b)->inner;
}

static int flip_read(struct hv_blk *b, uint64_t off, void *buf, size_t len)
{
    uint8_t *p = buf;

    if (hv_blk_read(inner(b), off, buf, len))
        return -1;
    for (uint64_t o = (off + SECTOR - 1) / SECTOR * SECTOR; o < off + len;
         o += SECTOR)
        p[o - off] ^= 1;
    return 0;
}

static int flip_write(struct hv_blk *b, uint64_t off, const void *buf,
                      size_t len)
{
    return hv_blk_write(inner(b), off, buf, len);
}

static int flip_flush(struct hv_blk *b)
{
    return hv_blk_flush(inner(b));
}

static int flip_discard(struct hv_blk *b, uint64_t off, uint64_t len)
{
    return hv_blk_discard(inner(b), off, len);
}

static void flip_destroy(struct hv_blk *b)
{
    inner(b)->ops->destroy(inner(b));
    free(b);
}

static const struct hv_blk_ops flip_ops = {
    .read = flip_read,
    .write = flip_write,
    .flush = flip_flush,
    .discard = flip_discard,
    .destroy = flip_destroy,
};

struct hv_blk *serve_blk_flip_reads(struct hv_blk *in)
{
    struct flip_blk *f = calloc(1, sizeof(*f));

    if (!f) {
        in->ops->destroy(in);
        return NULL;
    }
    f->blk = (struct hv_blk){&flip_ops, in->size, in->read_only};
    f->inner = in;
    return &f->blk;
}
