#!/usr/bin/env bash
# Regenerates the sample output in docs/cli.md from a real run: records
# sample-ci-job --mode=buggy and pastes `ctxscope analyze`'s text report (paths
# relative to the checkout) between the GENERATED markers.
#   scripts/regen-cli-doc.sh [BUILD_DIR]     default: build/dev
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/dev}"
cmake --build "$build" --target ctxscope sample-ci-job >/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
CTXSCOPE_TRACE="$tmp/ci.db" "$build/samples/sample-ci-job" --mode=buggy >/dev/null
(cd "$tmp" && "$OLDPWD/$build/analyzer/ctxscope" analyze --color never --source-root "$OLDPWD" ci.db) > "$tmp/out.txt" || true
python3 - "$tmp/out.txt" docs/cli.md <<'PY'
import sys
out = open(sys.argv[1]).read()
doc = open(sys.argv[2]).read()
b = doc.index('<!-- BEGIN GENERATED: sample output')
b = doc.index('\n', b) + 1
e = doc.index('<!-- END GENERATED: sample output -->')
open(sys.argv[2], 'w').write(doc[:b] + '```\n' + out + '```\n' + doc[e:])
PY
git --no-pager diff --stat -- docs/cli.md
