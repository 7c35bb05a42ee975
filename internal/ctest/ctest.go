// Package ctest compiles C sources for Go tests: test plugins (shared
// libraries) and small C programs, built with the system C compiler into the
// test's temporary directory.
//
// It honours $CC (default "cc") so that a cross build (for example
// CC=aarch64-linux-gnu-gcc GOARCH=arm64) compiles the C side for the same
// target, and it always adds -I <repo>/include so sources can include
// "awake.h". Every build uses the project's C flags
// (-std=c11 -Wall -Wextra -Werror -pedantic), then the words of
// $AWAKE_CFLAGS (e.g. "-fsanitize=address,undefined -g" for the sanitizer
// run, make asan); a caller's extra flags come last and can override them (a
// later -std wins).
//
// It is for tests only: it must never be imported by non-test code, and it
// never writes outside t.TempDir().
package ctest

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Kind says what Build produces.
type Kind int

const (
	// Shared is a shared library (-shared -fPIC), to be opened with dlopen.
	Shared Kind = iota
	// Exe is an executable program.
	Exe
)

// Flags are the C flags every Build uses, before the caller's extra flags.
var Flags = []string{"-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"}

// CC returns the C compiler command: $CC, or "cc" when $CC is empty. It may
// hold several words ("ccache gcc", "zig cc"); Build splits it on spaces.
func CC() string {
	if cc := strings.TrimSpace(os.Getenv("CC")); cc != "" {
		return cc
	}
	return "cc"
}

// RepoRoot returns the root of the awake module: the nearest directory at or
// above the working directory that holds go.mod. It fails the test if there
// is none.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("ctest: cannot get the working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("ctest: no go.mod at or above the working directory; run the test from inside the awake module")
		}
		dir = parent
	}
}

// Build compiles srcs with CC() into a new file in t.TempDir() and returns its
// absolute path. A relative source path is taken from the repository root
// (e.g. "testdata/plugins/good.c"). The output is named after the first
// source: good.so for Shared (good.dylib on darwin), good for Exe.
// extraFlags are appended after the sources, so they may hold -l libraries
// and may override the default flags. A compiler failure fails the test with
// the full command line and the compiler's output.
func Build(t testing.TB, kind Kind, srcs []string, extraFlags ...string) string {
	t.Helper()
	if len(srcs) == 0 {
		t.Fatalf("ctest.Build: no source files given")
	}
	root := RepoRoot(t)
	base := strings.TrimSuffix(filepath.Base(srcs[0]), filepath.Ext(srcs[0]))
	out := filepath.Join(t.TempDir(), base)

	cc := strings.Fields(CC())
	args := append([]string{}, cc[1:]...)
	args = append(args, Flags...)
	args = append(args, strings.Fields(os.Getenv("AWAKE_CFLAGS"))...)
	switch kind {
	case Shared:
		args = append(args, "-shared", "-fPIC")
		if runtime.GOOS == "darwin" {
			out += ".dylib"
		} else {
			out += ".so"
		}
	case Exe:
	default:
		t.Fatalf("ctest.Build: unknown kind %d (use ctest.Shared or ctest.Exe)", kind)
	}
	args = append(args, "-I", filepath.Join(root, "include"))
	for _, s := range srcs {
		if !filepath.IsAbs(s) {
			s = filepath.Join(root, s)
		}
		args = append(args, s)
	}
	args = append(args, "-o", out)
	args = append(args, extraFlags...)

	cmd := exec.Command(cc[0], args...)
	var outBuf bytes.Buffer
	cmd.Stdout = &outBuf
	cmd.Stderr = &outBuf
	if err := cmd.Run(); err != nil {
		t.Fatalf("ctest.Build: %s %s: %v\n%s\n(set $CC to a working C compiler if %q is missing)",
			cc[0], strings.Join(args, " "), err, outBuf.String(), cc[0])
	}
	return out
}

// Command returns an exec.Cmd that runs the program at path, under
// qemu-user when the program is an ELF file for another machine than the
// one running the test (an arm64 test binary under qemu-aarch64 cannot exec
// an arm64 program directly unless binfmt_misc is set up, and this keeps the
// arm64 tier independent of that).
func Command(t testing.TB, path string, args ...string) *exec.Cmd {
	t.Helper()
	machine, ok := elfMachine(path)
	if !ok || machine == hostMachine() {
		return exec.Command(path, args...)
	}
	emu, known := qemuFor[machine]
	if !known {
		t.Fatalf("ctest.Command: %s is built for %v and no qemu-user emulator is known for it", path, machine)
	}
	if _, err := exec.LookPath(emu.bin); err != nil {
		t.Fatalf("ctest.Command: %s is built for %v: install %s (Debian package qemu-user) to run it", path, machine, emu.bin)
	}
	qargs := []string{}
	if _, err := os.Stat(emu.sysroot); err == nil && os.Getenv("QEMU_LD_PREFIX") == "" {
		qargs = append(qargs, "-L", emu.sysroot)
	}
	return exec.Command(emu.bin, append(append(qargs, path), args...)...)
}

type emulator struct{ bin, sysroot string }

var qemuFor = map[elf.Machine]emulator{
	elf.EM_AARCH64: {"qemu-aarch64", "/usr/aarch64-linux-gnu"},
	elf.EM_X86_64:  {"qemu-x86_64", "/usr/x86_64-linux-gnu"},
}

func elfMachine(path string) (elf.Machine, bool) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return f.Machine, true
}

// hostMachine is the machine of the kernel's own binaries: the one the test
// binary can exec directly (under qemu-user, GOARCH differs from it).
func hostMachine() elf.Machine {
	if m, ok := elfMachine("/bin/sh"); ok {
		return m
	}
	switch runtime.GOARCH {
	case "arm64":
		return elf.EM_AARCH64
	default:
		return elf.EM_X86_64
	}
}
