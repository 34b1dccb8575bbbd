//go:build unix

package privdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// restrict gives path mode 0700. It works on an open descriptor so the
// directory it checks is the one it changes, even if path is swapped
// meanwhile.
func restrict(path string) error {
	euid := os.Geteuid()
	li, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if li.Mode()&fs.ModeSymlink != 0 {
		// A link made by someone else could be pointed anywhere this
		// process can write; one made by this user (an administrator who
		// moved the state elsewhere) is as trustworthy as the directory.
		if uid, ok := ownerUID(li); !ok || uid != euid {
			return fmt.Errorf("%w (a symbolic link owned by uid %d, not by this process's uid %d)", ErrForeignOwner, uid, euid)
		}
	}
	// O_NONBLOCK: a FIFO put in place of the directory must not hang us.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	uid, ok := ownerUID(fi)
	if !ok {
		return errors.New("cannot tell who owns it")
	}
	if uid != euid {
		return fmt.Errorf("%w (uid %d, not this process's uid %d); remove it or chown it to uid %d", ErrForeignOwner, uid, euid, euid)
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		// A sticky directory (/tmp, /var/tmp) is shared by design: making
		// it 0700 would break every other program that uses it.
		return errors.New("it is a shared directory (sticky bit set, like /tmp); give the agent a directory of its own")
	}
	if fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid) != 0o700 {
		if err := f.Chmod(0o700); err != nil {
			return err
		}
	}
	return nil
}

// ownerUID is the owner of the file fi describes.
func ownerUID(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, false
	}
	return int(st.Uid), true
}
