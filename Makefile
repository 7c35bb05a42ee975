# awake: build and test entry points. docs/TESTING.md describes the tiers.
#
#   make test    every tier below, in order; keeps going after a failure and
#                prints a summary (FAILFAST=1 stops at the first failure;
#                TIERS="unit race" runs a subset)
#   make demo    build the C (and Rust) examples and run them from Go hosts
#   make c       build csupport and the C examples into build/examples ($CC)
#   make fmt     gofmt -w every Go file
#   make bench   awake beside tokio, libuv, cgo and Go (QUICK=1: short run)
#   make stress  the load tests at full size; make fuzz, make asan also run
#                as tiers of make test
#
# Tiers (each is a target too): fmt-check vet cross lint unit race arm64
# c-test rust fuzz asan. A tier for a part of the project that does not exist yet
# prints "SKIP: ..." and passes; once the part exists it runs and fails
# properly. A missing tool is a failure, with the package to install.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test
.NOTPARALLEL:

GO          ?= go
BUILD       ?= build
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

# -count=1: tests compile C sources with $CC, which go test's result cache
# does not track, so a cached "ok" could hide a broken .c or awake.h.
GOTESTFLAGS  ?= -count=1
TEST_TIMEOUT ?= 3m
RACEFLAGS    ?=
ARM64FLAGS   ?= -short
ARM64_TIMEOUT ?= 3m
ARM64_CC     ?= aarch64-linux-gnu-gcc
ARM64_SYSROOT ?= /usr/aarch64-linux-gnu
C_COMPILERS  ?= gcc clang
C_CROSS_COMPILERS ?= $(ARM64_CC)

TIERS ?= fmt-check vet cross lint unit race arm64 c-test rust

banner = @printf '\n======== %s ========\n' '$(1)'
# Go files to format-check: everything but build output and Rust's target/.
gofiles = find . -name '*.go' -not -path './.git/*' -not -path './$(BUILD)/*' -not -path '*/target/*'

.PHONY: test fmt fmt-check vet cross lint unit race arm64 c c-test rust demo clean

test:
	@MAKE='$(MAKE)' bash scripts/run-tiers $(BUILD)/test-logs $(TIERS)

fmt:
	@$(gofiles) -print0 | xargs -0 -r gofmt -l -w

fmt-check:
	$(call banner,gofmt)
	@bad=$$($(gofiles) -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$bad" ]; then \
		echo "these files are not gofmt-formatted (run 'make fmt' or gofmt -w FILE):"; \
		echo "$$bad" | sed 's/^/  /'; exit 1; \
	fi; echo "gofmt: ok"

vet:
	$(call banner,go vet: linux/amd64 linux/arm64 darwin/amd64 darwin/arm64)
	@failed=""; for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64; do \
		echo "CGO_ENABLED=0 GOOS=$${target%/*} GOARCH=$${target#*/} $(GO) vet ./..."; \
		CGO_ENABLED=0 GOOS=$${target%/*} GOARCH=$${target#*/} $(GO) vet ./... || failed="$$failed $$target"; \
	done; \
	if [ -n "$$failed" ]; then echo "go vet failed for:$$failed"; exit 1; fi

cross:
	$(call banner,cross build: darwin/arm64 darwin/amd64)
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) build ./...
	CGO_ENABLED=0 GOOS=darwin GOARCH=amd64 $(GO) build ./...

lint:
	$(call banner,staticcheck)
	CGO_ENABLED=0 $(STATICCHECK) ./...

unit:
	$(call banner,go test (CGO_ENABLED=0))
	CGO_ENABLED=0 $(GO) test -timeout $(TEST_TIMEOUT) $(GOTESTFLAGS) ./...

race:
	$(call banner,go test -race (CGO_ENABLED=1))
	CGO_ENABLED=1 $(GO) test -race -timeout $(TEST_TIMEOUT) $(GOTESTFLAGS) $(RACEFLAGS) ./...

