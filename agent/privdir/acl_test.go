package privdir

import (
	"errors"
	"slices"
	"testing"
)

func TestUntrustedWriters(t *testing.T) {
	const (
		user   = "S-1-5-21-1-2-3-1001" // the elevated administrator running the agent
		alice  = "S-1-5-21-1-2-3-1002"
		users  = "S-1-5-32-545" // BUILTIN\Users
		authed = "S-1-5-11"     // Authenticated Users
		world  = "S-1-1-0"      // Everyone

		allow       = 0x00
		deny        = 0x01
		allowObject = 0x05
		allowCB     = 0x09
		audit       = 0x02

		fullAccess = 0x001F01FF // FA
		readExec   = 0x001200A9 // RX
		modify     = 0x001301BF // M
		readData   = 0x00000001
		readCtl    = 0x00020000
	)
	sysAdmin := []ace{{sid: sidSystem, mask: fullAccess}, {sid: sidAdministrators, mask: fullAccess}}
	with := func(extra ...ace) []ace { return append(slices.Clone(sysAdmin), extra...) }
	tests := []struct {
		name  string
		owner string
		user  string
		dacl  []ace
		want  []string
	}{
		{name: "installer folder DACL inherited", owner: sidAdministrators, user: sidSystem, dacl: sysAdmin},
		{name: "users may read", owner: sidAdministrators, user: sidSystem, dacl: with(ace{sid: users, mask: readExec})},
		{name: "ProgramData default: users may append", owner: sidAdministrators, user: sidSystem,
			dacl: with(ace{sid: users, mask: readExec}, ace{sid: users, mask: fileAppendData | fileWriteData}), want: []string{users}},
		{name: "everyone full control", owner: sidSystem, user: sidSystem, dacl: with(ace{sid: world, mask: fullAccess}), want: []string{world}},
		{name: "authenticated users modify", owner: sidSystem, user: sidSystem, dacl: with(ace{sid: authed, mask: modify}), want: []string{authed}},
		{name: "append only", owner: sidSystem, user: sidSystem, dacl: with(ace{sid: alice, mask: fileAppendData}), want: []string{alice}},
		{name: "write DAC only", owner: sidSystem, user: sidSystem, dacl: with(ace{sid: alice, mask: writeDAC}), want: []string{alice}},
		{name: "write owner only", owner: sidSystem, user: sidSystem, dacl: with(ace{sid: alice, mask: writeOwner}), want: []string{alice}},
		{name: "generic write", owner: sidSystem, user: sidSystem, dacl: with(ace{sid: alice, mask: genericWrite}), want: []string{alice}},
		{name: "generic all", owner: sidSystem, user: sidSystem, dacl: with(ace{sid: alice, mask: genericAll}), want: []string{alice}},
		{name: "read and read control only", owner: sidSystem, user: sidSystem, dacl: with(ace{sid: alice, mask: readData | readCtl})},
		{name: "callback allow counts", owner: sidSystem, user: sidSystem, dacl: with(ace{sid: alice, mask: fullAccess, typ: allowCB}), want: []string{alice}},
		{name: "object allow counts", owner: sidSystem, user: sidSystem, dacl: with(ace{sid: alice, mask: fullAccess, typ: allowObject}), want: []string{alice}},
		{name: "inherit-only entry does not apply to the file", owner: sidSystem, user: sidSystem,
			dacl: with(ace{sid: alice, mask: fullAccess, flags: inheritOnlyACE | 0x03})},
		{name: "inherited entry applies", owner: sidSystem, user: sidSystem,
			dacl: with(ace{sid: alice, mask: fullAccess, flags: 0x10}), want: []string{alice}},
		{name: "deny entry does not excuse an allow", owner: sidSystem, user: sidSystem,
			dacl: with(ace{sid: alice, mask: fullAccess, typ: deny}, ace{sid: alice, mask: fullAccess}), want: []string{alice}},
		{name: "deny entry alone grants nothing", owner: sidSystem, user: sidSystem,
			dacl: with(ace{sid: alice, mask: fullAccess, typ: deny})},
		{name: "audit entry grants nothing", owner: sidSystem, user: sidSystem,
			dacl: with(ace{sid: alice, mask: fullAccess, typ: audit})},
		{name: "current account may write", owner: user, user: user, dacl: with(ace{sid: user, mask: fullAccess})},
		{name: "service: a user account may not", owner: sidSystem, user: sidSystem, dacl: with(ace{sid: user, mask: fullAccess}), want: []string{user}},
		{name: "creator owner with trusted owner", owner: sidAdministrators, user: sidSystem, dacl: with(ace{sid: sidCreatorOwner, mask: fullAccess})},
		{name: "owner rights with trusted owner", owner: sidAdministrators, user: sidSystem, dacl: with(ace{sid: sidOwnerRights, mask: fullAccess})},
		{name: "creator owner with untrusted owner", owner: alice, user: sidSystem,
			dacl: with(ace{sid: sidCreatorOwner, mask: fullAccess}), want: []string{sidCreatorOwner}},
		{name: "unreadable SID", owner: sidSystem, user: sidSystem, dacl: with(ace{sid: "", mask: fullAccess}), want: []string{""}},
		{name: "each writer once, in order", owner: sidSystem, user: sidSystem,
			dacl: with(ace{sid: users, mask: fileWriteData}, ace{sid: alice, mask: modify}, ace{sid: users, mask: fullAccess}),
			want: []string{users, alice}},
		{name: "empty DACL", owner: sidSystem, user: sidSystem, dacl: []ace{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := untrustedWriters(fileSecurity{owner: tc.owner, user: tc.user, dacl: tc.dacl})
			if !slices.Equal(got, tc.want) {
				t.Errorf("untrustedWriters = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWindowsProblem(t *testing.T) {
	const (
		path  = `C:\ProgramData\shadowmap-agent\agent.yaml`
		alice = "S-1-5-21-1-2-3-1002"
		users = "S-1-5-32-545"
	)
	names := map[string]string{sidSystem: `NT AUTHORITY\SYSTEM`, sidAdministrators: `BUILTIN\Administrators`, alice: `HOST\alice`, users: `BUILTIN\Users`}
	name := func(sid string) string { return names[sid] + " (" + sid + ")" }
	sysAdmin := []ace{{sid: sidSystem, mask: 0x1F01FF}, {sid: sidAdministrators, mask: 0x1F01FF}}
	tests := []struct {
		name string
		sec  fileSecurity
		want string // "" for trusted
	}{
		{name: "trusted", sec: fileSecurity{owner: sidAdministrators, user: sidSystem, dacl: sysAdmin}},
		{name: "planted by a user", sec: fileSecurity{owner: alice, user: sidSystem, dacl: sysAdmin},
			want: `C:\ProgramData\shadowmap-agent\agent.yaml is owned by HOST\alice (S-1-5-21-1-2-3-1002), not SYSTEM, Administrators or the agent's account, and its owner can always change it: the agent runs as SYSTEM or an elevated administrator and will not trust it; icacls "C:\ProgramData\shadowmap-agent\agent.yaml" /setowner *S-1-5-32-544 (as an administrator)`},
		{name: "null DACL", sec: fileSecurity{owner: sidSystem, user: sidSystem, nullDACL: true},
			want: `C:\ProgramData\shadowmap-agent\agent.yaml has no access list, so every account may change it: the agent runs as SYSTEM or an elevated administrator and will not trust it; icacls "C:\ProgramData\shadowmap-agent\agent.yaml" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F`},
		{name: "writable by users and alice", sec: fileSecurity{owner: sidSystem, user: sidSystem,
			dacl: append(slices.Clone(sysAdmin), ace{sid: users, mask: fileAppendData}, ace{sid: alice, mask: fileWriteData})},
			want: `C:\ProgramData\shadowmap-agent\agent.yaml can be changed by BUILTIN\Users (S-1-5-32-545), HOST\alice (S-1-5-21-1-2-3-1002): the agent runs as SYSTEM or an elevated administrator and will not trust it; remove that access (icacls "C:\ProgramData\shadowmap-agent\agent.yaml" /remove:g *S-1-5-32-545 *S-1-5-21-1-2-3-1002, after /inheritance:r if it is inherited from the folder)`},
		{name: "unreadable SID", sec: fileSecurity{owner: sidSystem, user: sidSystem,
			dacl: append(slices.Clone(sysAdmin), ace{sid: "", mask: genericAll})},
			want: `C:\ProgramData\shadowmap-agent\agent.yaml can be changed by an account whose SID could not be read: the agent runs as SYSTEM or an elevated administrator and will not trust it; remove that access (icacls "C:\ProgramData\shadowmap-agent\agent.yaml" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := windowsProblem(path, tc.sec, name)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("windowsProblem = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("windowsProblem = nil, want %q", tc.want)
			}
			if !errors.Is(err, ErrUntrusted) {
				t.Errorf("error does not match ErrUntrusted: %v", err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("windowsProblem =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
