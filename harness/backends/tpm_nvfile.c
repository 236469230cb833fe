/*
 * TPM NV state file with atomic replace: see hv_tpm_nvfile.h for the
 * protocol. Write-to-temporary, fsync, rename, fsync-directory is the POSIX
 * way to replace a file so that every reader (and every restart after a
 * crash) sees the old or the new contents whole: rename() is atomic, and
 * the fsyncs order the data before the name change and make both durable.
 */
#include "harness/backends/hv_tpm_nvfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hv_tpm_nvfile {
    struct tpm_nv_store store;
    char *path;
    char *tmp;                 /* path + ".tmp" */
    char *dir;                 /* path's directory */
    unsigned long saves;
    int fail_step;             /* -1: no failure injected */
    int fail_errno;
    char error[512];
};

__attribute__((format(printf, 2, 3))) static void
set_error(struct hv_tpm_nvfile *f, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(f->error, sizeof(f->error), fmt, ap);
    va_end(ap);
}

/* The injected failure of `step`, once: 0 if none, else -1 with errno. */
static int injected(struct hv_tpm_nvfile *f, enum hv_tpm_nvfile_step step)
{
    if (f->fail_step != (int)step)
        return 0;
    f->fail_step = -1;
    errno = f->fail_errno;
    return -1;
}

static int nvfile_load(void *ctx, uint8_t *buf, size_t cap, size_t *len)
{
    struct hv_tpm_nvfile *f = ctx;
    struct stat st;
    size_t got = 0;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC), e;

    *len = 0;
    if (fd < 0) {
        e = errno;
        if (e == ENOENT) {
            f->error[0] = 0;
            return TPM_NV_STORE_EMPTY;
        }
        set_error(f, "cannot open the NV state file: %s", strerror(e));
        return -e;
    }
    if (fstat(fd, &st) < 0) {
        e = errno;
        set_error(f, "cannot stat the NV state file: %s", strerror(e));
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        set_error(f, "not a regular file (an NV state file is one)");
        close(fd);
        return -EINVAL;
    }
    if ((uintmax_t)st.st_size > cap) {
        set_error(f, "%jd bytes, larger than any NV state (at most %zu): not "
                  "an NV state file", (intmax_t)st.st_size, cap);
        close(fd);
        return -EFBIG;
    }
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            set_error(f, "cannot read the NV state file: %s", strerror(e));
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == cap) { /* grew since fstat: would not fit */
            char extra;

            if (read(fd, &extra, 1) > 0) {
                set_error(f, "larger than any NV state (at most %zu): not an "
                          "NV state file", cap);
                close(fd);
                return -EFBIG;
            }
            break;
        }
    }
    close(fd);
    *len = got;
    f->error[0] = 0;
    return 0;
}

static int write_all(struct hv_tpm_nvfile *f, int fd, const uint8_t *buf,
                     size_t len)
{
    while (len) {
        ssize_t n;

        if (injected(f, HV_TPM_NVFILE_WRITE))
            return -1;
        n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) { /* no progress: treat as a full disk */
            errno = ENOSPC;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Fails the save before the rename: PATH.tmp goes, PATH stays. */
static int save_failed(struct hv_tpm_nvfile *f, int fd, const char *what, int e)
{
    if (fd >= 0)
        close(fd);
    unlink(f->tmp);
    set_error(f, "%s %s failed: %s (the NV state file is unchanged)", what,
              f->tmp, strerror(e));
    return -e;
}

static int nvfile_save(void *ctx, const uint8_t *buf, size_t len)
{
    struct hv_tpm_nvfile *f = ctx;
    int fd, dfd, e;

    if (unlink(f->tmp) < 0 && errno != ENOENT)
        return save_failed(f, -1, "removing the stale", errno);
    fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return save_failed(f, -1, "creating", errno);
    if (write_all(f, fd, buf, len) < 0)
        return save_failed(f, fd, "writing", errno);
    if (injected(f, HV_TPM_NVFILE_FSYNC) || fsync(fd) < 0)
        return save_failed(f, fd, "fsync of", errno);
    if (close(fd) < 0)
        return save_failed(f, -1, "closing", errno);
    if (injected(f, HV_TPM_NVFILE_RENAME) || rename(f->tmp, f->path) < 0)
        return save_failed(f, -1, "renaming", errno);
    dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || injected(f, HV_TPM_NVFILE_DIRSYNC) || fsync(dfd) < 0) {
        e = errno;
        if (dfd >= 0)
            close(dfd);
        set_error(f, "fsync of the directory %s failed: %s (the file was "
                  "replaced, its durability is unknown)", f->dir, strerror(e));
        return -e;
    }
    close(dfd);
    f->saves++;
    f->error[0] = 0;
    return 0;
}

static const char *nvfile_error(void *ctx)
{
    struct hv_tpm_nvfile *f = ctx;

    return f->error[0] ? f->error : NULL;
}

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);

    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

/* The directory part of path ("." when there is none, "/" for "/x"). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *d;

    if (!slash)
        return concat(".", "");
    if (slash == path)
        return concat("/", "");
    d = malloc((size_t)(slash - path) + 1);
    if (d) {
        memcpy(d, path, (size_t)(slash - path));
        d[slash - path] = 0;
    }
    return d;
}

struct hv_tpm_nvfile *hv_tpm_nvfile_open(const char *path, char *err,
                                         size_t errlen)
{
    struct hv_tpm_nvfile *f;
    struct stat st;
    size_t n = path ? strlen(path) : 0;
    int e;

    if (!n || path[n - 1] == '/') {
        if (err)
            snprintf(err, errlen, "tpm nv file: no file name in \"%s\"",
                     path ? path : "");
        return NULL;
    }
    f = calloc(1, sizeof(*f));
    if (!f || !(f->path = concat(path, "")) || !(f->tmp = concat(path, ".tmp")) ||
        !(f->dir = dir_of(path))) {
        if (err)
            snprintf(err, errlen, "tpm nv file: out of memory");
        hv_tpm_nvfile_close(f);
        return NULL;
    }
    e = stat(f->dir, &st) < 0 ? errno : 0;
    if (e || !S_ISDIR(st.st_mode)) {
        const char *why = e ? strerror(e) : "not a directory";

        if (err)
            snprintf(err, errlen, "tpm nv file %s: directory %s: %s", path,
                     f->dir, why);
        hv_tpm_nvfile_close(f);
        return NULL;
    }
    f->fail_step = -1;
    f->store = (struct tpm_nv_store){.ctx = f, .load = nvfile_load,
                                     .save = nvfile_save, .error = nvfile_error,
                                     .name = f->path};
    return f;
}

const struct tpm_nv_store *hv_tpm_nvfile_store(struct hv_tpm_nvfile *f)
{
    return &f->store;
}

const char *hv_tpm_nvfile_error(const struct hv_tpm_nvfile *f)
{
    return f->error[0] ? f->error : NULL;
}

unsigned long hv_tpm_nvfile_saves(const struct hv_tpm_nvfile *f)
{
    return f->saves;
}

void hv_tpm_nvfile_fail_next(struct hv_tpm_nvfile *f,
                             enum hv_tpm_nvfile_step step, int err)
{
    f->fail_step = (int)step;
    f->fail_errno = err;
}

void hv_tpm_nvfile_close(struct hv_tpm_nvfile *f)
{
    if (!f)
        return;
    free(f->path);
    free(f->tmp);
    free(f->dir);
    free(f);
}
