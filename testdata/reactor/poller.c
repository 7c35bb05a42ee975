/* A C poller thread for reactor/cpoller_test.go: it waits on an awake_event
 * with the header's inline awake_event_poll/awake_event_clear while the Go
 * test fires the event from a goroutine, and counts every way a READY edge
 * could be lost.  Its waker is a C waker (so the host wakes it through the
 * foreign-vtable path) that sets a flag. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "awake.h"

typedef struct poller {
    awake_event ev;      /* the event under test, fired by Go */
    uint64_t fires;      /* the tick of the last fire */
    uint64_t fired_tick; /* atomic: tick of the last completed fire (Go) */
    uint64_t seen_tick;  /* atomic: tick of the last READY seen (C) */
    uint64_t woken;      /* atomic: set by wake, taken by the poller */
    uint64_t refs;       /* atomic: live references to the C waker */
    uint64_t pendings, readies, lost_edge, lost_wake, finished;
    pthread_t thread;
} poller;

static awake_waker c_clone(const void *data);
static void c_wake(const void *data);
static void c_wake_by_ref(const void *data);
static void c_drop(const void *data);
static const awake_waker_vtable c_vtable = {sizeof(awake_waker_vtable), 0,
                                            c_clone, c_wake, c_wake_by_ref,
                                            c_drop};

static awake_waker c_clone(const void *data) {
    poller *p = (poller *)(uintptr_t)data;
    awake_waker w;
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
    w.data = data;
    w.vtable = &c_vtable;
    return w;
}
static void c_wake_by_ref(const void *data) {
    poller *p = (poller *)(uintptr_t)data;
    __atomic_store_n(&p->woken, 1, __ATOMIC_RELEASE);
}
static void c_drop(const void *data) {
    poller *p = (poller *)(uintptr_t)data;
    __atomic_sub_fetch(&p->refs, 1, __ATOMIC_RELEASE);
}
static void c_wake(const void *data) {
    c_wake_by_ref(data);
    c_drop(data);
}

static uint64_t ld(uint64_t *x) { return __atomic_load_n(x, __ATOMIC_ACQUIRE); }

static void *run(void *arg) {
    poller *p = arg;
    awake_context cx;
    cx.size = sizeof cx;
    cx.flags = 0;
    cx.waker.data = p;
    cx.waker.vtable = &c_vtable; /* borrowed: the poller's own reference */
    cx.host = NULL;              /* awake_event_poll never touches host */
    cx.host_data = NULL;
    for (;;) {
        uint64_t before = ld(&p->fired_tick), tick = 0;
        if (awake_event_poll(&p->ev, &cx, &tick) == AWAKE_READY) {
            p->readies++;
            __atomic_store_n(&p->seen_tick, tick, __ATOMIC_RELEASE);
            if (tick == p->fires)
                break;
            awake_event_clear(&p->ev, tick);
            continue;
        }
        if (before > ld(&p->seen_tick)) { /* PENDING after an unseen fire */
            p->lost_edge++;
            break;
        }
        p->pendings++;
        for (;;) {
            uint64_t f = ld(&p->fired_tick);
            if (__atomic_exchange_n(&p->woken, 0, __ATOMIC_ACQ_REL))
                break;
            if (f > ld(&p->seen_tick)) { /* that fire should have woken us */
                p->lost_wake++;
                goto out;
            }
            sched_yield();
        }
    }
out:
    __atomic_store_n(&p->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Starts a poller thread waiting for `fires` firings; NULL on failure. */
poller *poller_start(uint64_t fires) {
    poller *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->fires = fires;
    p->refs = 1; /* the poller's own reference, lent to every poll */
    if (pthread_create(&p->thread, NULL, run, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

awake_event *poller_event(poller *p) { return &p->ev; }
uint64_t *poller_fired_tick(poller *p) { return &p->fired_tick; }
uint64_t *poller_seen_tick(poller *p) { return &p->seen_tick; }
uint64_t *poller_finished(poller *p) { return &p->finished; }

/* Joins the thread and writes pendings, readies, lost_edge, lost_wake, refs
 * to out[0..4]. */
void poller_join(poller *p, uint64_t *out) {
    pthread_join(p->thread, NULL);
    out[0] = p->pendings;
    out[1] = p->readies;
    out[2] = p->lost_edge;
    out[3] = p->lost_wake;
    out[4] = ld(&p->refs);
}

/* Live references to the poller's C waker now (its own plus any clone still
 * parked in the event). */
uint64_t poller_refs(poller *p) { return ld(&p->refs); }

void poller_free(poller *p) { free(p); }
