/*
 * join.c -- futures that await other futures, written in C.
 *
 * WHAT IT SHOWS
 *   Composition.  A future can own other futures and drive them from its
 *   own poll; the host only ever sees the outer one.  Here the children are
 *   the sleep futures of timer_future.h (one host timer each) and the outer
 *   future completes when all of them have: a join.
 *
 *   join_timers -- the simple way: the join's poll polls every unfinished
 *     child with the SAME context it was given.  Each child parks the task's
 *     waker in its timer; whichever timer fires wakes the task; the join
 *     then polls all unfinished children again, including those whose timer
 *     has not fired (they just re-check and return PENDING).  Cost: O(n)
 *     child polls per wake.
 *
 *   join_timers_wakers -- wakers composed in C: each child is polled with
 *     a context whose waker is the join's own, implemented here (a waker
 *     vtable written in C).  Its data points to the child's slot, which
 *     holds a "woken" flag and reaches a clone of the task's waker.  Waking
 *     a child's waker sets the child's flag and wakes the task; the join
 *     then polls only the children whose flag is set.  This is what
 *     FuturesUnordered does in Rust.  The waker obeys the contract of
 *     awake.h: thread-safe (atomics + a mutex around the task waker),
 *     refcounted (clones may outlive the join: a timer or another thread
 *     may still hold one), never blocks, never polls inline, and a wake
 *     after the join finished does nothing.
 *
 *   The output says how many child polls each needed: for "10 20 30" the
 *   shared-context join typically needs 9 (3 + 3 + 2 + 1) and the
 *   per-child-waker join 6 (3 + 1 + 1 + 1).
 *
 * EXPORTS (durations as in timer.c: "10", "10ms", "500us"; 1..1000 of them)
 *   join_timers <d1> <d2> ...         -> "joined 3 timers in 30.2 ms
 *                                         (9 child polls, shared waker)"
 *   join_timers_wakers <d1> <d2> ...  -> "joined 3 timers in 30.2 ms
 *                                         (6 child polls, one waker per child)"
 *
 * Try it:   run join.so join_timers_wakers 10 20 30
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <stdatomic.h>

#include "timer_future.h"

static const awake_host *host; /* set by the entry point (unused here) */

#define MAX_CHILDREN 1000

/* ---- a waker implemented in C: one per child ------------------------------ */

/* Shared by all child wakers of one join: the task's waker. */
typedef struct join_parent {
    atomic_size_t refs;     /* the join + one per live child slot          */
    pthread_mutex_t mu;     /* guards waker (wakes come from any thread)   */
    awake_waker waker;      /* clone of the task's waker; unset once the
                             * join finished or was dropped                */
} join_parent;

/* One per child: what the child's waker points to. */
typedef struct child_slot {
    atomic_size_t refs;     /* the join + one per clone of this waker      */
    atomic_int woken;       /* set by wakes, cleared before each child poll */
    join_parent *parent;
} child_slot;

