package cbindings

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/awake-rt/awake/abi"
)

func TestOpenGoodPlugin(t *testing.T) {
	lib := openGood(t)
	if lib.Name() != "good" || lib.Version() != "1.2.3" || lib.AbiMinor() != abi.Minor {
		t.Fatalf("descriptor read as name %q version %q minor %d, want good 1.2.3 %d", lib.Name(), lib.Version(), lib.AbiMinor(), abi.Minor)
	}
	want := []ExportInfo{
		{"answer", "[i64] -> i64 (42 without args)"},
		{"fail", "any -> error"},
		{"sum", "bytes -> i64 (their sum)"},
		{"probe_host", ""},
	}
	got := lib.Exports()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Exports() = %v, want %v", got, want)
	}
	got[0].Name = "changed"
	if lib.Exports()[0].Name != "answer" {
		t.Fatal("Exports() returned the library's own slice; callers can corrupt it")
	}
	if e, ok := lib.Export("fail"); !ok || e.Doc != "any -> error" {
		t.Fatalf("Export(fail) = %v, %v", e, ok)
	}
	if _, ok := lib.Export("nope"); ok {
		t.Fatal("Export(nope) found an export that does not exist")
	}
	if lib.Path() == "" || !mapped(t, lib.Path()) {
		t.Fatalf("library %s is not mapped after Open", lib.Path())
	}
}

func TestOpenValidVariants(t *testing.T) {
	lib, err := Open(buildPlugin(t, "bad"))
	if err != nil {
		t.Fatalf("bad.c without defects must load: %v", err)
	}
	defer lib.Close()
	if got := fmt.Sprint(lib.Exports()); got != "[{a a doc} {b }]" {
		t.Fatalf("Exports() = %s", got)
	}
	lib0, err := Open(buildPlugin(t, "bad", "-DDESC_EXPORT_COUNT=0", "-DDESC_EXPORTS=NULL"))
	if err != nil {
		t.Fatalf("a plugin with no exports and a NULL array must load: %v", err)
	}
	defer lib0.Close()
	if len(lib0.Exports()) != 0 {
		t.Fatalf("Exports() = %v, want none", lib0.Exports())
	}
	_, err = lib0.MakeFuture("x", nil)
	wantLoadError(t, err, ErrNoExport, lib0.Path(), `"x"`, "exports nothing")
}

func TestOpenFileErrors(t *testing.T) {
	t.Run("bare name", func(t *testing.T) {
		_, err := Open("libgood.so")
		wantLoadError(t, err, ErrPath, "libgood.so", "LD_LIBRARY_PATH", "./libgood.so")
		_, err = Open("")
		wantLoadError(t, err, ErrPath)
	})
	t.Run("missing", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "nothing.so")
		_, err := Open(p)
		wantLoadError(t, err, ErrFileMissing, p, "no such file")
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("errors.Is(err, fs.ErrNotExist) is false: Unwrap should reach the stat error")
		}
	})
	t.Run("directory", func(t *testing.T) {
		d := t.TempDir() + "/"
		_, err := Open(d)
		wantLoadError(t, err, ErrFileUnreadable, d, "directory")
	})
	t.Run("unreadable", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "locked.so")
		if err := os.WriteFile(p, []byte("x"), 0o000); err != nil {
			t.Fatal(err)
		}
		if f, err := os.Open(p); err == nil {
			f.Close()
			t.Skip("a mode-000 file is still readable (running as root or with CAP_DAC_OVERRIDE); the directory case covers ErrFileUnreadable")
		}
		_, err := Open(p)
		le := wantLoadError(t, err, ErrFileUnreadable, p, "permission denied")
		if !errors.Is(err, fs.ErrPermission) || le.Err == nil {
			t.Errorf("Unwrap should reach the open error: %v", err)
		}
	})
	t.Run("not a shared object", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "text.so")
		if err := os.WriteFile(p, []byte("this is not an ELF file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(p)
		le := wantLoadError(t, err, ErrDlopen, p, "dlopen failed")
		if le.Err == nil || le.Err.Error() == "" || !strings.Contains(err.Error(), le.Err.Error()) {
			t.Errorf("the loader's message (%v) should be wrapped and quoted: %v", le.Err, err)
		}
	})
}

