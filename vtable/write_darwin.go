package vtable

import "github.com/ebitengine/purego"

// libcWrite returns the address of libc's write, which the assembly
// tail-calls: darwin's raw syscall numbers are not a stable ABI.
func libcWrite() uintptr {
	lib, err := purego.Dlopen("/usr/lib/libSystem.B.dylib", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return 0
	}
	sym, err := purego.Dlsym(lib, "write")
	if err != nil {
		return 0
	}
	return sym
}
