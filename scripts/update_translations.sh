#!/usr/bin/env bash
# Update the console's translations (French is the source language).
#
#   scripts/update_translations.sh
#
# 1. pyside6-lupdate extracts every tr() / QCoreApplication.translate() string of console/
#    into resources/translations/console_<lang>.ts, keeping the translations already made
#    and dropping the strings that left the code;
# 2. translate the new entries (Qt Linguist: pyside6-linguist, or any editor: the entries
#    marked type="unfinished");
# 3. run this script again: pyside6-lrelease compiles the .qm files the console loads
#    (console/views/i18n.py). Commit both the .ts and the .qm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin_dir=.venv/bin
[[ -x "$bin_dir/pyside6-lupdate" ]] || bin_dir="$(dirname "$(command -v pyside6-lupdate)")"
lupdate="$bin_dir/pyside6-lupdate"
lrelease="$bin_dir/pyside6-lrelease"

languages=(en)
mapfile -t sources < <(find console -name '*.py' -not -path '*/__pycache__/*' | LC_ALL=C sort)

for lang in "${languages[@]}"; do
    ts="resources/translations/console_${lang}.ts"
    "$lupdate" -source-language fr_FR -target-language "$lang" -no-obsolete \
        -locations relative "${sources[@]}" -ts "$ts"
    "$lrelease" "$ts" -qm "${ts%.ts}.qm"
    unfinished=$(grep -c 'type="unfinished"' "$ts" || true)
    if [[ "$unfinished" != 0 ]]; then
        echo "$ts: $unfinished string(s) still to translate" >&2
    fi
done
