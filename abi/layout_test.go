package abi_test

// Proves that package abi and include/awake.h describe the same memory:
//
//   - TestTableCoversHeader: every struct, member and #define in the header's
//     text appears in tables_test.go (in order, for members);
//   - TestTableCoversGo: every exported struct type and constant of package
//     abi appears in the tables, and every table entry exists in Go;
//   - TestLayoutMatchesC: a C program generated from the tables, built with
//     the target C compiler, prints sizeof, _Alignof, every member's offsetof,
//     sizeof and integer kind, and every constant; all must equal the Go
//     values (reflect's Size/Align/Offset, which are unsafe.Sizeof, Alignof
//     and Offsetof);
//   - TestComparisonsDetectDrift: the comparison functions report deliberate
//     mismatches, so the tests above can fail.

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/awake-rt/awake/abi"
)

// fieldLayout is one struct member as one side lays it out.
type fieldLayout struct {
	goName string // empty on the C side
	offset uintptr
	size   uintptr
	kind   string // integer kind ("u32", "i32"...) or "other"/"uintptr"/"ptr"/"struct"
}

// structLayout is one struct as one side lays it out.
type structLayout struct {
	goName string // empty on the C side
	size   uintptr
	align  uintptr
	order  []string // C member names in declaration order
	fields map[string]fieldLayout
}

// layout is everything compared between the two sides, keyed by C names.
type layout struct {
	arch     string
	ptrSize  uintptr
	order    []string // C struct names
	structs  map[string]*structLayout
	consts   map[string]int64
	strings  map[string]string
	goConsts map[string]string // C constant name -> Go name (Go side only)
}

func newLayout() *layout {
	return &layout{
		structs:  map[string]*structLayout{},
		consts:   map[string]int64{},
		strings:  map[string]string{},
		goConsts: map[string]string{},
	}
}

// goKind names a Go field type the way the C program names member types.
func goKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int8:
		return "i8"
	case reflect.Uint8:
		return "u8"
	case reflect.Int16:
		return "i16"
	case reflect.Uint16:
		return "u16"
	case reflect.Int32:
		return "i32"
	case reflect.Uint32:
		return "u32"
	case reflect.Int64:
		return "i64"
	case reflect.Uint64:
		return "u64"
	case reflect.Uintptr:
		return "uintptr"
	case reflect.Pointer, reflect.UnsafePointer:
		return "ptr"
	case reflect.Struct:
		return "struct"
	}
	return t.Kind().String()
}

// kindsAgree says whether a Go field kind may mirror a C member kind. Fixed-
// width integers must match exactly (sign included). A Go uintptr mirrors a
// C pointer, function pointer or size_t (which C may report as an unsigned
// integer of pointer width); Go pointers and structs mirror C pointers and
// structs only.
func kindsAgree(goK, cK string) bool {
	switch goK {
	case "uintptr":
		return cK == "other" || cK == "u64" || cK == "u32"
	case "ptr", "struct":
		return cK == "other"
	}
	return goK == cK
}

// goLayout builds the Go side of the comparison from the tables.
func goLayout(structs []structSpec, consts []constSpec, strs []stringConstSpec) *layout {
	l := newLayout()
	l.arch = runtime.GOARCH
	l.ptrSize = uintptr(abi.PointerSize)
	for _, s := range structs {
		sl := &structLayout{
			goName: "abi." + s.goType.Name(),
			size:   s.goType.Size(),
			align:  uintptr(s.goType.Align()),
			fields: map[string]fieldLayout{},
		}
		for _, f := range s.fields {
			gf, ok := s.goType.FieldByName(f.goName)
			if !ok {
				continue // reported by checkGoFields
			}
			sl.order = append(sl.order, f.c)
			sl.fields[f.c] = fieldLayout{
				goName: sl.goName + "." + f.goName,
				offset: gf.Offset,
				size:   gf.Type.Size(),
				kind:   goKind(gf.Type),
			}
		}
		l.order = append(l.order, s.c)
		l.structs[s.c] = sl
	}
	for _, c := range consts {
		l.consts[c.c] = c.value
		l.goConsts[c.c] = "abi." + c.goName
	}
	for _, c := range strs {
		l.strings[c.c] = c.value
		l.goConsts[c.c] = "abi." + c.goName
	}
	return l
}

