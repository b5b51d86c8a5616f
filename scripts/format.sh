#!/usr/bin/env bash
# clang-format-19 over every C++ source in the repository.
#   scripts/format.sh          rewrite files in place
#   scripts/format.sh --check  fail (and list the files) if anything is not formatted
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^third_party/')
if [ "${1:-}" = "--check" ]; then
  clang-format-19 --dry-run -Werror "${files[@]}"
else
  clang-format-19 -i "${files[@]}"
fi
