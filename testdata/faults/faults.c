/* faults.c -- a plugin that breaks the awake contract on purpose, one way per
 * export, so the host's diagnostics can be tested.
 *
 *   no_waker        PENDING without keeping a waker (the silent deadlock)
 *   overdrop        clones cx->waker once and drops it twice, then READY at
 *                   the next poll (it wakes itself first)
 *   late_drop       READY at once after cloning the waker; a thread drops
 *                   the clone twice after the task finished (use after drop)
 *   bad_status      poll returns 99
 *   misuse_status   poll returns AWAKE_MISUSE
 *   error_no_object poll returns AWAKE_ERROR without setting *err
 *   ready_with_wake wakes itself by reference and returns READY (spurious)
 */
#define _POSIX_C_SOURCE 200809L
#include "awake.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const awake_host *host;

typedef struct fault { int kind; int polls; } fault;

enum { NO_WAKER, OVERDROP, LATE_DROP, BAD_STATUS, MISUSE_STATUS, ERROR_NO_OBJECT, READY_WITH_WAKE };

static void *late_dropper(void *arg) {
    awake_waker *w = arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    awake_waker_drop(*w);
    awake_waker_drop(*w); /* one too many */
    free(w);
    return NULL;
}

static int32_t fault_poll(void *self, awake_context *cx, void *out, awake_error **err) {
    fault *f = self;
    (void)out;
    (void)err;
    f->polls++;
    switch (f->kind) {
    case NO_WAKER:
        return AWAKE_PENDING;
    case OVERDROP:
        if (f->polls == 1) {
            awake_waker c = awake_waker_clone(cx->waker);
            awake_waker_wake_by_ref(&cx->waker);
            awake_waker_drop(c);
            awake_waker_drop(c); /* one too many: the task's own reference */
            return AWAKE_PENDING;
        }
        return AWAKE_READY;
    case LATE_DROP: {
        pthread_t th;
        awake_waker *w = malloc(sizeof *w);
        *w = awake_waker_clone(cx->waker);
        pthread_create(&th, NULL, late_dropper, w);
        pthread_detach(th);
        return AWAKE_READY;
    }
    case BAD_STATUS:
        return 99;
    case MISUSE_STATUS:
        return AWAKE_MISUSE;
    case ERROR_NO_OBJECT:
        return AWAKE_ERROR;
    case READY_WITH_WAKE:
        awake_waker_wake_by_ref(&cx->waker);
        return AWAKE_READY;
    }
    return AWAKE_READY;
}

static void fault_drop(void *self) { free(self); }

static const awake_future_vtable fault_vt = {sizeof(awake_future_vtable), 0, 0, 1, fault_poll, fault_drop, NULL};

#define MAKER(name, k)                                                                  \
    static int32_t name(const uint8_t *a, size_t n, awake_future *out, awake_error **e) { \
        fault *f = calloc(1, sizeof *f);                                                \
        (void)a;                                                                        \
        (void)n;                                                                        \
        (void)e;                                                                        \
        if (!f)                                                                         \
            return AWAKE_E_NOMEM;                                                       \
        f->kind = k;                                                                    \
        out->self = f;                                                                  \
        out->vtable = &fault_vt;                                                        \
        return AWAKE_OK;                                                                \
    }

MAKER(make_no_waker, NO_WAKER)
MAKER(make_overdrop, OVERDROP)
MAKER(make_late_drop, LATE_DROP)
MAKER(make_bad_status, BAD_STATUS)
MAKER(make_misuse_status, MISUSE_STATUS)
MAKER(make_error_no_object, ERROR_NO_OBJECT)
MAKER(make_ready_with_wake, READY_WITH_WAKE)

static const awake_export exports[] = {
    {sizeof(awake_export), 0, "no_waker", NULL, make_no_waker},
    {sizeof(awake_export), 0, "overdrop", NULL, make_overdrop},
    {sizeof(awake_export), 0, "late_drop", NULL, make_late_drop},
    {sizeof(awake_export), 0, "bad_status", NULL, make_bad_status},
    {sizeof(awake_export), 0, "misuse_status", NULL, make_misuse_status},
    {sizeof(awake_export), 0, "error_no_object", NULL, make_error_no_object},
    {sizeof(awake_export), 0, "ready_with_wake", NULL, make_ready_with_wake},
};

AWAKE_PLUGIN_DEFINE("faults", "1.0.0", exports, host)
