#!/bin/sh
# Fail when the committed bundle (eleven_nb/static) is not what js/src builds to. CI runs this after `npm ci`.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node build.mjs "$tmp"
for f in player.js player.css; do
  if ! cmp -s "$tmp/$f" "../eleven_nb/static/$f"; then
    echo "eleven_nb/static/$f is stale: run 'npm run build' in js/ and commit it" >&2
    exit 1
  fi
done
echo "bundle is fresh"