// checkGoFields reports every difference between a Go struct's fields and
// the table's list of members: a field on one side only, or another order.
func checkGoFields(s structSpec) []string {
	var errs []string
	t := s.goType
	inTable := map[string]bool{}
	for _, f := range s.fields {
		inTable[f.goName] = true
		if _, ok := t.FieldByName(f.goName); !ok {
			errs = append(errs, fmt.Sprintf("%s: the table maps C member %s.%s to Go field %s, which abi.%s does not have: add the field to abi.%s (in header order) or fix the table",
				s.c, s.c, f.c, f.goName, t.Name(), t.Name()))
		}
	}
	var goNames []string
	for i := range t.NumField() {
		name := t.Field(i).Name
		goNames = append(goNames, name)
		if !inTable[name] {
			errs = append(errs, fmt.Sprintf("%s: Go field abi.%s.%s has no C member in the table: add the member to include/awake.h and the table, or remove the field",
				s.c, t.Name(), name))
		}
	}
	if t.NumField() != len(s.fields) {
		errs = append(errs, fmt.Sprintf("%s: field count differs: table (C) has %d members, Go abi.%s has %d fields", s.c, len(s.fields), t.Name(), t.NumField()))
	}
	var tableNames []string
	for _, f := range s.fields {
		tableNames = append(tableNames, f.goName)
	}
	if len(errs) == 0 && !slices.Equal(goNames, tableNames) {
		errs = append(errs, fmt.Sprintf("%s: Go fields of abi.%s are in the order %v, the header's members map to %v", s.c, t.Name(), goNames, tableNames))
	}
	return errs
}

