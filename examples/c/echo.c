/*
 * echo.c -- a TCP echo server and client on the host's reactor.
 *
 * WHAT IT SHOWS
 *   - fd readiness from the host: a non-blocking socket is registered with
 *     cx->host->io_open (on the reactor of the task being polled), then
 *     awake_io_poll_read/_write say whether to try read()/write() or wait.
 *     Readiness is edge-triggered: read or write until EAGAIN (or a short
 *     transfer, which says the same without the extra syscall), then
 *     awake_io_clear_read/_write(tick) with the tick the poll returned, and
 *     poll the event again (which parks the waker, or returns READY at once
 *     if the fd became ready meanwhile -- the tick makes that race safe).
 *   - partial writes: whatever write() did not take stays in the buffer and
 *     the connection waits for writability before reading more
 *     (back-pressure instead of unbounded buffering).
 *   - cooperative fairness: a connection that is always readable yields
 *     after a budget of operations (wake_by_ref + PENDING) so that the
 *     other tasks run.
 *   - spawn: the acceptor spawns one task per accepted connection
 *     (cx->host->spawn with no join future: detached) and learns about
 *     their completion through refcounted shared state holding a clone of
 *     its waker -- one task waking another.
 *   - join futures: the client spawns one task per connection and awaits
 *     their join futures (spawn's third argument), whose output is a plain
 *     uint64_t (a non-text output: output_size 8) -- and echo_selftest
 *     spawns a server and a client and awaits both.
 *   - drop in any state: io_close before close(2), listener included.
 *
 * EXPORTS (everything on 127.0.0.1)
 *   echo_serve <port> <conns>
 *       listen on <port> (0: the OS picks one; the port is logged as
 *       "listening on 127.0.0.1:<port>"), serve exactly <conns>
 *       connections until the peer's EOF, then
 *       -> "served <conns> connections, <bytes> bytes"
 *   echo_client <port> <conns> <msgs> <size>
 *       open <conns> connections at once; on each send <msgs> messages of
 *       <size> bytes, read every echo back and compare, then shut down and
 *       wait for the server's EOF
 *       -> "client: <conns> connections x <msgs> messages x <size> bytes
 *           echoed and verified (<total> bytes)"
 *   echo_selftest <conns> <msgs> <size>
 *       both of the above in one run, on a port the OS picks
 *       -> "<server text>; <client text>"
 *
 * Try it:   run echo.so echo_selftest 8 10 4096
 *     or:   run echo.so echo_serve 7000 2 &  run echo.so echo_client 7000 2 5 100
 */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* accept4 */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "example_util.h"

static const awake_host *host; /* set by the entry point (unused here) */

#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL /* a write to a closed peer must not SIGPIPE */
#else
#define SEND_FLAGS 0
#endif

#define BUDGET 64          /* socket operations per poll before yielding */
#define MAX_CONNS 100000

/* ---- socket helpers ------------------------------------------------------- */

static int set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int no_sigpipe(int fd) {
#ifdef SO_NOSIGPIPE
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
    (void)fd;
    return 0;
#endif
}

/* A non-blocking listening socket on 127.0.0.1:port, or -1 (errno set). */
static int listen_on(uint16_t port) {
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fd, 512) != 0 || set_nonblock(fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static uint16_t local_port(int fd) {
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &l) != 0)
        return 0;
    return ntohs(a.sin_port);
}

static int accept_nonblock(int lfd) {
#if defined(__linux__)
    return accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = accept(lfd, NULL, NULL);
    if (fd >= 0 && (set_nonblock(fd) != 0 || no_sigpipe(fd) != 0)) {
        close(fd);
        return -1;
    }
    return fd;
#endif
}

/* Outcome of one socket step. */
enum { STEP_WAIT = 0, STEP_DONE = 1, STEP_EOF = 2, STEP_FAIL = -1 };

/* Writes once: STEP_DONE after n > 0 bytes, STEP_WAIT after parking the
 * waker on writability, STEP_FAIL with errno.  This is the edge-triggered
 * pattern of awake.h: poll the event; try; on EAGAIN clear it with the tick
 * of the poll that said READY, then poll again. */
