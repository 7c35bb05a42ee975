/*
 * good.c -- a well-formed plugin for the cbindings tests.
 *
 * Exports:
 *   answer      args: empty, or one native int64 -> a future that is READY at
 *               the first poll with that int64 (42 when args are empty)
 *   fail        make always fails: AWAKE_E_INVALID and an owned awake_error
 *               whose message names the argument length
 *   sum         args: any bytes -> an answer future READY with their sum
 *               (an int64), so a test can check what make received
 *   probe_host  a future that calls every host function once from its poll
 *               and reports the results as a probe_result
 * Test hooks (plain C functions, looked up with dlsym by the test):
 *   good_noop_waker(w)  stores awake_waker_noop() in *w
 *   good_live()         futures made and not yet dropped
 *   good_error_drops()  awake_error objects released by the host
 */
#include "awake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const awake_host *host;
static int live_futures;
static int error_drops;

AWAKE_EXPORT int good_live(void);
AWAKE_EXPORT int good_live(void) {
    return __atomic_load_n(&live_futures, __ATOMIC_SEQ_CST);
}

AWAKE_EXPORT int good_error_drops(void);
AWAKE_EXPORT int good_error_drops(void) {
    return __atomic_load_n(&error_drops, __ATOMIC_SEQ_CST);
}

AWAKE_EXPORT void good_noop_waker(awake_waker *w);
AWAKE_EXPORT void good_noop_waker(awake_waker *w) { *w = awake_waker_noop(); }

/* ---- answer ---------------------------------------------------------- */

typedef struct answer_future {
    int64_t value;
    int done;
} answer_future;

static int32_t answer_poll(void *self, awake_context *cx, void *out,
                           awake_error **err) {
    answer_future *f = (answer_future *)self;
    (void)cx;
    (void)err;
    if (f->done)
        return AWAKE_MISUSE;
    f->done = 1;
    memcpy(out, &f->value, sizeof f->value);
    return AWAKE_READY;
}

static void answer_drop(void *self) {
    free(self);
    __atomic_fetch_sub(&live_futures, 1, __ATOMIC_SEQ_CST);
}

static const awake_future_vtable answer_vtable = {
    sizeof(awake_future_vtable), AWAKE_FUTURE_SEND, sizeof(int64_t),
    _Alignof(int64_t), answer_poll, answer_drop, NULL};

static int32_t new_answer(int64_t value, awake_future *out) {
    answer_future *f = (answer_future *)malloc(sizeof *f);
    if (f == NULL)
        return AWAKE_E_NOMEM;
    f->value = value;
    f->done = 0;
    __atomic_fetch_add(&live_futures, 1, __ATOMIC_SEQ_CST);
    out->self = f;
    out->vtable = &answer_vtable;
    return AWAKE_OK;
}

static int32_t make_answer(const uint8_t *args, size_t args_len,
                           awake_future *out, awake_error **err) {
    int64_t value = 42;
    (void)err;
    if (args_len == sizeof value)
        memcpy(&value, args, sizeof value);
    else if (args_len != 0)
        return AWAKE_E_INVALID;
    return new_answer(value, out);
}

static int32_t make_sum(const uint8_t *args, size_t args_len,
                        awake_future *out, awake_error **err) {
    int64_t sum = 0;
    (void)err;
    for (size_t i = 0; i < args_len; i++)
        sum += args[i];
    return new_answer(sum, out);
}

/* ---- fail ------------------------------------------------------------ */

static void fail_error_drop(awake_error *e) {
    free((void *)e->message);
    free(e);
    __atomic_fetch_add(&error_drops, 1, __ATOMIC_SEQ_CST);
}

