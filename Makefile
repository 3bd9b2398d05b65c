# dstack: `make demo` and `make test` set up everything on a fresh Debian/Ubuntu machine.

SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

# C libraries (and the sqlite3 shell the tests use to read state independently).
APT_PACKAGES := pkg-config curl libcurl4-openssl-dev libjansson-dev libssl-dev libsqlite3-dev sqlite3 libxml2-dev zlib1g-dev binutils
# What the image end-to-end harness (Tests/ImageE2E) needs on the host: debootstrap to
# make the instance's root, python3 for its apt proxy, metadata service and init,
# iproute2 for its network namespace and veth pair (util-linux, tar and mount are essential).
E2E_IMAGE_APT_PACKAGES := debootstrap python3 iproute2
# The web page's tests and benchmark drive Debian's headless Chromium through its driver.
WEB_TEST_APT_PACKAGES := chromium chromium-driver
# The Postgres state backend's tests start a throwaway PostgreSQL 15 of their own
# (DstackTesting.ThrowawayPostgres: initdb and pg_ctl in a temporary directory, as the
# postgres user); psql is their independent reader.
POSTGRES_APT_PACKAGES := postgresql-15 postgresql-client-15 openssl
SWIFT ?= swift
DEMO_HOME ?= $(CURDIR)/.build/demo-home
# The runner that dstack server hands to instances: release, Swift runtime linked
# statically, so a stock Linux image runs it (it links libcurl, libcrypto and jansson,
# which its user data installs when missing). Named as providers name architectures.
RUNNER_ARCH := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)

.PHONY: all deps test-apt-deps apt-deps pip-deps build release runner test demo clean e2e-image-deps e2e-image-root e2e-image-root-runner-libs

all: build

# Everything the suite needs, in one apt-get call (so one `apt-get update`).
deps: test-apt-deps pip-deps

test-apt-deps:
	$(call apt_install_missing,$(APT_PACKAGES) $(E2E_IMAGE_APT_PACKAGES) $(WEB_TEST_APT_PACKAGES) $(POSTGRES_APT_PACKAGES))

# Installs the missing ones of the Debian packages given, with apt-get when run as
# root (one `apt-get update` first); otherwise prints the exact command to run and stops.
define apt_install_missing
	@missing=""; \
	for p in $(1); do \
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
endef

apt-deps:
	$(call apt_install_missing,$(APT_PACKAGES))

# moto's EC2 server is the test cloud; boto3 (which moto brings) checks what it holds.
# schemathesis fuzzes the server's API against its OpenAPI document (APIFuzzTests).
# selenium drives headless Chromium (WebTests); prometheus_client parses /metrics.
SCHEMATHESIS_VERSION := 4.32.5
pip-deps:
	@if ! python3 -c "import selenium, prometheus_client" 2>/dev/null; then \
	  echo "Installing selenium and prometheus_client with pip (the web page's tests)"; \
	  python3 -m pip install --quiet selenium prometheus_client || exit 1; \
	fi
	@if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c "import moto, boto3" 2>/dev/null; then \
	  echo "Installing moto[server] with pip"; \
	  python3 -m pip install --quiet 'moto[server]' || exit 1; \
	fi
	@if ! command -v schemathesis >/dev/null 2>&1 || [ "$$(schemathesis --version 2>/dev/null)" != "schemathesis, version $(SCHEMATHESIS_VERSION)" ]; then \
	  echo "Installing schemathesis $(SCHEMATHESIS_VERSION) with pip"; \
	  python3 -m pip install --quiet 'schemathesis==$(SCHEMATHESIS_VERSION)' || exit 1; \
	fi

build: apt-deps
	$(SWIFT) build
	@$(MAKE) --no-print-directory runner RUNNER_DEST="$$($(SWIFT) build --show-bin-path)"

# The CLI is linked with the Swift runtime inside (--static-swift-stdlib): a process
# that starts on every command, and the dynamic loader's symbol lookups across the
# runtime's libraries were a third of `dstack run --detach` (BENCHMARKS.md).
release: apt-deps
	$(SWIFT) build -c release
	$(SWIFT) build -c release --product dstack --static-swift-stdlib
	@$(MAKE) --no-print-directory runner RUNNER_DEST="$$($(SWIFT) build -c release --show-bin-path)"

