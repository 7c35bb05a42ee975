/*
 * ref_test.c -- unit tests of the reference executor and conformance
 * checks of the example plugins, in C only.
 *
 *   ref_test <dir>     (dir holds the plugins built by csupport/test.sh)
 *
 * Prints one line per failed check and a summary; exits 1 on any failure.
 * No check depends on timing: durations are only printed, never compared
 * (bounded waits for a condition are the only use of time).
 */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "awake_ref.h"

static int failures, checks;
static const char *dir;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            fprintf(stderr, "FAIL %s:%d (%s): ", __FILE__, __LINE__, __func__); \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const awake_plugin *load(const char *file) {
    char path[4096], err[512];
    const awake_plugin *p = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int32_t rc = awake_ref_load(path, &p, err, sizeof err);
    CHECK(rc == AWAKE_OK, "load %s: %s", path, err);
    return rc == AWAKE_OK ? p : NULL;
}

/* Looks up a plain C function in an already loaded plugin. */
static int64_t (*counter(const char *file, const char *sym))(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    void *s = h ? dlsym(h, sym) : NULL;
    int64_t (*fn)(void) = NULL;
    CHECK(s != NULL, "no symbol %s in %s", sym, path);
    if (s)
        memcpy(&fn, &s, sizeof fn);
    return fn;
}

static int make(const awake_plugin *p, const char *name, const char *args,
                awake_future *f) {
    const awake_export *e = awake_ref_find_export(p, name);
    awake_error *err = NULL;
    CHECK(e != NULL, "plugin %s has no export %s", p->name, name);
    if (!e)
        return -1;
    int32_t rc = e->make((const uint8_t *)args, strlen(args), f, &err);
    CHECK(rc == AWAKE_OK, "%s.%s(%s): make failed %d: %s", p->name, name, args,
          rc, err && err->message ? err->message : "");
    if (err)
        err->drop(err);
    return rc == AWAKE_OK ? 0 : -1;
}

/* Runs an export to completion on a fresh runtime.  Returns the status; a
 * text output is copied to *text (malloc'd, NUL-terminated), an error's
 * code and message to *code / *text. */
static int32_t run(const awake_plugin *p, const char *name, const char *args,
                   char **text, int32_t *code) {
    awake_future f;
    *text = NULL;
    if (code)
        *code = 0;
    if (!p || make(p, name, args, &f) != 0)
        return -1000;
    uint32_t flags = f.vtable->flags;
    awake_ref_rt *rt = awake_ref_new();
    alignas(16) unsigned char out[64];
    awake_error *err = NULL;
    int32_t st = awake_ref_block_on(rt, f, out, &err);
    awake_ref_free(rt);
    if (st == AWAKE_READY && (flags & AWAKE_FUTURE_OUTPUT_BYTES)) {
        awake_bytes b;
        memcpy(&b, out, sizeof b);
        *text = malloc(b.len + 1);
        memcpy(*text, b.data, b.len);
        (*text)[b.len] = 0;
        if (b.drop)
            b.drop(b.data, b.len);
    }
    if (err) {
        *text = strdup(err->message ? err->message : "");
        if (code)
            *code = err->code;
        err->drop(err);
    }
    return st;
}

