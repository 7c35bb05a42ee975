package abi_test

// The compile matrix of include/awake.h: the header alone, a program that
// uses (and checks) every inline helper, and plugins written with
// AWAKE_PLUGIN_DEFINE, under gcc, clang, g++ and clang++ in every language
// mode the header promises (C99, C11, C++11) with -Wall -Wextra -Werror
// -pedantic. Sources live in testdata/headercheck/.

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/awake-rt/awake/abi"
)

// strictFlags are the warning flags every awake C and C++ build uses.
var strictFlags = []string{"-Wall", "-Wextra", "-Werror", "-pedantic"}

// toolchain is one compiler in one language mode.
type toolchain struct {
	compiler string // command name
	pkg      string // Debian package that installs it
	lang     string // "c" or "c++" (for -x)
	std      string // -std= value
}

func (tc toolchain) name() string { return tc.compiler + "/" + tc.std }

// toolchains is the matrix: gcc and clang x C99 and C11, g++ and clang++ x C++11.
var toolchains = []toolchain{
	{"gcc", "gcc", "c", "c99"},
	{"gcc", "gcc", "c", "c11"},
	{"clang", "clang", "c", "c99"},
	{"clang", "clang", "c", "c11"},
	{"g++", "g++", "c++", "c++11"},
	{"clang++", "clang", "c++", "c++11"},
}

// need skips the (sub)test when the compiler is not installed.
func (tc toolchain) need(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(tc.compiler); err != nil {
		t.Skipf("%s is not installed, so awake.h is not checked with it: install the Debian package %q (apt-get install %s)", tc.compiler, tc.pkg, tc.pkg)
	}
}

// argv returns the compiler command with the language mode and strict flags.
func (tc toolchain) argv(include string, extra ...string) []string {
	a := []string{tc.compiler, "-std=" + tc.std}
	a = append(a, strictFlags...)
	a = append(a, "-I", include)
	return append(a, extra...)
}

// headerLine returns "include/awake.h:N" for the first line containing
// text, so failure messages point at the current header.
func headerLine(t *testing.T, text string) string {
	t.Helper()
	f, err := os.Open(repoPath(t, "include/awake.h"))
	if err != nil {
		return "include/awake.h"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), text) {
			return fmt.Sprintf("include/awake.h:%d", n)
		}
	}
	return "include/awake.h"
}

func TestHeaderCompilesAlone(t *testing.T) {
	include := repoPath(t, "include")
	header := filepath.Join(include, "awake.h")
	for _, tc := range toolchains {
		t.Run(tc.name(), func(t *testing.T) {
			tc.need(t)
			t.Parallel()
			compile(t, tc.argv(include, "-fsyntax-only", "-x", tc.lang, header)...)
		})
	}
}

func TestHeaderHelpers(t *testing.T) {
	include := repoPath(t, "include")
	dir := repoPath(t, "testdata/headercheck")
	run := func(t *testing.T, argv []string, src string) {
		bin := filepath.Join(t.TempDir(), "use_all")
		compile(t, append(argv, "-o", bin, src)...)
		out := runProgram(t, bin)
		if !strings.HasPrefix(string(out), "use_all: ok") {
			t.Fatalf("%s reported:\n%s", src, out)
		}
		t.Logf("%s", strings.TrimSpace(string(out)))
	}
	for _, tc := range toolchains {
		t.Run(tc.name(), func(t *testing.T) {
			tc.need(t)
			t.Parallel()
			src := filepath.Join(dir, "use_all.c")
			if tc.lang == "c++" {
				src = filepath.Join(dir, "use_all.cpp")
			}
			run(t, tc.argv(include), src)
		})
	}
	// The target compiler too ($AWAKE_TARGET_CC or $CC, e.g. an arm64 cross
	// gcc whose program then runs under qemu): the helpers' atomics must
	// work on the architecture the Go side is built for.
	t.Run("target-cc", func(t *testing.T) {
		cc, how := targetCC(t)
		t.Logf("C compiler: %s (%s)", strings.Join(cc, " "), how)
		argv := append(slices.Clone(cc), "-std=c11")
		argv = append(argv, strictFlags...)
		run(t, append(argv, "-I", include), filepath.Join(dir, "use_all.c"))
	})
}

