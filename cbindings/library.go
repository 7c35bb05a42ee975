package cbindings

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/internal/ccall"
	"github.com/awake-rt/awake/internal/cmem"
)

// maxMessageLen caps how much of a plugin's error message is copied.
const maxMessageLen = 1 << 16

// Library is a loaded plugin: its descriptor, copied into Go memory, and the
// futures made from it that are still live.
//
// Lifetime: every future returned by MakeFuture must be released exactly
// once with DropFuture (which calls the future's drop), or, if the caller
// drops it through its vtable itself, not at all (it then only stays counted
// in Live). Close stops new futures. It unloads the library only if no future
// was ever made from it: once a make function ran, the plugin may have handed
// its own wakers to the host's reactor or to other tasks, spawned futures
// whose vtables live in the library, or started threads, and nothing counts
// those; unmapping the code under them would crash later, far from the cause.
// The cost is that a library that made a future stays mapped until the
// process exits. The methods are safe for concurrent use.
type Library struct {
	path       string
	desc       *descriptor
	byName     map[string]int
	taskNames  []string // "plugin/export" per export (task names)
	keepLoaded bool

	// makeOK is set once a make function was called and cleared by Close:
	// while it is set, a make needs no lock (made cannot change back, and a
	// make racing Close is one that started before it).
	makeOK atomic.Bool

	// Futures made untracked (spawned straight onto an executor) and
	// dropped: counters rather than mu, each on its own cache line, because
	// the spawning goroutine and the executor worker that drops them run
	// on different cores (see executor.Executor about cache lines).
	_         cacheLinePad
	uMade     atomic.Int64
	_         cacheLinePad
	uReleased atomic.Int64
	_         cacheLinePad

	mu     sync.Mutex
	handle uintptr            // 0 once unloaded
	closed bool               // no new futures
	made   bool               // a make function was called: never unload
	live   map[abi.Future]int // futures made and not yet dropped (a count: equal futures may coexist)
	nlive  int                // sum of live
}

// cacheLinePad keeps the fields around it on separate cache lines.
type cacheLinePad [64]byte

// Path returns the path the library was opened from.
func (l *Library) Path() string { return l.path }

// Name returns the plugin's name from its descriptor.
func (l *Library) Name() string { return l.desc.name }

// Version returns the plugin's free-form version string.
func (l *Library) Version() string { return l.desc.version }

// AbiMinor returns the ABI minor version the plugin was built for (at most
// abi.Minor).
func (l *Library) AbiMinor() uint16 { return l.desc.abiMinor }

// Exports returns the plugin's exports in descriptor order (a copy).
func (l *Library) Exports() []ExportInfo {
	return append([]ExportInfo(nil), l.desc.exports...)
}

// Export looks up an export by name.
func (l *Library) Export(name string) (ExportInfo, bool) {
	i, ok := l.byName[name]
	if !ok {
		return ExportInfo{}, false
	}
	return l.desc.exports[i], true
}

// Live returns how many futures made from this library have not been
// dropped through DropFuture.
func (l *Library) Live() int {
	l.mu.Lock()
	n := l.nlive
	l.mu.Unlock()
	// Released before made: a future counted as released was made before.
	rel := l.uReleased.Load()
	return n + int(l.uMade.Load()-rel)
}

// MakeFuture calls the make function of export name with a copy-free view of
// args (the plugin must copy what it keeps) and returns the future it made.
// The future is live until DropFuture. A failing make is reported as a
// *LoadError of kind ErrMake carrying the plugin's code and message; a future
// the host could not safely poll or drop (NULL vtable, vtable too small, NULL
// poll or drop, bad output alignment) is ErrBadFuture, and is leaked rather
// than passed to functions that may be garbage.
func (l *Library) MakeFuture(name string, args []byte) (abi.Future, error) {
	f, _, err := l.makeFuture(name, args, true)
	return f, err
}

