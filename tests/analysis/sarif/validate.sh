#!/usr/bin/env bash
# Validates SARIF files against the official SARIF 2.1.0 JSON schema
# (sarif-2.1.0-rtm.5.json, as shipped in the npm package @microsoft/jest-sarif)
# with Ajv's draft-04 validator.  The npm packages are installed on first use
# into TOOLS_DIR (a build folder; never committed).
#   validate.sh TOOLS_DIR file.sarif...
# Exit: 0 valid, 1 invalid (errors on stderr), 3 tooling unavailable (no npm /
# registry unreachable): the caller reports that as a skip, not a pass.
set -uo pipefail
tools="$1"; shift
here="$(cd "$(dirname "$0")" && pwd)"
schema="$tools/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"
if [ ! -f "$schema" ] || [ ! -d "$tools/node_modules/ajv-formats" ]; then
  command -v npm >/dev/null || { echo "validate.sh: npm not installed" >&2; exit 3; }
  mkdir -p "$tools"
  # Pinned versions; a lock on the folder keeps parallel tests from racing.
  (
    flock 9
    [ -f "$schema" ] && [ -d "$tools/node_modules/ajv-formats" ] && exit 0
    timeout 300 npm install --no-audit --no-fund --silent --prefix "$tools" \
      @microsoft/jest-sarif@1.0.0-beta.0 ajv@8.17.1 ajv-draft-04@1.0.0 ajv-formats@3.0.1 >"$tools/npm.log" 2>&1
  ) 9>"$tools/.lock" || { echo "validate.sh: npm install failed (see $tools/npm.log)" >&2; exit 3; }
  [ -f "$schema" ] || { echo "validate.sh: schema not found in the npm package" >&2; exit 3; }
fi
NODE_PATH="$tools/node_modules" exec node "$here/validate.js" "$schema" "$@"
