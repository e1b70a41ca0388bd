# The README's two commands: `go run . --demo` and `make test`.

GO              ?= go
BIN_DIR         := $(CURDIR)/.bin
GOLANGCI_LINT   := $(BIN_DIR)/golangci-lint
GOLANGCI_LINT_VERSION := v2.15.0
PROMTOOL        ?= promtool

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH   ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS := -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) -X $(VERSION_PKG).BuildUser=$(shell id -un)@$(shell hostname) \
	-X $(VERSION_PKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

.PHONY: all build test short vet lint unit unit-race unit-full e2e rules dashboards deploytest chart-sync chart-sync-check bench bench-tenants fuzz fuzz-short tools clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o sailpoint_exporter .

## test: everything CI runs: vet, lint, unit and end-to-end tests, rules, dashboards, the Helm
## chart and the mixin. The parts are independent, so they run side by side, the longest
## first (on 2 cores the suite is bound by CPU: the part that starts last ends last); each
## part's output is printed whole when it ends.
test:
	$(MAKE) --no-print-directory -j4 -O unit-race e2e unit-full fuzz-short deploytest rules lint vet dashboards

## fuzz-short: every fuzz target for 5 s on one worker, within make test: a new input that
## breaks the decoder is looked for on every run, not only when someone runs make fuzz (20 s
## a target, on every core).
fuzz-short:
	$(MAKE) --no-print-directory fuzz FUZZTIME=5s FUZZFLAGS=-parallel=1

## short: the loop to run after each edit: every package's tests without the built binary,
## Prometheus, the kill test or fuzzing.
short:
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

## lint: golangci-lint; --allow-parallel-runners because deploytest lints its module at the
## same time, and golangci-lint otherwise refuses to run beside another of itself.
lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run --allow-parallel-runners ./...

## unit: every package but e2e, twice: under the race detector at the sizes of -short
## (unit-race), and every test at its full size without it (unit-full). The detector
## multiplies the CPU of a test by 5 to 20: under it, the few tests that stream thousands of
## records through one refresher on a fake clock are skipped (race.SkipVolume, in
## internal/race), and the others read less; their goroutines are the same at either size.
unit: unit-race unit-full

UNIT_PACKAGES = $$($(GO) list ./... | grep -v '/e2e$$')

unit-race:
	$(GO) test -race -short -count=1 -timeout 20m $(UNIT_PACKAGES)

unit-full:
	$(GO) test -count=1 -timeout 20m $(UNIT_PACKAGES)

## e2e: the built binary with a real Prometheus, killed and restarted, through a failing proxy.
## Without -race: the detector would instrument the test process (the simulated tenant), whose
## own tests run under it in unit-race, not the binary under test.
## The tests run side by side, 6 at a time: most of their time is spent waiting (on
## Prometheus, on the exporter's refreshes), not computing.
e2e:
	$(GO) test -count=1 -parallel 6 -timeout 20m ./e2e/

rules:
	$(PROMTOOL) check rules alerts/*.rules.yml
	$(PROMTOOL) test rules alerts/tests/*.yml

dashboards:
	cd tools && for d in ../dashboards/*.json; do $(GO) tool dashboard-linter lint --strict "$$d" || exit 1; done

CHART_DIR := charts/sailpoint-exporter

## deploytest: render and validate the Helm chart for every ci/ values file, helm lint, and
## evaluate the mixin, offline, in the deploytest module (its own go.mod).
deploytest: chart-sync-check $(GOLANGCI_LINT)
	cd deploytest && $(GO) vet ./... && $(GOLANGCI_LINT) run --allow-parallel-runners ./... && $(GO) test -count=1 ./...

## chart-sync: copy alerts/ and dashboards/ into the chart, which cannot read outside itself.
chart-sync:
	mkdir -p $(CHART_DIR)/files/dashboards
	cp alerts/sailpoint.rules.yml $(CHART_DIR)/files/sailpoint.rules.yml
	rm -f $(CHART_DIR)/files/dashboards/*.json
	cp dashboards/*.json $(CHART_DIR)/files/dashboards/

## chart-sync-check: fail when the chart's copies differ from alerts/ and dashboards/.
chart-sync-check:
	@diff -u alerts/sailpoint.rules.yml $(CHART_DIR)/files/sailpoint.rules.yml && \
	  diff -ru dashboards $(CHART_DIR)/files/dashboards -x '*.go' || \
	  { echo 'The copies of alerts/ or dashboards/ in $(CHART_DIR)/files are out of date: run make chart-sync.' >&2; exit 1; }

## bench: the figures in BENCHMARKS.md, on one core, but those of many tenants (bench-tenants).
bench:
	$(GO) test -run '^$$' -bench . -skip 'TwentyTenants' -benchmem -cpu 1 -count 5 ./client/ ./activities/ ./aggregations/

## bench-tenants: twenty tenants of 10,000 activities each: /metrics against client_golang's
## floor in process, then the built binary's memory, /metrics and refresh lag over a minute.
bench-tenants:
	$(GO) test -run '^$$' -bench 'TwentyTenantsScrape' -benchmem -cpu 1 -benchtime 100x -count 3 ./tenants/
	$(GO) test -run '^$$' -bench 'TwentyTenantsOnTheBinary' -benchtime 1x ./e2e/

## fuzz: every fuzz target of the repository, found by `go test -list`, one after another for
## FUZZTIME each (a fuzz run takes one target). An input that fails is written to the target's
## testdata/fuzz/ directory; commit it, and every `go test` replays it. Minimizing each new
## input for go's default of up to 60s would leave a short run with nothing but minimizing.
FUZZTIME ?= 20s
FUZZMINIMIZETIME ?= 1s
FUZZFLAGS ?=

fuzz:
	@list=$$($(GO) test -list '^Fuzz' ./...) || { echo "$$list" >&2; exit 1; }; \
	targets=$$(echo "$$list" | awk '/^Fuzz/ { n++; name[n] = $$1 } /^ok/ { for (i = 1; i <= n; i++) print $$2 "=" name[i]; n = 0 }'); \
	[ -n "$$targets" ] || { echo 'no fuzz targets found' >&2; exit 1; }; \
	for t in $$targets; do \
	  echo "== $${t#*=} in $${t%%=*}, $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$${t#*=}\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $(FUZZFLAGS) "$${t%%=*}" || exit 1; \
	done

tools: $(GOLANGCI_LINT)

$(GOLANGCI_LINT):
	GOBIN=$(BIN_DIR) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

clean:
	rm -rf sailpoint_exporter $(BIN_DIR)

## bench-slow: the benchmarks that take minutes a run, BENCHMARKS.md's "Priming at the rate limit":
## the first pass against ISC's latency, and the stream of late records (both ways: 5 minutes).
.PHONY: bench-slow
bench-slow:
	SAIL_SLOW_BENCHMARKS=1 $(GO) test -run '^$$' -bench 'BenchmarkPrime$$|BenchmarkLateStream' -benchtime 1x -count 3 -timeout 60m ./activities/
