package abi_test

// Proves the checks in layout_test.go can fail: each case feeds one
// deliberate drift between "C" and "Go" into a comparison function and
// requires exactly one report naming what drifted and both values. None of
// these cases needs a C compiler.

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// cloneLayout deep-copies a layout so a case can corrupt the copy; the copy
// plays the C side, so it carries no Go names.
func cloneLayout(l *layout) *layout {
	c := newLayout()
	c.arch, c.ptrSize = l.arch, l.ptrSize
	c.order = slices.Clone(l.order)
	for name, s := range l.structs {
		cs := &structLayout{size: s.size, align: s.align, order: slices.Clone(s.order), fields: map[string]fieldLayout{}}
		for fname, f := range s.fields {
			f.goName = ""
			// The C program reports pointers and function pointers as
			// "other"; mimic it so the clone is what C would print.
			if f.kind == "uintptr" || f.kind == "ptr" || f.kind == "struct" {
				f.kind = "other"
			}
			cs.fields[fname] = f
		}
		c.structs[name] = cs
	}
	c.consts = maps.Clone(l.consts)
	c.strings = maps.Clone(l.strings)
	return c
}

func TestComparisonsDetectDrift(t *testing.T) {
	goL := goLayout(structTable, constTable, stringConstTable)
	if errs := compareLayouts(goL, cloneLayout(goL)); len(errs) != 0 {
		t.Fatalf("an exact copy of the Go layout is reported as different: %v", errs)
	}

	io := goL.structs["awake_io"]
	fd := io.fields["fd"]
	cases := []struct {
		name  string
		drift func(c *layout)
		want  []string // every substring the one report must contain
	}{
		{"struct size", func(c *layout) { c.structs["awake_io"].size += 8 },
			[]string{"awake_io", "abi.IO", "sizeof", fmtInt("C ", io.size+8), fmtInt("Go ", io.size)}},
		{"struct alignment", func(c *layout) { c.structs["awake_waker"].align = 4 },
			[]string{"awake_waker", "abi.Waker", "alignment", "C 4", fmtInt("Go ", goL.structs["awake_waker"].align)}},
		{"member offset", func(c *layout) {
			f := c.structs["awake_io"].fields["fd"]
			f.offset += 4
			c.structs["awake_io"].fields["fd"] = f
		}, []string{"awake_io.fd", "abi.IO.Fd", "offset", fmtInt("C ", fd.offset+4), fmtInt("Go ", fd.offset)}},
		{"member size", func(c *layout) {
			f := c.structs["awake_host"].fields["abi_minor"]
			f.size = 4
			c.structs["awake_host"].fields["abi_minor"] = f
		}, []string{"awake_host.abi_minor", "abi.Host.AbiMinor", "size", "C 4", "Go 2"}},
		{"member signedness", func(c *layout) {
			f := c.structs["awake_io"].fields["fd"]
			f.kind = "u32"
			c.structs["awake_io"].fields["fd"] = f
		}, []string{"awake_io.fd", "abi.IO.Fd", "type", "C u32", "Go i32"}},
		{"pointer mirrored by an integer", func(c *layout) {
			f := c.structs["awake_timer"].fields["deadline_ns"]
			f.kind = "other"
			c.structs["awake_timer"].fields["deadline_ns"] = f
		}, []string{"awake_timer.deadline_ns", "abi.Timer.DeadlineNs", "C other", "Go u64"}},
		{"member only in C", func(c *layout) {
			s := c.structs["awake_context"]
			s.order = append(s.order, "extra")
			s.fields["extra"] = fieldLayout{offset: 40, size: 8, kind: "u64"}
		}, []string{"awake_context.extra", "abi.Context"}},
		{"member only in Go", func(c *layout) { delete(c.structs["awake_plugin"].fields, "exports") },
			[]string{"awake_plugin.exports", "abi.Plugin.Exports", "no such member in C"}},
		{"struct only in Go", func(c *layout) { delete(c.structs, "awake_bytes") },
			[]string{"awake_bytes", "abi.Bytes", "missing"}},
		{"struct only in C", func(c *layout) {
			c.order = append(c.order, "awake_new")
			c.structs["awake_new"] = &structLayout{size: 8, align: 8, fields: map[string]fieldLayout{}}
		}, []string{"awake_new", "no Go mirror"}},
		{"constant value", func(c *layout) { c.consts["AWAKE_E_CANARY"] = -9 },
			[]string{"AWAKE_E_CANARY", "abi.ECanary", "C -9", "Go -6"}},
		{"constant only in C", func(c *layout) { c.consts["AWAKE_E_NEW"] = -8 },
			[]string{"AWAKE_E_NEW", "-8", "no Go mirror"}},
		{"constant only in Go", func(c *layout) { delete(c.consts, "AWAKE_FUTURE_SEND") },
			[]string{"AWAKE_FUTURE_SEND", "abi.FutureSend", "missing"}},
		{"string constant", func(c *layout) { c.strings["AWAKE_ENTRY_SYMBOL"] = "awake_entry" },
			[]string{"AWAKE_ENTRY_SYMBOL", "abi.EntrySymbol", `C "awake_entry"`, `Go "awake_plugin_entry"`}},
		{"pointer size", func(c *layout) { c.ptrSize = 4 },
			[]string{"pointer size", "C sizeof(void *) 4", fmtInt("Go abi.PointerSize ", goL.ptrSize)}},
		{"architecture", func(c *layout) { c.arch = "s390x" },
			[]string{"s390x", goL.arch, "AWAKE_TARGET_CC"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cloneLayout(goL)
			tc.drift(c)
			expectOneReport(t, compareLayouts(goL, c), tc.want)
		})
	}
}

