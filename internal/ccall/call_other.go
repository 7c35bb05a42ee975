//go:build !((linux || darwin) && (amd64 || arm64))

package ccall

import "github.com/ebitengine/purego"

func call(f *frame) {
	f.r0, f.r1, _ = purego.SyscallN(f.fn, f.a[:]...)
}

// runList makes l's calls one crossing each where there is no assembly.
func runList(_ *Frames, l *List) {
	for i := range l.n {
		e := l.entry(i)
		e.r0, _, _ = purego.SyscallN(e.fn, e.a[:]...)
	}
}
