package cbindings

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/executor"
)

// Option changes how Open loads a plugin.
type Option func(*options)

type options struct {
	maxExports    int
	keepLoaded    bool
	allowInsecure bool // skip checkTrust (see AllowInsecure in perm.go)
}

// WithMaxExports refuses a descriptor with more than n exports (default
// 65536). The limit exists so that an uninitialised descriptor cannot make
// the host read megabytes of garbage.
func WithMaxExports(n int) Option { return func(o *options) { o.maxExports = n } }

// KeepLoaded makes Close never dlclose the library, even if no future was
// made from it. Use it for plugins whose entry starts threads or registers
// thread-local destructors, which must not outlive their code.
func KeepLoaded() Option { return func(o *options) { o.keepLoaded = true } }

// Open loads the plugin at path, negotiates the ABI with its entry symbol
// (abi.EntrySymbol), and validates and copies its descriptor.
//
// path must name a file: a bare name such as "libfoo.so" is refused, because
// dlopen would search LD_LIBRARY_PATH and the system directories for it; pass
// "./libfoo.so" or an absolute path. The library is opened with
// RTLD_NOW|RTLD_LOCAL, so unresolved symbols fail here rather than at the
// first call, and its symbols do not leak into other plugins.
//
// A file that another user could have changed (world-writable, owned by a
// non-root user other than this process's, or in a world-writable directory
// without the sticky bit) is refused with ErrInsecure unless AllowInsecure is
// given; see checkTrust.
//
// Every failure is a *LoadError; use errors.Is with its Kind (ErrFileMissing,
// ErrDlopen, ErrABIMajor, ...). On failure nothing stays loaded.
func Open(path string, opts ...Option) (*Library, error) {
	o := options{maxExports: defaultMaxExports}
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkFile(path); err != nil {
		return nil, err
	}
	if !o.allowInsecure {
		if err := checkTrust(path); err != nil {
			return nil, err
		}
	}
	handle, err := dlopen(path)
	if err != nil {
		return nil, err
	}
	lib, err := negotiate(path, handle, o)
	if err != nil {
		// Nothing was made from the library: unloading it is safe. The
		// negotiation error is the one worth reporting.
		_ = purego.Dlclose(handle)
		return nil, err
	}
	return lib, nil
}

// checkFile tells a missing or unreadable file apart from the loader's
// complaints, which are worded differently by every libc.
func checkFile(path string) error {
	if path == "" || !strings.ContainsRune(path, '/') {
		return &LoadError{Path: path, Kind: ErrPath,
			Detail: fmt.Sprintf("%q has no slash, so dlopen would search LD_LIBRARY_PATH and the system directories for it; pass a path such as ./%s or an absolute path", path, path)}
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		wd, _ := os.Getwd()
		return &LoadError{Path: path, Kind: ErrFileMissing, Err: err,
			Detail: fmt.Sprintf("no such file (check the path; relative paths start from the working directory %s)", wd)}
	}
	if err != nil {
		return &LoadError{Path: path, Kind: ErrFileUnreadable, Err: err,
			Detail: fmt.Sprintf("%v (check the permissions of the file and its directories)", err)}
	}
	if st.IsDir() {
		return &LoadError{Path: path, Kind: ErrFileUnreadable,
			Detail: "it is a directory (pass the path of the shared library inside it)"}
	}
	f, err := os.Open(path)
	if err != nil {
		return &LoadError{Path: path, Kind: ErrFileUnreadable, Err: err,
			Detail: fmt.Sprintf("%v (make the file readable by this process)", err)}
	}
	_ = f.Close()
	return nil
}

// dlopen loads path with RTLD_NOW|RTLD_LOCAL. The goroutine stays on one OS
// thread between dlopen and purego's dlerror call: dlerror's message is
// thread-local, and a migration in between would lose it.
func dlopen(path string) (uintptr, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return 0, &LoadError{Path: path, Kind: ErrDlopen, Err: err,
			Detail: loaderMessage(err) + " (is it a shared library built for " + runtime.GOOS + "/" + runtime.GOARCH + ", with its dependencies installed?)"}
	}
	return h, nil
}

