package privdir

// The SID strings of the Windows accounts that may always own and use a
// private directory: they can read any file on the machine anyway.
const (
	sidSystem         = "S-1-5-18"     // NT AUTHORITY\SYSTEM, the agent service's account
	sidAdministrators = "S-1-5-32-544" // BUILTIN\Administrators
)

// windowsDACL is the SDDL of the DACL a private directory gets on Windows:
// protected (P), so nothing from %ProgramData% is inherited, full access
// (FA) for SYSTEM and Administrators, inherited by files (OI) and
// subdirectories (CI). user is the calling account's SID, added only when
// the process is neither SYSTEM nor elevated: otherwise it could not use
// the directory it just made.
func windowsDACL(user string, privileged bool) string {
	d := "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
	if !privileged && user != "" && user != sidSystem && user != sidAdministrators {
		d += "(A;OICI;FA;;;" + user + ")"
	}
	return d
}

// trustedWindowsOwner reports whether a directory owned by the SID owner
// may be made private by a process running as user. The owner of a Windows
// object can always rewrite its DACL, so a directory owned by anyone else
// would not stay private whatever DACL it is given.
func trustedWindowsOwner(owner, user string) bool {
	return owner == sidSystem || owner == sidAdministrators || (owner != "" && owner == user)
}