arm64:
	$(call banner,arm64: GOARCH=arm64 tests under qemu-aarch64; C built with $(ARM64_CC))
	@command -v qemu-aarch64 >/dev/null || { echo "arm64: qemu-aarch64 is not installed: apt-get install qemu-user"; exit 1; }
	@command -v $(ARM64_CC) >/dev/null || { echo "arm64: $(ARM64_CC) is not installed: apt-get install gcc-aarch64-linux-gnu"; exit 1; }
	@test -e $(ARM64_SYSROOT)/lib/ld-linux-aarch64.so.1 || { echo "arm64: no arm64 libc in $(ARM64_SYSROOT): apt-get install libc6-dev-arm64-cross"; exit 1; }
	CGO_ENABLED=0 GOARCH=arm64 CC=$(ARM64_CC) QEMU_LD_PREFIX=$(ARM64_SYSROOT) \
		$(GO) test -exec 'bash $(CURDIR)/scripts/qemu-arm64-exec' -timeout $(ARM64_TIMEOUT) $(GOTESTFLAGS) $(ARM64FLAGS) ./...

c:
	$(call banner,C: csupport and examples/c into $(BUILD)/examples)
	bash scripts/build-c $(BUILD)/examples

c-test:
	$(call banner,C tier: csupport/test.sh with $(C_COMPILERS); build only with $(C_CROSS_COMPILERS))
	@if [ ! -d examples/c ] && [ ! -d csupport ]; then echo "SKIP: neither examples/c nor csupport exists yet"; exit 0; fi; \
	if [ -f csupport/test.sh ]; then \
		for cc in $(C_COMPILERS); do \
			echo "--- CC=$$cc sh csupport/test.sh $(BUILD)/c"; \
			CC=$$cc sh csupport/test.sh $(BUILD)/c; \
		done; \
		for cc in $(C_CROSS_COMPILERS); do \
			echo "--- CC=$$cc NORUN=1 sh csupport/test.sh $(BUILD)/c (cross: build only)"; \
			CC=$$cc NORUN=1 sh csupport/test.sh $(BUILD)/c; \
		done; \
	else \
		for cc in $(C_COMPILERS); do \
			echo "--- CC=$$cc scripts/build-c $(BUILD)/c/$$cc"; \
			CC=$$cc bash scripts/build-c $(BUILD)/c/$$cc; \
		done; \
		echo "SKIP: csupport/test.sh does not exist yet (the C tests did not run; examples/c was only compiled)"; \
	fi

rust:
	$(call banner,Rust: examples/rust)
	@if [ ! -f examples/rust/Cargo.toml ]; then echo "SKIP: examples/rust/Cargo.toml does not exist yet"; exit 0; fi; \
	command -v cargo >/dev/null || { echo "rust: cargo is not installed (or not on PATH), but examples/rust exists: install Rust (rustup or apt-get install cargo)"; exit 1; }; \
	cd examples/rust; \
	echo "cargo build --offline --release"; cargo build --offline --release; \
	echo "cargo test --offline"; cargo test --offline

demo: c
	$(call banner,demo: C futures driven by a Go executor without cgo)
	CGO_ENABLED=0 $(GO) build -o $(BUILD)/awake-run ./examples/go/awake-run
	CGO_ENABLED=0 $(GO) build -o $(BUILD)/echo ./examples/go/echo
	@echo; echo "--- the tutorial's TimerFuture: a host timer (sub-millisecond, timerfd)"
	$(BUILD)/awake-run $(BUILD)/examples/timer.so sleep 150ms
	@echo; echo "--- the tutorial's PendingRequest: woken by the plugin's own pthread"
	$(BUILD)/awake-run $(BUILD)/examples/pending_request.so query 'SELECT 42|100'
	@echo; echo "--- a join in C of three timers, one waker per child"
	$(BUILD)/awake-run $(BUILD)/examples/join.so join_timers_wakers 10 20 30
	@echo; echo "--- 1000 timer futures at once"
	$(BUILD)/awake-run -n 1000 $(BUILD)/examples/timer.so sleep 5ms
	@echo; echo "--- a C future awaiting a Go function (host->call)"
	$(BUILD)/awake-run $(BUILD)/examples/await_go.so ask_go sleep_upper hello from C
	@echo; echo "--- the C echo server on the reactor, 100 Go clients on loopback"
	$(BUILD)/echo -plugin $(BUILD)/examples/echo.so -conns 100 -msgs 100 -size 64
	@if command -v cargo >/dev/null; then \
		echo; echo "--- a Rust plugin (std only): join of host timers with Rust wakers"; \
		CARGO_TARGET_DIR=$(CURDIR)/$(BUILD)/rust-target cargo build --offline --release --quiet --manifest-path examples/rust/Cargo.toml && \
		$(BUILD)/awake-run $(BUILD)/rust-target/release/libawake_example_rust.so join_sleeps 10 20 30; \
	else echo "(cargo not installed: skipping the Rust plugin)"; fi

