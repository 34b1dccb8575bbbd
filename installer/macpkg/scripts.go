package macpkg

// Installer runs these as root, with the package path in $1, the install
// location in $2 and the target volume in $3. Neither may fail the
// install: an agent without settings yet (no MDM profile so far) starts
// anyway, reports the problem in `shadowmap-agent status` and retries
// every minute, so there is nothing to gain from rolling back.

// preinstallScript stops a running agent before an upgrade replaces its
// binary and plist, so postinstall's bootstrap loads the new definition.
const preinstallScript = `#!/bin/sh
# shadowmap-agent preinstall: stop the running agent before an upgrade.
label=shadowmap-agent

if [ "${3:-/}" != "/" ]; then
	# Installing onto another volume: nothing runs from there.
	exit 0
fi
if launchctl print "system/$label" >/dev/null 2>&1; then
	launchctl bootout "system/$label" ||
		echo "preinstall: launchctl bootout system/$label failed; continuing" >&2
fi
exit 0
`

// postinstallScript creates the agent's state directory and starts the
// daemon.
const postinstallScript = `#!/bin/sh
# shadowmap-agent postinstall: create the state directory, start the agent.
label=shadowmap-agent
plist="/Library/LaunchDaemons/$label.plist"
target="${3:-/}"
state="${target%/}/Library/Application Support/$label"

# Spool, enrollment and status live here, for root only.
if ! { mkdir -p "$state" && chown 0:0 "$state" && chmod 0700 "$state"; }; then
	echo "postinstall: could not prepare $state" >&2
fi

if [ "$target" != "/" ]; then
	# Installed onto another volume: launchd there starts the agent at boot.
	exit 0
fi
launchctl enable "system/$label" ||
	echo "postinstall: launchctl enable system/$label failed" >&2
if launchctl print "system/$label" >/dev/null 2>&1; then
	# Still loaded (preinstall could not stop it): restart on the new binary.
	launchctl kickstart -k "system/$label" ||
		echo "postinstall: launchctl kickstart system/$label failed" >&2
elif ! launchctl bootstrap system "$plist"; then
	echo "postinstall: launchctl bootstrap system $plist failed; the agent starts at the next boot" >&2
fi
exit 0
`
