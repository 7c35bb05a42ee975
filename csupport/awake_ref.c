/*
 * awake_ref.c -- the reference executor (see awake_ref.h for the tour).
 *
 * Layout of this file:
 *   1. wakers: shared wake queue + refcounted task cells
 *   2. tasks and join futures
 *   3. timers (binary min-heap) and fd registrations
 *   4. the host table
 *   5. the loop: run ready tasks, fire timers, wait in poll(2)
 *   6. plugin loading
 */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* ppoll on Linux; the rest is POSIX.1-2008 */
#endif

#include "awake_ref.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REF_TASK_MAGIC 0x61776b7461736b31ull /* "awktask1" */

/* ======================================================================== */
/* 1. Wakers                                                                */
/* ======================================================================== */

struct ref_cell;

/* The part of a runtime that wakers reach.  It outlives the runtime while
 * any cell (hence any waker) is alive, so a late wake is harmless. */
typedef struct ref_shared {
    atomic_size_t refs;       /* 1 for the runtime + 1 per live cell        */
    atomic_long ext_refs;     /* waker clones alive (not the tasks' own)    */
    atomic_ullong wakes;      /* stats: wake + wake_by_ref calls            */
    pthread_mutex_t mu;       /* guards everything below                    */
    struct ref_cell *head;    /* ready list (FIFO)                          */
    struct ref_cell *tail;
    int closed;               /* runtime freed: wakes do nothing            */
    int sleeping;             /* executor is (about to be) in poll(2)       */
    int signalled;            /* a byte is in the pipe, not yet drained     */
    int rfd, wfd;             /* self-pipe                                  */
} ref_shared;

/* A task's waker data.  Waker clones are references to the cell. */
typedef struct ref_cell {
    atomic_size_t refs;       /* 1 for the task + 1 per clone + 1 if queued */
    atomic_int notified;      /* set by a wake, cleared before each poll    */
    ref_shared *shared;
    struct ref_task *task;    /* executor thread only; NULL once finished   */
    struct ref_cell *next;    /* ready list link, guarded by shared->mu     */
} ref_cell;

