// Package ccall calls C functions from Go the way cgo does, without cgo:
// through runtime.cgocall (pulled in with go:linkname, as purego does) and a
// small assembly trampoline with the C calling convention. It exists because
// purego.SyscallN, general as it is (floats, struct returns, a pooled
// argument block), costs several times more per call on the executor's hot
// paths (poll, drop).
//
// It must only be used for C functions taking up to six integer or pointer
// arguments and returning up to two integer words; it must never be called
// with a Go function pointer.
package ccall

import "unsafe"

// frame is the block the trampoline reads its target and arguments from and
// writes the two result registers to.
type frame struct {
	fn     uintptr
	a      [6]uintptr
	r0, r1 uintptr
}

// The frame is deliberately not noescape: it must live on the heap. A C
// function may call back into Go (a purego callback), and the callback may
// grow and move this goroutine's stack, while the trampoline still holds the
// frame's address to store the results (cgo solves the same problem with
// _cgo_topofstack; purego with pooled heap blocks).
//
//go:linkname runtime_cgocall runtime.cgocall
func runtime_cgocall(fn uintptr, arg unsafe.Pointer) int32

// Arguments converted from unsafe.Pointer in the call expression
// (uintptr(unsafe.Pointer(&x))) keep their object alive and in place for the
// call (go:uintptrescapes, as in purego.SyscallN).

// Call calls the C function fn with up to six arguments (missing ones are
// zero) and returns its two integer result registers (RAX, RDX on amd64;
// X0, X1 on arm64).
//
//go:uintptrescapes
func Call(fn uintptr, args ...uintptr) (r0, r1 uintptr) {
	f := &frame{fn: fn}
	copy(f.a[:], args)
	call(f)
	return f.r0, f.r1
}

// Call1 is Call with one argument, without the variadic slice.
//
//go:uintptrescapes
func Call1(fn, a0 uintptr) uintptr {
	f := &frame{fn: fn, a: [6]uintptr{a0}}
	call(f)
	return f.r0
}

// Call2 is Call with two arguments.
//
//go:uintptrescapes
func Call2(fn, a0, a1 uintptr) uintptr {
	f := &frame{fn: fn, a: [6]uintptr{a0, a1}}
	call(f)
	return f.r0
}

// Call4 is Call with four arguments.
//
//go:uintptrescapes
func Call4(fn, a0, a1, a2, a3 uintptr) uintptr {
	f := &frame{fn: fn, a: [6]uintptr{a0, a1, a2, a3}}
	call(f)
	return f.r0
}

// Frame is a call frame that the caller owns and reuses (for example from
// a sync.Pool), so that a call through it allocates nothing. It must stay
// on the heap for the reason given for frame; a Frame is never used by two
// calls at once.
type Frame struct{ f frame }

// Call4 is Call4 through fr.
func (fr *Frame) Call4(fn, a0, a1, a2, a3 uintptr) uintptr {
	fr.f = frame{fn: fn, a: [6]uintptr{a0, a1, a2, a3}}
	call(&fr.f)
	return fr.f.r0
}

// Call1 is Call1 through fr.
func (fr *Frame) Call1(fn, a0 uintptr) uintptr {
	fr.f = frame{fn: fn, a: [6]uintptr{a0}}
	call(&fr.f)
	return fr.f.r0
}
