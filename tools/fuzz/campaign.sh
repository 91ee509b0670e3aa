#!/usr/bin/env bash
# The hostile-input campaign: runs the release `glance` binary on mutated inputs of five
# categories (checkpoints, configs, Hugging Face folders, CLI flags, corpora), each run with a
# time limit and an address-space cap, and classifies every run:
#   error    exit ≠ 0 with an "Error:" line          success  exit 0 and a plausible output
#   crash    a signal or a trap (exit > 128)          hang     the time limit ran out
#   wrong    exit 0 but NaN/inf, "bpc 0.0000" or similar in the output
#   unclear  exit ≠ 0 without an "Error:" line
# It writes OUT/results.tsv (one line per run), OUT/summary.txt (counts per category and
# outcome) and keeps every crash, hang, wrong and unclear run under OUT/findings (its inputs as
# they were before the run in input/).
#
#   tools/fuzz/campaign.sh [--binary .build/release/glance] [--runs 1100] [--jobs 2]
#                          [--seed 1] [--timeout 30] [--memory-kib 4194304] [--out fuzz-campaign]
#                          [--minutes M]
#   tools/fuzz/campaign.sh --replay OLD/findings [--binary …] [--out DIR]
#
# --runs is per category; the categories take turns, so that --minutes (stop starting runs
# after M minutes, then summarize) leaves every category with about as many runs. Needs the
# release binary (swift build -c release) and swiftc (it builds its mutator from
# Tests/GlanceTestSupport/Mutation.swift); no Python. --replay runs the kept inputs of an
# earlier campaign again (e.g. with a fixed binary; OLD/base must still exist) and summarizes.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
binary=$root/.build/release/glance
runs=1100 jobs=2 seed=1 limit=30 memory=4194304 out=$PWD/fuzz-campaign minutes=0 replay=""
while (($#)); do
    case $1 in
        --binary) binary=$(realpath "$2"); shift ;;
        --runs) runs=$2; shift ;;
        --jobs) jobs=$2; shift ;;
        --seed) seed=$2; shift ;;
        --timeout) limit=$2; shift ;;
        --memory-kib) memory=$2; shift ;;
        --out) out=$(realpath -m "$2"); shift ;;
        --minutes) minutes=$2; shift ;;
        --replay) replay=$(realpath "$2"); shift ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "campaign.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ -x $binary ]] || { echo "campaign.sh: no binary at $binary: run swift build -c release first" >&2; exit 2; }
fixtures=$root/Tests/GlanceAttentionTests/Fixtures
rm -rf "$out"; mkdir -p "$out/bin" "$out/base" "$out/cases" "$out/findings"
base=$out/base
export GLANCE_THREADS=1 SWIFT_BACKTRACE=enable=no

