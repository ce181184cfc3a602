#!/usr/bin/env bash
# scripts/build.sh — `npm run build`: the tools the native addon needs
# (scripts/build-deps.sh), the addon against the headers of the Node that
# runs the build (offline: node-gyp would otherwise download them), then tsc.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/build-deps.sh
prefix=$(node -p 'require("path").dirname(require("path").dirname(process.execPath))')
nodedir=()
[[ -f $prefix/include/node/node_api.h ]] && nodedir=(--nodedir="$prefix")
node-gyp rebuild --silent "${nodedir[@]}"
tsc -p tsconfig.json
