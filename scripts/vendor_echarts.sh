#!/usr/bin/env bash
# Refresh (or check) the vendored Apache ECharts of the web admin.
#
#   scripts/vendor_echarts.sh           fetch the pinned npm package, check it, copy its files in
#   scripts/vendor_echarts.sh --check   fetch it and check that the committed files are its own
#
# The web admin needs no JavaScript build: it serves ECharts' own minified bundle
# (dist/echarts.min.js, about 1.1 MB) with the package's LICENSE and NOTICE, committed under
# admin/web/static/vendor/echarts/. This script is how that copy was made: it fetches the pinned
# version with `npm pack` (npm checks the registry's sha512 integrity), compares the tarball with
# the integrity pinned below as well, and writes MANIFEST.json with each file's sha256, which
# test/unit/test_web_assets.py checks. To upgrade, change VERSION and INTEGRITY (from
# `npm view echarts@<version> dist.integrity`) and run it.
set -euo pipefail

VERSION=6.1.0
INTEGRITY='sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA=='
FILES=(dist/echarts.min.js LICENSE NOTICE)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/admin/web/static/vendor/echarts"
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1

command -v npm >/dev/null || { echo "vendor_echarts.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

(cd "$WORK" && npm pack --silent "echarts@$VERSION" >/dev/null)
TARBALL="$WORK/echarts-$VERSION.tgz"
ACTUAL="sha512-$(openssl dgst -sha512 -binary "$TARBALL" | base64 -w0)"
if [ "$ACTUAL" != "$INTEGRITY" ]; then
    echo "vendor_echarts.sh: echarts-$VERSION.tgz has integrity $ACTUAL, expected $INTEGRITY" >&2
    exit 1
fi
tar -xzf "$TARBALL" -C "$WORK"

if [ "$CHECK" = 1 ]; then
    for f in "${FILES[@]}"; do
        cmp -s "$WORK/package/$f" "$DEST/$(basename "$f")" || { echo "differs: $f" >&2; exit 1; }
    done
    echo "vendor_echarts.sh: the committed files are echarts $VERSION's"
    exit 0
fi

mkdir -p "$DEST"
for f in "${FILES[@]}"; do
    cp "$WORK/package/$f" "$DEST/$(basename "$f")"
done
{
    printf '{\n  "package": "echarts",\n  "version": "%s",\n  "license": "Apache-2.0",\n' "$VERSION"
    printf '  "npm_integrity": "%s",\n  "sha256": {\n' "$INTEGRITY"
    n=${#FILES[@]}; i=0
    for f in "${FILES[@]}"; do
        i=$((i + 1)); sep=','; [ "$i" = "$n" ] && sep=''
        printf '    "%s": "%s"%s\n' "$(basename "$f")" "$(sha256sum "$DEST/$(basename "$f")" | cut -d' ' -f1)" "$sep"
    done
    printf '  }\n}\n'
} > "$DEST/MANIFEST.json"
echo "vendor_echarts.sh: echarts $VERSION copied to ${DEST#"$ROOT"/}"
