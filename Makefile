# pg_realtime: top-level build, test and benchmark entry points.
#
#   make            the output plugin (PGXS) and build/realtime-relay (CMake)
#   make install    the extension and plugin into the Postgres that $(PG_CONFIG) names
#   make run        quick start: a local Postgres under .local/ and a relay on :4000
#   make test       every test suite (C++ unit, the same under ASan + UBSan with a short
#                   fuzz run, pytest, realtime-js compatibility)
#   make fuzz       every libFuzzer target for FUZZ_SECONDS each (tests/fuzz/)
#   make bench      every benchmark, results under bench/results/

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
BUILD_TYPE ?= RelWithDebInfo
BUILD_DIR := build
# The sanitizer build (clang): unit tests under AddressSanitizer + UBSan, fuzz targets.
ASAN_DIR := build-asan
FUZZ_SECONDS ?= 60
FUZZ_TEST_SECONDS ?= 10
PYTHON ?= /usr/bin/python3
PYTEST_ARGS ?=
JOBS ?= $(shell nproc)

.PHONY: all plugin relay install deps deps-bench run test test-unit test-sanitize sanitize fuzz test-py test-js bench clean

all: plugin relay

deps:
	scripts/install-deps.sh

deps-bench:
	scripts/install-deps.sh bench

plugin:
	$(MAKE) -C pg_plugin PG_CONFIG=$(PG_CONFIG)

$(BUILD_DIR)/CMakeCache.txt: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

relay: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

install: plugin
	$(if $(filter 0,$(shell id -u)),,sudo) $(MAKE) -C pg_plugin PG_CONFIG=$(PG_CONFIG) install

run:
	scripts/quickstart.sh

test: deps all install
	$(MAKE) test-unit test-sanitize test-py test-js

test-unit: relay
	cd $(BUILD_DIR) && ctest --output-on-failure

$(ASAN_DIR)/CMakeCache.txt: CMakeLists.txt
	CXX=clang++ cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DRT_SANITIZE=ON

sanitize: $(ASAN_DIR)/CMakeCache.txt
	cmake --build $(ASAN_DIR) -j $(JOBS)

# The unit tests under ASan + UBSan (one process: ctest's one per test pays the
# sanitizers' start-up 460 times), then each fuzz target over its seeds and for
# FUZZ_TEST_SECONDS.
test-sanitize: sanitize
	$(ASAN_DIR)/unit_tests --gtest_brief=1
	FUZZ_BUILD_DIR=$(ASAN_DIR) scripts/fuzz.sh $(FUZZ_TEST_SECONDS)

fuzz: sanitize
	FUZZ_BUILD_DIR=$(ASAN_DIR) scripts/fuzz.sh $(FUZZ_SECONDS)

# realtime-js tests (tests/js, the cluster's and the compatibility suite's) need
# tests/js/node_modules, installed from the committed lockfile; a few realtime-js cases
# live beside the raw-client ones of their feature (tests/relay/test_resume.py), so
# test-py needs the modules too.
JS_TESTS = tests/js tests/cluster/test_cluster_realtime_js.py tests/compat/test_realtime_js.py
JS_MODULES = tests/js/node_modules/.package-lock.json

$(JS_MODULES): tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund

test-py: $(JS_MODULES)
	PG_CONFIG=$(PG_CONFIG) $(PYTHON) -m pytest tests $(addprefix --ignore=,$(JS_TESTS)) $(PYTEST_ARGS)

test-js: $(JS_MODULES)
	PG_CONFIG=$(PG_CONFIG) $(PYTHON) -m pytest $(JS_TESTS) $(PYTEST_ARGS)

bench: deps deps-bench all install
	$(PYTHON) bench/run_all.py

clean:
	$(MAKE) -C pg_plugin PG_CONFIG=$(PG_CONFIG) clean
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
