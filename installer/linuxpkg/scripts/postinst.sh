#!/bin/sh
# shadowmap-agent: the .deb postinst and the .rpm %post, one script for both.
#
#   deb: postinst configure [<last configured version>]
#        postinst abort-upgrade|abort-remove|abort-deconfigure ...
#   rpm: %post <packages installed after this one>: 1 install, 2+ upgrade
#
# The agent starts even with an empty configuration (it reports the problem
# in `shadowmap-agent status` and checks again every minute), so nothing
# here fails the transaction over settings. Without a running systemd (a
# container, a chroot building an image) the unit is only enabled.
#
# SHADOWMAP_PKG_ROOT, set only by the package's tests, prefixes every path
# the script looks at or writes.
set -e

root=${SHADOWMAP_PKG_ROOT:-}
unit=shadowmap-agent.service
state_dir=$root/var/lib/shadowmap-agent
# prerm leaves this on removal: dpkg passes the old version to postinst
# when a removed (not purged) package is installed again, which would
# otherwise look like an upgrade of a disabled service.
# The mark lives beside the conffile: dpkg keeps /etc/shadowmap on remove
# and deletes it on purge, exactly the life the mark needs, while an admin
# may well clear the state directory in between.
removed_mark=$root/etc/shadowmap/.removed-by-package

warn() { echo "shadowmap-agent: $*" >&2; }
have_systemctl() { command -v systemctl >/dev/null 2>&1; }
systemd_running() { [ -d "$root/run/systemd/system" ]; }

# policy-rc.d is how Debian images and chroots forbid starting services.
may_start() {
	[ -x "$root/usr/sbin/policy-rc.d" ] || return 0
	rc=0
	"$root/usr/sbin/policy-rc.d" shadowmap-agent start >/dev/null 2>&1 || rc=$?
	[ "$rc" -ne 101 ]
}

# The spool and status hold the names of apps a person uses: root only.
make_state_dir() {
	mkdir -p "$state_dir"
	chmod 0700 "$state_dir"
}

fresh_install() {
	make_state_dir
	rm -f "$removed_mark"
	have_systemctl || return 0
	if ! systemd_running; then
		systemctl enable "$unit" >/dev/null 2>&1 || true
		return 0
	fi
	systemctl daemon-reload || true
	systemctl enable "$unit" || warn "could not enable $unit"
	if may_start; then
		systemctl start "$unit" || warn "could not start $unit; see systemctl status $unit"
	fi
}

upgrade() {
	if [ -e "$removed_mark" ]; then
		fresh_install
		return 0
	fi
	make_state_dir
	have_systemctl || return 0
	systemd_running || return 0
	systemctl daemon-reload || true
	if may_start; then
		systemctl try-restart "$unit" || warn "could not restart $unit; see systemctl status $unit"
	fi
}

case "$1" in
configure)
	if [ -z "$2" ]; then fresh_install; else upgrade; fi
	;;
abort-upgrade | abort-remove | abort-deconfigure)
	upgrade
	;;
1)
	fresh_install
	;;
'' | *[!0-9]*)
	warn "postinst: ignoring unknown argument '$1'"
	;;
*)
	upgrade
	;;
esac
exit 0