# Builds the static runner and puts it next to the dstack executable in RUNNER_DEST,
# where `dstack server` finds it (stripped: instances download it).
runner: apt-deps
	$(SWIFT) build -c release --product dstack-runner --static-swift-stdlib
	@dest="$${RUNNER_DEST:-$$($(SWIFT) build --show-bin-path)}"; mkdir -p "$$dest"; \
	strip -o "$$dest/dstack-runner-linux-$(RUNNER_ARCH).tmp" "$$($(SWIFT) build -c release --show-bin-path)/dstack-runner" && \
	chmod 0755 "$$dest/dstack-runner-linux-$(RUNNER_ARCH).tmp" && \
	mv "$$dest/dstack-runner-linux-$(RUNNER_ARCH).tmp" "$$dest/dstack-runner-linux-$(RUNNER_ARCH)" && \
	echo "runner for $(RUNNER_ARCH) instances: $$dest/dstack-runner-linux-$(RUNNER_ARCH)"

# The whole suite. Tests run one at a time: several start servers and processes.
# The instance image is debootstrapped once (about 2 min) and cached under .build/.
# The second run: the state-backed core tests and the local-provider end-to-end CLI
# tests with their state in the throwaway PostgreSQL (DSTACK_TEST_STATE=postgres).
# Not rerun: ServerOperationTests, BadInputTests, BackgroundServerTests (server.lock and
# state.db as files: SQLite's alone); the suites that always use Postgres (StateStore,
# StateCopy, PostgresState, PostgresServer, PostgresTLS, AdminToken, MigrateState,
# Replica); APIFuzzTests (the API's input handling, not the state's).
POSTGRES_RERUN := DstackCoreTests.ReconcilerTests|DstackCoreTests.ProvisioningFailureTests|DstackCoreTests.DiskLaunchTests|CLITests.AutoscalerEndToEndTests|CLITests.LocalAutoscaleTests
POSTGRES_RERUN := $(POSTGRES_RERUN)|DstackCoreTests.HeldRequestTests|DstackCoreTests.SpotLifecycleTests|DstackCoreTests.ArtifactStateTests
POSTGRES_RERUN := $(POSTGRES_RERUN)|CLITests.ArtifactsEndToEndTests|CLITests.SpotInterruptionTests|CLITests.RunSubmissionTests|CLITests.RunCommandTests
POSTGRES_RERUN := $(POSTGRES_RERUN)|CLITests.RunnerAPITests|CLITests.ServerShutdownTests|CLITests.APIAccessTests|CLITests.SecretsStayHiddenTests
POSTGRES_RERUN := $(POSTGRES_RERUN)|CLITests.APIRefusalTests|CLITests.ProvisioningProgressTests|CLITests.RegistrationReplyLostTests
POSTGRES_RERUN := $(POSTGRES_RERUN)|CLITests.ServerTLSTests|CLITests.ConfigureTests|CLITests.ConcurrencyTests|DstackCoreTests.CostReconcilerTests
# The end-to-end suites against moto and the web page's, rerun whole: every server they
# start (and every background server their commands start) gets a database of its own
# in the throwaway PostgreSQL (DstackTesting.TestStateDatabase), and a test fails if a
# server left a state.db in its home. They add about 7.5 min to the rerun (446 s on
# Postgres against 415 s on state.db, measured with load ~13 on the 2-core machine).
# Not rerun: the AWS suites that start no server and keep no state (IAMEnforcement,
# S3BucketOnMoto, MotoGap, MotoConformance, Fault, SigV4*, RootVolume, S3Addressing,
# Configuration, CloudCallObserver, AWSPluginChecks: the provider alone against moto).
POSTGRES_RERUN_CLOUD_AND_WEB := AWSTests.AutoscalerOnEC2Tests|AWSTests.SpotLifecycleOnEC2Tests|AWSTests.ChaosOnEC2Tests
POSTGRES_RERUN_CLOUD_AND_WEB := $(POSTGRES_RERUN_CLOUD_AND_WEB)|AWSTests.ArtifactsOnS3AndEC2Tests|AWSTests.ProvisioningFailureOnEC2Tests
POSTGRES_RERUN_CLOUD_AND_WEB := $(POSTGRES_RERUN_CLOUD_AND_WEB)|AWSTests.CLIEndToEndTests|AWSTests.CredentialChainOnMotoTests
POSTGRES_RERUN_CLOUD_AND_WEB := $(POSTGRES_RERUN_CLOUD_AND_WEB)|AWSTests.BucketConfigureOnMotoTests|AWSTests.InstanceImageBootTests
POSTGRES_RERUN_CLOUD_AND_WEB := $(POSTGRES_RERUN_CLOUD_AND_WEB)|WebTests.BrowserTests|WebTests.MetricsTests|WebTests.SessionAndPageTests
test: deps build e2e-image-root
	$(SWIFT) test
	DSTACK_TEST_STATE=postgres $(SWIFT) test --skip-build --filter '$(POSTGRES_RERUN)|$(POSTGRES_RERUN_CLOUD_AND_WEB)'

