# keyward — build, test and run. `make run` and `make test` work on a fresh machine:
# the setup step installs system packages, a pinned Node.js LTS and the npm dependencies.
SHELL := /bin/bash
.DEFAULT_GOAL := build

NODE_VERSION := 26.10.0
TOOLCHAIN    := $(CURDIR)/.toolchain
NODE_STAMP   := $(TOOLCHAIN)/.node-$(NODE_VERSION)
# The `node` npm package installs the binary through an arch-specific package whose
# folder also carries include/ (the headers node-gyp builds native addons against).
# ($(shell) rather than $(wildcard): make caches directory listings, and .toolchain is
# created during the run.)
NODE_HOME     = $(shell ls -d $(TOOLCHAIN)/node_modules/node/node_modules/node-linux-* 2>/dev/null | head -n 1)
export PATH  := $(TOOLCHAIN)/node_modules/.bin:$(CURDIR)/node_modules/.bin:$(PATH)
export npm_config_nodedir = $(NODE_HOME)
export npm_config_update_notifier := false
export npm_config_fund := false
export npm_config_audit := false

CONFIG ?= deploy/keyward.example.yaml
SYSTEM_PACKAGES := softhsm2 opensc openssl util-linux ca-certificates

.PHONY: setup system-packages node deps build run test bench lint clean distclean

setup: system-packages node deps

# Debian packages the tests use (SoftHSM2 for the HSM backend, openssl for independent
# verification, setpriv for multi-uid tests). Installed only when missing.
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

node: $(NODE_STAMP)
$(NODE_STAMP):
	@mkdir -p $(TOOLCHAIN)
	@echo "installing Node.js $(NODE_VERSION) from the npm registry into .toolchain/"
	cd $(TOOLCHAIN) && npm install --no-save --no-package-lock --prefix $(TOOLCHAIN) node@$(NODE_VERSION) >/dev/null
	@test "$$($(TOOLCHAIN)/node_modules/.bin/node --version)" = "v$(NODE_VERSION)"
	@touch $@

deps: node node_modules/.stamp
node_modules/.stamp: package.json package-lock.json $(NODE_STAMP)
	@node --version
	npm ci --no-audit --no-fund
	@touch $@

# The OTLP test receivers decode real OpenTelemetry protobuf, generated from the
# vendored opentelemetry-proto files by their own buf module.
OTEL_PROTO_DIR := test/support/otlp-receiver

# The SO_PEERCRED addon (native/peer-credentials), built against the pinned Node.
PEERCRED_ADDON := native/peer-credentials/build/Release/peer_credentials.node
$(PEERCRED_ADDON): native/peer-credentials/peer-credentials.cc native/peer-credentials/binding.gyp node_modules/.stamp
	node-gyp rebuild --directory native/peer-credentials --nodedir "$(NODE_HOME)" >/dev/null

build: deps $(PEERCRED_ADDON)
	buf generate
	cd $(OTEL_PROTO_DIR) && buf generate --template buf.gen.otel.yaml
	tsc -p tsconfig.json

lint: deps
	buf lint

run: build
	node dist/src/cli/main.js serve --config $(CONFIG)

test: system-packages build
	buf lint
	ava $(AVA_FLAGS)

bench: build
	node dist/bench/run.js

clean:
	rm -rf dist src/wire/gen $(OTEL_PROTO_DIR)/gen native/peer-credentials/build

distclean: clean
	rm -rf node_modules .toolchain
