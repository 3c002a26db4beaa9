#!/usr/bin/env bash
# Checks the arm64 build's NEON kernels without an arm64 machine: Tests/KernelCheck/kernel_check.c
# and the kernel sources are cross-compiled with clang (--target=aarch64-linux-gnu, Debian's
# libc6-dev-arm64-cross and gcc-aarch64-linux-gnu for the C library and start files, linked
# statically by lld), run under qemu-aarch64 (Debian's qemu-user) at the neon level, and their
# results compared with the x86-64 build's baseline and avx2 levels on the same inputs
# (Tests/KernelCheck/compare.py: integers exact, floats to 2e-5 relative).
#
# Installs the three Debian packages when they are missing and this is root with apt-get;
# otherwise says why and skips (exit 0), as the MPI tests do.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sources="$root/Sources/CBackpropSupport"
check="$root/Tests/KernelCheck"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ "$(uname -m)" != "x86_64" ]; then
    echo "arm64 kernel check: runs on x86-64 hosts only (this is $(uname -m)); skipped"
    exit 0
fi
if ! command -v qemu-aarch64 >/dev/null 2>&1 || [ ! -e /usr/aarch64-linux-gnu/lib/crt1.o ] \
    || ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user \
            gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null) \
            || { echo "arm64 kernel check: could not install qemu-user and the arm64 cross libraries; skipped"; exit 0; }
    else
        echo "arm64 kernel check: qemu-user, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross are not installed and this is not root with apt-get; skipped"
        exit 0
    fi
fi

cc=(clang -O2 -Wall -Werror -Wno-unused-function -I"$sources/include")
"${cc[@]}" "$check/kernel_check.c" "$sources"/kernels_*.c "$sources/dispatch.c" -o "$work/kernel_check"
"${cc[@]}" --target=aarch64-linux-gnu --gcc-toolchain=/usr -fuse-ld=lld -static \
    "$check/kernel_check.c" "$sources"/kernels_*.c "$sources/dispatch.c" -o "$work/kernel_check_arm64"

"$work/kernel_check" baseline > "$work/baseline.txt"
qemu-aarch64 "$work/kernel_check_arm64" neon > "$work/neon.txt"
echo "neon (qemu-aarch64) against x86-64 baseline:"
python3 "$check/compare.py" "$work/baseline.txt" "$work/neon.txt"
if "$work/kernel_check" avx2 > "$work/avx2.txt" 2>/dev/null; then
    echo "neon (qemu-aarch64) against x86-64 avx2:"
    python3 "$check/compare.py" "$work/avx2.txt" "$work/neon.txt"
fi
