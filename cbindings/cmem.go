package cbindings

import (
	"unsafe"

	"github.com/awake-rt/awake/internal/cmem"
)

// cptr, aligned: see package internal/cmem.
func cptr(a uintptr) unsafe.Pointer { return cmem.Ptr(a) }

func aligned(a, align uintptr) bool { return cmem.Aligned(a, align) }

// cstring copies the NUL-terminated string at p (at most max bytes) and
// reports false if no NUL came within them, so a garbage pointer to
// non-terminated memory is refused instead of scanned forever. p must not be 0.
func cstring(p uintptr, max int) (string, bool) {
	s, ok := cmem.CString(p, max)
	if !ok {
		return "", false
	}
	return s, true
}