static int step_write(awake_io *io, awake_context *cx, const uint8_t *p,
                      size_t len, size_t *n) {
    for (;;) {
        uint64_t tick;
        if (awake_io_poll_write(io, cx, &tick) == AWAKE_PENDING)
            return STEP_WAIT;
        ssize_t r = send(io->fd, p, len, SEND_FLAGS);
        if (r > 0) {
            if ((size_t)r < len) /* short: the send buffer is full (awake.h) */
                awake_io_clear_write(io, tick);
            *n = (size_t)r;
            return STEP_DONE;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            awake_io_clear_write(io, tick);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        return STEP_FAIL;
    }
}

/* Reads once: STEP_DONE with *n > 0 bytes, STEP_EOF, STEP_WAIT, STEP_FAIL. */
static int step_read(awake_io *io, awake_context *cx, uint8_t *p, size_t cap,
                     size_t *n) {
    for (;;) {
        uint64_t tick;
        if (awake_io_poll_read(io, cx, &tick) == AWAKE_PENDING)
            return STEP_WAIT;
        ssize_t r = recv(io->fd, p, cap, 0);
        if (r > 0) {
            if ((size_t)r < cap) /* short: drained, no EAGAIN read (awake.h) */
                awake_io_clear_read(io, tick);
            *n = (size_t)r;
            return STEP_DONE;
        }
        if (r == 0)
            return STEP_EOF;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            awake_io_clear_read(io, tick);
            continue;
        }
        if (errno == EINTR)
            continue;
        return STEP_FAIL;
    }
}

