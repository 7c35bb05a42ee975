package executor

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/internal/ctest"
)

// Fuzz targets for what the executor reads from C memory after a poll: a
// READY future's output (readOutput: an awake_bytes or raw bytes), an
// AWAKE_ERROR's awake_error (takeError), and C strings (CString). The
// objects are built in mmap'd memory from the fuzz input; every pointer is
// NULL or points into a mapped region, and lengths are bounded by the
// mapping, because reading through garbage pointers is beyond what a host
// can defend against. Each object and buffer ends at a PROT_NONE guard page,
// so reading one byte past it faults the fuzzer. The release functions are
// C (testdata/fuzz/drops.c) and record their calls: every output and error
// must be released exactly once, with the pointer and length it came with,
// and what the host returns must be a copy that outlives the release.

// fuzzC is the loaded drops.c.
type fuzzC struct {
	bytesDrop, errorDrop uintptr
	calls, lastPtr       uintptr
	lastLen, reset       uintptr
}

func (c *fuzzC) call(fn uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn)
	return r
}

var (
	fuzzCOnce sync.Once
	fuzzCLib  *fuzzC
)

// loadDrops builds and loads testdata/fuzz/drops.c once per process.
func loadDrops(tb testing.TB) *fuzzC {
	tb.Helper()
	fuzzCOnce.Do(func() {
		so := ctest.Build(tb, ctest.Shared, []string{"testdata/fuzz/drops.c"})
		h, err := purego.Dlopen(so, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil {
			tb.Fatalf("dlopen %s: %v", so, err)
		}
		sym := func(name string) uintptr {
			p, err := purego.Dlsym(h, name)
			if err != nil {
				tb.Fatalf("dlsym %s: %v", name, err)
			}
			return p
		}
		fuzzCLib = &fuzzC{
			bytesDrop: sym("fz_bytes_drop"), errorDrop: sym("fz_error_drop"),
			calls: sym("fz_calls"), lastPtr: sym("fz_last_ptr"), lastLen: sym("fz_last_len"), reset: sym("fz_reset"),
		}
	})
	if fuzzCLib == nil {
		tb.Fatal("testdata/fuzz/drops.c did not load (see the first failure)")
	}
	return fuzzCLib
}

// guardedRegion maps n bytes (whole pages) of read-write memory followed by
// a PROT_NONE page; the returned slice ends at the guard.
func guardedRegion(tb testing.TB, n int) []byte {
	tb.Helper()
	pg := unix.Getpagesize()
	n = (n + pg - 1) / pg * pg
	mem, err := unix.Mmap(-1, 0, n+pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		tb.Fatalf("mmap: %v", err)
	}
	if err := unix.Mprotect(mem[n:], unix.PROT_NONE); err != nil {
		tb.Fatalf("mprotect: %v", err)
	}
	return mem[:n:n]
}

const (
	fuzzMsgArea = 8 << 10  // where messages are written
	fuzzScanMax = 64 << 10 // takeError's message limit
)

// fuzzRegions are mapped once per process: obj for the awake_bytes or
// awake_error (at its end), data for buffers and strings.
type fuzzRegions struct{ obj, data, strs []byte }

var (
	fuzzRegOnce sync.Once
	fuzzReg     *fuzzRegions
)

func regions(tb testing.TB) *fuzzRegions {
	fuzzRegOnce.Do(func() {
		r := &fuzzRegions{
			obj:  guardedRegion(tb, 4096),
			data: guardedRegion(tb, 64<<10),
			strs: guardedRegion(tb, fuzzMsgArea+fuzzScanMax+4096),
		}
		for i := range r.strs {
			r.strs[i] = 'B' // no NUL: an unterminated message runs to the limit
		}
		fuzzReg = r
	})
	return fuzzReg
}

func base(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

// fuzzBytes hands out fuzz input as fields (zeros once it runs out).
type fuzzBytes struct{ b []byte }

func (r *fuzzBytes) u8() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}
func (r *fuzzBytes) u16() uint16 { return uint16(r.u8()) | uint16(r.u8())<<8 }
func (r *fuzzBytes) u32() uint32 { return uint32(r.u16()) | uint32(r.u16())<<16 }

// fill writes the rest of the input into dst, repeated (zeros if none).
func (r *fuzzBytes) fill(dst []byte) {
	clear(dst)
	if len(r.b) == 0 {
		return
	}
	for i := range dst {
		dst[i] = r.b[i%len(r.b)]
	}
}

// rawBytes and rawError are abi.Bytes and abi.ErrorObj with addresses for
// pointers (the fuzzer stores addresses of mapped memory, never Go
// pointers).
type rawBytes struct{ data, len, drop uintptr }

type rawError struct {
	size          uint32
	code          int32
	message, drop uintptr
}

func init() {
	if unsafe.Sizeof(rawBytes{}) != unsafe.Sizeof(abi.Bytes{}) || unsafe.Sizeof(rawError{}) != unsafe.Sizeof(abi.ErrorObj{}) ||
		unsafe.Offsetof(rawError{}.message) != unsafe.Offsetof(abi.ErrorObj{}.Message) {
		panic("foreign_fuzz_test: rawBytes/rawError drifted from abi.Bytes/abi.ErrorObj")
	}
}

func FuzzReadOutput(f *testing.F) {
	// flags (1 bytes mode, 2 drop, 4 NULL data), size/len (u16), then data.
	f.Add([]byte{1 | 2, 5, 0, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{1, 5, 0, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{1 | 2, 0, 0})
	f.Add([]byte{1 | 2 | 4, 0xff, 0xff})
	f.Add([]byte{1 | 2, 0, 0x01, 0, 1, 2, 3})
	f.Add([]byte{0, 8, 0, 42, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{2, 0, 0x10, 7})
	c := loadDrops(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		reg := regions(t)
		r := &fuzzBytes{b: in}
		flags := r.u8()
		n := int(r.u16())
		c.call(c.reset)
		vt := &abi.FutureVtable{Size: uint32(unsafe.Sizeof(abi.FutureVtable{})), OutputAlign: 8}
		if flags&1 == 0 {
			// Raw output: OutputSize bytes ending at the guard.
			n %= 4097
			vt.OutputSize = uint32(n)
			out := reg.obj[len(reg.obj)-n:]
			r.fill(out)
			want := append([]byte(nil), out...)
			v := readOutput(vt, base(reg.obj)+uintptr(len(reg.obj)-n))
			if n == 0 {
				if v != nil {
					t.Fatalf("output_size 0: got %v, want nil", v)
				}
				return
			}
			got, ok := v.([]byte)
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("raw output of %d bytes: got %v", n, v)
			}
			clear(out)
			if !bytes.Equal(got, want) {
				t.Fatal("the output aliases C memory; it must be copied")
			}
			if c.call(c.calls) != 0 {
				t.Fatal("a raw output has no drop, but a drop was called")
			}
			return
		}
		// awake_bytes at the end of obj; its data ends at data's guard.
		vt.Flags = abi.FutureOutputBytes
		vt.OutputSize = uint32(unsafe.Sizeof(abi.Bytes{}))
		n %= len(reg.data) + 1
		data := reg.data[len(reg.data)-n:]
		r.fill(data)
		var b rawBytes
		b.len = uintptr(n)
		if flags&4 != 0 {
			b.len = uintptr(r.u32()) // NULL data: any length, never read
		} else {
			b.data = base(reg.data) + uintptr(len(reg.data)-n)
		}
		if flags&2 != 0 {
			b.drop = c.bytesDrop
		}
		off := len(reg.obj) - int(unsafe.Sizeof(b))
		*(*rawBytes)(unsafe.Pointer(&reg.obj[off])) = b
		want := []byte{}
		if b.data != 0 && b.len > 0 {
			want = append(want, data...)
		}
		v := readOutput(vt, base(reg.obj)+uintptr(off))
		got, ok := v.([]byte)
		if !ok || got == nil || !bytes.Equal(got, want) {
			t.Fatalf("awake_bytes{%#x, %d}: got %#v, want %d bytes", b.data, b.len, v, len(want))
		}
		clear(data)
		if !bytes.Equal(got, want) {
			t.Fatal("the output aliases the plugin's buffer, which its drop frees; it must be copied")
		}
		calls := c.call(c.calls)
		if b.drop == 0 {
			if calls != 0 {
				t.Fatalf("NULL drop, yet %d drop calls", calls)
			}
			return
		}
		if calls != 1 || c.call(c.lastPtr) != b.data || c.call(c.lastLen) != b.len {
			t.Fatalf("drop called %d times with (%#x, %d), want once with (%#x, %d)", calls, c.call(c.lastPtr), c.call(c.lastLen), b.data, b.len)
		}
	})
}

// scanC is the model of a bounded C string read.
func scanC(mem []byte, max int) string {
	for n := 0; n < max && n < len(mem); n++ {
		if mem[n] == 0 {
			return string(mem[:n])
		}
	}
	return string(mem[:min(max, len(mem))])
}

// writeMessage writes a message chosen by the input at the start of the
// string area: its bytes (which may hold NULs), NUL-terminated unless
// unterminated is set; then the filler runs to the scan limit.
func writeMessage(reg *fuzzRegions, r *fuzzBytes, unterminated bool) {
	n := int(r.u16()) % (fuzzMsgArea - 1)
	msg := reg.strs[:n]
	r.fill(msg)
	for i := range msg {
		if msg[i] == 0 && i%7 != 0 { // keep most messages NUL-free
			msg[i] = 'm'
		}
	}
	if unterminated {
		reg.strs[n] = 'B'
	} else {
		reg.strs[n] = 0
	}
}

// resetMessage restores the filler over the message area.
func resetMessage(reg *fuzzRegions) {
	for i := range reg.strs[:fuzzMsgArea] {
		reg.strs[i] = 'B'
	}
}

func FuzzTakeError(f *testing.F) {
	// flags (1 NULL object, 2 NULL message, 4 drop, 8 unterminated),
	// size (u32), code (u32), message length (u16), message.
	f.Add([]byte{4, 24, 0, 0, 0, 42, 0, 0, 0, 11, 0, 'd', 'i', 's', 'k', ' ', 'o', 'n', ' ', 'f', 'i', 'r', 'e'})
	f.Add([]byte{1})
	f.Add([]byte{2 | 4, 24, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{4 | 8, 24, 0, 0, 0, 1, 0, 0, 0, 3, 0, 'a', 'b', 'c'})
	f.Add([]byte{0, 8, 0, 0, 0, 7, 0, 0, 0, 0, 0})
	f.Add([]byte{4, 0, 0, 0, 0, 0xfb, 0xff, 0xff, 0xff, 5, 0, 'x', 0, 'y', 0, 'z'})
	c := loadDrops(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		reg := regions(t)
		defer resetMessage(reg)
		r := &fuzzBytes{b: in}
		flags := r.u8()
		c.call(c.reset)
		tk := &task{id: 7}
		if flags&1 != 0 {
			err := takeError(tk, "fuzz/export", 0)
			var te *TaskError
			if !errors.As(err, &te) || te.Task != 7 || te.Name != "fuzz/export" || te.Code != abi.Error || !strings.Contains(te.Reason, "without an error object") {
				t.Fatalf("NULL error object: got %#v", err)
			}
			return
		}
		obj := rawError{size: r.u32(), code: int32(r.u32())}
		writeMessage(reg, r, flags&8 != 0)
		want := ""
		if flags&2 == 0 {
			obj.message = base(reg.strs)
			want = scanC(reg.strs, fuzzScanMax)
		}
		if flags&4 != 0 {
			obj.drop = c.errorDrop
		}
		off := len(reg.obj) - int(unsafe.Sizeof(obj))
		*(*rawError)(unsafe.Pointer(&reg.obj[off])) = obj
		e := base(reg.obj) + uintptr(off)
		err := takeError(tk, "fuzz/export", e)
		var te *TaskError
		if obj.size < uint32(unsafe.Sizeof(abi.ErrorObj{})) {
			// Too small to read message and drop: refused and leaked.
			if !errors.As(err, &te) || te.Code != abi.Error || !strings.Contains(te.Reason, "size") || c.call(c.calls) != 0 {
				t.Fatalf("awake_error of size %d: got %#v and %d drop calls", obj.size, err, c.call(c.calls))
			}
			return
		}
		if !errors.As(err, &te) || te.Task != 7 || te.Name != "fuzz/export" || te.Code != obj.code {
			t.Fatalf("awake_error{code %d}: got %#v", obj.code, err)
		}
		text := err.Error()
		if !strings.Contains(text, want) || !strings.Contains(text, "fuzz/export") {
			t.Fatalf("error text lacks the message (%d bytes) or the task name: %.200q", len(want), text)
		}
		resetMessage(reg)
		if err.Error() != text {
			t.Fatal("the error aliases the plugin's message, which its drop frees; it must be copied")
		}
		calls := c.call(c.calls)
		switch {
		case obj.drop == 0 && calls != 0:
			t.Fatalf("NULL drop, yet %d drop calls", calls)
		case obj.drop != 0 && (calls != 1 || c.call(c.lastPtr) != e):
			t.Fatalf("drop called %d times with %#x, want once with %#x", calls, c.call(c.lastPtr), e)
		}
	})
}

func FuzzCString(f *testing.F) {
	// max (u32), flags (1 NULL, 8 unterminated), message length (u16), message.
	f.Add([]byte{16, 0, 0, 0, 0, 5, 0, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{3, 0, 0, 0, 0, 5, 0, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{0, 0, 0, 0, 0, 5, 0, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{0, 0, 1, 0, 8, 2, 0, 'h', 'i'})
	f.Add([]byte{16, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		reg := regions(t)
		defer resetMessage(reg)
		r := &fuzzBytes{b: in}
		max := int(r.u32() % (fuzzScanMax + 1))
		flags := r.u8()
		writeMessage(reg, r, flags&8 != 0)
		var p *byte
		want := ""
		if flags&1 == 0 {
			p = &reg.strs[0]
			want = scanC(reg.strs, max)
		}
		if got := CString(p, max); got != want {
			t.Fatalf("CString(max %d) = %d bytes %.80q, want %d bytes %.80q", max, len(got), got, len(want), want)
		}
	})
}
