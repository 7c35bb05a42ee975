// Package abi is the Go mirror of include/awake.h: the structs, constants and
// status codes shared with C, laid out exactly as a C compiler lays them out
// (layout_test.go proves it against the system C compiler).
//
// It holds data definitions only. It must never call into C, allocate C
// memory or import anything beyond the standard library: every other awake
// package depends on it.
package abi

import "unsafe"

// ABI versions (AWAKE_ABI_MAJOR, AWAKE_ABI_MINOR).
const (
	Major = 1 // a host and a plugin must agree on it exactly
	Minor = 0 // the feature level this host serves
)

// EntrySymbol is the one symbol a plugin exports (AWAKE_ENTRY_SYMBOL).
const EntrySymbol = "awake_plugin_entry"

// EndianCanary is AWAKE_ENDIAN_CANARY, stored natively by both sides.
const EndianCanary uint32 = 0x01020304

// Poll statuses returned by awake_future_vtable.poll.
const (
	Pending   int32 = 0 // AWAKE_PENDING
	Ready     int32 = 1 // AWAKE_READY
	Error     int32 = 2 // AWAKE_ERROR
	Cancelled int32 = 3 // AWAKE_CANCELLED
	Misuse    int32 = 4 // AWAKE_MISUSE
)

// Return codes of host functions, entry points and constructors.
const (
	OK       int32 = 0  // AWAKE_OK
	EInvalid int32 = -1 // AWAKE_E_INVALID
	ENoMem   int32 = -2 // AWAKE_E_NOMEM
	EClosed  int32 = -3 // AWAKE_E_CLOSED
	ESystem  int32 = -4 // AWAKE_E_SYSTEM
	EVersion int32 = -5 // AWAKE_E_VERSION
	ECanary  int32 = -6 // AWAKE_E_CANARY
	EThread  int32 = -7 // AWAKE_E_THREAD
)

// Log levels (AWAKE_LOG_*), numerically equal to log/slog's levels.
const (
	LogDebug int32 = -4
	LogInfo  int32 = 0
	LogWarn  int32 = 4
	LogError int32 = 8
)

// Event state bits (AWAKE_EVENT_*); see Event.
const (
	EventReady       uint64 = 1
	EventRegistering uint64 = 2
	EventWaking      uint64 = 4
	EventTickShift          = 8
)

// IO interest bits (AWAKE_IO_*).
const (
	IORead  uint32 = 1
	IOWrite uint32 = 2
)

// Future vtable flags (AWAKE_FUTURE_*).
const (
	FutureSend        uint32 = 1 // may be polled from any OS thread
	FutureOutputBytes uint32 = 2 // output is a Bytes
)

// Waker is awake_waker: a data word and a vtable pointer, passed by value.
type Waker struct {
	Data   uintptr
	Vtable *WakerVtable
}

// WakerVtable is awake_waker_vtable. The four function fields are C function
// pointers.
type WakerVtable struct {
	Size      uint32
	Flags     uint32
	Clone     uintptr // awake_waker (*)(const void *)
	Wake      uintptr // void (*)(const void *)
	WakeByRef uintptr // void (*)(const void *)
	Drop      uintptr // void (*)(const void *)
}

// Event is awake_event: readiness plus a parked waker, in host memory.
type Event struct {
	State uint64
	Waker Waker
}

// Timer is awake_timer.
type Timer struct {
	Event      Event
	DeadlineNs uint64
	Reserved   uint64
}

// IO is awake_io.
type IO struct {
	Read     Event
	Write    Event
	Fd       int32
	Interest uint32
	Reserved uint64
}

// ErrorObj is awake_error, an owned error with a C message.
type ErrorObj struct {
	Size    uint32
	Code    int32
	Message *byte   // NUL-terminated
	Drop    uintptr // void (*)(awake_error *)
}

// Bytes is awake_bytes, the output of a FutureOutputBytes future.
type Bytes struct {
	Data *byte
	Len  uintptr
	Drop uintptr // void (*)(const uint8_t *, size_t), may be 0
}

// Context is awake_context, borrowed by a future for one poll.
type Context struct {
	Size     uint32
	Flags    uint32
	Waker    Waker
	Host     *Host
	HostData uintptr
}

// FutureVtable is awake_future_vtable.
type FutureVtable struct {
	Size        uint32
	Flags       uint32
	OutputSize  uint32
	OutputAlign uint32
	Poll        uintptr // int32_t (*)(void *, awake_context *, void *, awake_error **)
	Drop        uintptr // void (*)(void *)
	Cancel      uintptr // int32_t (*)(void *), may be 0
}

// Future is awake_future: an object and its vtable, passed by value.
type Future struct {
	Self   uintptr
	Vtable *FutureVtable
}

// Host is awake_host, the table of services a host offers.
type Host struct {
	Size       uint32
	AbiMajor   uint16
	AbiMinor   uint16
	HostData   uintptr
	NowNs      uintptr
	TimerOpen  uintptr
	TimerReset uintptr
	TimerClose uintptr
	IOOpen     uintptr
	IOClose    uintptr
	Spawn      uintptr
	Log        uintptr
	Call       uintptr
}

// Export is awake_export.
type Export struct {
	Size  uint32
	Flags uint32
	Name  *byte
	Doc   *byte
	Make  uintptr // awake_make_fn
}

// Plugin is awake_plugin, a plugin's descriptor.
type Plugin struct {
	Size        uint32
	AbiMajor    uint16
	AbiMinor    uint16
	PointerSize uint32
	Endian      uint32
	Name        *byte
	Version     *byte
	ExportCount uint32
	Reserved    uint32
	Exports     *Export
}

// EntryArgs is awake_entry_args, what the host tells a plugin at load.
type EntryArgs struct {
	Size        uint32
	AbiMajor    uint16
	AbiMinor    uint16
	PointerSize uint32
	Endian      uint32
	Host        *Host
}

// PointerSize is sizeof(void *) on this platform, for the canary check.
const PointerSize = uint32(unsafe.Sizeof(uintptr(0)))
