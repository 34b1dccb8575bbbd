# shadowmap build and test entry points. `make run` and `make test` are the
# two commands the README promises work on a fresh machine.

GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
AGENT_TARGETS := darwin/amd64 darwin/arm64 windows/amd64 linux/amd64 linux/arm64
FUZZTIME  ?= 20s
# Packaged files carry the last commit's time, so the same commit makes the
# same .deb, .rpm and .pkg (reproducible-builds.org).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)

.PHONY: all build run demo test fmt-check vet lint-catalog unit bench bench-agent fuzz agents packages clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/shadowmap ./cmd/shadowmap
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/shadowmap-agent ./cmd/shadowmap-agent

# The main job on its embedded default: the collector on 127.0.0.1:8080 with
# SQLite at ./data/shadowmap.db (enroll secret and admin token generated into
# ./data on first start). Ctrl-C stops it gracefully.
run: build
	./$(BIN)/shadowmap signatures stats
	./$(BIN)/shadowmap serve

# A simulated 300-person company fed through the real pipeline (agent
# captures, Google Workspace and Entra exports, a mailbox over IMAP) on
# http://127.0.0.1:8080, kept in ./demo-data (wiped on every run). It
# prints the admin's email and a one-time password.
demo: build
	./$(BIN)/shadowmap demo

test: fmt-check vet lint-catalog unit

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint-catalog:
	$(GO) run ./cmd/shadowmap signatures lint signatures

unit:
	$(GO) test -count=1 ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./signatures
	./$(BIN)/shadowmap bench inventory
	./$(BIN)/shadowmap bench ingest --duration 60s

# The agent's memory and CPU goal: 10 minutes of capture on loopback at
# 1,000 lookups/s (needs root: the agent captures with AF_PACKET).
bench-agent: build
	./$(BIN)/shadowmap bench agent --agent $(BIN)/shadowmap-agent --duration 10m --rate 1000

# Short coverage-guided runs of every fuzz target; seeds live in testdata/fuzz.
fuzz:
	@for p in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
			echo "fuzz $$p $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
		done; \
	done

# Cross-build the agent for every platform MDM pushes it to.
agents:
	@for t in $(AGENT_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "shadowmap-agent $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o $(BIN)/agents/shadowmap-agent-$$os-$$arch$$ext ./cmd/shadowmap-agent || exit 1; \
	done

# The packages MDM deploys, built on Linux into ./dist: .deb and .rpm
# (amd64, arm64), the Windows .msi, the macOS .pkg (universal), and
# SHA256SUMS. Needs wixl, msitools, rpm and libarchive-tools (bsdtar). Set
# SIGN_CERT and SIGN_KEY (PEM files) to Authenticode-sign the MSI.
packages: agents
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/shadowmap-packager ./cmd/shadowmap-packager
	./$(BIN)/shadowmap-packager build --version $(VERSION) --agents $(BIN)/agents --out dist \
		$(if $(SOURCE_DATE_EPOCH),--source-date-epoch $(SOURCE_DATE_EPOCH)) \
		$(if $(SIGN_CERT),--sign-cert $(SIGN_CERT) --sign-key $(SIGN_KEY)) $(if $(TIMESTAMP_URL),--timestamp-url $(TIMESTAMP_URL))

clean:
	rm -rf $(BIN) dist
