#!/usr/bin/env bash
# Peak memory and wall time of optiq on a random-weight Llama checkpoint.
#
# Writes a bf16 Hugging Face checkpoint with optiq_make_model (default shape:
# TinyLlama-1.1B), then runs `optiq inspect`, `optiq eval perplexity` and a
# reduced `optiq profile` on it under /usr/bin/time and prints a markdown
# table of wall seconds and peak resident set size (max RSS) on stdout.
# Progress and errors go to stderr.
#
# Usage: bench/memory.sh [--keep DIR] [--samples N] [--seq-len N]
#                        [-- optiq_make_model options]
#   --keep DIR     reuse the checkpoint in DIR, or write it there and keep it
#                  (default: a temporary folder, removed at exit)
#   --samples N    profile calibration sequences (default 2)
#   --seq-len N    profile tokens per calibration sequence (default 256).
#                  The profile runs a forward pass per tensor, so at
#                  TinyLlama size on 2 cores the defaults take about 40
#                  minutes, and `--samples 1 --seq-len 128` about half that
#   -- ...         passed to optiq_make_model, for example
#                  `-- --hidden 4096 --layers 32 --intermediate 14336
#                  --heads 32 --kv-heads 8 --vocab 128256` for the shape of
#                  Llama-3-8B (the 32000-piece tokenizer uses the first ids)
#
# Environment (relative paths are taken from the repository root):
#   OPTIQ_BIN          optiq binary (default build/src/optiq/cli/optiq)
#   OPTIQ_MAKE_MODEL   optiq_make_model (default build/bench/optiq_make_model)
#   OPTIQ_SHARED_DIR   shared inputs (default ../shared): reads
#                      tokenizers/llama2/tokenizer.model and
#                      data/wikitext-2-raw/wiki.test.raw
set -euo pipefail

die() {
  echo "memory.sh: $*" >&2
  exit 1
}

keep=""
samples=2
seq_len=256
make_args=()
while (($#)); do
  case "$1" in
    --keep)
      (($# >= 2)) || die "--keep requires a folder"
      keep=$(realpath -m -- "$2")
      shift 2
      ;;
    --samples)
      (($# >= 2)) || die "--samples requires a count"
      samples=$2
      shift 2
      ;;
    --seq-len)
      (($# >= 2)) || die "--seq-len requires a token count"
      seq_len=$2
      shift 2
      ;;
    --)
      shift
      make_args=("$@")
      break
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
shared=${OPTIQ_SHARED_DIR:-$repo/../shared}
optiq=${OPTIQ_BIN:-build/src/optiq/cli/optiq}
make_model=${OPTIQ_MAKE_MODEL:-build/bench/optiq_make_model}
tokenizer=$shared/tokenizers/llama2/tokenizer.model
text=$shared/data/wikitext-2-raw/wiki.test.raw

[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (install GNU time)"
[[ -x $optiq ]] || die "optiq binary '$optiq' not found or not" \
  "executable. Build it or set OPTIQ_BIN."
[[ -f $text ]] || die "text '$text' not found. Set OPTIQ_SHARED_DIR."
[[ -f $tokenizer ]] || die "tokenizer '$tokenizer' not found." \
  "Set OPTIQ_SHARED_DIR."

scratch=$(mktemp -d "${TMPDIR:-/tmp}/optiq-memory.XXXXXX")
trap 'rm -rf -- "$scratch"' EXIT
model=${keep:-$scratch/model}

# Runs a command under /usr/bin/time and sets `seconds` and `rss_mib`.
# Arguments: a label for messages, then the command.
measure() {
  local label=$1
  shift
  echo "memory.sh: running $label" >&2
  if ! /usr/bin/time -f '%e %M' -o "$scratch/time.txt" "$@" \
    >"$scratch/out.log" 2>&1; then
    tail -n 20 "$scratch/out.log" >&2
    die "'$label' failed (command: $*)"
  fi
  local kib
  read -r seconds kib <"$scratch/time.txt"
  rss_mib=$((kib / 1024))
}

# Prints a table row for the last measure() call. Rows appear as each command
# finishes, so an interrupted run still reports what it measured.
print_row() {
  echo "| \`$1\` | $seconds | $rss_mib | $model_mib | $((rss_mib - model_mib)) |"
}

generated=false
if [[ -f $model/config.json ]]; then
  echo "memory.sh: reusing the checkpoint in $model" >&2
else
  [[ -x $make_model ]] || die "optiq_make_model '$make_model' not found or" \
    "not executable. Build it (ninja optiq_make_model) or set" \
    "OPTIQ_MAKE_MODEL."
  measure "optiq_make_model" "$make_model" --tokenizer "$tokenizer" \
    -o "$model" "${make_args[@]}"
  generated=true
fi

bytes=0
for shard in "$model"/*.safetensors; do
  [[ -f $shard ]] || die "no .safetensors files in '$model'"
  bytes=$((bytes + $(stat -c %s -- "$shard")))
done
model_mib=$((bytes / 1048576))

echo "| command | wall (s) | peak RSS (MiB) | model files (MiB) |" \
  "RSS - model (MiB) |"
echo "|---|---:|---:|---:|---:|"
if $generated; then
  print_row "optiq_make_model"
fi

measure "optiq inspect" "$optiq" inspect "$model"
print_row "optiq inspect"

label="optiq eval perplexity --ctx 512 --chunks 4"
measure "$label" "$optiq" eval perplexity "$model" --text "$text" \
  --ctx 512 --chunks 4
print_row "$label"
grep -E '^perplexity +[0-9]' "$scratch/out.log" >&2 || true

label="optiq profile --samples $samples --seq-len $seq_len"
measure "$label" "$optiq" profile "$model" --calib "$text" \
  --samples "$samples" --seq-len "$seq_len" --bits 4 --group-size 64 \
  --metric kl -o "$scratch/p.json"
print_row "$label"
