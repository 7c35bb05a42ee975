/*
 * pending_request.c -- the tutorial's PendingRequest, with a real worker.
 *
 * WHAT IT SHOWS
 *   The classic shape of a future whose work happens somewhere else:
 *     1. make() sends the "database query" to a worker pthread (simulated by
 *        sleeping <delay>) and returns a future at once;
 *     2. poll() checks the shared state: if the result is there it returns
 *        AWAKE_READY with it; if not it stores a clone of cx->waker where the
 *        worker will find it and returns AWAKE_PENDING;
 *     3. the worker, on its own thread (one the host never saw), stores the
 *        result and calls awake_waker_wake() on the stored clone; the host
 *        then polls the future again.
 *
 *   The race the tutorial warns about -- the worker finishing between
 *   poll's "is it done?" check and poll's "here is my waker" -- cannot
 *   happen: the check and the registration happen under one mutex, and the
 *   worker sets `done` and takes the waker under the same mutex.  Either
 *   poll sees done, or the worker sees the waker.  (Registering outside the
 *   lock would lose the wake and hang the task: a silent deadlock.)
 *
 *   A stored waker is only replaced when awake_waker_will_wake() says the
 *   new one wakes a different task, so repeated polls do not clone again.
 *   The worker calls wake() outside the mutex: wakers never block, but
 *   calling foreign code while holding your own lock is a habit to avoid.
 *
 *   Lifetime: the state is shared by the future and the worker and freed by
 *   whichever lets go last (an atomic refcount).  drop() therefore never
 *   waits for the worker: it tells it to stop, drops the stored waker and
 *   lets go.  The worker is a detached thread that wakes early when told to
 *   stop (a condition variable with a deadline instead of sleep()).
 *   cancel() stops the worker too; the next poll returns AWAKE_CANCELLED.
 *
 * EXPORTS
 *   query <sql>|<delay>   -> text: result of "<sql>" after <delay> ms
 *       <delay> is a duration ("150", "150ms", "2s"; default 100 ms when
 *       the "|<delay>" part is missing).  The fake database only knows
 *       SELECT: any other statement fails with an awake_error (code 1) after
 *       the delay, to show errors coming back from a worker.
 *
 * Try it:   run pending_request.so query 'SELECT 42|150'
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "example_util.h"

static const awake_host *host; /* set by the entry point (unused here) */

/* Error code of a failed query (producer-defined, as awake.h allows). */
#define DB_ERROR 1

/* State shared by the future and its worker thread. */
typedef struct request {
    atomic_int refs;       /* future + worker; last one frees              */
    pthread_mutex_t mu;    /* guards everything below                      */
    pthread_cond_t cv;     /* signals `stop` to the sleeping worker        */
    int done;              /* the worker stored result or error            */
    int stop;              /* cancelled or dropped: the worker gives up    */
    char *result;          /* owned, set with done                         */
    char *error;           /* owned, set with done if the query failed     */
    awake_waker waker;     /* registered by poll, taken by the worker      */
    char *sql;             /* immutable after make()                       */
    uint64_t delay_ns;     /* immutable after make()                       */
} request;

static void request_release(request *r) {
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    if (awake_waker_is_set(r->waker))
        awake_waker_drop(r->waker);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r->result);
    free(r->error);
    free(r->sql);
    free(r);
}

static void deadline_after(struct timespec *ts, uint64_t ns) {
#if defined(__APPLE__)
    clock_gettime(CLOCK_REALTIME, ts); /* no pthread_condattr_setclock */
#else
    clock_gettime(CLOCK_MONOTONIC, ts);
#endif
    uint64_t nsec = (uint64_t)ts->tv_nsec + ns % 1000000000u;
    ts->tv_sec += (time_t)(ns / 1000000000u + nsec / 1000000000u);
    ts->tv_nsec = (long)(nsec % 1000000000u);
}

/* The "database": waits for the delay (or a stop request), then answers. */
static void *worker_main(void *arg) {
    request *r = arg;
    char *result = NULL, *error = NULL;
    struct timespec deadline;
    deadline_after(&deadline, r->delay_ns);

    pthread_mutex_lock(&r->mu);
    while (!r->stop &&
           pthread_cond_timedwait(&r->cv, &r->mu, &deadline) != ETIMEDOUT) {
    }
    int stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    if (stop) {
        request_release(r);
        return NULL;
    }

    /* Compute the answer outside the lock. */
    if (strncmp(r->sql, "SELECT", 6) == 0) {
        size_t n = strlen(r->sql) + 64;
        result = malloc(n);
        if (result)
            snprintf(result, n, "result of \"%s\" after %.0f ms", r->sql,
                     (double)r->delay_ns / 1e6);
    } else {
        size_t n = strlen(r->sql) + 96;
        error = malloc(n);
        if (error)
            snprintf(error, n,
                     "query \"%s\" failed: this fake database only runs "
                     "SELECT statements", r->sql);
    }

    /* Publish the result and take the waker in one critical section: this
     * is the other half of poll's check-and-register. */
    pthread_mutex_lock(&r->mu);
    r->result = result;
    r->error = error;
    r->done = 1;
    awake_waker w = r->waker;
    r->waker.data = NULL;
    r->waker.vtable = NULL;
    pthread_mutex_unlock(&r->mu);

    /* Wake the task from this thread: legal from any thread (awake.h). */
    if (awake_waker_is_set(w))
        awake_waker_wake(w); /* consumes w */
    request_release(r);
    return NULL;
}