static int starts_with(const char *s, const char *prefix) {
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ======================================================================== */
/* A probe: a root future that drives a plugin future in a chosen way.      */
/* ======================================================================== */

enum probe_mode {
    PROBE_MISUSE_AFTER_DONE, /* poll to the end, then once more           */
    PROBE_DROP_AFTER_FIRST,  /* one poll, then drop                       */
    PROBE_CANCEL_AFTER_FIRST,/* one poll, cancel, poll to the end         */
    PROBE_DROP_UNPOLLED      /* drop without any poll                     */
};

typedef struct probe {
    awake_future inner;
    enum probe_mode mode;
    int polls;
    int32_t first, final, after;
    awake_error *err;
    alignas(16) unsigned char out[64];
} probe;

static void probe_release_out(probe *p, int32_t st) {
    if (st == AWAKE_READY && (p->inner.vtable->flags & AWAKE_FUTURE_OUTPUT_BYTES)) {
        awake_bytes b;
        memcpy(&b, p->out, sizeof b);
        if (b.drop)
            b.drop(b.data, b.len);
    }
    if (p->err) {
        p->err->drop(p->err);
        p->err = NULL;
    }
}

static void probe_drop_inner(probe *p) {
    if (p->inner.self || p->inner.vtable) {
        p->inner.vtable->drop(p->inner.self);
        p->inner.self = NULL;
        p->inner.vtable = NULL;
    }
}

static int32_t probe_poll(void *self, awake_context *cx, void *out,
                          awake_error **err) {
    probe *p = self;
    (void)out, (void)err;
    if (p->mode == PROBE_DROP_UNPOLLED) {
        probe_drop_inner(p);
        return AWAKE_READY;
    }
    int32_t r = p->inner.vtable->poll(p->inner.self, cx, p->out, &p->err);
    p->polls++;
    if (p->polls == 1)
        p->first = r;
    switch (p->mode) {
    case PROBE_DROP_AFTER_FIRST:
        probe_release_out(p, r);
        probe_drop_inner(p);
        return AWAKE_READY;
    case PROBE_CANCEL_AFTER_FIRST:
        if (p->polls == 1 && r == AWAKE_PENDING) {
            p->inner.vtable->cancel(p->inner.self);
            awake_waker_wake_by_ref(&cx->waker);
            return AWAKE_PENDING;
        }
        break;
    default:
        break;
    }
    if (r == AWAKE_PENDING)
        return AWAKE_PENDING;
    p->final = r;
    probe_release_out(p, r);
    if (p->mode == PROBE_MISUSE_AFTER_DONE) {
        p->after = p->inner.vtable->poll(p->inner.self, cx, p->out, &p->err);
        probe_release_out(p, p->after);
    }
    probe_drop_inner(p);
    return AWAKE_READY;
}

static void probe_drop(void *self) {
    probe_drop_inner(self);
}

static const awake_future_vtable probe_vtable = {
    sizeof(awake_future_vtable), 0, 0, 1, probe_poll, probe_drop, NULL};

static void run_probe(const awake_plugin *pl, const char *name,
                      const char *args, enum probe_mode mode, probe *p) {
    memset(p, 0, sizeof *p);
    p->first = p->final = p->after = -1;
    p->mode = mode;
    if (!pl || make(pl, name, args, &p->inner) != 0)
        return;
    if (mode == PROBE_CANCEL_AFTER_FIRST && !p->inner.vtable->cancel) {
        p->inner.vtable->drop(p->inner.self);
        return;
    }
    awake_ref_rt *rt = awake_ref_new();
    awake_future f = {p, &probe_vtable};
    int32_t st = awake_ref_block_on(rt, f, NULL, NULL);
    CHECK(st == AWAKE_READY, "probe %s %s mode %d: block_on %d", name, args,
          mode, st);
    awake_ref_free(rt); /* drops tasks the plugin spawned */
}

/* Every example export must: finish, answer AWAKE_MISUSE to a poll after
 * it finished, survive a drop after one poll and a drop without a poll,
 * and stop on cancel (if it has cancel). */
static void conformance(const awake_plugin *pl, const char *name,
                        const char *args, const char *expect_prefix) {
    probe p;
    run_probe(pl, name, args, PROBE_MISUSE_AFTER_DONE, &p);
    CHECK(p.final == AWAKE_READY, "%s(%s): final status %d", name, args,
          p.final);
    CHECK(p.after == AWAKE_MISUSE,
          "%s(%s): a poll after completion returned %d, want AWAKE_MISUSE",
          name, args, p.after);
    run_probe(pl, name, args, PROBE_DROP_AFTER_FIRST, &p);
    CHECK(p.first == AWAKE_PENDING, "%s(%s): first poll %d, want PENDING",
          name, args, p.first);
    run_probe(pl, name, args, PROBE_DROP_UNPOLLED, &p);
    run_probe(pl, name, args, PROBE_CANCEL_AFTER_FIRST, &p);
    if (p.polls > 0)
        CHECK(p.final == AWAKE_CANCELLED || p.final == AWAKE_READY,
              "%s(%s): after cancel the future returned %d", name, args,
              p.final);
    char *text;
    int32_t st = run(pl, name, args, &text, NULL);
    CHECK(st == AWAKE_READY && starts_with(text, expect_prefix),
          "%s(%s): status %d output \"%s\", want prefix \"%s\"", name, args,
          st, text ? text : "", expect_prefix);
    printf("  %s %s -> %s\n", name, args, text ? text : "");
    free(text);
}

static void test_examples(void) {
    const awake_plugin *timer = load("timer.so");
    const awake_plugin *pr = load("pending_request.so");
    const awake_plugin *join = load("join.so");
    const awake_plugin *echo = load("echo.so");
    conformance(timer, "sleep", "20ms", "slept 20.0 ms (late by ");
    conformance(timer, "sleep", "300us", "slept 0.3 ms (late by ");
    conformance(timer, "ticks", "4 5ms", "4 ticks of 5.0 ms in ");
    conformance(pr, "query", "SELECT 42|50", "result of \"SELECT 42\" after 50 ms");
    conformance(join, "join_timers", "5 10 15", "joined 3 timers in ");
    conformance(join, "join_timers_wakers", "5 10 15", "joined 3 timers in ");
    conformance(echo, "echo_selftest", "4 5 3000",
                "served 4 connections, 60000 bytes; client: 4 connections x "
                "5 messages x 3000 bytes echoed and verified (60000 bytes)");

    /* Errors come back as owned awake_error objects. */
    char *text;
    int32_t code;
    int32_t st = run(pr, "query", "DROP TABLE x|5", &text, &code);
    CHECK(st == AWAKE_ERROR && code == 1 && strstr(text, "only runs SELECT"),
          "query DROP: status %d code %d text %s", st, code, text);
    free(text);
    awake_future f;
    awake_error *err = NULL;
    const awake_export *e = awake_ref_find_export(timer, "sleep");
    st = e ? e->make((const uint8_t *)"soon", 4, &f, &err) : -1000;
    CHECK(st == AWAKE_E_INVALID && err && strstr(err->message, "\"soon\""),
          "sleep(soon): make returned %d (%s)", st,
          err ? err->message : "no error");
    if (err)
        err->drop(err);
    /* The per-child-waker join polls each child once per firing. */
    st = run(join, "join_timers_wakers", "1 2 3 4 5 6 7 8", &text, NULL);
    CHECK(st == AWAKE_READY && text && strstr(text, "(16 child polls"),
          "join_timers_wakers of 8: %s (want 16 child polls: 8 first polls + "
          "1 per firing)", text ? text : "");
    free(text);
    /* echo_client against a closed port fails cleanly. */
    st = run(echo, "echo_client", "1 2 1 10", &text, &code);
    CHECK(st == AWAKE_ERROR && text && strstr(text, "refused"),
          "echo_client to port 1: status %d: %s", st, text ? text : "");
    free(text);
}

/* ======================================================================== */
/* testkit: executor behaviour                                              */
/* ======================================================================== */

static void test_testkit(void) {
    const awake_plugin *tk = load("testkit.so");
    if (!tk)
        return;
    int64_t (*drops)(void) = counter("testkit.so", "testkit_drops");
    int64_t (*live_f)(void) = counter("testkit.so", "testkit_live_futures");
    int64_t (*live_w)(void) = counter("testkit.so", "testkit_live_wakers");
    int64_t (*conc)(void) = counter("testkit.so", "testkit_concurrent_polls");
    if (!drops || !live_f || !live_w || !conc)
        return;
    char *text;
    int32_t code, st;

    st = run(tk, "ready", "", &text, NULL);
    CHECK(st == AWAKE_READY && text && strcmp(text, "ok") == 0,
          "ready: %d %s", st, text);
    free(text);
    st = run(tk, "yield", "5", &text, NULL);
    CHECK(st == AWAKE_READY && text &&
              strcmp(text, "yielded 5 times in 6 polls") == 0,
          "yield 5: %d %s", st, text);
    free(text);
    st = run(tk, "sleep_us", "300", &text, NULL);
    CHECK(st == AWAKE_READY && text && strcmp(text, "slept 300 us") == 0,
          "sleep_us: %d %s", st, text);
    free(text);
    st = run(tk, "error", "boom", &text, &code);
    CHECK(st == AWAKE_ERROR && code == 42 && text && !strcmp(text, "boom"),
          "error: %d %d %s", st, code, text);
    free(text);

    /* The tutorial's deadlock is reported, not hung. */
    st = run(tk, "no_waker", "", &text, &code);
    CHECK(st == AWAKE_ERROR && code == AWAKE_REF_E_DEADLOCK && text &&
              strstr(text, "without registering"),
          "no_waker: status %d code %d: %s", st, code, text);
    free(text);

    /* Wakes from foreign threads, coalesced, never a concurrent poll. */
    st = run(tk, "wake_from_threads", "4 5000", &text, NULL);
    CHECK(st == AWAKE_READY && starts_with(text, "4 threads x 5000 wakes"),
          "wake_from_threads: %d %s", st, text);
    printf("  wake_from_threads 4 5000 -> %s\n", text ? text : "");
    free(text);
    CHECK(conc() == 0, "concurrent polls detected: %" PRId64, conc());

    /* forever: a pending future dropped by its owner releases its waker. */
    int64_t d0 = drops();
    probe p;
    run_probe(tk, "forever", "", PROBE_DROP_AFTER_FIRST, &p);
    CHECK(p.first == AWAKE_PENDING, "forever first poll %d", p.first);
    CHECK(drops() == d0 + 1, "forever dropped %" PRId64 " times, want 1",
          drops() - d0);
    run_probe(tk, "forever", "", PROBE_CANCEL_AFTER_FIRST, &p);
    CHECK(p.final == AWAKE_CANCELLED, "forever after cancel: %d", p.final);

    /* Threads finish their last wake shortly after READY: wait for it. */
    for (int i = 0; i < 2000 && live_w() != 0; i++)
        sleep_ms(1);
    CHECK(live_w() == 0, "testkit still holds %" PRId64 " waker clones",
          live_w());
    CHECK(live_f() == 0, "%" PRId64 " testkit futures never dropped", live_f());
}

/* ---- spawn and join ------------------------------------------------------- */

typedef struct spawner {
    const awake_plugin *tk;
    int mode; /* 0: await joins; 1: cancel through the join; 2: detach */
    awake_future joins[3];
    int njoins, started;
    char results[3][64];
    int32_t status[3];
} spawner;

static void spawn_export(spawner *s, awake_context *cx, const char *name,
                         const char *args, int with_join) {
    awake_future f;
    if (make(s->tk, name, args, &f) != 0)
        return;
    awake_future *j = with_join ? &s->joins[s->njoins] : NULL;
    int32_t rc = awake_spawn(cx, f, j);
    CHECK(rc == AWAKE_OK, "spawn %s: %d", name, rc);
    if (rc == AWAKE_OK && with_join)
        s->njoins++;
}

static int32_t spawner_poll(void *self, awake_context *cx, void *out,
                            awake_error **err) {
    spawner *s = self;
    (void)out, (void)err;
    if (!s->started) {
        s->started = 1;
        if (s->mode == 0) {
            spawn_export(s, cx, "yield", "3", 1);
            spawn_export(s, cx, "sleep_us", "200", 1);
            spawn_export(s, cx, "forever", "", 0); /* left for free() */
        } else if (s->mode == 1) {
            spawn_export(s, cx, "forever", "", 1);
        } else {
            spawn_export(s, cx, "yield", "50", 1);
            s->joins[0].vtable->drop(s->joins[0].self); /* detach */
            s->njoins = 0;
            return AWAKE_READY;
        }
    }
    int pending = 0;
    for (int i = 0; i < s->njoins; i++) {
        awake_future *j = &s->joins[i];
        if (!j->self && !j->vtable)
            continue;
        alignas(16) unsigned char o[64];
        awake_error *e = NULL;
        int32_t r = j->vtable->poll(j->self, cx, o, &e);
        if (r == AWAKE_PENDING) {
            if (s->mode == 1 && !s->status[i]) {
                s->status[i] = -1; /* cancel once */
                j->vtable->cancel(j->self);
            }
            pending++;
            continue;
        }
        s->status[i] = r;
        if (r == AWAKE_READY) {
            awake_bytes b;
            memcpy(&b, o, sizeof b);
            snprintf(s->results[i], sizeof s->results[i], "%.*s", (int)b.len,
                     (const char *)b.data);
            b.drop(b.data, b.len);
        }
        if (e)
            e->drop(e);
        CHECK(j->vtable->poll(j->self, cx, o, &e) == AWAKE_MISUSE,
              "a join future polled after completion must say MISUSE");
        j->vtable->drop(j->self);
        j->self = NULL;
        j->vtable = NULL;
    }
    return pending ? AWAKE_PENDING : AWAKE_READY;
}

static void spawner_drop(void *self) {
    spawner *s = self;
    for (int i = 0; i < s->njoins; i++)
        if (s->joins[i].vtable)
            s->joins[i].vtable->drop(s->joins[i].self);
}

static const awake_future_vtable spawner_vtable = {
    sizeof(awake_future_vtable), 0, 0, 1, spawner_poll, spawner_drop, NULL};

static void test_spawn(void) {
    const awake_plugin *tk = load("testkit.so");
    int64_t (*live_f)(void) = counter("testkit.so", "testkit_live_futures");
    int64_t (*live_w)(void) = counter("testkit.so", "testkit_live_wakers");
    if (!tk || !live_f || !live_w)
        return;
    awake_ref_stats stats;
    for (int mode = 0; mode < 3; mode++) {
        spawner s;
        memset(&s, 0, sizeof s);
        s.tk = tk;
        s.mode = mode;
        awake_ref_rt *rt = awake_ref_new();
        awake_future f = {&s, &spawner_vtable};
        int32_t st = awake_ref_block_on(rt, f, NULL, NULL);
        CHECK(st == AWAKE_READY, "spawner mode %d: %d", mode, st);
        awake_ref_stats_get(rt, &stats);
        if (mode == 0) {
            CHECK(!strcmp(s.results[0], "yielded 3 times in 4 polls"),
                  "join of yield: \"%s\"", s.results[0]);
            CHECK(!strcmp(s.results[1], "slept 200 us"),
                  "join of sleep_us: \"%s\"", s.results[1]);
            CHECK(stats.live_tasks == 1 && stats.spawned == 3,
                  "after block_on: %" PRIu64 " live tasks (want the forever "
                  "one), %" PRIu64 " spawned", stats.live_tasks,
                  stats.spawned);
        } else if (mode == 1) {
            CHECK(s.status[0] == AWAKE_CANCELLED,
                  "cancel through a join: status %d", s.status[0]);
        } else {
            CHECK(stats.live_tasks == 1, "detached yield task: %" PRIu64
                  " live tasks", stats.live_tasks);
            /* Run the detached task to its end with another root. */
            awake_future r;
            if (make(tk, "yield", "100", &r) == 0) {
                alignas(16) unsigned char o[64];
                awake_bytes b;
                CHECK(awake_ref_block_on(rt, r, o, NULL) == AWAKE_READY,
                      "second block_on");
                memcpy(&b, o, sizeof b);
                b.drop(b.data, b.len);
                awake_ref_stats_get(rt, &stats);
                CHECK(stats.live_tasks == 0, "detached task still pending "
                      "after 100 more rounds");
            }
        }
        awake_ref_free(rt); /* drops the pending ones */
        CHECK(live_f() == 0, "mode %d: %" PRId64 " testkit futures leaked",
              mode, live_f());
        CHECK(live_w() == 0, "mode %d: %" PRId64 " waker clones leaked", mode,
              live_w());
    }
}

/* ---- timers: heap order, reset and close from the middle ------------------ */

#define NT 300

typedef struct timer_test {
    awake_timer *t[NT];
    uint64_t deadline[NT];
    int closed[NT];
    int seen_round[NT];       /* first round it was READY, 0 = not yet     */
    int round;
    int started;
    int early;                /* READY observed before its deadline        */
} timer_test;

static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static int32_t timer_test_poll(void *self, awake_context *cx, void *out,
                               awake_error **err) {
    timer_test *tt = self;
    (void)out, (void)err;
    const awake_host *h = cx->host;
    if (!tt->started) {
        uint64_t seed = 88172645463325252ull, now = h->now_ns(cx);
        tt->started = 1;
        for (int i = 0; i < NT; i++) {
            tt->deadline[i] = now + rnd(&seed) % 20000000; /* < 20 ms */
            int32_t rc = h->timer_open(cx, tt->deadline[i], &tt->t[i]);
            CHECK(rc == AWAKE_OK, "timer_open %d: %d", i, rc);
        }
        for (int i = 0; i < NT; i += 3) { /* close a third, from the middle */
            h->timer_close(tt->t[i]);
            tt->closed[i] = 1;
        }
        for (int i = 1; i < NT; i += 7) { /* move some still open */
            if (tt->closed[i])
                continue;
            tt->deadline[i] = now + rnd(&seed) % 20000000;
            CHECK(h->timer_reset(cx, tt->t[i], tt->deadline[i]) == AWAKE_OK,
                  "timer_reset");
        }
    }
    tt->round++;
    int pending = 0;
    uint64_t now = h->now_ns(cx);
    for (int i = 0; i < NT; i++) {
        if (tt->closed[i] || tt->seen_round[i])
            continue;
        if (awake_timer_poll(tt->t[i], cx) == AWAKE_READY) {
            tt->seen_round[i] = tt->round;
            if (now < tt->deadline[i])
                tt->early++;
        } else {
            pending++;
        }
    }
    if (pending)
        return AWAKE_PENDING;
    for (int i = 0; i < NT; i++)
        if (!tt->closed[i])
            h->timer_close(tt->t[i]);
    return AWAKE_READY;
}

static void timer_test_drop(void *self) { (void)self; }

static const awake_future_vtable timer_test_vtable = {
    sizeof(awake_future_vtable), 0, 0, 1, timer_test_poll, timer_test_drop,
    NULL};

static void test_timers(void) {
    static timer_test tt;
    awake_ref_rt *rt = awake_ref_new();
    awake_future f = {&tt, &timer_test_vtable};
    CHECK(awake_ref_block_on(rt, f, NULL, NULL) == AWAKE_READY, "timer test");
    CHECK(tt.early == 0, "%d timers fired before their deadline", tt.early);
    /* Firing order follows deadlines: an earlier deadline is never seen
     * READY in a later round than a later deadline. */
    int inversions = 0;
    for (int i = 0; i < NT; i++)
        for (int j = 0; j < NT; j++)
            if (!tt.closed[i] && !tt.closed[j] &&
                tt.deadline[i] < tt.deadline[j] &&
                tt.seen_round[i] > tt.seen_round[j])
                inversions++;
    CHECK(inversions == 0, "%d timer order inversions", inversions);
    awake_ref_stats s;
    awake_ref_stats_get(rt, &s);
    CHECK(s.open_timers == 0 && s.timers_fired == NT - NT / 3,
          "timers: %" PRIu64 " open, %" PRIu64 " fired (want 0, %d)",
          s.open_timers, s.timers_fired, NT - NT / 3);
    awake_ref_free(rt);
}

/* ---- fds: edge-triggered behaviour on top of poll(2) --------------------- */

typedef struct io_test {
    int fds[2];
    awake_io *io;
    pthread_t writer;
    int phase;
    int reads_ready;          /* times READY was seen after a clear        */
    int premature;            /* READY with no data after EAGAIN + clear   */
    size_t got;
} io_test;

static void *io_writer(void *arg) {
    io_test *t = arg;
    for (int i = 0; i < 3; i++) {
        sleep_ms(3);
        if (write(t->fds[1], "abcd", 4) != 4)
            break;
    }
    return NULL;
}

static int32_t io_test_poll(void *self, awake_context *cx, void *out,
                            awake_error **err) {
    io_test *t = self;
    (void)out, (void)err;
    if (!t->io) {
        CHECK(cx->host->io_open(cx, t->fds[0], AWAKE_IO_READ, &t->io) ==
                  AWAKE_OK, "io_open");
        pthread_create(&t->writer, NULL, io_writer, t);
    }
    for (;;) {
        uint64_t tick;
        if (awake_io_poll_read(t->io, cx, &tick) == AWAKE_PENDING)
            return AWAKE_PENDING;
        t->reads_ready++;
        char buf[64];
        ssize_t n, total = 0;
        while ((n = read(t->fds[0], buf, sizeof buf)) > 0)
            total += n;
        t->got += (size_t)total;
        if (total == 0 && t->reads_ready > 1)
            t->premature++;
        if (t->got == 12) {
            cx->host->io_close(t->io);
            t->io = NULL;
            return AWAKE_READY;
        }
        awake_io_clear_read(t->io, tick); /* after EAGAIN */
    }
}

static void io_test_drop(void *self) { (void)self; }

static const awake_future_vtable io_test_vtable = {
    sizeof(awake_future_vtable), 0, 0, 1, io_test_poll, io_test_drop, NULL};

static void test_io(void) {
    io_test t;
    memset(&t, 0, sizeof t);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, t.fds) == 0, "socketpair");
    fcntl(t.fds[0], F_SETFL, O_NONBLOCK);
    awake_ref_rt *rt = awake_ref_new();
    awake_future f = {&t, &io_test_vtable};
    CHECK(awake_ref_block_on(rt, f, NULL, NULL) == AWAKE_READY, "io test");
    pthread_join(t.writer, NULL);
    CHECK(t.got == 12, "read %zu bytes, want 12", t.got);
    CHECK(t.premature == 0, "%d READY events with nothing to read", t.premature);
    awake_ref_stats s;
    awake_ref_stats_get(rt, &s);
    CHECK(s.open_ios == 0, "%" PRIu64 " fds still registered", s.open_ios);
    awake_ref_free(rt);
    close(t.fds[0]);
    close(t.fds[1]);
}

