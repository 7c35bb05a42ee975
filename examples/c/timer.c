/*
 * timer.c -- the tutorial's TimerFuture, on the host's timers.
 *
 * WHAT IT SHOWS
 *   - A leaf future that waits on the host reactor: on its first poll it
 *     opens a host timer (cx->host->timer_open, deadline = cx->host->now_ns()
 *     + duration) and from then on checks it with awake_timer_poll(), which
 *     returns READY once the timer fired or parks a clone of cx->waker in
 *     the timer and returns PENDING.  No thread, no call into the host on
 *     the waiting path: the tutorial's register_os_timer() made real.
 *   - Closing host resources: the timer is closed on completion and in drop
 *     (drop is legal in any state: never polled, pending, finished).
 *   - Re-arming a timer with timer_reset (the "ticks" export): deadlines are
 *     start + k * period, so the ticks do not drift.
 *   - cancel: a cancelled sleep closes its timer and returns AWAKE_CANCELLED
 *     at its next poll.
 *
 * EXPORTS (arguments are text; a duration is a number with an optional unit
 * ns/us/ms/s, a bare number is milliseconds: "150", "150ms", "100us", "1.5s")
 *   sleep <duration>         -> "slept 150.0 ms (late by 87 us)"
 *   ticks <count> <period>   -> "5 ticks of 10.0 ms in 50.1 ms (max late 95 us)"
 *
 * Try it:   run timer.so sleep 150ms
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "timer_future.h"

static const awake_host *host; /* set by the entry point (unused here) */

#define MS(ns) ((double)(ns) / 1e6)

/* ---- sleep ---------------------------------------------------------------- */

typedef struct sleep_future {
    ex_sleep sleep;
    int finished;   /* poll returned something other than PENDING */
    int cancelled;  /* cancel() was requested */
} sleep_future;

static int32_t sleep_poll(void *self, awake_context *cx, void *out,
                          awake_error **err) {
    sleep_future *f = self;
    if (f->finished)
        return AWAKE_MISUSE; /* polled after completion: contract broken */
    if (f->cancelled) {
        ex_sleep_release(&f->sleep);
        f->finished = 1;
        return AWAKE_CANCELLED;
    }
    int32_t r = ex_sleep_poll(&f->sleep, cx, err);
    if (r == AWAKE_PENDING)
        return AWAKE_PENDING;
    f->finished = 1;
    if (r != AWAKE_READY)
        return r;
    if (ex_output_text(out, "slept %.1f ms (late by %" PRIu64 " us)",
                       MS(f->sleep.dur_ns), ex_sleep_late_us(&f->sleep)) != 0)
        return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM, "sleep: out of memory");
    return AWAKE_READY;
}

static void sleep_drop(void *self) {
    sleep_future *f = self;
    ex_sleep_release(&f->sleep); /* closes the timer if still open */
    free(f);
}

static int32_t sleep_cancel(void *self) {
    sleep_future *f = self;
    f->cancelled = 1; /* the host polls again; poll returns CANCELLED */
    return AWAKE_OK;
}

EX_BYTES_VTABLE(sleep_vtable, sleep_poll, sleep_drop, sleep_cancel);

static int32_t make_sleep(const uint8_t *args, size_t len, awake_future *out,
                          awake_error **err) {
    char *s = ex_args_string(args, len);
    const char *p = s;
    uint64_t ns;
    if (!s || ex_parse_duration(&p, 1000000, &ns) != 0 || !ex_at_end(p)) {
        free(s);
        return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID,
                       "sleep: expected one duration such as \"150ms\", "
                       "\"100us\" or \"150\" (milliseconds), got \"%.*s\"",
                       (int)len, (const char *)args);
    }
    free(s);
    sleep_future *f = calloc(1, sizeof *f);
    if (!f)
        return ex_fail(err, AWAKE_E_NOMEM, AWAKE_E_NOMEM, "sleep: out of memory");
    ex_sleep_init(&f->sleep, ns);
    out->self = f;
    out->vtable = &sleep_vtable;
    return AWAKE_OK;
}

/* ---- ticks: one timer re-armed with timer_reset --------------------------- */

