# Thin wrapper: the real build is CMake. `make run` starts the local stack, `make test`
# runs the whole suite. Both install what is missing first (scripts/deps.sh).
BUILD ?= build
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps build run stop test test-asan test-soak test-tsan bench clean format images images-smoke

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@scripts/run.sh $(BUILD)

stop:
	@scripts/run.sh --stop

# The whole suite: unit, fuzz regression and integration tests on the normal build, then
# the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer (leaks included).
test: build
	@cd $(BUILD) && ctest --output-on-failure -j 2 -LE images $(CTEST_ARGS)
	@$(MAKE) --no-print-directory test-asan

test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAOS_SANITIZE=address,undefined >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j 2 $(CTEST_ARGS)

# The unit and integration tests again under ThreadSanitizer (build-tsan). Not part of
# `make test` (TSan slows the integration tests several times over); the fuzz regressions are
# left out (single-threaded parsers), and so are the tests that run librdkafka (test_kafka,
# test_events_kafka, test_events_relay): librdkafka starts its threads
# with C11 thrd_create, which this GCC's TSan does not intercept, so it crashes in the first
# malloc of such a thread (before any AOS code runs). halt_on_error: a race fails the test.
test-tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DAOS_SANITIZE=thread >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
		ctest --output-on-failure -j 2 -L 'unit|integration' -E 'kafka|test_events_relay' $(CTEST_ARGS)

# Container images from docker/Dockerfile with buildah (no registry, no daemon; needs root),
# and the smoke test that runs a turn through them (docs/images.md). Not part of `make test`:
# a cold run (debootstrap + five image builds) takes about 20 minutes on 2 cores; the smoke
# test is also the ctest test test_images_smoke (label "images").
images:
	@AOS_DEPS_IMAGES=1 scripts/deps.sh
	@scripts/images.sh build

images-smoke: images
	@tests/images/smoke.sh

# The two-of-everything fault suite (test_faults_replicas, also in `make test`) SOAK_RUNS times
# in a row on the normal and the ASan build, stopping at the first failure: the faults land at
# different moments of the load each run.
SOAK_RUNS ?= 5
test-soak: build
	@cd $(BUILD) && ctest --output-on-failure -R '^test_faults_replicas$$' --repeat until-fail:$(SOAK_RUNS) $(CTEST_ARGS)
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAOS_SANITIZE=address,undefined >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -R '^test_faults_replicas$$' --repeat until-fail:$(SOAK_RUNS) $(CTEST_ARGS)

bench: build
	@scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-tsan

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')
