#!/bin/sh
# Install and build the IIIF viewer of the public pages (Clover IIIF, React, bundled by
# esbuild) from the npm registry into publisher/static/viewer/dist/, served by Flask at
# /static/viewer/dist/viewer.js: no CDN at run time. Versions are pinned by package.json
# and package-lock.json (`npm ci`). Nothing is rebuilt when dist/ is newer than its inputs.
#
# Called by `make viewer` (a prerequisite of `make demo` and `make test`). Without npm the
# pages still work: they show a link to the manifest instead of the viewer, and the browser
# test skips with that reason.
set -eu
cd "$(dirname "$0")/../publisher/static/viewer"
out=dist/viewer.js
if [ -f "$out" ] && [ "$out" -nt package.json ] && [ "$out" -nt package-lock.json ] \
        && [ "$out" -nt src/viewer.jsx ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "viewer-setup: npm not found (Debian: apt-get install npm); the record pages will" \
         "link the IIIF manifest instead of embedding the viewer" >&2
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
echo "viewer-setup: built publisher/static/viewer/$out ($(wc -c < "$out") bytes)"
