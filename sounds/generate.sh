#!/usr/bin/env bash
# Regenerates the project's own prompts from sounds/manifest.tsv with a speech
# synthesiser, as stand-ins until studio recordings replace them.
#
#   sounds/generate.sh                 every prompt, every language
#   sounds/generate.sh pin-locked ...  only the named prompts
#   LANGS=fr sounds/generate.sh        only French
#
# Output: sounds/<lang>/voiceportal/<name>.wav, 8 kHz mono 16-bit signed PCM WAV,
# the format Asterisk plays as .wav without transcoding work of its own. Leading
# and trailing silence is trimmed so that prompts chained in one playlist
# ("Greeting" + number) do not leave gaps, and the level is normalised so that
# every prompt sounds as loud as the next.
#
# The output is reproducible: no dither, and espeak-ng and sox write no dates,
# so regenerating an unchanged line leaves its file unchanged in git.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
manifest="$here/manifest.tsv"
langs="${LANGS:-en fr}"
# Words per minute: a little slower than espeak-ng's 175, for telephone audio.
speed="${SPEED:-150}"

die() {
    echo "generate.sh: $*" >&2
    exit 1
}

for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool is not installed; install it with: apt-get install espeak-ng sox"
done
[ -f "$manifest" ] || die "no manifest at $manifest"

# espeak-ng voice for each language folder.
voice_for() {
    case "$1" in
    en) echo en-us ;;
    fr) echo fr ;;
    *) die "no voice configured for language '$1' (known: en, fr)" ;;
    esac
}

# The column of the manifest holding each language's text.
column_for() {
    case "$1" in
    en) echo 2 ;;
    fr) echo 3 ;;
    *) die "no column for language '$1' in the manifest" ;;
    esac
}

for lang in $langs; do
    voice="$(voice_for "$lang")"
    # The first line of the listing is a header; any further line is a voice.
    espeak-ng --voices="$voice" | tail -n +2 | grep -q . ||
        die "espeak-ng has no '$voice' voice; install espeak-ng-data"
done

# Reads the manifest into parallel arrays, checking every line on the way.
names=()
texts_en=()
texts_fr=()
line_no=0
seen=" "
while IFS= read -r line || [ -n "$line" ]; do
    line_no=$((line_no + 1))
    line="${line%$'\r'}"
    case "$line" in
    '' | '#'*) continue ;;
    $'name\ten\tfr') continue ;;
    esac
    IFS=$'\t' read -r name en fr extra <<<"$line"
    [ -n "${fr:-}" ] && [ -z "${extra:-}" ] ||
        die "manifest.tsv line $line_no: expected 3 TAB-separated columns (name, en, fr)"
    [[ "$name" =~ ^[a-z0-9][a-z0-9-]*$ ]] ||
        die "manifest.tsv line $line_no: '$name' is not a lower-case file name"
    case "$seen" in
    *" $name "*) die "manifest.tsv line $line_no: '$name' is listed twice" ;;
    esac
    seen="$seen$name "
    names+=("$name")
    texts_en+=("$en")
    texts_fr+=("$fr")
done <"$manifest"

# Which prompts to make: all, or those named on the command line.
wanted=("$@")
if [ ${#wanted[@]} -eq 0 ]; then
    wanted=("${names[@]}")
fi
for name in "${wanted[@]}"; do
    case "$seen" in
    *" $name "*) ;;
    *) die "'$name' is not in manifest.tsv" ;;
    esac
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# render LANG NAME TEXT: synthesise, convert, and move into place atomically so
# that a running Asterisk never plays a half-written file.
render() {
    local lang="$1" name="$2" text="$3"
    local out_dir="$here/$lang/voiceportal"
    mkdir -p "$out_dir"
    # espeak-ng spells an upper-case "PIN" out as P-I-N but says "PINs" as a
    # word; people say "pin" in both, so the synthesiser is given the word.
    if [ "$lang" = en ]; then text="${text//PIN/pin}"; fi
    espeak-ng -v "$(voice_for "$lang")" -s "$speed" -w "$tmp/raw.wav" "$text"
    # silence 1 0.01 0.1%: drop everything before the first 10 ms above 0.1% of
    # full scale; `reverse` around a second pass does the same at the end.
    sox -D "$tmp/raw.wav" -t wav "$tmp/trimmed.wav" \
        silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse
    # A second pass, now that the length is known: a 5 ms fade-in and a 10 ms
    # fade-out keep the cut edges from clicking.
    sox -D "$tmp/trimmed.wav" -r 8000 -c 1 -b 16 -e signed-integer -t wav "$tmp/out.wav" \
        rate 8000 norm -3 fade q 0.005 -0 0.01
    mv "$tmp/out.wav" "$out_dir/$name.wav"
}

count=0
for i in "${!names[@]}"; do
    name="${names[$i]}"
    case " ${wanted[*]} " in
    *" $name "*) ;;
    *) continue ;;
    esac
    for lang in $langs; do
        col="$(column_for "$lang")"
        if [ "$col" = 2 ]; then text="${texts_en[$i]}"; else text="${texts_fr[$i]}"; fi
        render "$lang" "$name" "$text"
        count=$((count + 1))
    done
done
echo "generate.sh: wrote $count file(s) under $here/<lang>/voiceportal/"
