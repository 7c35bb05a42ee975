// Package cmem reads memory that C owns (plugin data, objects plugins
// allocate, the host's mmap'd blocks) from Go: addresses to pointers,
// bounded C strings, owned awake_error objects. The executor and the loader
// both read these; this is the one place that does it.
//
// It must never read a struct past the size the struct declares, nor scan a
// string without a bound.
package cmem

import (
	"fmt"
	"unsafe"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/internal/ccall"
)

// Ptr turns the address of memory Go does not manage (C or mmap'd memory,
// which never moves) into an unsafe.Pointer. Going through a variable keeps
// go vet's unsafeptr check and checkptr's arithmetic check out of it.
// Callers check for NULL and alignment before dereferencing.
func Ptr(a uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&a)) }

// Aligned reports whether address a is a multiple of align (a power of two).
func Aligned(a, align uintptr) bool { return a&(align-1) == 0 }

// CString copies the NUL-terminated string at p, reading at most max bytes.
// terminated is false when no NUL came within them; s then holds the max
// bytes read. p must not be 0.
func CString(p uintptr, max int) (s string, terminated bool) {
	n := 0
	for n < max && *(*byte)(Ptr(p + uintptr(n))) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(Ptr(p)), n)), n < max
}

// Error is what TakeError read from an awake_error.
type Error struct {
	Code       int32
	Message    string // "" when the message pointer is NULL
	HasMessage bool
	Terminated bool // the message ended with a NUL within the bound
	Dropped    bool // its drop was called (false: the object is leaked)
}

// TakeError reads the owned awake_error at p (not 0), copying its message
// (at most maxMsg bytes), then releases it through its drop. An object that
// is misaligned or declares a size smaller than awake_error is not read
// past its size field: problem says why, and the object is leaked.
func TakeError(p uintptr, maxMsg int) (e Error, problem string) {
	if !Aligned(p, unsafe.Alignof(abi.ErrorObj{})) {
		return e, fmt.Sprintf("error object at %#x is misaligned; leaked", p)
	}
	need := uint32(unsafe.Sizeof(abi.ErrorObj{}))
	if size := *(*uint32)(Ptr(p)); size < need {
		return e, fmt.Sprintf("error object size %d < %d; leaked", size, need)
	}
	obj := (*abi.ErrorObj)(Ptr(p))
	e.Code = obj.Code
	if obj.Message != nil {
		e.HasMessage = true
		e.Message, e.Terminated = CString(uintptr(unsafe.Pointer(obj.Message)), maxMsg)
	}
	if obj.Drop != 0 {
		ccall.Call1(obj.Drop, p)
		e.Dropped = true
	}
	return e, ""
}
