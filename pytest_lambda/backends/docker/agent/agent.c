/*
 * pytest-lambda's in-container agent: the Runtime API on 127.0.0.1:9001, reached over tunnels
 * that the test host opens into the container.
 *
 *   agent COMMAND [ARG...]
 *
 * The agent listens on 127.0.0.1:9001 (the runtime's AWS_LAMBDA_RUNTIME_API) and on
 * 0.0.0.0:9000 (the host's tunnels), then runs COMMAND as its child. A tunnel proves itself with
 * the line "<secret>\n", the secret taken from _PYTEST_LAMBDA_AGENT_SECRET (removed from the
 * child's environment), and then waits idle. Each connection to 9001 is paired with an idle
 * tunnel: the agent writes one byte (0x01) on the tunnel, then copies bytes both ways until both
 * sides have ended. The host never needs a route from the container: only inward connections.
 *
 * SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGUSR1 go to the child. When the child ends, the agent
 * relays what its connections still carry (at most 2 s), then exits with the child's status
 * (128 + N for signal N, as a shell reports it).
 *
 * Built statically (no libc on the image is needed): cc -static -O2 -o agent agent.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNTIME_PORT 9001
#define TUNNEL_PORT 9000
#define MAX_FDS 256
#define SECRET_MAX 128
#define MAX_PENDING 16    /* unproven tunnels held at once: the oldest goes first */
#define PENDING_SECONDS 5 /* an unproven tunnel must prove itself within this */

enum kind { FREE, PENDING, IDLE, WAITING, RELAY };

struct slot {
    enum kind kind;
    int fd;
    int peer;           /* RELAY: the slot index of the other side */
    int ended;          /* RELAY: this side sent EOF */
    size_t got;         /* PENDING: bytes of the secret line read */
    double since;       /* PENDING: when it was accepted */
    char line[SECRET_MAX + 2];
};

static struct slot slots[MAX_FDS];
static const char *secret;
static size_t secret_len;

