#!/usr/bin/env bash
# Builds the libFuzzer targets (tools/fuzz/targets) with GlanceCore's sources, libFuzzer and
# AddressSanitizer into .build/fuzz/: safetensors-fuzzer and strict-json-fuzzer. Outside
# SwiftPM on purpose: `swift build` never needs the sanitizer runtime. See tools/fuzz/README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/.build/fuzz
mkdir -p "$out"
core=$(find "$root/Sources/GlanceCore" -name '*.swift' | sort)
for target in SafeTensors:safetensors StrictJSON:strict-json; do
    echo "building $out/${target#*:}-fuzzer"
    # shellcheck disable=SC2086
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name GlanceCore -I "$root/Sources/COpenBLAS" \
        $(pkg-config --cflags-only-I openblas | sed 's/-I/-Xcc -I/g') $core "$root/tools/fuzz/targets/${target%%:*}Target.swift" \
        -o "$out/${target#*:}-fuzzer" 2> >(grep -v "ld.gold: warning: Cannot export local symbol" >&2)
done