/* Deregisters and closes a socket (io_close first, as awake.h requires). */
static void sock_close(const awake_host *h, awake_io **io, int *fd) {
    if (*io) {
        h->io_close(*io);
        *io = NULL;
    }
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* ======================================================================== */
/* Server                                                                   */
/* ======================================================================== */

/* Shared by the acceptor and every connection task it spawned. */
typedef struct server {
    atomic_int refs;          /* acceptor + one per connection future      */
    pthread_mutex_t mu;       /* guards the rest: tasks may run anywhere   */
    uint64_t done, failed, bytes;
    char first_error[200];
    awake_waker waker;        /* the acceptor's, woken on each completion  */
} server;

static void server_release(server *s) {
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (awake_waker_is_set(s->waker))
        awake_waker_drop(s->waker);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* A connection task reports once, however it ends (even when dropped). */
static void server_report(server *s, uint64_t bytes, const char *error) {
    awake_waker w = {NULL, NULL};
    pthread_mutex_lock(&s->mu);
    s->done++;
    s->bytes += bytes;
    if (error) {
        if (s->failed++ == 0)
            snprintf(s->first_error, sizeof s->first_error, "%s", error);
    }
    if (awake_waker_is_set(s->waker))
        w = awake_waker_clone(s->waker);
    pthread_mutex_unlock(&s->mu);
    if (awake_waker_is_set(w))
        awake_waker_wake(w); /* outside our lock */
}

/* ---- one connection: read, echo back, until EOF --------------------------- */

typedef struct conn {
    int fd;
    awake_io *io;
    const awake_host *host;
    server *srv;
    uint64_t bytes;
    size_t off, len;          /* buf[off..len) still has to be echoed      */
    int eof, finished, reported;
    uint8_t buf[16384];
} conn;

static int32_t conn_fail(conn *c, awake_error **err, const char *what) {
    char msg[160];
    snprintf(msg, sizeof msg, "echo connection fd %d: %s failed: %s", c->fd,
             what, strerror(errno));
    sock_close(c->host, &c->io, &c->fd);
    c->finished = c->reported = 1;
    server_report(c->srv, c->bytes, msg);
    *err = ex_errorf(AWAKE_E_SYSTEM, "%s", msg);
    return AWAKE_ERROR;
}

static int32_t conn_poll(void *self, awake_context *cx, void *out,
                         awake_error **err) {
    conn *c = self;
    (void)out; /* no output */
    if (c->finished)
        return AWAKE_MISUSE;
    if (!c->io) {
        c->host = cx->host;
        int32_t rc = cx->host->io_open(cx, c->fd, AWAKE_IO_READ | AWAKE_IO_WRITE,
                                       &c->io);
        if (rc != AWAKE_OK) {
            c->io = NULL;
            errno = EINVAL;
            return conn_fail(c, err, "io_open");
        }
    }
    for (int budget = BUDGET; budget > 0; budget--) {
        size_t n;
        if (c->off < c->len) { /* finish echoing before reading more */
            switch (step_write(c->io, cx, c->buf + c->off, c->len - c->off, &n)) {
            case STEP_WAIT:
                return AWAKE_PENDING;
            case STEP_FAIL:
                return conn_fail(c, err, "write");
            default:
                c->off += n;
                continue;
            }
        }
        if (c->eof) {
            sock_close(c->host, &c->io, &c->fd);
            c->finished = c->reported = 1;
            server_report(c->srv, c->bytes, NULL);
            return AWAKE_READY;
        }
        switch (step_read(c->io, cx, c->buf, sizeof c->buf, &n)) {
        case STEP_WAIT:
            return AWAKE_PENDING;
        case STEP_FAIL:
            return conn_fail(c, err, "read");
        case STEP_EOF:
            c->eof = 1;
            break;
        default:
            c->off = 0;
            c->len = n;
            c->bytes += n;
        }
    }
    /* Still busy after BUDGET operations: let other tasks run first. */
    awake_waker_wake_by_ref(&cx->waker);
    return AWAKE_PENDING;
}

static void conn_drop(void *self) {
    conn *c = self;
    if (c->fd >= 0) {
        if (c->io)
            c->host->io_close(c->io);
        close(c->fd);
    }
    if (!c->reported)
        server_report(c->srv, c->bytes, "connection dropped before EOF");
    server_release(c->srv);
    free(c);
}

static const awake_future_vtable conn_vtable = {
    sizeof(awake_future_vtable), AWAKE_FUTURE_SEND, 0, 1, conn_poll, conn_drop,
    NULL};

/* ---- the acceptor: echo_serve ------------------------------------------ */

typedef struct acceptor {
    uint16_t port;
    uint64_t want, accepted;
    int lfd;
    awake_io *io;
    const awake_host *host;
    server *srv;
    int finished, cancelled;
} acceptor;

static int32_t acceptor_poll(void *self, awake_context *cx, void *out,
                             awake_error **err) {
    acceptor *a = self;
    if (a->finished)
        return AWAKE_MISUSE;
    a->host = cx->host;
    if (a->cancelled) {
        sock_close(a->host, &a->io, &a->lfd);
        a->finished = 1;
        return AWAKE_CANCELLED;
    }
    if (a->lfd < 0 && a->accepted < a->want) {
        a->lfd = listen_on(a->port);
        if (a->lfd < 0) {
            a->finished = 1;
            return ex_fail(err, AWAKE_ERROR, AWAKE_E_SYSTEM,
                           "echo_serve: cannot listen on 127.0.0.1:%u: %s "
                           "(choose another port, or 0 for any)",
                           a->port, strerror(errno));
        }
    }
    if (a->lfd >= 0 && !a->io) {
        int32_t rc = cx->host->io_open(cx, a->lfd, AWAKE_IO_READ, &a->io);
        if (rc != AWAKE_OK) {
            a->io = NULL;
            sock_close(a->host, &a->io, &a->lfd);
            a->finished = 1;
            return ex_fail(err, AWAKE_ERROR, rc,
                           "echo_serve: host io_open failed with code %d", rc);
        }
        char msg[64];
        snprintf(msg, sizeof msg, "echo_serve: listening on 127.0.0.1:%u",
                 local_port(a->lfd));
        awake_log(cx, AWAKE_LOG_INFO, msg);
    }

    while (a->accepted < a->want) {
        uint64_t tick;
        if (awake_io_poll_read(a->io, cx, &tick) == AWAKE_PENDING)
            break; /* the waker is parked on the listener */
        int fd = accept_nonblock(a->lfd);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                awake_io_clear_read(a->io, tick);
                continue;
            }
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            int e = errno;
            sock_close(a->host, &a->io, &a->lfd);
            a->finished = 1;
            return ex_fail(err, AWAKE_ERROR, AWAKE_E_SYSTEM,
                           "echo_serve: accept failed: %s", strerror(e));
        }
        conn *c = malloc(sizeof *c);
        if (!c) {
            close(fd);
            sock_close(a->host, &a->io, &a->lfd);
            a->finished = 1;
            return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM,
                           "echo_serve: out of memory");
        }
        memset(c, 0, offsetof(conn, buf));
        c->fd = fd;
        c->srv = a->srv;
        atomic_fetch_add(&a->srv->refs, 1);
        awake_future f = {c, &conn_vtable};
        /* A new task per connection; no join future: it runs detached and
         * reports through the shared server state. */
        int32_t rc = awake_spawn(cx, f, NULL);
        a->accepted++;
        if (rc != AWAKE_OK) {
            /* The host dropped the future (it owns it even on failure), and
             * conn_drop reported it as failed. */
            sock_close(a->host, &a->io, &a->lfd);
            a->finished = 1;
            return ex_fail(err, AWAKE_ERROR, rc,
                           "echo_serve: host spawn failed with code %d", rc);
        }
    }
    if (a->accepted == a->want && a->lfd >= 0)
        sock_close(a->host, &a->io, &a->lfd); /* accept no more */

    /* Done when every connection task reported.  Check and register the
     * waker under the lock the tasks report under: no lost wake. */
    server *s = a->srv;
    awake_waker old = {NULL, NULL};
    pthread_mutex_lock(&s->mu);
    if (s->done < a->want) {
        if (!awake_waker_is_set(s->waker) ||
            !awake_waker_will_wake(s->waker, cx->waker)) {
            old = s->waker;
            s->waker = awake_waker_clone(cx->waker);
        }
        pthread_mutex_unlock(&s->mu);
        if (awake_waker_is_set(old))
            awake_waker_drop(old);
        return AWAKE_PENDING;
    }
    uint64_t bytes = s->bytes, failed = s->failed;
    char first[sizeof s->first_error];
    memcpy(first, s->first_error, sizeof first);
    pthread_mutex_unlock(&s->mu);

    a->finished = 1;
    if (failed)
        return ex_fail(err, AWAKE_ERROR, AWAKE_E_SYSTEM,
                       "echo_serve: %" PRIu64 " of %" PRIu64 " connections "
                       "failed (first: %s)", failed, a->want, first);
    if (ex_output_text(out, "served %" PRIu64 " connections, %" PRIu64 " bytes",
                       a->want, bytes) != 0)
        return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM,
                       "echo_serve: out of memory");
    return AWAKE_READY;
}