/* ---- a wake after the runtime was freed is harmless ----------------------- */

typedef struct late {
    awake_waker w;
    pthread_t th;
} late;

static void *late_main(void *arg) {
    late *l = arg;
    sleep_ms(20);
    awake_waker_wake_by_ref(&l->w);
    awake_waker_wake(l->w);
    return NULL;
}

static int32_t late_poll(void *self, awake_context *cx, void *out,
                         awake_error **err) {
    late *l = self;
    (void)out, (void)err;
    l->w = awake_waker_clone(cx->waker);
    pthread_create(&l->th, NULL, late_main, l);
    return AWAKE_READY;
}

static void late_drop(void *self) { (void)self; }

static const awake_future_vtable late_vtable = {
    sizeof(awake_future_vtable), 0, 0, 1, late_poll, late_drop, NULL};

static void test_late_wake(void) {
    late l;
    awake_ref_rt *rt = awake_ref_new();
    awake_future f = {&l, &late_vtable};
    CHECK(awake_ref_block_on(rt, f, NULL, NULL) == AWAKE_READY, "late");
    awake_ref_free(rt);
    pthread_join(l.th, NULL); /* the wakes ran after free; ASan watches */
}

/* ---- host->call: functions the program offers ------------------------------ */

typedef struct upper {
    char *text;
} upper;

