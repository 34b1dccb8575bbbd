// Package privdir creates the directories that hold the agent's private
// state: the spool (which apps each person uses), the status file and the
// enrollment token. Such a directory must be readable and writable by the
// agent and the machine's administrators only, on every OS: 0700 on Unix,
// a protected DACL on Windows, where os.MkdirAll sets no ACL and a new
// directory under %ProgramData% would inherit one that lets every local
// user read it and create files in it.
//
// A directory that already exists is only made private if this process (or,
// on Windows, SYSTEM or Administrators) owns it: one planted by another user
// may hold files or links they still control, so MkdirAll refuses it with
// ErrForeignOwner rather than trusting it.
//
// CheckFile applies the same owner rules to a file a privileged agent
// takes orders from (its configuration, its enroll secret file): one that
// another local user could have planted or can still change is refused
// with ErrUntrusted.
package privdir

import (
	"errors"
	"fmt"
	"os"
)

// ErrForeignOwner is wrapped by MkdirAll's error when the directory exists
// and belongs to someone it must not trust.
var ErrForeignOwner = errors.New("not trusted: it belongs to someone else")

// MkdirAll creates path and any missing parents (as os.MkdirAll with mode
// 0700 does), then makes the last element of path private: owner-only
// access on Unix, access for SYSTEM and Administrators only on Windows
// (plus the calling user when the process is neither SYSTEM nor elevated,
// so a developer's unelevated run does not lock itself out). It also
// tightens a directory that exists with looser permissions, after checking
// who owns it.
func MkdirAll(path string) error {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return fmt.Errorf("create private directory: %w", err)
	}
	if err := restrict(path); err != nil {
		return fmt.Errorf("make %s private: %w", path, err)
	}
	return nil
}
