package abi_test

// Helpers shared by the tests that compile C: finding compilers, locating
// include/ and testdata/, and running a compiled program even when it is
// built for another architecture (arm64 under qemu-user).

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// repoPath returns the absolute path of a file or directory at the module
// root (tests run with the package directory, abi/, as working directory).
func repoPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", rel))
	if err != nil {
		t.Fatalf("resolving %s from the abi package directory: %v", rel, err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing (%v): run the test from a full checkout of the awake module", p, err)
	}
	return p
}

// gnuArch maps GOARCH to the architecture prefix of GNU target triples
// (what `cc -dumpmachine` prints and cross compilers are named after).
var gnuArch = map[string]string{
	"amd64":   "x86_64",
	"arm64":   "aarch64",
	"386":     "i686",
	"arm":     "arm",
	"riscv64": "riscv64",
	"ppc64le": "powerpc64le",
	"s390x":   "s390x",
}

// targetCC returns the C compiler (argv prefix) that builds programs for the
// architecture this test binary runs on, and where the choice came from. In
// order: $AWAKE_TARGET_CC, $CC, then "cc" -- unless "cc" targets another
// architecture than runtime.GOARCH (a GOARCH=arm64 test run under qemu on an
// amd64 host), in which case <arch>-linux-gnu-gcc is used when installed.
// It skips the test only when no compiler exists at all.
func targetCC(t *testing.T) ([]string, string) {
	t.Helper()
	for _, env := range []string{"AWAKE_TARGET_CC", "CC"} {
		argv := strings.Fields(os.Getenv(env))
		if len(argv) == 0 {
			continue
		}
		if _, err := exec.LookPath(argv[0]); err != nil {
			t.Fatalf("$%s=%q names a C compiler that is not installed (%v): install it or unset $%s", env, os.Getenv(env), err, env)
		}
		return argv, "$" + env
	}
	want := gnuArch[runtime.GOARCH]
	if _, err := exec.LookPath("cc"); err == nil {
		out, err := exec.Command("cc", "-dumpmachine").Output()
		if err != nil || want == "" || strings.HasPrefix(string(out), want+"-") {
			return []string{"cc"}, "default cc"
		}
		cross := want + "-linux-gnu-gcc"
		if _, err := exec.LookPath(cross); err == nil {
			return []string{cross}, fmt.Sprintf("cc targets %s, this test binary is GOARCH=%s", strings.TrimSpace(string(out)), runtime.GOARCH)
		}
		t.Fatalf("cc targets %s but this test binary is GOARCH=%s and %s is not installed: set $AWAKE_TARGET_CC to a C compiler for %s", strings.TrimSpace(string(out)), runtime.GOARCH, cross, runtime.GOARCH)
	}
	t.Skip("no C compiler found (checked $AWAKE_TARGET_CC, $CC and cc): install gcc or clang to check awake.h against abi")
	return nil, ""
}

// compile runs argv (a compiler and its arguments) and fails the test with
// the compiler's output if it does not succeed.
func compile(t *testing.T, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("compiling failed: %v\ncommand: %s\n%s", err, strings.Join(argv, " "), out)
	}
	if len(out) > 0 {
		t.Logf("compiler output from %s:\n%s", strings.Join(argv, " "), out)
	}
}

// qemuFor maps an ELF machine to the qemu-user emulator and the sysroot its
// dynamic loader lives in (Debian's cross toolchain layout).
var qemuFor = map[elf.Machine][2]string{
	elf.EM_AARCH64: {"qemu-aarch64", "/usr/aarch64-linux-gnu"},
	elf.EM_X86_64:  {"qemu-x86_64", "/usr/x86_64-linux-gnu"},
	elf.EM_RISCV:   {"qemu-riscv64", "/usr/riscv64-linux-gnu"},
}

// runProgram runs a compiled C program and returns its stdout. When the
// kernel cannot execute it (ENOEXEC: built for another architecture and no
// binfmt handler registered, as when this test itself runs under qemu-user),
// it runs the program under the matching qemu-user emulator instead.
func runProgram(t *testing.T, bin string) []byte {
	t.Helper()
	out, err := exec.Command(bin).Output()
	if errors.Is(err, syscall.ENOEXEC) {
		f, ferr := elf.Open(bin)
		if ferr != nil {
			t.Fatalf("running %s: %v, and it is not a readable ELF file either: %v", bin, err, ferr)
		}
		machine := f.Machine
		f.Close()
		emu, ok := qemuFor[machine]
		if !ok {
			t.Fatalf("running %s: %v; it is built for %v and no qemu-user emulator is known for that machine", bin, err, machine)
		}
		if _, lerr := exec.LookPath(emu[0]); lerr != nil {
			t.Fatalf("running %s: %v; it is built for %v: install %s (Debian package qemu-user) to run it", bin, err, machine, emu[0])
		}
		args := []string{bin}
		if _, serr := os.Stat(emu[1]); serr == nil && os.Getenv("QEMU_LD_PREFIX") == "" {
			args = append([]string{"-L", emu[1]}, args...)
		}
		t.Logf("%s is built for %v; running it under %s %s", bin, machine, emu[0], strings.Join(args, " "))
		out, err = exec.Command(emu[0], args...).Output()
	}
	if err != nil {
		var stderr []byte
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("running %s failed: %v\nstdout:\n%s\nstderr:\n%s", bin, err, out, stderr)
	}
	return out
}