func TestOpenDescriptorErrors(t *testing.T) {
	psz := fmt.Sprint(unsafe.Sizeof(abi.Plugin{}))
	esz := fmt.Sprint(unsafe.Sizeof(abi.Export{}))
	const sym = "symbol awake_plugin_entry"
	cases := []struct {
		name  string
		flags []string
		opts  []Option
		kind  Kind
		parts []string
	}{
		{"no entry", []string{"-DNO_ENTRY"}, nil, ErrEntryMissing,
			[]string{sym, "entry symbol not found", "AWAKE_PLUGIN_DEFINE"}},
		{"entry returns VERSION", []string{"-DENTRY_RC=AWAKE_E_VERSION"}, nil, ErrABIMajor,
			[]string{sym, "ABI major version mismatch", "AWAKE_E_VERSION (-5)", "rebuild the plugin"}},
		{"entry returns CANARY", []string{"-DENTRY_RC=AWAKE_E_CANARY"}, nil, ErrCanary,
			[]string{sym, "AWAKE_E_CANARY (-6)"}},
		{"entry returns NOMEM", []string{"-DENTRY_RC=AWAKE_E_NOMEM"}, nil, ErrEntryFailed,
			[]string{sym, "entry point failed", "AWAKE_E_NOMEM (-2)"}},
		{"entry returns positive", []string{"-DENTRY_RC=3"}, nil, ErrEntryFailed,
			[]string{sym, "unknown code 3"}},
		{"NULL descriptor", []string{"-DNULL_DESCRIPTOR"}, nil, ErrDescriptor,
			[]string{sym, "NULL descriptor"}},
		{"major 2", []string{"-DDESC_MAJOR=2"}, nil, ErrABIMajor,
			[]string{sym, "ABI major version mismatch: plugin built for 2.0, host speaks 1.0 (rebuild the plugin against this awake.h)"}},
		{"minor too new", []string{"-DDESC_MINOR=1"}, nil, ErrABIMinor,
			[]string{sym, "plugin built for 1.1, host serves up to 1.0"}},
		{"pointer size", []string{"-DDESC_POINTER_SIZE=4"}, nil, ErrCanary,
			[]string{sym, "4-byte pointers", "8-byte"}},
		{"byte order", []string{"-DDESC_ENDIAN=0x04030201u"}, nil, ErrCanary,
			[]string{sym, "byte order canary is 0x04030201"}},
		{"descriptor too small", []string{"-DDESC_SIZE=24"}, nil, ErrDescriptor,
			[]string{sym, "descriptor size 24 < " + psz}},
		{"descriptor head too small", []string{"-DDESC_SIZE=8"}, nil, ErrDescriptor,
			[]string{sym, "descriptor size 8 < " + psz}},
		{"NULL name", []string{"-DDESC_NAME=NULL"}, nil, ErrDescriptor,
			[]string{sym, "plugin name is NULL"}},
		{"empty name", []string{`-DDESC_NAME=""`}, nil, ErrDescriptor,
			[]string{sym, "plugin name is empty"}},
		{"NULL version", []string{"-DDESC_VERSION=NULL"}, nil, ErrDescriptor,
			[]string{sym, `plugin "bad": version is NULL`}},
		{"NULL exports", []string{"-DDESC_EXPORTS=NULL"}, nil, ErrDescriptor,
			[]string{sym, "exports is NULL but export_count is 2"}},
		{"absurd export count", []string{"-DDESC_EXPORT_COUNT=100000"}, nil, ErrDescriptor,
			[]string{sym, "export_count 100000 exceeds the limit of 65536"}},
		{"export count over option", nil, []Option{WithMaxExports(1)}, ErrDescriptor,
			[]string{sym, "export_count 2 exceeds the limit of 1"}},
		{"duplicate export", []string{`-DEXPORT_B_NAME="a"`}, nil, ErrExport,
			[]string{sym, `export "a"`, "exports #0 and #1 have the same name"}},
		{"NULL make", []string{"-DEXPORT_B_MAKE=NULL"}, nil, ErrExport,
			[]string{sym, `export "b"`, "make is NULL"}},
		{"export too small", []string{"-DEXPORT_SIZE=16"}, nil, ErrExport,
			[]string{sym, "export #0: size 16 < " + esz}},
		{"NULL export name", []string{"-DEXPORT_A_NAME=NULL"}, nil, ErrExport,
			[]string{sym, "export #0: name is NULL"}},
		{"empty export name", []string{`-DEXPORT_B_NAME=""`}, nil, ErrExport,
			[]string{sym, "export #1: name is empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := buildPlugin(t, "bad", c.flags...)
			lib, err := Open(p, c.opts...)
			if err == nil {
				lib.Close()
				t.Fatalf("Open succeeded; want %v", c.kind)
			}
			wantLoadError(t, err, c.kind, append([]string{"awake: load " + p + ": "}, c.parts...)...)
			if mapped(t, p) {
				t.Errorf("%s is still mapped after a failed Open", p)
			}
		})
	}
}

func TestLoadErrorMessage(t *testing.T) {
	e := &LoadError{Path: "/path/libfoo.so", Symbol: "awake_plugin_entry", Kind: ErrABIMajor,
		Detail: "plugin built for 2.0, host speaks 1.0 (rebuild the plugin against this awake.h)"}
	want := "awake: load /path/libfoo.so: symbol awake_plugin_entry: ABI major version mismatch: plugin built for 2.0, host speaks 1.0 (rebuild the plugin against this awake.h)"
	if e.Error() != want {
		t.Fatalf("Error() =\n%s\nwant\n%s", e.Error(), want)
	}
	if errors.Is(e, ErrABIMinor) || !errors.Is(e, ErrABIMajor) {
		t.Fatal("errors.Is must match the error's own Kind only")
	}
	wrapped := fmt.Errorf("starting: %w", e)
	if !errors.Is(wrapped, ErrABIMajor) {
		t.Fatal("errors.Is must see the Kind through wrapping")
	}
	for k := ErrPath; k <= ErrNotLive; k++ {
		if strings.HasPrefix(k.Error(), "cbindings.Kind") {
			t.Errorf("Kind %d has no description", int(k))
		}
	}
}
