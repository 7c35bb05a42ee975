/*
 * run.c -- load a plugin and run one export with the C reference executor.
 *
 *   run <plugin.so>                              list the exports
 *   run [options] <plugin.so> <export> [args...] run one, print its output
 *
 * options:
 *   --cancel-after <duration>  ask the future to cancel (vtable->cancel)
 *                              after that long ("50ms", "100us", bare = ms)
 *   --stats                    print the executor's counters on stderr
 *
 * The args are joined with single spaces and handed to the export's make()
 * as UTF-8 text, e.g. `run timer.so sleep 150ms` or
 * `run join.so join_timers 10 20 30`.  A text output (awake_bytes) is
 * printed on stdout followed by a newline; any other output as hex.
 *
 * Functions offered to plugins through host->call (awake_ref_offer), the
 * same as the Go host command offers: "upper" and "sleep_upper" (50 ms).
 *
 * Exit status: 0 READY, 1 ERROR (message on stderr), 3 CANCELLED,
 * 4 MISUSE, 2 usage, load or runtime failure.
 *
 * WHAT IT SHOWS
 *   - the whole host side in a few lines: awake_ref_load (dlopen + entry +
 *     checks), export->make(args), awake_ref_block_on, releasing the output
 *     and the error;
 *   - a future written in the host program that wraps a plugin's future
 *     (--cancel-after): futures compose across the ABI, and cancel is a
 *     request the wrapped future answers at its next poll.
 * No Go anywhere: this is how to run and debug a plugin with gdb/valgrind.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "awake_ref.h"
#include "example_util.h"

/* ---- --cancel-after: a wrapper future ------------------------------------ */

typedef struct cancel_after {
    awake_future inner;
    awake_future_vtable vt;   /* inner's output shape, our functions */
    uint64_t after_ns;
    const awake_host *host;
    awake_timer *timer;
    int requested;            /* cancel() was called on inner */
    int finished;
} cancel_after;

static int32_t cancel_after_poll(void *self, awake_context *cx, void *out,
                                 awake_error **err) {
    cancel_after *c = self;
    if (c->finished)
        return AWAKE_MISUSE;
    if (!c->requested && !c->timer) {
        c->host = cx->host;
        int32_t rc = cx->host->timer_open(
            cx, cx->host->now_ns(cx) + c->after_ns, &c->timer);
        if (rc != AWAKE_OK) {
            c->timer = NULL;
            c->finished = 1;
            return ex_fail(err, AWAKE_ERROR, rc,
                           "--cancel-after: timer_open failed (%d)", rc);
        }
    }
    if (!c->requested && awake_timer_poll(c->timer, cx) == AWAKE_READY) {
        c->requested = 1;
        cx->host->timer_close(c->timer);
        c->timer = NULL;
        const awake_future_vtable *ivt = c->inner.vtable;
        if (ivt->size >= offsetof(awake_future_vtable, cancel) +
                             sizeof(ivt->cancel) &&
            ivt->cancel)
            ivt->cancel(c->inner.self);
        else
            awake_log(cx, AWAKE_LOG_WARN,
                      "--cancel-after: this export has no cancel function; "
                      "waiting for it to finish");
    }
    /* Same context: the inner future's wakes wake this task. */
    int32_t r = c->inner.vtable->poll(c->inner.self, cx, out, err);
    if (r != AWAKE_PENDING)
        c->finished = 1;
    return r;
}

static void cancel_after_drop(void *self) {
    cancel_after *c = self;
    if (c->timer)
        c->host->timer_close(c->timer);
    c->inner.vtable->drop(c->inner.self);
    free(c);
}

static int wrap_cancel_after(awake_future *f, uint64_t after_ns) {
    cancel_after *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->inner = *f;
    c->after_ns = after_ns;
    /* Same output shape as the inner future (read field by field: a
     * vtable from an older plugin may be shorter than ours). */
    c->vt.size = sizeof c->vt;
    c->vt.flags = f->vtable->flags;
    c->vt.output_size = f->vtable->output_size;
    c->vt.output_align = f->vtable->output_align;
    c->vt.poll = cancel_after_poll;
    c->vt.drop = cancel_after_drop;
    c->vt.cancel = NULL;
    f->self = c;
    f->vtable = &c->vt;
    return 0;
}

/* ---- functions offered to plugins (host->call), as awake-run does ------- */

/* "upper" (at once) and "sleep_upper" (after 50 ms on a host timer): the
 * arguments in upper case.  The Go host command offers the same two, so
 * examples/c/await_go.c runs under both hosts. */
