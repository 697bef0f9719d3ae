# Orc's build. `make run` and `make test` do all the set-up on a fresh
# Debian machine (as root): services, images, binary.

GO      ?= go
BIN     := bin/orc
# staticcheck comes from the Go module proxy at this version, into a
# folder of bin/ named for it (a new version is installed beside the old).
STATICCHECK_VERSION := v0.8.2
STATICCHECK         := bin/staticcheck-$(STATICCHECK_VERSION)/staticcheck
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: all build services test-deps images python-base hooks run test test-python test-unit fuzz lint bench chaos clean compose-up compose-down

all: build

## build: bin/orc, and beside it the external drivers a worker finds there
## (bin/orc-driver-podman for --driver podman)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.Version=$(VERSION)" -o $(BIN) ./cmd/orc
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o bin/orc-driver-podman ./cmd/orc-driver-podman

## services: install and start PostgreSQL, RabbitMQ, Docker and Ray (idempotent)
services:
	deploy/local/services.sh

## test-deps: what the tests need besides the services: headless Chromium
## for the web console's browser tests (idempotent)
test-deps:
	deploy/local/test-deps.sh

## images: build the example plugins' images (FROM scratch, no registry)
images: services
	plugins/build.sh

## python-base: Orc's Python base image from Debian packages (no registry)
python-base: services
	deploy/images/python-base/build.sh

## run: everything up, then the gateway on :5900 and the scheduler, which
## places the workers on the local Ray cluster
run: services images build
	deploy/local/run.sh

## lint: formatting, vet and staticcheck
lint: $(STATICCHECK)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(CURDIR)/$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## test: the whole suite on the real services, with the race detector.
## Packages run one at a time: some tests restart the broker.
test: services test-deps images lint test-python fuzz
	$(GO) test -race -count=1 -p 1 -timeout 30m ./...

## fuzz: each fuzz target for FUZZTIME (10s), beside its seed corpus that
## the plain tests run
FUZZTIME ?= 10s
FUZZ_TARGETS := ./hooks:FuzzValidJSON ./hooks:FuzzDecodeReply ./hooks/wasmbin:FuzzInstrument \
	./sdk/hook:FuzzValue ./sdk/hook:FuzzScan ./sdk/hook:FuzzAppendString \
	./console/schemaform:FuzzNew ./console/schemaform:FuzzDecode
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t%%:*} $${t##*:} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

## test-python: the Python SDK's tests and the classifier image's tests
test-python: images
	python3 -m unittest discover -s sdk/python/tests
	python3 -m unittest discover -s plugins/classifier -p 'test_*.py' 

## test-unit: the tests that need no services
test-unit: test-deps
	$(GO) test -short -race ./...

## bench: the invoke benchmarks beside their floors (see docs/BENCHMARKS.md)
bench: services images
	$(GO) test -run '^$$' -bench 'BenchmarkInvoke|BenchmarkWarm' -benchtime 200x -count 1 ./cmd/orc
	$(GO) test -run '^$$' -bench 'BenchmarkRay' -benchtime 30x -count 1 ./cmd/orc

## chaos: the fault suite (not part of test): kills, restarts and poison
## under load, and a table of what became of each invocation
## (docs/RELIABILITY.md). It restarts the local broker and database.
chaos: services images
	@mkdir -p bin; ORC_CHAOS=1 $(GO) test -run '^TestChaos$$' -v -count 1 -timeout 60m ./cmd/orc >bin/chaos.log 2>&1; \
		status=$$?; grep -E '^\||^(---|ok|FAIL|PASS)|chaos_test' bin/chaos.log; echo "full log: bin/chaos.log"; exit $$status

## compose-up: Orc with Docker Compose (compose.yaml, docs/deploy.md): the
## engine, the compose plugin and the base images as needed, then everything
## built, started and the example plugins registered
compose-up:
	deploy/local/services.sh docker
	deploy/local/compose-plugin.sh
	deploy/images/standins.sh
	docker compose up --detach --build --wait --wait-timeout 600

## compose-down: stop it; the data stays in its volumes
compose-down:
	docker compose down

clean:
	rm -rf bin
