package abi_test

// The correspondence between include/awake.h and package abi, written out
// once. The layout tests are driven by these tables:
// layout_test.go generates its C program from them, checks them against the
// header's text and against the Go declarations, so a struct, field or
// constant added on one side only fails a test.
//
// Naming: C names are snake_case and Go names roughly their CamelCase, but
// the table lists every pair explicitly (IO, Abi, ErrorObj... do not follow
// one rule), so nothing is derived by guesswork.

import (
	"reflect"

	"github.com/awake-rt/awake/abi"
)

// fieldName pairs a C struct member with the Go struct field mirroring it.
type fieldName struct {
	c, goName string
}

// structSpec pairs a C typedef with its Go mirror and lists every member in
// declaration order.
type structSpec struct {
	c      string
	goType reflect.Type
	fields []fieldName
}

// structTable lists every struct of awake.h, in header order.
var structTable = []structSpec{
	{"awake_waker", reflect.TypeFor[abi.Waker](), []fieldName{
		{"data", "Data"}, {"vtable", "Vtable"},
	}},
	{"awake_waker_vtable", reflect.TypeFor[abi.WakerVtable](), []fieldName{
		{"size", "Size"}, {"flags", "Flags"}, {"clone", "Clone"},
		{"wake", "Wake"}, {"wake_by_ref", "WakeByRef"}, {"drop", "Drop"},
	}},
	{"awake_event", reflect.TypeFor[abi.Event](), []fieldName{
		{"state", "State"}, {"waker", "Waker"},
	}},
	{"awake_timer", reflect.TypeFor[abi.Timer](), []fieldName{
		{"event", "Event"}, {"deadline_ns", "DeadlineNs"}, {"reserved", "Reserved"},
	}},
	{"awake_io", reflect.TypeFor[abi.IO](), []fieldName{
		{"read", "Read"}, {"write", "Write"}, {"fd", "Fd"},
		{"interest", "Interest"}, {"reserved", "Reserved"},
	}},
	{"awake_error", reflect.TypeFor[abi.ErrorObj](), []fieldName{
		{"size", "Size"}, {"code", "Code"}, {"message", "Message"}, {"drop", "Drop"},
	}},
	{"awake_bytes", reflect.TypeFor[abi.Bytes](), []fieldName{
		{"data", "Data"}, {"len", "Len"}, {"drop", "Drop"},
	}},
	{"awake_context", reflect.TypeFor[abi.Context](), []fieldName{
		{"size", "Size"}, {"flags", "Flags"}, {"waker", "Waker"},
		{"host", "Host"}, {"host_data", "HostData"},
	}},
	{"awake_future_vtable", reflect.TypeFor[abi.FutureVtable](), []fieldName{
		{"size", "Size"}, {"flags", "Flags"}, {"output_size", "OutputSize"},
		{"output_align", "OutputAlign"}, {"poll", "Poll"}, {"drop", "Drop"},
		{"cancel", "Cancel"},
	}},
	{"awake_future", reflect.TypeFor[abi.Future](), []fieldName{
		{"self", "Self"}, {"vtable", "Vtable"},
	}},
	{"awake_host", reflect.TypeFor[abi.Host](), []fieldName{
		{"size", "Size"}, {"abi_major", "AbiMajor"}, {"abi_minor", "AbiMinor"},
		{"host_data", "HostData"}, {"now_ns", "NowNs"},
		{"timer_open", "TimerOpen"}, {"timer_reset", "TimerReset"},
		{"timer_close", "TimerClose"}, {"io_open", "IOOpen"},
		{"io_close", "IOClose"}, {"spawn", "Spawn"}, {"log", "Log"}, {"call", "Call"},
	}},
	{"awake_export", reflect.TypeFor[abi.Export](), []fieldName{
		{"size", "Size"}, {"flags", "Flags"}, {"name", "Name"}, {"doc", "Doc"},
		{"make", "Make"},
	}},
	{"awake_plugin", reflect.TypeFor[abi.Plugin](), []fieldName{
		{"size", "Size"}, {"abi_major", "AbiMajor"}, {"abi_minor", "AbiMinor"},
		{"pointer_size", "PointerSize"}, {"endian", "Endian"}, {"name", "Name"},
		{"version", "Version"}, {"export_count", "ExportCount"},
		{"reserved", "Reserved"}, {"exports", "Exports"},
	}},
	{"awake_entry_args", reflect.TypeFor[abi.EntryArgs](), []fieldName{
		{"size", "Size"}, {"abi_major", "AbiMajor"}, {"abi_minor", "AbiMinor"},
		{"pointer_size", "PointerSize"}, {"endian", "Endian"}, {"host", "Host"},
	}},
}

