#!/usr/bin/env bash
# Checks that an Asterisk installation has every sound voiceportal plays, in
# every language: the core sounds of sounds/asterisk-core.txt (from Asterisk's
# core sound packages) and the project's own prompts of sounds/manifest.tsv
# (copied from sounds/<lang>/voiceportal/).
#
#   sounds/check-core.sh [SOUNDS_DIR]     default: /var/lib/asterisk/sounds
#   LANGS=fr sounds/check-core.sh         only French
#
# A core sound counts in any format (.gsm, .ulaw, .wav, ...): Asterisk picks one.
# Exits 1 and lists what is missing, so a silent prompt is found before a caller
# finds it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sounds_dir="${1:-/var/lib/asterisk/sounds}"
langs="${LANGS:-en fr}"

[ -d "$sounds_dir" ] || {
    echo "check-core.sh: no sound folder at $sounds_dir" >&2
    exit 1
}

missing=0
# has LANG NAME: true when some file LANG/NAME.<format> exists.
has() {
    compgen -G "$sounds_dir/$1/$2.*" >/dev/null
}

for lang in $langs; do
    while IFS= read -r name || [ -n "$name" ]; do
        case "$name" in '' | '#'*) continue ;; esac
        if ! has "$lang" "$name"; then
            echo "missing core sound: $lang/$name (install Asterisk's core-sounds-$lang package)"
            missing=$((missing + 1))
        fi
    done <"$here/asterisk-core.txt"

    while IFS=$'\t' read -r name _ || [ -n "$name" ]; do
        case "$name" in '' | '#'* | name) continue ;; esac
        if ! has "$lang" "voiceportal/$name"; then
            echo "missing own prompt: $lang/voiceportal/$name (copy sounds/$lang/voiceportal/)"
            missing=$((missing + 1))
        fi
    done <"$here/manifest.tsv"
done

if [ "$missing" -gt 0 ]; then
    echo "check-core.sh: $missing sound(s) missing under $sounds_dir" >&2
    exit 1
fi
echo "check-core.sh: every sound is installed under $sounds_dir for: $langs"