clean:
	rm -rf $(BUILD) examples/rust/target

# ==== bench (issue 4) -- owned by bench/; see bench/README.md =================
#   make bench            every benchmark, awake beside tokio, libuv, cgo and
#                         Go in one run, medians of 5 repeats (< 10 min)
#   make bench QUICK=1    reduced sizes, 3 repeats (< 90 s once built)
#   BENCH_JSON=FILE       where the table is written as JSON (default bench.json)
# Installs libuv1-dev and librust-tokio-dev when missing (apt-get).
QUICK      ?=
BENCH_JSON ?= bench.json

.PHONY: bench
bench:
	$(call banner,bench: awake against tokio / libuv / cgo / Go)
	QUICK='$(QUICK)' BENCH_JSON='$(BENCH_JSON)' BUILD='$(BUILD)' GO='$(GO)' bash bench/run.sh
# ==== end bench ==================================================================

# ==== stress, fuzz, asan (issue 5) -- owned by stress_test.go, *_fuzz_test.go, scripts/asan ====
#   make stress   the load tests at full size (AWAKE_STRESS=full, about 90 s):
#                 8 foreign threads x 10M wakes on 10k tasks, 1M live timers
#                 with random cancels, 100k concurrent tasks, echo with 1000
#                 connections x 100 messages, a 60 s soak (RSS and fds flat).
#                 `go test` (unit, race) runs them at a size of seconds.
#   make fuzz     every fuzz target for FUZZTIME (default 20000x: an iteration count,
#                 since a time budget can end a run with a spurious
#                 "context deadline exceeded" from the fuzzing engine) each; the seed
#                 corpora (testdata/fuzz/ of cbindings and executor) also run
#                 in every plain `go test`.
#   make asan     scripts/asan: the root package's tests with every C plugin
#                 built with -fsanitize=address,undefined (gcc's runtimes
#                 preloaded into the Go test binary), then csupport/test.sh
#                 with the same CFLAGS for gcc and clang (about 75 s;
#                 ASAN_PKGS=". ./cbindings ./executor" adds those, about 2 min).
STRESS_TIMEOUT ?= 20m
FUZZTIME       ?= 20000x
FUZZ_TARGETS   ?= ./cbindings:FuzzReadDescriptor ./executor:FuzzReadOutput ./executor:FuzzTakeError ./executor:FuzzCString
ASAN_PKGS      ?= .

TIERS += fuzz asan

.PHONY: stress fuzz asan

stress:
	$(call banner,stress: full size (AWAKE_STRESS=full))
	AWAKE_STRESS=full CGO_ENABLED=0 $(GO) test -count=1 -timeout $(STRESS_TIMEOUT) -run '^TestStress' -v . 2>&1 \
		| grep -Ev '^=== (RUN|PAUSE|CONT)'

fuzz:
	$(call banner,fuzz: each target for $(FUZZTIME))
	@failed=""; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "CGO_ENABLED=0 $(GO) test -run '^$$' -fuzz '^$$name$$' -fuzztime $(FUZZTIME) $$pkg"; \
		CGO_ENABLED=0 $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || failed="$$failed $$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failing targets:$$failed (see above; an input that fails is saved under the package's testdata/fuzz/<target>/)"; exit 1; fi

asan:
	$(call banner,asan: C plugins and csupport under AddressSanitizer + UBSan)
	GO='$(GO)' ASAN_PKGS='$(ASAN_PKGS)' bash scripts/asan $(BUILD)/asan
# ==== end stress, fuzz, asan =====================================================
