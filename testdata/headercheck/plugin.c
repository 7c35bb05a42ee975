/*
 * plugin.c -- a minimal plugin written the way awake.h documents it: one
 * export whose future is ready at once with a uint64_t output, and the entry
 * point from AWAKE_PLUGIN_DEFINE.  abi/header_test.go builds it with
 * -shared -fPIC (and -fvisibility=hidden) under gcc and clang, and as C++
 * through plugin.cpp, and checks that the library exports exactly one awake
 * symbol, AWAKE_ENTRY_SYMBOL, with C linkage.
 */
#include "awake.h"

#include <stdlib.h>

static const awake_host *host;

typedef struct answer_future {
    uint64_t value;
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
    *(uint64_t *)out = f->value;
    return AWAKE_READY;
}

static void answer_drop(void *self) { free(self); }

static const awake_future_vtable answer_vtable = {
    sizeof(awake_future_vtable), AWAKE_FUTURE_SEND, sizeof(uint64_t),
    sizeof(uint64_t),            answer_poll,       answer_drop,
    NULL};

static int32_t make_answer(const uint8_t *args, size_t args_len,
                           awake_future *out, awake_error **err) {
    answer_future *f;
    (void)args;
    (void)args_len;
    (void)err;
    f = (answer_future *)malloc(sizeof *f);
    if (f == NULL)
        return AWAKE_E_NOMEM;
    f->value = 42;
    f->done = 0;
    out->self = f;
    out->vtable = &answer_vtable;
    return AWAKE_OK;
}

static const awake_export exports[] = {
    {sizeof(awake_export), 0, "answer", "() -> u64", make_answer},
};

AWAKE_PLUGIN_DEFINE("headercheck", "1.0.0", exports, host)
