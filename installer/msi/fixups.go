package msi

import (
	"context"
	"fmt"
	"strings"

	"github.com/shadowmap/shadowmap/installer"
)

// Windows Installer column values the fixups set.
const (
	// Component attributes: 64-bit (no WOW64 redirection), kept on
	// uninstall, never overwritten when the file already exists.
	componentWin64          = 256
	componentPermanent      = 16
	componentNeverOverwrite = 128

	// Upgrade attributes: migrate feature states, and VersionMax
	// inclusive so a build of the same release replaces the installed one.
	upgradeMigrateFeatures     = 1
	upgradeVersionMaxInclusive = 512

	// A type 51 custom action (set a property from a formatted string)
	// whose target is kept out of the log.
	customActionSetProperty = 51
	customActionHideTarget  = 8192

	// Service configuration events: on install and on reinstall.
	serviceConfigInstall   = 1
	serviceConfigReinstall = 4

	// Service error control: log and continue at boot; vital at install.
	serviceErrorNormal = 1
	serviceErrorVital  = 32768

	// SDDL for the locks (MsiLockPermissionsEx): a protected DACL, so
	// nothing is inherited from the parent, giving SYSTEM and
	// Administrators full control of the object and, through inheritance
	// (OI files, CI subfolders and subkeys), of what is created in it.
	dataDirSDDL   = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
	policyKeySDDL = "D:PAI(A;CI;KA;;;SY)(A;CI;KA;;;BA)"

	// Failure action SC_ACTION_RESTART.
	scActionRestart = 1
	// recoveryResetSeconds matches agent/service: the failure count resets
	// after a day without failures.
	recoveryResetSeconds = 24 * 60 * 60
)

