//go:build !((linux || darwin) && (amd64 || arm64))

package ccall

import "github.com/ebitengine/purego"

func call(f *frame) {
	f.r0, f.r1, _ = purego.SyscallN(f.fn, f.a[:]...)
}
