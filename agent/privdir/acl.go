package privdir

import (
	"fmt"
	"strings"
)

// Access mask bits that let an account change a file's content or who may
// change it: FILE_WRITE_DATA, FILE_APPEND_DATA, WRITE_DAC, WRITE_OWNER,
// GENERIC_ALL and GENERIC_WRITE (generic bits are mapped only when access is
// checked, so an entry may still carry them).
const (
	fileWriteData  = 0x00000002
	fileAppendData = 0x00000004
	writeDAC       = 0x00040000
	writeOwner     = 0x00080000
	genericAll     = 0x10000000
	genericWrite   = 0x40000000

	writeMask = fileWriteData | fileAppendData | writeDAC | writeOwner | genericAll | genericWrite
)

// inheritOnlyACE is the ACE flag of an entry that is only handed down to
// children and does not apply to the object that holds it.
const inheritOnlyACE = 0x08

// SIDs that stand for whoever owns the object.
const (
	sidCreatorOwner = "S-1-3-0"
	sidOwnerRights  = "S-1-3-4"
)

// ace is one entry of a Windows DACL, as read from the file: the SID as a
// string ("" when it could not be read), the access mask, and the ACE
// header's type and flags.
type ace struct {
	sid   string
	mask  uint32
	typ   uint8
	flags uint8
}

// grants reports whether a grants access at all: only the access-allowed
// types do. Deny entries can only take access away, so they never make a
// file safer to refuse and are left out rather than weighed.
func (a ace) grants() bool {
	switch a.typ {
	case 0x00, // ACCESS_ALLOWED_ACE_TYPE
		0x04, // ACCESS_ALLOWED_COMPOUND_ACE_TYPE
		0x05, // ACCESS_ALLOWED_OBJECT_ACE_TYPE
		0x09, // ACCESS_ALLOWED_CALLBACK_ACE_TYPE
		0x0B: // ACCESS_ALLOWED_CALLBACK_OBJECT_ACE_TYPE
		return a.flags&inheritOnlyACE == 0
	}
	return false
}

// fileSecurity is what CheckFile reads from a file on Windows, and who is
// asking.
type fileSecurity struct {
	owner    string // the file's owner SID
	user     string // the SID of the account the agent runs as
	nullDACL bool   // no DACL at all: everyone has full access
	dacl     []ace
}

// windowsProblem is why a privileged agent must not trust a file with
// security sec, or nil. A file is trusted when SYSTEM, Administrators or
// the agent's own account owns it (an owner can always rewrite the DACL)
// and its DACL lets nobody else write it or change its DACL or owner.
// name turns a SID into an account name for the message.
func windowsProblem(path string, sec fileSecurity, name func(sid string) string) error {
	const rule = "the agent runs as SYSTEM or an elevated administrator and will not trust it"
	if !trustedWindowsOwner(sec.owner, sec.user) {
		return &untrustedError{fmt.Sprintf(`%s is owned by %s, not SYSTEM, Administrators or the agent's account, and its owner can always change it: %s; icacls "%s" /setowner *%s (as an administrator)`,
			path, name(sec.owner), rule, path, sidAdministrators)}
	}
	if sec.nullDACL {
		return &untrustedError{fmt.Sprintf(`%s has no access list, so every account may change it: %s; icacls "%s" /inheritance:r /grant:r *%s:F *%s:F`,
			path, rule, path, sidSystem, sidAdministrators)}
	}
	writers := untrustedWriters(sec)
	if len(writers) == 0 {
		return nil
	}
	var names, sids []string
	for _, w := range writers {
		if w == "" {
			names = append(names, "an account whose SID could not be read")
			continue
		}
		names = append(names, name(w))
		sids = append(sids, "*"+w)
	}
	fix := `icacls "` + path + `" /inheritance:r /grant:r *` + sidSystem + ":F *" + sidAdministrators + ":F"
	if len(sids) > 0 {
		fix = `icacls "` + path + `" /remove:g ` + strings.Join(sids, " ") + ", after /inheritance:r if it is inherited from the folder"
	}
	return &untrustedError{fmt.Sprintf("%s can be changed by %s: %s; remove that access (%s)",
		path, strings.Join(names, ", "), rule, fix)}
}

// untrustedWriters are the SIDs, in DACL order and each once, that the
// DACL lets write the file or change its DACL or owner, other than SYSTEM,
// Administrators and the agent's account. An entry whose SID could not be
// read counts as untrusted under the name "".
func untrustedWriters(sec fileSecurity) []string {
	trusted := func(sid string) bool {
		switch sid {
		case sidSystem, sidAdministrators:
			return true
		case sidCreatorOwner, sidOwnerRights:
			return trustedWindowsOwner(sec.owner, sec.user)
		}
		return sid != "" && sid == sec.user
	}
	var out []string
	seen := make(map[string]bool)
	for _, a := range sec.dacl {
		if !a.grants() || a.mask&writeMask == 0 || trusted(a.sid) || seen[a.sid] {
			continue
		}
		seen[a.sid] = true
		out = append(out, a.sid)
	}
	return out
}