typedef struct upper_future {
    char *text;
    uint64_t delay_ns;
    const awake_host *host;
    awake_timer *timer;
    int finished, cancelled;
} upper_future;

static int32_t upper_poll(void *self, awake_context *cx, void *out,
                          awake_error **err) {
    upper_future *u = self;
    if (u->finished)
        return AWAKE_MISUSE;
    if (u->cancelled) {
        u->finished = 1;
        return AWAKE_CANCELLED; /* drop closes the timer */
    }
    if (u->delay_ns) {
        if (!u->timer) {
            u->host = cx->host;
            int32_t rc = cx->host->timer_open(
                cx, cx->host->now_ns(cx) + u->delay_ns, &u->timer);
            if (rc != AWAKE_OK) {
                u->timer = NULL;
                u->finished = 1;
                return ex_fail(err, AWAKE_ERROR, rc,
                               "sleep_upper: timer_open failed (%d)", rc);
            }
        }
        if (awake_timer_poll(u->timer, cx) == AWAKE_PENDING)
            return AWAKE_PENDING;
    }
    u->finished = 1;
    for (char *p = u->text; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    if (ex_output_text(out, "%s", u->text) != 0)
        return ex_fail(err, AWAKE_ERROR, AWAKE_E_NOMEM, "upper: out of memory");
    return AWAKE_READY;
}

static void upper_drop(void *self) {
    upper_future *u = self;
    if (u->timer)
        u->host->timer_close(u->timer);
    free(u->text);
    free(u);
}

static int32_t upper_cancel(void *self) {
    ((upper_future *)self)->cancelled = 1;
    return AWAKE_OK;
}

EX_BYTES_VTABLE(upper_vtable, upper_poll, upper_drop, upper_cancel);

static int32_t make_upper_after(const uint8_t *args, size_t len,
                                awake_future *out, awake_error **err,
                                uint64_t delay_ns) {
    upper_future *u = calloc(1, sizeof *u);
    char *text = ex_args_string(args, len);
    if (!u || !text) {
        free(u);
        free(text);
        return ex_fail(err, AWAKE_E_INVALID, AWAKE_E_INVALID,
                       "upper: arguments must be text (or out of memory)");
    }
    u->text = text;
    u->delay_ns = delay_ns;
    out->self = u;
    out->vtable = &upper_vtable;
    return AWAKE_OK;
}

static int32_t make_upper(const uint8_t *args, size_t len, awake_future *out,
                          awake_error **err) {
    return make_upper_after(args, len, out, err, 0);
}

static int32_t make_sleep_upper(const uint8_t *args, size_t len,
                                awake_future *out, awake_error **err) {
    return make_upper_after(args, len, out, err, 50 * 1000000ull);
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: run <plugin.so>                    (list exports)\n"
            "       run [--cancel-after DUR] [--stats] <plugin.so> <export> "
            "[args...]\n");
}

static void list_exports(const char *path, const awake_plugin *p) {
    printf("%s: plugin \"%s\" version %s, ABI %u.%u, %u export(s)\n", path,
           p->name, p->version, p->abi_major, p->abi_minor, p->export_count);
    for (uint32_t i = 0; i < p->export_count; i++)
        printf("  %-20s %s\n", p->exports[i].name,
               p->exports[i].doc ? p->exports[i].doc : "");
}

static char *join_args(int argc, char **argv) {
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    *p = 0;
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]);
        if (i > 0)
            *p++ = ' ';
        memcpy(p, argv[i], l + 1);
        p += l;
    }
    return s;
}

static void print_output(const awake_future_vtable *vt, const void *out) {
    if (vt->flags & AWAKE_FUTURE_OUTPUT_BYTES) {
        awake_bytes b;
        memcpy(&b, out, sizeof b);
        if (b.len)
            fwrite(b.data, 1, b.len, stdout);
        fputc('\n', stdout);
        if (b.drop)
            b.drop(b.data, b.len);
    } else if (vt->output_size > 0) {
        const unsigned char *p = out;
        for (uint32_t i = 0; i < vt->output_size; i++)
            printf("%02x", p[i]);
        fputc('\n', stdout);
    }
}