static int32_t make_fail(const uint8_t *args, size_t args_len,
                         awake_future *out, awake_error **err) {
    awake_error *e = (awake_error *)malloc(sizeof *e);
    char *msg = (char *)malloc(80);
    (void)args;
    (void)out;
    if (e == NULL || msg == NULL) {
        free(e);
        free(msg);
        return AWAKE_E_NOMEM;
    }
    snprintf(msg, 80, "fail always fails (got %u argument bytes)",
             (unsigned)args_len);
    e->size = sizeof *e;
    e->code = 1001;
    e->message = msg;
    e->drop = fail_error_drop;
    *err = e;
    return AWAKE_E_INVALID;
}

/* ---- probe_host ------------------------------------------------------ */

typedef struct probe_result {
    uint64_t now_ns;
    int32_t same_host;      /* cx->host == the host the entry received  */
    uint32_t host_size;
    int32_t host_major;
    int32_t host_minor;
    int32_t timer_rc;
    int32_t timer_out_null; /* timer_open stored NULL on failure         */
    int32_t reset_rc;
    int32_t io_rc;
    int32_t io_out_null;
    int32_t spawn_rc;
    int32_t join_cleared;   /* spawn zeroed *join on failure            */
    int32_t live_after_spawn; /* live futures once spawn returned        */
} probe_result;

typedef struct probe_future {
    int done;
} probe_future;

static int32_t probe_poll(void *self, awake_context *cx, void *out,
                          awake_error **err) {
    probe_future *f = (probe_future *)self;
    probe_result r;
    const awake_host *h = cx->host;
    awake_timer *timer = (awake_timer *)&r; /* not NULL: must be cleared */
    awake_io *io = (awake_io *)&r;
    awake_future child, join;
    (void)err;
    if (f->done)
        return AWAKE_MISUSE;
    f->done = 1;
    memset(&r, 0, sizeof r);
    r.same_host = h == host;
    r.host_size = h->size;
    r.host_major = h->abi_major;
    r.host_minor = h->abi_minor;
    r.now_ns = h->now_ns(cx);
    r.timer_rc = h->timer_open(cx, r.now_ns, &timer);
    r.timer_out_null = timer == NULL;
    r.reset_rc = h->timer_reset(cx, NULL, 0);
    h->timer_close(NULL);
    r.io_rc = h->io_open(cx, 0, AWAKE_IO_READ, &io);
    r.io_out_null = io == NULL;
    h->io_close(NULL);
    join.self = &r;
    join.vtable = &answer_vtable;
    if (new_answer(7, &child) != AWAKE_OK)
        return AWAKE_MISUSE;
    r.spawn_rc = h->spawn(cx, child, &join);
    r.join_cleared = join.self == NULL && join.vtable == NULL;
    r.live_after_spawn = good_live();
    awake_log(cx, AWAKE_LOG_INFO, "probe_host polled");
    memcpy(out, &r, sizeof r);
    return AWAKE_READY;
}

static void probe_drop(void *self) {
    free(self);
    __atomic_fetch_sub(&live_futures, 1, __ATOMIC_SEQ_CST);
}

static const awake_future_vtable probe_vtable = {
    sizeof(awake_future_vtable), 0, sizeof(probe_result),
    _Alignof(probe_result), probe_poll, probe_drop, NULL};

static int32_t make_probe(const uint8_t *args, size_t args_len,
                          awake_future *out, awake_error **err) {
    probe_future *f = (probe_future *)calloc(1, sizeof *f);
    (void)args;
    (void)args_len;
    (void)err;
    if (f == NULL)
        return AWAKE_E_NOMEM;
    __atomic_fetch_add(&live_futures, 1, __ATOMIC_SEQ_CST);
    out->self = f;
    out->vtable = &probe_vtable;
    return AWAKE_OK;
}

static const awake_export exports[] = {
    {sizeof(awake_export), 0, "answer", "[i64] -> i64 (42 without args)",
     make_answer},
    {sizeof(awake_export), 0, "fail", "any -> error", make_fail},
    {sizeof(awake_export), 0, "sum", "bytes -> i64 (their sum)", make_sum},
    {sizeof(awake_export), 0, "probe_host", NULL, make_probe},
};

AWAKE_PLUGIN_DEFINE("good", "1.2.3", exports, host)
