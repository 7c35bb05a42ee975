//go:build (linux || darwin) && (amd64 || arm64)

package ccall

import "unsafe"

// trampolineABI0 is the address of awake_ccall6 (asm_*.s).
var trampolineABI0 uintptr

func call(f *frame) {
	runtime_cgocall(trampolineABI0, unsafe.Pointer(f))
}

// listABI0 is the address of awake_ccall_list (asm_*.s).
var listABI0 uintptr

// runList makes l's calls with one crossing: awake_ccall6 calls
// awake_ccall_list, which calls each entry.
func runList(fr *Frames, l *List) {
	fr.Call4(listABI0, l.base, uintptr(l.n), 0, 0)
}