static void shared_release(ref_shared *sh) {
    if (atomic_fetch_sub(&sh->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

static void cell_release(ref_cell *c) {
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    ref_shared *sh = c->shared;
    free(c);
    shared_release(sh);
}

static const awake_waker_vtable ref_waker_vt;

static awake_waker ref_waker_clone(const void *data) {
    ref_cell *c = (ref_cell *)(uintptr_t)data;
    atomic_fetch_add(&c->refs, 1);
    atomic_fetch_add(&c->shared->ext_refs, 1);
    awake_waker w = {c, &ref_waker_vt};
    return w;
}

static void ref_waker_wake_by_ref(const void *data) {
    ref_cell *c = (ref_cell *)(uintptr_t)data;
    ref_shared *sh = c->shared;
    atomic_fetch_add(&sh->wakes, 1);
    /* Coalesce: only the wake that flips notified 0 -> 1 queues the cell. */
    if (atomic_exchange(&c->notified, 1))
        return;
    pthread_mutex_lock(&sh->mu);
    if (!sh->closed) {
        atomic_fetch_add(&c->refs, 1); /* the ready list's reference */
        c->next = NULL;
        if (sh->tail)
            sh->tail->next = c;
        else
            sh->head = c;
        sh->tail = c;
        if (sh->sleeping && !sh->signalled) {
            char b = 1;
            /* Non-blocking pipe holding at most one byte: cannot block. */
            if (write(sh->wfd, &b, 1) == 1)
                sh->signalled = 1;
        }
    }
    pthread_mutex_unlock(&sh->mu);
}

static void ref_waker_drop(const void *data) {
    ref_cell *c = (ref_cell *)(uintptr_t)data;
    atomic_fetch_sub(&c->shared->ext_refs, 1);
    cell_release(c);
}

static void ref_waker_wake(const void *data) {
    ref_waker_wake_by_ref(data);
    ref_waker_drop(data);
}

static const awake_waker_vtable ref_waker_vt = {
    sizeof(awake_waker_vtable), 0, ref_waker_clone, ref_waker_wake,
    ref_waker_wake_by_ref, ref_waker_drop};

/* Takes the whole ready list (executor thread). */
static ref_cell *shared_take_ready(ref_shared *sh) {
    pthread_mutex_lock(&sh->mu);
    ref_cell *list = sh->head;
    sh->head = sh->tail = NULL;
    pthread_mutex_unlock(&sh->mu);
    return list;
}

/* ======================================================================== */
/* 2. Tasks and join futures                                                */
/* ======================================================================== */

typedef struct ref_timer ref_timer;
typedef struct ref_io ref_io;

typedef struct ref_offer {
    struct ref_offer *next;
    awake_make_fn make;
    char name[];
} ref_offer;

struct awake_ref_rt {
    ref_shared *shared;
    ref_offer *offers;        /* functions for host->call                   */
    struct ref_task *tasks;   /* live (unfinished) tasks, doubly linked     */
    uint64_t next_id;
    ref_timer **heap;         /* armed timers, min-heap by deadline         */
    size_t heap_len, heap_cap;
    ref_io **ios;             /* registered fds                             */
    size_t ios_len, ios_cap;
    struct pollfd *pfds;      /* scratch for poll(2)                        */
    ref_io **pmap;            /* pfds[i + 1] belongs to pmap[i]             */
    size_t p_cap;
    size_t refs;              /* 1 + open timers + open ios                 */
    int closed;               /* awake_ref_free started                     */
    int polling;              /* inside a future's poll (re-entrancy check) */
    int in_block_on;
    awake_ref_stats stats;
};

typedef struct ref_task {
    uint64_t magic;           /* REF_TASK_MAGIC: cx->host_data is ours      */
    awake_ref_rt *rt;
    ref_cell *cell;
    awake_future fut;         /* valid while !done                          */
    uint64_t id;
    int done;
    int is_root;
    int32_t status;           /* final status once done                     */
    void *out;                /* output buffer (the caller's for the root)  */
    int out_owned;
    awake_error *err;         /* owned error once done with AWAKE_ERROR     */
    /* join handle */
    int join_alive;
    int join_finished;
    int output_taken;
    awake_waker join_waker;   /* parked by the join's poll                  */
    awake_future_vtable join_vt;
    struct ref_task *prev, *next; /* rt->tasks links while !done            */
} ref_task;

static void ref_logf(const ref_task *t, int32_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *level_name(int32_t level) {
    if (level >= AWAKE_LOG_ERROR)
        return "ERROR";
    if (level >= AWAKE_LOG_WARN)
        return "WARN";
    if (level >= AWAKE_LOG_INFO)
        return "INFO";
    return "DEBUG";
}

static void ref_logf(const ref_task *t, int32_t level, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (t)
        fprintf(stderr, "awake-ref %s task %" PRIu64 ": %s\n",
                level_name(level), t->id, buf);
    else
        fprintf(stderr, "awake-ref %s: %s\n", level_name(level), buf);
}

static void ref_error_drop(awake_error *e) { free(e); }
static void ref_error_drop_static(awake_error *e) { (void)e; }

awake_error *awake_ref_error_new(int32_t code, const char *message) {
    static awake_error oom = {sizeof(awake_error), AWAKE_E_NOMEM,
                              "out of memory", ref_error_drop_static};
    size_t n = strlen(message);
    awake_error *e = malloc(sizeof(awake_error) + n + 1);
    if (!e)
        return &oom;
    char *msg = (char *)(e + 1);
    memcpy(msg, message, n + 1);
    e->size = sizeof(awake_error);
    e->code = code;
    e->message = msg;
    e->drop = ref_error_drop;
    return e;
}

static awake_error *ref_errorf(int32_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static awake_error *ref_errorf(int32_t code, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return awake_ref_error_new(code, buf);
}

static void drop_error(awake_error *e) {
    if (e && e->drop)
        e->drop(e);
}

static int vtable_has_cancel(const awake_future_vtable *vt) {
    return vt->size >= offsetof(awake_future_vtable, cancel) +
                           sizeof(vt->cancel) &&
           vt->cancel != NULL;
}

/* NULL when the vtable is usable, else what is wrong with it. */
static const char *check_future(awake_future f) {
    const awake_future_vtable *vt = f.vtable;
    if (vt == NULL)
        return "future has no vtable";
    if (vt->size < offsetof(awake_future_vtable, cancel))
        return "future vtable size is too small";
    if (vt->poll == NULL || vt->drop == NULL)
        return "future vtable has a NULL poll or drop";
    if (vt->output_size > 0 &&
        (vt->output_align == 0 || (vt->output_align & (vt->output_align - 1))))
        return "future vtable output_align is not a power of two";
    if ((vt->flags & AWAKE_FUTURE_OUTPUT_BYTES) &&
        vt->output_size != sizeof(awake_bytes))
        return "AWAKE_FUTURE_OUTPUT_BYTES set but output_size is not "
               "sizeof(awake_bytes)";
    return NULL;
}

static void task_link(awake_ref_rt *rt, ref_task *t) {
    t->prev = NULL;
    t->next = rt->tasks;
    if (rt->tasks)
        rt->tasks->prev = t;
    rt->tasks = t;
    rt->stats.live_tasks++;
}

static void task_unlink(awake_ref_rt *rt, ref_task *t) {
    if (t->prev)
        t->prev->next = t->next;
    else
        rt->tasks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    rt->stats.live_tasks--;
}

/* Creates a task for fut (owned by the task from now on) and queues it.
 * `out` is the caller's output buffer for a root, NULL to allocate one. */
static ref_task *task_new(awake_ref_rt *rt, awake_future fut, void *out) {
    ref_task *t = calloc(1, sizeof *t);
    ref_cell *c = calloc(1, sizeof *c);
    const awake_future_vtable *vt = fut.vtable;
    if (!t || !c)
        goto fail;
    if (!out && vt->output_size > 0) {
        size_t align = vt->output_align < sizeof(void *) ? sizeof(void *)
                                                         : vt->output_align;
        size_t size = (vt->output_size + align - 1) / align * align;
        out = aligned_alloc(align, size);
        if (!out)
            goto fail;
        t->out_owned = 1;
    }
    t->magic = REF_TASK_MAGIC;
    t->rt = rt;
    t->cell = c;
    t->fut = fut;
    t->id = rt->next_id++;
    t->out = out;
    atomic_init(&c->refs, 1);
    atomic_init(&c->notified, 0);
    c->shared = rt->shared;
    c->task = t;
    atomic_fetch_add(&rt->shared->refs, 1);
    task_link(rt, t);
    ref_waker_wake_by_ref(c); /* first poll */
    return t;
fail:
    free(t);
    free(c);
    vt->drop(fut.self);
    return NULL;
}

/* Releases an unconsumed result of a finished task. */
static void task_discard_result(ref_task *t) {
    if (t->status == AWAKE_READY && !t->output_taken &&
        (t->fut.vtable->flags & AWAKE_FUTURE_OUTPUT_BYTES)) {
        awake_bytes b;
        memcpy(&b, t->out, sizeof b);
        if (b.drop)
            b.drop(b.data, b.len);
    }
    t->output_taken = 1;
    drop_error(t->err);
    t->err = NULL;
}

static void task_free(ref_task *t) {
    if (t->out_owned)
        free(t->out);
    t->magic = 0;
    free(t);
}

static void join_wake(ref_task *t) {
    if (awake_waker_is_set(t->join_waker)) {
        awake_waker w = t->join_waker;
        t->join_waker.vtable = NULL;
        t->join_waker.data = NULL;
        awake_waker_wake(w);
    }
}

/* Marks t finished with status/err, drops its future and tells whoever
 * waits.  The vtable pointer in t->fut stays readable (flags, sizes). */
static void task_finish(ref_task *t, int32_t status, awake_error *err) {
    awake_ref_rt *rt = t->rt;
    t->done = 1;
    t->status = status;
    t->err = err;
    task_unlink(rt, t);
    t->cell->task = NULL;
    cell_release(t->cell);
    t->cell = NULL;
    t->fut.vtable->drop(t->fut.self); /* may close timers, drop joins ... */
    t->fut.self = NULL;
    if (t->is_root)
        return; /* block_on collects the result */
    if (t->join_alive) {
        join_wake(t);
        return;
    }
    if (status == AWAKE_ERROR && t->err)
        ref_logf(t, AWAKE_LOG_WARN, "detached task failed (code %d): %s",
                 t->err->code, t->err->message ? t->err->message : "");
    task_discard_result(t);
    task_free(t);
}

static void task_poll(awake_ref_rt *rt, ref_task *t) {
    awake_context cx;
    awake_error *err = NULL;
    cx.size = sizeof cx;
    cx.flags = 0;
    cx.waker.data = t->cell;
    cx.waker.vtable = &ref_waker_vt;
    cx.host = awake_ref_host(rt);
    cx.host_data = t;
    rt->polling = 1;
    int32_t st = t->fut.vtable->poll(t->fut.self, &cx, t->out, &err);
    rt->polling = 0;
    rt->stats.polls++;
    switch (st) {
    case AWAKE_PENDING:
        if (err) {
            ref_logf(t, AWAKE_LOG_WARN,
                     "poll returned AWAKE_PENDING and also set an error "
                     "(dropped): %s", err->message ? err->message : "");
            drop_error(err);
        }
        return;
    case AWAKE_READY:
    case AWAKE_CANCELLED:
    case AWAKE_MISUSE:
        if (err) {
            ref_logf(t, AWAKE_LOG_WARN,
                     "poll returned status %d and also set an error "
                     "(dropped): %s", st, err->message ? err->message : "");
            drop_error(err);
        }
        task_finish(t, st, NULL);
        return;
    case AWAKE_ERROR:
        if (!err)
            err = ref_errorf(AWAKE_E_INVALID,
                             "task %" PRIu64 " returned AWAKE_ERROR without "
                             "setting *err; the future must store an owned "
                             "awake_error", t->id);
        task_finish(t, AWAKE_ERROR, err);
        return;
    default:
        drop_error(err);
        task_finish(t, AWAKE_ERROR,
                    ref_errorf(AWAKE_E_INVALID,
                               "task %" PRIu64 " returned invalid status %d "
                               "from poll (valid: 0..4)", t->id, st));
        return;
    }
}

/* Drops an unfinished task (runtime shutdown, deadlocked root). */
static void task_drop_pending(ref_task *t) {
    task_finish(t, AWAKE_CANCELLED, NULL);
}

/* --- join futures: self is the task ------------------------------------- */

static int32_t join_poll(void *self, awake_context *cx, void *out,
                         awake_error **err) {
    ref_task *t = self;
    if (t->join_finished)
        return AWAKE_MISUSE;
    if (!t->done) {
        if (!awake_waker_is_set(t->join_waker) ||
            !awake_waker_will_wake(t->join_waker, cx->waker)) {
            awake_waker old = t->join_waker;
            t->join_waker = awake_waker_clone(cx->waker);
            if (awake_waker_is_set(old))
                awake_waker_drop(old);
        }
        return AWAKE_PENDING;
    }
    t->join_finished = 1;
    switch (t->status) {
    case AWAKE_READY:
        if (t->join_vt.output_size > 0)
            memcpy(out, t->out, t->join_vt.output_size);
        t->output_taken = 1;
        return AWAKE_READY;
    case AWAKE_ERROR:
        *err = t->err;
        t->err = NULL;
        return AWAKE_ERROR;
    case AWAKE_CANCELLED:
        return AWAKE_CANCELLED;
    default:
        *err = ref_errorf(AWAKE_E_INVALID,
                          "joined task %" PRIu64 " returned status %d",
                          t->id, t->status);
        return AWAKE_ERROR;
    }
}

static void join_drop(void *self) {
    ref_task *t = self;
    if (awake_waker_is_set(t->join_waker)) {
        awake_waker_drop(t->join_waker);
        t->join_waker.vtable = NULL;
    }
    if (t->done) {
        task_discard_result(t);
        task_free(t);
    } else {
        t->join_alive = 0; /* detached: the task frees itself when done */
    }
}

static int32_t join_cancel(void *self) {
    ref_task *t = self;
    if (!t->done && vtable_has_cancel(t->fut.vtable)) {
        t->fut.vtable->cancel(t->fut.self);
        ref_waker_wake_by_ref(t->cell); /* cancel wants another poll */
    }
    return AWAKE_OK;
}

/* ======================================================================== */
/* 3. Timers and fds                                                        */
/* ======================================================================== */

struct ref_timer {
    awake_timer t;            /* first: &ref_timer == &awake_timer          */
    awake_ref_rt *rt;
    size_t idx;               /* position in rt->heap while in_heap         */
    int in_heap;
};

struct ref_io {
    awake_io io;              /* first: &ref_io == &awake_io                */
    awake_ref_rt *rt;
    size_t idx;               /* position in rt->ios                        */
};

static void rt_release(awake_ref_rt *rt) {
    if (--rt->refs != 0)
        return;
    while (rt->offers) {
        ref_offer *o = rt->offers;
        rt->offers = o->next;
        free(o);
    }
    free(rt->heap);
    free(rt->ios);
    free(rt->pfds);
    free(rt->pmap);
    free(rt);
}

/* The host side of the event protocol in awake.h: bump the tick, set
 * READY, and unless a poller is registering, take the parked waker out
 * (WAKING), release WAKING, then wake it. */
static void event_fire(awake_event *ev) {
    uint64_t s = __atomic_load_n(&ev->state, __ATOMIC_ACQUIRE);
    uint64_t ns;
    do {
        ns = (s + ((uint64_t)1 << AWAKE_EVENT_TICK_SHIFT)) | AWAKE_EVENT_READY;
        if (!(s & AWAKE_EVENT_REGISTERING))
            ns |= AWAKE_EVENT_WAKING;
    } while (!__atomic_compare_exchange_n(&ev->state, &s, ns, 0,
                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    if (!(ns & AWAKE_EVENT_WAKING))
        return; /* the registering poller will see READY itself */
    awake_waker w = ev->waker;
    ev->waker.data = NULL;
    ev->waker.vtable = NULL;
    __atomic_fetch_and(&ev->state, ~(uint64_t)AWAKE_EVENT_WAKING,
                       __ATOMIC_ACQ_REL);
    if (awake_waker_is_set(w))
        awake_waker_wake(w);
}

static void event_release(awake_event *ev) {
    if (awake_waker_is_set(ev->waker)) {
        awake_waker w = ev->waker;
        ev->waker.vtable = NULL;
        ev->waker.data = NULL;
        awake_waker_drop(w);
    }
}

/* --- min-heap ------------------------------------------------------------ */

static int heap_less(awake_ref_rt *rt, size_t a, size_t b) {
    return rt->heap[a]->t.deadline_ns < rt->heap[b]->t.deadline_ns;
}

static void heap_swap(awake_ref_rt *rt, size_t a, size_t b) {
    ref_timer *x = rt->heap[a];
    rt->heap[a] = rt->heap[b];
    rt->heap[b] = x;
    rt->heap[a]->idx = a;
    rt->heap[b]->idx = b;
}

static void heap_up(awake_ref_rt *rt, size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(rt, i, p))
            break;
        heap_swap(rt, i, p);
        i = p;
    }
}

static void heap_down(awake_ref_rt *rt, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < rt->heap_len && heap_less(rt, l, m))
            m = l;
        if (r < rt->heap_len && heap_less(rt, r, m))
            m = r;
        if (m == i)
            return;
        heap_swap(rt, i, m);
        i = m;
    }
}

static int heap_push(awake_ref_rt *rt, ref_timer *tm) {
    if (rt->heap_len == rt->heap_cap) {
        size_t cap = rt->heap_cap ? rt->heap_cap * 2 : 16;
        ref_timer **h = realloc(rt->heap, cap * sizeof *h);
        if (!h)
            return AWAKE_E_NOMEM;
        rt->heap = h;
        rt->heap_cap = cap;
    }
    tm->idx = rt->heap_len++;
    tm->in_heap = 1;
    rt->heap[tm->idx] = tm;
    heap_up(rt, tm->idx);
    return AWAKE_OK;
}

static void heap_remove(awake_ref_rt *rt, ref_timer *tm) {
    size_t i = tm->idx, last = rt->heap_len - 1;
    tm->in_heap = 0;
    if (i != last) {
        heap_swap(rt, i, last);
        rt->heap_len--;
        heap_down(rt, i);
        heap_up(rt, i);
    } else {
        rt->heap_len--;
    }
}

/* ======================================================================== */
/* 4. The host table                                                        */
/* ======================================================================== */

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The task a context belongs to, or NULL when it is not one of ours. */
static ref_task *cx_task(const awake_context *cx) {
    if (!cx || !cx->host_data)
        return NULL;
    ref_task *t = cx->host_data;
    return t->magic == REF_TASK_MAGIC ? t : NULL;
}

static uint64_t host_now_ns(const awake_context *cx) {
    (void)cx;
    return mono_ns();
}

static int32_t host_timer_open(awake_context *cx, uint64_t deadline_ns,
                               awake_timer **out) {
    ref_task *task = cx_task(cx);
    if (!task || !out)
        return AWAKE_E_INVALID;
    awake_ref_rt *rt = task->rt;
    if (rt->closed)
        return AWAKE_E_CLOSED;
    ref_timer *tm = calloc(1, sizeof *tm);
    if (!tm)
        return AWAKE_E_NOMEM;
    tm->rt = rt;
    tm->t.deadline_ns = deadline_ns;
    if (heap_push(rt, tm) != AWAKE_OK) {
        free(tm);
        return AWAKE_E_NOMEM;
    }
    rt->refs++;
    rt->stats.open_timers++;
    *out = &tm->t;
    return AWAKE_OK;
}

static int32_t host_timer_reset(awake_context *cx, awake_timer *t,
                                uint64_t deadline_ns) {
    (void)cx;
    if (!t)
        return AWAKE_E_INVALID;
    ref_timer *tm = (ref_timer *)t;
    if (tm->rt->closed)
        return AWAKE_E_CLOSED;
    __atomic_fetch_and(&t->event.state, ~(uint64_t)AWAKE_EVENT_READY,
                       __ATOMIC_ACQ_REL);
    t->deadline_ns = deadline_ns;
    if (tm->in_heap) {
        heap_down(tm->rt, tm->idx);
        heap_up(tm->rt, tm->idx);
        return AWAKE_OK;
    }
    return heap_push(tm->rt, tm);
}

static void host_timer_close(awake_timer *t) {
    if (!t)
        return;
    ref_timer *tm = (ref_timer *)t;
    awake_ref_rt *rt = tm->rt;
    if (tm->in_heap)
        heap_remove(rt, tm);
    event_release(&t->event);
    free(tm);
    rt->stats.open_timers--;
    rt_release(rt);
}

static int32_t host_io_open(awake_context *cx, int32_t fd, uint32_t interest,
                            awake_io **out) {
    ref_task *task = cx_task(cx);
    if (!task || !out || fd < 0 || interest == 0 ||
        (interest & ~(AWAKE_IO_READ | AWAKE_IO_WRITE)))
        return AWAKE_E_INVALID;
    awake_ref_rt *rt = task->rt;
    if (rt->closed)
        return AWAKE_E_CLOSED;
    if (rt->ios_len == rt->ios_cap) {
        size_t cap = rt->ios_cap ? rt->ios_cap * 2 : 16;
        ref_io **a = realloc(rt->ios, cap * sizeof *a);
        if (!a)
            return AWAKE_E_NOMEM;
        rt->ios = a;
        rt->ios_cap = cap;
    }
    ref_io *r = calloc(1, sizeof *r);
    if (!r)
        return AWAKE_E_NOMEM;
    r->rt = rt;
    r->io.fd = fd;
    r->io.interest = interest;
    r->idx = rt->ios_len++;
    rt->ios[r->idx] = r;
    rt->refs++;
    rt->stats.open_ios++;
    *out = &r->io;
    return AWAKE_OK;
}

static void host_io_close(awake_io *io) {
    if (!io)
        return;
    ref_io *r = (ref_io *)io;
    awake_ref_rt *rt = r->rt;
    size_t last = rt->ios_len - 1;
    if (r->idx != last) {
        rt->ios[r->idx] = rt->ios[last];
        rt->ios[r->idx]->idx = r->idx;
    }
    rt->ios_len--;
    event_release(&io->read);
    event_release(&io->write);
    free(r);
    rt->stats.open_ios--;
    rt_release(rt);
}

static int32_t host_spawn(awake_context *cx, awake_future fut,
                          awake_future *join) {
    ref_task *parent = cx_task(cx);
    const char *bad = check_future(fut);
    if (bad) {
        if (parent)
            ref_logf(parent, AWAKE_LOG_ERROR, "spawn refused: %s", bad);
        if (fut.vtable && fut.vtable->drop)
            fut.vtable->drop(fut.self);
        return AWAKE_E_INVALID;
    }
    if (!parent) {
        fut.vtable->drop(fut.self);
        return AWAKE_E_INVALID;
    }
    awake_ref_rt *rt = parent->rt;
    if (rt->closed) {
        fut.vtable->drop(fut.self);
        return AWAKE_E_CLOSED;
    }
    ref_task *t = task_new(rt, fut, NULL);
    if (!t)
        return AWAKE_E_NOMEM;
    rt->stats.spawned++;
    if (join) {
        t->join_alive = 1;
        t->join_vt.size = sizeof(awake_future_vtable);
        t->join_vt.flags = fut.vtable->flags;
        t->join_vt.output_size = fut.vtable->output_size;
        t->join_vt.output_align = fut.vtable->output_align;
        t->join_vt.poll = join_poll;
        t->join_vt.drop = join_drop;
        t->join_vt.cancel = join_cancel;
        join->self = t;
        join->vtable = &t->join_vt;
    }
    return AWAKE_OK;
}

static void host_log(const awake_context *cx, int32_t level, const char *msg,
                     size_t len) {
    ref_task *t = cx_task(cx);
    if (len > 4096)
        len = 4096;
    ref_logf(t, level, "%.*s", (int)len, msg);
}

static int32_t host_call(awake_context *cx, const char *name,
                         const uint8_t *args, size_t args_len,
                         awake_future *out, awake_error **err) {
    ref_task *t = cx_task(cx);
    if (err)
        *err = NULL;
    if (!out)
        return AWAKE_E_INVALID;
    out->self = NULL;
    out->vtable = NULL;
    if (!t || !name) {
        if (err)
            *err = awake_ref_error_new(AWAKE_E_INVALID,
                                       "host->call: NULL name or a context "
                                       "that is not from this executor");
        return AWAKE_E_INVALID;
    }
    awake_ref_rt *rt = t->rt;
    ref_offer *o = rt->offers;
    while (o && strcmp(o->name, name) != 0)
        o = o->next;
    if (!o) {
        char have[256] = "";
        size_t n = 0;
        for (ref_offer *q = rt->offers; q && n < sizeof have - 1; q = q->next)
            n += (size_t)snprintf(have + n, sizeof have - n, "%s%s",
                                  n ? ", " : "", q->name);
        if (err)
            *err = ref_errorf(AWAKE_E_INVALID,
                              "host->call(\"%.100s\") from task %" PRIu64
                              ": no such function; offered: %s (register one "
                              "with awake_ref_offer)",
                              name, t->id, n ? have : "none");
        return AWAKE_E_INVALID;
    }
    int32_t rc = o->make(args, args_len, out, err);
    if (rc != AWAKE_OK)
        return rc < 0 ? rc : AWAKE_E_INVALID;
    const char *bad = check_future(*out);
    if (!bad && !(out->vtable->flags & AWAKE_FUTURE_OUTPUT_BYTES))
        bad = "its future's output is not AWAKE_FUTURE_OUTPUT_BYTES";
    if (bad) {
        if (out->vtable && out->vtable->drop)
            out->vtable->drop(out->self);
        out->self = NULL;
        out->vtable = NULL;
        if (err)
            *err = ref_errorf(AWAKE_E_INVALID,
                              "host->call(\"%.100s\"): the offered function "
                              "is broken: %s", name, bad);
        return AWAKE_E_INVALID;
    }
    return AWAKE_OK;
}

static const awake_host ref_host = {
    sizeof(awake_host), AWAKE_ABI_MAJOR, AWAKE_ABI_MINOR, NULL,
    host_now_ns,        host_timer_open, host_timer_reset,
    host_timer_close,   host_io_open,    host_io_close,
    host_spawn,         host_log,        host_call};

int32_t awake_ref_offer(awake_ref_rt *rt, const char *name,
                        awake_make_fn make) {
    if (!rt || !name || !name[0] || !make)
        return AWAKE_E_INVALID;
    if (rt->closed)
        return AWAKE_E_CLOSED;
    for (ref_offer *o = rt->offers; o; o = o->next)
        if (strcmp(o->name, name) == 0) {
            o->make = make;
            return AWAKE_OK;
        }
    size_t n = strlen(name);
    ref_offer *o = malloc(sizeof *o + n + 1);
    if (!o)
        return AWAKE_E_NOMEM;
    memcpy(o->name, name, n + 1);
    o->make = make;
    o->next = rt->offers;
    rt->offers = o;
    return AWAKE_OK;
}

const awake_host *awake_ref_host(awake_ref_rt *rt) {
    (void)rt;
    return &ref_host;
}

/* ======================================================================== */
/* 5. The loop                                                              */
/* ======================================================================== */

awake_ref_rt *awake_ref_new(void) {
    awake_ref_rt *rt = calloc(1, sizeof *rt);
    ref_shared *sh = calloc(1, sizeof *sh);
    int fds[2] = {-1, -1};
    if (!rt || !sh)
        goto fail;
    if (pipe(fds) != 0)
        goto fail;
    for (int i = 0; i < 2; i++) {
        if (fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK) != 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0)
            goto fail;
    }
    if (pthread_mutex_init(&sh->mu, NULL) != 0)
        goto fail;
    atomic_init(&sh->refs, 1);
    atomic_init(&sh->ext_refs, 0);
    atomic_init(&sh->wakes, 0);
    sh->rfd = fds[0];
    sh->wfd = fds[1];
    rt->shared = sh;
    rt->refs = 1;
    rt->next_id = 1;
    return rt;
fail:
    if (fds[0] >= 0) {
        close(fds[0]);
        close(fds[1]);
    }
    free(sh);
    free(rt);
    return NULL;
}

void awake_ref_stats_get(const awake_ref_rt *rt, awake_ref_stats *out) {
    *out = rt->stats;
    out->wakes = atomic_load(&rt->shared->wakes);
}

/* Polls every task queued right now (tasks woken meanwhile wait for the
 * next round, so a self-waking task cannot starve the reactor). */
static void run_ready(awake_ref_rt *rt) {
    ref_cell *c = shared_take_ready(rt->shared);
    while (c) {
        ref_cell *next = c->next;
        /* An RMW (not a plain store) so that this poll sees everything the
         * waker did before its wake. */
        atomic_exchange(&c->notified, 0);
        if (c->task && !c->task->done)
            task_poll(rt, c->task);
        cell_release(c);
        c = next;
    }
}

static void fire_timers(awake_ref_rt *rt, uint64_t now) {
    while (rt->heap_len > 0 && rt->heap[0]->t.deadline_ns <= now) {
        ref_timer *tm = rt->heap[0];
        heap_remove(rt, tm);
        rt->stats.timers_fired++;
        event_fire(&tm->t.event);
    }
}

static int ensure_pfds(awake_ref_rt *rt, size_t n) {
    if (n <= rt->p_cap)
        return 0;
    size_t cap = n * 2;
    struct pollfd *p = realloc(rt->pfds, cap * sizeof *p);
    if (!p)
        return -1;
    rt->pfds = p;
    ref_io **m = realloc(rt->pmap, cap * sizeof *m);
    if (!m)
        return -1;
    rt->pmap = m;
    rt->p_cap = cap;
    return 0;
}

/* Waits in poll(2) until an fd is ready, a timer is due or a waker writes
 * to the self-pipe (never longer than the next deadline), then fires the
 * events.  Returns 0, or -1 when poll(2) failed (errno set). */
static int wait_and_fire(awake_ref_rt *rt) {
    ref_shared *sh = rt->shared;
    size_t n = 1;
    if (ensure_pfds(rt, rt->ios_len + 1) != 0)
        return -1;
    rt->pfds[0].fd = sh->rfd;
    rt->pfds[0].events = POLLIN;
    rt->pfds[0].revents = 0;
    for (size_t i = 0; i < rt->ios_len; i++) {
        awake_io *io = &rt->ios[i]->io;
        short ev = 0;
        /* Ask only for directions the plugin is waiting on: READY events
         * stay READY until the plugin clears them after EAGAIN. */
        if ((io->interest & AWAKE_IO_READ) &&
            !(__atomic_load_n(&io->read.state, __ATOMIC_ACQUIRE) &
              AWAKE_EVENT_READY))
            ev |= POLLIN;
        if ((io->interest & AWAKE_IO_WRITE) &&
            !(__atomic_load_n(&io->write.state, __ATOMIC_ACQUIRE) &
              AWAKE_EVENT_READY))
            ev |= POLLOUT;
        if (!ev)
            continue;
        rt->pfds[n].fd = io->fd;
        rt->pfds[n].events = ev;
        rt->pfds[n].revents = 0;
        rt->pmap[n - 1] = rt->ios[i];
        n++;
    }

    int64_t timeout_ns = -1;
    pthread_mutex_lock(&sh->mu);
    if (sh->head) {
        timeout_ns = 0;
    } else {
        sh->sleeping = 1;
        if (rt->heap_len > 0) {
            uint64_t now = mono_ns(), d = rt->heap[0]->t.deadline_ns;
            timeout_ns = d > now ? (int64_t)(d - now) : 0;
        }
    }
    pthread_mutex_unlock(&sh->mu);
    if (timeout_ns != 0)
        rt->stats.sleeps++;

    int r;
#if defined(__linux__)
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    r = ppoll(rt->pfds, (nfds_t)n, tsp, NULL);
#else
    int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
    r = poll(rt->pfds, (nfds_t)n, ms);
#endif
    int saved = errno;

    pthread_mutex_lock(&sh->mu);
    sh->sleeping = 0;
    if (sh->signalled) {
        char buf[64];
        while (read(sh->rfd, buf, sizeof buf) > 0) {
        }
        sh->signalled = 0;
    }
    pthread_mutex_unlock(&sh->mu);

    if (r < 0) {
        errno = saved;
        return saved == EINTR ? 0 : -1;
    }
    for (size_t i = 1; i < n && r > 0; i++) {
        short re = rt->pfds[i].revents;
        if (!re)
            continue;
        awake_io *io = &rt->pmap[i - 1]->io;
        short err = POLLERR | POLLHUP | POLLNVAL;
        if (re & POLLNVAL)
            ref_logf(NULL, AWAKE_LOG_WARN,
                     "fd %d was closed before io_close (plugin bug)", io->fd);
        if ((rt->pfds[i].events & POLLIN) && (re & (POLLIN | err))) {
            rt->stats.io_events++;
            event_fire(&io->read);
        }
        if ((rt->pfds[i].events & POLLOUT) && (re & (POLLOUT | err))) {
            rt->stats.io_events++;
            event_fire(&io->write);
        }
    }
    return 0;
}

/* True when nothing can ever be polled again: no task queued and no waker
 * clone alive anywhere (not in a timer, an fd, a thread or a join).  The
 * order matters: ext_refs first, then the queue (a wake() pushes before it
 * drops its reference). */
static int deadlocked(awake_ref_rt *rt) {
    ref_shared *sh = rt->shared;
    if (atomic_load(&sh->ext_refs) != 0)
        return 0;
    pthread_mutex_lock(&sh->mu);
    int empty = sh->head == NULL;
    pthread_mutex_unlock(&sh->mu);
    return empty;
}

static size_t count_tasks(awake_ref_rt *rt) {
    size_t n = 0;
    for (ref_task *t = rt->tasks; t; t = t->next)
        n++;
    return n;
}

int32_t awake_ref_block_on(awake_ref_rt *rt, awake_future fut, void *out,
                           awake_error **err) {
    const char *bad = check_future(fut);
    if (err)
        *err = NULL;
    if (bad) {
        ref_logf(NULL, AWAKE_LOG_ERROR, "block_on refused the future: %s", bad);
        if (fut.vtable && fut.vtable->drop)
            fut.vtable->drop(fut.self);
        return AWAKE_E_INVALID;
    }
    if (rt->closed || rt->polling || rt->in_block_on) {
        fut.vtable->drop(fut.self);
        return rt->closed ? AWAKE_E_CLOSED : AWAKE_E_INVALID;
    }
    if (!out && fut.vtable->output_size > 0) {
        ref_logf(NULL, AWAKE_LOG_ERROR,
                 "block_on: out is NULL but the future writes %u bytes",
                 fut.vtable->output_size);
        fut.vtable->drop(fut.self);
        return AWAKE_E_INVALID;
    }
    ref_task *root = task_new(rt, fut, out);
    if (!root)
        return AWAKE_E_NOMEM;
    root->is_root = 1;
    rt->in_block_on = 1;
    awake_error *e = NULL;
    int32_t status;
    for (;;) {
        run_ready(rt);
        if (root->done)
            break;
        fire_timers(rt, mono_ns());
        if (deadlocked(rt)) {
            size_t others = count_tasks(rt) - 1;
            task_drop_pending(root);
            root->status = AWAKE_ERROR;
            root->err = ref_errorf(
                AWAKE_REF_E_DEADLOCK,
                "deadlock: root task %" PRIu64 " returned AWAKE_PENDING but no "
                "waker clone is alive and no task is queued, so nothing can "
                "wake it (%zu other task(s) pending); a future returned "
                "AWAKE_PENDING without registering cx->waker (clone it, park "
                "it on a host event, or wake it)",
                root->id, others);
            break;
        }
        if (wait_and_fire(rt) != 0) {
            int en = errno;
            task_drop_pending(root);
            root->status = AWAKE_ERROR;
            root->err = ref_errorf(AWAKE_E_SYSTEM, "poll(2) failed: %s",
                                   strerror(en));
            break;
        }
        fire_timers(rt, mono_ns());
    }
    rt->in_block_on = 0;
    status = root->status;
    e = root->err;
    root->err = NULL;
    task_free(root);
    if (e) {
        if (err) {
            *err = e;
        } else {
            ref_logf(NULL, AWAKE_LOG_ERROR, "root task failed (code %d): %s",
                     e->code, e->message ? e->message : "");
            drop_error(e);
        }
    }
    return status;
}

void awake_ref_free(awake_ref_rt *rt) {
    if (!rt)
        return;
    rt->closed = 1;
    /* Drop pending tasks one at a time: a drop may free or detach others. */
    while (rt->tasks)
        task_drop_pending(rt->tasks);
    ref_shared *sh = rt->shared;
    pthread_mutex_lock(&sh->mu);
    sh->closed = 1;
    ref_cell *c = sh->head;
    sh->head = sh->tail = NULL;
    close(sh->rfd);
    close(sh->wfd);
    pthread_mutex_unlock(&sh->mu);
    while (c) {
        ref_cell *next = c->next;
        cell_release(c);
        c = next;
    }
    shared_release(sh);
    rt->shared = NULL;
    rt_release(rt); /* timers/fds a plugin leaked keep the rest alive */
}

/* ======================================================================== */
/* 6. Plugin loading                                                        */
/* ======================================================================== */

static int32_t load_fail(char *errbuf, size_t errlen, int32_t code,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int32_t load_fail(char *errbuf, size_t errlen, int32_t code,
                         const char *fmt, ...) {
    if (errbuf && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

int32_t awake_ref_load(const char *path, const awake_plugin **out,
                       char *errbuf, size_t errlen) {
    if (!path || !out)
        return load_fail(errbuf, errlen, AWAKE_E_INVALID,
                         "awake_ref_load: path and out must not be NULL");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return load_fail(errbuf, errlen, AWAKE_E_SYSTEM,
                         "cannot load plugin %s: %s (is it a shared library "
                         "built with -shared -fPIC?)", path, dlerror());
    /* ISO C forbids converting void * to a function pointer; POSIX allows
     * it, and copying the bytes is the portable spelling. */
    void *sym = dlsym(h, AWAKE_ENTRY_SYMBOL);
    if (!sym)
        return load_fail(errbuf, errlen, AWAKE_E_SYSTEM,
                         "plugin %s exports no symbol %s: define it with "
                         "AWAKE_PLUGIN_DEFINE", path, AWAKE_ENTRY_SYMBOL);
    awake_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);

    awake_entry_args args;
    memset(&args, 0, sizeof args);
    args.size = sizeof args;
    args.abi_major = AWAKE_ABI_MAJOR;
    args.abi_minor = AWAKE_ABI_MINOR;
    args.pointer_size = sizeof(void *);
    args.endian = AWAKE_ENDIAN_CANARY;
    args.host = &ref_host;
    const awake_plugin *p = NULL;
    int32_t rc = entry(&args, &p);
    if (rc == AWAKE_E_VERSION)
        return load_fail(errbuf, errlen, rc,
                         "plugin %s refused host ABI %d.%d (major mismatch): "
                         "rebuild it against this awake.h", path,
                         AWAKE_ABI_MAJOR, AWAKE_ABI_MINOR);
    if (rc == AWAKE_E_CANARY)
        return load_fail(errbuf, errlen, rc,
                         "plugin %s refused the host's pointer size or byte "
                         "order: it was built for another architecture", path);
    if (rc != AWAKE_OK)
        return load_fail(errbuf, errlen, rc < 0 ? rc : AWAKE_E_INVALID,
                         "plugin %s entry point failed with code %d", path, rc);
    if (!p)
        return load_fail(errbuf, errlen, AWAKE_E_INVALID,
                         "plugin %s entry point returned AWAKE_OK but no "
                         "descriptor", path);
    if (p->size < sizeof(awake_plugin))
        return load_fail(errbuf, errlen, AWAKE_E_INVALID,
                         "plugin %s descriptor size %u is smaller than %zu",
                         path, p->size, sizeof(awake_plugin));
    if (p->abi_major != AWAKE_ABI_MAJOR)
        return load_fail(errbuf, errlen, AWAKE_E_VERSION,
                         "plugin %s was built for ABI %u.%u, host speaks %d.%d: "
                         "rebuild it against this awake.h", path, p->abi_major,
                         p->abi_minor, AWAKE_ABI_MAJOR, AWAKE_ABI_MINOR);
    if (p->pointer_size != sizeof(void *) || p->endian != AWAKE_ENDIAN_CANARY)
        return load_fail(errbuf, errlen, AWAKE_E_CANARY,
                         "plugin %s has pointer size %u and endian canary "
                         "0x%08x, host has %zu and 0x%08x: wrong architecture",
                         path, p->pointer_size, p->endian, sizeof(void *),
                         AWAKE_ENDIAN_CANARY);
    if (!p->name || !p->name[0] || !p->version || !p->version[0])
        return load_fail(errbuf, errlen, AWAKE_E_INVALID,
                         "plugin %s has an empty name or version", path);
    if (p->export_count > 0 && !p->exports)
        return load_fail(errbuf, errlen, AWAKE_E_INVALID,
                         "plugin %s (%s) declares %u exports but no array",
                         path, p->name, p->export_count);
    for (uint32_t i = 0; i < p->export_count; i++) {
        const awake_export *e = &p->exports[i];
        if (e->size < sizeof(awake_export) || !e->name || !e->name[0] ||
            !e->make)
            return load_fail(errbuf, errlen, AWAKE_E_INVALID,
                             "plugin %s (%s) export #%u is malformed (size %u, "
                             "name %s, make %s)", path, p->name, i, e->size,
                             e->name ? e->name : "NULL",
                             e->make ? "set" : "NULL");
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(p->exports[j].name, e->name) == 0)
                return load_fail(errbuf, errlen, AWAKE_E_INVALID,
                                 "plugin %s (%s) exports \"%s\" twice", path,
                                 p->name, e->name);
    }
    *out = p;
    return AWAKE_OK;
}

const awake_export *awake_ref_find_export(const awake_plugin *plugin,
                                          const char *name) {
    for (uint32_t i = 0; i < plugin->export_count; i++)
        if (strcmp(plugin->exports[i].name, name) == 0)
            return &plugin->exports[i];
    return NULL;
}
