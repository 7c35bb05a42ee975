/* hammer.c -- test library for package vtable: foreign pthreads (created here,
 * never seen by the Go runtime) that clone, wake, wake_by_ref and drop host
 * wakers, and time single calls through a C function pointer.  Built by the
 * Go tests with $CC. */
#define _POSIX_C_SOURCE 200809L
#include "awake.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define MAX_THREADS 64
#define HIST_BUCKETS 48 /* log2 buckets of nanoseconds */

typedef struct hammer hammer;

typedef struct worker {
    hammer *h;
    unsigned idx;
    awake_waker w; /* owned by the thread; released by its final wake */
    pthread_t tid;
    _Atomic uint64_t seq; /* bumped before each synchronising wake */
    _Atomic uint64_t ack; /* written by Go when it observed the wake */
    uint64_t ops;
} worker;

struct hammer {
    unsigned n;
    uint64_t iters;
    uint64_t sync_every;
    _Atomic uint64_t done; /* threads finished */
    _Atomic uint64_t started;
    worker workers[MAX_THREADS];
    /* timing mode */
    void (*fn)(const void *);
    const void *fn_data;
    _Atomic uint64_t hist[HIST_BUCKETS];
    _Atomic uint64_t max_ns;
    _Atomic uint64_t total_ns;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

hammer *hammer_new(uint32_t nthreads);
void hammer_set_waker(hammer *h, uint32_t i, const void *data,
                      const awake_waker_vtable *vt);
int32_t hammer_start(hammer *h, uint64_t iters, uint64_t sync_every);
int32_t hammer_start_calls(hammer *h, void (*fn)(const void *),
                           const void *data, uint64_t iters);
_Atomic uint64_t *hammer_seq(hammer *h, uint32_t i);
_Atomic uint64_t *hammer_ack(hammer *h, uint32_t i);
_Atomic uint64_t *hammer_done(hammer *h);
uint64_t hammer_ops(hammer *h);
uint64_t hammer_max_ns(hammer *h);
uint64_t hammer_total_ns(hammer *h);
uint64_t hammer_quantile_ns(hammer *h, uint32_t per_million);
void hammer_join(hammer *h);
void hammer_free(hammer *h);

hammer *hammer_new(uint32_t nthreads) {
    hammer *h;
    unsigned i;
    if (nthreads == 0 || nthreads > MAX_THREADS)
        return NULL;
    h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->n = nthreads;
    for (i = 0; i < nthreads; i++) {
        h->workers[i].h = h;
        h->workers[i].idx = i;
    }
    return h;
}

void hammer_set_waker(hammer *h, uint32_t i, const void *data,
                      const awake_waker_vtable *vt) {
    h->workers[i].w.data = data;
    h->workers[i].w.vtable = vt;
}

/* Each iteration: clone, wake_by_ref the clone, clone the clone, wake (consume)
 * the second clone, drop the first: 5 waker calls.  Every sync_every
 * iterations the thread publishes a sequence number, wakes, and waits until Go
 * acknowledges having seen that wake: a lost wake hangs here. */
static void *hammer_main(void *arg) {
    worker *wk = arg;
    hammer *h = wk->h;
    uint64_t it, seq = 0;
    atomic_fetch_add(&h->started, 1);
    for (it = 0; it < h->iters; it++) {
        awake_waker c = awake_waker_clone(wk->w);
        awake_waker c2;
        awake_waker_wake_by_ref(&c);
        c2 = awake_waker_clone(c);
        awake_waker_wake(c2);
        awake_waker_drop(c);
        wk->ops += 5;
        if (h->sync_every && (it + 1) % h->sync_every == 0) {
            seq++;
            atomic_store(&wk->seq, seq);
            awake_waker_wake_by_ref(&wk->w);
            wk->ops++;
            while (atomic_load(&wk->ack) < seq)
                sched_yield();
        }
    }
    atomic_fetch_add(&h->done, 1);
    awake_waker_wake(wk->w); /* final wake: Go rechecks done; releases w */
    wk->ops++;
    return NULL;
}

static void record(hammer *h, uint64_t ns) {
    unsigned b = 0;
    uint64_t m = atomic_load(&h->max_ns);
    while ((ns >> b) > 1 && b < HIST_BUCKETS - 1)
        b++;
    atomic_fetch_add(&h->hist[b], 1);
    while (ns > m && !atomic_compare_exchange_weak(&h->max_ns, &m, ns)) {
    }
}

/* Timing mode: call fn(data) iters times, timing each call. */
static void *calls_main(void *arg) {
    worker *wk = arg;
    hammer *h = wk->h;
    uint64_t it, t0 = now_ns(), sum;
    atomic_fetch_add(&h->started, 1);
    for (it = 0; it < h->iters; it++) {
        uint64_t a = now_ns();
        h->fn(h->fn_data);
        record(h, now_ns() - a);
    }
    sum = now_ns() - t0;
    atomic_fetch_add(&h->total_ns, sum);
    wk->ops = h->iters;
    atomic_fetch_add(&h->done, 1);
    return NULL;
}

static int32_t start(hammer *h, void *(*main_fn)(void *)) {
    unsigned i;
    for (i = 0; i < h->n; i++)
        if (pthread_create(&h->workers[i].tid, NULL, main_fn, &h->workers[i]))
            return -1;
    return 0;
}

int32_t hammer_start(hammer *h, uint64_t iters, uint64_t sync_every) {
    h->iters = iters;
    h->sync_every = sync_every;
    return start(h, hammer_main);
}

int32_t hammer_start_calls(hammer *h, void (*fn)(const void *),
                           const void *data, uint64_t iters) {
    h->fn = fn;
    h->fn_data = data;
    h->iters = iters;
    return start(h, calls_main);
}

_Atomic uint64_t *hammer_seq(hammer *h, uint32_t i) { return &h->workers[i].seq; }
_Atomic uint64_t *hammer_ack(hammer *h, uint32_t i) { return &h->workers[i].ack; }
_Atomic uint64_t *hammer_done(hammer *h) { return &h->done; }

uint64_t hammer_ops(hammer *h) {
    uint64_t s = 0;
    unsigned i;
    for (i = 0; i < h->n; i++)
        s += h->workers[i].ops;
    return s;
}

uint64_t hammer_max_ns(hammer *h) { return atomic_load(&h->max_ns); }
uint64_t hammer_total_ns(hammer *h) { return atomic_load(&h->total_ns); }

/* Upper bound (power of two) of the per_million-th quantile of call times. */
uint64_t hammer_quantile_ns(hammer *h, uint32_t per_million) {
    uint64_t total = 0, acc = 0, want;
    unsigned b;
    for (b = 0; b < HIST_BUCKETS; b++)
        total += atomic_load(&h->hist[b]);
    want = total * per_million / 1000000u;
    for (b = 0; b < HIST_BUCKETS; b++) {
        acc += atomic_load(&h->hist[b]);
        if (acc >= want && acc > 0)
            return (uint64_t)2 << b;
    }
    return 0;
}

void hammer_join(hammer *h) {
    unsigned i;
    for (i = 0; i < h->n; i++)
        pthread_join(h->workers[i].tid, NULL);
}

void hammer_free(hammer *h) { free(h); }
