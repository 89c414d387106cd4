#!/usr/bin/env bash
# Every tracked C source and header is clang-format clean (.clang-format at the top);
# `make format` rewrites them. Issue 13 item 4.   test_format.sh SOURCE_DIR
set -u
src=$1
cd "$src" || exit 2
fmt=$(command -v clang-format || command -v clang-format-14 || true)
if [[ -z $fmt ]]; then
  echo "FAIL: clang-format is not installed (scripts/deps.sh installs it)"
  exit 1
fi
mapfile -t files < <(git ls-files '*.c' '*.h')
if [[ ${#files[@]} -eq 0 ]]; then
  echo "FAIL: no C files found under $src (not a git checkout?)"
  exit 1
fi
out=$("$fmt" --dry-run -Werror "${files[@]}" 2>&1)
rc=$?
if [[ $rc -ne 0 ]]; then
  printf '%s\n' "$out" | grep -E '^[^ ].*: error:' | sed -E 's/:[0-9]+:[0-9]+: error:.*//' | sort -u |
    sed 's/^/not formatted: /'
  echo "FAIL: run 'make format' ($fmt: $("$fmt" --version | head -1))"
  exit 1
fi
echo "ok: ${#files[@]} files clang-format clean"
