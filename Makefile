# Every target that builds or tests code importing gotch sources
# build/libtorch/env.sh first (see design notes there). Pure-Go packages
# build with a plain `go build` too.
SHELL := /bin/bash
ENV := . build/libtorch/env.sh &&
BIN := bin/ddprun
# Packages that must build without cgo (the import walls of ARCHITECTURE.md).
# Everything under internal/ but torchrt, which is the libtorch runtime.
PURE_DIRS := collective collective/ring shard launcher k8s bert/wordpiece ddp/optim ddp/metrics \
	ddp/tblog ddp/runlog ddp/progress ddp/report ddp/baseline \
	$(filter-out internal/torchrt,$(patsubst %/,%,$(wildcard internal/*/)))
PURE := $(foreach d,$(PURE_DIRS),$(if $(wildcard $(d)),./$(d)/...))
GOTESTFLAGS ?= -count=1
DATA ?= data/spamassassin
NPROC ?= 2

.PHONY: all setup build test test-short vet example data bench-bert bench-allreduce clean

all: build

setup:
	@scripts/setup.sh

build: setup
	@mkdir -p bin
	$(ENV) go build -ldflags "-X github.com/ddprun/ddprun/cmd/ddprun/cli.Version=$$(git describe --tags --always --dirty 2>/dev/null)" -o $(BIN) ./cmd/ddprun

vet:
	$(ENV) go vet ./...

# The README's test command: everything, with the gotch environment, plus
# a CGO_ENABLED=0 build of the packages that must stay pure Go.
test: setup
	CGO_ENABLED=0 go build $(PURE)
	$(ENV) go vet ./...
	$(ENV) go test $(GOTESTFLAGS) ./...

test-short: setup
	$(ENV) go test -short $(GOTESTFLAGS) ./...

# The SpamAssassin example: fetch, split, train the mini preset on 2 local ranks
# (the recipe and what each choice bought: bench/RESULTS-example.md).
data: setup
	go run ./shard/cmd/spamassassin -out $(DATA)

example: build data
	$(BIN) --nproc $(NPROC) train --train $(DATA)/train.csv --val $(DATA)/val.csv --test $(DATA)/test.csv \
		--preset mini --epochs 3 --batch-size 16 --max-length 128 --truncation head+tail --class-weights balanced \
		--lr 5e-4 --warmup-ratio 0.1 --precision bf16 --output runs/spamassassin --overwrite-output

bench-bert: setup
	$(ENV) bash bench/bert_step.sh

bench-allreduce: build
	bash bench/allreduce.sh

clean:
	rm -rf bin