int main(int argc, char **argv) {
    uint64_t cancel_ns = 0;
    int have_cancel = 0, stats = 0, i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--stats") == 0) {
            stats = 1;
        } else if (strcmp(argv[i], "--cancel-after") == 0 && i + 1 < argc) {
            const char *p = argv[++i];
            if (ex_parse_duration(&p, 1000000, &cancel_ns) != 0 ||
                !ex_at_end(p)) {
                fprintf(stderr, "run: bad --cancel-after duration \"%s\"\n",
                        argv[i]);
                return 2;
            }
            have_cancel = 1;
        } else {
            usage();
            return 2;
        }
    }
    if (i >= argc) {
        usage();
        return 2;
    }
    const char *path = argv[i++];
    const awake_plugin *plugin;
    char errbuf[512], local[4096];
    /* dlopen searches the library path for a name without a slash; a
     * command-line file name means the file in the current directory. */
    if (!strchr(path, '/') && strlen(path) + 3 <= sizeof local) {
        snprintf(local, sizeof local, "./%s", path);
        path = local;
    }
    if (awake_ref_load(path, &plugin, errbuf, sizeof errbuf) != AWAKE_OK) {
        fprintf(stderr, "run: %s\n", errbuf);
        return 2;
    }
    if (i >= argc) {
        list_exports(path, plugin);
        return 0;
    }
    const char *name = argv[i++];
    const awake_export *ex = awake_ref_find_export(plugin, name);
    if (!ex) {
        fprintf(stderr, "run: plugin %s (%s) has no export \"%s\"; run "
                        "`run %s` to list them\n", path, plugin->name, name,
                path);
        return 2;
    }
    char *args = join_args(argc - i, argv + i);
    if (!args) {
        fprintf(stderr, "run: out of memory\n");
        return 2;
    }

    awake_future fut;
    awake_error *err = NULL;
    int32_t rc = ex->make((const uint8_t *)args, strlen(args), &fut, &err);
    free(args);
    if (rc != AWAKE_OK) {
        fprintf(stderr, "run: %s.%s: make failed with code %d: %s\n",
                plugin->name, name, rc,
                err && err->message ? err->message : "(no message)");
        if (err)
            err->drop(err);
        return 2;
    }
    if (have_cancel && wrap_cancel_after(&fut, cancel_ns) != 0) {
        fut.vtable->drop(fut.self);
        fprintf(stderr, "run: out of memory\n");
        return 2;
    }

    /* Keep a copy of the output shape: block_on drops the future. */
    awake_future_vtable vt;
    memset(&vt, 0, sizeof vt);
    vt.flags = fut.vtable->flags;
    vt.output_size = fut.vtable->output_size;
    vt.output_align = fut.vtable->output_align;
    void *out = NULL;
    if (vt.output_size > 0) {
        size_t align = vt.output_align < sizeof(void *) ? sizeof(void *)
                                                        : vt.output_align;
        out = aligned_alloc(align, (vt.output_size + align - 1) / align * align);
        if (!out) {
            fut.vtable->drop(fut.self);
            fprintf(stderr, "run: out of memory\n");
            return 2;
        }
    }
    awake_ref_rt *rt = awake_ref_new();
    if (!rt) {
        fut.vtable->drop(fut.self);
        free(out);
        fprintf(stderr, "run: cannot create the runtime\n");
        return 2;
    }
    awake_ref_offer(rt, "upper", make_upper);
    awake_ref_offer(rt, "sleep_upper", make_sleep_upper);
    int32_t st = awake_ref_block_on(rt, fut, out, &err);
    if (stats) {
        awake_ref_stats s;
        awake_ref_stats_get(rt, &s);
        fprintf(stderr,
                "run: stats: polls=%" PRIu64 " wakes=%" PRIu64
                " spawned=%" PRIu64 " timers_fired=%" PRIu64
                " io_events=%" PRIu64 " sleeps=%" PRIu64
                " tasks_left=%" PRIu64 "\n",
                s.polls, s.wakes, s.spawned, s.timers_fired, s.io_events,
                s.sleeps, s.live_tasks);
    }
    /* Drops spawned tasks that are still pending. */
    awake_ref_free(rt);

    int code;
    switch (st) {
    case AWAKE_READY:
        print_output(&vt, out);
        code = 0;
        break;
    case AWAKE_ERROR:
        fprintf(stderr, "run: %s.%s failed with code %d: %s\n", plugin->name,
                name, err ? err->code : 0,
                err && err->message ? err->message : "(no message)");
        code = 1;
        break;
    case AWAKE_CANCELLED:
        printf("cancelled\n");
        code = 3;
        break;
    case AWAKE_MISUSE:
        fprintf(stderr, "run: %s.%s returned AWAKE_MISUSE\n", plugin->name,
                name);
        code = 4;
        break;
    default:
        fprintf(stderr, "run: block_on failed with code %d\n", st);
        code = 2;
        break;
    }
    if (err)
        err->drop(err);
    free(out);
    fflush(stdout);
    return code;
}