static void acceptor_drop(void *self) {
    acceptor *a = self;
    if (a->io)
        a->host->io_close(a->io);
    if (a->lfd >= 0)
        close(a->lfd);
    /* Take our waker back so late reports do not wake a dead task. */
    pthread_mutex_lock(&a->srv->mu);
    awake_waker w = a->srv->waker;
    a->srv->waker.data = NULL;
    a->srv->waker.vtable = NULL;
    pthread_mutex_unlock(&a->srv->mu);
    if (awake_waker_is_set(w))
        awake_waker_drop(w);
    server_release(a->srv);
    free(a);
}

/* Stops accepting: the next poll closes the listener and returns
 * AWAKE_CANCELLED.  Connections already accepted are tasks of their own and
 * run to their end. */
static int32_t acceptor_cancel(void *self) {
    ((acceptor *)self)->cancelled = 1;
    return AWAKE_OK;
}

EX_BYTES_VTABLE(acceptor_vtable, acceptor_poll, acceptor_drop, acceptor_cancel);

/* lfd: an already listening socket (echo_selftest), or -1. */
static int new_acceptor(uint16_t port, uint64_t conns, int lfd,
                        awake_future *out) {
    acceptor *a = calloc(1, sizeof *a);
    server *s = calloc(1, sizeof *s);
    if (!a || !s) {
        free(a);
        free(s);
        return -1;
    }
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->mu, NULL);
    a->port = port;
    a->want = conns;
    a->lfd = lfd;
    a->srv = s;
    out->self = a;
    out->vtable = &acceptor_vtable;
    return 0;
}

static int32_t make_echo_serve(const uint8_t *args, size_t len,
                               awake_future *out, awake_error **err) {
    char *s = ex_args_string(args, len);
    const char *p = s;
    uint64_t port, conns;
    int ok = s && ex_parse_u64(&p, &port) == 0 && port <= 65535 &&
             ex_parse_u64(&p, &conns) == 0 && conns >= 1 &&
             conns <= MAX_CONNS && ex_at_end(p);
    free(s);
    if (!ok)
        return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID,
                       "echo_serve: expected \"<port> <conns>\" (port 0..65535, "
                       "0 = any; conns 1..%d), got \"%.*s\"",
                       MAX_CONNS, (int)len, (const char *)args);
    if (new_acceptor((uint16_t)port, conns, -1, out) != 0)
        return ex_fail(err, AWAKE_E_NOMEM, AWAKE_E_NOMEM,
                       "echo_serve: out of memory");
    return AWAKE_OK;
}

