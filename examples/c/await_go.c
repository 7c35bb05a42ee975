/*
 * await_go.c -- a C future that awaits a Go function offered by the host.
 *
 * WHAT IT SHOWS
 *   - cx->host->call(cx, name, args, len, &fut, &err) turns a function the
 *     Go host registered with Runtime.Offer into an awake_future; the Go
 *     function runs on its own goroutine.
 *   - awaiting a future from C: the outer future polls the inner one with
 *     its own context (so the inner future parks the task's waker) and
 *     forwards its awake_bytes output; the inner future is dropped exactly
 *     once, whether it finished or not.
 *
 * EXPORTS
 *   ask_go <function> [args...]  -> "go said: <the function's output>"
 *
 * Try it (the awake-run host offers "upper" and "sleep_upper"):
 *           awake-run await_go.so ask_go upper hello
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "example_util.h"

static const awake_host *host;

typedef struct ask_future {
    char *name;        /* the Go function */
    char *args;        /* its arguments (text) */
    awake_future inner;/* the host future, once made */
    int finished;
} ask_future;

static void ask_release_inner(ask_future *f) {
    if (f->inner.vtable) {
        f->inner.vtable->drop(f->inner.self);
        f->inner.vtable = NULL;
    }
}

static int32_t ask_poll(void *self, awake_context *cx, void *out,
                        awake_error **err) {
    ask_future *f = self;
    awake_bytes got;
    int32_t r;
    if (f->finished)
        return AWAKE_MISUSE;
    if (!f->inner.vtable) {
        if (!AWAKE_HOST_HAS(cx->host, call)) {
            f->finished = 1;
            return ex_fail(err, AWAKE_ERROR, AWAKE_E_INVALID,
                           "this host is too old: it offers no host->call");
        }
        r = cx->host->call(cx, f->name, (const uint8_t *)f->args,
                           strlen(f->args), &f->inner, err);
        if (r != AWAKE_OK) {
            f->finished = 1;
            if (!*err)
                *err = ex_errorf(r, "host->call(\"%s\") failed with %d", f->name, (int)r);
            return AWAKE_ERROR;
        }
    }
    /* The inner future is a bytes future: poll it into our own buffer. */
    r = f->inner.vtable->poll(f->inner.self, cx, &got, err);
    if (r == AWAKE_PENDING)
        return AWAKE_PENDING;
    f->finished = 1;
    ask_release_inner(f);
    if (r != AWAKE_READY)
        return r; /* ERROR (with *err set by the host) or CANCELLED */
    r = ex_output_text(out, "go said: %.*s", (int)got.len, (const char *)got.data);
    if (got.drop)
        got.drop(got.data, got.len);
    if (r != 0)
        return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM, "out of memory");
    return AWAKE_READY;
}

static void ask_drop(void *self) {
    ask_future *f = self;
    ask_release_inner(f);
    free(f->name);
    free(f->args);
    free(f);
}

static int32_t ask_cancel(void *self) {
    ask_future *f = self;
    if (f->inner.vtable && f->inner.vtable->cancel)
        return f->inner.vtable->cancel(f->inner.self);
    return AWAKE_OK;
}

EX_BYTES_VTABLE(ask_vtable, ask_poll, ask_drop, ask_cancel);

static int32_t make_ask(const uint8_t *args, size_t len, awake_future *out,
                        awake_error **err) {
    char *text = ex_args_string(args, len), *sp;
    ask_future *f;
    if (!text)
        return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID, "ask_go: arguments must be text");
    f = calloc(1, sizeof *f);
    if (!f) {
        free(text);
        return ex_fail(err, AWAKE_E_NOMEM, AWAKE_E_NOMEM, "out of memory");
    }
    sp = strchr(text, ' ');
    f->args = strdup(sp ? sp + 1 : "");
    if (sp)
        *sp = 0;
    f->name = text;
    if (!f->args || !*f->name) {
        ask_drop(f);
        return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID, "usage: ask_go <function> [args...]");
    }
    out->self = f;
    out->vtable = &ask_vtable;
    return AWAKE_OK;
}

static const awake_export exports[] = {
    {sizeof(awake_export), 0, "ask_go", "<function> [args...] -> text: go said: <output>", make_ask},
};

AWAKE_PLUGIN_DEFINE("await_go", "1.0.0", exports, host)