static void upper_bytes_drop(const uint8_t *d, size_t n) {
    (void)n;
    free((void *)(uintptr_t)d);
}

static int32_t upper_poll(void *self, awake_context *cx, void *out,
                          awake_error **err) {
    upper *u = self;
    (void)cx, (void)err;
    for (char *p = u->text; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    awake_bytes b = {(const uint8_t *)u->text, strlen(u->text),
                     upper_bytes_drop};
    u->text = NULL;
    memcpy(out, &b, sizeof b);
    return AWAKE_READY;
}

static void upper_drop(void *self) {
    upper *u = self;
    free(u->text);
    free(u);
}

static const awake_future_vtable upper_vtable = {
    sizeof(awake_future_vtable), AWAKE_FUTURE_OUTPUT_BYTES, sizeof(awake_bytes),
    _Alignof(awake_bytes), upper_poll, upper_drop, NULL};

static int32_t make_upper(const uint8_t *args, size_t len, awake_future *out,
                          awake_error **err) {
    (void)err;
    upper *u = calloc(1, sizeof *u);
    u->text = malloc(len + 1);
    memcpy(u->text, args, len);
    u->text[len] = 0;
    out->self = u;
    out->vtable = &upper_vtable;
    return AWAKE_OK;
}

typedef struct caller {
    awake_future fut;
    int32_t missing_rc;
    char missing_msg[256];
    char result[64];
} caller;

static int32_t caller_poll(void *self, awake_context *cx, void *out,
                           awake_error **err) {
    caller *c = self;
    (void)out, (void)err;
    if (!c->fut.vtable) {
        awake_error *e = NULL;
        awake_future none;
        c->missing_rc = cx->host->call(cx, "nope", NULL, 0, &none, &e);
        snprintf(c->missing_msg, sizeof c->missing_msg, "%s",
                 e ? e->message : "");
        if (e)
            e->drop(e);
        int32_t rc = cx->host->call(cx, "upper", (const uint8_t *)"abc", 3,
                                    &c->fut, &e);
        CHECK(rc == AWAKE_OK, "host->call(upper): %d", rc);
        if (rc != AWAKE_OK)
            return AWAKE_READY;
    }
    alignas(16) unsigned char o[64];
    awake_error *e = NULL;
    int32_t r = c->fut.vtable->poll(c->fut.self, cx, o, &e);
    if (r == AWAKE_PENDING)
        return r;
    if (r == AWAKE_READY) {
        awake_bytes b;
        memcpy(&b, o, sizeof b);
        snprintf(c->result, sizeof c->result, "%.*s", (int)b.len,
                 (const char *)b.data);
        b.drop(b.data, b.len);
    }
    c->fut.vtable->drop(c->fut.self);
    return AWAKE_READY;
}

static void caller_drop(void *self) { (void)self; }

static const awake_future_vtable caller_vtable = {
    sizeof(awake_future_vtable), 0, 0, 1, caller_poll, caller_drop, NULL};

static void test_call(void) {
    caller c;
    memset(&c, 0, sizeof c);
    awake_ref_rt *rt = awake_ref_new();
    CHECK(awake_ref_offer(rt, "upper", make_upper) == AWAKE_OK, "offer");
    awake_future f = {&c, &caller_vtable};
    CHECK(awake_ref_block_on(rt, f, NULL, NULL) == AWAKE_READY, "caller");
    CHECK(strcmp(c.result, "ABC") == 0, "call(upper, abc) = \"%s\"",
          c.result);
    CHECK(c.missing_rc == AWAKE_E_INVALID &&
              strstr(c.missing_msg, "no such function; offered: upper"),
          "call(nope): %d \"%s\"", c.missing_rc, c.missing_msg);
    awake_ref_free(rt);
}

/* ---- bad futures and plugins ---------------------------------------------- */

static int32_t bad_status_poll(void *self, awake_context *cx, void *out,
                               awake_error **err) {
    (void)self, (void)cx, (void)out, (void)err;
    return 17;
}
static void nop_drop(void *self) { (void)self; }
static const awake_future_vtable bad_status_vtable = {
    sizeof(awake_future_vtable), 0, 0, 1, bad_status_poll, nop_drop, NULL};

static void test_bad(void) {
    awake_ref_rt *rt = awake_ref_new();
    awake_future f = {NULL, &bad_status_vtable};
    awake_error *err = NULL;
    int32_t st = awake_ref_block_on(rt, f, NULL, &err);
    CHECK(st == AWAKE_ERROR && err && strstr(err->message, "invalid status 17"),
          "status 17: %d %s", st, err ? err->message : "");
    if (err)
        err->drop(err);
    awake_future none = {NULL, NULL};
    CHECK(awake_ref_block_on(rt, none, NULL, NULL) == AWAKE_E_INVALID,
          "a future without vtable");
    awake_ref_free(rt);

    static const struct {
        const char *file;
        int32_t code;
        const char *needle;
    } cases[] = {
        {"bad_major.so", AWAKE_E_VERSION, "ABI 99"},
        {"bad_canary.so", AWAKE_E_CANARY, "canary"},
        {"bad_dup.so", AWAKE_E_INVALID, "twice"},
        {"bad_nullmake.so", AWAKE_E_INVALID, "make NULL"},
        {"bad_refuses.so", AWAKE_E_VERSION, "refused"},
        {"bad_noentry.so", AWAKE_E_SYSTEM, "awake_plugin_entry"},
        {"does_not_exist.so", AWAKE_E_SYSTEM, "does_not_exist.so"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[4096], msg[512] = "";
        const awake_plugin *p = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].file);
        int32_t rc = awake_ref_load(path, &p, msg, sizeof msg);
        CHECK(rc == cases[i].code && strstr(msg, cases[i].needle) &&
                  strstr(msg, cases[i].file),
              "load %s: code %d (want %d), message \"%s\" (want \"%s\" and "
              "the file name)", cases[i].file, rc, cases[i].code, msg,
              cases[i].needle);
    }
    CHECK(load("bad_ok.so") != NULL, "the control badplugin must load");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: ref_test <dir with the built plugins>\n");
        return 2;
    }
    dir = argv[1];
    test_bad();
    test_testkit();
    test_spawn();
    test_timers();
    test_io();
    test_late_wake();
    test_call();
    test_examples();
    if (failures) {
        fprintf(stderr, "ref_test: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("ref_test: all %d checks passed\n", checks);
    return 0;
}