/* ======================================================================== */
/* Client                                                                   */
/* ======================================================================== */

/* The byte at offset j of message k on connection id. */
static uint8_t pattern(uint32_t id, uint64_t k, size_t j) {
    return (uint8_t)(id * 31u + k * 7u + j * 13u + (j >> 8));
}

/* ---- one client connection: output is a uint64_t (bytes verified) ------- */

typedef struct client_conn {
    uint16_t port;
    uint32_t id;
    uint64_t msgs, size;
    int fd;
    awake_io *io;
    const awake_host *host;
    int connected, shut, finished;
    uint64_t k;               /* current message                          */
    size_t sent, rcvd;        /* of the current message                   */
    uint64_t verified;
    uint8_t *msg;             /* current message                          */
    uint8_t rbuf[16384];
} client_conn;

static int32_t client_fail(client_conn *c, awake_error **err, const char *fmt,
                           ...) EX_PRINTF(3, 4);
static int32_t client_fail(client_conn *c, awake_error **err, const char *fmt,
                           ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sock_close(c->host, &c->io, &c->fd);
    c->finished = 1;
    *err = ex_errorf(AWAKE_E_SYSTEM, "echo_client conn %u: %s", c->id, msg);
    return AWAKE_ERROR;
}

static void fill_message(client_conn *c) {
    for (size_t j = 0; j < c->size; j++)
        c->msg[j] = pattern(c->id, c->k, j);
    c->sent = c->rcvd = 0;
}

static int32_t client_conn_poll(void *self, awake_context *cx, void *out,
                                awake_error **err) {
    client_conn *c = self;
    if (c->finished)
        return AWAKE_MISUSE;
    if (c->fd < 0) {
        struct sockaddr_in a;
        c->host = cx->host;
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0 || set_nonblock(c->fd) != 0 || no_sigpipe(c->fd) != 0)
            return client_fail(c, err, "socket: %s", strerror(errno));
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(c->port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 &&
            errno != EINPROGRESS)
            return client_fail(c, err, "connect to 127.0.0.1:%u: %s", c->port,
                               strerror(errno));
        int32_t rc = cx->host->io_open(cx, c->fd, AWAKE_IO_READ | AWAKE_IO_WRITE,
                                       &c->io);
        if (rc != AWAKE_OK) {
            c->io = NULL;
            return client_fail(c, err, "host io_open failed with code %d", rc);
        }
        fill_message(c);
    }
    if (!c->connected) {
        /* A non-blocking connect completes when the socket is writable. */
        if (awake_io_poll_write(c->io, cx, NULL) == AWAKE_PENDING)
            return AWAKE_PENDING;
        int soerr = 0;
        socklen_t l = sizeof soerr;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &l) != 0)
            soerr = errno;
        if (soerr)
            return client_fail(c, err, "connect to 127.0.0.1:%u: %s "
                               "(is echo_serve running on that port?)",
                               c->port, strerror(soerr));
        c->connected = 1;
    }
    for (int budget = BUDGET; budget > 0; budget--) {
        size_t n;
        int progress = 0, r;
        if (c->k == c->msgs) {
            /* All echoed: half-close, then the server's EOF ends it. */
            if (!c->shut) {
                shutdown(c->fd, SHUT_WR);
                c->shut = 1;
            }
            r = step_read(c->io, cx, c->rbuf, sizeof c->rbuf, &n);
            if (r == STEP_WAIT)
                return AWAKE_PENDING;
            if (r == STEP_FAIL)
                return client_fail(c, err, "read: %s", strerror(errno));
            if (r == STEP_DONE)
                return client_fail(c, err, "%zu unexpected bytes after the "
                                   "last echo", n);
            sock_close(c->host, &c->io, &c->fd);
            c->finished = 1;
            memcpy(out, &c->verified, sizeof c->verified);
            return AWAKE_READY;
        }
        /* Write and read interleaved: a server that echoes while we are
         * still writing would otherwise fill both socket buffers. */
        if (c->sent < c->size) {
            r = step_write(c->io, cx, c->msg + c->sent, c->size - c->sent, &n);
            if (r == STEP_FAIL)
                return client_fail(c, err, "write: %s", strerror(errno));
            if (r == STEP_DONE) {
                c->sent += n;
                progress = 1;
            }
        }
        if (c->rcvd < c->sent) {
            size_t want = c->size - c->rcvd;
            r = step_read(c->io, cx, c->rbuf,
                          want < sizeof c->rbuf ? want : sizeof c->rbuf, &n);
            if (r == STEP_FAIL)
                return client_fail(c, err, "read: %s", strerror(errno));
            if (r == STEP_EOF)
                return client_fail(c, err, "server closed the connection "
                                   "after %zu of %" PRIu64 " bytes of "
                                   "message %" PRIu64, c->rcvd, c->size, c->k);
            if (r == STEP_DONE) {
                for (size_t j = 0; j < n; j++)
                    if (c->rbuf[j] != pattern(c->id, c->k, c->rcvd + j))
                        return client_fail(
                            c, err, "echo mismatch in message %" PRIu64
                            " at byte %zu: got 0x%02x, sent 0x%02x", c->k,
                            c->rcvd + j, c->rbuf[j],
                            pattern(c->id, c->k, c->rcvd + j));
                c->rcvd += n;
                c->verified += n;
                progress = 1;
            }
        }
        if (c->rcvd == c->size) {
            c->k++;
            if (c->k < c->msgs)
                fill_message(c);
            continue;
        }
        if (!progress)
            return AWAKE_PENDING; /* wakers parked on what we wait for */
    }
    awake_waker_wake_by_ref(&cx->waker); /* budget used up: yield */
    return AWAKE_PENDING;
}

