/*
 * plugin_renamed.c -- AWAKE_PLUGIN_DEFINE with an exports array and a host
 * variable that are not named `exports` and `host`.  The macro's arguments
 * are names the plugin chooses; any valid identifier must work.
 */
#include "awake.h"

static const awake_host *the_host;

static int32_t make_nothing(const uint8_t *args, size_t args_len,
                            awake_future *out, awake_error **err) {
    (void)args;
    (void)args_len;
    (void)out;
    (void)err;
    return AWAKE_E_INVALID;
}

static const awake_export timer_exports[] = {
    {sizeof(awake_export), 0, "nothing", NULL, make_nothing},
};

AWAKE_PLUGIN_DEFINE("renamed", "1.0.0", timer_exports, the_host)
