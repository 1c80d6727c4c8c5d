#!/bin/sh
# The staff workspace's JavaScript from the npm registry (htmx; ECharts, common build, for
# the request statistics' charts; vis-timeline, peer build, with moment (+ its zh-cn locale)
# and vis-data, for students' growth records; axe-core for the browser tests' accessibility
# checks),
# pinned by staff/assets/package.json and package-lock.json (`npm ci`), copied to
# staff/static/vendor/ and served by Flask under /staff/static/vendor/ to signed-in staff
# only: no CDN, no bundler. Nothing is done when the copies are newer than the lock file.
#
# Called by `make staff-assets` (a prerequisite of `make demo` and `make test`). Without npm
# the workspace still works (every form posts without JavaScript); only the type-ahead, live
# checks and upload progress are missing, and the browser tests fail under CI.
set -eu
cd "$(dirname "$0")/../staff/assets"
out=../static/vendor
if [ -f "$out/htmx.min.js" ] && [ "$out/htmx.min.js" -nt package-lock.json ] \
        && [ -f "$out/axe.min.js" ] && [ -f "$out/echarts.min.js" ] \
        && [ -f "$out/vis-timeline-graph2d.min.js" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "staff-assets: npm not found (Debian: apt-get install npm); the staff workspace" \
         "works without htmx, with fewer live checks" >&2
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
mkdir -p "$out"
cp node_modules/htmx.org/dist/htmx.min.js node_modules/axe-core/axe.min.js "$out/"
# the common build (bar, line, pie; canvas), under the name the pages load
cp node_modules/echarts/dist/echarts.common.min.js "$out/echarts.min.js"
# vis-timeline's peer build (the standalone one injects a <style> element, which the
# workspace's Content-Security-Policy refuses): its stylesheet is served as a file
cp node_modules/moment/min/moment.min.js node_modules/vis-data/peer/umd/vis-data.min.js \
   node_modules/vis-timeline/peer/umd/vis-timeline-graph2d.min.js \
   node_modules/vis-timeline/styles/vis-timeline-graph2d.min.css "$out/"
cp node_modules/moment/locale/zh-cn.js "$out/moment-zh-cn.js"
echo "staff-assets: copied htmx $(node -p 'require("htmx.org/package.json").version' 2>/dev/null || echo '?'), ECharts, vis-timeline and axe-core into staff/static/vendor"
