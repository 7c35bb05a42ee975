/*
 * badfutures.c -- a valid plugin whose exports make broken futures or fail
 * in unusual ways, for the cbindings MakeFuture tests.  Each export is named
 * for its defect.  badfutures_error_drops() counts awake_error objects the
 * host released.
 */
#include "awake.h"

#include <stdint.h>

static const awake_host *host;
static int error_drops;

AWAKE_EXPORT int badfutures_error_drops(void);
AWAKE_EXPORT int badfutures_error_drops(void) {
    return __atomic_load_n(&error_drops, __ATOMIC_SEQ_CST);
}

static int32_t ready_poll(void *self, awake_context *cx, void *out,
                          awake_error **err) {
    (void)self;
    (void)cx;
    (void)out;
    (void)err;
    return AWAKE_READY;
}

static void nop_drop(void *self) { (void)self; }

static const awake_future_vtable small_vt = {
    8, 0, 0, 0, ready_poll, nop_drop, NULL};
static const awake_future_vtable null_poll_vt = {
    sizeof(awake_future_vtable), 0, 0, 0, NULL, nop_drop, NULL};
static const awake_future_vtable null_drop_vt = {
    sizeof(awake_future_vtable), 0, 0, 0, ready_poll, NULL, NULL};
static const awake_future_vtable bad_align_vt = {
    sizeof(awake_future_vtable), 0, 8, 3, ready_poll, nop_drop, NULL};
static const awake_future_vtable ok_vt = {
    sizeof(awake_future_vtable), 0, 0, 0, ready_poll, nop_drop, NULL};

static int32_t give(const awake_future_vtable *vt, awake_future *out) {
    out->self = NULL;
    out->vtable = vt;
    return AWAKE_OK;
}

#define MAKER(fn, body)                                                        \
    static int32_t fn(const uint8_t *args, size_t args_len,                    \
                      awake_future *out, awake_error **err) {                  \
        (void)args;                                                            \
        (void)args_len;                                                        \
        (void)err;                                                             \
        body                                                                   \
    }

static void count_drop(awake_error *e) {
    (void)e;
    __atomic_fetch_add(&error_drops, 1, __ATOMIC_SEQ_CST);
}

static awake_error static_error = {sizeof(awake_error), 5, "static error",
                                   count_drop};
static awake_error small_error = {4, 5, "never read", count_drop};

MAKER(make_null_vtable, return give(NULL, out);)
MAKER(make_small_vtable, return give(&small_vt, out);)
MAKER(make_null_poll, return give(&null_poll_vt, out);)
MAKER(make_null_drop, return give(&null_drop_vt, out);)
MAKER(make_bad_align, return give(&bad_align_vt, out);)
MAKER(make_no_error_object, (void)out; return AWAKE_E_NOMEM;)
MAKER(make_positive_rc, (void)out; return 5;)
MAKER(make_small_error, (void)out; *err = &small_error; return AWAKE_E_SYSTEM;)
MAKER(make_ok_with_error, *err = &static_error; return give(&ok_vt, out);)
MAKER(make_static, return give(&ok_vt, out);)

static const awake_export exports[] = {
    {sizeof(awake_export), 0, "null_vtable", NULL, make_null_vtable},
    {sizeof(awake_export), 0, "small_vtable", NULL, make_small_vtable},
    {sizeof(awake_export), 0, "null_poll", NULL, make_null_poll},
    {sizeof(awake_export), 0, "null_drop", NULL, make_null_drop},
    {sizeof(awake_export), 0, "bad_align", NULL, make_bad_align},
    {sizeof(awake_export), 0, "no_error_object", NULL, make_no_error_object},
    {sizeof(awake_export), 0, "positive_rc", NULL, make_positive_rc},
    {sizeof(awake_export), 0, "small_error", NULL, make_small_error},
    {sizeof(awake_export), 0, "ok_with_error", NULL, make_ok_with_error},
    {sizeof(awake_export), 0, "static", "a NULL-self future", make_static},
};

AWAKE_PLUGIN_DEFINE("badfutures", "0.1.0", exports, host)
