#!/usr/bin/env bash
# Regenerates Sources/Backprop/IO/Protobuf/*.pb.swift from Protos/*.proto.
#
# Needs protoc (Debian: apt-get install protobuf-compiler) and protoc-gen-swift, which this
# script builds from the swift-protobuf checkout that `swift package resolve` puts in .build
# (the same version as the runtime library the package links). The output is committed, so an
# ordinary build needs neither tool; run this only after editing a .proto file.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
swift package resolve
checkout=.build/checkouts/swift-protobuf
[ -d "$checkout" ] || { echo "no swift-protobuf checkout at $checkout" >&2; exit 1; }
(cd "$checkout" && swift build -c release --product protoc-gen-swift)
plugin="$(cd "$checkout" && swift build -c release --show-bin-path)/protoc-gen-swift"

out=Sources/Backprop/IO/Protobuf
mkdir -p "$out"
# Internal visibility: the messages are an implementation detail of the exporters.
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Internal \
    --swift_out="$out" -I Protos Protos/onnx.proto Protos/tensorboard.proto
echo "generated: $(ls "$out")"
