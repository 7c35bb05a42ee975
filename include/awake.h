/*
 * awake.h -- the C ABI of awake, an async plugin runtime for Go.
 *
 * This header is the whole interface between a host (a Go program using the
 * awake runtime, or the C reference executor) and a plugin (a shared library
 * written in C, Rust, Zig or anything that speaks C).  It is also the
 * reference manual: every type and function is documented where it is
 * declared.
 *
 * THE MODEL
 *
 *   A plugin exports futures.  A future is an object with a poll function that
 *   returns AWAKE_READY (done, output written) or AWAKE_PENDING (not yet).
 *   Before returning AWAKE_PENDING a future hands a *waker* to whatever will
 *   finish its work: its own worker thread, a host timer, host fd readiness.
 *   Calling the waker puts the task back on the host's run queue and it is
 *   polled again.  This is Rust's std::task (Context, Waker, RawWaker,
 *   RawWakerVTable) as a C ABI.
 *
 *   plugin:   awake_plugin_entry()  -> awake_plugin  (name, version, exports)
 *   export:   make(args)            -> awake_future  (self + vtable)
 *   host:     poll(self, cx, out)   -> AWAKE_PENDING | AWAKE_READY | ...
 *   future:   cx->waker / cx->host  -> timers, fd readiness, spawn, log
 *
 * CONVENTIONS
 *
 *   - Everything is prefixed awake_ / AWAKE_.
 *   - Status values are int32_t, never a C enum inside a struct.
 *   - Structs that may grow start with a uint32_t `size` that the producer
 *     sets to sizeof(struct) as it was compiled.  Readers never read past
 *     `size`.  New fields are only ever appended.  Reserved fields are zero.
 *   - Function tables are append-only.
 *   - Time is nanoseconds of CLOCK_MONOTONIC (the host's now_ns() and a plugin
 *     thread's clock_gettime(CLOCK_MONOTONIC) agree).
 *
 * THREADS
 *
 *   Every host function says where it may be called:
 *     [any thread]   from any thread, including threads the host never saw;
 *                    such functions never enter the host's language runtime,
 *                    never block and never unwind;
 *     [poll thread]  only while a poll of one of your futures is running, on
 *                    the thread that runs it (or from a future's drop, which
 *                    the host also runs on its executor thread).
 *
 * This header compiles as C99, C11 and C++11 with -Wall -Wextra -pedantic.
 * The inline helpers use the GCC/Clang __atomic builtins.
 */
#ifndef AWAKE_H
#define AWAKE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every helper in this header is a static inline function (marked unused so
 * that a translation unit that ignores some stays warning-free). */
#define AWAKE_INLINE static inline __attribute__((unused))

/* ------------------------------------------------------------------------ */
/* Versions                                                                  */
/* ------------------------------------------------------------------------ */

/* ABI major version: a host and a plugin must agree on it exactly. */
#define AWAKE_ABI_MAJOR 1
/* ABI minor version: the feature level.  A host at minor M serves plugins
 * built for any minor <= M; a plugin reads host->abi_minor to know which
 * appended features it may use. */
#define AWAKE_ABI_MINOR 0
/* Release of this header (informative only). */
#define AWAKE_VERSION_STRING "1.0.0"

/* The name of the one symbol a plugin exports (see awake_plugin_entry_fn). */
#define AWAKE_ENTRY_SYMBOL "awake_plugin_entry"

/* Canary: this value stored natively reads as bytes 04 03 02 01 on a
 * little-endian machine and 01 02 03 04 on a big-endian one. */
#define AWAKE_ENDIAN_CANARY 0x01020304u

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

/* Returned by a future's poll. */
#define AWAKE_PENDING 0   /* not finished; a waker has been registered     */
#define AWAKE_READY 1     /* finished; the output was written to `out`     */
#define AWAKE_ERROR 2     /* finished with an error written to `*err`      */
#define AWAKE_CANCELLED 3 /* finished early after cancel() was requested   */
#define AWAKE_MISUSE 4    /* the caller broke the contract (e.g. polled
                           * after the future finished); nothing was done  */

/* Returned by host functions, entry points and constructors.  Zero is
 * success; every failure is negative. */