static void client_conn_drop(void *self) {
    client_conn *c = self;
    if (c->fd >= 0) {
        if (c->io)
            c->host->io_close(c->io);
        close(c->fd);
    }
    free(c->msg);
    free(c);
}

/* Output: uint64_t, the bytes echoed and verified (not text). */
static const awake_future_vtable client_conn_vtable = {
    sizeof(awake_future_vtable), AWAKE_FUTURE_SEND, sizeof(uint64_t),
    _Alignof(uint64_t), client_conn_poll, client_conn_drop, NULL};

/* ---- the client: spawns the connections and awaits their joins ---------- */

typedef struct client {
    uint16_t port;
    uint64_t conns, msgs, size;
    awake_future *joins;      /* join futures; self NULL once finished     */
    uint64_t remaining, verified;
    int started, finished;
} client;

static void client_release_joins(client *cl) {
    for (uint64_t i = 0; cl->joins && i < cl->conns; i++)
        if (cl->joins[i].self) {
            /* Dropping a join future detaches (does not cancel) the task. */
            cl->joins[i].vtable->drop(cl->joins[i].self);
            cl->joins[i].self = NULL;
        }
}

static int32_t client_poll(void *self, awake_context *cx, void *out,
                           awake_error **err) {
    client *cl = self;
    if (cl->finished)
        return AWAKE_MISUSE;
    if (!cl->started) {
        cl->started = 1;
        for (uint64_t i = 0; i < cl->conns; i++) {
            client_conn *c = calloc(1, sizeof *c);
            uint8_t *msg = c ? malloc(cl->size) : NULL;
            if (!msg) {
                free(c);
                cl->finished = 1;
                client_release_joins(cl);
                return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM,
                               "echo_client: out of memory");
            }
            c->port = cl->port;
            c->id = (uint32_t)i;
            c->msgs = cl->msgs;
            c->size = cl->size;
            c->fd = -1;
            c->msg = msg;
            awake_future f = {c, &client_conn_vtable};
            int32_t rc = awake_spawn(cx, f, &cl->joins[i]);
            if (rc != AWAKE_OK) {
                cl->joins[i].self = NULL;
                cl->finished = 1;
                client_release_joins(cl);
                return ex_fail(err, AWAKE_ERROR, rc,
                               "echo_client: host spawn failed with code %d",
                               rc);
            }
        }
    }
    /* Await every join future with our own context. */
    for (uint64_t i = 0; i < cl->conns; i++) {
        awake_future *j = &cl->joins[i];
        uint64_t v;
        if (!j->self)
            continue;
        int32_t r = j->vtable->poll(j->self, cx, &v, err);
        if (r == AWAKE_PENDING)
            continue;
        j->vtable->drop(j->self);
        j->self = NULL;
        if (r != AWAKE_READY) {
            cl->finished = 1;
            client_release_joins(cl);
            if (r == AWAKE_ERROR)
                return AWAKE_ERROR; /* the connection's error, passed on */
            return ex_fail(err, AWAKE_ERROR, AWAKE_E_INVALID,
                           "echo_client: connection %" PRIu64 " ended with "
                           "status %d", i, r);
        }
        cl->verified += v;
        cl->remaining--;
    }
    if (cl->remaining)
        return AWAKE_PENDING;
    cl->finished = 1;
    if (ex_output_text(out,
                       "client: %" PRIu64 " connections x %" PRIu64
                       " messages x %" PRIu64 " bytes echoed and verified (%"
                       PRIu64 " bytes)",
                       cl->conns, cl->msgs, cl->size, cl->verified) != 0)
        return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM,
                       "echo_client: out of memory");
    return AWAKE_READY;
}

