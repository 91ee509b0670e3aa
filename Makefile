# Glance — build, test, the main job and install. Every target installs OpenBLAS first when missing.
SWIFT ?= swift
# AVX2 + FMA code generation (x86-64-v3); on other CPUs run `make ... CPU_FLAGS=`.
CPU_FLAGS ?= $(if $(filter x86_64,$(shell uname -m)),-Xswiftc -target-cpu -Xswiftc haswell,)
RELEASE = -c release $(CPU_FLAGS)
GLANCE = .build/release/glance
THREADS ?= $(shell nproc 2>/dev/null || echo 2)
# Data-parallel training under mpirun (docs/data-parallel.md) when Open MPI is installed.
TRAITS ?= $(if $(shell pkg-config --exists ompi-c 2>/dev/null && echo yes),--traits MPI,)
# `make install` copies the glance binary to $(DESTDIR)$(PREFIX)/bin.
PREFIX ?= /usr/local

# pipefail: the build's output goes through `cat` (below) and its failure must still stop make.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: all build test demo data bench install uninstall deps clean

all: build

deps:
	@scripts/install-deps.sh

# One build serves every target: the release products and the tests together, with testing
# enabled as `swift test` compiles them (the tests use @testable imports), so `make test` and
# `make demo` share it and neither rebuilds the other's modules. The glance binary is $(GLANCE).
# Its output is piped so that the compiler flags never depend on whether it is a terminal:
# SwiftPM adds -color-diagnostics on one, and a changed flag recompiles every module.
build: deps
	@echo "Building Glance and its tests (release). The first build compiles every module: minutes (README: Two commands); later ones only what changed."
	$(SWIFT) build $(RELEASE) $(TRAITS) --build-tests -Xswiftc -enable-testing 2>&1 | cat

# The test suite: every op gradient-checked, every layer, the trainer, the CLI, the README's
# Swift code. Swift Testing's output only, ending with its summary line.
test: build
	$(SWIFT) test $(RELEASE) $(TRAITS) --skip-build --disable-xctest

# The default corpus: GCIDE (Debian's dict-gcide), split 90/5/5 into data/gcide.
data: build
	$(GLANCE) data fetch --output data/gcide

# The main job: get the data, train a small char-LM for a few minutes, sample from it,
# and print a benchmark table of the attention layer.
demo: data
	rm -rf runs/demo
	$(GLANCE) train --config configs/demo.json --threads $(THREADS)
	$(GLANCE) eval --config configs/demo.json --split test --threads $(THREADS)
	$(GLANCE) generate --config configs/demo.json --prompt "Glance, n. " --length 300 --temperature 0.7 --threads $(THREADS)
	$(GLANCE) bench --mechanism full --length 512,1024,2048,4096 --backward --repeat 3 --threads $(THREADS)

bench: build
	$(GLANCE) bench --gemm --size 1024 --threads $(THREADS)
	$(GLANCE) bench --mechanism full --length 1024,2048,4096 --backward --repeat 5 --threads $(THREADS)

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(GLANCE) $(DESTDIR)$(PREFIX)/bin/glance

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/glance

clean:
	rm -rf .build