prepare() {
    echo "building the mutator"
    swiftc -O -module-name GlanceMutate "$root/Tests/GlanceTestSupport/Mutation.swift" "$root/tools/fuzz/mutate/main.swift" \
        -o "$out/bin/mutate" || exit 1
    mutate=$out/bin/mutate

    # ---- The valid inputs the mutations start from ------------------------------------------
    echo "preparing valid inputs in $base"
    cd "$base"
    mkdir -p corpus classes bitext
    cat "$root"/README.md "$root"/docs/*.md "$root"/configs/README.md | LC_ALL=C tr -cd '\11\12\40-\176' | head -c 24000 > text.txt
    head -c 16000 text.txt > corpus/train.txt; tail -c +16001 text.txt | head -c 4000 > corpus/valid.txt; tail -c +20001 text.txt > corpus/test.txt
    printf 'lower\nupper\n' > classes/classes.txt
    for split in train:48 valid:8 test:8; do
        for ((i = 0; i < ${split#*:}; i++)); do
            if ((i % 2)); then printf 'upper\tSOME UPPER CASE WORDS %d\n' $i; else printf 'lower\tsome lower case words %d\n' $i; fi
        done > "classes/${split%:*}.tsv"
    done
    words_en=(the house is red a dog sees big cat small tree green)
    words_es=(la casa es roja un perro ve grande gato pequeño árbol verde)
    for split in train:40 valid:4 test:4; do
        : > "bitext/${split%:*}.en"; : > "bitext/${split%:*}.es"
        for ((i = 0; i < ${split#*:}; i++)); do
            en="" es=""
            for ((w = 0; w <= i % 4; w++)); do k=$(((i * 7 + w * 5) % 12)); en+="${words_en[k]} "; es+="${words_es[k]} "; done
            echo "${en% }" >> "bitext/${split%:*}.en"; echo "${es% }." >> "bitext/${split%:*}.es"
        done
    done
    {
        echo "timestamp,load,temperature"
        for ((i = 0; i < 320; i++)); do
            printf '2024-%02d-%02d %02d:00,%d.%02d,%d.5\n' $((1 + i / 24 / 31)) $((1 + i / 24 % 31)) $((i % 24)) $((100 + (i * 37) % 30)) $((i % 100)) $((10 + i % 9))
        done
    } > series.csv
    training='"training": {"batch_size": 4, "steps": 4, "learning_rate": 0.003, "warmup_steps": 1, "log_every": 1, "eval_every": 4, "eval_windows": 4, "checkpoint_every": 2, "seed": 5}'
    lm_model='"context": 16, "layers": 1, "d_model": 16, "heads": 2, "ffn_multiplier": 2, "dropout": 0.1'
    declare -A attention=(
        [full]='"full"' [performer]='{"type": "performer", "features": 8, "redraw_every": 3}'
        [logsparse]='{"type": "logsparse", "window": 2, "qk_kernel": 2, "subsequence": 8}'
        [longformer]='{"type": "longformer", "window": [4], "dilation": 1}'
        [reformer]='{"type": "reformer", "chunk_length": 4, "buckets": [2, 2], "hashes": 2}'
        [xl]='{"type": "transformer_xl", "mem_len": 8}, "positions": "none"'
        [lsra]='{"type": "lsra", "convolution": "lightweight", "kernel_size": [3], "attention_dimensions": 8}'
        [span]='{"type": "adaptive_span", "span": 8, "ramp": 2}')
    lm_configs=()
    for name in "${!attention[@]}"; do
        echo "{\"model\": {$lm_model, \"attention\": ${attention[$name]}}, $training, \"data\": {\"corpus\": \"$base/corpus\"}, \"output\": \"$base/run-$name\"}" > "lm-$name.json"
        lm_configs+=("lm-$name.json")
    done
    echo "{\"model\": {\"context\": 32, \"layers\": 1, \"d_model\": 16, \"heads\": 2, \"ffn_multiplier\": 2, \"attention\": {\"type\": \"linformer\", \"k\": 8, \"sharing\": \"layerwise\"}}, $training, \"data\": {\"corpus\": \"$base/classes\"}, \"output\": \"$base/run-classify\"}" > classify.json
    echo "{\"model\": {\"vocab_size\": 300, \"max_length\": 24, \"encoder_layers\": 1, \"decoder_layers\": 1, \"d_model\": 16, \"heads\": 2, \"ffn_dim\": 32, \"dropout\": 0.1, \"block\": \"pre-ln\"}, $training, \"data\": {\"bitext\": \"$base/bitext\", \"eval_sentences\": 2, \"beam\": 2}, \"output\": \"$base/run-translate\"}" > translate.json
    echo "{\"model\": {\"layers\": 1, \"d_model\": 8, \"heads\": 2, \"dropout\": 0, \"context\": 24, \"horizon\": 6, \"attention\": {\"type\": \"logsparse\", \"qk_kernel\": 3}}, $training, \"data\": {\"file\": \"$base/series.csv\", \"targets\": [\"load\"], \"covariates\": [\"temperature\"], \"validation_steps\": 24, \"test_steps\": 24, \"eval_windows\": 2, \"samples\": 8}, \"output\": \"$base/run-forecast\"}" > forecast.json
    for config in "${lm_configs[@]}" translate.json forecast.json; do
        "$binary" train --config "$config" > /dev/null || { echo "campaign.sh: the valid config $config does not train" >&2; exit 1; }
    done
    "$binary" classify --config classify.json > /dev/null || { echo "campaign.sh: the valid classifier config does not train" >&2; exit 1; }
    mkdir -p parakeet
    cp "$fixtures"/parakeet_ctc/* "$fixtures"/parakeet_ctc_processor/* parakeet/
    for model in transfo_xl_model reformer_model longformer_model; do cp -r "$fixtures/$model" .; done
    cp "$fixtures"/speech_*.wav .
    "$binary" run --model transfo_xl_model --input-ids "1,2,3,4" --output mems.safetensors > /dev/null || exit 1
}

# ---- One case ----------------------------------------------------------------------------
# run_case CATEGORY INDEX DIR ARGUMENT...: runs glance in DIR with the limits and records the outcome.
run_case() {
    local category=$1 index=$2 dir=$3; shift 3
    local started=$SECONDS rc outcome
    printf '%q ' glance "$@" > "$dir/command"
    cp -r "$dir" "$dir.input"  # the inputs as they were, for --replay
    (cd "$dir" && ulimit -v "$memory" && exec timeout -k 5 "$limit" "$binary" "$@") > "$dir/stdout" 2> "$dir/stderr" < "${stdin:-/dev/null}"
    rc=$?
    if ((rc == 124 || rc == 137)); then outcome=hang
    elif ((rc > 128)); then outcome=crash
    elif ((rc == 0)); then
        # generate, translate and transcribe print free text: only the figures of the others are checked.
        if [[ $1 != generate && $1 != translate && $1 != transcribe ]] && grep -qiE '(^|[^a-z])(nan|-?inf)([^a-z]|$)|bpc 0\.0000|loss 0\.0000|"final_val_bpc": 0[,}]' "$dir/stdout"; then outcome=wrong; else outcome=success; fi
    elif grep -q '^Error:' "$dir/stderr"; then outcome=error
    else outcome=unclear
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$category" "$index" "$outcome" "$rc" $((SECONDS - started)) "$(cat "$dir/command")" >> "$out/results.tsv"
    if [[ $outcome == success || $outcome == error ]]; then rm -rf "$dir" "$dir.input"
    else mv "$dir" "$out/findings/$outcome-$category-$index"; mv "$dir.input" "$out/findings/$outcome-$category-$index/input"; fi
}

# mutated SOURCE TARGET SEED: TARGET is SOURCE after 1–3 mutations.
mutated() { "$mutate" "$3" "$1" "$2" 3; }

# A copy of a trained run folder in DIR/run.
copy_run() { cp -r "$base/run-$1" "$2/run"; }

hostile=(-1 0 1 2 3 7 64 65536 2147483648 4294967296 4611686018427387904 9223372036854775807 9223372036854775808 -9223372036854775808
         "" " " "1,,2" "1,2," "nan" "inf" "1e9" "0x10" "abc" "-0" "3.5" "999999999999999999999" "1;2" ";" "-")
pick() { local -n list=$1; echo "${list[$(($2 % ${#list[@]}))]}"; }

case_checkpoints() {
    local i=$1 dir=$2 s=$3 kinds=(lm-resume lm-eval lm-generate xl-eval span-resume classify-resume translate forecast mems hf-weights bpe)
    local name=$(pick lm_configs $((i / 11)))
    name=${name#lm-}; name=${name%.json}
    case $(pick kinds "$i") in
        lm-resume) copy_run "$name" "$dir"; mutated "$base/run-$name/checkpoint.safetensors" "$dir/run/checkpoint.safetensors" "$s"
            run_case checkpoints "$i" "$dir" train --config "$base/lm-$name.json" --output run --resume --steps 6 ;;
        lm-eval) copy_run "$name" "$dir"; mutated "$base/run-$name/checkpoint.safetensors" "$dir/run/checkpoint.safetensors" "$s"
            run_case checkpoints "$i" "$dir" eval --config "$base/lm-$name.json" --output run --windows 2 ;;
        lm-generate) copy_run full "$dir"; mutated "$base/run-full/checkpoint.safetensors" "$dir/run/checkpoint.safetensors" "$s"
            run_case checkpoints "$i" "$dir" generate --config "$base/lm-full.json" --output run --length 20 --prompt "the " ;;
        xl-eval) copy_run xl "$dir"; mutated "$base/run-xl/checkpoint.safetensors" "$dir/run/checkpoint.safetensors" "$s"
            run_case checkpoints "$i" "$dir" eval --config "$base/lm-xl.json" --output run ;;
        span-resume) copy_run span "$dir"; mutated "$base/run-span/checkpoint.safetensors" "$dir/run/checkpoint.safetensors" "$s"
            run_case checkpoints "$i" "$dir" train --config "$base/lm-span.json" --output run --resume --steps 6 ;;
        classify-resume) copy_run classify "$dir"; mutated "$base/run-classify/model.safetensors" "$dir/run/model.safetensors" "$s"
            run_case checkpoints "$i" "$dir" classify --config "$base/classify.json" --output run --resume --steps 6 ;;
        translate) copy_run translate "$dir"; mutated "$base/run-translate/checkpoint.safetensors" "$dir/run/checkpoint.safetensors" "$s"
            printf 'the house\na dog sees\n' > "$dir/input.txt"
            stdin=$dir/input.txt run_case checkpoints "$i" "$dir" translate --config "$base/translate.json" --output run ;;
        forecast) copy_run forecast "$dir"; mutated "$base/run-forecast/checkpoint.safetensors" "$dir/run/checkpoint.safetensors" "$s"
            run_case checkpoints "$i" "$dir" forecast --config "$base/forecast.json" --run run --samples 4 --windows 1 --output f.csv ;;
        mems) mutated "$base/mems.safetensors" "$dir/mems.safetensors" "$s"
            run_case checkpoints "$i" "$dir" run --model "$base/transfo_xl_model" --input-ids "5,6,7" --mems mems.safetensors --output out.safetensors ;;
        hf-weights) local model=$(pick hf_models $((i / 11))); cp -r "$base/$model" "$dir/model"
            mutated "$base/$model/model.safetensors" "$dir/model/model.safetensors" "$s"
            run_case checkpoints "$i" "$dir" run --model model --input-ids "1,2,3,4,5,6,7,8" --output out.safetensors ;;
        bpe) copy_run translate "$dir"; mutated "$base/run-translate/bpe.json" "$dir/run/bpe.json" "$s"
            printf 'the house\n' > "$dir/input.txt"
            stdin=$dir/input.txt run_case checkpoints "$i" "$dir" translate --config "$base/translate.json" --output run ;;
    esac
}
hf_models=(transfo_xl_model reformer_model longformer_model)

case_configs() {
    local i=$1 dir=$2 s=$3 all=("${lm_configs[@]}" classify.json translate.json forecast.json)
    local config=$(pick all "$i")
    mutated "$base/$config" "$dir/config.json" "$s"
    local command=train; [[ $config == classify.json ]] && command=classify
    run_case configs "$i" "$dir" "$command" --config config.json --steps 2 --output run
}

case_huggingface() {
    local i=$1 dir=$2 s=$3 kinds=(parakeet transfo reformer longformer reformer-generate)
    case $(pick kinds "$i") in
        parakeet) local files=(config.json processor_config.json tokenizer.json tokenizer_config.json); local file=$(pick files $((i / 5)))
            cp -r "$base/parakeet" "$dir/model"; mutated "$base/parakeet/$file" "$dir/model/$file" "$s"
            run_case huggingface "$i" "$dir" transcribe --model model "$base/speech_cards_002.wav" ;;
        transfo) cp -r "$base/transfo_xl_model" "$dir/model"; mutated "$base/transfo_xl_model/config.json" "$dir/model/config.json" "$s"
            run_case huggingface "$i" "$dir" run --model model --input-ids "1,2,3;4,5,6" --output out.safetensors ;;
        reformer) cp -r "$base/reformer_model" "$dir/model"; mutated "$base/reformer_model/config.json" "$dir/model/config.json" "$s"
            run_case huggingface "$i" "$dir" run --model model --input-ids "1,2,3,4,5,6,7,8" --output out.safetensors ;;
        longformer) cp -r "$base/longformer_model" "$dir/model"; mutated "$base/longformer_model/config.json" "$dir/model/config.json" "$s"
            run_case huggingface "$i" "$dir" run --model model --input-ids "0,5,6,7,2" --global-attention 0 --output out.safetensors ;;
        reformer-generate) cp -r "$base/reformer_model" "$dir/model"; mutated "$base/reformer_model/config.json" "$dir/model/config.json" "$s"
            run_case huggingface "$i" "$dir" generate --model model --length 8 --prompt "ab" ;;
    esac
}

case_flags() {
    local i=$1 dir=$2 v w
    v=$(pick hostile "$i"); w=$(pick hostile $((i / ${#hostile[@]} + 7)))
    local forms=(
        "generate --config $base/lm-full.json --length V"            "generate --config $base/lm-full.json --top-k V --length 5"
        "generate --config $base/lm-full.json --temperature V --length 5" "generate --config $base/lm-xl.json --length V --seed W"
        "eval --config $base/lm-full.json --windows V"               "eval --config $base/lm-full.json --split V"
        "train --config $base/lm-full.json --output run --threads V --steps 2" "train --config $base/lm-full.json --output run --steps V --threads W"
        "translate --config $base/translate.json --beam V"           "translate --config $base/translate.json --length-penalty V"
        "forecast --config $base/forecast.json --horizon V --samples 3" "forecast --config $base/forecast.json --samples V --windows 1"
        "forecast --config $base/forecast.json --windows V --samples 3" "forecast --config $base/forecast.json --series V --samples 3 --plot p.svg"
        "transcribe --model $base/parakeet --beam V $base/speech_stereo.wav" "transcribe --model $base/parakeet --batch-size V $base/speech_cards_002.wav"
        "run --model $base/transfo_xl_model --input-ids V --output o.safetensors" "run --model $base/longformer_model --input-ids 0,5,6 --attention-mask V --output o.safetensors"
        "run --model $base/longformer_model --input-ids 0,5,6,7 --global-attention V --output o.safetensors"
        "run --model $base/transfo_xl_model --input-ids 1,2 --memory-start V --output o.safetensors"
        "run --model $base/reformer_model --input-ids 1,2,3,4 --rotations $base/mems.safetensors --output o.safetensors"
        "bench --mechanism full --length V --batch 1 --heads 1 --head-dim 8 --repeat 1" "bench --mechanism performer --length 16 --batch V --heads 1 --head-dim 8 --repeat 1"
        "bench --mechanism full --length 16 --heads V --head-dim W --repeat 1" "bench --mechanism longformer --option window=V --length 16 --heads 1 --head-dim 8 --repeat 1"
        "bench --mechanism reformer --option chunk_length=V --length 32 --heads 1 --head-dim 8 --repeat 1"
        "bench --mechanism full --length 16 --heads 1 --head-dim 8 --repeat V"  "bench --model-depth V --length 16 --heads 1 --head-dim 8 --repeat 1"
        "bench --mechanism transformer_xl --memory V --length 16 --heads 1 --head-dim 8 --repeat 1"
        "bench --model conformer --kernel-size V --length 16 --heads 1 --head-dim 8 --repeat 1"
        "bench --gemm --size V --repeat 1"                            "bench --mechanism full --length 16 --global-tokens V --heads 1 --head-dim 8 --repeat 1")
    local form=$(pick forms $((i * 7 + i / ${#hostile[@]})))
    local arguments=() word
    read -r -a words <<< "$form"
    for word in "${words[@]}"; do word=${word//V/$v}; arguments+=("${word//W/$w}"); done
    # An empty value stays one (empty) argument.
    [[ -z $v ]] && for k in "${!words[@]}"; do [[ ${words[k]} == V ]] && arguments[k]=""; done
    run_case flags "$i" "$dir" "${arguments[@]}"
}

case_corpora() {
    local i=$1 dir=$2 s=$3 kinds=(lm-train lm-valid lm-eval classify-tsv classify-classes bitext-train bitext-valid series wav wav-float)
    case $(pick kinds "$i") in
        lm-train|lm-valid|lm-eval) local file=train.txt; [[ $(pick kinds "$i") != lm-train ]] && file=valid.txt
            cp -r "$base/corpus" "$dir/corpus"; mutated "$base/corpus/$file" "$dir/corpus/$file" "$s"
            sed "s|$base/corpus|corpus|; s|$base/run-full|run|" "$base/lm-full.json" > "$dir/config.json"
            if [[ $(pick kinds "$i") == lm-eval ]]; then cp -r "$base/run-full" "$dir/run"; mutated "$base/corpus/test.txt" "$dir/corpus/test.txt" "$s"
                run_case corpora "$i" "$dir" eval --config config.json
            else run_case corpora "$i" "$dir" train --config config.json --steps 2; fi ;;
        classify-tsv|classify-classes) local file=train.tsv; [[ $(pick kinds "$i") == classify-classes ]] && file=classes.txt
            cp -r "$base/classes" "$dir/classes"; mutated "$base/classes/$file" "$dir/classes/$file" "$s"
            sed "s|$base/classes|classes|; s|$base/run-classify|run|" "$base/classify.json" > "$dir/config.json"
            run_case corpora "$i" "$dir" classify --config config.json --steps 2 ;;
        bitext-train|bitext-valid) local file=train.en; [[ $(pick kinds "$i") == bitext-valid ]] && file=valid.es
            cp -r "$base/bitext" "$dir/bitext"; mutated "$base/bitext/$file" "$dir/bitext/$file" "$s"
            sed "s|$base/bitext|bitext|; s|$base/run-translate|run|" "$base/translate.json" > "$dir/config.json"
            run_case corpora "$i" "$dir" train --config config.json --steps 2 ;;
        series) mutated "$base/series.csv" "$dir/series.csv" "$s"
            sed "s|$base/series.csv|series.csv|; s|$base/run-forecast|run|" "$base/forecast.json" > "$dir/config.json"
            run_case corpora "$i" "$dir" train --config config.json --steps 2 ;;
        wav|wav-float) local file=speech_cards_002.wav; [[ $(pick kinds "$i") == wav-float ]] && file=speech_cards_003_float.wav
            mutated "$base/$file" "$dir/audio.wav" "$s"
            run_case corpora "$i" "$dir" transcribe --model "$base/parakeet" audio.wav ;;
    esac
}

# ---- The campaign --------------------------------------------------------------------------
printf 'category\tindex\toutcome\texit\tseconds\tcommand\n' > "$out/results.tsv"
if [[ -n $replay ]]; then
    index=0
    for finding in "$replay"/*/; do
        dir=$out/cases/replay-$index
        if [[ -d $finding/input ]]; then cp -r "$finding/input" "$dir"; else cp -r "$finding" "$dir"; fi
        eval "arguments=($(cat "$dir/command"))"
        category=$(basename "$finding"); category=${category#*-}; category=${category%-*}
        input=/dev/null; [[ -f $dir/input.txt ]] && input=$dir/input.txt
        stdin=$input run_case "$category" "$index" "$dir" "${arguments[@]:1}"
        index=$((index + 1))
    done
    runs=0
else
    prepare
fi
echo "running $((5 * runs)) cases ($jobs at a time, ${limit} s and $((memory / 1024)) MiB each)"
started=$SECONDS
for ((i = 0; i < runs; i++)); do
    ((minutes > 0 && SECONDS - started >= 60 * minutes)) && { echo "stopping after $minutes minutes ($i rounds)"; break; }
    for category in checkpoints configs huggingface flags corpora; do
        while (($(jobs -rp | wc -l) >= jobs)); do wait -n; done
        dir=$out/cases/$category-$i
        mkdir -p "$dir"
        "case_$category" "$i" "$dir" $((seed * 1000003 + i * 7919 + ${#category})) &
    done
done
wait

{
    echo "glance hostile-input campaign: $(tail -n +2 "$out/results.tsv" | wc -l) runs, seed $seed, ${limit} s and $((memory / 1024)) MiB per run"
    echo "binary: $binary ($("$binary" --version 2>/dev/null))"
    printf '%-12s %8s %8s %8s %8s %8s %8s\n' category success error crash hang wrong unclear
    for category in checkpoints configs huggingface flags corpora total; do
        printf '%-12s' "$category"
        for outcome in success error crash hang wrong unclear; do
            printf ' %8d' "$(awk -F'\t' -v c="$category" -v o="$outcome" 'NR > 1 && (c == "total" || $1 == c) && $3 == o' "$out/results.tsv" | wc -l)"
        done
        echo
    done
    echo "findings (inputs kept): $(ls "$out/findings" | wc -l) in $out/findings"
} | tee "$out/summary.txt"
