package cbindings

import (
	"fmt"
	"unsafe"

	"github.com/awake-rt/awake/abi"
)

// Limits that keep a malformed descriptor from making the host read
// megabytes of garbage.
const (
	defaultMaxExports = 65536   // export_count above this is refused
	maxNameLen        = 4096    // plugin name, version, export names
	maxDocLen         = 1 << 16 // export doc strings
)

// Sizes of the C structs as this host reads them: a producer that reports a
// smaller size is refused (readers never read past the declared size).
var (
	pluginSize = uint32(unsafe.Sizeof(abi.Plugin{}))
	exportSize = uint32(unsafe.Sizeof(abi.Export{}))
	// pluginHeadSize covers size, abi_major, abi_minor, pointer_size and
	// endian, whose layout does not depend on the pointer size.
	pluginHeadSize = uint32(unsafe.Offsetof(abi.Plugin{}.Name))
)

// ExportInfo describes one function a plugin offers.
type ExportInfo struct {
	Name string // unique within the plugin
	Doc  string // one line: arguments and result ("" if the plugin gave none)
}

// descriptor is a validated Go copy of an awake_plugin.
type descriptor struct {
	name, version string
	abiMinor      uint16
	exports       []ExportInfo
	makes         []uintptr // make function of exports[i]
}

