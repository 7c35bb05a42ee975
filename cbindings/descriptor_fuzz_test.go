package cbindings

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
)

// FuzzReadDescriptor builds an awake_plugin, its exports array and its
// strings in mmap'd memory from the fuzz input -- sizes, counts, versions,
// canaries, NULL and misaligned pointers, strings with and without a NUL,
// duplicate names -- and checks that readDescriptor never panics or faults
// and returns either exactly the descriptor a simple model of the rules
// expects, or a *LoadError.
//
// Memory (see fuzzMem): every pointer the builder stores is NULL or points
// into a mapped region; reading garbage pointers is beyond what any loader
// can defend against. Each region ends at a PROT_NONE guard page, and the
// descriptor is placed so that the bytes past its declared size are
// unmapped: a read past the declared size faults the fuzzer.
func FuzzReadDescriptor(f *testing.F) {
	for _, s := range descriptorSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m := fuzzMemory(t)
		b := buildDescriptor(m, &fuzzInput{b: in})
		d, err := readDescriptor("/fuzz/plugin.so", b.p, b.maxExports)
		want, wantErr := b.model()
		if wantErr != "" {
			var le *LoadError
			if err == nil || !errors.As(err, &le) {
				t.Fatalf("want a *LoadError (%s), got %v, descriptor %+v", wantErr, err, d)
			}
			if le.Path != "/fuzz/plugin.so" || !strings.HasPrefix(err.Error(), "awake: load /fuzz/plugin.so: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			switch le.Kind {
			case ErrDescriptor, ErrExport, ErrCanary, ErrABIMajor, ErrABIMinor:
			default:
				t.Fatalf("error kind %v is not a descriptor error: %v", le.Kind, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("valid descriptor refused: %v", err)
		}
		if d.name != want.name || d.version != want.version || d.abiMinor != want.abiMinor {
			t.Fatalf("read %q %q minor %d, want %q %q minor %d", d.name, d.version, d.abiMinor, want.name, want.version, want.abiMinor)
		}
		if fmt.Sprint(d.exports) != fmt.Sprint(want.exports) || fmt.Sprint(d.makes) != fmt.Sprint(want.makes) {
			t.Fatalf("exports %v makes %v, want %v %v", d.exports, d.makes, want.exports, want.makes)
		}
	})
}

// fuzzMem is the mapped memory a fuzz process builds descriptors in: three
// read-write regions, each followed by a PROT_NONE guard page.
type fuzzMem struct {
	desc, exports, strs []byte
}

const (
	fuzzDescBytes   = 4096
	fuzzMaxBuilt    = 64  // exports built at most
	fuzzMaxStride   = 256 // bytes per export at most
	fuzzExportBytes = fuzzMaxBuilt * fuzzMaxStride
	fuzzStrArea     = 16 << 10
	// After the strings, non-NUL filler long enough that an unterminated
	// string is scanned up to the reader's limit within mapped memory.
	fuzzStrBytes = fuzzStrArea + maxDocLen + 4096
)

var (
	fuzzOnce sync.Once
	fuzzMM   *fuzzMem
	fuzzErr  error
)

func fuzzMemory(t testing.TB) *fuzzMem {
	fuzzOnce.Do(func() {
		m := &fuzzMem{}
		if m.desc, fuzzErr = guarded(fuzzDescBytes); fuzzErr != nil {
			return
		}
		if m.exports, fuzzErr = guarded(fuzzExportBytes); fuzzErr != nil {
			return
		}
		if m.strs, fuzzErr = guarded(fuzzStrBytes); fuzzErr != nil {
			return
		}
		for i := range m.strs {
			m.strs[i] = 'A'
		}
		fuzzMM = m
	})
	if fuzzErr != nil {
		t.Fatalf("mapping fuzz memory: %v", fuzzErr)
	}
	return fuzzMM
}

// guarded maps n bytes (rounded up to pages) of read-write memory followed
// by one PROT_NONE page, and returns the read-write part: its end is the
// guard page.
func guarded(n int) ([]byte, error) {
	pg := unix.Getpagesize()
	n = (n + pg - 1) / pg * pg
	mem, err := unix.Mmap(-1, 0, n+pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, err
	}
	if err := unix.Mprotect(mem[n:], unix.PROT_NONE); err != nil {
		return nil, err
	}
	return mem[:n:n], nil
}

func addr(b []byte, off int) uintptr { return uintptr(unsafe.Pointer(&b[0])) + uintptr(off) }

