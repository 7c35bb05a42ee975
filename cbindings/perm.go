package cbindings

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// AllowInsecure makes Open skip the file permission check (see checkTrust):
// a plugin that is world-writable, owned by another non-root user, or inside
// a world-writable directory without the sticky bit is loaded anyway. Like
// ssh's StrictModes=no, it is for development setups (a shared build
// directory, a container whose files belong to another uid); prefer fixing
// the permissions.
func AllowInsecure() Option { return func(o *options) { o.allowInsecure = true } }

// checkTrust refuses a plugin file that a user other than root and the user
// running this process could have replaced or modified: loading it runs its
// code with all of this process's rights. It follows symbolic links and
// checks the final file, which must not be world-writable nor owned by
// another non-root user; and every directory from the final file up to "/"
// (and above path as given, when it goes through a link), none of which may
// be world-writable without the sticky bit (anyone could rename the file
// away and put another in its place).
//
// The check runs before dlopen; it does not close the window between the
// check and dlopen, which does not matter when the checked file and
// directories cannot be changed by anyone untrusted -- what the check
// establishes.
func checkTrust(path string) error {
	final, err := filepath.EvalSymlinks(path)
	if err != nil {
		return &LoadError{Path: path, Kind: ErrFileUnreadable, Err: err,
			Detail: fmt.Sprintf("resolving symbolic links: %v (check the path and the permissions of its directories)", err)}
	}
	if final, err = filepath.Abs(final); err != nil {
		return &LoadError{Path: path, Kind: ErrFileUnreadable, Err: err,
			Detail: fmt.Sprintf("making the path absolute: %v", err)}
	}
	named := path
	if final != path {
		named = fmt.Sprintf("%s (which resolves to %s)", path, final)
	}
	optOut := "or, if you trust every user who can write it, load it with cbindings.AllowInsecure() (awake.WithInsecurePlugins() for a Runtime)"

	st, err := os.Stat(final)
	if err != nil {
		return &LoadError{Path: path, Kind: ErrFileUnreadable, Err: err,
			Detail: fmt.Sprintf("%v (check the permissions of the file and its directories)", err)}
	}
	mode := st.Mode()
	if mode.Perm()&0o002 != 0 {
		return &LoadError{Path: path, Kind: ErrInsecure,
			Detail: fmt.Sprintf("plugin file %s is world-writable (mode %04o, owner %s): any user could change the code this process would run; fix it with chmod o-w %s, %s",
				named, mode.Perm(), ownerName(st), final, optOut)}
	}
	if uid, ok := ownerUID(st); ok && uid != 0 && uid != uint32(os.Geteuid()) {
		return &LoadError{Path: path, Kind: ErrInsecure,
			Detail: fmt.Sprintf("plugin file %s (mode %04o) is owned by %s, who is neither root nor the user running this process, %s: that user could change the code this process would run; fix it with chown %s %s, %s",
				named, mode.Perm(), ownerName(st), userName(uint32(os.Geteuid())), login(uint32(os.Geteuid())), final, optOut)}
	}

	// The directories holding the final file, and those above the path as
	// given (where a link may live), up to the root.
	seen := map[string]bool{}
	dirs := ancestors(final)
	if abs, err := filepath.Abs(path); err == nil && abs != final {
		dirs = append(dirs, ancestors(abs)...)
	}
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		dst, err := os.Stat(d)
		if err != nil {
			return &LoadError{Path: path, Kind: ErrFileUnreadable, Err: err,
				Detail: fmt.Sprintf("checking directory %s: %v", d, err)}
		}
		dm := dst.Mode()
		if dm.Perm()&0o002 != 0 && dm&fs.ModeSticky == 0 {
			return &LoadError{Path: path, Kind: ErrInsecure,
				Detail: fmt.Sprintf("plugin file %s is inside directory %s, which is world-writable without the sticky bit (mode %04o, owner %s): any user could replace the plugin file; fix it with chmod o-w %s (or chmod +t %s), or move the plugin elsewhere, %s",
					named, d, dm.Perm(), ownerName(dst), d, d, optOut)}
		}
	}
	return nil
}

// ancestors returns the directories above the absolute path p, nearest
// first, ending with the root.
func ancestors(p string) []string {
	var out []string
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		out = append(out, d)
		if d == filepath.Dir(d) {
			return out
		}
	}
}

// ownerUID returns the owner of a file from its stat information.
func ownerUID(fi fs.FileInfo) (uint32, bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, true
	}
	return 0, false
}

// ownerName renders a file's owner for messages: "nobody (uid 65534)".
func ownerName(fi fs.FileInfo) string {
	uid, ok := ownerUID(fi)
	if !ok {
		return "unknown"
	}
	return userName(uid)
}

// login returns a uid's login name, or the number when it has none (for a
// chown command line).
func login(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		return u.Username
	}
	return id
}

// userName renders a uid with its login name when the user database has one.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		return fmt.Sprintf("%s (uid %s)", u.Username, id)
	}
	return "uid " + id
}