// makeFuture is MakeFuture; track=false counts the future in Live without
// remembering it (for futures the executor owns and drops exactly once
// itself: a map entry per pending task is memory the executor does not
// need). It also returns the export's index.
func (l *Library) makeFuture(name string, args []byte, track bool) (abi.Future, int, error) {
	i, err := l.beginMake(name)
	if err != nil {
		return abi.Future{}, 0, err
	}

	// The frame and the out-words live in a pooled heap block: the plugin
	// writes out and errp, and a pooled block costs no allocation per call.
	mc := makeCalls.Get().(*makeCall)
	mc.out, mc.errp = [2]uintptr{}, 0
	var argp unsafe.Pointer
	var pin runtime.Pinner
	if len(args) > 0 {
		argp = unsafe.Pointer(&args[0])
		pin.Pin(argp)
	}
	entryMu.RLock()
	r1 := mc.fr.Call4(l.desc.makes[i], uintptr(argp), uintptr(len(args)),
		uintptr(unsafe.Pointer(&mc.out)), uintptr(unsafe.Pointer(&mc.errp)))
	entryMu.RUnlock()
	pin.Unpin()
	runtime.KeepAlive(args)
	out, errp := mc.out, mc.errp
	makeCalls.Put(mc)
	f, err := l.checkMade(name, int32(uint32(r1)), out[0], out[1], errp)
	if err != nil {
		return abi.Future{}, 0, err
	}
	if !track {
		l.uMade.Add(1)
		return f, i, nil
	}
	l.mu.Lock()
	l.live[f]++
	l.nlive++
	l.mu.Unlock()
	return f, i, nil
}

// beginMake returns the index of export name, or why no future can be made
// from it, and marks the library as one that made futures (never unloaded).
func (l *Library) beginMake(name string) (int, error) {
	i, ok := l.byName[name] // byName never changes after Open
	if !l.makeOK.Load() {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return 0, l.errorf("make future", ErrClosed, name, 0, "Close was called; open the library again to make new futures")
		}
		if ok {
			l.made = true
			l.makeOK.Store(true)
		}
		l.mu.Unlock()
	}
	if !ok {
		return 0, l.errorf("make future", ErrNoExport, name, 0, "plugin %q exports %s", l.desc.name, l.exportList())
	}
	return i, nil
}

// checkMade turns what export name's make function returned (rc) and wrote
// (the future's self and vtable, an error object) into a future or an
// error: a failing make is ErrMake with the plugin's code and message, a
// future the host could not safely poll or drop is ErrBadFuture (leaked,
// not dropped).
func (l *Library) checkMade(name string, rc int32, self, vt, errp uintptr) (abi.Future, error) {
	if rc != abi.OK {
		detail := fmt.Sprintf("plugin %q returned %s", l.desc.name, codeName(rc))
		if rc > 0 {
			detail = fmt.Sprintf("plugin %q returned %d, which is neither AWAKE_OK nor a negative AWAKE_E_* code", l.desc.name, rc)
		}
		if errp != 0 {
			detail += ": " + takeError(errp)
		} else {
			detail += " with no error object"
		}
		return abi.Future{}, l.errorf("make future", ErrMake, name, rc, "%s", detail)
	}
	if errp != 0 {
		// Success with an error object is a plugin bug; the object is ours
		// to release all the same.
		takeError(errp)
	}
	if problem := checkFuture(vt); problem != "" {
		return abi.Future{}, l.errorf("make future", ErrBadFuture, name, 0,
			"plugin %q returned AWAKE_OK with a future whose %s (the future is leaked, not dropped)", l.desc.name, problem)
	}
	return abi.Future{Self: self, Vtable: (*abi.FutureVtable)(cptr(vt))}, nil
}

// makeCall is the heap block of one make call: its C call frame and the
// words the plugin writes.
type makeCall struct {
	fr   ccall.Frame
	out  [2]uintptr // awake_future: self, vtable
	errp uintptr    // awake_error *
}

var makeCalls = sync.Pool{New: func() any { return new(makeCall) }}

// dropFrames are C call frames for untracked drops.
var dropFrames = sync.Pool{New: func() any { return new(ccall.Frame) }}

// DropFuture releases a live future made by MakeFuture: it calls the
// future's drop and stops counting it. Dropping a future that is not live
// (already dropped, or not made by this library) returns ErrNotLive and calls
// nothing.
func (l *Library) DropFuture(f abi.Future) error {
	l.mu.Lock()
	if l.live[f] == 0 {
		l.mu.Unlock()
		return l.errorf("drop future", ErrNotLive, "", 0,
			"future {self %#x, vtable %p} was already dropped or was not made by plugin %q", f.Self, f.Vtable, l.desc.name)
	}
	if l.live[f]--; l.live[f] == 0 {
		delete(l.live, f)
	}
	l.nlive--
	l.mu.Unlock()
	ccall.Call1(f.Vtable.Drop, f.Self)
	return nil
}

// Close stops the library from making new futures. It unloads the library
// (dlclose) only if no future was ever made from it and KeepLoaded was not
// given; see Library for why. Closing twice is harmless.
func (l *Library) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.makeOK.Store(false)
	if l.made || l.keepLoaded || l.handle == 0 {
		return nil
	}
	h := l.handle
	l.handle = 0
	if err := purego.Dlclose(h); err != nil {
		return &LoadError{Path: l.path, Kind: ErrUnload, Err: err, op: "close",
			Detail: loaderMessage(err) + " (the library may stay mapped)"}
	}
	return nil
}

