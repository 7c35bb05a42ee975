/*
 * benchplug.c -- the C futures awake's benchmarks drive (bench/README.md).
 *
 * Each export is the awake side of one benchmark row; its anchors (tokio,
 * libuv, Go) do the same work the same way.  Arguments are decimal numbers
 * as text ("1000000", "200 100"); outputs are raw little-endian uint64_t
 * (output_size 8), measured inside the future with CLOCK_MONOTONIC (the
 * host's clock), so the Go side's own overhead is not counted where the
 * anchor does not count it either.
 *
 * EXPORTS
 *   yield <n>          polled n times: each poll but the last wakes its own
 *                      waker (wake_by_ref) and returns PENDING; -> ()
 *   ready              READY on its first poll; -> ()
 *   pending            clones its waker and stays PENDING forever; -> ()
 *   pingpong <n>       socketpair; spawns a ponger task (host spawn with a
 *                      join future) and ping-pongs one byte n times through
 *                      the host reactor (io_open + awake_io_poll_read);
 *                      -> ns for the n round trips
 *   wakert <n>         starts a pthread (never seen by Go) that n times
 *                      stores a sequence number, wakes the task
 *                      (wake_by_ref) and spins until the task's poll has
 *                      stored it as the reply; -> median round trip, ns
 *   timers <n>         opens n host timers due 1..10 ms from now (created in
 *                      a scrambled order), waits until all fired; -> ns
 *   timer_churn <n>    n x (timer_open one second ahead + timer_close);
 *                      -> ns for all n
 *   sleeplate <n> <us> sleeps <us> n times on one timer (timer_reset);
 *                      -> median lateness (now - deadline at the poll that
 *                      saw READY), ns
 */
#define _GNU_SOURCE /* pthread, socketpair flags */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "awake.h"

static const awake_host *host;

/* ---- helpers -------------------------------------------------------------- */

static void static_error_drop(awake_error *e) { (void)e; }

#define STATIC_ERROR(name, msg)                                               \
    static awake_error name = {sizeof(awake_error), AWAKE_E_INVALID, msg,     \
                               static_error_drop}

STATIC_ERROR(err_args, "benchplug: bad arguments: expected decimal numbers");
STATIC_ERROR(err_nomem, "benchplug: out of memory");
STATIC_ERROR(err_sys, "benchplug: a system call failed (socketpair, read, "
                      "write or pthread_create)");
STATIC_ERROR(err_host, "benchplug: a host call failed (timer_open, io_open "
                       "or spawn)");

static int32_t fail(awake_error **err, awake_error *e) {
    if (err)
        *err = e;
    return AWAKE_ERROR;
}

static int32_t make_fail(awake_error **err, awake_error *e, int32_t rc) {
    if (err)
        *err = e;
    return rc;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Parses up to `max` decimal numbers from args; returns how many. */
static int parse_args(const uint8_t *args, size_t len, uint64_t *v, int max) {
    int n = 0;
    size_t i = 0;
    while (i < len && n < max) {
        uint64_t x = 0;
        int digits = 0;
        while (i < len && args[i] == ' ')
            i++;
        while (i < len && args[i] >= '0' && args[i] <= '9') {
            x = x * 10 + (uint64_t)(args[i] - '0');
            i++;
            digits++;
        }
        if (!digits)
            break;
        v[n++] = x;
    }
    while (i < len && args[i] == ' ')
        i++;
    return i == len ? n : -1;
}

static void put_u64(void *out, uint64_t v) { memcpy(out, &v, sizeof v); }

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, uint64_t n) {
    qsort(v, n, sizeof *v, cmp_u64);
    return v[n / 2];
}

#define VTABLE(name, poll_fn, drop_fn, out_size)                              \
    static const awake_future_vtable name = {                                 \
        sizeof(awake_future_vtable), AWAKE_FUTURE_SEND, out_size,             \
        out_size ? _Alignof(uint64_t) : 1, poll_fn, drop_fn, NULL}

static void free_drop(void *self) { free(self); }

/* ---- yield ---------------------------------------------------------------- */

typedef struct yield_future {
    uint64_t left;
} yield_future;

static int32_t yield_poll(void *self, awake_context *cx, void *out,
                          awake_error **err) {
    yield_future *f = self;
    (void)out;
    (void)err;
    if (f->left <= 1)
        return AWAKE_READY;
    f->left--;
    awake_waker_wake_by_ref(&cx->waker);
    return AWAKE_PENDING;
}

VTABLE(yield_vtable, yield_poll, free_drop, 0);