static int listen_on(in_addr_t addr, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa;
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = addr;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void drop(int i);

/* Keep unproven tunnels few and young, so that a flood of them never crowds out the runtime's
 * connections or the host's real tunnels (which prove themselves at once). */
static void prune_pending(int room) {
    int count = 0, oldest = -1;
    double limit = now() - PENDING_SECONDS;
    for (int i = 0; i < MAX_FDS; i++) {
        if (slots[i].kind != PENDING) continue;
        if (slots[i].since < limit) { drop(i); continue; }
        count++;
        if (oldest < 0 || slots[i].since < slots[oldest].since) oldest = i;
    }
    if (room && count >= MAX_PENDING && oldest >= 0) drop(oldest);
}

static int add(int fd, enum kind kind) {
    int one = 1;
    for (int i = 0; i < MAX_FDS; i++) {
        if (slots[i].kind == FREE) {
            memset(&slots[i], 0, sizeof slots[i]);
            slots[i].kind = kind;
            slots[i].fd = fd;
            slots[i].peer = -1;
            slots[i].since = now();
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return i;
        }
    }
    close(fd);
    return -1;
}

static void drop(int i) {
    if (slots[i].kind == FREE) return;
    close(slots[i].fd);
    slots[i].kind = FREE;
}

static int write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Pair every waiting runtime connection with an idle tunnel. */
static void match(void) {
    for (int r = 0; r < MAX_FDS; r++) {
        if (slots[r].kind != WAITING) continue;
        int t = -1;
        for (int i = 0; i < MAX_FDS; i++)
            if (slots[i].kind == IDLE) { t = i; break; }
        if (t < 0) return;
        if (write_all(slots[t].fd, "\x01", 1) < 0) { drop(t); r--; continue; }
        slots[r].kind = slots[t].kind = RELAY;
        slots[r].peer = t;
        slots[t].peer = r;
    }
}

static void end_pair(int i) {
    int p = slots[i].peer;
    drop(i);
    if (p >= 0) drop(p);
}

static void relay(int i) {
    static char buf[65536];
    int p = slots[i].peer;
    ssize_t n = read(slots[i].fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) {
        slots[i].ended = 1;
        if (n < 0 || slots[p].ended) { end_pair(i); return; }
        shutdown(slots[p].fd, SHUT_WR);
        return;
    }
    if (write_all(slots[p].fd, buf, (size_t)n) < 0) end_pair(i);
}

static void prove(int i) {
    struct slot *s = &slots[i];
    ssize_t n = read(s->fd, s->line + s->got, secret_len + 1 - s->got);
    if (n <= 0) { drop(i); return; }
    s->got += (size_t)n;
    if (s->got < secret_len + 1) return;
    if (memcmp(s->line, secret, secret_len) != 0 || s->line[secret_len] != '\n') {
        drop(i);
        return;
    }
    s->kind = IDLE;
    match();
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: agent COMMAND [ARG...]\n");
        return 120;
    }
    const char *env = getenv("_PYTEST_LAMBDA_AGENT_SECRET");
    if (env == NULL || strlen(env) == 0 || strlen(env) > SECRET_MAX) {
        fprintf(stderr, "agent: _PYTEST_LAMBDA_AGENT_SECRET is missing or too long\n");
        return 120;
    }
    secret = strdup(env);
    secret_len = strlen(secret);
    unsetenv("_PYTEST_LAMBDA_AGENT_SECRET");

    int inner = listen_on(htonl(INADDR_LOOPBACK), RUNTIME_PORT);
    int outer = listen_on(htonl(INADDR_ANY), TUNNEL_PORT);
    if (inner < 0 || outer < 0) {
        perror("agent: listen");
        return 120;
    }
    sigset_t mask, old;
    sigemptyset(&mask);
    int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1};
    for (size_t k = 0; k < sizeof forwarded / sizeof *forwarded; k++)
        sigaddset(&mask, forwarded[k]);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, &old);
    signal(SIGPIPE, SIG_IGN);
    int sigfd = signalfd(-1, &mask, SFD_CLOEXEC);

    pid_t child = fork();
    if (child < 0) {
        perror("agent: fork");
        return 120;
    }
    if (child == 0) {
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(argv[1], argv + 1);
        perror("agent: exec");
        _exit(127);
    }

    int status = -1;
    double stop_at = 0;
    struct pollfd fds[MAX_FDS + 3];
    int owner[MAX_FDS + 3];
    for (;;) {
        int n = 0;
        if (status >= 0) {
            int busy = 0;
            for (int i = 0; i < MAX_FDS; i++) busy |= slots[i].kind == RELAY;
            if (!busy || now() > stop_at) break;
        }
        fds[n].fd = sigfd; fds[n].events = POLLIN; owner[n++] = -1;
        fds[n].fd = inner; fds[n].events = POLLIN; owner[n++] = -2;
        fds[n].fd = outer; fds[n].events = POLLIN; owner[n++] = -3;
        for (int i = 0; i < MAX_FDS; i++) {
            if (slots[i].kind == FREE || slots[i].kind == WAITING) continue;
            if (slots[i].kind == RELAY && slots[i].ended) continue;
            fds[n].fd = slots[i].fd;
            fds[n].events = POLLIN;
            owner[n++] = i;
        }
        int pending = 0;
        for (int i = 0; i < MAX_FDS; i++) pending |= slots[i].kind == PENDING;
        if (poll(fds, (nfds_t)n, status >= 0 ? 100 : pending ? 1000 : -1) < 0) {
            if (errno == EINTR) continue;
            perror("agent: poll");
            break;
        }
        for (int k = 0; k < n; k++) {
            if (!fds[k].revents) continue;
            int i = owner[k];
            if (i == -1) {
                struct signalfd_siginfo info;
                if (read(sigfd, &info, sizeof info) != sizeof info) continue;
                if (info.ssi_signo != SIGCHLD) {
                    kill(child, (int)info.ssi_signo);
                    continue;
                }
                int ws;
                if (waitpid(child, &ws, WNOHANG) == child) {
                    status = WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
                    stop_at = now() + 2.0;
                }
                while (waitpid(-1, &ws, WNOHANG) > 0) {}
            } else if (i == -2 || i == -3) {
                if (i == -3) prune_pending(1);
                int fd = accept4(fds[k].fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd >= 0 && add(fd, i == -2 ? WAITING : PENDING) >= 0 && i == -2) match();
            } else if (slots[i].fd != fds[k].fd) {
                continue; /* the slot was reused during this round */
            } else if (slots[i].kind == PENDING) {
                prove(i);
            } else if (slots[i].kind == IDLE) {
                drop(i); /* an idle tunnel only becomes readable when the host closes it */
            } else if (slots[i].kind == RELAY) {
                relay(i);
            }
        }
        if (pending) prune_pending(0);
    }
    return status < 0 ? 120 : status;
}
