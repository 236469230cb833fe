/* The server's socket and signals, shared by the vhost-user and swtpm
 * modes (serve.h). */
#include "harness/serve/serve.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int check_socket_path(const char *path, struct sockaddr_un *sa)
{
    struct stat st;
    char dir[sizeof(sa->sun_path)];
    const char *slash;

    if (strlen(path) >= sizeof(sa->sun_path))
        return serve_error("socket path '%s' is longer than %zu bytes", path,
                     sizeof(sa->sun_path) - 1);
    slash = strrchr(path, '/');
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
             slash ? (slash == path ? "/" : path) : ".");
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return serve_error("socket directory '%s' does not exist", dir);
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
        return serve_error("'%s' exists and is not a socket", path);
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

/* A socket file left by a server that is gone is replaced; one that
 * accepts connections is another server's. */
static int remove_stale(const char *path, const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int live;

    if (fd < 0)
        return serve_error("socket: %s", strerror(errno));
    live = access(path, F_OK) == 0 &&
           connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
    close(fd);
    if (live)
        return serve_error("another server is listening on '%s'", path);
    unlink(path);
    return 0;
}

int serve_listen(const char *path)
{
    struct sockaddr_un sa;
    int fd;

    if (check_socket_path(path, &sa) || remove_stale(path, &sa))
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
        listen(fd, 1)) {
        serve_error("%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int serve_signal_fd(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_CLOEXEC);
}