static void client_drop(void *self) {
    client *cl = self;
    client_release_joins(cl);
    free(cl->joins);
    free(cl);
}

EX_BYTES_VTABLE(client_vtable, client_poll, client_drop, NULL);

static int new_client(uint16_t port, uint64_t conns, uint64_t msgs,
                      uint64_t size, awake_future *out) {
    client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return -1;
    cl->joins = calloc(conns, sizeof *cl->joins);
    if (!cl->joins) {
        free(cl);
        return -1;
    }
    cl->port = port;
    cl->conns = cl->remaining = conns;
    cl->msgs = msgs;
    cl->size = size;
    out->self = cl;
    out->vtable = &client_vtable;
    return 0;
}

static int parse_client_args(const char **p, uint64_t *conns, uint64_t *msgs,
                             uint64_t *size) {
    return ex_parse_u64(p, conns) == 0 && *conns >= 1 && *conns <= MAX_CONNS &&
           ex_parse_u64(p, msgs) == 0 && ex_parse_u64(p, size) == 0 &&
           *size >= 1 && *size <= (64u << 20) && ex_at_end(*p);
}

static int32_t make_echo_client(const uint8_t *args, size_t len,
                                awake_future *out, awake_error **err) {
    char *s = ex_args_string(args, len);
    const char *p = s;
    uint64_t port, conns, msgs, size;
    int ok = s && ex_parse_u64(&p, &port) == 0 && port >= 1 && port <= 65535 &&
             parse_client_args(&p, &conns, &msgs, &size);
    free(s);
    if (!ok)
        return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID,
                       "echo_client: expected \"<port> <conns> <msgs> <size>\" "
                       "(port 1..65535, conns 1..%d, size 1..64M), got "
                       "\"%.*s\"", MAX_CONNS, (int)len, (const char *)args);
    if (new_client((uint16_t)port, conns, msgs, size, out) != 0)
        return ex_fail(err, AWAKE_E_NOMEM, AWAKE_E_NOMEM,
                       "echo_client: out of memory");
    return AWAKE_OK;
}

/* ======================================================================== */
/* Self-test: server + client in one future                                 */
/* ======================================================================== */

typedef struct selftest {
    uint64_t conns, msgs, size;
    awake_future server_join, client_join;
    awake_bytes server_out, client_out;
    int server_done, client_done, started, finished;
} selftest;

static void bytes_release(awake_bytes *b) {
    if (b->drop)
        b->drop(b->data, b->len);
    memset(b, 0, sizeof *b);
}

static void selftest_release(selftest *t) {
    if (t->server_join.self) {
        t->server_join.vtable->drop(t->server_join.self);
        t->server_join.self = NULL;
    }
    if (t->client_join.self) {
        t->client_join.vtable->drop(t->client_join.self);
        t->client_join.self = NULL;
    }
    bytes_release(&t->server_out);
    bytes_release(&t->client_out);
}

/* Polls one join future into *b.  Returns PENDING, READY or a failure. */
static int32_t selftest_await(awake_future *j, awake_bytes *b, int *done,
                              awake_context *cx, awake_error **err) {
    if (*done)
        return AWAKE_READY;
    int32_t r = j->vtable->poll(j->self, cx, b, err);
    if (r == AWAKE_PENDING)
        return r;
    j->vtable->drop(j->self);
    j->self = NULL;
    *done = 1;
    return r;
}

