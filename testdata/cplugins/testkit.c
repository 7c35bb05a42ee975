/*
 * testkit.c -- a test-only plugin: small futures that exercise one host
 * behaviour each, plus counters the tests read through plain C functions.
 *
 * Built by the Go executor tests (with $CC into a temp dir) and by
 * csupport/test.sh (C reference executor).  Self-contained: needs only
 * include/awake.h.  Compile:
 *   cc -std=c11 -shared -fPIC -pthread -I include -o testkit.so testkit.c
 *
 * Every output is text (awake_bytes, AWAKE_FUTURE_OUTPUT_BYTES).  Every
 * future returns AWAKE_MISUSE when polled after it finished.
 *
 * EXPORTS
 *   ready                   READY at the first poll, output "ok"
 *   yield <n>               wake_by_ref + PENDING n times, then READY
 *                           -> "yielded <n> times in <polls> polls"
 *   forever                 parks a waker clone in the future and never
 *                           completes; cancel -> AWAKE_CANCELLED
 *   wake_from_threads <t> <n>
 *                           first poll starts t pthreads; each wakes the
 *                           task n times (alternating wake_by_ref and
 *                           clone + wake) from its own thread, then one final
 *                           wake; READY once all threads finished
 *                           -> "<t> threads x <n> wakes, <polls> polls".
 *                           A poll that overlaps another poll of the same
 *                           future (the host broke "never concurrently")
 *                           returns AWAKE_ERROR code 77.
 *   sleep_us <n>            host timer of n microseconds -> "slept <n> us"
 *   error [message]         AWAKE_ERROR at the first poll, code 42, with the
 *                           message (default "testkit error")
 *   spawn_forever <n>       spawns n detached "forever" tasks and is READY
 *                           at once -> "spawned <n>": the host must drop
 *                           them when it shuts down
 *   no_waker                returns AWAKE_PENDING without registering any
 *                           waker: the tutorial's deadlock, for the host's
 *                           diagnostics to catch
 *
 * COUNTERS (exported C functions, callable any time, from any thread)
 *   int64_t testkit_drops(void)            futures dropped, all exports
 *   int64_t testkit_live_futures(void)     made and not dropped yet
 *   int64_t testkit_live_wakers(void)      waker clones made by testkit
 *                                          code (futures and threads) and
 *                                          not yet dropped or woken
 *   int64_t testkit_concurrent_polls(void) overlapping polls detected
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awake.h"

static const awake_host *host;

static atomic_llong g_drops, g_live_futures, g_live_wakers, g_concurrent;

AWAKE_EXPORT int64_t testkit_drops(void);
AWAKE_EXPORT int64_t testkit_live_futures(void);
AWAKE_EXPORT int64_t testkit_live_wakers(void);
AWAKE_EXPORT int64_t testkit_concurrent_polls(void);
AWAKE_EXPORT int64_t testkit_drops(void) { return atomic_load(&g_drops); }
AWAKE_EXPORT int64_t testkit_live_futures(void) {
    return atomic_load(&g_live_futures);
}
AWAKE_EXPORT int64_t testkit_live_wakers(void) {
    return atomic_load(&g_live_wakers);
}
AWAKE_EXPORT int64_t testkit_concurrent_polls(void) {
    return atomic_load(&g_concurrent);
}

/* ---- counted waker clones ------------------------------------------------ */

static awake_waker tk_clone(awake_waker w) {
    atomic_fetch_add(&g_live_wakers, 1);
    return awake_waker_clone(w);
}

static void tk_drop_waker(awake_waker *w) {
    if (awake_waker_is_set(*w)) {
        awake_waker_drop(*w);
        atomic_fetch_sub(&g_live_wakers, 1);
        w->data = NULL;
        w->vtable = NULL;
    }
}

static void tk_wake(awake_waker w) {
    atomic_fetch_sub(&g_live_wakers, 1);
    awake_waker_wake(w);
}

/* ---- errors and text outputs --------------------------------------------- */

static void tk_free_error(awake_error *e) { free(e); }
static void tk_static_error_drop(awake_error *e) { (void)e; }