// loaderMessage is the text of a purego.Dlerror, or a placeholder when the
// loader gave none.
func loaderMessage(err error) string {
	if s := err.Error(); s != "" {
		return s
	}
	return "the loader gave no message"
}

// entryMu keeps entry calls apart from each other and from make calls, as
// awake.h promises plugins ("never concurrently with the plugin's entry"):
// opening a file that is already loaded returns the same dlopen handle, so a
// second Open runs the entry of a library whose exports may be in use, and
// AWAKE_PLUGIN_DEFINE's entry rewrites a static descriptor. The entry and
// the descriptor copy hold it exclusively; MakeFuture holds it shared, and
// so do executor workers while they run make calls (it is the executor's
// MakeMu).
var entryMu = &executor.MakeMu

// negotiate calls the entry symbol and builds the Library from its
// descriptor.
func negotiate(path string, handle uintptr, o options) (*Library, error) {
	entry, err := dlsym(handle, abi.EntrySymbol)
	if err != nil {
		return nil, &LoadError{Path: path, Symbol: abi.EntrySymbol, Kind: ErrEntryMissing, Err: err,
			Detail: loaderMessage(err) + " (define the entry with AWAKE_PLUGIN_DEFINE and export it with default visibility)"}
	}
	host := hostTable()
	args := &abi.EntryArgs{
		Size:        uint32(unsafe.Sizeof(abi.EntryArgs{})),
		AbiMajor:    abi.Major,
		AbiMinor:    abi.Minor,
		PointerSize: abi.PointerSize,
		Endian:      abi.EndianCanary,
		Host:        host,
	}
	var out uintptr // const awake_plugin *, written by the plugin
	// SyscallN is go:uintptrescapes, which keeps args and out alive and in
	// place for the call; the pin states the requirement explicitly.
	var pin runtime.Pinner
	pin.Pin(args)
	entryMu.Lock()
	defer entryMu.Unlock()
	r1, _, _ := purego.SyscallN(entry, uintptr(unsafe.Pointer(args)), uintptr(unsafe.Pointer(&out)))
	pin.Unpin()
	rc := int32(uint32(r1))
	switch {
	case rc == abi.EVersion:
		return nil, &LoadError{Path: path, Symbol: abi.EntrySymbol, Kind: ErrABIMajor, Code: rc,
			Detail: fmt.Sprintf("the plugin refused host ABI %d.%d (its entry returned %s); rebuild the plugin against this awake.h", abi.Major, abi.Minor, codeName(rc))}
	case rc == abi.ECanary:
		return nil, &LoadError{Path: path, Symbol: abi.EntrySymbol, Kind: ErrCanary, Code: rc,
			Detail: fmt.Sprintf("the plugin refused the host's %d-byte pointers or byte order (its entry returned %s); build the plugin for %s", abi.PointerSize, codeName(rc), runtime.GOARCH)}
	case rc != abi.OK:
		return nil, &LoadError{Path: path, Symbol: abi.EntrySymbol, Kind: ErrEntryFailed, Code: rc,
			Detail: fmt.Sprintf("the entry returned %s (see the plugin's documentation or log)", codeName(rc))}
	}
	d, err := readDescriptor(path, out, o.maxExports)
	if err != nil {
		return nil, err
	}
	lib := &Library{
		path:       path,
		handle:     handle,
		desc:       d,
		byName:     make(map[string]int, len(d.exports)),
		live:       make(map[abi.Future]int),
		keepLoaded: o.keepLoaded,
	}
	lib.taskNames = make([]string, len(d.exports))
	for i, e := range d.exports {
		lib.byName[e.Name] = i
		lib.taskNames[i] = d.name + "/" + e.Name
	}
	return lib, nil
}

// dlsym looks name up in handle, on one OS thread for the same reason as
// dlopen.
func dlsym(handle uintptr, name string) (uintptr, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return purego.Dlsym(handle, name)
}
