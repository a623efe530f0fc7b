# plumbline: `make demo` and `make test` are the two commands a new machine needs.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps npm-deps web-deps screenshots build test test-only demo bench clean format lint

all: build

deps:
	@scripts/install-deps.sh

build/build.ninja:
	cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPLUMB_BENCH=ON $(CMAKE_FLAGS)

# build/plumb, optimised.
build: deps build/build.ninja
	ninja -C build -j $(JOBS) plumb

# The npm packages tests check against (tests/npm: independent implementations), installed
# again only when the lock file changes.
npm-deps: tests/npm/node_modules/.package-lock.json
tests/npm/node_modules/.package-lock.json: tests/npm/package.json tests/npm/package-lock.json
	cd tests/npm && npm ci --no-audit --no-fund
	touch $@

# The dashboard's browser-test driver (playwright-core, for Debian's chromium) in web/.
# The dashboard itself needs no npm: its files (web/static) are embedded by the C++ build.
web-deps: web/node_modules/.package-lock.json
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

build-san/build.ninja:
	cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPLUMB_SANITIZE=ON -DPLUMB_BENCH=OFF $(CMAKE_FLAGS)

# Every test (unit and end-to-end) under AddressSanitizer and UndefinedBehaviorSanitizer.
test: deps npm-deps web-deps build-san/build.ninja
	scripts/check-format.sh
	ninja -C build-san -j $(JOBS)
	$(MAKE) test-only

test-only:
	cd build-san && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j 2 --timeout 600

# Runs the dashboard's browser tests and keeps their screenshots in docs/images.
screenshots: deps web-deps build-san/build.ninja
	ninja -C build-san -j $(JOBS) plumb
	cd tests/e2e && PLUMB=../../build-san/plumb PLUMB_SCREENSHOT_DIR=$(CURDIR)/docs/images \
	  python3 -m unittest -v test_dashboard

demo: build
	scripts/demo.sh

bench: deps build/build.ninja
	PLUMB_BENCH_DEPS=1 scripts/install-deps.sh
	ninja -C build -j $(JOBS)
	bench/run.sh

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'bench/*.cc')

# clang-tidy over the sources (slow on 2 cores; not part of `make test`).
lint: build-san/build.ninja
	scripts/check-format.sh
	clang-tidy -p build-san --quiet $$(git ls-files 'src/*.cc') 2>&1 | grep -E 'warning|error' || true

clean:
	rm -rf build build-san
