# Glance — build, test and the main job. Every target installs OpenBLAS first when missing.
SWIFT ?= swift
# AVX2 + FMA code generation (x86-64-v3); on other CPUs run `make ... CPU_FLAGS=`.
CPU_FLAGS ?= $(if $(filter x86_64,$(shell uname -m)),-Xswiftc -target-cpu -Xswiftc haswell,)
RELEASE = -c release $(CPU_FLAGS)
GLANCE = .build/release/glance
THREADS ?= $(shell nproc 2>/dev/null || echo 2)
# Data-parallel training under mpirun (README: Data-parallel training) when Open MPI is installed.
TRAITS ?= $(if $(shell pkg-config --exists ompi-c 2>/dev/null && echo yes),--traits MPI,)

.PHONY: all build test demo data bench deps clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build $(RELEASE) $(TRAITS) --product glance

# The test suite: every op gradient-checked, every layer, the trainer, the CLI.
test: deps
	$(SWIFT) test $(RELEASE) $(TRAITS)

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

clean:
	rm -rf .build