// fuzzInput hands out the fuzz bytes as fields; past the end it returns
// zeros, so every input decodes to some descriptor.
type fuzzInput struct{ b []byte }

func (r *fuzzInput) u8() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *fuzzInput) u16() uint16 { return uint16(r.u8()) | uint16(r.u8())<<8 }
func (r *fuzzInput) u32() uint32 { return uint32(r.u16()) | uint32(r.u16())<<16 }

func (r *fuzzInput) bytes(n int) []byte {
	n = min(n, len(r.b))
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// built is a descriptor laid out in memory, with what the builder put
// there for the model to judge.
type built struct {
	m          *fuzzMem
	p          uintptr // the descriptor pointer handed to readDescriptor
	maxExports int
	nullDesc   bool
	misaligned bool
	plugin     rawPlugin // the fields as written
	exportsArr uintptr
	stride     uint32
	elems      []rawExport
}

// rawPlugin and rawExport are abi.Plugin and abi.Export with addresses for
// pointers: the builder stores NULL, misaligned and foreign addresses, which
// must never become Go pointers (checkptr rejects misaligned ones).
type rawPlugin struct {
	Size                uint32
	AbiMajor, AbiMinor  uint16
	PointerSize, Endian uint32
	Name, Version       uintptr
	ExportCount         uint32
	Reserved            uint32
	Exports             uintptr
}

type rawExport struct {
	Size, Flags     uint32
	Name, Doc, Make uintptr
}

func init() {
	if unsafe.Sizeof(rawPlugin{}) != unsafe.Sizeof(abi.Plugin{}) || unsafe.Sizeof(rawExport{}) != unsafe.Sizeof(abi.Export{}) ||
		unsafe.Offsetof(rawPlugin{}.Exports) != unsafe.Offsetof(abi.Plugin{}.Exports) || unsafe.Offsetof(rawExport{}.Make) != unsafe.Offsetof(abi.Export{}.Make) {
		panic("descriptor_fuzz_test: rawPlugin/rawExport drifted from abi.Plugin/abi.Export")
	}
}

// Field selectors: the first choices are the interesting values, the last
// one takes raw bits from the input.
func pickSize(r *fuzzInput) uint32 {
	ps := uint32(unsafe.Sizeof(abi.Plugin{}))
	choices := []uint32{ps, ps, ps, ps + 8, ps + 100, 0, 4, 8, 15, 16, 20, 24, ps - 8, ps - 1}
	if c := int(r.u8()); c < len(choices) {
		return choices[c]
	}
	return r.u32() % 8192
}

func pickStride(r *fuzzInput) uint32 {
	choices := []uint32{exportSize, exportSize, exportSize, exportSize + 8, 64, 256, 0, 8, 16, exportSize - 8, exportSize + 1, exportSize + 4}
	if c := int(r.u8()); c < len(choices) {
		return choices[c]
	}
	return uint32(r.u8())
}

// str writes a string chosen by the input into the string area and returns
// its address (0 for NULL). Kinds: NULL, empty, bytes + NUL, bytes without
// NUL (the scan runs on into whatever follows), a string of exactly the
// name limit with or without room for the NUL, or a previous string again
// (duplicate pointers).
func (b *built) str(r *fuzzInput, at *int, prev []uintptr) uintptr {
	kind := r.u8() % 8
	var s []byte
	term := true
	switch kind {
	case 0:
		return 0
	case 1:
	case 2, 3:
		s = r.bytes(int(r.u8() % 24))
	case 4:
		s = r.bytes(int(r.u8() % 24))
		term = false
	case 5:
		n := maxNameLen - 1 + int(r.u8()%2) // 4095 fits the limit, 4096 does not
		s = []byte(strings.Repeat("x", n))
	case 6:
		if len(prev) > 0 {
			return prev[int(r.u8())%len(prev)]
		}
		s = []byte("again")
	case 7:
		s = []byte(fmt.Sprintf("e%d", r.u8()%4)) // few distinct names: duplicates
	}
	need := len(s)
	if term {
		need++
	}
	if *at+need > fuzzStrArea {
		return 0 // out of room: NULL
	}
	off := *at
	copy(b.m.strs[off:], s)
	if term {
		b.m.strs[off+len(s)] = 0
	}
	*at += need
	return addr(b.m.strs, off)
}

func buildDescriptor(m *fuzzMem, r *fuzzInput) *built {
	b := &built{m: m}
	// Strings: non-NUL filler, so an unterminated string runs on (past the
	// string area, the filler written at mapping time is never changed).
	for i := range m.strs[:fuzzStrArea] {
		m.strs[i] = 'A'
	}
	clear(m.desc)
	clear(m.exports)
	flags := r.u8()
	b.nullDesc = flags&1 != 0 && flags&0x80 != 0 // rare
	b.misaligned = flags&2 != 0 && flags&0x40 != 0
	nullExports := flags&4 != 0 && flags&0x20 != 0
	misExports := flags&8 != 0 && flags&0x10 != 0

	p := &b.plugin
	p.Size = pickSize(r)
	p.AbiMajor, p.AbiMinor = abi.Major, abi.Minor
	p.PointerSize, p.Endian = abi.PointerSize, abi.EndianCanary
	if v := r.u8(); v >= 240 { // occasionally wrong heads
		switch v % 4 {
		case 0:
			p.AbiMajor = uint16(r.u8())
		case 1:
			p.AbiMinor = uint16(r.u8())
		case 2:
			p.PointerSize = uint32(r.u8())
		case 3:
			p.Endian = r.u32()
		}
	}
	at := 0
	var ptrs []uintptr
	name := b.str(r, &at, ptrs)
	ptrs = append(ptrs, name)
	version := b.str(r, &at, ptrs)
	ptrs = append(ptrs, version)
	b.maxExports = int(r.u8() % (fuzzMaxBuilt + 1))
	count := uint32(r.u8() % 10)
	if c := r.u8(); c >= 250 {
		count = r.u32() // absurd counts (refused by the limit)
	} else if c >= 200 {
		count = uint32(c-200) % (fuzzMaxBuilt + 1)
	}
	p.ExportCount = count
	p.Reserved = 0
	b.stride = pickStride(r)
	nbuilt := 0
	if int64(count) <= int64(b.maxExports) {
		nbuilt = int(count) // all that readDescriptor may read
	}
	// Layout stride: the declared one when the reader may walk the array
	// with it (a multiple of 8, at least sizeof(awake_export)); otherwise
	// the reader refuses after export #0's size word.
	stride := int(max(b.stride, exportSize)+7) &^ 7
	arrBytes := 0
	if nbuilt > 0 {
		arrBytes = (nbuilt-1)*stride + int(exportSize)
	}
	// The array ends at the guard page.
	arrOff := (len(m.exports) - arrBytes) &^ 7
	if nbuilt == 0 {
		arrOff = len(m.exports) - 8 // a readable, aligned word
	}
	for i := range nbuilt {
		// Export #0's size is the stride; a later export may disagree.
		e := rawExport{Size: b.stride}
		if r.u8() >= 245 && i > 0 {
			e.Size = uint32(r.u8())
		}
		n := b.str(r, &at, ptrs)
		ptrs = append(ptrs, n)
		e.Name = n
		doc := uintptr(0)
		if r.u8()%3 != 0 {
			doc = b.str(r, &at, ptrs)
		}
		e.Doc = doc
		if r.u8() < 240 {
			e.Make = 0x1000 + uintptr(i)*16 // never called
		}
		b.elems = append(b.elems, e)
		off := arrOff + i*stride
		*(*rawExport)(unsafe.Pointer(&m.exports[off])) = e
	}
	if nbuilt == 0 {
		// export #0's size word is still readable for a reader that looks.
		*(*uint32)(unsafe.Pointer(&m.exports[arrOff])) = b.stride
	}
	b.exportsArr = addr(m.exports, arrOff)
	if nullExports {
		b.exportsArr = 0
	} else if misExports {
		b.exportsArr += 4
	}
	p.Name, p.Version, p.Exports = name, version, b.exportsArr

	// Place the descriptor so that everything past what a reader may read
	// under the declared size is unmapped.
	avail := 8
	switch {
	case p.Size >= pluginSize:
		avail = int(pluginSize)
	case p.Size >= pluginHeadSize:
		avail = int(pluginHeadSize)
	}
	off := len(m.desc) - avail
	copy(m.desc[off:], unsafe.Slice((*byte)(unsafe.Pointer(p)), avail))
	b.p = addr(m.desc, off)
	switch {
	case b.nullDesc:
		b.p = 0
	case b.misaligned:
		b.p = addr(m.desc, len(m.desc)-int(pluginSize)-8) + uintptr(1+flags>>5&3)
	}
	return b
}

// cstr is the model's C string read: the bytes up to the first NUL within
// max bytes of a, which must lie in the string region.
func (b *built) cstr(a uintptr, max int) (string, bool) {
	base := addr(b.m.strs, 0)
	off := int(a - base)
	for n := 0; n < max && off+n < len(b.m.strs); n++ {
		if b.m.strs[off+n] == 0 {
			return string(b.m.strs[off : off+n]), true
		}
	}
	return "", false
}

func (b *built) name(a uintptr) (string, bool) {
	if a == 0 {
		return "", false
	}
	s, ok := b.cstr(a, maxNameLen)
	return s, ok && s != ""
}

// model applies the rules of awake.h to what was built: the descriptor a
// correct reader returns, or why it must refuse.
func (b *built) model() (*descriptor, string) {
	p := &b.plugin
	switch {
	case b.nullDesc:
		return nil, "NULL descriptor"
	case b.misaligned:
		return nil, "misaligned descriptor"
	case p.Size < pluginSize:
		return nil, "size too small"
	case p.Endian != abi.EndianCanary, p.PointerSize != abi.PointerSize:
		return nil, "canary"
	case p.AbiMajor != abi.Major:
		return nil, "major"
	case p.AbiMinor > abi.Minor:
		return nil, "minor"
	}
	d := &descriptor{abiMinor: p.AbiMinor}
	var ok bool
	if d.name, ok = b.name(p.Name); !ok {
		return nil, "name"
	}
	if d.version, ok = b.name(p.Version); !ok {
		return nil, "version"
	}
	if int64(p.ExportCount) > int64(b.maxExports) {
		return nil, "too many exports"
	}
	if p.ExportCount == 0 {
		return d, ""
	}
	if b.exportsArr == 0 || b.exportsArr%8 != 0 {
		return nil, "exports pointer"
	}
	if b.stride < exportSize || b.stride%8 != 0 {
		return nil, "stride"
	}
	seen := map[string]bool{}
	for _, e := range b.elems {
		name, ok := b.name(e.Name)
		if e.Size != b.stride || !ok || seen[name] || e.Make == 0 {
			return nil, "export"
		}
		seen[name] = true
		doc := ""
		if e.Doc != 0 {
			if doc, ok = b.cstr(e.Doc, maxDocLen); !ok {
				return nil, "doc"
			}
		}
		d.exports = append(d.exports, ExportInfo{Name: name, Doc: doc})
		d.makes = append(d.makes, e.Make)
	}
	return d, ""
}

// Seed encoding helpers, in the order buildDescriptor reads its input.
func sStr(v string) []byte  { return append([]byte{3, byte(len(v))}, v...) } // bytes + NUL
func sOpen(v string) []byte { return append([]byte{4, byte(len(v))}, v...) } // no NUL

var (
	sNull  = []byte{0}
	sEmpty = []byte{1}
)

// sExport encodes one export: size mode, name, doc (nil: NULL), make.
func sExport(sizeMode []byte, name, doc []byte, mk byte) []byte {
	b := append([]byte{}, sizeMode...)
	b = append(b, name...)
	if doc == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = append(b, doc...)
	}
	return append(b, mk)
}

