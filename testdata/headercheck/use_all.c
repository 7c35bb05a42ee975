/*
 * use_all.c -- includes awake.h and calls every inline helper and the
 * AWAKE_PLUGIN_DEFINE macro, checking what each one does.  Written in the
 * common subset of C99, C11 and C++11 (use_all.cpp includes this file), so
 * that abi/header_test.go can compile it with gcc, clang, g++ and clang++
 * under -Wall -Wextra -Werror -pedantic and run it.
 *
 * Exit status 0 and "use_all: ok" on stdout when every check holds; 1 and a
 * line naming the failed check otherwise.
 */
#include "awake.h"
#include "awake.h" /* twice: the include guard must hold */

#include <stdio.h>
#include <string.h>

static int checks;
static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            printf("use_all: FAILED line %d: %s\n", __LINE__, #cond);          \
        }                                                                      \
    } while (0)

/* A counting waker: data points at one of these. */
struct counter {
    int clones;
    int wakes;
    int wake_by_refs;
    int drops;
};

/* Declared before its table so clone can return it (C++ forbids a forward
 * declaration of a const object). */
static const awake_waker_vtable *counting_vtable(void);

static struct counter *counter_of(const void *data) {
    return (struct counter *)(uintptr_t)data;
}

static awake_waker counting_clone(const void *data) {
    awake_waker w;
    counter_of(data)->clones++;
    w.data = data;
    w.vtable = counting_vtable();
    return w;
}
static void counting_wake(const void *data) { counter_of(data)->wakes++; }
static void counting_wake_by_ref(const void *data) {
    counter_of(data)->wake_by_refs++;
}
static void counting_drop(const void *data) { counter_of(data)->drops++; }

static const awake_waker_vtable *counting_vtable(void) {
    static const awake_waker_vtable vt = {
        sizeof(awake_waker_vtable), 0,           counting_clone,
        counting_wake,              counting_wake_by_ref, counting_drop};
    return &vt;
}

static awake_waker counting_waker(struct counter *c) {
    awake_waker w;
    w.data = c;
    w.vtable = counting_vtable();
    return w;
}

/* A fake host that records spawn and log calls. */
static int spawned;
static char logged[64];
static size_t logged_len;
static int32_t logged_level;

static int32_t fake_spawn(awake_context *cx, awake_future fut,
                          awake_future *join) {
    (void)cx;
    (void)join;
    if (fut.self != NULL)
        spawned++;
    return AWAKE_OK;
}

static void fake_log(const awake_context *cx, int32_t level, const char *msg,
                     size_t len) {
    (void)cx;
    logged_level = level;
    logged_len = len;
    if (len < sizeof(logged)) {
        memcpy(logged, msg, len);
        logged[len] = 0;
    }
}

/* A plugin defined with the macro, called directly. */
static const awake_host *plugin_host;

static int32_t make_nothing(const uint8_t *args, size_t args_len,
                            awake_future *out, awake_error **err) {
    (void)args;
    (void)args_len;
    (void)out;
    (void)err;
    return AWAKE_E_INVALID;
}

/* Named `exports` as in the header's example; plugin_renamed.c checks that
 * other names work. */
static const awake_export exports[] = {
    {sizeof(awake_export), 0, "one", "() -> ()", make_nothing},
    {sizeof(awake_export), 0, "two", NULL, make_nothing},
};

AWAKE_PLUGIN_DEFINE("use_all", "0.1.0", exports, plugin_host)

static void check_wakers(void) {
    struct counter a, b;
    awake_waker wa, wb, c, noop, noop2, zero;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    wa = counting_waker(&a);
    wb = counting_waker(&b);

    c = awake_waker_clone(wa);
    CHECK(a.clones == 1);
    CHECK(awake_waker_will_wake(c, wa));
    CHECK(!awake_waker_will_wake(wa, wb));
    awake_waker_wake_by_ref(&c);
    CHECK(a.wake_by_refs == 1 && a.wakes == 0);
    awake_waker_wake(c);
    CHECK(a.wakes == 1 && a.drops == 0);
    awake_waker_drop(wb);
    CHECK(b.drops == 1 && b.wakes == 0);

    memset(&zero, 0, sizeof zero);
    CHECK(!awake_waker_is_set(zero));
    CHECK(awake_waker_is_set(wa));

    noop = awake_waker_noop();
    CHECK(awake_waker_is_set(noop));
    CHECK(noop.data == NULL);
    CHECK(noop.vtable->size == sizeof(awake_waker_vtable));
    CHECK(noop.vtable->flags == 0);
    noop2 = awake_waker_clone(noop);
    CHECK(awake_waker_will_wake(noop, noop2));
    awake_waker_wake_by_ref(&noop2);
    awake_waker_wake(noop2);
    awake_waker_drop(awake_waker_noop());
}