#define AWAKE_OK 0
#define AWAKE_E_INVALID (-1)  /* an argument is NULL, out of range or misused */
#define AWAKE_E_NOMEM (-2)    /* out of memory                                */
#define AWAKE_E_CLOSED (-3)   /* the host runtime is shutting down            */
#define AWAKE_E_SYSTEM (-4)   /* an OS call failed (see the log for errno)    */
#define AWAKE_E_VERSION (-5)  /* ABI major version mismatch                   */
#define AWAKE_E_CANARY (-6)   /* pointer size or byte order mismatch          */
#define AWAKE_E_THREAD (-7)   /* called from a thread the function forbids    */

/* Log levels (same numbers as Go's log/slog). */
#define AWAKE_LOG_DEBUG (-4)
#define AWAKE_LOG_INFO 0
#define AWAKE_LOG_WARN 4
#define AWAKE_LOG_ERROR 8

/* ------------------------------------------------------------------------ */
/* Wakers                                                                    */
/* ------------------------------------------------------------------------ */

struct awake_waker_vtable;

/* A waker: a data pointer and the table of functions that act on it, passed
 * by value (the shape of Rust's RawWaker).  A waker returned by clone() is
 * owned and must be released exactly once, by wake() or drop().  The waker in
 * an awake_context is borrowed: clone it to keep it past the poll. */
typedef struct awake_waker {
    const void *data;
    const struct awake_waker_vtable *vtable;
} awake_waker;

/* The functions behind a waker.
 *
 * THE WAKER CONTRACT (binding for every vtable, host's or plugin's):
 *   - every function is thread-safe and may be called from any thread,
 *     including threads the host never created;
 *   - no function blocks, none unwinds (no C++ exception, no Rust panic, no
 *     longjmp crosses it);
 *   - clone() cannot fail and returns a waker that wakes the same task;
 *   - wake() consumes the waker (as if followed by drop()); wake_by_ref()
 *     does not;
 *   - wake() and wake_by_ref() only schedule the task: they never poll it
 *     inline, so they may be called from inside a poll;
 *   - wakes coalesce: any number of wakes before the next poll guarantees at
 *     least one later poll, not one poll per wake;
 *   - a wake after the task finished, was cancelled or was dropped, and a
 *     wake after the host runtime closed, are harmless no-ops;
 *   - drop() releases one reference; using a waker after its drop() is a bug
 *     (the host's checked mode reports it).
 * The host's own wakers implement this without entering the Go runtime: a
 * few atomic instructions and, only when the executor sleeps, one write(2).
 *
 * A task that wakes its own waker during its poll and returns AWAKE_PENDING
 * may be polled again at once by the host, up to 16 polls in a row, before
 * the host's other tasks and its reactor run; then it goes behind them.  A
 * future that yields to be fair (wake_by_ref + PENDING after a budget of
 * work) should size its budget with that in mind.
 */
typedef struct awake_waker_vtable {
    uint32_t size;  /* sizeof(awake_waker_vtable) as the producer built it */
    uint32_t flags; /* reserved, zero */
    awake_waker (*clone)(const void *data);
    void (*wake)(const void *data);
    void (*wake_by_ref)(const void *data);
    void (*drop)(const void *data);
} awake_waker_vtable;

/* Returns a new owned reference to the same waker.  Never fails. */
AWAKE_INLINE awake_waker awake_waker_clone(awake_waker w) {
    return w.vtable->clone(w.data);
}

/* Wakes the task and releases this reference (w must not be used again). */
AWAKE_INLINE void awake_waker_wake(awake_waker w) {
    w.vtable->wake(w.data);
}

/* Wakes the task and keeps this reference. */
AWAKE_INLINE void awake_waker_wake_by_ref(const awake_waker *w) {
    w->vtable->wake_by_ref(w->data);
}

/* Releases this reference without waking. */
AWAKE_INLINE void awake_waker_drop(awake_waker w) {
    w.vtable->drop(w.data);
}

/* True when waking a and waking b certainly wake the same task (both words
 * equal), so a stored waker need not be replaced by a fresh clone. */
AWAKE_INLINE int awake_waker_will_wake(awake_waker a, awake_waker b) {
    return a.data == b.data && a.vtable == b.vtable;
}

/* True when w holds a waker (a zeroed awake_waker is "no waker"). */
AWAKE_INLINE int awake_waker_is_set(awake_waker w) {
    return w.vtable != NULL;
}

/* A waker that does nothing, for tests and for polling a future when nobody
 * needs to be woken.  Its clones are no-op wakers too. */
