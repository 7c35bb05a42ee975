/*
 * awake_ref.h -- the reference executor: run awake plugins from C, no Go.
 *
 * This is a small, single-threaded host for the awake C ABI (include/awake.h).
 * It exists so that a plugin author can load a plugin, run its futures and
 * unit-test them with nothing but a C compiler, and so that the ABI has a
 * second, independent implementation of the host side next to the Go one.
 * It favours being easy to read over being fast.
 *
 * WHAT IT IMPLEMENTS
 *
 *   - wakers: a refcounted task cell per task (atomic refcount + "notified"
 *     flag).  wake() from any thread pushes the cell onto a mutex-protected
 *     ready list and, only when the executor sleeps, writes one byte to a
 *     self-pipe that wakes poll(2).  Wakes coalesce; wakes after the task
 *     finished or the runtime was freed are harmless.
 *   - timers: a binary min-heap ordered by deadline (O(log n) open, reset and
 *     close).  Firing follows the event protocol of awake.h: the tick is
 *     incremented, READY is set and the parked waker is woken.
 *   - fd readiness: poll(2) (ppoll on Linux, for sub-millisecond timer
 *     resolution).  poll(2) is level-triggered; the executor only asks for a
 *     direction whose awake_event is not READY, so a plugin sees the
 *     edge-triggered behaviour awake.h documents: read/write until EAGAIN,
 *     then awake_io_clear_*(tick) and poll the event again.
 *   - spawn with join futures, now_ns (CLOCK_MONOTONIC), log (to stderr),
 *     call (functions the program offers with awake_ref_offer).
 *   - a deadlock report: when no task is ready and no waker clone exists
 *     anywhere, nothing can ever wake the root future again; block_on then
 *     returns AWAKE_ERROR (code AWAKE_REF_E_DEADLOCK) instead of hanging.
 *     This is the tutorial's "returned PENDING without registering the
 *     waker" pitfall made visible.
 *
 * THREADS
 *
 *   A runtime is used by one thread: awake_ref_block_on and awake_ref_free
 *   must not be called concurrently on the same runtime, nor from inside a
 *   poll.  Every future runs on the thread that calls block_on.  Plugins may
 *   wake tasks from any thread (their own pthreads included).
 *
 * Compile with -std=c11 and -D_GNU_SOURCE or -D_POSIX_C_SOURCE=200809L (the
 * .c file defines what it needs itself); link with -pthread (and -ldl on
 * systems where dlopen lives there).
 */
#ifndef AWAKE_REF_H
#define AWAKE_REF_H

#include <stddef.h>
#include <stdint.h>

#include "awake.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The error code of the awake_error that awake_ref_block_on returns when the
 * root future can never be woken again (see "deadlock report" above). */
#define AWAKE_REF_E_DEADLOCK (-100)

/* A reference runtime.  Opaque. */
typedef struct awake_ref_rt awake_ref_rt;

/* Counters a runtime keeps (for tests and for the curious).  All counts are
 * totals since awake_ref_new. */
typedef struct awake_ref_stats {
    uint64_t polls;        /* calls of a future's poll made by the executor */
    uint64_t wakes;        /* wake/wake_by_ref calls on this runtime's wakers,
                            * from any thread                               */
    uint64_t spawned;      /* tasks created by spawn (the roots not counted) */
    uint64_t timers_fired; /* timer events fired                            */
    uint64_t io_events;    /* fd readiness events fired (read or write)      */
    uint64_t sleeps;       /* times the executor blocked in poll(2)         */
    uint64_t live_tasks;   /* tasks not finished yet, right now             */
    uint64_t open_timers;  /* timers opened and not closed, right now       */
    uint64_t open_ios;     /* fds registered and not closed, right now      */
} awake_ref_stats;

/*
 * awake_ref_new -- creates a runtime.
 *
 * Returns NULL when memory or the self-pipe cannot be allocated (errno says
 * which).  Release the runtime with awake_ref_free.
 */
awake_ref_rt *awake_ref_new(void);

