/*
 * badplugin.c -- plugins that a host must refuse to load, one per macro.
 *
 * Compile one variant at a time:
 *   cc -std=c11 -shared -fPIC -I include -DBAD_MAJOR -o bad_major.so badplugin.c
 *
 *   BAD_MAJOR        descriptor says ABI major 99            (AWAKE_E_VERSION)
 *   BAD_CANARY       descriptor has a wrong endian canary    (AWAKE_E_CANARY)
 *   DUP_EXPORT       two exports named "twice"               (AWAKE_E_INVALID)
 *   NULL_MAKE        an export with no make function         (AWAKE_E_INVALID)
 *   ENTRY_REFUSES    entry point returns AWAKE_E_VERSION     (AWAKE_E_VERSION)
 *   NO_ENTRY         no awake_plugin_entry symbol at all     (AWAKE_E_SYSTEM
 *                    in the C reference executor)
 * With no macro it is a valid plugin with one export "ok" (a future that
 * is READY at once with no output), the control case.
 */
#include "awake.h"

static int32_t ok_poll(void *self, awake_context *cx, void *out,
                       awake_error **err) {
    (void)self, (void)cx, (void)out, (void)err;
    return AWAKE_READY;
}
static void ok_drop(void *self) { (void)self; }

static const awake_future_vtable ok_vtable = {
    sizeof(awake_future_vtable), AWAKE_FUTURE_SEND, 0, 1, ok_poll, ok_drop,
    NULL};

static int32_t make_ok(const uint8_t *args, size_t len, awake_future *out,
                       awake_error **err) {
    (void)args, (void)len, (void)err;
    out->self = NULL;
    out->vtable = &ok_vtable;
    return AWAKE_OK;
}

#if defined(NO_ENTRY)
/* A shared library that is not a plugin. */
AWAKE_EXPORT int badplugin_not_a_plugin(void);
AWAKE_EXPORT int badplugin_not_a_plugin(void) { return (int)sizeof ok_vtable; }
int32_t badplugin_keep(void);
int32_t badplugin_keep(void) {
    awake_future f;
    return make_ok(NULL, 0, &f, NULL);
}
#else

static const awake_export exports[] __attribute__((unused)) = {
    {sizeof(awake_export), 0, "ok", "-> READY, no output", make_ok},
#if defined(DUP_EXPORT)
    {sizeof(awake_export), 0, "ok", "the same name again", make_ok},
#endif
#if defined(NULL_MAKE)
    {sizeof(awake_export), 0, "nomake", "no make function", NULL},
#endif
};

AWAKE_EXPORT int32_t awake_plugin_entry(const awake_entry_args *args,
                                        const awake_plugin **out);
AWAKE_EXPORT int32_t awake_plugin_entry(const awake_entry_args *args,
                                        const awake_plugin **out) {
    int32_t rc = awake_check_entry_args(args);
    if (rc != AWAKE_OK)
        return rc;
#if defined(ENTRY_REFUSES)
    (void)out;
    return AWAKE_E_VERSION;
#else
    static awake_plugin desc;
    desc.size = sizeof(awake_plugin);
    desc.abi_major = AWAKE_ABI_MAJOR;
    desc.abi_minor = AWAKE_ABI_MINOR;
    desc.pointer_size = sizeof(void *);
    desc.endian = AWAKE_ENDIAN_CANARY;
#if defined(BAD_MAJOR)
    desc.abi_major = 99;
#endif
#if defined(BAD_CANARY)
    desc.endian = 0x04030201u;
#endif
    desc.name = "badplugin";
    desc.version = "0.0.1";
    desc.export_count = (uint32_t)(sizeof exports / sizeof exports[0]);
    desc.reserved = 0;
    desc.exports = exports;
    *out = &desc;
    return AWAKE_OK;
#endif
}
#endif
