//go:build windows

package privdir

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// CheckFile refuses a file that a privileged agent would take orders from
// (its configuration, its enroll secret) when an account other than
// SYSTEM or Administrators could have planted it or could change it: its
// owner must be one of those (an owner can always rewrite the DACL), and
// its DACL must not let anyone else write it, append to it, or change its
// DACL or owner. The agent's own account is not trusted for itself: when
// it is an elevated admin rather than SYSTEM, that admin's unelevated
// programs can write files the account owns. The security descriptor is read through f's
// handle, so the file judged is the one that was opened.
//
// Only the file is checked, not its folder: the MSI gives
// %ProgramData%\shadowmap-agent a protected DACL for SYSTEM and
// Administrators, so no one else can create or replace files in it.
//
// When the process is neither SYSTEM nor elevated (a developer's own run,
// tests) there is nothing to protect and CheckFile returns nil.
func CheckFile(f *os.File) error {
	_, privileged, err := caller()
	if err != nil {
		return fmt.Errorf("check who can change %s: %w", f.Name(), err)
	}
	if !privileged {
		return nil
	}
	sec, err := readFileSecurity(windows.Handle(f.Fd()))
	if err != nil {
		return fmt.Errorf("check who can change %s: %w", f.Name(), err)
	}
	return windowsProblem(f.Name(), sec, sidName)
}

// readFileSecurity reads the owner and DACL of the open file h.
func readFileSecurity(h windows.Handle) (fileSecurity, error) {
	sd, err := windows.GetSecurityInfo(h, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fileSecurity{}, fmt.Errorf("read security: %w", err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fileSecurity{}, fmt.Errorf("read owner: %w", err)
	}
	sec := fileSecurity{owner: owner.String()}
	dacl, _, err := sd.DACL()
	if err == windows.ERROR_OBJECT_NOT_FOUND || (err == nil && dacl == nil) {
		sec.nullDACL = true
		return sec, nil
	}
	if err != nil {
		return fileSecurity{}, fmt.Errorf("read DACL: %w", err)
	}
	for i := range uint32(dacl.AceCount) {
		var p *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &p); err != nil {
			return fileSecurity{}, fmt.Errorf("read DACL entry %d: %w", i, err)
		}
		sec.dacl = append(sec.dacl, ace{sid: aceSID(p), mask: uint32(p.Mask), typ: p.Header.AceType, flags: p.Header.AceFlags})
	}
	return sec, nil
}

// aceSID is the SID of an entry as a string, or "" when it cannot be read.
// The object entry types put a flags word and up to two GUIDs between the
// mask and the SID; the other types have the SID right after the mask.
func aceSID(p *windows.ACCESS_ALLOWED_ACE) string {
	const header, mask, flags, guid = 4, 4, 4, 16
	off := uintptr(header + mask)
	switch p.Header.AceType {
	case 0x05, 0x06, 0x07, 0x08, 0x0B, 0x0C, 0x0F, 0x10: // *_OBJECT_ACE_TYPE
		if off+flags > uintptr(p.Header.AceSize) {
			return ""
		}
		f := *(*uint32)(unsafe.Add(unsafe.Pointer(p), off))
		off += flags
		if f&0x1 != 0 { // ACE_OBJECT_TYPE_PRESENT
			off += guid
		}
		if f&0x2 != 0 { // ACE_INHERITED_OBJECT_TYPE_PRESENT
			off += guid
		}
	case 0x04: // compound entries hold two SIDs; treat as unreadable
		return ""
	}
	// A SID is at least 8 bytes (revision, count, authority, no RIDs).
	if off+8 > uintptr(p.Header.AceSize) {
		return ""
	}
	sid := (*windows.SID)(unsafe.Add(unsafe.Pointer(p), off))
	if !sid.IsValid() || off+uintptr(windows.GetLengthSid(sid)) > uintptr(p.Header.AceSize) {
		return ""
	}
	return sid.String()
}

// sidName is the account a SID string names, for an error message.
func sidName(s string) string {
	sid, err := windows.StringToSid(s)
	if err != nil {
		return s
	}
	return accountName(sid)
}
