# dstack: `make demo` and `make test` set up everything on a fresh Debian/Ubuntu machine.

SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

# C libraries (and the sqlite3 shell the tests use to read state independently).
APT_PACKAGES := pkg-config libcurl4-openssl-dev libjansson-dev libssl-dev libsqlite3-dev sqlite3 libxml2-dev
SWIFT ?= swift
DEMO_HOME ?= $(CURDIR)/.build/demo-home

.PHONY: all deps apt-deps pip-deps build release test demo clean

all: build

deps: apt-deps pip-deps

# Installs missing Debian packages with apt-get when run as root; otherwise prints the
# exact command to run and stops.
apt-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq $$missing; \
	  else \
	    echo "Missing system packages. Run:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

# moto's EC2 server is the test cloud; boto3 (which moto brings) checks what it holds.
pip-deps:
	@if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c "import moto, boto3" 2>/dev/null; then \
	  echo "Installing moto[server] with pip"; \
	  python3 -m pip install --quiet 'moto[server]' || exit 1; \
	fi

build: apt-deps
	$(SWIFT) build

release: apt-deps
	$(SWIFT) build -c release

# The whole suite. Tests run one at a time: several start servers and processes.
test: deps
	$(SWIFT) build
	$(SWIFT) test

# A scripted tour of the autoscale commands on the local provider, in a scratch
# DSTACK_HOME so it never touches your own ~/.dstack.
demo: build
	@rm -rf "$(DEMO_HOME)"; \
	bin="$$($(SWIFT) build --show-bin-path)"; \
	export DSTACK_HOME="$(DEMO_HOME)" DSTACK_RUNNER_PATH="$$bin/dstack-runner"; \
	run() { echo; echo "\$$ dstack $$*"; "$$bin/dstack" "$$@" || exit 1; }; \
	run local configure; \
	run autoscale allow local --max 2; \
	run autoscale info; \
	run instances request local --count 2; \
	run instances; \
	run autoscale allow local --max 1; \
	run autoscale info; \
	run autoscale disable; \
	run autoscale info --json; \
	run autoscale enable; \
	run autoscale clear; \
	run autoscale info; \
	echo; echo "Demo done. Its files are in $(DEMO_HOME)."

clean:
	rm -rf .build "$(DEMO_HOME)"