static int32_t make_yield(const uint8_t *args, size_t len, awake_future *out,
                          awake_error **err) {
    uint64_t v[1];
    yield_future *f;
    if (parse_args(args, len, v, 1) != 1 || v[0] == 0)
        return make_fail(err, &err_args, AWAKE_E_INVALID);
    if (!(f = malloc(sizeof *f)))
        return make_fail(err, &err_nomem, AWAKE_E_NOMEM);
    f->left = v[0];
    out->self = f;
    out->vtable = &yield_vtable;
    return AWAKE_OK;
}

/* ---- ready ---------------------------------------------------------------- */

typedef struct ready_future {
    uint64_t polls;
} ready_future;

static int32_t ready_poll(void *self, awake_context *cx, void *out,
                          awake_error **err) {
    ready_future *f = self;
    (void)cx;
    (void)out;
    (void)err;
    f->polls++;
    return AWAKE_READY;
}

VTABLE(ready_vtable, ready_poll, free_drop, 0);

static int32_t make_ready(const uint8_t *args, size_t len, awake_future *out,
                          awake_error **err) {
    ready_future *f;
    (void)args;
    if (len != 0)
        return make_fail(err, &err_args, AWAKE_E_INVALID);
    if (!(f = malloc(sizeof *f)))
        return make_fail(err, &err_nomem, AWAKE_E_NOMEM);
    f->polls = 0;
    out->self = f;
    out->vtable = &ready_vtable;
    return AWAKE_OK;
}

/* ---- pending -------------------------------------------------------------- */

typedef struct pending_future {
    awake_waker waker; /* a clone, kept so the task is legitimately parked */
} pending_future;

static int32_t pending_poll(void *self, awake_context *cx, void *out,
                            awake_error **err) {
    pending_future *f = self;
    (void)out;
    (void)err;
    if (!awake_waker_is_set(f->waker))
        f->waker = awake_waker_clone(cx->waker);
    return AWAKE_PENDING;
}

static void pending_drop(void *self) {
    pending_future *f = self;
    if (awake_waker_is_set(f->waker))
        awake_waker_drop(f->waker);
    free(f);
}

VTABLE(pending_vtable, pending_poll, pending_drop, 0);

static int32_t make_pending(const uint8_t *args, size_t len, awake_future *out,
                            awake_error **err) {
    pending_future *f;
    (void)args;
    if (len != 0)
        return make_fail(err, &err_args, AWAKE_E_INVALID);
    if (!(f = calloc(1, sizeof *f)))
        return make_fail(err, &err_nomem, AWAKE_E_NOMEM);
    out->self = f;
    out->vtable = &pending_vtable;
    return AWAKE_OK;
}

/* ---- pingpong ------------------------------------------------------------- */

/* Reads the one byte in flight from io's fd, edge-triggered: a read that
 * returns fewer bytes than asked drained the socket, so the readiness seen
 * at `tick` is cleared at once (no EAGAIN read; see awake_io in awake.h);
 * after EAGAIN likewise, then poll again (parks the waker).  Returns 1 with
 * the byte, 0 for PENDING, -1 on error, EOF or a protocol error. */