typedef struct ticks_future {
    uint64_t count, period_ns;
    uint64_t done_ticks;
    uint64_t start_ns;
    uint64_t max_late_ns;
    const awake_host *host;
    awake_timer *timer;
    int finished, cancelled;
} ticks_future;

static int32_t ticks_poll(void *self, awake_context *cx, void *out,
                          awake_error **err) {
    ticks_future *f = self;
    if (f->finished)
        return AWAKE_MISUSE;
    if (f->cancelled) {
        f->finished = 1;
        if (f->timer) {
            f->host->timer_close(f->timer);
            f->timer = NULL;
        }
        return AWAKE_CANCELLED;
    }
    if (!f->timer) {
        f->host = cx->host;
        f->start_ns = cx->host->now_ns(cx);
        int32_t rc = cx->host->timer_open(cx, f->start_ns + f->period_ns,
                                          &f->timer);
        if (rc != AWAKE_OK) {
            f->timer = NULL;
            f->finished = 1;
            return ex_fail(err, AWAKE_ERROR, rc,
                           "ticks: host timer_open failed with code %d", rc);
        }
    }
    while (awake_timer_poll(f->timer, cx) == AWAKE_READY) {
        uint64_t now = cx->host->now_ns(cx);
        uint64_t late = now > f->timer->deadline_ns
                            ? now - f->timer->deadline_ns : 0;
        if (late > f->max_late_ns)
            f->max_late_ns = late;
        if (++f->done_ticks == f->count) {
            cx->host->timer_close(f->timer);
            f->timer = NULL;
            f->finished = 1;
            if (ex_output_text(out,
                               "%" PRIu64 " ticks of %.1f ms in %.1f ms "
                               "(max late %" PRIu64 " us)",
                               f->count, MS(f->period_ns),
                               MS(now - f->start_ns),
                               f->max_late_ns / 1000) != 0)
                return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM,
                               "ticks: out of memory");
            return AWAKE_READY;
        }
        /* Re-arm: clears READY, keeps the parked waker. */
        int32_t rc = cx->host->timer_reset(
            cx, f->timer, f->start_ns + (f->done_ticks + 1) * f->period_ns);
        if (rc != AWAKE_OK) {
            f->finished = 1;
            return ex_fail(err, AWAKE_ERROR, rc,
                           "ticks: host timer_reset failed with code %d", rc);
        }
    }
    return AWAKE_PENDING;
}

static void ticks_drop(void *self) {
    ticks_future *f = self;
    if (f->timer)
        f->host->timer_close(f->timer);
    free(f);
}

static int32_t ticks_cancel(void *self) {
    ((ticks_future *)self)->cancelled = 1;
    return AWAKE_OK;
}

EX_BYTES_VTABLE(ticks_vtable, ticks_poll, ticks_drop, ticks_cancel);

static int32_t make_ticks(const uint8_t *args, size_t len, awake_future *out,
                          awake_error **err) {
    char *s = ex_args_string(args, len);
    const char *p = s;
    uint64_t count, period;
    if (!s || ex_parse_u64(&p, &count) != 0 || count == 0 ||
        ex_parse_duration(&p, 1000000, &period) != 0 || period == 0 ||
        !ex_at_end(p)) {
        free(s);
        return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID,
                       "ticks: expected \"<count> <period>\" such as "
                       "\"5 10ms\" (count >= 1, period > 0), got \"%.*s\"",
                       (int)len, (const char *)args);
    }
    free(s);
    ticks_future *f = calloc(1, sizeof *f);
    if (!f)
        return ex_fail(err, AWAKE_E_NOMEM, AWAKE_E_NOMEM, "ticks: out of memory");
    f->count = count;
    f->period_ns = period;
    out->self = f;
    out->vtable = &ticks_vtable;
    return AWAKE_OK;
}

static const awake_export exports[] = {
    {sizeof(awake_export), 0, "sleep",
     "<duration, e.g. 150ms|100us|2s|150> -> text: slept ... (late by ... us)",
     make_sleep},
    {sizeof(awake_export), 0, "ticks",
     "<count> <period> -> text: N ticks of P ms in T ms (re-armed timer)",
     make_ticks},
};

AWAKE_PLUGIN_DEFINE("timer", "1.0.0", exports, host)
