//go:build (linux || darwin) && (amd64 || arm64)

package ccall

import "unsafe"

// trampolineABI0 is the address of awake_ccall6 (asm_*.s).
var trampolineABI0 uintptr

func call(f *frame) {
	runtime_cgocall(trampolineABI0, unsafe.Pointer(f))
}