static int read_byte(awake_io *io, awake_context *cx, uint8_t *b) {
    for (;;) {
        uint64_t tick = 0;
        uint8_t buf[8];
        ssize_t r;
        if (awake_io_poll_read(io, cx, &tick) == AWAKE_PENDING)
            return 0;
        r = read(io->fd, buf, sizeof buf);
        if (r == 1) {
            awake_io_clear_read(io, tick);
            *b = buf[0];
            return 1;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            awake_io_clear_read(io, tick);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        return -1;
    }
}

/* A 1-byte write to a socket whose peer drained everything never blocks. */
static int write_byte(int fd, uint8_t b) {
    for (;;) {
        ssize_t r = write(fd, &b, 1);
        if (r == 1)
            return 0;
        if (r < 0 && errno == EINTR)
            continue;
        return -1;
    }
}

typedef struct ponger {
    int fd;
    awake_io *io;
    uint64_t n, done;
} ponger;

static void close_io(awake_io **io, int *fd) {
    if (*io) {
        host->io_close(*io);
        *io = NULL;
    }
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static int32_t ponger_poll(void *self, awake_context *cx, void *out,
                           awake_error **err) {
    ponger *p = self;
    (void)out;
    if (!p->io && cx->host->io_open(cx, p->fd, AWAKE_IO_READ, &p->io) != AWAKE_OK)
        return fail(err, &err_host);
    while (p->done < p->n) {
        uint8_t b;
        int r = read_byte(p->io, cx, &b);
        if (r == 0)
            return AWAKE_PENDING;
        if (r < 0 || write_byte(p->fd, b) != 0)
            return fail(err, &err_sys);
        p->done++;
    }
    close_io(&p->io, &p->fd);
    return AWAKE_READY;
}

static void ponger_drop(void *self) {
    ponger *p = self;
    close_io(&p->io, &p->fd);
    free(p);
}

VTABLE(ponger_vtable, ponger_poll, ponger_drop, 0);

typedef struct pinger {
    uint64_t n, done, t0, elapsed;
    int fd;
    awake_io *io;
    awake_future join; /* the ponger's join future */
    int reading;       /* a ping is in flight */
    int finished;
} pinger;

static int32_t pinger_poll(void *self, awake_context *cx, void *out,
                           awake_error **err) {
    pinger *p = self;
    if (p->finished)
        return AWAKE_MISUSE;
    if (!p->io) {
        int sv[2];
        ponger *pg;
        awake_future child;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
            return fail(err, &err_sys);
        p->fd = sv[0];
        if (!(pg = calloc(1, sizeof *pg))) {
            close(sv[1]);
            return fail(err, &err_nomem);
        }
        pg->fd = sv[1];
        pg->n = p->n;
        child.self = pg;
        child.vtable = &ponger_vtable;
        if (awake_spawn(cx, child, &p->join) != AWAKE_OK)
            return fail(err, &err_host); /* the host dropped the ponger */
        if (cx->host->io_open(cx, p->fd, AWAKE_IO_READ, &p->io) != AWAKE_OK)
            return fail(err, &err_host);
        p->t0 = now_ns();
    }
    while (p->done < p->n) {
        uint8_t b = 7;
        int r;
        if (!p->reading) {
            if (write_byte(p->fd, b) != 0)
                return fail(err, &err_sys);
            p->reading = 1;
        }
        r = read_byte(p->io, cx, &b);
        if (r == 0)
            return AWAKE_PENDING;
        if (r < 0)
            return fail(err, &err_sys);
        p->reading = 0;
        if (++p->done == p->n)
            p->elapsed = now_ns() - p->t0;
    }
    /* Wait for the ponger to finish (its join future). */
    if (p->join.vtable) {
        awake_error *jerr = NULL;
        int32_t st = p->join.vtable->poll(p->join.self, cx, NULL, &jerr);
        if (st == AWAKE_PENDING)
            return AWAKE_PENDING;
        p->join.vtable->drop(p->join.self);
        p->join.vtable = NULL;
        if (jerr && jerr->drop)
            jerr->drop(jerr);
        if (st != AWAKE_READY)
            return fail(err, &err_sys);
    }
    close_io(&p->io, &p->fd);
    p->finished = 1;
    put_u64(out, p->elapsed);
    return AWAKE_READY;
}

static void pinger_drop(void *self) {
    pinger *p = self;
    close_io(&p->io, &p->fd);
    if (p->join.vtable)
        p->join.vtable->drop(p->join.self);
    free(p);
}

VTABLE(pinger_vtable, pinger_poll, pinger_drop, 8);

static int32_t make_pingpong(const uint8_t *args, size_t len, awake_future *out,
                             awake_error **err) {
    uint64_t v[1];
    pinger *p;
    if (parse_args(args, len, v, 1) != 1 || v[0] == 0)
        return make_fail(err, &err_args, AWAKE_E_INVALID);
    if (!(p = calloc(1, sizeof *p)))
        return make_fail(err, &err_nomem, AWAKE_E_NOMEM);
    p->n = v[0];
    p->fd = -1;
    out->self = p;
    out->vtable = &pinger_vtable;
    return AWAKE_OK;
}

/* ---- wakert: foreign-thread wake -> poll -> reply --------------------------- */

typedef struct wakert {
    uint64_t n;
    _Atomic uint64_t seq, ack;
    _Atomic int done;
    awake_waker waker; /* clone owned by the shared state, set before the thread */
    uint64_t *samples;
    pthread_t thread;
    int started, finished;
} wakert;

static void *wakert_thread(void *arg) {
    wakert *w = arg;
    uint64_t i;
    for (i = 1; i <= w->n; i++) {
        uint64_t t0 = now_ns();
        atomic_store(&w->seq, i);
        awake_waker_wake_by_ref(&w->waker);
        while (atomic_load(&w->ack) < i) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        w->samples[i - 1] = now_ns() - t0;
    }
    atomic_store(&w->done, 1);
    awake_waker_wake_by_ref(&w->waker);
    return NULL;
}

static int32_t wakert_poll(void *self, awake_context *cx, void *out,
                           awake_error **err) {
    wakert *w = self;
    if (w->finished)
        return AWAKE_MISUSE;
    if (!w->started) {
        w->waker = awake_waker_clone(cx->waker);
        if (pthread_create(&w->thread, NULL, wakert_thread, w) != 0)
            return fail(err, &err_sys);
        w->started = 1;
    }
    atomic_store(&w->ack, atomic_load(&w->seq));
    if (!atomic_load(&w->done))
        return AWAKE_PENDING;
    pthread_join(w->thread, NULL); /* it has returned or is returning */
    w->started = 0;
    w->finished = 1;
    put_u64(out, median(w->samples, w->n));
    return AWAKE_READY;
}

static void wakert_drop(void *self) {
    wakert *w = self;
    if (w->started) {
        /* Dropped mid-run (runtime closing): let the thread finish. */
        atomic_store(&w->ack, UINT64_MAX);
        pthread_join(w->thread, NULL);
    }
    if (awake_waker_is_set(w->waker))
        awake_waker_drop(w->waker);
    free(w->samples);
    free(w);
}

VTABLE(wakert_vtable, wakert_poll, wakert_drop, 8);

static int32_t make_wakert(const uint8_t *args, size_t len, awake_future *out,
                           awake_error **err) {
    uint64_t v[1];
    wakert *w;
    if (parse_args(args, len, v, 1) != 1 || v[0] == 0)
        return make_fail(err, &err_args, AWAKE_E_INVALID);
    if (!(w = calloc(1, sizeof *w)) || !(w->samples = malloc(v[0] * sizeof(uint64_t)))) {
        free(w);
        return make_fail(err, &err_nomem, AWAKE_E_NOMEM);
    }
    w->n = v[0];
    out->self = w;
    out->vtable = &wakert_vtable;
    return AWAKE_OK;
}

/* ---- timers --------------------------------------------------------------- */

typedef struct timers_future {
    uint64_t n, opened, cursor, t0, elapsed;
    awake_timer **t; /* by deadline order */
    int finished;
} timers_future;

static uint64_t gcd(uint64_t a, uint64_t b) { return b ? gcd(b, a % b) : a; }

static void timers_close(timers_future *f) {
    uint64_t i;
    for (i = 0; i < f->n; i++)
        if (f->t[i]) {
            host->timer_close(f->t[i]);
            f->t[i] = NULL;
        }
}

/* Timer j is due 1 ms + j * 9 ms / n after the start, so t[] is in deadline
 * order; creation goes i -> i*p mod n (p prime to n) so that inserts are not
 * sorted.  Waiting walks t[] in order: only the earliest unfired timer holds
 * a waker, and each firing wakes the task once for every timer due by then. */
static int32_t timers_poll(void *self, awake_context *cx, void *out,
                           awake_error **err) {
    timers_future *f = self;
    if (f->finished)
        return AWAKE_MISUSE;
    if (f->opened == 0) {
        uint64_t p = 7919, i;
        while (gcd(p, f->n) != 1)
            p += 2;
        f->t0 = now_ns();
        for (i = 0; i < f->n; i++) {
            uint64_t j = (i * p) % f->n;
            if (cx->host->timer_open(cx, f->t0 + 1000000 + j * 9000000 / f->n, &f->t[j]) != AWAKE_OK)
                return fail(err, &err_host);
        }
        f->opened = 1;
    }
    while (f->cursor < f->n) {
        if (awake_timer_poll(f->t[f->cursor], cx) == AWAKE_PENDING)
            return AWAKE_PENDING;
        f->cursor++;
    }
    f->elapsed = now_ns() - f->t0;
    timers_close(f);
    f->finished = 1;
    put_u64(out, f->elapsed);
    return AWAKE_READY;
}

static void timers_drop(void *self) {
    timers_future *f = self;
    timers_close(f);
    free(f->t);
    free(f);
}

VTABLE(timers_vtable, timers_poll, timers_drop, 8);

static int32_t make_timers(const uint8_t *args, size_t len, awake_future *out,
                           awake_error **err) {
    uint64_t v[1];
    timers_future *f;
    if (parse_args(args, len, v, 1) != 1 || v[0] == 0)
        return make_fail(err, &err_args, AWAKE_E_INVALID);
    if (!(f = calloc(1, sizeof *f)) || !(f->t = calloc(v[0], sizeof *f->t))) {
        free(f);
        return make_fail(err, &err_nomem, AWAKE_E_NOMEM);
    }
    f->n = v[0];
    out->self = f;
    out->vtable = &timers_vtable;
    return AWAKE_OK;
}

/* ---- timer_churn ---------------------------------------------------------- */

typedef struct churn_future {
    uint64_t n;
} churn_future;

static int32_t churn_poll(void *self, awake_context *cx, void *out,
                          awake_error **err) {
    churn_future *f = self;
    uint64_t i, t0 = now_ns();
    for (i = 0; i < f->n; i++) {
        awake_timer *t;
        if (cx->host->timer_open(cx, t0 + 1000000000u, &t) != AWAKE_OK)
            return fail(err, &err_host);
        cx->host->timer_close(t);
    }
    put_u64(out, now_ns() - t0);
    return AWAKE_READY;
}

VTABLE(churn_vtable, churn_poll, free_drop, 8);

static int32_t make_churn(const uint8_t *args, size_t len, awake_future *out,
                          awake_error **err) {
    uint64_t v[1];
    churn_future *f;
    if (parse_args(args, len, v, 1) != 1 || v[0] == 0)
        return make_fail(err, &err_args, AWAKE_E_INVALID);
    if (!(f = malloc(sizeof *f)))
        return make_fail(err, &err_nomem, AWAKE_E_NOMEM);
    f->n = v[0];
    out->self = f;
    out->vtable = &churn_vtable;
    return AWAKE_OK;
}

/* ---- sleeplate ------------------------------------------------------------ */

typedef struct sleeplate_future {
    uint64_t n, us, done, deadline;
    uint64_t *late;
    awake_timer *t;
    int finished;
} sleeplate_future;

static int32_t sleeplate_poll(void *self, awake_context *cx, void *out,
                              awake_error **err) {
    sleeplate_future *f = self;
    if (f->finished)
        return AWAKE_MISUSE;
    if (!f->t) {
        f->deadline = now_ns() + f->us * 1000;
        if (cx->host->timer_open(cx, f->deadline, &f->t) != AWAKE_OK)
            return fail(err, &err_host);
    }
    for (;;) {
        uint64_t now;
        if (awake_timer_poll(f->t, cx) == AWAKE_PENDING)
            return AWAKE_PENDING;
        now = now_ns();
        f->late[f->done++] = now > f->deadline ? now - f->deadline : 0;
        if (f->done == f->n)
            break;
        f->deadline = now_ns() + f->us * 1000;
        if (cx->host->timer_reset(cx, f->t, f->deadline) != AWAKE_OK)
            return fail(err, &err_host);
    }
    host->timer_close(f->t);
    f->t = NULL;
    f->finished = 1;
    put_u64(out, median(f->late, f->n));
    return AWAKE_READY;
}

static void sleeplate_drop(void *self) {
    sleeplate_future *f = self;
    if (f->t)
        host->timer_close(f->t);
    free(f->late);
    free(f);
}

VTABLE(sleeplate_vtable, sleeplate_poll, sleeplate_drop, 8);

static int32_t make_sleeplate(const uint8_t *args, size_t len,
                              awake_future *out, awake_error **err) {
    uint64_t v[2];
    sleeplate_future *f;
    if (parse_args(args, len, v, 2) != 2 || v[0] == 0)
        return make_fail(err, &err_args, AWAKE_E_INVALID);
    if (!(f = calloc(1, sizeof *f)) || !(f->late = malloc(v[0] * sizeof(uint64_t)))) {
        free(f);
        return make_fail(err, &err_nomem, AWAKE_E_NOMEM);
    }
    f->n = v[0];
    f->us = v[1];
    out->self = f;
    out->vtable = &sleeplate_vtable;
    return AWAKE_OK;
}

/* ---- plugin --------------------------------------------------------------- */

static const awake_export exports[] = {
    {sizeof(awake_export), 0, "yield", "<n> -> (): n polls, self-woken", make_yield},
    {sizeof(awake_export), 0, "ready", "-> (): ready at the first poll", make_ready},
    {sizeof(awake_export), 0, "pending", "-> never: parked forever", make_pending},
    {sizeof(awake_export), 0, "pingpong", "<n> -> u64 ns: n socketpair round trips", make_pingpong},
    {sizeof(awake_export), 0, "wakert", "<n> -> u64 ns: median foreign wake round trip", make_wakert},
    {sizeof(awake_export), 0, "timers", "<n> -> u64 ns: n timers 1..10 ms fired", make_timers},
    {sizeof(awake_export), 0, "timer_churn", "<n> -> u64 ns: n timer open+close", make_churn},
    {sizeof(awake_export), 0, "sleeplate", "<n> <us> -> u64 ns: median lateness", make_sleeplate},
};

AWAKE_PLUGIN_DEFINE("benchplug", "1.0.0", exports, host)