static void parent_release(join_parent *p) {
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    if (awake_waker_is_set(p->waker))
        awake_waker_drop(p->waker);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static void slot_release(child_slot *s) {
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    parent_release(s->parent);
    free(s);
}

static const awake_waker_vtable child_waker_vt;

static awake_waker child_clone(const void *data) {
    child_slot *s = (child_slot *)(uintptr_t)data;
    atomic_fetch_add(&s->refs, 1);
    awake_waker w = {s, &child_waker_vt};
    return w;
}

static void child_wake_by_ref(const void *data) {
    child_slot *s = (child_slot *)(uintptr_t)data;
    /* Only the wake that raises the flag needs to wake the task: until the
     * join clears the flag, a wake of the task is already on its way. */
    if (atomic_exchange(&s->woken, 1))
        return;
    join_parent *p = s->parent;
    pthread_mutex_lock(&p->mu);
    /* Waking under our lock is fine: host wakers never block and never
     * call back into us. */
    if (awake_waker_is_set(p->waker))
        awake_waker_wake_by_ref(&p->waker);
    pthread_mutex_unlock(&p->mu);
}

static void child_drop(const void *data) {
    slot_release((child_slot *)(uintptr_t)data);
}

static void child_wake(const void *data) {
    child_wake_by_ref(data);
    child_drop(data);
}

static const awake_waker_vtable child_waker_vt = {
    sizeof(awake_waker_vtable), 0, child_clone, child_wake, child_wake_by_ref,
    child_drop};

/* ---- the join future ------------------------------------------------------ */

typedef struct join_future {
    size_t n;               /* children                                    */
    size_t remaining;       /* children not finished                       */
    ex_sleep *kids;
    int own_wakers;         /* join_timers_wakers                          */
    join_parent *parent;    /* own_wakers only                             */
    child_slot **slots;     /* own_wakers only: slots[i] for kids[i]       */
    uint64_t start_ns;
    uint64_t child_polls;
    int started, finished, cancelled;
} join_future;

/* Stores (or keeps) the task's waker where the child wakers reach it. */
static void parent_set_waker(join_parent *p, awake_waker w) {
    awake_waker old = {NULL, NULL};
    pthread_mutex_lock(&p->mu);
    if (!awake_waker_is_set(p->waker) || !awake_waker_will_wake(p->waker, w)) {
        old = p->waker;
        p->waker = awake_waker_clone(w);
    }
    pthread_mutex_unlock(&p->mu);
    if (awake_waker_is_set(old))
        awake_waker_drop(old);
}

/* Releases the children's timers and the task waker; wakes of child wakers
 * that are still alive somewhere become no-ops. */
static void join_release(join_future *j) {
    for (size_t i = 0; j->kids && i < j->n; i++)
        ex_sleep_release(&j->kids[i]);
    if (j->parent) {
        awake_waker w;
        pthread_mutex_lock(&j->parent->mu);
        w = j->parent->waker;
        j->parent->waker.data = NULL;
        j->parent->waker.vtable = NULL;
        pthread_mutex_unlock(&j->parent->mu);
        if (awake_waker_is_set(w))
            awake_waker_drop(w);
    }
}

static int32_t join_poll(void *self, awake_context *cx, void *out,
                         awake_error **err) {
    join_future *j = self;
    if (j->finished)
        return AWAKE_MISUSE;
    if (j->cancelled) {
        join_release(j);
        j->finished = 1;
        return AWAKE_CANCELLED;
    }
    if (!j->started) {
        j->started = 1;
        j->start_ns = cx->host->now_ns(cx);
    }

    /* The context each child sees.  Copy no more than the host gave us: a
     * context is `size` bytes, which may differ from our sizeof. */
    awake_context child_cx;
    memset(&child_cx, 0, sizeof child_cx);
    memcpy(&child_cx, cx,
           cx->size < sizeof child_cx ? cx->size : sizeof child_cx);
    if (j->own_wakers)
        parent_set_waker(j->parent, cx->waker);

    for (size_t i = 0; i < j->n; i++) {
        if (j->kids[i].done)
            continue;
        int32_t r;
        if (j->own_wakers) {
            /* Clear the flag BEFORE polling: a wake during or after the
             * poll sets it again and is not lost. */
            if (!atomic_exchange(&j->slots[i]->woken, 0))
                continue;
            child_cx.waker.data = j->slots[i];
            child_cx.waker.vtable = &child_waker_vt;
            r = ex_sleep_poll(&j->kids[i], &child_cx, err);
        } else {
            r = ex_sleep_poll(&j->kids[i], cx, err); /* same context */
        }
        j->child_polls++;
        if (r == AWAKE_READY) {
            j->remaining--;
        } else if (r != AWAKE_PENDING) {
            join_release(j);
            j->finished = 1;
            return r; /* the child's error is already in *err */
        }
    }
    if (j->remaining > 0)
        return AWAKE_PENDING; /* every pending child parked a waker */

    join_release(j);
    j->finished = 1;
    uint64_t now = cx->host->now_ns(cx);
    if (ex_output_text(out,
                       "joined %zu timers in %.1f ms (%" PRIu64
                       " child polls, %s)",
                       j->n, (double)(now - j->start_ns) / 1e6, j->child_polls,
                       j->own_wakers ? "one waker per child" : "shared waker")
        != 0)
        return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM, "join: out of memory");
    return AWAKE_READY;
}

