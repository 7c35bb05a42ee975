//go:build !((linux || darwin) && (amd64 || arm64))

package vtable

var cloneABI0, wakeABI0, wakeByRefABI0, dropABI0 uintptr

// asmSupported is false: HostVtable and NewQueue report errUnsupported.
// A purego-callback vtable is no substitute here: purego callbacks cannot
// return the two-word awake_waker that clone must return, and on the
// platforms purego supports callbacks on, the assembly exists.
const asmSupported = false