// pluginCase is one way of building a plugin with AWAKE_PLUGIN_DEFINE.
type pluginCase struct {
	name  string
	tc    toolchain
	src   string   // file in testdata/headercheck
	extra []string // more compiler flags
}

func pluginCases() []pluginCase {
	var cases []pluginCase
	for _, tc := range toolchains {
		src := "plugin.c"
		if tc.lang == "c++" {
			src = "plugin.cpp"
		}
		cases = append(cases, pluginCase{tc.name(), tc, src, nil})
		// One C mode per compiler is enough for these two: the first proves
		// AWAKE_EXPORT exports the entry when everything else is hidden, the
		// second that the macro accepts any names for its arguments.
		if tc.lang == "c" && tc.std == "c11" {
			cases = append(cases,
				pluginCase{tc.name() + "/visibility-hidden", tc, src, []string{"-fvisibility=hidden"}},
				pluginCase{tc.name() + "/renamed-arguments", tc, "plugin_renamed.c", nil})
		}
	}
	return cases
}

func TestPluginDefine(t *testing.T) {
	include := repoPath(t, "include")
	dir := repoPath(t, "testdata/headercheck")
	for _, pc := range pluginCases() {
		t.Run(pc.name, func(t *testing.T) {
			pc.tc.need(t)
			t.Parallel()
			so := filepath.Join(t.TempDir(), "plugin.so")
			argv := pc.tc.argv(include, "-shared", "-fPIC")
			argv = append(argv, pc.extra...)
			argv = append(argv, "-o", so, filepath.Join(dir, pc.src))
			out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
			if err != nil {
				hint := ""
				if strings.Contains(string(out), "no member named") {
					hint = fmt.Sprintf("\nheader bug: AWAKE_PLUGIN_DEFINE (%s) names its third parameter `exports`, which is also the awake_plugin member in `desc.exports = exports;`, so an exports array with any other name does not compile: rename the macro parameter (e.g. exports_array)",
						headerLine(t, "#define AWAKE_PLUGIN_DEFINE"))
				}
				t.Fatalf("building a plugin with AWAKE_PLUGIN_DEFINE failed: %v\ncommand: %s\n%s%s", err, strings.Join(argv, " "), out, hint)
			}
			checkPluginExports(t, so)
		})
	}
}

// checkPluginExports requires the shared library to export exactly one
// awake symbol, the entry point, as a function with C linkage (unmangled).
func checkPluginExports(t *testing.T, so string) {
	t.Helper()
	f, err := elf.Open(so)
	if err != nil {
		t.Fatalf("reading the built plugin %s: %v", so, err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatalf("reading the dynamic symbols of %s: %v", so, err)
	}
	const entry = abi.EntrySymbol // equal to AWAKE_ENTRY_SYMBOL, checked by TestLayoutMatchesC
	var exported []string
	found := false
	for _, s := range syms {
		bind := elf.ST_BIND(s.Info)
		if s.Section == elf.SHN_UNDEF || (bind != elf.STB_GLOBAL && bind != elf.STB_WEAK) || !strings.Contains(s.Name, "awake") {
			continue
		}
		exported = append(exported, s.Name)
		if s.Name == entry {
			found = true
			if typ := elf.ST_TYPE(s.Info); typ != elf.STT_FUNC {
				t.Errorf("%s exports %s as %v, want a function", so, entry, typ)
			}
		}
	}
	switch {
	case !found && slices.ContainsFunc(exported, func(n string) bool { return strings.HasPrefix(n, "_Z") }):
		t.Errorf("the plugin exports %q, a C++-mangled name, not %q, so hosts cannot find its entry point.\nheader bug: AWAKE_PLUGIN_DEFINE (%s) declares awake_plugin_entry outside the header's extern \"C\" block, so in C++ it gets C++ linkage: declare it with extern \"C\" under __cplusplus (e.g. #define AWAKE_EXTERN_C extern \"C\" in C++, empty in C, and prefix the macro's declaration with it)",
			exported, entry, headerLine(t, "#define AWAKE_PLUGIN_DEFINE"))
	case !found:
		t.Errorf("the plugin does not export %q (awake symbols exported: %q): AWAKE_EXPORT (%s) must give the entry default visibility", entry, exported, headerLine(t, "#define AWAKE_EXPORT"))
	case len(exported) != 1:
		t.Errorf("the plugin exports %q; want only %q (the inline helpers must stay static)", exported, entry)
	}
}
