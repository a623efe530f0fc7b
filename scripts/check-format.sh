#!/usr/bin/env bash
# Fails when a C++ file under src/, bench/ or fuzz/ is not formatted by .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  echo "check-format: clang-format is not installed; skipping" >&2
  exit 0
fi
files=$(git ls-files 'src/*.cc' 'src/*.h' 'bench/*.cc' 'bench/*.h' 'fuzz/*.cc')
if ! clang-format --dry-run --Werror $files; then
  echo "check-format: run 'make format' to fix the files above" >&2
  exit 1
fi
echo "check-format: ok"
