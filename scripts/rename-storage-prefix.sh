#!/usr/bin/env bash
# Rename the storage service's own C identifiers from aos_storage_* to storage_* (issue 13
# item 2), so that aos_storage_* names only common's storage client and data model
# (common/include/aos/storage_*.h). Idempotent: a second run finds nothing to rename.
#
#   scripts/rename-storage-prefix.sh [--check]
#
# What is renamed: every aos_storage_<x> identifier used in services/storage/*.{c,h} that
# common/ does not use, wherever it appears in *.c/*.h outside common/ and in docs/*.md.
# What is left alone: common/ (the client API), names that stand inside string literals
# (Prometheus metric names such as aos_storage_requests_total), CMake target names.
# --check: print what would be renamed and exit 1 if anything would, else 0.
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
check=0
[[ ${1:-} == --check ]] && check=1

ids=$(comm -23 \
  <(git grep -hoE '\baos_storage_[A-Za-z0-9_]+' -- 'services/storage/*.c' 'services/storage/*.h' | sort -u) \
  <(git grep -hoE '\baos_storage_[A-Za-z0-9_]+' -- common | sort -u))
# Names inside a string literal anywhere (metric names, log keys) keep their spelling.
quoted=$(git grep -hoE '"[^"]*\baos_storage_[A-Za-z0-9_]+[^"]*"' -- '*.c' '*.h' |
  grep -oE '\baos_storage_[A-Za-z0-9_]+' | sort -u || true)
ids=$(comm -23 <(printf '%s\n' $ids | sort -u) <(printf '%s\n' $quoted | sort -u) | grep . || true)
if [[ -z $ids ]]; then
  echo "rename-storage-prefix: nothing to rename"
  exit 0
fi
# A new name must not exist already. A struct tag (only ever written "struct <id>") lives in
# its own name space, so there only another tag of that name is a clash.
for id in $ids; do
  new=storage_${id#aos_storage_}
  if ! git grep -hwE "$id" -- '*.c' '*.h' | grep -wE "$id" | grep -qvE "struct $id\b"; then
    clash=$(git grep -lE "struct $new\b" -- '*.c' '*.h' || true)
  else
    clash=$(git grep -lwE "$new" -- '*.c' '*.h' || true)
  fi
  if [[ -n $clash ]]; then
    echo "rename-storage-prefix: $new already exists ($clash); not renaming" >&2
    exit 2
  fi
done
if [[ $check -eq 1 ]]; then
  printf 'would rename %s\n' $ids
  exit 1
fi
sed_args=()
for id in $ids; do
  sed_args+=(-e "s/\\b${id}\\b/storage_${id#aos_storage_}/g")
done
files=$(git grep -lwE "$(printf '%s|' $ids | sed 's/|$//')" -- '*.c' '*.h' 'docs/*.md' ':!common' || true)
for f in $files; do
  sed -i "${sed_args[@]}" "$f"
done
n=$(printf '%s\n' $ids | wc -l)
echo "rename-storage-prefix: renamed $n identifiers in $(printf '%s\n' $files | wc -l) files"