/* ---- the future ----------------------------------------------------------- */

typedef struct request_future {
    request *r;
    int finished;
    int cancelled;
} request_future;

static void request_stop(request *r) {
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static int32_t request_poll(void *self, awake_context *cx, void *out,
                            awake_error **err) {
    request_future *f = self;
    request *r = f->r;
    if (f->finished)
        return AWAKE_MISUSE;
    if (f->cancelled) {
        f->finished = 1;
        return AWAKE_CANCELLED;
    }

    awake_waker old = {NULL, NULL};
    pthread_mutex_lock(&r->mu);
    if (!r->done) {
        /* Not ready: register (or keep) our waker under the same lock the
         * worker uses to publish, so its wake cannot be lost. */
        if (!awake_waker_is_set(r->waker) ||
            !awake_waker_will_wake(r->waker, cx->waker)) {
            old = r->waker;
            r->waker = awake_waker_clone(cx->waker);
        }
        pthread_mutex_unlock(&r->mu);
        if (awake_waker_is_set(old))
            awake_waker_drop(old);
        return AWAKE_PENDING;
    }
    char *result = r->result, *error = r->error;
    r->result = r->error = NULL;
    pthread_mutex_unlock(&r->mu);

    f->finished = 1;
    if (error) {
        *err = ex_errorf(DB_ERROR, "%s", error);
        free(error);
        return AWAKE_ERROR;
    }
    if (!result)
        return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM,
                       "query: the worker ran out of memory");
    int rc = ex_output_text(out, "%s", result);
    free(result);
    if (rc != 0)
        return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM, "query: out of memory");
    return AWAKE_READY;
}

static void request_drop(void *self) {
    request_future *f = self;
    request *r = f->r;
    /* Never wait for the worker: tell it to stop, take our waker back, and
     * let the refcount free the state when the worker is gone too. */
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    awake_waker w = r->waker;
    r->waker.data = NULL;
    r->waker.vtable = NULL;
    pthread_mutex_unlock(&r->mu);
    if (awake_waker_is_set(w))
        awake_waker_drop(w);
    request_release(r);
    free(f);
}

static int32_t request_cancel(void *self) {
    request_future *f = self;
    f->cancelled = 1;
    request_stop(f->r); /* the worker gives up at once */
    return AWAKE_OK;
}

EX_BYTES_VTABLE(request_vtable, request_poll, request_drop, request_cancel);

static int32_t make_query(const uint8_t *args, size_t len, awake_future *out,
                          awake_error **err) {
    char *s = ex_args_string(args, len);
    uint64_t delay = 100 * 1000000ull;
    if (!s)
        return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID,
                       "query: arguments must be text without NUL bytes");
    char *bar = strrchr(s, '|');
    if (bar) {
        const char *p = bar + 1;
        if (ex_parse_duration(&p, 1000000, &delay) != 0 || !ex_at_end(p)) {
            int32_t rc = ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID,
                                 "query: bad delay \"%s\"; expected "
                                 "\"<sql>|<delay>\" such as \"SELECT 1|150ms\"",
                                 bar + 1);
            free(s);
            return rc;
        }
        *bar = 0;
    }
    if (!*ex_skip_space(s)) {
        free(s);
        return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID,
                       "query: empty SQL; expected \"<sql>|<delay>\" such as "
                       "\"SELECT 1|150ms\"");
    }

    request_future *f = calloc(1, sizeof *f);
    request *r = calloc(1, sizeof *r);
    if (!f || !r) {
        free(f);
        free(r);
        free(s);
        return ex_fail(err, AWAKE_E_NOMEM, AWAKE_E_NOMEM, "query: out of memory");
    }
    r->sql = s;
    r->delay_ns = delay;
    atomic_init(&r->refs, 2); /* the future and the worker */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
#if !defined(__APPLE__)
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
#endif
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&r->mu, NULL);

    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &attr, worker_main, r);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_store(&r->refs, 1);
        request_release(r);
        free(f);
        return ex_fail(err, AWAKE_E_SYSTEM, AWAKE_E_SYSTEM,
                       "query: cannot start the worker thread: %s",
                       strerror(rc));
    }
    f->r = r;
    out->self = f;
    out->vtable = &request_vtable;
    return AWAKE_OK;
}

static const awake_export exports[] = {
    {sizeof(awake_export), 0, "query",
     "<sql>|<delay> -> text: result of \"<sql>\" after <delay> ms "
     "(worker thread; only SELECT succeeds)",
     make_query},
};

AWAKE_PLUGIN_DEFINE("pending_request", "1.0.0", exports, host)
