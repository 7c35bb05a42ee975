/*
 * timer_future.h -- the tutorial's TimerFuture as a reusable C state machine.
 *
 * Included by timer.c (the "sleep" export) and join.c (which runs several of
 * these inside one future).  It is the tutorial's
 *
 *     if now >= deadline { return Ready }
 *     register_os_timer(cx.waker().clone(), remaining); return Pending
 *
 * with register_os_timer made real: the host's reactor owns the timer
 * (cx->host->timer_open), and awake_timer_poll() checks it and parks a clone
 * of cx->waker inside it -- in C, without calling the host -- so that the
 * host wakes the task when the deadline passes.
 *
 *   ex_sleep s;
 *   ex_sleep_init(&s, 150 * 1000000ull);       // 150 ms, clock not started
 *   r = ex_sleep_poll(&s, cx, err);            // in your poll
 *   ex_sleep_release(&s);                      // in your drop (any state)
 *
 * The clock starts at the first poll (futures do nothing until polled).
 */
#ifndef TIMER_FUTURE_H
#define TIMER_FUTURE_H

#include "example_util.h"

typedef struct ex_sleep {
    uint64_t dur_ns;          /* requested duration                          */
    uint64_t deadline_ns;     /* start + dur, set at the first poll          */
    uint64_t fired_ns;        /* when a poll saw the timer fired             */
    const awake_host *host;   /* for timer_close in drop (no cx there)       */
    awake_timer *timer;       /* host timer; NULL before first poll and after
                               * completion                                 */
    int done;
} ex_sleep;

static EX_UNUSED void ex_sleep_init(ex_sleep *s, uint64_t dur_ns) {
    memset(s, 0, sizeof *s);
    s->dur_ns = dur_ns;
}

/* Returns AWAKE_READY once the deadline passed, AWAKE_PENDING after parking
 * cx's waker in the host timer, or AWAKE_ERROR (with *err) when the host
 * could not open a timer.  Must not be called again after READY/ERROR. */
static EX_UNUSED int32_t ex_sleep_poll(ex_sleep *s, awake_context *cx,
                                       awake_error **err) {
    if (s->timer == NULL) {
        /* First poll: open a timer on the host's reactor.  A deadline in the
         * past is fine: the timer fires at once. */
        s->host = cx->host;
        s->deadline_ns = cx->host->now_ns(cx) + s->dur_ns;
        int32_t rc = cx->host->timer_open(cx, s->deadline_ns, &s->timer);
        if (rc != AWAKE_OK) {
            s->timer = NULL;
            s->done = 1;
            return ex_fail(err, AWAKE_ERROR, rc,
                           "sleep: host timer_open failed with code %d "
                           "(-3 means the runtime is shutting down)", rc);
        }
    }
    /* The tutorial's check-then-register, done atomically by the header:
     * READY if fired, else a clone of cx->waker is parked in the timer
     * (reused when it would wake the same task). */
    if (awake_timer_poll(s->timer, cx) == AWAKE_PENDING)
        return AWAKE_PENDING;
    s->fired_ns = cx->host->now_ns(cx);
    cx->host->timer_close(s->timer); /* also drops the parked waker */
    s->timer = NULL;
    s->done = 1;
    return AWAKE_READY;
}

/* How late the firing was observed, in microseconds (after READY). */
static EX_UNUSED uint64_t ex_sleep_late_us(const ex_sleep *s) {
    return s->fired_ns > s->deadline_ns ? (s->fired_ns - s->deadline_ns) / 1000
                                        : 0;
}

/* Releases the timer if one is open.  Legal in every state. */
static EX_UNUSED void ex_sleep_release(ex_sleep *s) {
    if (s->timer) {
        s->host->timer_close(s->timer);
        s->timer = NULL;
    }
}

#endif /* TIMER_FUTURE_H */