// errorf builds a *LoadError about export of this library.
func (l *Library) errorf(op string, kind Kind, export string, code int32, format string, args ...any) error {
	return &LoadError{Path: l.path, Export: export, Kind: kind, Code: code, op: op,
		Detail: fmt.Sprintf(format, args...)}
}

// exportList renders the export names for an ErrNoExport message.
func (l *Library) exportList() string {
	if len(l.desc.exports) == 0 {
		return "nothing"
	}
	names := make([]string, len(l.desc.exports))
	for i, e := range l.desc.exports {
		names[i] = fmt.Sprintf("%q", e.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// checkFuture returns "" if the future vtable at vt can be polled and
// dropped, else what is wrong with it.
func checkFuture(vt uintptr) string {
	need := uint32(unsafe.Sizeof(abi.FutureVtable{}))
	switch {
	case vt == 0:
		return "vtable is NULL"
	case !aligned(vt, unsafe.Alignof(abi.FutureVtable{})):
		return fmt.Sprintf("vtable address %#x is not aligned to %d bytes", vt, unsafe.Alignof(abi.FutureVtable{}))
	}
	v := (*abi.FutureVtable)(cptr(vt))
	switch {
	case v.Size < need:
		return fmt.Sprintf("vtable size %d < %d (set size = sizeof(awake_future_vtable))", v.Size, need)
	case v.Poll == 0:
		return "vtable has a NULL poll"
	case v.Drop == 0:
		return "vtable has a NULL drop"
	case v.OutputSize > 0 && (v.OutputAlign == 0 || v.OutputAlign&(v.OutputAlign-1) != 0):
		return fmt.Sprintf("output_align %d is not a power of two", v.OutputAlign)
	}
	return ""
}

// takeError copies the code and message of an owned awake_error at p, calls
// its drop, and returns a description for an error message. An error object
// too small to hold the fields read is described and leaked.
func takeError(p uintptr) string {
	e, problem := cmem.TakeError(p, maxMessageLen)
	if problem != "" {
		return "(" + problem + ")"
	}
	msg := "(no message)"
	switch {
	case e.HasMessage && e.Terminated:
		msg = e.Message
	case e.HasMessage:
		msg = fmt.Sprintf("(message not NUL-terminated within %d bytes)", maxMessageLen)
	}
	desc := fmt.Sprintf("error code %d: %s", e.Code, msg)
	if !e.Dropped {
		desc += " (error object has no drop; leaked)"
	}
	return desc
}

// Symbol looks up another exported symbol of the library (for example a
// plugin's own counters or test hooks, called with purego.SyscallN).
func (l *Library) Symbol(name string) (uintptr, error) {
	l.mu.Lock()
	h := l.handle
	l.mu.Unlock()
	if h == 0 {
		return 0, l.errorf("look up symbol", ErrClosed, "", 0, "the library was unloaded; open it again")
	}
	p, err := dlsym(h, name)
	if err != nil {
		return 0, &LoadError{Path: l.path, Symbol: name, Kind: ErrSymbolMissing, Detail: "the library does not export it: " + loaderMessage(err), Err: err}
	}
	return p, nil
}

// untracked is the owner of futures made with track=false and of those
// the executor makes itself (Spawn): it keeps Live's count, without the
// double-drop bookkeeping (the executor drops each exactly once).
type untracked Library

// MakeFn returns export i's make function (executor.Maker).
func (u *untracked) MakeFn(i int) uintptr { return u.desc.makes[i] }

// Made checks what export i's make function returned on an executor worker
// (executor.Maker). Spawn counted the future as live already; a make that
// failed stops counting it.
func (u *untracked) Made(i int, rc int32, self, vt, errp uintptr) (abi.Future, error) {
	l := (*Library)(u)
	f, err := l.checkMade(l.desc.exports[i].Name, rc, self, vt, errp)
	if err != nil {
		l.uReleased.Add(1)
	}
	return f, err
}

// Dropped stops counting n futures the executor dropped itself
// (executor.DropCounter).
func (u *untracked) Dropped(n int) { u.uReleased.Add(int64(n)) }

// DropFuture calls f's drop and stops counting it.
func (u *untracked) DropFuture(f abi.Future) error {
	u.uReleased.Add(1)
	fr := dropFrames.Get().(*ccall.Frame)
	fr.Call1(f.Vtable.Drop, f.Self)
	dropFrames.Put(fr)
	return nil
}
