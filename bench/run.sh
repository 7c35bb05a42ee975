#!/usr/bin/env bash
# bench/run.sh -- what `make bench` runs (bench/README.md).
#
#   QUICK=1         reduced sizes, 3 repeats (under 90 s once built)
#   BENCH_JSON=F    where the table goes as JSON (default bench.json)
#   BUILD=DIR       build directory (default build); outputs go to DIR/bench
#   CC, GO          C compiler and go command (defaults cc, go)
#
# 1. installs what is missing, from Debian's packages: libuv1-dev (the libuv
#    anchor), librust-tokio-dev (tokio's sources in /usr/share/cargo/registry,
#    built offline), cargo when there is none;
# 2. builds the benchmark plugin and examples/c/echo.c ($CC, project flags),
#    the libuv and raw-floor anchors, the tokio anchor (cargo --offline), the
#    cgo anchor (CGO_ENABLED=1), package vtable's test binary (for
#    BenchmarkForeignWake) and the driver (CGO_ENABLED=0);
# 3. runs the driver, which prints the table and writes BENCH_JSON.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${BUILD:-build}/bench
[[ $out == /* ]] || out="$root/$out"
json=${BENCH_JSON:-bench.json}
quick=${QUICK:-}
go=${GO:-go}
read -r -a cc <<<"${CC:-cc}"
mkdir -p "$out"

# ---- 1. dependencies --------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
	export PATH="$HOME/.cargo/bin:$PATH"
fi
missing=()
[[ -f /usr/include/uv.h ]] || missing+=(libuv1-dev)
compgen -G "/usr/share/cargo/registry/tokio-1.*" >/dev/null || missing+=(librust-tokio-dev)
command -v cargo >/dev/null 2>&1 || missing+=(cargo)
if ((${#missing[@]})); then
	echo "bench: installing ${missing[*]} (Debian packages)"
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
	if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
		"${sudo[@]}" apt-get update
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
	fi
fi

# ---- 2. builds ----------------------------------------------------------------
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -O2 -I include)
# cbuild OUT SRC... -- FLAGS: rebuild OUT when a source or awake.h is newer.
cbuild() {
	local dst=$1
	shift
	local srcs=() stale=0
	while (($#)) && [[ $1 != -- ]]; do
		srcs+=("$1")
		shift
	done
	shift
	[[ -e $dst ]] || stale=1
	for s in "${srcs[@]}" include/awake.h; do
		[[ $s -nt $dst ]] && stale=1
	done
	if ((stale)); then
		echo "  ${cc[*]} -> $dst"
		"${cc[@]}" "${cflags[@]}" "${srcs[@]}" -o "$dst" "$@"
	fi
}
echo "bench: building into $out"
cbuild "$out/benchplug.so" bench/cplugins/benchplug.c -- -shared -fPIC -pthread
cbuild "$out/echo.so" examples/c/echo.c -- -I examples/c -shared -fPIC -pthread
cbuild "$out/uvbench" bench/anchors/libuv/uvbench.c -- -luv
cbuild "$out/floor" bench/anchors/raw/floor.c -- -pthread

echo "  cargo build --release --offline (tokio anchor)"
# From the project's directory: cargo reads .cargo/config.toml (the Debian
# source replacement) from the working directory, not the manifest's.
(cd bench/anchors/tokio && cargo build --quiet --release --offline --target-dir "$out/tokio-target")
cp -f "$out/tokio-target/release/tokio-anchor" "$out/tokio-anchor"

echo "  $go build (driver, cgo anchor, vtable test binary)"
CGO_ENABLED=0 "$go" build -o "$out/awake-bench" ./bench/cmd/awake-bench
CGO_ENABLED=1 "$go" build -o "$out/cgo-anchor" ./bench/anchors/cgo
CGO_ENABLED=0 "$go" test -c -o "$out/vtable.test" ./vtable

# ---- 3. run --------------------------------------------------------------------
args=(run -bin "$out" -json "$json")
if [[ -n $quick && $quick != 0 ]]; then
	args+=(-quick)
fi
exec "$out/awake-bench" "${args[@]}"
