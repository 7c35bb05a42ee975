/*
 * stress.c -- a test plugin for awake's load tests (stress_test.go): many
 * tasks, each owning one numbered slot of a table, woken at random by
 * foreign threads; tasks holding many host timers; a gate that keeps
 * thousands of tasks pending at once.  Every count is exact, so the test can
 * prove that nothing was lost.
 *
 * Built by the Go tests with $CC into a temp dir.  Needs only awake.h:
 *   cc -std=c11 -shared -fPIC -pthread -I include -o stress.so stress.c
 *
 * A RUN
 *   1. stress_setup(n) allocates n slots (frees a previous run's table;
 *      only when no task of that run is alive and no thread runs).
 *   2. The host spawns tasks "hit <i>" or "timers <i> <k> <seed> <cancel
 *      per mille> <spread us>", one per slot i.  At its first poll a task
 *      parks a clone of its waker in slot i and counts itself in
 *      stress_registered().
 *   3. Once stress_registered() == n, every task is alive and pending.
 *      Either stress_start(threads, wakes, seed) starts foreign pthreads
 *      that wake random slots' wakers `wakes` times each (the last thread to
 *      finish releases the gate), or stress_release() releases it at once.
 *   4. Releasing the gate, slot by slot: clone the slot's waker, mark the
 *      slot done, wake the clone.  A task completes only after it saw its
 *      slot done, so every wake aimed at it happened before it finished, and
 *      the slot's waker is never used after the task dropped it.
 *   5. stress_join() joins the threads.
 *   Tasks dropped before the gate opened (the host closed) leave their
 *   waker parked, since threads may still use it; stress_unpark_all()
 *   drops those once the threads are joined.
 *
 * EXPORTS (text outputs, AWAKE_FUTURE_OUTPUT_BYTES)
 *   hit <i>       READY after the gate opened:
 *                 -> "slot <i> sent <wakes aimed at it> polls <polls>"
 *   timers <i> <k> <seed> <cancel per mille> <spread us>
 *                 first poll opens k host timers due in an hour; after the
 *                 gate opened it re-arms them (timer_reset) to random
 *                 deadlines within <spread us>, closes a random <cancel per
 *                 mille> of them (random cancels in the host's timer heap),
 *                 and waits for the rest in deadline order
 *                 -> "slot <i> fired <f> cancelled <c> early <e> polls <p>
 *                     sent <wakes aimed at it>"
 *                 (early: fired before its deadline -- must be 0)
 *
 * COUNTERS (plain exported C functions, any thread)
 *   stress_live_wakers    waker clones the plugin holds (slots, threads)
 *   stress_live_futures   futures made and not dropped
 *   stress_registered     tasks that parked their waker in their slot
 *   stress_timers_open    host timers open now
 *   stress_thread_wakes   wakes the threads made (clone+wake count once)
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

/* ---- slots ----------------------------------------------------------------- */

typedef struct slot {
    awake_waker waker;   /* written once by the task's first poll          */
    atomic_ullong sent;  /* wakes aimed at this slot by the threads         */
    atomic_int done;     /* the gate opened for this slot                   */
    atomic_int parked;   /* waker stored (pairs with registered)            */
} slot;

static slot *g_slots;
static uint64_t g_nslots;
static atomic_llong g_live_wakers, g_live_futures, g_registered, g_timers_open;
static atomic_ullong g_thread_wakes;

AWAKE_EXPORT int64_t stress_live_wakers(void);
AWAKE_EXPORT int64_t stress_live_futures(void);
AWAKE_EXPORT int64_t stress_registered(void);
AWAKE_EXPORT int64_t stress_timers_open(void);
AWAKE_EXPORT uint64_t stress_thread_wakes(void);
AWAKE_EXPORT int32_t stress_setup(uint64_t n);
AWAKE_EXPORT void stress_release(void);
AWAKE_EXPORT int32_t stress_start(uint32_t threads, uint64_t wakes,
                                  uint64_t seed);
AWAKE_EXPORT int32_t stress_join(void);

