#!/usr/bin/env bash
# Runs an avahi client command (avahi-browse, avahi-publish, …) next to a
# private avahi-daemon and system bus, inside a lab host. Call it through
#   ip netns exec HOST unshare --mount --propagation private bash test/lab/avahi.sh CMD ARGS...
# so /run is this host's own tmpfs. Both daemons end when the command does.
set -eu
mount -t tmpfs tmpfs /run
mkdir -p /run/dbus /run/avahi-daemon
dbus-daemon --system --nofork --nopidfile &
dbus=$!
for _ in $(seq 50); do [ -S /run/dbus/system_bus_socket ] && break; sleep 0.05; done
cat > /run/avahi.conf <<CONF
[server]
allow-interfaces=eth0
use-ipv4=yes
use-ipv6=no
enable-dbus=yes
[publish]
publish-hinfo=no
publish-workstation=no
CONF
avahi-daemon -f /run/avahi.conf --no-drop-root --no-chroot --no-rlimits --no-proc-title 2>/run/avahi.log &
avahi=$!
trap 'kill $avahi $dbus 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 60); do avahi-browse -tp _ringdns-probe._tcp >/dev/null 2>&1 && break; sleep 0.05; done
"$@"