AWAKE_INLINE awake_waker awake_waker_noop(void);
/* The no-op waker's clone (internal: use awake_waker_noop). */
AWAKE_INLINE awake_waker awake_noop_clone_(const void *data) {
    (void)data;
    return awake_waker_noop();
}
/* The no-op waker's wake, wake_by_ref and drop (internal). */
AWAKE_INLINE void awake_noop_fn_(const void *data) { (void)data; }
AWAKE_INLINE awake_waker awake_waker_noop(void) {
    static const awake_waker_vtable vt = {
        sizeof(awake_waker_vtable), 0, awake_noop_clone_,
        awake_noop_fn_, awake_noop_fn_, awake_noop_fn_};
    awake_waker w;
    w.data = NULL;
    w.vtable = &vt;
    return w;
}

/* ------------------------------------------------------------------------ */
/* Events: readiness a future can check and wait on without calling the host */
/* ------------------------------------------------------------------------ */

/* Bits of awake_event.state.  The state is one 64-bit atomic word:
 *
 *   bit 0   READY        the event fired (timer expired, fd became ready)
 *   bit 1   REGISTERING  a poller owns `waker` while it stores a new one
 *   bit 2   WAKING       the host owns `waker` while it takes it to wake it
 *   bits 8+ tick         incremented by the host on every firing
 *
 * Legal transitions:
 *   poller: idle -> REGISTERING -> idle      (store waker; see awake_event_poll)
 *   host:   s -> (s + tick) | READY [| WAKING if no REGISTERING] -> clear WAKING
 *   poller: READY -> !READY only if tick is unchanged (awake_event_clear)
 * When the host fires while a poller holds REGISTERING, it leaves the waker
 * parked; the poller sees READY when it releases REGISTERING and returns
 * AWAKE_READY itself, so no wake is lost. */
#define AWAKE_EVENT_READY 1u
#define AWAKE_EVENT_REGISTERING 2u
#define AWAKE_EVENT_WAKING 4u
#define AWAKE_EVENT_TICK_SHIFT 8

/* A readiness flag with a parked waker.  Lives in host memory (inside an
 * awake_timer or awake_io); a future polls it with awake_event_poll() from
 * C, with no call into the host.  One task polls a given event at a time. */
typedef struct awake_event {
    uint64_t state;    /* atomic; bits above */
    awake_waker waker; /* parked waker, owned by the event; guarded by state */
} awake_event;

/* Returns AWAKE_READY if the event has fired.  Otherwise parks a clone of
 * cx's waker in the event (reusing the parked one when it would wake the same
 * task) and returns AWAKE_PENDING: the host wakes it when the event fires.
 * When READY and `tick` is not NULL, *tick receives the firing's tick for
 * awake_event_clear().  [poll thread] */
struct awake_context;
AWAKE_INLINE int32_t awake_event_poll(awake_event *ev,
                                       const struct awake_context *cx,
                                       uint64_t *tick);

/* Clears READY, unless the event fired again after the poll that returned
 * `tick` (then it stays READY and the next poll does not wait).  Edge-
 * triggered fd code calls this after read()/write() returned EAGAIN. */
