//go:build windows

package privdir

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
)

// restrict gives path a protected DACL for SYSTEM and Administrators (and
// the calling user when unprivileged). It opens the directory itself, not
// what a junction or link there points to, and changes it through that
// handle, so the object it checks is the one it changes. SetSecurityInfo
// also pushes the new inheritable entries down to files already inside,
// which an older agent created with %ProgramData%'s permissions.
func restrict(path string) error {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	h, err := windows.CreateFile(p, windows.READ_CONTROL|windows.WRITE_DAC,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil,
		windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer windows.CloseHandle(h)
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		return fmt.Errorf("read attributes: %w", err)
	}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		// Any user may create a junction; one left here could aim the
		// agent's DACL and files at another directory.
		return errors.New("it is a junction or link, not a directory; remove it, or set the state directory to where it points")
	}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY == 0 {
		return errors.New("not a directory")
	}

	user, privileged, err := caller()
	if err != nil {
		return err
	}
	sd, err := windows.GetSecurityInfo(h, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("read owner: %w", err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("read owner: %w", err)
	}
	if !trustedWindowsOwner(owner.String(), user) {
		return fmt.Errorf("%w (%s, not SYSTEM, Administrators or this account); remove it so the agent can create it again",
			ErrForeignOwner, accountName(owner))
	}

	want, err := windows.SecurityDescriptorFromString(windowsDACL(user, privileged))
	if err != nil {
		return fmt.Errorf("build DACL: %w", err)
	}
	dacl, _, err := want.DACL()
	if err != nil {
		return fmt.Errorf("build DACL: %w", err)
	}
	err = windows.SetSecurityInfo(h, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("set DACL: %w", err)
	}
	return nil
}

// caller is the SID of the account this process runs as, and whether it is
// SYSTEM or an elevated administrator (who reach the directory through the
// SYSTEM or Administrators entries).
func caller() (sid string, privileged bool, err error) {
	tok := windows.GetCurrentProcessToken()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return "", false, fmt.Errorf("read this process's account: %w", err)
	}
	sid = tu.User.Sid.String()
	return sid, sid == sidSystem || tok.IsElevated(), nil
}

// accountName is sid as DOMAIN\name for an error message, or the SID
// string when it cannot be looked up.
func accountName(sid *windows.SID) string {
	account, domain, _, err := sid.LookupAccount("")
	if err != nil {
		return sid.String()
	}
	if domain == "" {
		return account + " (" + sid.String() + ")"
	}
	return domain + `\` + account + " (" + sid.String() + ")"
}