// sPlugin encodes a descriptor: flags, size choice, head mode, name,
// version, export limit, count, count mode, stride choice, exports.
func sPlugin(flags, size, head []byte, name, version []byte, limit, count, countMode, stride []byte, exports ...[]byte) []byte {
	var b []byte
	for _, part := range [][]byte{flags, size, head, name, version, limit, count, countMode, stride} {
		b = append(b, part...)
	}
	for _, e := range exports {
		b = append(b, e...)
	}
	return b
}

// descriptorSeeds are the seed inputs, also committed under
// testdata/fuzz/FuzzReadDescriptor: a valid plugin and one input per rule.
func descriptorSeeds() [][]byte {
	one := func(v byte) []byte { return []byte{v} }
	ok := one(0)
	answer := sExport(ok, sStr("answer"), sStr("[i64] -> i64"), 0)
	fail := sExport(ok, sStr("fail"), nil, 0)
	good := func(flags, size, head []byte) []byte {
		return sPlugin(flags, size, head, sStr("good"), sStr("1.2.3"), one(64), one(2), ok, ok, answer, fail)
	}
	withExports := func(limit, count, countMode, stride []byte, exports ...[]byte) []byte {
		return sPlugin(ok, ok, ok, sStr("good"), sStr("1.2.3"), limit, count, countMode, stride, exports...)
	}
	return [][]byte{
		good(ok, ok, ok),
		good(one(0x81), ok, ok),               // NULL descriptor
		good(one(0x42), ok, ok),               // misaligned descriptor
		good(ok, one(6), ok),                  // size 4: only the size word is mapped
		good(ok, one(10), ok),                 // size 20: only the head is mapped
		good(ok, one(12), ok),                 // size sizeof-8
		good(ok, one(4), ok),                  // size sizeof+100
		good(ok, []byte{200, 0, 1, 0, 0}, ok), // raw size 256
		good(ok, ok, []byte{240, 2}),          // major 2
		good(ok, ok, []byte{241, 1}),          // minor 1 (newer than the host)
		good(ok, ok, []byte{242, 4}),          // 4-byte pointers
		good(ok, ok, []byte{243, 1, 2, 3, 4}), // byte order
		good(one(0x24), ok, ok),               // NULL exports
		good(one(0x18), ok, ok),               // misaligned exports
		sPlugin(ok, ok, ok, sNull, sStr("1"), one(64), one(0), ok, ok),                                             // NULL name
		sPlugin(ok, ok, ok, sEmpty, sStr("1"), one(64), one(0), ok, ok),                                            // empty name
		sPlugin(ok, ok, ok, sStr("n"), sNull, one(64), one(0), ok, ok),                                             // NULL version
		sPlugin(ok, ok, ok, sOpen("unterminated"), sStr("1"), one(64), one(0), ok, ok),                             // runs into the next string
		sPlugin(ok, ok, ok, sStr("n"), sOpen("1.0"), one(64), one(0), ok, ok),                                      // runs into the filler
		sPlugin(ok, ok, ok, []byte{5, 0}, sStr("1"), one(64), one(0), ok, ok),                                      // 4095-byte name
		sPlugin(ok, ok, ok, []byte{5, 1}, sStr("1"), one(64), one(0), ok, ok),                                      // 4096-byte name
		withExports(one(1), one(2), ok, ok, answer, fail),                                                          // over the export limit
		withExports(one(64), one(0), ok, ok),                                                                       // no exports
		withExports(one(64), ok, []byte{255, 0xff, 0xff, 0xff, 0xff}, ok),                                          // count 2^32-1
		withExports(one(64), ok, one(209), ok, repeatExport(9)...),                                                 // 9 exports
		withExports(one(64), one(2), ok, one(3), answer, fail),                                                     // stride sizeof+8
		withExports(one(64), one(2), ok, one(5), answer, fail),                                                     // stride 256
		withExports(one(64), one(2), ok, one(8), answer, fail),                                                     // stride 16
		withExports(one(64), one(2), ok, one(10), answer, fail),                                                    // stride sizeof+1
		withExports(one(64), one(2), ok, []byte{200, 40}, answer, fail),                                            // raw stride 40
		withExports(one(64), one(2), ok, ok, answer, sExport([]byte{250, 8}, sStr("b"), nil, 0)),                   // export #1 size 8
		withExports(one(64), one(2), ok, ok, answer, sExport(ok, sNull, nil, 0)),                                   // NULL export name
		withExports(one(64), one(2), ok, ok, answer, sExport(ok, sEmpty, nil, 0)),                                  // empty export name
		withExports(one(64), one(2), ok, ok, answer, sExport(ok, sStr("answer"), nil, 0)),                          // duplicate name
		withExports(one(64), one(2), ok, ok, answer, sExport(ok, []byte{6, 2}, nil, 0)),                            // same name pointer
		withExports(one(64), one(2), ok, ok, answer, sExport(ok, sStr("b"), nil, 245)),                             // NULL make
		withExports(one(64), one(2), ok, ok, answer, sExport(ok, sStr("b"), sOpen("doc"), 0)),                      // unterminated doc, filler
		withExports(one(64), one(2), ok, ok, sExport(ok, sStr("a"), sOpen("doc"), 0), fail),                        // doc runs into "fail"
		withExports(one(64), one(2), ok, ok, sExport(ok, []byte{7, 1}, nil, 0), sExport(ok, []byte{7, 1}, nil, 0)), // e1, e1
	}
}

func repeatExport(n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, sExport([]byte{0}, sStr(fmt.Sprintf("export%d", i)), sStr("d"), 0))
	}
	return out
}
