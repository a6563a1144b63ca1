/* limit: the ceiling hive is measured against.
 *
 * One epoll loop, no parsing: every "\r\n\r\n" in a connection's input stream is answered with
 * one canned 200 response, and all the responses owed for one read leave in ONE write. Under
 * keep-alive load that is one epoll_wait + one read + one write per request; a pipelined batch
 * costs one read + one write. Nothing a real server could skip is skipped except parsing.
 *
 *   limit [--port N] [--churn]
 *
 * --churn closes each connection after answering and sets TCP_DEFER_ACCEPT on the listener, so
 * accept4 returns with the request already queued and it is read without waiting on epoll.
 *
 * Build: cc -O2 -o limit limit.c   (C11, Linux)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { read_buf_bytes = 64 * 1024, max_events = 256, listen_backlog = 4096 };

static const char resp_head[] =
    "HTTP/1.1 200 OK\r\n"
    "Server: limit\r\n"
    "Date: ";
#define DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */
static const char resp_tail[] =
    "\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 14\r\n"
    "\r\n"
    "Hello, world!\n";
/* --churn closes after answering, so it says so: a client that reads "keep-alive" would send its
 * next request into the closed socket and count an error. */
static const char resp_tail_close[] =
    "\r\n"
    "Connection: close\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 14\r\n"
    "\r\n"
    "Hello, world!\n";

#define HEAD_LEN (sizeof resp_head - 1)
#define RESP_MAX (HEAD_LEN + DATE_LEN + sizeof resp_tail_close - 1)

static char resp[RESP_MAX + 1]; /* the canned response; its Date is rewritten once a second */
static size_t resp_len;
static time_t resp_date_sec = -1;

/* Per-connection state, indexed by fd. */
struct conn {
    unsigned char crlf_state; /* how much of "\r\n\r\n" the input so far ends with: 0..3 */
    char *pending;            /* output a short write left behind (then we wait for EPOLLOUT) */
    size_t pending_len, pending_off, pending_cap;
};

static struct conn *conns;
static size_t conns_cap;
static char *out_buf; /* scratch for the responses of one read: at most read_buf_bytes/4 of them */
static int epfd;
static int churn;

static void refresh_date(void)
{
    time_t now = time(NULL); /* vDSO: no syscall */
    if (now == resp_date_sec)
        return;
    resp_date_sec = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    char date[DATE_LEN + 1];
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    memcpy(resp + HEAD_LEN, date, DATE_LEN);
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static struct conn *conn_for(int fd)
{
    if ((size_t)fd >= conns_cap) {
        size_t cap = conns_cap ? conns_cap : 1024;
        while (cap <= (size_t)fd)
            cap *= 2;
        conns = realloc(conns, cap * sizeof *conns);
        if (!conns)
            die("realloc");
        memset(conns + conns_cap, 0, (cap - conns_cap) * sizeof *conns);
        conns_cap = cap;
    }
    return &conns[fd];
}

static void conn_close(int fd)
{
    struct conn *c = &conns[fd];
    free(c->pending);
    memset(c, 0, sizeof *c);
    close(fd); /* also removes it from the epoll set */
}

/* Counts the "\r\n\r\n" in buf, carrying a partial match in *state across calls. */
static size_t count_request_ends(const char *buf, size_t n, unsigned char *state)
{
    size_t count = 0;
    unsigned s = *state;
    const char *p = buf, *end = buf + n;
    while (p < end) {
        if (s == 0) {
            /* Fast skip to the next '\r'. */
            const char *cr = memchr(p, '\r', (size_t)(end - p));
            if (!cr)
                break;
            p = cr + 1;
            s = 1;
            continue;
        }
        char ch = *p++;
        if (s == 1 || s == 3)
            s = (ch == '\n') ? s + 1 : (ch == '\r' ? 1 : 0);
        else /* s == 2 */
            s = (ch == '\r') ? 3 : 0;
        if (s == 4) {
            ++count;
            s = 0;
        }
    }
    *state = (unsigned char)s;
    return count;
}

/* Sets a connection's interest; a churn connection is only added to epoll when it must wait. */
static void watch(int fd, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0 &&
        (errno != ENOENT || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0))
        die("epoll_ctl");
}