/*
 * awake_ref_block_on -- runs a future to completion.
 *
 * Takes ownership of `fut` (it is dropped before block_on returns, whatever
 * happens) and runs it as the root task, together with every task it
 * spawns, on the calling thread, until the root finishes.  Returns:
 *
 *   AWAKE_READY      the root finished; fut.vtable->output_size bytes of
 *                    output were written to `out` (which must be that large
 *                    and aligned to output_align; may be NULL when
 *                    output_size is 0).  Releasing the output is the
 *                    caller's job (for AWAKE_FUTURE_OUTPUT_BYTES: call the
 *                    awake_bytes' drop).
 *   AWAKE_ERROR      the root failed, or the runtime found a deadlock
 *                    (code AWAKE_REF_E_DEADLOCK), or the future returned an
 *                    invalid status: *err receives an owned awake_error
 *                    (release it with err->drop(err)); if err is NULL the
 *                    error is logged and dropped.
 *   AWAKE_CANCELLED  the root stopped after a cancel request.
 *   AWAKE_MISUSE     the root returned AWAKE_MISUSE.
 *   AWAKE_E_INVALID  `fut` has no vtable or an unusable one, or block_on was
 *                    called from inside a poll of this runtime.
 *   AWAKE_E_NOMEM    the root task could not be allocated.
 *   AWAKE_E_CLOSED   the runtime is being freed.
 *
 * Tasks spawned by the root that are still pending when the root finishes
 * stay in the runtime: a later block_on runs them further, awake_ref_free
 * drops them.
 */
int32_t awake_ref_block_on(awake_ref_rt *rt, awake_future fut, void *out,
                           awake_error **err);

/*
 * awake_ref_host -- the host table of the reference executor.
 *
 * The same table serves every runtime (each context's host_data says which
 * runtime and task a poll belongs to); it is valid for the life of the
 * process.  Given to plugins by awake_ref_load and in every context.
 */
const awake_host *awake_ref_host(awake_ref_rt *rt);

/*
 * awake_ref_offer -- offers a C function to plugins through host->call.
 *
 * A plugin's `cx->host->call(cx, name, args, len, &fut, &err)` then runs
 * make(args, len, &fut, &err) and hands it the future, which must have a
 * text output (AWAKE_FUTURE_OUTPUT_BYTES); a call of a name nobody offered
 * returns AWAKE_E_INVALID with an error that lists the offered names.
 * Offering a name again replaces the function.  This is the C
 * counterpart of the Go host's Runtime.Offer, so plugins that call host
 * functions can be tested without Go.
 *
 * Returns AWAKE_OK, AWAKE_E_INVALID (NULL or empty argument),
 * AWAKE_E_NOMEM or AWAKE_E_CLOSED.
 */
int32_t awake_ref_offer(awake_ref_rt *rt, const char *name, awake_make_fn make);

/*
 * awake_ref_stats_get -- copies the runtime's counters to *out.
 */
void awake_ref_stats_get(const awake_ref_rt *rt, awake_ref_stats *out);

/*
 * awake_ref_free -- drops every task still pending, then frees the runtime.
 *
 * Tasks are dropped on the calling thread, so their drop functions may
 * close timers and fds.  Wakers that plugins still hold stay valid (waking
 * them does nothing); timers and awake_io a plugin forgot to close stay
 * valid too, until it closes them.  NULL is a no-op.
 */
void awake_ref_free(awake_ref_rt *rt);

/*
 * awake_ref_load -- loads a plugin and checks its descriptor.
 *
 * dlopen()s `path` (RTLD_NOW | RTLD_LOCAL), looks up AWAKE_ENTRY_SYMBOL,
 * calls it with this executor's host table, and checks what it returned:
 * ABI major version, pointer size and byte order, non-empty name and
 * version, and every export (size, non-empty unique name, make function).
 * The library is never unloaded.
 *
 * Returns AWAKE_OK and sets *out, or a negative AWAKE_E_* code and writes a
 * NUL-terminated message that names the file and what is wrong into errbuf
 * (when errlen > 0): AWAKE_E_SYSTEM (dlopen/dlsym failed), AWAKE_E_VERSION,
 * AWAKE_E_CANARY, AWAKE_E_INVALID (bad descriptor), or whatever negative
 * code the entry point returned.
 */
int32_t awake_ref_load(const char *path, const awake_plugin **out,
                       char *errbuf, size_t errlen);

/*
 * awake_ref_find_export -- looks an export up by name.
 *
 * Returns the export, or NULL when the plugin has none of that name.
 */
const awake_export *awake_ref_find_export(const awake_plugin *plugin,
                                          const char *name);

/*
 * awake_ref_error_new -- makes an owned awake_error with a copy of `message`.
 *
 * For hosts and tests written in C.  Never returns NULL: when memory runs
 * out it returns a static "out of memory" error whose drop does nothing.
 */
awake_error *awake_ref_error_new(int32_t code, const char *message);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AWAKE_REF_H */
