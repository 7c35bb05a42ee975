/*
 * example_util.h -- small helpers shared by the C example plugins.
 *
 * Nothing here is part of the awake ABI; it is the boilerplate every plugin
 * writes once: owned errors (awake_error), text outputs (awake_bytes),
 * copying the argument buffer into a C string, and parsing numbers and
 * durations such as "150ms", "100us", "2s" or "1.5ms".
 *
 * Conventions of the examples (the Go host command follows them too):
 *   - arguments are UTF-8 text in the args buffer ("150ms", "3 10 20 30");
 *   - outputs are text in an awake_bytes (AWAKE_FUTURE_OUTPUT_BYTES,
 *     output_size = sizeof(awake_bytes)) whose drop frees malloc'd memory;
 *   - errors are owned awake_error objects: code + message + drop.
 *
 * Everything is static so that each plugin gets its own private copy.
 */
#ifndef EXAMPLE_UTIL_H
#define EXAMPLE_UTIL_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "awake.h"

#define EX_UNUSED __attribute__((unused))
#define EX_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* The vtable of the examples' futures: text output, thread-agnostic. */
#define EX_BYTES_VTABLE(name, poll_fn, drop_fn, cancel_fn)                    \
    static const awake_future_vtable name = {                                 \
        sizeof(awake_future_vtable), AWAKE_FUTURE_SEND | AWAKE_FUTURE_OUTPUT_BYTES, \
        sizeof(awake_bytes), _Alignof(awake_bytes), poll_fn, drop_fn, cancel_fn}

/* ---- errors --------------------------------------------------------------- */

/* One allocation: the awake_error header followed by its message. */
static EX_UNUSED void ex_error_free(awake_error *e) { free(e); }
static EX_UNUSED void ex_error_static_drop(awake_error *e) { (void)e; }

/* Makes an owned error; never NULL (falls back to a static "out of memory"
 * error whose drop does nothing). */
static EX_UNUSED EX_PRINTF(2, 3) awake_error *ex_errorf(int32_t code,
                                                         const char *fmt, ...) {
    static awake_error oom = {sizeof(awake_error), AWAKE_E_NOMEM,
                              "out of memory", ex_error_static_drop};
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return &oom;
    awake_error *e = malloc(sizeof(awake_error) + (size_t)n + 1);
    if (!e)
        return &oom;
    char *msg = (char *)(e + 1);
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    va_end(ap);
    e->size = sizeof(awake_error);
    e->code = code;
    e->message = msg;
    e->drop = ex_error_free;
    return e;
}

/* Stores an error in *err when err is not NULL (make() may get err == NULL).
 * Returns `ret` so that callers can write `return ex_fail(err, ...)`. */
#define ex_fail(err, ret, code, ...)                                          \
    ((err) ? (void)(*(err) = ex_errorf((code), __VA_ARGS__)) : (void)0, (ret))

/* ---- text outputs --------------------------------------------------------- */

static EX_UNUSED void ex_bytes_free(const uint8_t *data, size_t len) {
    (void)len;
    free((void *)(uintptr_t)data);
}

/* Writes printf-formatted text as an awake_bytes into `out` (which the host
 * sized and aligned from the vtable).  Returns 0, or -1 when out of memory. */
static EX_UNUSED EX_PRINTF(2, 3) int ex_output_text(void *out,
                                                     const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return -1;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    awake_bytes b;
    b.data = (const uint8_t *)s;
    b.len = (size_t)n;
    b.drop = ex_bytes_free;
    memcpy(out, &b, sizeof b);
    return 0;
}

/* ---- arguments ------------------------------------------------------------ */

/* Copies the args buffer into a NUL-terminated string (free() it).
 * Returns NULL when out of memory or when the text contains a NUL byte. */
static EX_UNUSED char *ex_args_string(const uint8_t *args, size_t len) {
    if (len > 0 && memchr(args, 0, len))
        return NULL;
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    if (len)
        memcpy(s, args, len);
    s[len] = 0;
    return s;
}

static EX_UNUSED const char *ex_skip_space(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* Parses a decimal unsigned integer after optional blanks; advances *p.
 * Returns 0, or -1 when there is no number or it overflows. */
static EX_UNUSED int ex_parse_u64(const char **p, uint64_t *v) {
    const char *s = ex_skip_space(*p);
    uint64_t x = 0;
    if (*s < '0' || *s > '9')
        return -1;
    while (*s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
        s++;
    }
    *p = s;
    *v = x;
    return 0;
}

/* Parses a duration after optional blanks: a decimal number (fraction
 * allowed) with an optional unit "ns", "us", "ms" or "s"; a bare number is
 * in `default_unit_ns` (e.g. 1000000 for milliseconds).  Advances *p.
 * Returns 0, or -1 on a malformed or absurd (> 1 day) duration. */
static EX_UNUSED int ex_parse_duration(const char **p, uint64_t default_unit_ns,
                                       uint64_t *ns) {
    const char *s = ex_skip_space(*p);
    uint64_t whole, frac = 0, frac_div = 1, unit = default_unit_ns;
    if (ex_parse_u64(&s, &whole) != 0)
        return -1;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return -1;
        while (*s >= '0' && *s <= '9') {
            if (frac_div < 1000000000u) {
                frac = frac * 10 + (uint64_t)(*s - '0');
                frac_div *= 10;
            }
            s++;
        }
    }
    if (s[0] == 'n' && s[1] == 's') {
        unit = 1, s += 2;
    } else if (s[0] == 'u' && s[1] == 's') {
        unit = 1000, s += 2;
    } else if (s[0] == 'm' && s[1] == 's') {
        unit = 1000000, s += 2;
    } else if (s[0] == 's') {
        unit = 1000000000, s += 1;
    }
    if (whole > 86400ull * 1000000000u / unit)
        return -1;
    *ns = whole * unit + frac * unit / frac_div;
    *p = s;
    return 0;
}

/* True when only blanks are left. */
static EX_UNUSED int ex_at_end(const char *p) { return *ex_skip_space(p) == 0; }

/* CLOCK_MONOTONIC in ns, for plugin threads (the host's now_ns agrees). */
static EX_UNUSED uint64_t ex_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* EXAMPLE_UTIL_H */