static void join_drop(void *self) {
    join_future *j = self;
    join_release(j);
    if (j->slots)
        for (size_t i = 0; i < j->n; i++)
            if (j->slots[i])
                slot_release(j->slots[i]);
    if (j->parent)
        parent_release(j->parent);
    free(j->slots);
    free(j->kids);
    free(j);
}

static int32_t join_cancel(void *self) {
    ((join_future *)self)->cancelled = 1;
    return AWAKE_OK;
}

EX_BYTES_VTABLE(join_vtable, join_poll, join_drop, join_cancel);

static int32_t make_join(const uint8_t *args, size_t len, awake_future *out,
                         awake_error **err, int own_wakers) {
    const char *what = own_wakers ? "join_timers_wakers" : "join_timers";
    char *s = ex_args_string(args, len);
    uint64_t durs[MAX_CHILDREN];
    size_t n = 0;
    const char *p = s;
    if (!s)
        return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID,
                       "%s: arguments must be text", what);
    while (!ex_at_end(p)) {
        if (n == MAX_CHILDREN || ex_parse_duration(&p, 1000000, &durs[n]) != 0) {
            free(s);
            return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID,
                           "%s: expected 1 to %d durations such as "
                           "\"10 20 30\" (ms) or \"10ms 500us\", got \"%.*s\"",
                           what, MAX_CHILDREN, (int)len, (const char *)args);
        }
        n++;
    }
    free(s);
    if (n == 0)
        return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID,
                       "%s: give at least one duration, e.g. \"10 20 30\"",
                       what);

    join_future *j = calloc(1, sizeof *j);
    if (!j)
        goto nomem;
    j->n = j->remaining = n;
    j->own_wakers = own_wakers;
    j->kids = calloc(n, sizeof *j->kids);
    if (!j->kids)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        ex_sleep_init(&j->kids[i], durs[i]);
    if (own_wakers) {
        j->parent = calloc(1, sizeof *j->parent);
        if (!j->parent)
            goto nomem;
        atomic_init(&j->parent->refs, 1);
        pthread_mutex_init(&j->parent->mu, NULL);
        j->slots = calloc(n, sizeof *j->slots);
        if (!j->slots)
            goto nomem;
        for (size_t i = 0; i < n; i++) {
            child_slot *sl = calloc(1, sizeof *sl);
            if (!sl)
                goto nomem;
            atomic_init(&sl->refs, 1);
            atomic_init(&sl->woken, 1); /* every child gets a first poll */
            sl->parent = j->parent;
            atomic_fetch_add(&j->parent->refs, 1);
            j->slots[i] = sl;
        }
    }
    out->self = j;
    out->vtable = &join_vtable;
    return AWAKE_OK;
nomem:
    if (j)
        join_drop(j); /* copes with a partly built join */
    return ex_fail(err, AWAKE_E_NOMEM, AWAKE_E_NOMEM, "%s: out of memory",
                   what);
}

static int32_t make_join_timers(const uint8_t *args, size_t len,
                                awake_future *out, awake_error **err) {
    return make_join(args, len, out, err, 0);
}

static int32_t make_join_timers_wakers(const uint8_t *args, size_t len,
                                       awake_future *out, awake_error **err) {
    return make_join(args, len, out, err, 1);
}

static const awake_export exports[] = {
    {sizeof(awake_export), 0, "join_timers",
     "<d1> <d2> ... -> text: joined N timers in T ms (children polled with "
     "the same context)",
     make_join_timers},
    {sizeof(awake_export), 0, "join_timers_wakers",
     "<d1> <d2> ... -> text: joined N timers in T ms (one C waker per "
     "child; only woken children are polled)",
     make_join_timers_wakers},
};

AWAKE_PLUGIN_DEFINE("join", "1.0.0", exports, host)