// compareLayouts returns one message per difference between the Go side and
// the C side, naming the struct, member, C value and Go value.
func compareLayouts(goL, cL *layout) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if goL.arch != cL.arch {
		bad("architecture: the C compiler built a program for %s, this test binary is GOARCH=%s: set $AWAKE_TARGET_CC (or $CC) to a C compiler for %s",
			cL.arch, goL.arch, goL.arch)
		return errs // the layouts of two architectures say nothing
	}
	if goL.ptrSize != cL.ptrSize {
		bad("pointer size: C sizeof(void *) %d, Go abi.PointerSize %d", cL.ptrSize, goL.ptrSize)
	}
	for _, name := range goL.order {
		g := goL.structs[name]
		c, ok := cL.structs[name]
		if !ok {
			bad("%s (%s): missing from the C program's output", name, g.goName)
			continue
		}
		if g.size != c.size {
			bad("%s (%s): sizeof: C %d, Go %d", name, g.goName, c.size, g.size)
		}
		if g.align != c.align {
			bad("%s (%s): alignment: C %d, Go %d", name, g.goName, c.align, g.align)
		}
		for _, fname := range g.order {
			gf := g.fields[fname]
			cf, ok := c.fields[fname]
			if !ok {
				bad("%s.%s (%s): no such member in C", name, fname, gf.goName)
				continue
			}
			if gf.offset != cf.offset {
				bad("%s.%s (%s): offset: C %d, Go %d", name, fname, gf.goName, cf.offset, gf.offset)
			}
			if gf.size != cf.size {
				bad("%s.%s (%s): size: C %d, Go %d", name, fname, gf.goName, cf.size, gf.size)
			}
			if !kindsAgree(gf.kind, cf.kind) {
				bad("%s.%s (%s): type: C %s, Go %s", name, fname, gf.goName, cf.kind, gf.kind)
			}
		}
		for _, fname := range c.order {
			if _, ok := g.fields[fname]; !ok {
				bad("%s.%s: C member has no Go field in %s", name, fname, g.goName)
			}
		}
	}
	for _, name := range cL.order {
		if _, ok := goL.structs[name]; !ok {
			bad("%s: C struct has no Go mirror", name)
		}
	}
	for _, name := range sortedKeys(goL.consts) {
		gv := goL.consts[name]
		cv, ok := cL.consts[name]
		switch {
		case !ok:
			bad("%s (%s): missing from the C program's output", name, goL.goConsts[name])
		case cv != gv:
			bad("%s (%s): value: C %d, Go %d", name, goL.goConsts[name], cv, gv)
		}
	}
	for _, name := range sortedKeys(goL.strings) {
		gv := goL.strings[name]
		cv, ok := cL.strings[name]
		switch {
		case !ok:
			bad("%s (%s): missing from the C program's output", name, goL.goConsts[name])
		case cv != gv:
			bad("%s (%s): value: C %q, Go %q", name, goL.goConsts[name], cv, gv)
		}
	}
	for _, name := range sortedKeys(cL.consts) {
		if _, ok := goL.consts[name]; !ok {
			bad("%s: C constant (value %d) has no Go mirror", name, cL.consts[name])
		}
	}
	for _, name := range sortedKeys(cL.strings) {
		if _, ok := goL.strings[name]; !ok {
			bad("%s: C constant (value %q) has no Go mirror", name, cL.strings[name])
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// cProgram generates the C program that prints the C side of the layout,
// one fact per line (see parseCOutput).
func cProgram(structs []structSpec, consts []constSpec, strs []stringConstSpec) string {
	var b strings.Builder
	b.WriteString(`/* Generated by abi/layout_test.go from abi/tables_test.go. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "awake.h"

#define KIND(x) _Generic((x), int8_t: "i8", uint8_t: "u8", int16_t: "i16", \
    uint16_t: "u16", int32_t: "i32", uint32_t: "u32", int64_t: "i64",       \
    uint64_t: "u64", default: "other")
#define STRUCT(T) printf("struct %s %lu %lu\n", #T, \
    (unsigned long)sizeof(T), (unsigned long)_Alignof(T))
#define FIELD(T, f) printf("field %s %s %lu %lu %s\n", #T, #f, \
    (unsigned long)offsetof(T, f), (unsigned long)sizeof(((T *)0)->f), \
    KIND(((T *)0)->f))
#define CONST(N) printf("const %s %lld\n", #N, (long long)(N))
#define STRING(N) printf("string %s %s\n", #N, N)

#if defined(__x86_64__)
#define ARCH "amd64"
#elif defined(__aarch64__)
#define ARCH "arm64"
#elif defined(__i386__)
#define ARCH "386"
#elif defined(__arm__)
#define ARCH "arm"
#elif defined(__riscv) && __riscv_xlen == 64
#define ARCH "riscv64"
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
#define ARCH "ppc64le"
#elif defined(__s390x__)
#define ARCH "s390x"
#else
#define ARCH "unknown"
#endif

int main(void) {
    printf("arch %s\n", ARCH);
    printf("pointer_size %lu\n", (unsigned long)sizeof(void *));
`)
	for _, s := range structs {
		fmt.Fprintf(&b, "    STRUCT(%s);\n", s.c)
		for _, f := range s.fields {
			fmt.Fprintf(&b, "    FIELD(%s, %s);\n", s.c, f.c)
		}
	}
	for _, c := range consts {
		fmt.Fprintf(&b, "    CONST(%s);\n", c.c)
	}
	for _, c := range strs {
		fmt.Fprintf(&b, "    STRING(%s);\n", c.c)
	}
	b.WriteString("    return 0;\n}\n")
	return b.String()
}

// parseCOutput reads what cProgram's program printed.
func parseCOutput(out string) (*layout, error) {
	l := newLayout()
	num := func(s string) (uintptr, error) {
		n, err := strconv.ParseUint(s, 10, 64)
		return uintptr(n), err
	}
	for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		w := strings.Fields(line)
		var err error
		switch {
		case len(w) == 2 && w[0] == "arch":
			l.arch = w[1]
		case len(w) == 2 && w[0] == "pointer_size":
			l.ptrSize, err = num(w[1])
		case len(w) == 4 && w[0] == "struct":
			s := &structLayout{fields: map[string]fieldLayout{}}
			if s.size, err = num(w[2]); err == nil {
				s.align, err = num(w[3])
			}
			l.order = append(l.order, w[1])
			l.structs[w[1]] = s
		case len(w) == 6 && w[0] == "field":
			s, ok := l.structs[w[1]]
			if !ok {
				return nil, fmt.Errorf("line %d %q: member of a struct not printed before it", i+1, line)
			}
			var f fieldLayout
			if f.offset, err = num(w[3]); err == nil {
				f.size, err = num(w[4])
			}
			f.kind = w[5]
			s.order = append(s.order, w[2])
			s.fields[w[2]] = f
		case len(w) == 3 && w[0] == "const":
			l.consts[w[1]], err = strconv.ParseInt(w[2], 10, 64)
		case len(w) >= 2 && w[0] == "string":
			l.strings[w[1]] = strings.SplitN(line, " ", 3)[2]
		default:
			return nil, fmt.Errorf("line %d %q: not a line the layout program prints", i+1, line)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %v", i+1, line, err)
		}
	}
	return l, nil
}

// headerInfo is what the header's text declares.
type headerInfo struct {
	defines []string            // every #define name
	structs []string            // every typedef struct name, in order
	members map[string][]string // struct -> member names in order
}

var (
	commentRE   = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	defineRE    = regexp.MustCompile(`(?m)^[ \t]*#[ \t]*define[ \t]+(\w+)`)
	structRE    = regexp.MustCompile(`typedef\s+struct\s+(\w+)\s*\{([^{}]*)\}\s*(\w+)\s*;`)
	funcPtrRE   = regexp.MustCompile(`\(\s*\*\s*(\w+)\s*\)`)
	lastIdentRE = regexp.MustCompile(`(\w+)\s*(?:\[[^\]]*\]\s*)*$`)
)

// parseHeader extracts the #defines and the typedef'd structs with their
// members from C header text. It understands what awake.h uses: one typedef
// per struct, members that are plain declarations, arrays or function
// pointers, no nested struct definitions.
func parseHeader(src string) (headerInfo, error) {
	h := headerInfo{members: map[string][]string{}}
	src = strings.ReplaceAll(src, "\\\n", " ")
	src = commentRE.ReplaceAllString(src, " ")
	for _, m := range defineRE.FindAllStringSubmatch(src, -1) {
		h.defines = append(h.defines, m[1])
	}
	for _, m := range structRE.FindAllStringSubmatch(src, -1) {
		tag, body, name := m[1], m[2], m[3]
		if tag != name {
			return h, fmt.Errorf("typedef struct %s {...} %s: tag and typedef name differ; the tests key structs by one name", tag, name)
		}
		var members []string
		for _, decl := range strings.Split(body, ";") {
			decl = strings.TrimSpace(decl)
			if decl == "" {
				continue
			}
			if fp := funcPtrRE.FindStringSubmatch(decl); fp != nil {
				members = append(members, fp[1])
				continue
			}
			for i, part := range strings.Split(decl, ",") {
				id := lastIdentRE.FindStringSubmatch(strings.TrimSpace(part))
				if id == nil || (i == 0 && !strings.ContainsAny(strings.TrimSpace(part), " \t\n*")) {
					return h, fmt.Errorf("struct %s: cannot find the member name in %q", name, decl)
				}
				members = append(members, id[1])
			}
		}
		h.structs = append(h.structs, name)
		h.members[name] = members
	}
	return h, nil
}

// checkTableAgainstHeader reports every struct, member or #define the header
// declares that the tables lack, and every table entry the header lacks.
func checkTableAgainstHeader(h headerInfo, structs []structSpec, consts []constSpec, strs []stringConstSpec, unmirrored map[string]string) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	table := map[string]structSpec{}
	for _, s := range structs {
		table[s.c] = s
		if _, ok := h.members[s.c]; !ok {
			bad("%s: in the table (Go abi.%s) but awake.h defines no such struct", s.c, s.goType.Name())
		}
	}
	for _, name := range h.structs {
		s, ok := table[name]
		if !ok {
			bad("%s: struct in awake.h with no entry in structTable (abi/tables_test.go): add a Go mirror to abi/abi.go and a table entry", name)
			continue
		}
		var tableMembers []string
		for _, f := range s.fields {
			tableMembers = append(tableMembers, f.c)
		}
		if !slices.Equal(h.members[name], tableMembers) {
			bad("%s: awake.h declares the members %v, the table (Go abi.%s) lists %v", name, h.members[name], s.goType.Name(), tableMembers)
		}
	}
	mirrored := map[string]bool{}
	for _, c := range consts {
		mirrored[c.c] = true
	}
	for _, c := range strs {
		mirrored[c.c] = true
	}
	defined := map[string]bool{}
	for _, d := range h.defines {
		defined[d] = true
		if !mirrored[d] && unmirrored[d] == "" {
			bad("%s: #defined in awake.h but neither mirrored in constTable/stringConstTable nor listed in unmirroredDefines (abi/tables_test.go): add a Go constant to abi/abi.go or say why not", d)
		}
	}
	for _, name := range sortedKeys(mirrored) {
		if !defined[name] {
			bad("%s: in the constant tables but not #defined in awake.h", name)
		}
	}
	return errs
}

