package service

import (
	"fmt"
	"strings"
)

// ExitConfig is the exit status for "the configuration is unusable"
// (EX_CONFIG in sysexits.h). The systemd unit lists it in
// RestartPreventExitStatus: restarting cannot fix a configuration, so the
// unit stops and `systemctl status` shows why.
const ExitConfig = 78

// unitDescription is short: systemd prints it in every "Started ..." line.
const unitDescription = "shadowmap endpoint agent (SaaS discovery)"

// SystemdUnit renders the systemd unit for d.
//
// The restart policy never loops fast: RestartSec=10s, growing on systemd
// 254 and later (RestartSteps, RestartMaxDelaySec; older versions ignore
// the two keys with a warning), and at most five starts in ten minutes
// before the unit is left failed until the next boot or a manual restart.
//
// The sandbox leaves the agent what capture needs: CAP_NET_RAW and
// AF_PACKET for live capture, AF_NETLINK to follow interfaces coming and
// going, CAP_NET_BIND_SERVICE for the opt-in resolver on port 53. The
// filesystem is read-only except the state directory.
func SystemdUnit(d Definition) (string, error) {
	return systemdUnit(d, "# Written by `shadowmap-agent service install`; reinstall rather than edit.")
}

// PackagedSystemdUnit is SystemdUnit for the unit a .deb or .rpm ships in
// /usr/lib/systemd/system: the package manager replaces that file on every
// upgrade, so its header sends local changes to a drop-in instead.
func PackagedSystemdUnit(d Definition) (string, error) {
	return systemdUnit(d,
		"# Installed by the "+Name+" package and replaced on upgrade.",
		"# Put local changes in a drop-in: systemctl edit "+Name)
}

func systemdUnit(d Definition, header ...string) (string, error) {
	if err := d.Validate("linux"); err != nil {
		return "", fmt.Errorf("systemd unit: %w", err)
	}
	var b strings.Builder
	line := func(s ...string) {
		b.WriteString(strings.Join(s, ""))
		b.WriteByte('\n')
	}
	for _, h := range header {
		line(h)
	}
	line("[Unit]")
	line("Description=", unitDescription)
	line("Documentation=https://github.com/shadowmap/shadowmap")
	line("Wants=network-online.target")
	line("After=network-online.target")
	line("ConditionFileIsExecutable=", systemdSpecifiers(d.Executable))
	line("StartLimitIntervalSec=10min")
	line("StartLimitBurst=5")
	line()
	line("[Service]")
	line("Type=simple")
	args := append([]string{d.Executable}, d.Arguments()...)
	for i, a := range args {
		args[i] = systemdCommandWord(a)
	}
	line("ExecStart=", strings.Join(args, " "))
	line("Environment=", systemdCommandWord(StateDirEnv+"="+d.StateDir))
	line("Restart=on-failure")
	line("RestartSec=10s")
	line("RestartSteps=5")
	line("RestartMaxDelaySec=5min")
	line("RestartPreventExitStatus=", fmt.Sprint(ExitConfig))
	line("TimeoutStopSec=20s")
	line()
	line("# A laptop agent stays small and quiet.")
	line("CPUQuota=5%")
	line("MemoryHigh=48M")
	line("MemoryMax=64M")
	line("TasksMax=256")
	line("Nice=10")
	line("IOSchedulingClass=best-effort")
	line("IOSchedulingPriority=7")
	line()
	line("# Sandbox: capture and the opt-in local resolver, nothing more.")
	line("CapabilityBoundingSet=CAP_NET_RAW CAP_NET_BIND_SERVICE")
	line("NoNewPrivileges=yes")
	line("ProtectSystem=strict")
	line("ReadWritePaths=", systemdSpecifiers(d.StateDir))
	line("ProtectHome=yes")
	line("PrivateTmp=yes")
	line("PrivateDevices=yes")
	line("ProtectClock=yes")
	line("ProtectHostname=yes")
	line("ProtectKernelTunables=yes")
	line("ProtectKernelModules=yes")
	line("ProtectKernelLogs=yes")
	line("ProtectControlGroups=yes")
	line("RestrictAddressFamilies=AF_INET AF_INET6 AF_PACKET AF_NETLINK AF_UNIX")
	line("RestrictNamespaces=yes")
	line("RestrictRealtime=yes")
	line("RestrictSUIDSGID=yes")
	line("LockPersonality=yes")
	line("MemoryDenyWriteExecute=yes")
	line("SystemCallArchitectures=native")
	line("SystemCallFilter=@system-service")
	line("SystemCallErrorNumber=EPERM")
	line("UMask=0077")
	line()
	line("[Install]")
	line("WantedBy=multi-user.target")
	return b.String(), nil
}

// systemdSpecifiers escapes systemd's %-specifiers in a value.
func systemdSpecifiers(s string) string {
	return strings.ReplaceAll(s, "%", "%%")
}

// systemdCommandWord is s as one word of a systemd command line or
// assignment: specifiers and variable references escaped, quoted when it
// holds a space. Validate has already refused quotes, backslashes and
// control characters, so nothing else needs escaping.
func systemdCommandWord(s string) string {
	s = strings.ReplaceAll(systemdSpecifiers(s), "$", "$$")
	if strings.ContainsAny(s, " \t;") {
		return `"` + s + `"`
	}
	return s
}
