#!/usr/bin/env bash
# Builds a package outside this repository that depends on Backprop *by version* (a tagged bare
# clone reached through a file:// URL and `from: "0.1.0"`), in release mode, and runs it: it
# trains a small network through the public API. SwiftPM refuses unsafe build flags in such a
# dependency, so this is the check that Backprop can be used the way Swift libraries are.
#
# Usage: Scripts/check-versioned-dependency.sh   (from anywhere; uses the committed HEAD)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

git clone -q --bare "$root" "$work/Backprop.git"
git -C "$work/Backprop.git" tag -f 0.1.0 "$(git -C "$root" rev-parse HEAD)" >/dev/null
mkdir -p "$work/consumer"
cp -R "$root/Tests/Consumer/Sources" "$work/consumer/"
sed "s#BACKPROP_URL#file://$work/Backprop.git#" "$root/Tests/Consumer/Package.swift.in" > "$work/consumer/Package.swift"
cd "$work/consumer"
if ! swift build -c release > build.log 2>&1; then
    tail -40 build.log
    echo "consumer: the versioned dependency did not build" >&2
    exit 1
fi
grep -i "warning:" build.log | grep -v "^warning: '" | head -20 || true
grep -q unsafeFlags "$work/consumer/.build/checkouts/Backprop/Package.swift" && { echo "consumer: Backprop's manifest has unsafeFlags" >&2; exit 1; }
swift run -c release --skip-build BackpropConsumer