// fixups are the SQL statements msibuild runs on wixl's database, for what
// wixl 0.101 cannot express (it warns and drops the attribute or element,
// or, for UpgradeVersion/@IncludeMaximum, sets the wrong bit).
func fixups(v installer.Version) []string {
	var q []string
	secure := []string{"WIX_DOWNGRADE_DETECTED", "WIX_UPGRADE_DETECTED"}
	for _, s := range policySettings() {
		// Property/@Secure: public properties reach the server side of a
		// managed (per-machine, elevated) install only when listed in
		// SecureCustomProperties.
		secure = append(secure, s.Property)
		// Component/Condition: the value is written only when the property
		// has a value, from msiexec or from the registry search.
		q = append(q, fmt.Sprintf("UPDATE `Component` SET `Condition` = %s WHERE `Component` = %s", quote(s.Property), quote(s.ID)))
		if s.Secret {
			q = append(q, fmt.Sprintf("UPDATE `CustomAction` SET `Type` = %d WHERE `Action` = %s", customActionSetProperty|customActionHideTarget, quote("Keep"+s.ID)))
		}
	}
	q = append(q, fmt.Sprintf("UPDATE `Property` SET `Value` = %s WHERE `Property` = 'SecureCustomProperties'", quote(strings.Join(secure, ";"))))

	// ServiceInstall/@Vital: a service that fails to install rolls the
	// install back instead of leaving an agent that never runs.
	q = append(q, fmt.Sprintf("UPDATE `ServiceInstall` SET `ErrorControl` = %d WHERE `ServiceInstall` = 'AgentService'", serviceErrorNormal|serviceErrorVital))

	// MajorUpgrade/@AllowSameVersionUpgrades. Attributes is part of the
	// Upgrade table's key, so the row is replaced rather than updated.
	q = append(q,
		"DELETE FROM `Upgrade` WHERE `ActionProperty` = 'WIX_UPGRADE_DETECTED'",
		"INSERT INTO `Upgrade` (`UpgradeCode`, `VersionMax`, `Attributes`, `ActionProperty`) VALUES ("+
			quote(UpgradeCode)+", "+quote(v.MSI())+", "+fmt.Sprint(upgradeMigrateFeatures|upgradeVersionMaxInclusive)+", 'WIX_UPGRADE_DETECTED')",
	)

	// The data folder holds agent.yaml, which LocalSystem loads, and the
	// spool, which says who uses which app. %ProgramData% lets every user
	// create files and folders, and a new folder there inherits that, so it
	// is locked to SYSTEM and Administrators with inheritance from
	// ProgramData cut (protected DACL). The CreateFolder row belongs to the
	// Agent component, which every install and upgrade installs, so
	// CreateFolders (3700) applies the DACL each time, also to a folder that
	// existed before the first install, before InstallFiles (4000) lays
	// agent.yaml down. It is the only CreateFolder row: wixl adds none for
	// a folder that holds files.
	q = append(q,
		"INSERT INTO `CreateFolder` (`Directory_`, `Component_`) VALUES ('DATADIR', 'Agent')",
		// wixl sequences CreateFolders only when it wrote a CreateFolder
		// row. Its pair RemoveFolders is left out: the folder keeps
		// agent.yaml and the spool after an uninstall.
		"INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) VALUES ('CreateFolders', 3700)",
		"CREATE TABLE `MsiLockPermissionsEx` (`MsiLockPermissionsEx` CHAR(72) NOT NULL, `LockObject` CHAR(72) NOT NULL, `Table` CHAR(32) NOT NULL, `SDDLText` LONGCHAR NOT NULL, `Condition` CHAR(255) PRIMARY KEY `MsiLockPermissionsEx`)",
		// For a CreateFolder row the lock object is its directory.
		"INSERT INTO `MsiLockPermissionsEx` (`MsiLockPermissionsEx`, `LockObject`, `Table`, `SDDLText`) VALUES ('LockDataDir', 'DATADIR', 'CreateFolder', "+quote(dataDirSDDL)+")",
		// A registry lock applies to the value's key: the whole policy
		// key, CollectorURL and OwnerEmail too. WriteRegistryValues sets
		// it whenever the EnrollSecret component installs, which is every
		// install that has a secret, given or kept from the last one.
		"INSERT INTO `MsiLockPermissionsEx` (`MsiLockPermissionsEx`, `LockObject`, `Table`, `SDDLText`) VALUES ('LockPolicyKey', 'EnrollSecret', 'Registry', "+quote(policyKeySDDL)+")",
	)

	// Component/@Permanent and @NeverOverwrite for the config file: an
	// upgrade removes the old product before installing the new one, which
	// would otherwise delete the file IT edited and put the template back.
	// Keeping an existing file is safe only because nobody but SYSTEM and
	// Administrators can write the folder once the first install locked
	// it, and that happens before the file is laid down. A file a user
	// planted before the very first install is kept too, with its owner:
	// the folder's DACL is reset, the file's own explicit entries and
	// owner are not.
	q = append(q, fmt.Sprintf("UPDATE `Component` SET `Attributes` = %d WHERE `Component` = 'Config'", componentWin64|componentPermanent|componentNeverOverwrite))

	// ServiceConfigFailureActions (Windows Installer 5.0): restart 10 s
	// after the first failure and 60 s after later ones, as `shadowmap-agent
	// service install` sets them (agent/service/recovery_windows.go).
	q = append(q,
		"CREATE TABLE `MsiServiceConfigFailureActions` (`MsiServiceConfigFailureActions` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL LOCALIZABLE, `Event` SHORT NOT NULL, `ResetPeriod` LONG, `RebootMessage` CHAR(255) LOCALIZABLE, `Command` CHAR(255) LOCALIZABLE, `Actions` CHAR(255), `DelayActions` CHAR(255), `Component_` CHAR(72) NOT NULL PRIMARY KEY `MsiServiceConfigFailureActions`)",
		fmt.Sprintf("INSERT INTO `MsiServiceConfigFailureActions` (`MsiServiceConfigFailureActions`, `Name`, `Event`, `ResetPeriod`, `Actions`, `DelayActions`, `Component_`) VALUES ('AgentRecovery', 'shadowmap-agent', %d, %d, '%d[~]%d[~]%d', '10000[~]60000[~]60000', 'Agent')",
			serviceConfigInstall|serviceConfigReinstall, recoveryResetSeconds, scActionRestart, scActionRestart, scActionRestart),
		// Between InstallServices (5800) and StartServices (5900).
		"INSERT INTO `InstallExecuteSequence` (`Action`, `Condition`, `Sequence`) VALUES ('MsiConfigureServices', 'VersionNT >= 600', 5850)",
	)
	return q
}

// quote is an msitools SQL string literal, which has no escapes: the
// values are this package's constants and a version's digits.
func quote(s string) string { return "'" + s + "'" }

// applyFixups runs every fixup in one msibuild call, which commits only
// when all succeed.
func applyFixups(ctx context.Context, dir, msi string, v installer.Version) error {
	args := []string{msi}
	for _, q := range fixups(v) {
		args = append(args, "-q", q)
	}
	if err := runTool(ctx, dir, "msibuild", args...); err != nil {
		return fmt.Errorf("fix up wixl output: %w", err)
	}
	return nil
}
