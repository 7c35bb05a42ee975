/*
 * bad.c -- a plugin whose entry and descriptor are assembled from macros, so
 * that the cbindings tests can build one broken plugin per defect with -D:
 *
 *   -DNO_ENTRY            no awake_plugin_entry symbol at all
 *   -DENTRY_RC=<code>     the entry returns <code> (without checking anything)
 *   -DNULL_DESCRIPTOR     the entry returns AWAKE_OK and a NULL descriptor
 *   -DDESC_SIZE=<n>       awake_plugin.size
 *   -DDESC_MAJOR=<n>      awake_plugin.abi_major
 *   -DDESC_MINOR=<n>      awake_plugin.abi_minor
 *   -DDESC_POINTER_SIZE=<n>, -DDESC_ENDIAN=<n>   the canaries
 *   -DDESC_NAME=<expr>, -DDESC_VERSION=<expr>    e.g. NULL or ""
 *   -DDESC_EXPORT_COUNT=<n>, -DDESC_EXPORTS=<expr>
 *   -DEXPORT_SIZE=<n>     awake_export.size of every export
 *   -DEXPORT_A_NAME=<expr>, -DEXPORT_B_NAME=<expr>, -DEXPORT_B_MAKE=<expr>
 *
 * Without any -D it is a valid plugin named "bad" with exports "a" and "b".
 * Unlike AWAKE_PLUGIN_DEFINE, the entry deliberately skips
 * awake_check_entry_args: the host must catch every defect by itself.
 */
#include "awake.h"

#ifndef ENTRY_RC
#define ENTRY_RC AWAKE_OK
#endif
#ifndef DESC_SIZE
#define DESC_SIZE sizeof(awake_plugin)
#endif
#ifndef DESC_MAJOR
#define DESC_MAJOR AWAKE_ABI_MAJOR
#endif
#ifndef DESC_MINOR
#define DESC_MINOR AWAKE_ABI_MINOR
#endif
#ifndef DESC_POINTER_SIZE
#define DESC_POINTER_SIZE sizeof(void *)
#endif
#ifndef DESC_ENDIAN
#define DESC_ENDIAN AWAKE_ENDIAN_CANARY
#endif
#ifndef DESC_NAME
#define DESC_NAME "bad"
#endif
#ifndef DESC_VERSION
#define DESC_VERSION "0.0.1"
#endif
#ifndef DESC_EXPORT_COUNT
#define DESC_EXPORT_COUNT 2
#endif
#ifndef DESC_EXPORTS
#define DESC_EXPORTS exports
#endif
#ifndef EXPORT_SIZE
#define EXPORT_SIZE sizeof(awake_export)
#endif
#ifndef EXPORT_A_NAME
#define EXPORT_A_NAME "a"
#endif
#ifndef EXPORT_B_NAME
#define EXPORT_B_NAME "b"
#endif
#ifndef EXPORT_B_MAKE
#define EXPORT_B_MAKE make_refuse
#endif

static int32_t make_refuse(const uint8_t *args, size_t args_len,
                           awake_future *out, awake_error **err) {
    (void)args;
    (void)args_len;
    (void)out;
    (void)err;
    return AWAKE_E_INVALID;
}

static const awake_export exports[] = {
    {EXPORT_SIZE, 0, EXPORT_A_NAME, "a doc", make_refuse},
    {EXPORT_SIZE, 0, EXPORT_B_NAME, NULL, EXPORT_B_MAKE},
};

/* Keeps `exports` referenced when -DDESC_EXPORTS replaces it. */
AWAKE_EXPORT const awake_export *bad_exports(void);
AWAKE_EXPORT const awake_export *bad_exports(void) { return exports; }

static const awake_plugin desc = {
    DESC_SIZE,         DESC_MAJOR,   DESC_MINOR,        DESC_POINTER_SIZE,
    DESC_ENDIAN,       DESC_NAME,    DESC_VERSION,      DESC_EXPORT_COUNT,
    0,                 DESC_EXPORTS,
};

#ifdef NO_ENTRY
AWAKE_EXPORT int32_t not_the_entry(const awake_plugin **out);
AWAKE_EXPORT int32_t not_the_entry(const awake_plugin **out) {
    *out = &desc;
    return AWAKE_OK;
}
#else
AWAKE_EXPORT int32_t awake_plugin_entry(const awake_entry_args *args,
                                        const awake_plugin **out);
AWAKE_EXPORT int32_t awake_plugin_entry(const awake_entry_args *args,
                                        const awake_plugin **out) {
    (void)args;
#ifdef NULL_DESCRIPTOR
    (void)desc;
    *out = NULL;
#else
    *out = &desc;
#endif
    return ENTRY_RC;
}
#endif