/* Keeps what a short write left; the connection then waits for EPOLLOUT instead of reading. */
static void keep_pending(int fd, struct conn *c, const char *data, size_t len)
{
    if (len > c->pending_cap) {
        free(c->pending);
        c->pending = malloc(len);
        if (!c->pending)
            die("malloc");
        c->pending_cap = len;
    }
    memcpy(c->pending, data, len);
    c->pending_len = len;
    c->pending_off = 0;
    watch(fd, EPOLLOUT);
}

/* Returns 0 when the connection stays open, -1 when it was closed. */
static int send_all(int fd, struct conn *c, const char *data, size_t len, int from_pending)
{
    ssize_t w = write(fd, data, len);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            conn_close(fd);
            return -1;
        }
        w = 0;
    }
    if ((size_t)w == len) {
        if (from_pending) {
            c->pending_len = c->pending_off = 0;
            if (!churn)
                watch(fd, EPOLLIN);
        }
        if (churn) {
            conn_close(fd);
            return -1;
        }
        return 0;
    }
    if (from_pending) {
        c->pending_off += (size_t)w;
        return 0;
    }
    keep_pending(fd, c, data + w, len - (size_t)w);
    return 0;
}

static void on_readable(int fd)
{
    static char in[read_buf_bytes];
    struct conn *c = &conns[fd];
    ssize_t n = read(fd, in, sizeof in);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (churn) /* deferred accept handed us the socket before its data */
                watch(fd, EPOLLIN);
            return;
        }
        conn_close(fd);
        return;
    }
    size_t reqs = count_request_ends(in, (size_t)n, &c->crlf_state);
    if (reqs == 0) {
        if (churn)
            watch(fd, EPOLLIN);
        return;
    }
    refresh_date();
    const char *out = resp;
    size_t out_len = resp_len;
    if (reqs > 1) {
        char *p = out_buf;
        for (size_t i = 0; i < reqs; ++i, p += resp_len)
            memcpy(p, resp, resp_len);
        out = out_buf;
        out_len = reqs * resp_len;
    }
    send_all(fd, c, out, out_len, 0);
}

static void on_writable(int fd)
{
    struct conn *c = &conns[fd];
    send_all(fd, c, c->pending + c->pending_off, c->pending_len - c->pending_off, 1);
}

static void on_acceptable(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE)
                perror("accept4");
            return; /* EAGAIN or out of descriptors: wait for the next wake-up */
        }
        conn_for(fd); /* grows the table; the slot is already zeroed */
        if (churn) {
            /* TCP_DEFER_ACCEPT: the request is normally already here. Read it now. No
             * TCP_NODELAY: the one write goes out at once (nothing is unacknowledged), then
             * close. */
            on_readable(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            die("epoll_ctl add");
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: limit [--port N] [--churn]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = 8080;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            long p = strtol(argv[++i], &end, 10);
            if (*end || p < 0 || p > 65535)
                usage();
            port = (int)p;
        } else if (strcmp(argv[i], "--churn") == 0) {
            churn = 1;
        } else {
            usage();
        }
    }

    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    memcpy(resp, resp_head, HEAD_LEN);
    const char *tail = churn ? resp_tail_close : resp_tail;
    size_t tail_len = strlen(tail);
    memcpy(resp + HEAD_LEN + DATE_LEN, tail, tail_len);
    resp_len = HEAD_LEN + DATE_LEN + tail_len;
    refresh_date();
    out_buf = malloc((read_buf_bytes / 4 + 1) * resp_len);
    if (!out_buf)
        die("malloc");

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (churn) {
        int secs = 5;
        setsockopt(lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "limit: cannot bind 127.0.0.1:%d: %s; choose another with --port\n", port,
                strerror(errno));
        return 1;
    }
    if (listen(lfd, listen_backlog) < 0)
        die("listen");
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0)
        die("epoll_ctl add listener");

    printf("limit %d listening on 127.0.0.1:%d\n", (int)getpid(), ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event events[max_events];
    for (;;) {
        int n = epoll_wait(epfd, events, max_events, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == lfd)
                on_acceptable(lfd);
            else if (conns[fd].pending_len)
                on_writable(fd);
            else
                on_readable(fd);
        }
    }
}