static int32_t selftest_poll(void *self, awake_context *cx, void *out,
                             awake_error **err) {
    selftest *t = self;
    if (t->finished)
        return AWAKE_MISUSE;
    if (!t->started) {
        t->started = 1;
        /* Listen first, so the client knows the port before it starts. */
        int lfd = listen_on(0);
        if (lfd < 0) {
            t->finished = 1;
            return ex_fail(err, AWAKE_ERROR, AWAKE_E_SYSTEM,
                           "echo_selftest: cannot listen on 127.0.0.1: %s",
                           strerror(errno));
        }
        uint16_t port = local_port(lfd);
        awake_future sf, cf;
        if (new_acceptor(port, t->conns, lfd, &sf) != 0) {
            close(lfd);
            t->finished = 1;
            return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM,
                           "echo_selftest: out of memory");
        }
        int32_t rc = awake_spawn(cx, sf, &t->server_join);
        if (rc == AWAKE_OK) {
            if (new_client(port, t->conns, t->msgs, t->size, &cf) != 0)
                rc = AWAKE_E_NOMEM;
            else
                rc = awake_spawn(cx, cf, &t->client_join);
        }
        if (rc != AWAKE_OK) {
            t->finished = 1;
            selftest_release(t);
            return ex_fail(err, AWAKE_ERROR, rc,
                           "echo_selftest: cannot start server and client "
                           "(code %d)", rc);
        }
    }
    int32_t rs = selftest_await(&t->server_join, &t->server_out,
                                &t->server_done, cx, err);
    if (rs != AWAKE_PENDING && rs != AWAKE_READY) {
        t->finished = 1;
        selftest_release(t);
        return rs == AWAKE_ERROR ? rs
                                 : ex_fail(err, AWAKE_ERROR, AWAKE_E_INVALID,
                                           "echo_selftest: server status %d",
                                           rs);
    }
    int32_t rcl = selftest_await(&t->client_join, &t->client_out,
                                 &t->client_done, cx, err);
    if (rcl != AWAKE_PENDING && rcl != AWAKE_READY) {
        t->finished = 1;
        selftest_release(t);
        return rcl == AWAKE_ERROR ? rcl
                                  : ex_fail(err, AWAKE_ERROR, AWAKE_E_INVALID,
                                            "echo_selftest: client status %d",
                                            rcl);
    }
    if (!t->server_done || !t->client_done)
        return AWAKE_PENDING;
    t->finished = 1;
    int rc = ex_output_text(out, "%.*s; %.*s", (int)t->server_out.len,
                            (const char *)t->server_out.data,
                            (int)t->client_out.len,
                            (const char *)t->client_out.data);
    selftest_release(t);
    if (rc != 0)
        return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM,
                       "echo_selftest: out of memory");
    return AWAKE_READY;
}

static void selftest_drop(void *self) {
    selftest_release(self);
    free(self);
}

EX_BYTES_VTABLE(selftest_vtable, selftest_poll, selftest_drop, NULL);

static int32_t make_echo_selftest(const uint8_t *args, size_t len,
                                  awake_future *out, awake_error **err) {
    char *s = ex_args_string(args, len);
    const char *p = s;
    uint64_t conns, msgs, size;
    int ok = s && parse_client_args(&p, &conns, &msgs, &size);
    free(s);
    if (!ok)
        return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID,
                       "echo_selftest: expected \"<conns> <msgs> <size>\" "
                       "(conns 1..%d, size 1..64M), got \"%.*s\"", MAX_CONNS,
                       (int)len, (const char *)args);
    selftest *t = calloc(1, sizeof *t);
    if (!t)
        return ex_fail(err, AWAKE_E_NOMEM, AWAKE_E_NOMEM,
                       "echo_selftest: out of memory");
    t->conns = conns;
    t->msgs = msgs;
    t->size = size;
    out->self = t;
    out->vtable = &selftest_vtable;
    return AWAKE_OK;
}

static const awake_export exports[] = {
    {sizeof(awake_export), 0, "echo_serve",
     "<port> <conns> -> text: served N connections, M bytes "
     "(port 0: any, logged)",
     make_echo_serve},
    {sizeof(awake_export), 0, "echo_client",
     "<port> <conns> <msgs> <size> -> text: client: ... echoed and verified",
     make_echo_client},
    {sizeof(awake_export), 0, "echo_selftest",
     "<conns> <msgs> <size> -> text: server and client results, one run",
     make_echo_selftest},
};

AWAKE_PLUGIN_DEFINE("echo", "1.0.0", exports, host)