AWAKE_EXPORT int64_t stress_live_wakers(void) { return atomic_load(&g_live_wakers); }
AWAKE_EXPORT int64_t stress_live_futures(void) { return atomic_load(&g_live_futures); }
AWAKE_EXPORT int64_t stress_registered(void) { return atomic_load(&g_registered); }
AWAKE_EXPORT int64_t stress_timers_open(void) { return atomic_load(&g_timers_open); }
AWAKE_EXPORT uint64_t stress_thread_wakes(void) { return atomic_load(&g_thread_wakes); }

AWAKE_EXPORT int32_t stress_setup(uint64_t n) {
    slot *s = calloc(n ? n : 1, sizeof *s);
    if (!s)
        return AWAKE_E_NOMEM;
    free(g_slots);
    g_slots = s;
    g_nslots = n;
    atomic_store(&g_registered, 0);
    atomic_store(&g_thread_wakes, 0);
    return AWAKE_OK;
}

static awake_waker counted_clone(awake_waker w) {
    atomic_fetch_add(&g_live_wakers, 1);
    return awake_waker_clone(w);
}

static void counted_wake(awake_waker w) {
    atomic_fetch_sub(&g_live_wakers, 1);
    awake_waker_wake(w);
}

static void counted_drop(awake_waker w) {
    atomic_fetch_sub(&g_live_wakers, 1);
    awake_waker_drop(w);
}

/* Parks a clone of cx's waker in slot i (first poll only). */
static void slot_park(uint64_t i, const awake_context *cx) {
    slot *s = &g_slots[i];
    s->waker = counted_clone(cx->waker);
    atomic_store_explicit(&s->parked, 1, memory_order_release);
    atomic_fetch_add(&g_registered, 1);
}

/* Releases the slot's waker when its task goes away.  If the gate never
 * opened for it (the task was cancelled or the host closed early), threads
 * may still use the waker: it stays parked (and counted as live, which the
 * test reports) rather than being freed under them. */
static void slot_unpark(uint64_t i) {
    slot *s = &g_slots[i];
    if (!atomic_load_explicit(&s->parked, memory_order_acquire) ||
        !atomic_load_explicit(&s->done, memory_order_acquire))
        return;
    counted_drop(s->waker);
    s->waker.data = NULL;
    s->waker.vtable = NULL;
    atomic_store(&s->parked, 0);
}

/* Drops the wakers still parked in slots whose task went away before the
 * gate opened (the host closed or cancelled it).  Only when no thread runs.
 * Returns how many it dropped. */
AWAKE_EXPORT int64_t stress_unpark_all(void);
AWAKE_EXPORT int64_t stress_unpark_all(void) {
    int64_t n = 0;
    for (uint64_t i = 0; i < g_nslots; i++) {
        slot *s = &g_slots[i];
        if (!atomic_load(&s->parked))
            continue;
        counted_drop(s->waker);
        s->waker.data = NULL;
        s->waker.vtable = NULL;
        atomic_store(&s->parked, 0);
        n++;
    }
    return n;
}

AWAKE_EXPORT void stress_release(void) {
    for (uint64_t i = 0; i < g_nslots; i++) {
        slot *s = &g_slots[i];
        if (!atomic_load_explicit(&s->parked, memory_order_acquire)) {
            atomic_store_explicit(&s->done, 1, memory_order_release);
            continue;
        }
        /* Clone before marking done: from then on the task may finish and
         * drop the slot's waker; the clone keeps the task's waker alive. */
        awake_waker w = counted_clone(s->waker);
        atomic_store_explicit(&s->done, 1, memory_order_release);
        counted_wake(w);
    }
}

/* ---- threads --------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *x) { /* splitmix64 */
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct waker_thread {
    pthread_t tid;
    uint64_t wakes, seed;
} waker_thread;

static waker_thread *g_threads;
static uint32_t g_nthreads;
static atomic_uint g_running;