// goDecls lists the exported constants and struct types declared in the
// non-test Go files of dir.
func goDecls(dir string) (consts, structs []string, err error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, nil, err
	}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				switch s := spec.(type) {
				case *ast.ValueSpec:
					if gd.Tok != token.CONST {
						continue
					}
					for _, n := range s.Names {
						if n.IsExported() {
							consts = append(consts, n.Name)
						}
					}
				case *ast.TypeSpec:
					if _, isStruct := s.Type.(*ast.StructType); isStruct && s.Name.IsExported() {
						structs = append(structs, s.Name.Name)
					}
				}
			}
		}
	}
	return consts, structs, nil
}

// checkTableAgainstGo reports exported Go constants and struct types of
// package abi missing from the tables, and table entries whose Go fields
// differ from the table's member list.
func checkTableAgainstGo(goConsts, goStructs []string, structs []structSpec, consts []constSpec, strs []stringConstSpec, goOnly map[string]string) []string {
	var errs []string
	inTable := map[string]bool{}
	for _, c := range consts {
		inTable[c.goName] = true
	}
	for _, c := range strs {
		inTable[c.goName] = true
	}
	declared := map[string]bool{}
	for _, name := range goConsts {
		declared[name] = true
		if !inTable[name] && goOnly[name] == "" {
			errs = append(errs, fmt.Sprintf("abi.%s: exported Go constant with no #define in constTable/stringConstTable nor goOnlyConsts (abi/tables_test.go): add the #define to awake.h and the table, or say why it is Go-only", name))
		}
	}
	for _, name := range sortedKeys(inTable) {
		if !declared[name] {
			errs = append(errs, fmt.Sprintf("abi.%s: named in the constant tables but not declared in package abi", name))
		}
	}
	mirrored := map[string]bool{}
	for _, s := range structs {
		mirrored[s.goType.Name()] = true
		errs = append(errs, checkGoFields(s)...)
	}
	for _, name := range goStructs {
		if !mirrored[name] {
			errs = append(errs, fmt.Sprintf("abi.%s: exported Go struct with no entry in structTable (abi/tables_test.go): add its C struct to awake.h and the table, or remove it", name))
		}
	}
	return errs
}

