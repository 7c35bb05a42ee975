// Package cbindings is the Go side of the C boundary: it opens plugin shared
// libraries with purego (no cgo), negotiates the ABI through the plugin's
// entry symbol, validates and copies the plugin's descriptor, makes futures
// from the plugin's exports, and owns the host table (awake_host) handed to
// every plugin.
//
// Lifetime rule: a library stays loaded while any of its code can still run.
// Open, Library.MakeFuture, Library.DropFuture and Library.Close keep a count
// of live futures; Close unloads (dlclose) only a library from which no future
// was ever made, because a future's poll may have handed plugin-owned wakers
// (vtables inside the library) to the host's reactor or to other tasks, or
// started plugin threads, and the host cannot count those.
//
// This package must never use cgo, dlopen a bare library name (dlopen would
// search LD_LIBRARY_PATH), call a function pointer it has not checked for
// NULL, read a plugin struct past the size the plugin declared, or unload a
// library whose code may still run.
package cbindings
