package cbindings

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// copyPlugin copies the built plugin src into dir/name with mode perm (set
// with chmod, so the umask does not interfere) and returns the new path.
func copyPlugin(t *testing.T, src, dir, name string, perm os.FileMode) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustOpen opens p with opts and closes it at the end of the test.
func mustOpen(t *testing.T, p string, opts ...Option) {
	t.Helper()
	lib, err := Open(p, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", p, err)
	}
	if lib.Name() != "good" {
		t.Fatalf("Open(%s) loaded plugin %q, want good", p, lib.Name())
	}
	t.Cleanup(func() { _ = lib.Close() })
}

// refused checks that Open(p) fails with ErrInsecure before anything is
// mapped, and that the message has every part.
func refused(t *testing.T, p string, parts ...string) {
	t.Helper()
	lib, err := Open(p)
	if err == nil {
		lib.Close()
		t.Fatalf("Open(%s) loaded an untrusted file", p)
	}
	parts = append(parts, "awake: load "+p+": plugin file not trusted: ", "AllowInsecure()", "awake.WithInsecurePlugins()")
	wantLoadError(t, err, ErrInsecure, parts...)
	t.Log(err)
	if mapped(t, p) {
		t.Errorf("%s was mapped although the trust check refused it", p)
	}
}

func TestOpenRefusesWorldWritableFile(t *testing.T) {
	good := buildPlugin(t, "good")
	p := copyPlugin(t, good, t.TempDir(), "ww.so", 0o666)
	refused(t, p, "world-writable (mode 0666", "chmod o-w "+p)
	mustOpen(t, p, AllowInsecure())
}

func TestOpenRefusesFileOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root (chown)")
	}
	good := buildPlugin(t, "good")
	p := copyPlugin(t, good, t.TempDir(), "other.so", 0o755)
	const nobody = 65534
	if err := os.Chown(p, nobody, nobody); err != nil {
		t.Fatalf("chown nobody %s: %v", p, err)
	}
	refused(t, p, "owned by ", "uid 65534", "neither root nor the user running this process", "chown root "+p)
	mustOpen(t, p, AllowInsecure())
}

func TestOpenAcceptsFilesOfRootAndOfThisUser(t *testing.T) {
	good := buildPlugin(t, "good")
	// Owned by the user running the test (root here), read-only for others.
	mustOpen(t, copyPlugin(t, good, t.TempDir(), "mine.so", 0o755))
	// Group-writable is not refused: the check is about other users, and
	// a group is a deliberate grant.
	mustOpen(t, copyPlugin(t, good, t.TempDir(), "group.so", 0o775))
	if os.Geteuid() != 0 {
		return
	}
	p := copyPlugin(t, good, t.TempDir(), "root.so", 0o644)
	if err := os.Chown(p, 0, 0); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, p)
}

func TestOpenChecksTheDirectory(t *testing.T) {
	good := buildPlugin(t, "good")
	open := t.TempDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	p := copyPlugin(t, good, open, "in_open_dir.so", 0o755)
	refused(t, p, "inside directory "+open, "world-writable without the sticky bit (mode 0777", "chmod o-w "+open)
	mustOpen(t, p, AllowInsecure())

	// The sticky bit (as on /tmp) stops other users from renaming the file
	// away: accepted.
	sticky := t.TempDir()
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, copyPlugin(t, good, sticky, "in_sticky_dir.so", 0o755))

	// A directory further up counts too.
	top := t.TempDir()
	if err := os.Chmod(top, 0o777); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(top, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	refused(t, copyPlugin(t, good, sub, "deep.so", 0o755), "inside directory "+top)
}

func TestOpenFollowsLinksAndChecksTheFinalFile(t *testing.T) {
	good := buildPlugin(t, "good")
	dir := t.TempDir()
	bad := copyPlugin(t, good, dir, "target.so", 0o666)
	link := filepath.Join(dir, "link.so")
	if err := os.Symlink(bad, link); err != nil {
		t.Fatal(err)
	}
	// The link itself is lrwxrwxrwx; the file it names is what matters.
	refused(t, link, "plugin file "+link+" (which resolves to "+bad+") is world-writable")

	if err := os.Chmod(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, link)

	// A trusted file reached through a link that lives in an open
	// directory: the link could be swapped, so it is refused.
	open := t.TempDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	link2 := filepath.Join(open, "link.so")
	if err := os.Symlink(bad, link2); err != nil {
		t.Fatal(err)
	}
	refused(t, link2, "inside directory "+open)
}

func TestInsecureIsItsOwnKind(t *testing.T) {
	if ErrInsecure.Error() != "plugin file not trusted" {
		t.Fatalf("ErrInsecure.Error() = %q", ErrInsecure.Error())
	}
	err := error(&LoadError{Path: "/x.so", Kind: ErrInsecure})
	if !errors.Is(err, ErrInsecure) || errors.Is(err, ErrFileUnreadable) {
		t.Fatal("errors.Is must match ErrInsecure and nothing else")
	}
}
