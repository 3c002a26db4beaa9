#!/usr/bin/env bash
# Coverage-guided fuzzing of Backprop's readers (issue 16) with libFuzzer: the Backprop module's
# sources and Fuzz/FuzzTargets.swift compiled into one binary by swiftc -sanitize=fuzzer,address,
# then each reader fuzzed for a bounded time from its seed corpus (Fuzz/corpus/<reader>/, small
# valid files). Any crash, trap, sanitizer report, input slower than -timeout, single allocation
# over -malloc_limit_mb or resident memory over -rss_limit_mb fails the script, with the input
# saved as .build/fuzz/<reader>-crash-… (or -timeout-…, -oom-…, -leak-…) to reproduce:
#   BACKPROP_FUZZ_TARGET=<reader> .build/fuzz/backprop-fuzz .build/fuzz/<reader>-crash-…
#
# Usage: Scripts/fuzz.sh [seconds-per-target] [reader…]   (defaults: 60; csv idx npy png model checkpoint)
#
# Why a script and not a package target: libFuzzer needs -sanitize=fuzzer on the code it
# explores and supplies main(), and SwiftPM accepts such flags only as unsafeFlags, which a
# package depending on Backprop by version refuses. So the default `swift build` is untouched:
# this compiles Backprop's sources itself, linking the objects the release build already made
# for SwiftProtobuf and the C kernels (not instrumented: the readers are Backprop's Swift code).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-60}"
shift || true
readers="${*:-csv idx npy png model checkpoint}"

swift build -c release --product backprop 2>&1 | tail -1
bin="$(swift build -c release --show-bin-path)"
out="$root/.build/fuzz"
mkdir -p "$out"
fuzzer="$out/backprop-fuzz"

sources=$(find Sources/Backprop -name '*.swift' | sort)
# swift-crypto (Backprop's SHA-256 and MD5): its Swift and C objects from the release build,
# and the module maps of its C parts, which its Swift modules import.
crypto="$root/.build/checkouts/swift-crypto/Sources"
crypto_objects=$(find "$bin/Crypto.build" "$bin/CryptoBoringWrapper.build" "$bin/CCryptoBoringSSL.build" \
    "$bin/CCryptoBoringSSLShims.build" -name '*.o' | sort)
# Rebuilt only when a source is newer than the binary (the compile takes minutes).
if [ ! -x "$fuzzer" ] || [ -n "$(find Sources/Backprop Fuzz/FuzzTargets.swift -name '*.swift' -newer "$fuzzer" | head -1)" ]; then
    echo "fuzz: compiling Backprop with -sanitize=fuzzer,address"
    # The flags SwiftPM gives the Backprop target (swift-version 6, the C modules' maps), plus
    # the sanitizers; -parse-as-library leaves main() to libFuzzer.
    swiftc -module-name Backprop -package-name backprop -parse-as-library -swift-version 6 \
        -O -whole-module-optimization -num-threads 2 -sanitize=fuzzer,address \
        -DSWIFT_PACKAGE -DSWIFT_MODULE_RESOURCE_BUNDLE_AVAILABLE \
        -I "$bin/Modules" \
        -Xcc -fmodule-map-file="$bin/CBackpropSupport.build/module.modulemap" \
        -Xcc -I -Xcc Sources/CBackpropSupport/include \
        -Xcc -fmodule-map-file=Sources/CZlib/module.modulemap \
        -Xcc -fmodule-map-file=Sources/CPNG/module.modulemap $(pkg-config --cflags-only-I libpng) \
        -Xcc -fmodule-map-file=Sources/CFreeType/module.modulemap $(pkg-config --cflags-only-I freetype2) \
        -Xcc -fmodule-map-file=Sources/CFontconfig/module.modulemap \
        -Xcc -fmodule-map-file="$crypto/CCryptoBoringSSL/include/module.modulemap" \
        -Xcc -fmodule-map-file="$crypto/CCryptoBoringSSLShims/include/module.modulemap" \
        -module-cache-path "$out/ModuleCache" \
        $sources Fuzz/FuzzTargets.swift "$bin/Backprop.build/DerivedSources/resource_bundle_accessor.swift" \
        "$bin"/CBackpropSupport.build/*.o "$bin"/SwiftProtobuf.build/*.o $crypto_objects \
        -lz -lpng -lfreetype -lfontconfig -o "$fuzzer.partial" 2>&1 | { grep -v "Cannot export local symbol" || true; }
    mv "$fuzzer.partial" "$fuzzer"
fi

# Leak reports off: Swift's runtime and Foundation keep caches for the process's life. An
# allocation over malloc_limit_mb is reported with its stack (a header claiming a huge size).
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=0:handle_abort=1"
# A Swift trap is then libFuzzer's "deadly signal" with the input saved; Swift's own backtracer
# would read the crashed process's memory first, which ASan reports as an overflow of its own.
export SWIFT_BACKTRACE=enable=no
failed=""
for reader in $readers; do
    [ -d "Fuzz/corpus/$reader" ] || { echo "fuzz: no seed corpus Fuzz/corpus/$reader" >&2; exit 2; }
    # New inputs go to a corpus under .build (kept between local runs, never committed); the
    # committed seeds are read only.
    mkdir -p "$out/corpus-$reader"
    echo "== fuzz $reader for ${seconds}s"
    log="$out/$reader.log"
    if BACKPROP_FUZZ_TARGET="$reader" "$fuzzer" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=1536 -malloc_limit_mb=512 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$out/$reader-" "$out/corpus-$reader" "Fuzz/corpus/$reader" > "$log" 2>&1; then
        grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|INFO: Loaded|cov:" "$log" | tail -3
    else
        tail -60 "$log"
        echo "fuzz: $reader FAILED (input saved under $out/$reader-*)" >&2
        failed="$failed $reader"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: findings in:$failed" >&2
    exit 1
fi
echo "fuzz: $readers: clean"
