package ctest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestRepoRootHoldsHeader(t *testing.T) {
	root := RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "include", "awake.h")); err != nil {
		t.Fatalf("RepoRoot = %s, but include/awake.h is not there: %v", root, err)
	}
}

func TestCCHonoursEnv(t *testing.T) {
	t.Setenv("CC", "")
	if got := CC(); got != "cc" {
		t.Fatalf("CC() with empty $CC = %q, want cc", got)
	}
	t.Setenv("CC", " my-cc --flag ")
	if got := CC(); got != "my-cc --flag" {
		t.Fatalf("CC() = %q, want %q", got, "my-cc --flag")
	}
}

func TestBuildExeIncludesHeader(t *testing.T) {
	src := filepath.Join(t.TempDir(), "prog.c")
	code := "#include \"awake.h\"\n#include <stdio.h>\nint main(void) { printf(\"%d\\n\", AWAKE_ABI_MAJOR); return 0; }\n"
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := Build(t, Exe, []string{src})
	if filepath.Base(exe) != "prog" {
		t.Fatalf("Build output %s, want a file named prog", exe)
	}
	out, err := Command(t, exe).CombinedOutput()
	if err != nil {
		t.Fatalf("running %s: %v\n%s", exe, err, out)
	}
	if strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("program printed %q, want AWAKE_ABI_MAJOR 1", out)
	}
}

func TestBuildSharedName(t *testing.T) {
	src := filepath.Join(t.TempDir(), "lib.c")
	if err := os.WriteFile(src, []byte("int lib_fn(void);\nint lib_fn(void) { return 7; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	so := Build(t, Shared, []string{src})
	if !strings.HasPrefix(filepath.Base(so), "lib.") {
		t.Fatalf("Build output %s, want lib.so or lib.dylib", so)
	}
	if st, err := os.Stat(so); err != nil || st.Size() == 0 {
		t.Fatalf("shared library %s missing or empty: %v", so, err)
	}
}

// fatalTB records a Fatalf instead of failing the real test.
type fatalTB struct {
	*testing.T
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestBuildReportsCompilerError(t *testing.T) {
	src := filepath.Join(t.TempDir(), "broken.c")
	if err := os.WriteFile(src, []byte("int broken(void) { return }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fatalTB{T: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Build(f, Shared, []string{src})
		f.msg = "Build returned"
	}()
	<-done
	if !strings.Contains(f.msg, "broken.c") || !strings.Contains(f.msg, "-Werror") {
		t.Fatalf("compiler failure message should show the command line; got:\n%s", f.msg)
	}
}
