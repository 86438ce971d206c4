#!/usr/bin/env bash
# Refresh the Swagger UI and ReDoc files that /docs and /redoc serve (server/pinrace/api/docs_ui/),
# from the npm registry's packages at the versions below, with their licences.  The files are
# committed: pinrace, its wheel and its container never fetch them at run time.  Needs npm.
#   bash scripts/vendor_apidocs.sh            # then run the tests and commit docs_ui/
set -euo pipefail
SWAGGER_UI=5.35.0   # swagger-ui-dist, Apache-2.0
REDOC=2.5.4         # redoc, MIT (the 2.x line FastAPI's own /redoc uses)

cd "$(dirname "$0")/.."
dest=server/pinrace/api/docs_ui
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "vendor: fetching swagger-ui-dist@$SWAGGER_UI and redoc@$REDOC with npm pack" >&2
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$SWAGGER_UI" "redoc@$REDOC" >/dev/null)
mkdir -p "$tmp/s" "$tmp/r" "$dest/swagger-ui" "$dest/redoc"
tar -xzf "$tmp/swagger-ui-dist-$SWAGGER_UI.tgz" -C "$tmp/s"
tar -xzf "$tmp/redoc-$REDOC.tgz" -C "$tmp/r"

# only what the pages load, and every licence that covers it
for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE; do
  cp "$tmp/s/package/$f" "$dest/swagger-ui/$f"
done
for f in redoc.standalone.js redoc.standalone.js.LICENSE.txt; do
  cp "$tmp/r/package/bundles/$f" "$dest/redoc/$f"
done
cp "$tmp/r/package/LICENSE" "$dest/redoc/LICENSE"

# The one change to an upstream file.  ReDoc 2 always draws Redocly's logo from their CDN
# beside "API docs by Redocly" (no option turns it off): offline, or under our CSP, that is a
# refused request and a console error.  An empty data: image fails to decode instead, and
# ReDoc's own onError handler hides it; the attribution link stays.
logo='https://cdn.redoc.ly/redoc/logo-mini.svg'
[ "$(grep -o "$logo" "$dest/redoc/redoc.standalone.js" | wc -l)" = 1 ] \
  || { echo "vendor: redoc@$REDOC no longer has exactly one $logo: review the patch" >&2; exit 1; }
upstream=$(sha256sum "$dest/redoc/redoc.standalone.js" | cut -d' ' -f1)
sed -i "s|$logo|data:,|" "$dest/redoc/redoc.standalone.js"

echo "vendor: writing $dest/VENDORED.txt (versions and SHA-256 of every file)" >&2
{
  echo "# Third-party files served by /docs and /redoc, from the npm registry, unmodified but for one line."
  echo "# Refreshed by scripts/vendor_apidocs.sh; tests/test_install.py checks every hash."
  echo "swagger-ui-dist $SWAGGER_UI Apache-2.0"
  echo "redoc $REDOC MIT"
  echo "# redoc/redoc.standalone.js: its CDN logo URL replaced by data:, (see the script); upstream SHA-256 $upstream"
  (cd "$dest" && sha256sum swagger-ui/* redoc/*)
} > "$dest/VENDORED.txt"
echo "vendor: done; run bash scripts/test.sh, then commit $dest" >&2
