#!/usr/bin/env bash
# Prints the path of a Node.js binary of the given major version (default 24),
# fetched once from the npm registry's node-linux-<arch> package (it carries
# the official binary) into .cache/node-<major>/. Usage: bash scripts/node-lts.sh [24]
set -euo pipefail
cd "$(dirname "$0")/.."
major=${1:-24}
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
dir=.cache/node-$major
if [ ! -x "$dir/bin/node" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  tarball=$(npm pack "node-linux-$arch@$major" --silent --pack-destination "$dir" | tail -1)
  tar xzf "$dir/$tarball" -C "$dir" --strip-components=1
  rm "$dir/$tarball"
fi
"$dir/bin/node" --version >/dev/null
echo "$PWD/$dir/bin/node"