AWAKE_INLINE void awake_event_clear(awake_event *ev, uint64_t tick) {
    uint64_t s = __atomic_load_n(&ev->state, __ATOMIC_ACQUIRE);
    for (;;) {
        if ((s >> AWAKE_EVENT_TICK_SHIFT) != tick || !(s & AWAKE_EVENT_READY))
            return;
        if (__atomic_compare_exchange_n(&ev->state, &s,
                                        s & ~(uint64_t)AWAKE_EVENT_READY, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return;
    }
}

/* ------------------------------------------------------------------------ */
/* Timers and fd readiness (memory owned by the host)                        */
/* ------------------------------------------------------------------------ */

/* A host timer.  Open with host->timer_open, wait with awake_timer_poll,
 * close with host->timer_close.  Fires once per arm; timer_reset re-arms. */
typedef struct awake_timer {
    awake_event event;    /* READY once the deadline passed */
    uint64_t deadline_ns; /* read-only for plugins: CLOCK_MONOTONIC ns */
    uint64_t reserved;    /* host-private */
} awake_timer;

/* Interest bits for host->io_open. */
#define AWAKE_IO_READ 1u
#define AWAKE_IO_WRITE 2u

/* A file descriptor registered with the host's reactor (epoll on Linux,
 * kqueue on darwin), edge-triggered: read/write until EAGAIN, then
 * awake_io_clear_*(tick) and poll again.
 *
 * A short transfer on a stream socket or pipe (read() or write() moved fewer
 * bytes than asked) already says what the EAGAIN would: the buffer was
 * drained (or filled).  Calling awake_io_clear_*(tick) right then saves that
 * syscall and loses nothing: epoll and kqueue report every arrival (or every
 * freed space) after the transfer, and the host fires the event with a new
 * tick, which the clear does not erase.  tokio and libuv read the same way.
 * Not for datagram sockets (a short read is just a short datagram). */
typedef struct awake_io {
    awake_event read;  /* READY when the fd is readable (or hung up/errored) */
    awake_event write; /* READY when the fd is writable (or hung up/errored) */
    int32_t fd;        /* read-only for plugins */
    uint32_t interest; /* read-only for plugins: AWAKE_IO_* bits */
    uint64_t reserved; /* host-private */
} awake_io;

/* ------------------------------------------------------------------------ */
/* Errors and outputs                                                        */
/* ------------------------------------------------------------------------ */

/* An owned error.  Whoever receives it calls drop(err) exactly once. */
typedef struct awake_error {
    uint32_t size;       /* sizeof(awake_error) as the producer built it */
    int32_t code;        /* producer-defined; AWAKE_E_* for host errors   */
    const char *message; /* NUL-terminated UTF-8, valid until drop       */
    void (*drop)(struct awake_error *err);
} awake_error;

/* The output of a future whose vtable sets AWAKE_FUTURE_OUTPUT_BYTES: a byte
 * buffer the receiver releases with drop(data, len) (drop may be NULL for
 * static data). */
typedef struct awake_bytes {
    const uint8_t *data;
    size_t len;
    void (*drop)(const uint8_t *data, size_t len);
} awake_bytes;

/* ------------------------------------------------------------------------ */
/* Context, futures                                                          */
/* ------------------------------------------------------------------------ */

struct awake_host;

/* What a poll receives.  Borrowed for one poll only: never store the pointer
 * or the waker (clone the waker instead).  A future that polls child futures
 * with wakers of its own builds a context for them by copying this one and
 * replacing only `waker` (host_data must be copied: it tells the host which
 * poll is running). */
typedef struct awake_context {
    uint32_t size;                 /* sizeof(awake_context) by the host     */
    uint32_t flags;                /* reserved, zero                        */
    awake_waker waker;             /* wakes the task being polled           */
    const struct awake_host *host; /* never NULL: the host's services       */
    void *host_data;               /* host-private: identifies the poll     */
} awake_context;

/* Future vtable flags. */
#define AWAKE_FUTURE_SEND 1u /* may be polled from any OS thread; without it
                              * the host polls it on one thread for life    */
#define AWAKE_FUTURE_OUTPUT_BYTES 2u /* output is an awake_bytes          */

/* The functions behind a future. */
typedef struct awake_future_vtable {
    uint32_t size;          /* sizeof(awake_future_vtable) by the producer */
    uint32_t flags;         /* AWAKE_FUTURE_* bits                         */
    uint32_t output_size;   /* bytes poll writes to `out` on READY (0: none) */
    uint32_t output_align;  /* alignment `out` must have (power of two)    */
    /* Advances the future.  Returns AWAKE_PENDING after arranging a wake,
     * AWAKE_READY after writing output_size bytes to `out`, AWAKE_ERROR after
     * storing an owned error in *err, AWAKE_CANCELLED after a cancel request,
     * or AWAKE_MISUSE when polled after it already finished.  Never called
     * concurrently with itself; never called after it returned anything but
     * AWAKE_PENDING (hosts that break this get AWAKE_MISUSE).  Must not block
     * and must not unwind. */
    int32_t (*poll)(void *self, awake_context *cx, void *out,
                    awake_error **err);
    /* Releases the future.  Legal in any state (pending, finished, never
     * polled), called exactly once, never blocks. */
    void (*drop)(void *self);
    /* Optional (may be NULL): asks the future to stop early.  The host polls
     * it again afterwards; it should then release what it holds and return
     * AWAKE_CANCELLED (or READY/ERROR if it finished anyway).  Returns
     * AWAKE_OK.  [poll thread] */
    int32_t (*cancel)(void *self);
} awake_future_vtable;

/* A future: an object and its vtable, passed by value.  Owned by whoever
 * holds it; released with vtable->drop(self). */
typedef struct awake_future {
    void *self;
    const awake_future_vtable *vtable;
} awake_future;

/* ------------------------------------------------------------------------ */
/* The host API                                                              */
/* ------------------------------------------------------------------------ */

/* The services a host offers, reached from every context as cx->host (and
 * given to the plugin entry).  Append-only: a function exists when
 * offsetof(awake_host, fn) < size. */
typedef struct awake_host {
    uint32_t size;      /* sizeof(awake_host) as the host built it        */
    uint16_t abi_major; /* AWAKE_ABI_MAJOR of the host                    */
    uint16_t abi_minor; /* feature level of the host                      */
    void *host_data;    /* host-private                                   */

    /* CLOCK_MONOTONIC in nanoseconds.  [poll thread] */
    uint64_t (*now_ns)(const awake_context *cx);

    /* Opens a timer that fires at deadline_ns (CLOCK_MONOTONIC; a deadline in
     * the past fires at once) on the reactor of the task being polled.
     * Resolution is sub-millisecond.  *out stays valid until timer_close.
     * Returns AWAKE_OK, AWAKE_E_INVALID, AWAKE_E_NOMEM or AWAKE_E_CLOSED.
     * [poll thread] */
    int32_t (*timer_open)(awake_context *cx, uint64_t deadline_ns,
                          awake_timer **out);
    /* Re-arms a timer: clears READY and sets a new deadline.  [poll thread] */
    int32_t (*timer_reset)(awake_context *cx, awake_timer *t,
                           uint64_t deadline_ns);
    /* Cancels and releases a timer (it never fires afterwards) and drops its
     * parked waker.  Safe after the runtime closed.  [poll thread] */
    void (*timer_close)(awake_timer *t);

    /* Registers a non-blocking fd for AWAKE_IO_* readiness on the reactor of
     * the task being polled.  The caller keeps ownership of the fd and must
     * io_close before close(2).  [poll thread] */
    int32_t (*io_open)(awake_context *cx, int32_t fd, uint32_t interest,
                       awake_io **out);
    /* Deregisters and releases an awake_io, dropping parked wakers.
     * Safe after the runtime closed.  [poll thread] */
    void (*io_close)(awake_io *io);

    /* Hands a future to the host executor as a new task (the host takes
     * ownership of fut, even on failure).  If join is not NULL it receives a
     * future that completes with fut's output (output_size/flags of fut);
     * dropping the join future detaches the task.  [poll thread] */
    int32_t (*spawn)(awake_context *cx, awake_future fut, awake_future *join);

    /* Writes a log record (msg need not be NUL-terminated) to the host's
     * logger, tagged with the plugin, export and task.  [poll thread] */
    void (*log)(const awake_context *cx, int32_t level, const char *msg,
                size_t len);

    /* Makes a future from a function the host offers by name (in a Go host:
     * a Go function registered with Runtime.Offer, run on a goroutine).  The
     * future's output is an awake_bytes (AWAKE_FUTURE_OUTPUT_BYTES); args are
     * copied before the call returns.  Returns AWAKE_OK and fills *out, or
     * AWAKE_E_INVALID with an owned error in *err (err may be NULL) when no
     * such function is offered.  [poll thread] */
    int32_t (*call)(awake_context *cx, const char *name, const uint8_t *args,
                    size_t args_len, awake_future *out, awake_error **err);
} awake_host;

/* True when host table h has function `fn` (it was appended at or before
 * the host's minor version): check it before calling a function newer than
 * the oldest host you support.  Example: AWAKE_HOST_HAS(cx->host, call). */
#define AWAKE_HOST_HAS(h, fn)                                                  \
    ((h)->size >= offsetof(awake_host, fn) + sizeof((h)->fn) && (h)->fn != NULL)

/* Waits on a timer: AWAKE_READY once it fired, else parks cx's waker. */
AWAKE_INLINE int32_t awake_timer_poll(awake_timer *t,
                                       const awake_context *cx) {
    return awake_event_poll(&t->event, cx, NULL);
}

/* Waits until io is readable; *tick (may be NULL) for awake_io_clear_read. */
AWAKE_INLINE int32_t awake_io_poll_read(awake_io *io, const awake_context *cx,
                                         uint64_t *tick) {
    return awake_event_poll(&io->read, cx, tick);
}

/* Waits until io is writable; *tick (may be NULL) for awake_io_clear_write. */
AWAKE_INLINE int32_t awake_io_poll_write(awake_io *io,
                                          const awake_context *cx,
                                          uint64_t *tick) {
    return awake_event_poll(&io->write, cx, tick);
}

/* After read() returned EAGAIN: forget readability seen at `tick`. */
AWAKE_INLINE void awake_io_clear_read(awake_io *io, uint64_t tick) {
    awake_event_clear(&io->read, tick);
}

/* After write() returned EAGAIN: forget writability seen at `tick`. */
AWAKE_INLINE void awake_io_clear_write(awake_io *io, uint64_t tick) {
    awake_event_clear(&io->write, tick);
}

AWAKE_INLINE int32_t awake_event_poll(awake_event *ev,
                                       const struct awake_context *cx,
                                       uint64_t *tick) {
    uint64_t s = __atomic_load_n(&ev->state, __ATOMIC_ACQUIRE);
    awake_waker old;
    int replace;
    for (;;) {
        if (s & AWAKE_EVENT_READY) {
            if (tick)
                *tick = s >> AWAKE_EVENT_TICK_SHIFT;
            return AWAKE_READY;
        }
        if (s & (AWAKE_EVENT_REGISTERING | AWAKE_EVENT_WAKING)) {
            /* WAKING without READY: the host is taking the parked waker of
             * a firing whose READY this poller already cleared; it lasts a
             * few instructions.  REGISTERING means a second poller, which
             * the contract forbids.  Either way: re-read. */
            s = __atomic_load_n(&ev->state, __ATOMIC_ACQUIRE);
            continue;
        }
        if (__atomic_compare_exchange_n(&ev->state, &s,
                                        s | AWAKE_EVENT_REGISTERING, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            break;
    }
    old = ev->waker;
    replace = !(awake_waker_is_set(old) && awake_waker_will_wake(old, cx->waker));
    if (replace)
        ev->waker = awake_waker_clone(cx->waker);
    s = __atomic_fetch_and(&ev->state, ~(uint64_t)AWAKE_EVENT_REGISTERING,
                           __ATOMIC_ACQ_REL);
    if (replace && awake_waker_is_set(old))
        awake_waker_drop(old);
    if (s & AWAKE_EVENT_READY) {
        if (tick)
            *tick = s >> AWAKE_EVENT_TICK_SHIFT;
        return AWAKE_READY;
    }
    return AWAKE_PENDING;
}

/* Spawns fut on the host; see awake_host.spawn. */
AWAKE_INLINE int32_t awake_spawn(awake_context *cx, awake_future fut,
                                  awake_future *join) {
    return cx->host->spawn(cx, fut, join);
}

/* Logs a NUL-terminated message; see awake_host.log. */
AWAKE_INLINE void awake_log(const awake_context *cx, int32_t level,
                             const char *msg) {
    size_t n = 0;
    while (msg[n])
        n++;
    cx->host->log(cx, level, msg, n);
}

/* ------------------------------------------------------------------------ */
/* Plugins                                                                   */
/* ------------------------------------------------------------------------ */

/* Makes a future from an argument buffer (args may be NULL when args_len is
 * 0; the buffer is only valid during the call: copy what you keep).  Returns
 * AWAKE_OK and fills *out, or a negative AWAKE_E_* code and (optionally) an
 * owned error in *err.  May be called from any host thread; never
 * concurrently with the plugin's entry.  The Go host's Spawn calls it on the
 * executor thread that will poll the future, just before the first poll and
 * together with the makes of other new tasks, so a make should only set the
 * future up (allocate, copy the arguments) and leave waiting to poll; its
 * error reaches the host when it awaits the task. */
typedef int32_t (*awake_make_fn)(const uint8_t *args, size_t args_len,
                                 awake_future *out, awake_error **err);

/* One function a plugin offers. */
typedef struct awake_export {
    uint32_t size;        /* sizeof(awake_export) as the plugin built it */
    uint32_t flags;       /* reserved, zero                              */
    const char *name;     /* unique within the plugin, non-empty         */
    const char *doc;      /* one line: arguments and result (may be NULL) */
    awake_make_fn make;   /* never NULL                                  */
} awake_export;

/* What a plugin says about itself.  Static storage in the plugin: valid
 * while the library is loaded. */
typedef struct awake_plugin {
    uint32_t size;         /* sizeof(awake_plugin) as the plugin built it */
    uint16_t abi_major;    /* AWAKE_ABI_MAJOR the plugin was built with   */
    uint16_t abi_minor;    /* AWAKE_ABI_MINOR the plugin was built with   */
    uint32_t pointer_size; /* sizeof(void *) in the plugin                */
    uint32_t endian;       /* AWAKE_ENDIAN_CANARY stored natively         */
    const char *name;      /* non-empty                                   */
    const char *version;   /* non-empty, free-form ("1.2.0")             */
    uint32_t export_count;
    uint32_t reserved;     /* zero */
    const awake_export *exports;
} awake_plugin;

/* What the host tells the plugin at load time. */
typedef struct awake_entry_args {
    uint32_t size;            /* sizeof(awake_entry_args) by the host */
    uint16_t abi_major;       /* host AWAKE_ABI_MAJOR                  */
    uint16_t abi_minor;       /* host feature level                    */
    uint32_t pointer_size;    /* sizeof(void *) in the host            */
    uint32_t endian;          /* AWAKE_ENDIAN_CANARY stored natively   */
    const awake_host *host;   /* valid for the life of the process     */
} awake_entry_args;

/* The plugin entry point, exported as AWAKE_ENTRY_SYMBOL.  Checks that
 * args->abi_major equals the plugin's AWAKE_ABI_MAJOR (else returns
 * AWAKE_E_VERSION) and the canaries (else AWAKE_E_CANARY), then stores its
 * descriptor in *out and returns AWAKE_OK.  Called once per load, from a host
 * thread.  AWAKE_PLUGIN_DEFINE writes it for you. */
typedef int32_t (*awake_plugin_entry_fn)(const awake_entry_args *args,
                                         const awake_plugin **out);

/* Checks what the host sent against how this plugin was compiled. */
AWAKE_INLINE int32_t awake_check_entry_args(const awake_entry_args *args) {
    if (args == NULL || args->size < sizeof(awake_entry_args))
        return AWAKE_E_INVALID;
    if (args->abi_major != AWAKE_ABI_MAJOR)
        return AWAKE_E_VERSION;
    if (args->pointer_size != sizeof(void *) ||
        args->endian != AWAKE_ENDIAN_CANARY)
        return AWAKE_E_CANARY;
    return AWAKE_OK;
}

#if defined(_WIN32)
#define AWAKE_EXPORT __declspec(dllexport)
#else
#define AWAKE_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
#define AWAKE_EXTERN_C extern "C"
#else
#define AWAKE_EXTERN_C
#endif

/* Defines the plugin entry point.  `exports_array` must be an array (not a
 * pointer) of awake_export.  The host pointer is stored in `host_var`
 * (a `const awake_host *` the plugin declares) for use by its own code.
 *
 *   static const awake_host *host;
 *   static const awake_export exports[] = {
 *       {sizeof(awake_export), 0, "sleep", "u64 ns -> ()", make_sleep},
 *   };
 *   AWAKE_PLUGIN_DEFINE("timers", "1.0.0", exports, host)
 */
#define AWAKE_PLUGIN_DEFINE(plugin_name, plugin_version, exports_array,      \
                            host_var)                                          \
    AWAKE_EXTERN_C AWAKE_EXPORT int32_t awake_plugin_entry(                    \
        const awake_entry_args *args, const awake_plugin **out);               \
    AWAKE_EXPORT int32_t awake_plugin_entry(const awake_entry_args *args,      \
                                            const awake_plugin **out) {        \
        static awake_plugin desc;                                              \
        int32_t rc = awake_check_entry_args(args);                             \
        if (rc != AWAKE_OK)                                                    \
            return rc;                                                         \
        desc.size = sizeof(awake_plugin);                                      \
        desc.abi_major = AWAKE_ABI_MAJOR;                                      \
        desc.abi_minor = AWAKE_ABI_MINOR;                                      \
        desc.pointer_size = sizeof(void *);                                    \
        desc.endian = AWAKE_ENDIAN_CANARY;                                     \
        desc.name = plugin_name;                                               \
        desc.version = plugin_version;                                         \
        desc.export_count =                                                    \
            (uint32_t)(sizeof(exports_array) / sizeof(exports_array[0]));      \
        desc.reserved = 0;                                                     \
        desc.exports = exports_array;                                          \
        host_var = args->host;                                                 \
        *out = &desc;                                                          \
        return AWAKE_OK;                                                       \
    }

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AWAKE_H */