static awake_error *tk_error(int32_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static awake_error *tk_error(int32_t code, const char *fmt, ...) {
    static awake_error oom = {sizeof(awake_error), AWAKE_E_NOMEM,
                              "out of memory", tk_static_error_drop};
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    awake_error *e = malloc(sizeof *e + n + 1);
    if (!e)
        return &oom;
    memcpy(e + 1, buf, n + 1);
    e->size = sizeof *e;
    e->code = code;
    e->message = (const char *)(e + 1);
    e->drop = tk_free_error;
    return e;
}

static void tk_free_bytes(const uint8_t *d, size_t n) {
    (void)n;
    free((void *)(uintptr_t)d);
}

/* Writes text output; returns AWAKE_READY, or AWAKE_ERROR when out of
 * memory. */
static int32_t tk_text(void *out, awake_error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int32_t tk_text(void *out, awake_error **err, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    char *s = malloc(n + 1);
    if (!s) {
        *err = tk_error(AWAKE_E_NOMEM, "testkit: out of memory");
        return AWAKE_ERROR;
    }
    memcpy(s, buf, n + 1);
    awake_bytes b = {(const uint8_t *)s, n, tk_free_bytes};
    memcpy(out, &b, sizeof b);
    return AWAKE_READY;
}

/* Parses up to `max` unsigned numbers separated by blanks; returns how
 * many, or -1 when something else is there. */
static int tk_numbers(const uint8_t *args, size_t len, uint64_t *v, int max) {
    int n = 0;
    size_t i = 0;
    for (;;) {
        while (i < len && (args[i] == ' ' || args[i] == '\t'))
            i++;
        if (i == len)
            return n;
        if (n == max || args[i] < '0' || args[i] > '9')
            return -1;
        uint64_t x = 0;
        while (i < len && args[i] >= '0' && args[i] <= '9') {
            if (x > UINT64_MAX / 10 - 9)
                return -1;
            x = x * 10 + (uint64_t)(args[i++] - '0');
        }
        v[n++] = x;
    }
}

static int32_t bad_args(awake_error **err, const char *what, const char *want,
                        const uint8_t *args, size_t len) {
    if (err)
        *err = tk_error(AWAKE_E_INVALID, "testkit %s: expected %s, got \"%.*s\"",
                        what, want, (int)(len > 100 ? 100 : len),
                        args ? (const char *)args : "");
    return AWAKE_E_INVALID;
}

/* ---- one future type for all the simple exports -------------------------- */

enum kind { K_READY, K_YIELD, K_FOREVER, K_SLEEP, K_ERROR, K_NO_WAKER };

typedef struct simple {
    enum kind kind;
    uint64_t n;               /* yield count, sleep us                      */
    uint64_t polls;
    int finished, cancelled;
    awake_waker waker;        /* forever: the parked clone                  */
    awake_timer *timer;       /* sleep_us                                   */
    const awake_host *host;
    char message[128];        /* error                                      */
} simple;

static int32_t simple_poll(void *self, awake_context *cx, void *out,
                           awake_error **err) {
    simple *f = self;
    if (f->finished)
        return AWAKE_MISUSE;
    f->polls++;
    if (f->cancelled) {
        f->finished = 1;
        tk_drop_waker(&f->waker);
        if (f->timer) {
            f->host->timer_close(f->timer);
            f->timer = NULL;
        }
        return AWAKE_CANCELLED;
    }
    switch (f->kind) {
    case K_READY:
        f->finished = 1;
        return tk_text(out, err, "ok");
    case K_YIELD:
        if (f->polls <= f->n) {
            awake_waker_wake_by_ref(&cx->waker);
            return AWAKE_PENDING;
        }
        f->finished = 1;
        return tk_text(out, err, "yielded %" PRIu64 " times in %" PRIu64
                       " polls", f->n, f->polls);
    case K_FOREVER:
        if (!awake_waker_is_set(f->waker) ||
            !awake_waker_will_wake(f->waker, cx->waker)) {
            tk_drop_waker(&f->waker);
            f->waker = tk_clone(cx->waker);
        }
        return AWAKE_PENDING;
    case K_SLEEP:
        if (!f->timer) {
            f->host = cx->host;
            int32_t rc = cx->host->timer_open(
                cx, cx->host->now_ns(cx) + f->n * 1000, &f->timer);
            if (rc != AWAKE_OK) {
                f->timer = NULL;
                f->finished = 1;
                *err = tk_error(rc, "testkit sleep_us: timer_open failed "
                                "with code %d", rc);
                return AWAKE_ERROR;
            }
        }
        if (awake_timer_poll(f->timer, cx) == AWAKE_PENDING)
            return AWAKE_PENDING;
        cx->host->timer_close(f->timer);
        f->timer = NULL;
        f->finished = 1;
        return tk_text(out, err, "slept %" PRIu64 " us", f->n);
    case K_ERROR:
        f->finished = 1;
        *err = tk_error(42, "%s", f->message);
        return AWAKE_ERROR;
    case K_NO_WAKER:
        return AWAKE_PENDING; /* the bug under test: nobody will wake us */
    }
    return AWAKE_MISUSE;
}

static void simple_drop(void *self) {
    simple *f = self;
    tk_drop_waker(&f->waker);
    if (f->timer)
        f->host->timer_close(f->timer);
    free(f);
    atomic_fetch_add(&g_drops, 1);
    atomic_fetch_sub(&g_live_futures, 1);
}

static int32_t simple_cancel(void *self) {
    ((simple *)self)->cancelled = 1;
    return AWAKE_OK;
}

static const awake_future_vtable simple_vtable = {
    sizeof(awake_future_vtable), AWAKE_FUTURE_SEND | AWAKE_FUTURE_OUTPUT_BYTES,
    sizeof(awake_bytes), _Alignof(awake_bytes), simple_poll, simple_drop,
    simple_cancel};

static int32_t make_simple(enum kind k, uint64_t n, awake_future *out,
                           awake_error **err) {
    simple *f = calloc(1, sizeof *f);
    if (!f) {
        if (err)
            *err = tk_error(AWAKE_E_NOMEM, "testkit: out of memory");
        return AWAKE_E_NOMEM;
    }
    f->kind = k;
    f->n = n;
    atomic_fetch_add(&g_live_futures, 1);
    out->self = f;
    out->vtable = &simple_vtable;
    return AWAKE_OK;
}

static int32_t make_ready(const uint8_t *a, size_t l, awake_future *out,
                          awake_error **err) {
    uint64_t v[1];
    if (tk_numbers(a, l, v, 0) != 0)
        return bad_args(err, "ready", "no arguments", a, l);
    return make_simple(K_READY, 0, out, err);
}

static int32_t make_yield(const uint8_t *a, size_t l, awake_future *out,
                          awake_error **err) {
    uint64_t v[1];
    if (tk_numbers(a, l, v, 1) != 1)
        return bad_args(err, "yield", "\"<n>\"", a, l);
    return make_simple(K_YIELD, v[0], out, err);
}

static int32_t make_forever(const uint8_t *a, size_t l, awake_future *out,
                            awake_error **err) {
    uint64_t v[1];
    if (tk_numbers(a, l, v, 0) != 0)
        return bad_args(err, "forever", "no arguments", a, l);
    return make_simple(K_FOREVER, 0, out, err);
}

static int32_t make_sleep_us(const uint8_t *a, size_t l, awake_future *out,
                             awake_error **err) {
    uint64_t v[1];
    if (tk_numbers(a, l, v, 1) != 1 || v[0] > 3600000000ull)
        return bad_args(err, "sleep_us", "\"<microseconds>\"", a, l);
    return make_simple(K_SLEEP, v[0], out, err);
}

static int32_t make_error(const uint8_t *a, size_t l, awake_future *out,
                          awake_error **err) {
    int32_t rc = make_simple(K_ERROR, 0, out, err);
    if (rc != AWAKE_OK)
        return rc;
    simple *f = out->self;
    if (l == 0)
        snprintf(f->message, sizeof f->message, "testkit error");
    else
        snprintf(f->message, sizeof f->message, "%.*s",
                 (int)(l < sizeof f->message ? l : sizeof f->message - 1),
                 (const char *)a);
    return AWAKE_OK;
}

static int32_t make_no_waker(const uint8_t *a, size_t l, awake_future *out,
                             awake_error **err) {
    uint64_t v[1];
    if (tk_numbers(a, l, v, 0) != 0)
        return bad_args(err, "no_waker", "no arguments", a, l);
    return make_simple(K_NO_WAKER, 0, out, err);
}

/* ---- spawn_forever: leaves tasks behind ----------------------------------- */

typedef struct spawner {
    uint64_t n;
    int finished;
} spawner;

static int32_t spawner_poll(void *self, awake_context *cx, void *out,
                            awake_error **err) {
    spawner *s = self;
    if (s->finished)
        return AWAKE_MISUSE;
    s->finished = 1;
    for (uint64_t i = 0; i < s->n; i++) {
        awake_future f;
        if (make_simple(K_FOREVER, 0, &f, err) != AWAKE_OK)
            return AWAKE_ERROR; /* *err was set */
        int32_t rc = awake_spawn(cx, f, NULL); /* detached */
        if (rc != AWAKE_OK) {
            *err = tk_error(rc, "testkit spawn_forever: spawn failed with "
                            "code %d", rc);
            return AWAKE_ERROR;
        }
    }
    return tk_text(out, err, "spawned %" PRIu64, s->n);
}

static void spawner_drop(void *self) {
    free(self);
    atomic_fetch_add(&g_drops, 1);
    atomic_fetch_sub(&g_live_futures, 1);
}

static const awake_future_vtable spawner_vtable = {
    sizeof(awake_future_vtable), AWAKE_FUTURE_SEND | AWAKE_FUTURE_OUTPUT_BYTES,
    sizeof(awake_bytes), _Alignof(awake_bytes), spawner_poll, spawner_drop,
    NULL};

static int32_t make_spawn_forever(const uint8_t *a, size_t l,
                                  awake_future *out, awake_error **err) {
    uint64_t v[1];
    if (tk_numbers(a, l, v, 1) != 1 || v[0] > 100000)
        return bad_args(err, "spawn_forever", "\"<n 0..100000>\"", a, l);
    spawner *s = calloc(1, sizeof *s);
    if (!s) {
        if (err)
            *err = tk_error(AWAKE_E_NOMEM, "testkit: out of memory");
        return AWAKE_E_NOMEM;
    }
    s->n = v[0];
    atomic_fetch_add(&g_live_futures, 1);
    out->self = s;
    out->vtable = &spawner_vtable;
    return AWAKE_OK;
}

/* ---- wake_from_threads ----------------------------------------------------- */

typedef struct wft_shared {
    atomic_int refs;          /* the future + one per running thread        */
    atomic_int finished;      /* threads done with their n wakes            */
    uint64_t n;
} wft_shared;

typedef struct wft_thread {
    wft_shared *sh;
    awake_waker waker;        /* the thread's own clone                     */
    uint64_t index;
} wft_thread;

typedef struct wft_future {
    wft_shared *sh;
    uint64_t threads, polls;
    atomic_int in_poll;
    int started, finished;
} wft_future;

static void wft_release(wft_shared *sh) {
    if (atomic_fetch_sub(&sh->refs, 1) == 1)
        free(sh);
}

static void *wft_main(void *arg) {
    wft_thread *t = arg;
    for (uint64_t i = 0; i < t->sh->n; i++) {
        if ((i + t->index) % 2 == 0) {
            awake_waker_wake_by_ref(&t->waker);
        } else {
            tk_wake(tk_clone(t->waker)); /* clone + wake (consumes) */
        }
    }
    atomic_fetch_add(&t->sh->finished, 1);
    /* The final wake comes after `finished` is raised: the poll it causes
     * sees the count. */
    tk_wake(t->waker);
    wft_release(t->sh);
    free(t);
    return NULL;
}

static int32_t wft_poll_inner(wft_future *f, awake_context *cx, void *out,
                              awake_error **err) {
    f->polls++;
    if (!f->started) {
        f->started = 1;
        for (uint64_t i = 0; i < f->threads; i++) {
            wft_thread *t = calloc(1, sizeof *t);
            pthread_t tid;
            pthread_attr_t attr;
            if (!t) {
                f->finished = 1;
                *err = tk_error(AWAKE_E_NOMEM, "testkit: out of memory");
                return AWAKE_ERROR;
            }
            t->sh = f->sh;
            t->index = i;
            t->waker = tk_clone(cx->waker);
            atomic_fetch_add(&f->sh->refs, 1);
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            int rc = pthread_create(&tid, &attr, wft_main, t);
            pthread_attr_destroy(&attr);
            if (rc != 0) {
                tk_drop_waker(&t->waker);
                wft_release(f->sh);
                free(t);
                f->finished = 1;
                *err = tk_error(AWAKE_E_SYSTEM, "testkit wake_from_threads: "
                                "pthread_create failed (%s) after %" PRIu64
                                " threads", strerror(rc), i);
                return AWAKE_ERROR;
            }
        }
    }
    /* Threads hold waker clones; no registration needed here. */
    if ((uint64_t)atomic_load(&f->sh->finished) < f->threads)
        return AWAKE_PENDING;
    f->finished = 1;
    return tk_text(out, err, "%" PRIu64 " threads x %" PRIu64 " wakes, %" PRIu64
                   " polls", f->threads, f->sh->n, f->polls);
}

static int32_t wft_poll(void *self, awake_context *cx, void *out,
                        awake_error **err) {
    wft_future *f = self;
    if (atomic_exchange(&f->in_poll, 1)) {
        /* Another poll of this future is running right now. */
        atomic_fetch_add(&g_concurrent, 1);
        *err = tk_error(77, "testkit wake_from_threads: poll called while "
                        "another poll of the same future was running");
        return AWAKE_ERROR;
    }
    int32_t r = f->finished ? AWAKE_MISUSE : wft_poll_inner(f, cx, out, err);
    atomic_store(&f->in_poll, 0);
    return r;
}

static void wft_drop(void *self) {
    wft_future *f = self;
    wft_release(f->sh); /* threads still running keep it alive */
    free(f);
    atomic_fetch_add(&g_drops, 1);
    atomic_fetch_sub(&g_live_futures, 1);
}

static const awake_future_vtable wft_vtable = {
    sizeof(awake_future_vtable), AWAKE_FUTURE_SEND | AWAKE_FUTURE_OUTPUT_BYTES,
    sizeof(awake_bytes), _Alignof(awake_bytes), wft_poll, wft_drop, NULL};

static int32_t make_wft(const uint8_t *a, size_t l, awake_future *out,
                        awake_error **err) {
    uint64_t v[2];
    if (tk_numbers(a, l, v, 2) != 2 || v[0] < 1 || v[0] > 256)
        return bad_args(err, "wake_from_threads",
                        "\"<threads 1..256> <wakes per thread>\"", a, l);
    wft_future *f = calloc(1, sizeof *f);
    wft_shared *sh = calloc(1, sizeof *sh);
    if (!f || !sh) {
        free(f);
        free(sh);
        if (err)
            *err = tk_error(AWAKE_E_NOMEM, "testkit: out of memory");
        return AWAKE_E_NOMEM;
    }
    atomic_init(&sh->refs, 1);
    atomic_init(&sh->finished, 0);
    sh->n = v[1];
    f->sh = sh;
    f->threads = v[0];
    atomic_init(&f->in_poll, 0);
    atomic_fetch_add(&g_live_futures, 1);
    out->self = f;
    out->vtable = &wft_vtable;
    return AWAKE_OK;
}

static const awake_export exports[] = {
    {sizeof(awake_export), 0, "ready", "-> \"ok\" at the first poll",
     make_ready},
    {sizeof(awake_export), 0, "yield", "<n> -> self-wakes n times, then READY",
     make_yield},
    {sizeof(awake_export), 0, "forever",
     "-> never completes (parks a waker clone); cancellable", make_forever},
    {sizeof(awake_export), 0, "wake_from_threads",
     "<threads> <n> -> wakes from foreign threads; detects concurrent polls",
     make_wft},
    {sizeof(awake_export), 0, "sleep_us", "<us> -> host timer", make_sleep_us},
    {sizeof(awake_export), 0, "error", "[message] -> AWAKE_ERROR code 42",
     make_error},
    {sizeof(awake_export), 0, "spawn_forever",
     "<n> -> spawns n detached forever tasks, READY \"spawned n\"",
     make_spawn_forever},
    {sizeof(awake_export), 0, "no_waker",
     "-> PENDING without a waker (deadlock on purpose)", make_no_waker},
};

AWAKE_PLUGIN_DEFINE("testkit", "1.0.0", exports, host)
