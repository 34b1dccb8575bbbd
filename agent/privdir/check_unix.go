//go:build unix

package privdir

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// rootOnly is the rule of a file the agent follows when it runs as root.
const rootOnly = "the agent runs as root and will not trust it"

// CheckFile refuses a file that a privileged agent would take orders from
// (its configuration, its enroll secret) when an account other than root
// could have written it or could still change it: f must be owned by root
// and not writable by group or others, and so must every directory on its
// path, except that a shared sticky directory such as /tmp is fine when
// what the path goes through in it is root's (nobody else may rename or
// delete that). The path is checked both as named and with its symbolic
// links resolved, so a link in /etc cannot lead to a world-writable
// directory.
//
// f is checked through its descriptor, so the file judged is the one that
// was opened; the directories are looked up by path afterwards, and a file
// that is no longer the one at that path is refused.
//
// When the process is not root (a developer running the agent on their own
// file, tests) there is nothing to protect and CheckFile returns nil.
func CheckFile(f *os.File) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return checkFile(f, 0)
}

// checkFile is CheckFile for a process whose only trusted account is uid
// trusted.
func checkFile(f *os.File, trusted int) error {
	name := f.Name()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("check who can change %s: %w", name, err)
	}
	if uid, ok := ownerUID(fi); !ok || uid != trusted {
		return &untrustedError{fmt.Sprintf("%s is owned by %s, not root: %s; chown root %s (and chmod 600)",
			name, uidName(uid, ok), rootOnly, name)}
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return &untrustedError{fmt.Sprintf("%s is writable by group or others (mode %04o): %s; chmod 600 and chown root",
			name, perm, rootOnly)}
	}

	abs, err := filepath.Abs(name)
	if err != nil {
		return fmt.Errorf("check who can change %s: %w", name, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return fmt.Errorf("check who can change %s: %w", name, err)
	}
	ri, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("check who can change %s: %w", name, err)
	}
	if !os.SameFile(fi, ri) {
		return &untrustedError{fmt.Sprintf("%s was replaced while the agent read it: %s; make sure only root can change it and its directory", name, rootOnly)}
	}
	paths := []string{abs}
	if real != abs {
		paths = append(paths, real)
	}
	for _, p := range paths {
		if err := checkDirs(name, p, trusted); err != nil {
			return err
		}
	}
	return nil
}

// checkDirs checks every directory above path, nearest first. A directory
// someone else owns, or may write in, lets them rename what path goes
// through and put their own file in its place; in a sticky directory only
// the owner of an entry may do that, so there the entry's owner counts.
func checkDirs(name, path string, trusted int) error {
	child := path
	for {
		dir := filepath.Dir(child)
		if dir == child {
			return nil
		}
		di, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("check who can change %s: %w", name, err)
		}
		if uid, ok := ownerUID(di); !ok || uid != trusted {
			return &untrustedError{fmt.Sprintf("%s is in %s, which is owned by %s, not root, who could replace the file: %s; chown root %s, or move the file to a directory only root can change",
				name, dir, uidName(uid, ok), rootOnly, dir)}
		}
		if perm := di.Mode().Perm(); perm&0o022 != 0 {
			if di.Mode()&fs.ModeSticky == 0 {
				return &untrustedError{fmt.Sprintf("%s is in %s, which is writable by group or others (mode %04o), who could replace the file: %s; chmod go-w %s, or move the file to a directory only root can change",
					name, dir, perm, rootOnly, dir)}
			}
			ci, err := os.Lstat(child)
			if err != nil {
				return fmt.Errorf("check who can change %s: %w", name, err)
			}
			if uid, ok := ownerUID(ci); !ok || uid != trusted {
				what := name + " is reached through " + child + ", which is"
				if child == path {
					what = name + " is a link"
				}
				return &untrustedError{fmt.Sprintf("%s owned by %s in the shared directory %s (sticky, mode %04o), so that account could replace it: %s; move the file to a directory only root can change",
					what, uidName(uid, ok), dir, perm, rootOnly)}
			}
		}
		child = dir
	}
}

// uidName is uid as people read it in an error: "uid 65534 (nobody)".
func uidName(uid int, ok bool) string {
	if !ok {
		return "an unknown account"
	}
	s := "uid " + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		s += " (" + u.Username + ")"
	}
	return s
}