static void check_events(void) {
    struct counter a, b;
    awake_host host;
    awake_context cx;
    awake_event ev;
    uint64_t tick = 99;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&host, 0, sizeof host);
    memset(&cx, 0, sizeof cx);
    memset(&ev, 0, sizeof ev);
    cx.size = sizeof cx;
    cx.host = &host;
    cx.waker = counting_waker(&a);

    /* Not fired: parks a clone of cx's waker. */
    CHECK(awake_event_poll(&ev, &cx, &tick) == AWAKE_PENDING);
    CHECK(tick == 99);
    CHECK(a.clones == 1);
    CHECK(awake_waker_will_wake(ev.waker, cx.waker));
    CHECK(ev.state == 0);

    /* Same task again: the parked waker is reused, not re-cloned. */
    CHECK(awake_event_poll(&ev, &cx, NULL) == AWAKE_PENDING);
    CHECK(a.clones == 1 && a.drops == 0);

    /* Another task: new clone parked, old one dropped. */
    cx.waker = counting_waker(&b);
    CHECK(awake_event_poll(&ev, &cx, NULL) == AWAKE_PENDING);
    CHECK(b.clones == 1 && a.drops == 1);

    /* The host fires it (tick 1) the way the header describes. */
    ev.state = ((uint64_t)1 << AWAKE_EVENT_TICK_SHIFT) | AWAKE_EVENT_READY;
    CHECK(awake_event_poll(&ev, &cx, &tick) == AWAKE_READY);
    CHECK(tick == 1);
    CHECK(b.clones == 1);

    /* Clear with a stale tick keeps READY; with the right tick clears it. */
    awake_event_clear(&ev, 0);
    CHECK(ev.state & AWAKE_EVENT_READY);
    awake_event_clear(&ev, 1);
    CHECK(!(ev.state & AWAKE_EVENT_READY));
    CHECK((ev.state >> AWAKE_EVENT_TICK_SHIFT) == 1);
    CHECK(awake_event_poll(&ev, &cx, NULL) == AWAKE_PENDING);
}

static void check_timer_and_io(void) {
    struct counter a;
    awake_host host;
    awake_context cx;
    awake_timer t;
    awake_io io;
    uint64_t tick = 0;

    memset(&a, 0, sizeof a);
    memset(&host, 0, sizeof host);
    memset(&cx, 0, sizeof cx);
    memset(&t, 0, sizeof t);
    memset(&io, 0, sizeof io);
    cx.host = &host;
    cx.waker = counting_waker(&a);

    CHECK(awake_timer_poll(&t, &cx) == AWAKE_PENDING);
    t.event.state = ((uint64_t)3 << AWAKE_EVENT_TICK_SHIFT) | AWAKE_EVENT_READY;
    CHECK(awake_timer_poll(&t, &cx) == AWAKE_READY);

    io.interest = AWAKE_IO_READ | AWAKE_IO_WRITE;
    CHECK(awake_io_poll_read(&io, &cx, &tick) == AWAKE_PENDING);
    CHECK(awake_io_poll_write(&io, &cx, &tick) == AWAKE_PENDING);
    io.read.state = ((uint64_t)5 << AWAKE_EVENT_TICK_SHIFT) | AWAKE_EVENT_READY;
    io.write.state = ((uint64_t)7 << AWAKE_EVENT_TICK_SHIFT) | AWAKE_EVENT_READY;
    CHECK(awake_io_poll_read(&io, &cx, &tick) == AWAKE_READY && tick == 5);
    awake_io_clear_read(&io, tick);
    CHECK(awake_io_poll_write(&io, &cx, &tick) == AWAKE_READY && tick == 7);
    awake_io_clear_write(&io, tick);
    CHECK(!(io.read.state & AWAKE_EVENT_READY));
    CHECK(!(io.write.state & AWAKE_EVENT_READY));
    /* three events each hold one parked clone of a's waker */
    CHECK(a.clones == 3 && a.drops == 0);
}

