#!/usr/bin/env bash
# Regenerate (or --check) the service-specific variables table in docs/configuration.md from
# the services' own config tables (`<service> --config-doc`), so the one table of every
# variable (docs/design.md §8) cannot drift from the code.
#   scripts/config-doc.sh [--check] BUILD_DIR
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")/.." && pwd)
check=0
[[ ${1:-} == --check ]] && { check=1; shift; }
build=${1:-build}
[[ $build = /* ]] || build=$here/$build
doc=$here/docs/configuration.md
begin='<!-- service-variables:begin (scripts/config-doc.sh writes this table) -->'
end='<!-- service-variables:end -->'

rows=$(for svc in aos-router aos-agent-runner aos-storage aos-ml-pipeline; do
  "$build/bin/$svc" --config-doc | tail -n +3 | sed "s/^| \(\`[^\`]*\`\) |/\1\t$svc\t|/"
done | sort -t$'\t' -k1,1 -s)
# one row per variable and description; services sharing it are listed together
table=$(printf '%s\n' "$rows" | awk -F'\t' '
  { key = $1 FS $3
    if (!(key in svc)) { order[++n] = key; svc[key] = $2 } else svc[key] = svc[key] ", " $2 }
  END { for (i = 1; i <= n; i++) { split(order[i], p, FS)
          printf "| %s | %s %s\n", p[1], svc[order[i]], p[2] } }')
block=$(printf '%s\n%s\n%s\n%s\n%s' "$begin" \
  "| Variable | Service | Settings key | Type | Default | Description |" \
  "|---|---|---|---|---|---|" "$table" "$end")

current=$(awk -v b="$begin" -v e="$end" '$0 == b {on = 1} on {print} $0 == e {on = 0}' "$doc")
if ((check)); then
  [[ $current == "$block" ]] && exit 0
  echo "docs/configuration.md is out of date with the services' config tables:" >&2
  diff <(printf '%s\n' "$current") <(printf '%s\n' "$block") >&2 || true
  echo "run: scripts/config-doc.sh $build" >&2
  exit 1
fi
if [[ -z $current ]]; then
  printf '\n%s\n' "$block" >>"$doc"
else
  awk -v b="$begin" -v e="$end" -v blk="$block" '
    $0 == b {print blk; skip = 1; next} $0 == e {skip = 0; next} !skip {print}' "$doc" >"$doc.tmp"
  mv "$doc.tmp" "$doc"
fi