# The main job on the local provider, with no cloud account: configure, allow two
# runners, start the server, submit four runs, watch two runners come up and all four
# runs finish, watch the idle runners torn down, stop the server. It uses a scratch
# DSTACK_HOME so it never touches your own ~/.dstack.
DEMO_PORT ?= 3917
demo: build
	@rm -rf "$(DEMO_HOME)"; \
	bin="$$($(SWIFT) build --show-bin-path)"; \
	export DSTACK_HOME="$(DEMO_HOME)" DSTACK_RUNNER_PATH="$$bin/dstack-runner" DSTACK_SERVER_URL="http://127.0.0.1:$(DEMO_PORT)"; \
	say() { echo; echo "\$$ dstack $$*"; "$$bin/dstack" "$$@" || exit 1; }; \
	echo; echo "\$$ dstack server --port $(DEMO_PORT) --idle-timeout 5s --reconcile-interval 1s &"; \
	"$$bin/dstack" server --port $(DEMO_PORT) --idle-timeout 5s --reconcile-interval 1s > >(sed 's/^/  [server] /') 2>&1 & \
	server=$$!; trap 'kill -TERM $$server 2>/dev/null' EXIT; \
	for i in $$(seq 100); do curl -fs "$$DSTACK_SERVER_URL/api/v1/health" >/dev/null 2>&1 && break; sleep 0.2; done; \
	say local configure; \
	say autoscale allow local --max 2; \
	mkdir -p "$(DEMO_HOME)/project/.dstack" && cd "$(DEMO_HOME)/project"; \
	printf 'workflows:\n  - name: hello\n    commands:\n      - echo "hello from $$(hostname)"\n      - sleep 2\n    resources:\n      cpu: 1\n' > .dstack/workflows.yaml; \
	echo; echo "\$$ cat .dstack/workflows.yaml"; cat .dstack/workflows.yaml; \
	for i in 1 2 3 4; do say run --detach hello; done; \
	for i in $$(seq 150); do \
	  left=$$("$$bin/dstack" ps --json | grep -o '"status": "[a-z]*"' | grep -cv '"done"'); \
	  [ "$$left" = 0 ] && break; sleep 0.2; \
	done; \
	say ps; \
	say instances; \
	echo; echo "Waiting for the idle timeout (5s) to tear the runners down..."; \
	for i in $$(seq 100); do \
	  "$$bin/dstack" instances --json | grep -q '"state": "running"' || break; sleep 0.2; \
	done; \
	say instances; \
	kill -TERM $$server; wait $$server; trap - EXIT; sleep 0.2; \
	echo; echo "Demo done: 4 runs on 2 runners, torn down when idle. Its files are in $(DEMO_HOME)."

# The image end-to-end harness: a stock Debian bookworm root (no Swift, no jansson),
# debootstrapped once from Debian's mirror and cached in .build/e2e-image/ (about 2 min
# the first time, instant after). The runner-libs variant has the runner's libraries
# already installed, for the cold-start benchmark. See Tests/ImageE2E/README.md.
e2e-image-deps:
	$(call apt_install_missing,$(E2E_IMAGE_APT_PACKAGES))

e2e-image-root: e2e-image-deps
	Tests/ImageE2E/make-root.sh --variant stock

e2e-image-root-runner-libs: e2e-image-deps
	Tests/ImageE2E/make-root.sh --variant runner-libs

clean:
	rm -rf .build "$(DEMO_HOME)"
