//go:build (linux || darwin) && (amd64 || arm64)

package vtable

// Addresses of the assembly entry points (set by DATA in asm_*.s).
var cloneABI0, wakeABI0, wakeByRefABI0, dropABI0 uintptr

const asmSupported = true