// readDescriptor validates the awake_plugin at p, which the plugin at path
// returned from its entry, and copies it into Go memory.
func readDescriptor(path string, p uintptr, maxExports int) (*descriptor, error) {
	fail := func(kind Kind, export, format string, args ...any) error {
		return &LoadError{Path: path, Symbol: abi.EntrySymbol, Export: export, Kind: kind,
			Detail: fmt.Sprintf(format, args...)}
	}
	if p == 0 {
		return nil, fail(ErrDescriptor, "", "the entry returned AWAKE_OK but stored a NULL descriptor in *out (it must point to a static awake_plugin)")
	}
	if !aligned(p, unsafe.Alignof(abi.Plugin{})) {
		return nil, fail(ErrDescriptor, "", "descriptor address %#x is not aligned to %d bytes (the entry must store a pointer to an awake_plugin)", p, unsafe.Alignof(abi.Plugin{}))
	}
	size := *(*uint32)(cptr(p))
	if size < pluginHeadSize {
		return nil, fail(ErrDescriptor, "", "descriptor size %d < %d (set awake_plugin.size = sizeof(awake_plugin), or use AWAKE_PLUGIN_DEFINE)", size, pluginSize)
	}
	// The head (size, versions, canaries) has the same layout for every
	// pointer size and ABI version; read it before trusting the rest.
	head := (*[4]uint32)(cptr(p))
	major, minor := uint16(head[1]), uint16(head[1]>>16)
	ptrSize, endian := head[2], head[3]
	if endian != abi.EndianCanary {
		return nil, fail(ErrCanary, "", "plugin byte order canary is %#08x, host expects %#08x (build the plugin for the host's architecture)", endian, abi.EndianCanary)
	}
	if ptrSize != abi.PointerSize {
		return nil, fail(ErrCanary, "", "plugin has %d-byte pointers, host has %d-byte pointers (build the plugin for the host's architecture)", ptrSize, abi.PointerSize)
	}
	if major != abi.Major {
		return nil, fail(ErrABIMajor, "", "plugin built for %d.%d, host speaks %d.%d (rebuild the plugin against this awake.h)", major, minor, abi.Major, abi.Minor)
	}
	if minor > abi.Minor {
		return nil, fail(ErrABIMinor, "", "plugin built for %d.%d, host serves up to %d.%d (upgrade the host, or rebuild the plugin against the host's awake.h)", major, minor, abi.Major, abi.Minor)
	}
	if size < pluginSize {
		return nil, fail(ErrDescriptor, "", "descriptor size %d < %d (set awake_plugin.size = sizeof(awake_plugin), or use AWAKE_PLUGIN_DEFINE)", size, pluginSize)
	}
	desc := *(*abi.Plugin)(cptr(p))
	d := &descriptor{abiMinor: minor}
	var ok bool
	if d.name, ok = readName(uintptr(unsafe.Pointer(desc.Name))); !ok {
		return nil, fail(ErrDescriptor, "", "plugin name is %s (set awake_plugin.name to a non-empty string)", describeBadName(desc.Name))
	}
	if d.version, ok = readName(uintptr(unsafe.Pointer(desc.Version))); !ok {
		return nil, fail(ErrDescriptor, "", "plugin %q: version is %s (set awake_plugin.version, e.g. \"1.0.0\")", d.name, describeBadName(desc.Version))
	}
	n := desc.ExportCount
	if int64(n) > int64(maxExports) {
		return nil, fail(ErrDescriptor, "", "plugin %q: export_count %d exceeds the limit of %d (is the descriptor initialised?)", d.name, n, maxExports)
	}
	if n == 0 {
		return d, nil
	}
	ex := uintptr(unsafe.Pointer(desc.Exports))
	if ex == 0 {
		return nil, fail(ErrDescriptor, "", "plugin %q: exports is NULL but export_count is %d", d.name, n)
	}
	if !aligned(ex, unsafe.Alignof(abi.Export{})) {
		return nil, fail(ErrDescriptor, "", "plugin %q: exports address %#x is not aligned to %d bytes", d.name, ex, unsafe.Alignof(abi.Export{}))
	}
	// The array's stride is sizeof(awake_export) as the plugin compiled it,
	// which every element reports in its size field.
	stride := *(*uint32)(cptr(ex))
	if stride < exportSize {
		return nil, fail(ErrExport, "", "plugin %q: export #0: size %d < %d (set each awake_export.size = sizeof(awake_export))", d.name, stride, exportSize)
	}
	if !aligned(uintptr(stride), unsafe.Alignof(abi.Export{})) {
		return nil, fail(ErrExport, "", "plugin %q: export #0: size %d is not a multiple of %d, so it cannot be the array stride", d.name, stride, unsafe.Alignof(abi.Export{}))
	}
	seen := make(map[string]int, n)
	for i := uint32(0); i < n; i++ {
		e := *(*abi.Export)(cptr(ex + uintptr(i)*uintptr(stride)))
		name, ok := readName(uintptr(unsafe.Pointer(e.Name)))
		if e.Size != stride {
			return nil, fail(ErrExport, name, "plugin %q: export #%d: size %d differs from export #0's %d (set each awake_export.size = sizeof(awake_export))", d.name, i, e.Size, stride)
		}
		if !ok {
			return nil, fail(ErrExport, "", "plugin %q: export #%d: name is %s (every export needs a unique non-empty name)", d.name, i, describeBadName(e.Name))
		}
		if j, dup := seen[name]; dup {
			return nil, fail(ErrExport, name, "plugin %q: exports #%d and #%d have the same name (export names must be unique)", d.name, j, i)
		}
		seen[name] = int(i)
		if e.Make == 0 {
			return nil, fail(ErrExport, name, "plugin %q: export #%d: make is NULL (every export needs a make function)", d.name, i)
		}
		doc := ""
		if e.Doc != nil {
			if doc, ok = cstring(uintptr(unsafe.Pointer(e.Doc)), maxDocLen); !ok {
				return nil, fail(ErrExport, name, "plugin %q: export #%d: doc has no NUL within %d bytes", d.name, i, maxDocLen)
			}
		}
		d.exports = append(d.exports, ExportInfo{Name: name, Doc: doc})
		d.makes = append(d.makes, e.Make)
	}
	return d, nil
}

// readName copies a required, non-empty C string of at most maxNameLen bytes.
func readName(p uintptr) (string, bool) {
	if p == 0 {
		return "", false
	}
	s, ok := cstring(p, maxNameLen)
	return s, ok && s != ""
}

// describeBadName says why readName refused p.
func describeBadName(p *byte) string {
	switch {
	case p == nil:
		return "NULL"
	case *p == 0:
		return "empty"
	default:
		return fmt.Sprintf("not NUL-terminated within %d bytes", maxNameLen)
	}
}