// constSpec pairs an integer #define with its Go constant.
type constSpec struct {
	c, goName string
	value     int64
}

// constTable lists every integer #define of awake.h that has a Go mirror.
var constTable = []constSpec{
	{"AWAKE_ABI_MAJOR", "Major", abi.Major},
	{"AWAKE_ABI_MINOR", "Minor", abi.Minor},
	{"AWAKE_ENDIAN_CANARY", "EndianCanary", int64(abi.EndianCanary)},

	{"AWAKE_PENDING", "Pending", int64(abi.Pending)},
	{"AWAKE_READY", "Ready", int64(abi.Ready)},
	{"AWAKE_ERROR", "Error", int64(abi.Error)},
	{"AWAKE_CANCELLED", "Cancelled", int64(abi.Cancelled)},
	{"AWAKE_MISUSE", "Misuse", int64(abi.Misuse)},

	{"AWAKE_OK", "OK", int64(abi.OK)},
	{"AWAKE_E_INVALID", "EInvalid", int64(abi.EInvalid)},
	{"AWAKE_E_NOMEM", "ENoMem", int64(abi.ENoMem)},
	{"AWAKE_E_CLOSED", "EClosed", int64(abi.EClosed)},
	{"AWAKE_E_SYSTEM", "ESystem", int64(abi.ESystem)},
	{"AWAKE_E_VERSION", "EVersion", int64(abi.EVersion)},
	{"AWAKE_E_CANARY", "ECanary", int64(abi.ECanary)},
	{"AWAKE_E_THREAD", "EThread", int64(abi.EThread)},

	{"AWAKE_LOG_DEBUG", "LogDebug", int64(abi.LogDebug)},
	{"AWAKE_LOG_INFO", "LogInfo", int64(abi.LogInfo)},
	{"AWAKE_LOG_WARN", "LogWarn", int64(abi.LogWarn)},
	{"AWAKE_LOG_ERROR", "LogError", int64(abi.LogError)},

	{"AWAKE_EVENT_READY", "EventReady", int64(abi.EventReady)},
	{"AWAKE_EVENT_REGISTERING", "EventRegistering", int64(abi.EventRegistering)},
	{"AWAKE_EVENT_WAKING", "EventWaking", int64(abi.EventWaking)},
	{"AWAKE_EVENT_TICK_SHIFT", "EventTickShift", abi.EventTickShift},

	{"AWAKE_IO_READ", "IORead", int64(abi.IORead)},
	{"AWAKE_IO_WRITE", "IOWrite", int64(abi.IOWrite)},

	{"AWAKE_FUTURE_SEND", "FutureSend", int64(abi.FutureSend)},
	{"AWAKE_FUTURE_OUTPUT_BYTES", "FutureOutputBytes", int64(abi.FutureOutputBytes)},
}

// stringConstSpec pairs a string #define with its Go constant.
type stringConstSpec struct {
	c, goName, value string
}

// stringConstTable lists every string #define of awake.h that has a Go mirror.
var stringConstTable = []stringConstSpec{
	{"AWAKE_ENTRY_SYMBOL", "EntrySymbol", abi.EntrySymbol},
}

// unmirroredDefines lists the #defines of awake.h that deliberately have no
// Go constant, with the reason. A #define in the header that is neither
// mirrored nor listed here fails TestTableCoversHeader.
var unmirroredDefines = map[string]string{
	"AWAKE_H":              "include guard",
	"AWAKE_INLINE":         "C storage class of the inline helpers",
	"AWAKE_HOST_HAS":       "C macro: does a host table have a function (size check)",
	"AWAKE_VERSION_STRING": "informative release string of the header; hosts compare abi_major/abi_minor",
	"AWAKE_EXPORT":         "C symbol-visibility attribute",
	"AWAKE_EXTERN_C":       "C++ linkage helper for AWAKE_PLUGIN_DEFINE (when the header has it)",
	"AWAKE_PLUGIN_DEFINE":  "C code generator for a plugin's entry point",
}

// goOnlyConsts lists exported Go constants of package abi with no #define in
// the header, with what checks them instead.
var goOnlyConsts = map[string]string{
	"PointerSize": "compared with the C compiler's sizeof(void *) by TestLayoutMatchesC",
}