func reportAll(t *testing.T, errs []string) {
	t.Helper()
	for _, e := range errs {
		t.Error(e)
	}
}

func TestTableCoversHeader(t *testing.T) {
	path := repoPath(t, "include/awake.h")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	h, err := parseHeader(string(src))
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	if len(h.structs) < len(structTable) || len(h.defines) == 0 {
		t.Fatalf("parsing %s found %d structs and %d #defines, fewer than the table's %d structs: the parser no longer understands the header", path, len(h.structs), len(h.defines), len(structTable))
	}
	reportAll(t, checkTableAgainstHeader(h, structTable, constTable, stringConstTable, unmirroredDefines))
}

func TestTableCoversGo(t *testing.T) {
	consts, structs, err := goDecls(".")
	if err != nil {
		t.Fatalf("parsing package abi's Go files: %v", err)
	}
	if len(structs) == 0 || len(consts) == 0 {
		t.Fatalf("found %d Go structs and %d constants in package abi: the scanner no longer understands the package", len(structs), len(consts))
	}
	reportAll(t, checkTableAgainstGo(consts, structs, structTable, constTable, stringConstTable, goOnlyConsts))
}

func TestLayoutMatchesC(t *testing.T) {
	cc, how := targetCC(t)
	include := repoPath(t, "include")
	dir := t.TempDir()
	src := filepath.Join(dir, "layout.c")
	bin := filepath.Join(dir, "layout")
	prog := cProgram(structTable, constTable, stringConstTable)
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatalf("writing %s: %v", src, err)
	}
	t.Logf("C compiler: %s (%s)", strings.Join(cc, " "), how)
	argv := append(slices.Clone(cc), "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic",
		"-I", include, "-o", bin, src)
	compile(t, argv...)
	out := runProgram(t, bin)
	cL, err := parseCOutput(string(out))
	if err != nil {
		t.Fatalf("reading the layout program's output: %v\noutput:\n%s", err, out)
	}
	goL := goLayout(structTable, constTable, stringConstTable)
	errs := compareLayouts(goL, cL)
	reportAll(t, errs)
	if len(errs) == 0 {
		t.Logf("%s: %d structs, %d members, %d constants agree with package abi",
			cL.arch, len(cL.structs), countMembers(cL), len(cL.consts)+len(cL.strings))
	}

	if cL.arch != goL.arch {
		return // already reported; another architecture's layout proves nothing
	}
	// The same real C output against a deliberately wrong Go side: awake_io's
	// fd and interest mapped to each other's Go field must be reported.
	t.Run("detects a swapped mapping", func(t *testing.T) {
		wrong := slices.Clone(structTable)
		for i, s := range wrong {
			if s.c != "awake_io" {
				continue
			}
			s.fields = slices.Clone(s.fields)
			for j, f := range s.fields {
				switch f.c {
				case "fd":
					s.fields[j].goName = "Interest"
				case "interest":
					s.fields[j].goName = "Fd"
				}
			}
			wrong[i] = s
		}
		errs := compareLayouts(goLayout(wrong, constTable, stringConstTable), cL)
		expectReport(t, errs, []string{"awake_io.fd", "abi.IO.Interest", "offset"})
		expectReport(t, errs, []string{"awake_io.fd", "abi.IO.Interest", "type: C i32, Go u32"})
		expectReport(t, errs, []string{"awake_io.interest", "abi.IO.Fd", "type: C u32, Go i32"})
	})
}

func countMembers(l *layout) int {
	n := 0
	for _, s := range l.structs {
		n += len(s.fields)
	}
	return n
}
