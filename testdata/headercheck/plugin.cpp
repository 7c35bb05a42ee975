// plugin.cpp -- plugin.c compiled as C++11: AWAKE_PLUGIN_DEFINE must still
// export AWAKE_ENTRY_SYMBOL unmangled (C linkage), or the host cannot find it.
#include "plugin.c"