static void *waker_main(void *arg) {
    waker_thread *t = arg;
    uint64_t x = t->seed, n = g_nslots;
    for (uint64_t k = 0; k < t->wakes; k++) {
        uint64_t r = rng_next(&x);
        slot *s = &g_slots[r % n];
        atomic_fetch_add_explicit(&s->sent, 1, memory_order_relaxed);
        switch ((r >> 32) & 3) {
        case 0:
        case 1:
            awake_waker_wake_by_ref(&s->waker);
            break;
        case 2:
            counted_wake(counted_clone(s->waker));
            break;
        default: {
            awake_waker c = counted_clone(s->waker);
            awake_waker_wake_by_ref(&c);
            counted_drop(c);
        }
        }
    }
    atomic_fetch_add(&g_thread_wakes, t->wakes);
    if (atomic_fetch_sub(&g_running, 1) == 1)
        stress_release(); /* the last thread opens the gate */
    return NULL;
}

/* Starts `threads` joinable pthreads; every slot must be parked. */
AWAKE_EXPORT int32_t stress_start(uint32_t threads, uint64_t wakes,
                                  uint64_t seed) {
    if (threads == 0 || g_nslots == 0 || g_threads ||
        (uint64_t)atomic_load(&g_registered) != g_nslots)
        return AWAKE_E_INVALID;
    g_threads = calloc(threads, sizeof *g_threads);
    if (!g_threads)
        return AWAKE_E_NOMEM;
    g_nthreads = threads;
    atomic_store(&g_running, threads);
    for (uint32_t i = 0; i < threads; i++) {
        g_threads[i].wakes = wakes;
        g_threads[i].seed = seed * 1000003u + i;
        if (pthread_create(&g_threads[i].tid, NULL, waker_main,
                           &g_threads[i]) != 0) {
            /* Not recoverable for a test: the gate would never open. */
            abort();
        }
    }
    return AWAKE_OK;
}

AWAKE_EXPORT int32_t stress_join(void) {
    for (uint32_t i = 0; i < g_nthreads; i++)
        pthread_join(g_threads[i].tid, NULL);
    free(g_threads);
    g_threads = NULL;
    g_nthreads = 0;
    return AWAKE_OK;
}

/* ---- outputs and errors ---------------------------------------------------- */

static void free_bytes(const uint8_t *d, size_t n) {
    (void)n;
    free((void *)(uintptr_t)d);
}

static void free_error(awake_error *e) { free(e); }

static int32_t fail(awake_error **err, int32_t code, const char *msg) {
    size_t n = strlen(msg);
    awake_error *e = malloc(sizeof *e + n + 1);
    if (e) {
        memcpy(e + 1, msg, n + 1);
        e->size = sizeof *e;
        e->code = code;
        e->message = (const char *)(e + 1);
        e->drop = free_error;
    }
    *err = e;
    return AWAKE_ERROR;
}

