#!/usr/bin/env bash
# scripts/build-deps.sh — the tools `npm run build` needs to compile the native
# addon (node-gyp: python3, make, g++). Quick when they are there; otherwise
# it says what it installs, then installs it with apt-get (never removing or
# replacing a package). scripts/build.sh (`npm run build`) and scripts/test-deps.sh run it.
set -euo pipefail
missing=()
command -v python3 >/dev/null || missing+=(python3)
command -v make >/dev/null || missing+=(make)
command -v g++ >/dev/null || missing+=(g++)
[[ ${#missing[@]} -eq 0 ]] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "build-deps: install ${missing[*]} to build the native addon (no apt-get here)" >&2
  exit 1
fi
SUDO=()
[[ $(id -u) != 0 ]] && SUDO=(sudo -E)
echo "build-deps: installing ${missing[*]} (needed to compile the native addon)"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends --no-remove "${missing[@]}"