static void check_host_helpers(void) {
    awake_host host;
    awake_context cx;
    awake_future fut;
    int dummy = 0;

    memset(&host, 0, sizeof host);
    memset(&cx, 0, sizeof cx);
    host.spawn = fake_spawn;
    host.log = fake_log;
    cx.host = &host;
    fut.self = &dummy;
    fut.vtable = NULL;

    CHECK(awake_spawn(&cx, fut, NULL) == AWAKE_OK);
    CHECK(spawned == 1);
    awake_log(&cx, AWAKE_LOG_WARN, "hello awake");
    CHECK(logged_level == AWAKE_LOG_WARN);
    CHECK(logged_len == 11);
    CHECK(strcmp(logged, "hello awake") == 0);
}

static void check_entry(void) {
    awake_host host;
    awake_entry_args args;
    const awake_plugin *desc = NULL;
    union {
        uint32_t word;
        unsigned char bytes[4];
    } canary;

    canary.word = AWAKE_ENDIAN_CANARY;
    CHECK((canary.bytes[0] == 4 && canary.bytes[3] == 1) ||
          (canary.bytes[0] == 1 && canary.bytes[3] == 4));

    memset(&host, 0, sizeof host);
    memset(&args, 0, sizeof args);
    args.size = sizeof args;
    args.abi_major = AWAKE_ABI_MAJOR;
    args.abi_minor = AWAKE_ABI_MINOR;
    args.pointer_size = sizeof(void *);
    args.endian = AWAKE_ENDIAN_CANARY;
    args.host = &host;
    CHECK(awake_check_entry_args(&args) == AWAKE_OK);
    CHECK(awake_check_entry_args(NULL) == AWAKE_E_INVALID);

    args.size = sizeof args - 1;
    CHECK(awake_check_entry_args(&args) == AWAKE_E_INVALID);
    CHECK(awake_plugin_entry(&args, &desc) == AWAKE_E_INVALID && desc == NULL);
    args.size = sizeof args;
    args.abi_major = AWAKE_ABI_MAJOR + 1;
    CHECK(awake_check_entry_args(&args) == AWAKE_E_VERSION);
    args.abi_major = AWAKE_ABI_MAJOR;
    args.pointer_size = sizeof(void *) + 1;
    CHECK(awake_check_entry_args(&args) == AWAKE_E_CANARY);
    args.pointer_size = sizeof(void *);
    args.endian = 0x04030201u;
    CHECK(awake_check_entry_args(&args) == AWAKE_E_CANARY);
    args.endian = AWAKE_ENDIAN_CANARY;

    CHECK(plugin_host == NULL);
    CHECK(awake_plugin_entry(&args, &desc) == AWAKE_OK);
    CHECK(desc != NULL);
    if (desc == NULL)
        return;
    CHECK(plugin_host == &host);
    CHECK(desc->size == sizeof(awake_plugin));
    CHECK(desc->abi_major == AWAKE_ABI_MAJOR);
    CHECK(desc->abi_minor == AWAKE_ABI_MINOR);
    CHECK(desc->pointer_size == sizeof(void *));
    CHECK(desc->endian == AWAKE_ENDIAN_CANARY);
    CHECK(strcmp(desc->name, "use_all") == 0);
    CHECK(strcmp(desc->version, "0.1.0") == 0);
    CHECK(desc->export_count == 2);
    CHECK(desc->reserved == 0);
    CHECK(desc->exports == exports);
    CHECK(strcmp(desc->exports[1].name, "two") == 0);
}

int main(void) {
    check_wakers();
    check_events();
    check_timer_and_io();
    check_host_helpers();
    check_entry();
    if (failures) {
        printf("use_all: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("use_all: ok, %d checks\n", checks);
    return 0;
}