static int32_t text(void *out, awake_error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int32_t text(void *out, awake_error **err, const char *fmt, ...) {
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    char *s = malloc(n + 1);
    if (!s)
        return fail(err, AWAKE_E_NOMEM, "stress: out of memory");
    memcpy(s, buf, n + 1);
    awake_bytes b = {(const uint8_t *)s, n, free_bytes};
    memcpy(out, &b, sizeof b);
    return AWAKE_READY;
}

/* Parses exactly `want` blank-separated unsigned numbers. */
static int numbers(const uint8_t *a, size_t len, uint64_t *v, int want) {
    int n = 0;
    size_t i = 0;
    for (;;) {
        while (i < len && a[i] == ' ')
            i++;
        if (i == len)
            return n == want ? 0 : -1;
        if (n == want || a[i] < '0' || a[i] > '9')
            return -1;
        uint64_t x = 0;
        while (i < len && a[i] >= '0' && a[i] <= '9') {
            if (x > UINT64_MAX / 10 - 9)
                return -1;
            x = x * 10 + (uint64_t)(a[i++] - '0');
        }
        v[n++] = x;
    }
}

static int32_t bad_args(awake_error **err, const char *want) {
    if (err) {
        char msg[160];
        snprintf(msg, sizeof msg, "stress: expected %s (and stress_setup "
                 "called with more slots)", want);
        fail(err, AWAKE_E_INVALID, msg);
    }
    return AWAKE_E_INVALID;
}

/* ---- hit ------------------------------------------------------------------- */

typedef struct hit {
    uint64_t i, polls;
    int finished;
} hit;

static int32_t hit_poll(void *self, awake_context *cx, void *out,
                        awake_error **err) {
    hit *h = self;
    if (h->finished)
        return AWAKE_MISUSE;
    if (h->polls++ == 0)
        slot_park(h->i, cx);
    slot *s = &g_slots[h->i];
    if (!atomic_load_explicit(&s->done, memory_order_acquire))
        return AWAKE_PENDING; /* the parked clone wakes us */
    h->finished = 1;
    return text(out, err, "slot %" PRIu64 " sent %llu polls %" PRIu64, h->i,
                (unsigned long long)atomic_load(&s->sent), h->polls);
}

static void hit_drop(void *self) {
    hit *h = self;
    if (h->polls > 0)
        slot_unpark(h->i);
    free(h);
    atomic_fetch_sub(&g_live_futures, 1);
}

static const awake_future_vtable hit_vtable = {
    sizeof(awake_future_vtable), AWAKE_FUTURE_SEND | AWAKE_FUTURE_OUTPUT_BYTES,
    sizeof(awake_bytes), _Alignof(awake_bytes), hit_poll, hit_drop, NULL};

static int32_t make_hit(const uint8_t *a, size_t l, awake_future *out,
                        awake_error **err) {
    uint64_t v[1];
    if (numbers(a, l, v, 1) != 0 || v[0] >= g_nslots)
        return bad_args(err, "\"<slot>\"");
    hit *h = calloc(1, sizeof *h);
    if (!h)
        return bad_args(err, "memory");
    h->i = v[0];
    atomic_fetch_add(&g_live_futures, 1);
    out->self = h;
    out->vtable = &hit_vtable;
    return AWAKE_OK;
}

/* ---- timers ---------------------------------------------------------------- */

typedef struct tmr {
    awake_timer *t;
    uint64_t deadline;
} tmr;

typedef struct timers {
    uint64_t i, k, seed, cancel_permille, spread_ns;
    uint64_t polls, next, fired, cancelled, early;
    int armed, finished;
    tmr *ts;
} timers;

static int by_deadline(const void *a, const void *b) {
    uint64_t x = ((const tmr *)a)->deadline, y = ((const tmr *)b)->deadline;
    return x < y ? -1 : x > y;
}

static void timers_close_all(timers *f) {
    for (uint64_t j = 0; j < f->k; j++) {
        if (f->ts[j].t) {
            host->timer_close(f->ts[j].t);
            f->ts[j].t = NULL;
            atomic_fetch_sub(&g_timers_open, 1);
        }
    }
}

static int32_t timers_poll(void *self, awake_context *cx, void *out,
                           awake_error **err) {
    timers *f = self;
    if (f->finished)
        return AWAKE_MISUSE;
    if (f->polls++ == 0) {
        uint64_t far = cx->host->now_ns(cx) + 3600ull * 1000000000ull;
        for (uint64_t j = 0; j < f->k; j++) {
            int32_t rc = cx->host->timer_open(cx, far, &f->ts[j].t);
            if (rc != AWAKE_OK) {
                f->ts[j].t = NULL;
                f->finished = 1;
                timers_close_all(f);
                return fail(err, rc, "stress timers: timer_open failed");
            }
            atomic_fetch_add(&g_timers_open, 1);
        }
        slot_park(f->i, cx);
    }
    if (!atomic_load_explicit(&g_slots[f->i].done, memory_order_acquire))
        return AWAKE_PENDING;
    if (!f->armed) {
        /* Re-arm every timer to a random deadline, in deadline order, then
         * cancel a random subset: they sit at random places in the heap. */
        f->armed = 1;
        uint64_t x = f->seed, now = cx->host->now_ns(cx);
        for (uint64_t j = 0; j < f->k; j++)
            f->ts[j].deadline = now + 1 + rng_next(&x) % f->spread_ns;
        qsort(f->ts, f->k, sizeof *f->ts, by_deadline);
        for (uint64_t j = 0; j < f->k; j++) {
            int32_t rc = cx->host->timer_reset(cx, f->ts[j].t, f->ts[j].deadline);
            if (rc != AWAKE_OK) {
                f->finished = 1;
                timers_close_all(f);
                return fail(err, rc, "stress timers: timer_reset failed");
            }
        }
        for (uint64_t j = 0; j < f->k; j++) {
            if (rng_next(&x) % 1000 < f->cancel_permille) {
                host->timer_close(f->ts[j].t);
                f->ts[j].t = NULL;
                atomic_fetch_sub(&g_timers_open, 1);
                f->cancelled++;
            }
        }
    }
    /* Wait for the earliest open timer; later ones are checked when it
     * fired (their own firings wake nobody: no waker parked there). */
    for (; f->next < f->k; f->next++) {
        tmr *m = &f->ts[f->next];
        if (!m->t)
            continue;
        if (awake_timer_poll(m->t, cx) == AWAKE_PENDING)
            return AWAKE_PENDING;
        if (cx->host->now_ns(cx) < m->deadline)
            f->early++;
        f->fired++;
        host->timer_close(m->t);
        m->t = NULL;
        atomic_fetch_sub(&g_timers_open, 1);
    }
    f->finished = 1;
    return text(out, err,
                "slot %" PRIu64 " fired %" PRIu64 " cancelled %" PRIu64
                " early %" PRIu64 " polls %" PRIu64 " sent %llu",
                f->i, f->fired, f->cancelled, f->early, f->polls,
                (unsigned long long)atomic_load(&g_slots[f->i].sent));
}

static void timers_drop(void *self) {
    timers *f = self;
    timers_close_all(f);
    if (f->polls > 0)
        slot_unpark(f->i);
    free(f->ts);
    free(f);
    atomic_fetch_sub(&g_live_futures, 1);
}

static const awake_future_vtable timers_vtable = {
    sizeof(awake_future_vtable), AWAKE_FUTURE_SEND | AWAKE_FUTURE_OUTPUT_BYTES,
    sizeof(awake_bytes), _Alignof(awake_bytes), timers_poll, timers_drop, NULL};

static int32_t make_timers(const uint8_t *a, size_t l, awake_future *out,
                           awake_error **err) {
    uint64_t v[5];
    if (numbers(a, l, v, 5) != 0 || v[0] >= g_nslots || v[1] == 0 ||
        v[1] > 1000000 || v[3] > 1000 || v[4] == 0)
        return bad_args(err, "\"<slot> <k 1..1e6> <seed> <cancel per mille "
                        "0..1000> <spread us >0>\"");
    timers *f = calloc(1, sizeof *f);
    tmr *ts = calloc(v[1], sizeof *ts);
    if (!f || !ts) {
        free(f);
        free(ts);
        return bad_args(err, "memory");
    }
    f->i = v[0];
    f->k = v[1];
    f->seed = v[2];
    f->cancel_permille = v[3];
    f->spread_ns = v[4] * 1000;
    f->ts = ts;
    atomic_fetch_add(&g_live_futures, 1);
    out->self = f;
    out->vtable = &timers_vtable;
    return AWAKE_OK;
}

static const awake_export exports[] = {
    {sizeof(awake_export), 0, "hit",
     "<slot> -> READY once the gate opened: slot, wakes sent, polls", make_hit},
    {sizeof(awake_export), 0, "timers",
     "<slot> <k> <seed> <cancel per mille> <spread us> -> fired, cancelled, "
     "early, polls",
     make_timers},
};

AWAKE_PLUGIN_DEFINE("stress", "1.0.0", exports, host)
