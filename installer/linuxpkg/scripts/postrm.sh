#!/bin/sh
# shadowmap-agent: the .deb postrm and the .rpm %postun, one script for both.
#
#   deb: postrm remove | purge | upgrade <new version> | abort-install ... |
#        abort-upgrade ... | failed-upgrade ... | disappear ...
#   rpm: %postun <packages left after this one>: 0 removal, 1+ upgrade
#
# remove keeps the configuration and the spool, as dpkg keeps conffiles;
# purge deletes both. RPM has no purge: `rpm -e` keeps the spool (and an
# edited agent.yaml as agent.yaml.rpmsave).
#
# SHADOWMAP_PKG_ROOT, set only by the package's tests, prefixes every path
# the script looks at or writes.
set -e

root=${SHADOWMAP_PKG_ROOT:-}

reload() {
	command -v systemctl >/dev/null 2>&1 || return 0
	[ -d "$root/run/systemd/system" ] || return 0
	systemctl daemon-reload || true
}

case "$1" in
purge)
	rm -rf "$root/var/lib/shadowmap-agent" "$root/etc/shadowmap"
	reload
	;;
remove | abort-install | disappear | 0)
	reload
	;;
esac
exit 0
