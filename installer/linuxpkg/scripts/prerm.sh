#!/bin/sh
# shadowmap-agent: the .deb prerm and the .rpm %preun, one script for both.
#
#   deb: prerm remove | deconfigure ... | upgrade <new version> | failed-upgrade ...
#   rpm: %preun <packages left after this one>: 0 removal, 1+ upgrade
#
# Removal stops and disables the service, so no agent process outlives the
# package: systemctl stop ends every process of the unit's cgroup. An
# upgrade leaves the service running; the new postinst restarts it.
#
# SHADOWMAP_PKG_ROOT, set only by the package's tests, prefixes every path
# the script looks at or writes.
set -e

root=${SHADOWMAP_PKG_ROOT:-}
unit=shadowmap-agent.service
# The mark lives beside the conffile: dpkg keeps /etc/shadowmap on remove
# and deletes it on purge, exactly the life the mark needs, while an admin
# may well clear the state directory in between.
removed_mark=$root/etc/shadowmap/.removed-by-package

have_systemctl() { command -v systemctl >/dev/null 2>&1; }
systemd_running() { [ -d "$root/run/systemd/system" ]; }

stop_and_disable() {
	# Tells postinst that a later `configure <old version>` is an install.
	if [ -d "${removed_mark%/*}" ]; then
		: >"$removed_mark" || true
	fi
	have_systemctl || return 0
	if systemd_running; then
		systemctl stop "$unit" || true
		if systemctl is-active --quiet "$unit"; then
			systemctl kill --signal=SIGKILL "$unit" || true
		fi
		systemctl disable "$unit" || true
	else
		systemctl disable "$unit" >/dev/null 2>&1 || true
	fi
}

case "$1" in
remove | deconfigure | 0)
	stop_and_disable
	;;
esac
exit 0
