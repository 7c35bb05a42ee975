/*
 * drops.c -- release functions for the executor's fuzz tests
 * (executor/foreign_fuzz_test.go): an awake_bytes drop and an awake_error
 * drop that record how they were called, so the test can check that the
 * host releases every output and error exactly once, with the pointer and
 * length it was given.  Not a plugin: plain exported functions, loaded with
 * dlopen by the test.
 *
 *   cc -std=c11 -shared -fPIC -I include -o drops.so drops.c
 */
#include <stddef.h>
#include <stdint.h>

#include "awake.h"

static uint64_t calls;
static uintptr_t last_ptr;
static uint64_t last_len;

AWAKE_EXPORT void fz_bytes_drop(const uint8_t *data, size_t len);
AWAKE_EXPORT void fz_error_drop(awake_error *err);
AWAKE_EXPORT uint64_t fz_calls(void);
AWAKE_EXPORT uintptr_t fz_last_ptr(void);
AWAKE_EXPORT uint64_t fz_last_len(void);
AWAKE_EXPORT void fz_reset(void);

AWAKE_EXPORT void fz_bytes_drop(const uint8_t *data, size_t len) {
    calls++;
    last_ptr = (uintptr_t)data;
    last_len = len;
}

AWAKE_EXPORT void fz_error_drop(awake_error *err) {
    calls++;
    last_ptr = (uintptr_t)err;
    last_len = 0;
}

AWAKE_EXPORT uint64_t fz_calls(void) { return calls; }
AWAKE_EXPORT uintptr_t fz_last_ptr(void) { return last_ptr; }
AWAKE_EXPORT uint64_t fz_last_len(void) { return last_len; }

AWAKE_EXPORT void fz_reset(void) {
    calls = 0;
    last_ptr = 0;
    last_len = 0;
}
