package cbindings

import (
	"fmt"
	"strings"
)

// Kind classifies a *LoadError. Every Kind is itself an error, so the
// constants below are the sentinels to use with errors.Is:
//
//	if errors.Is(err, cbindings.ErrABIMajor) { ... }
type Kind int

// The kinds of *LoadError.
const (
	ErrPath           Kind = iota + 1 // the path has no slash (a bare name dlopen would search for)
	ErrFileMissing                    // no file at the path
	ErrFileUnreadable                 // the file exists but cannot be opened for reading, or is a directory
	ErrDlopen                         // the dynamic loader refused the file
	ErrEntryMissing                   // the library does not export the entry symbol
	ErrEntryFailed                    // the entry returned a failure code other than VERSION or CANARY
	ErrABIMajor                       // the plugin and the host disagree on the ABI major version
	ErrABIMinor                       // the plugin was built for a newer ABI minor than the host serves
	ErrCanary                         // pointer size or byte order differ between plugin and host
	ErrDescriptor                     // the plugin's descriptor is NULL, too small or malformed
	ErrExport                         // an entry of the descriptor's export table is malformed
	ErrUnload                         // dlclose failed
	ErrClosed                         // the library was closed; no new futures
	ErrNoExport                       // the plugin has no export of that name
	ErrMake                           // an export's make function failed
	ErrBadFuture                      // make returned a future the host cannot safely use
	ErrNotLive                        // DropFuture of a future that is not live (double drop, or not from this library)
	ErrSymbolMissing                  // Library.Symbol found no such symbol
	ErrInsecure                       // another user could have changed the file (see AllowInsecure)
)

var kindText = map[Kind]string{
	ErrPath:           "not a path to a file",
	ErrFileMissing:    "file not found",
	ErrFileUnreadable: "file not readable",
	ErrDlopen:         "dlopen failed",
	ErrEntryMissing:   "entry symbol not found",
	ErrEntryFailed:    "entry point failed",
	ErrABIMajor:       "ABI major version mismatch",
	ErrABIMinor:       "ABI minor version too new",
	ErrCanary:         "pointer size or byte order mismatch",
	ErrDescriptor:     "invalid plugin descriptor",
	ErrExport:         "invalid export",
	ErrUnload:         "dlclose failed",
	ErrClosed:         "library closed",
	ErrNoExport:       "no such export",
	ErrMake:           "make failed",
	ErrBadFuture:      "invalid future",
	ErrNotLive:        "future not live",
	ErrSymbolMissing:  "symbol not found",
	ErrInsecure:       "plugin file not trusted",
}

// Error returns the kind's short description, so a Kind can be used as a
// sentinel error.
func (k Kind) Error() string {
	if s, ok := kindText[k]; ok {
		return s
	}
	return fmt.Sprintf("cbindings.Kind(%d)", int(k))
}

// LoadError is the one error type of this package: loading a plugin, making
// or dropping one of its futures, or closing it. Error() reads
//
//	awake: <op> <path>: symbol <symbol>: export "<export>": <kind>: <detail>
//
// (symbol and export only when known), for example
//
//	awake: load /p/libfoo.so: symbol awake_plugin_entry: ABI major version
//	mismatch: plugin built for 2.0, host speaks 1.0 (rebuild the plugin
//	against this awake.h)
//
// errors.Is(err, k) is true for its Kind k, and errors.Is/As also see the
// underlying error (an *fs.PathError, a purego.Dlerror) through Unwrap.
type LoadError struct {
	Path   string // the library's path as given to Open
	Symbol string // the C symbol involved (the entry symbol), or ""
	Export string // the export involved, or ""
	Kind   Kind   // what went wrong
	Code   int32  // the AWAKE_* code a plugin function returned, or 0
	Detail string // what exactly, and what to do about it
	Err    error  // the underlying error, or nil

	op string // "load", "make future", "drop future", "close"
}

// Error describes what happened, to which library, symbol and export, and
// what to do.
func (e *LoadError) Error() string {
	var b strings.Builder
	op := e.op
	if op == "" {
		op = "load"
	}
	b.WriteString("awake: ")
	b.WriteString(op)
	b.WriteString(" ")
	b.WriteString(e.Path)
	if e.Symbol != "" {
		b.WriteString(": symbol ")
		b.WriteString(e.Symbol)
	}
	if e.Export != "" {
		fmt.Fprintf(&b, ": export %q", e.Export)
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *LoadError) Unwrap() error { return e.Err }

// Is reports whether target is this error's Kind.
func (e *LoadError) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// codeName renders an AWAKE_* return code for messages: "AWAKE_E_VERSION (-5)".
func codeName(rc int32) string {
	names := map[int32]string{
		0: "AWAKE_OK", -1: "AWAKE_E_INVALID", -2: "AWAKE_E_NOMEM",
		-3: "AWAKE_E_CLOSED", -4: "AWAKE_E_SYSTEM", -5: "AWAKE_E_VERSION",
		-6: "AWAKE_E_CANARY", -7: "AWAKE_E_THREAD",
	}
	if n, ok := names[rc]; ok {
		return fmt.Sprintf("%s (%d)", n, rc)
	}
	return fmt.Sprintf("unknown code %d", rc)
}