func TestTableChecksDetectDrift(t *testing.T) {
	type pair struct {
		Size uint32
		Fd   int32
	}
	spec := structSpec{"awake_pair", reflect.TypeFor[pair](), []fieldName{{"size", "Size"}, {"fd", "Fd"}}}
	if errs := checkGoFields(spec); len(errs) != 0 {
		t.Fatalf("a table that matches its Go struct is reported as different: %v", errs)
	}

	t.Run("Go field missing from the table", func(t *testing.T) {
		type grown struct {
			Size  uint32
			Fd    int32
			Extra uint64
		}
		s := structSpec{"awake_pair", reflect.TypeFor[grown](), spec.fields}
		errs := checkGoFields(s)
		expectReport(t, errs, []string{"awake_pair", "grown.Extra", "no C member"})
		expectReport(t, errs, []string{"field count", "2 members", "3 fields"})
	})
	t.Run("table member missing from Go", func(t *testing.T) {
		s := structSpec{"awake_pair", spec.goType, append(slices.Clone(spec.fields), fieldName{"flags", "Flags"})}
		errs := checkGoFields(s)
		expectReport(t, errs, []string{"awake_pair.flags", "Flags", "does not have"})
		expectReport(t, errs, []string{"field count", "3 members", "2 fields"})
	})
	t.Run("Go fields in another order", func(t *testing.T) {
		s := structSpec{"awake_pair", spec.goType, []fieldName{{"fd", "Fd"}, {"size", "Size"}}}
		expectOneReport(t, checkGoFields(s), []string{"awake_pair", "order", "[Size Fd]", "[Fd Size]"})
	})

	header := `
#define AWAKE_PAIR_MAX 3u /* mirrored */
#define AWAKE_NEW (-8)
typedef struct awake_pair {
    uint32_t size;  /* comment; with a semicolon */
    int32_t (*fd)(void *self,
                  int x);
    uint64_t extra[2];
} awake_pair;
`
	consts := []constSpec{{"AWAKE_PAIR_MAX", "PairMax", 3}}
	t.Run("header parser", func(t *testing.T) {
		h, err := parseHeader(header)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"size", "fd", "extra"}; !slices.Equal(h.members["awake_pair"], want) {
			t.Errorf("members of awake_pair parsed as %v, want %v", h.members["awake_pair"], want)
		}
		if want := []string{"AWAKE_PAIR_MAX", "AWAKE_NEW"}; !slices.Equal(h.defines, want) {
			t.Errorf("#defines parsed as %v, want %v", h.defines, want)
		}
	})
	t.Run("header member and define missing from the table", func(t *testing.T) {
		h, err := parseHeader(header)
		if err != nil {
			t.Fatal(err)
		}
		errs := checkTableAgainstHeader(h, []structSpec{spec}, consts, nil, nil)
		expectReport(t, errs, []string{"awake_pair", "[size fd extra]", "[size fd]"})
		expectReport(t, errs, []string{"AWAKE_NEW", "unmirroredDefines"})
		if len(errs) != 2 {
			t.Errorf("want 2 reports, got %d: %q", len(errs), errs)
		}
		if errs := checkTableAgainstHeader(h, []structSpec{spec}, consts, nil, map[string]string{"AWAKE_NEW": "test"}); len(errs) != 1 {
			t.Errorf("listing AWAKE_NEW as unmirrored should leave 1 report, got %q", errs)
		}
	})
	t.Run("table entries missing from the header", func(t *testing.T) {
		h, err := parseHeader(header)
		if err != nil {
			t.Fatal(err)
		}
		other := structSpec{"awake_gone", reflect.TypeFor[pair](), nil}
		errs := checkTableAgainstHeader(h, []structSpec{other}, append(slices.Clone(consts), constSpec{"AWAKE_GONE", "Gone", 1}), nil, map[string]string{"AWAKE_NEW": "test"})
		expectReport(t, errs, []string{"awake_gone", "no such struct"})
		expectReport(t, errs, []string{"awake_pair", "no entry in structTable"})
		expectReport(t, errs, []string{"AWAKE_GONE", "not #defined"})
	})
	t.Run("Go declarations missing from the table", func(t *testing.T) {
		errs := checkTableAgainstGo([]string{"PairMax", "NewThing", "PointerSize"}, []string{"pair", "Unmapped"},
			[]structSpec{spec}, append(slices.Clone(consts), constSpec{"AWAKE_GONE", "Gone", 1}), nil, map[string]string{"PointerSize": "test"})
		expectReport(t, errs, []string{"abi.NewThing", "goOnlyConsts"})
		expectReport(t, errs, []string{"abi.Gone", "not declared"})
		expectReport(t, errs, []string{"abi.Unmapped", "no entry in structTable"})
		if len(errs) != 3 {
			t.Errorf("want 3 reports, got %d: %q", len(errs), errs)
		}
	})
}

func fmtInt(prefix string, n uintptr) string { return fmt.Sprintf("%s%d", prefix, n) }

// expectOneReport requires exactly one report, containing every substring.
func expectOneReport(t *testing.T, errs, want []string) {
	t.Helper()
	if len(errs) != 1 {
		t.Fatalf("want exactly one report containing %q, got %d: %q", want, len(errs), errs)
	}
	expectReport(t, errs, want)
}

// expectReport requires some report to contain every substring.
func expectReport(t *testing.T, errs, want []string) {
	t.Helper()
	for _, e := range errs {
		ok := true
		for _, w := range want {
			if !strings.Contains(e, w) {
				ok = false
				break
			}
		}
		if ok {
			t.Logf("reported as expected: %s", e)
			return
		}
	}
	t.Errorf("no report contains all of %q; reports: %q", want, errs)
}
