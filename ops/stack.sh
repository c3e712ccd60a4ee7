#!/usr/bin/env bash
# The local stack for the demo, the tests and the benchmarks: a real Apache Kafka 4.x broker
# (KRaft, one combined broker+controller node, jars from Maven Central via ops/kafka/pom.xml)
# and a real redis-server, both on loopback. No Docker.
#
#   ops/stack.sh up       start both (idempotent), wait until Kafka answers metadata requests
#   ops/stack.sh up --monitoring   also Prometheus (:9090) and Alertmanager (:9093), see below
#   ops/stack.sh down     stop both cleanly (SIGTERM, then SIGKILL after STOP_TIMEOUT seconds)
#   ops/stack.sh start|stop|restart kafka|redis   one service, keeping its data and port
#   ops/stack.sh kill kafka|redis                  SIGKILL one service (fault tests); start resumes
#   ops/stack.sh status   say what runs where
#   ops/stack.sh env      print KAFKA_BOOTSTRAP_SERVERS / REDIS_URL as shell assignments
#
# Data survives stop/start: Kafka's log dir is formatted only when it is unformatted, Redis
# keeps an append-only file, and each service's port is remembered in the stack dir.
# Settings (environment): CX_STACK_DIR (state, logs, pid files; default .stack in the repo),
# KAFKA_PORT (default 9092, or "auto" for a free port), REDIS_PORT (default 6379 or "auto"),
# STOP_TIMEOUT (default 30), PYTHON (an interpreter with confluent-kafka, for the readiness
# check; default .venv/bin/python).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${CX_STACK_DIR:-$ROOT/.stack}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
POM=$ROOT/ops/kafka/pom.xml
KAFKA_HEAP=${KAFKA_HEAP:-768m}
READY_TIMEOUT=${READY_TIMEOUT:-90}
STOP_TIMEOUT=${STOP_TIMEOUT:-30}

log() { printf '[stack] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pick_port() { # $1 = requested port or "auto"
  if [[ "$1" == auto ]]; then free_port; else echo "$1"; fi
}

remembered_port() { # $1 = file remembering the port, $2 = requested port or "auto"
  # A restarted service keeps its port: clients and the data (Kafka's quorum) refer to it.
  [[ -s "$1" ]] || pick_port "$2" >"$1"
  cat "$1"
}

is_running() { # $1 = pid file
  [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

kafka_classpath() {
  # Resolving through Maven caches the jars in ~/.m2; the classpath file is cached per pom hash.
  local hash cache
  hash=$(sha256sum "$POM" | cut -c1-16)
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/cxstream/kafka-classpath-$hash.txt
  if [[ -s "$cache" ]] && tr ':' '\n' <"$cache" | while read -r jar; do [[ -f "$jar" ]] || exit 1; done; then
    cat "$cache"; return
  fi
  command -v mvn >/dev/null || die "mvn not found: run ops/setup.sh (installs Maven and a JDK)"
  mkdir -p "$(dirname "$cache")"
  log "resolving Kafka jars from Maven Central (first run only)"
  mvn -q -B -f "$POM" dependency:build-classpath -Dmdep.outputFile="$cache.tmp" >&2 \
    || die "Maven could not resolve the Kafka jars (see output above)"
  mv "$cache.tmp" "$cache"
  cat "$cache"
}

write_kafka_config() { # $1 kafka port, $2 controller port
  sed -e "s|@KAFKA_PORT@|$1|g" -e "s|@CONTROLLER_PORT@|$2|g" -e "s|@DATA_DIR@|$STACK_DIR/kafka-data|g" \
    "$ROOT/ops/kafka/server.properties.in" >"$STACK_DIR/server.properties"
}

start_kafka() {
  local cp port controller_port
  is_running "$STACK_DIR/kafka.pid" && { log "kafka already running"; return; }
  cp=$(kafka_classpath)
  port=$(remembered_port "$STACK_DIR/kafka.port" "${KAFKA_PORT:-9092}")
  controller_port=$(remembered_port "$STACK_DIR/kafka-controller.port" auto)
  mkdir -p "$STACK_DIR/kafka-logs"
  write_kafka_config "$port" "$controller_port"
  if [[ ! -f "$STACK_DIR/kafka-data/meta.properties" ]]; then # format once; restarts keep data
    java -cp "$cp" kafka.tools.StorageTool format --ignore-formatted \
      -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid)" \
      -c "$STACK_DIR/server.properties" >"$STACK_DIR/kafka-format.log" 2>&1 \
      || die "kafka storage format failed: $(tail -n 5 "$STACK_DIR/kafka-format.log")"
  fi
  # setsid: the broker must not die with the shell that started it, nor take Ctrl-C meant for it.
  setsid java -Xms256m "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true "-Dkafka.logs.dir=$STACK_DIR/kafka-logs" \
    "-Dlog4j2.configurationFile=$ROOT/ops/kafka/log4j2.properties" \
    -cp "$cp" kafka.Kafka "$STACK_DIR/server.properties" \
    >>"$STACK_DIR/kafka.out" 2>&1 </dev/null &
  echo $! >"$STACK_DIR/kafka.pid"
  echo "127.0.0.1:$port" >"$STACK_DIR/kafka.bootstrap"
  log "kafka starting on 127.0.0.1:$port (pid $(cat "$STACK_DIR/kafka.pid"))"
}

start_redis() {
  local port pid
  is_running "$STACK_DIR/redis.pid" && { log "redis already running"; return; }
  command -v redis-server >/dev/null || die "redis-server not found: run ops/setup.sh"
  port=$(remembered_port "$STACK_DIR/redis.port" "${REDIS_PORT:-6379}")
  mkdir -p "$STACK_DIR/redis-data"
  rm -f "$STACK_DIR/redis.pid" # a SIGKILLed redis leaves its pid file behind
  # Append-only file (fsync every second): a stop, restart or SIGKILL keeps the read model.
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly yes \
    --appendfsync everysec --daemonize yes --pidfile "$STACK_DIR/redis.pid" \
    --logfile "$STACK_DIR/redis.log" --dir "$STACK_DIR/redis-data" \
    || die "redis-server failed: $(tail -n 5 "$STACK_DIR/redis.log" 2>/dev/null)"
  echo "redis://127.0.0.1:$port/0" >"$STACK_DIR/redis.url"
  for _ in $(seq 1 100); do [[ -s "$STACK_DIR/redis.pid" ]] && break; sleep 0.1; done
  pid=$(cat "$STACK_DIR/redis.pid" 2>/dev/null) || die "redis wrote no pid file: $(tail -n 5 "$STACK_DIR/redis.log")"
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    kill -0 "$pid" 2>/dev/null || die "redis exited during start-up: $(tail -n 5 "$STACK_DIR/redis.log")"
    sleep 0.1
  done
  log "redis on 127.0.0.1:$port (pid $pid)"
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) bootstrap
  bootstrap=$(cat "$STACK_DIR/kafka.bootstrap")
  until "$PYTHON" "$ROOT/ops/kafka_ready.py" "$bootstrap" 2>/dev/null; do
    is_running "$STACK_DIR/kafka.pid" \
      || die "kafka exited during start-up: $(tail -n 20 "$STACK_DIR/kafka.out" "$STACK_DIR/kafka-logs/server.log" 2>/dev/null)"
    ((SECONDS < deadline)) || die "kafka not ready after ${READY_TIMEOUT}s (logs in $STACK_DIR)"
    sleep 0.3
  done
  log "kafka ready at $bootstrap"
}

stop_pidfile() { # $1 name, $2 pid file, $3 signal (TERM, or KILL for fault tests)
  local pid waits
  is_running "$2" || { rm -f "$2"; return 0; }
  pid=$(cat "$2")
  kill "-${3:-TERM}" "$pid" 2>/dev/null || true
  waits=$((STOP_TIMEOUT * 5))
  for _ in $(seq 1 "$waits"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$1 did not stop in $STOP_TIMEOUT s; killing"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  kill -0 "$pid" 2>/dev/null && die "$1 (pid $pid) survived SIGKILL"
  rm -f "$2"
  log "$1 stopped"
}

print_env() {
  [[ -f "$STACK_DIR/kafka.bootstrap" ]] && echo "KAFKA_BOOTSTRAP_SERVERS=$(cat "$STACK_DIR/kafka.bootstrap")"
  [[ -f "$STACK_DIR/redis.url" ]] && echo "REDIS_URL=$(cat "$STACK_DIR/redis.url")"
  print_registry_env
  print_monitoring_env
  return 0
}

status() {
  local rc=0
  if is_running "$STACK_DIR/kafka.pid"; then echo "kafka: running at $(cat "$STACK_DIR/kafka.bootstrap") (pid $(cat "$STACK_DIR/kafka.pid"))"; else echo "kafka: stopped"; rc=1; fi
  if is_running "$STACK_DIR/redis.pid"; then echo "redis: running at $(cat "$STACK_DIR/redis.url") (pid $(cat "$STACK_DIR/redis.pid"))"; else echo "redis: stopped"; rc=1; fi
  registry_status
  monitoring_status
  return $rc
}

# --- schema registry (optional): Apicurio Registry 3.x, Confluent-compatible API -------------
# `up --registry` (or CX_REGISTRY=1) starts it; start|stop|kill|restart registry as for Kafka.
# REGISTRY_PORT (default 8081, or "auto"), REGISTRY_MANAGEMENT_PORT (health; default auto).
# Schemas live in an H2 file under the stack dir, so a stop/start (an outage drill) keeps them
# and the schema ids that records on the topics carry.
REGISTRY_HEAP=${REGISTRY_HEAP:-384m}

registry_wanted() { # the arguments of `up`
  [[ "${CX_REGISTRY:-0}" == 1 ]] && return 0
  local arg
  for arg in "$@"; do [[ "$arg" == --registry ]] && return 0; done
  return 1
}

start_registry() {
  local java app port mgmt
  is_running "$STACK_DIR/registry.pid" && { log "registry already running"; return; }
  java=$(PYTHON="$PYTHON" "$ROOT/ops/registry/registry.sh" java) || exit 1
  app=$("$ROOT/ops/registry/registry.sh" app) || exit 1
  port=$(remembered_port "$STACK_DIR/registry.port" "${REGISTRY_PORT:-8081}")
  mgmt=$(remembered_port "$STACK_DIR/registry-management.port" "${REGISTRY_MANAGEMENT_PORT:-auto}")
  mkdir -p "$STACK_DIR/registry-data"
  # Loopback only; Confluent's default global compatibility (BACKWARD; Apicurio's is NONE);
  # schemas matched by canonical form, as Confluent does, so formatting differs harmlessly.
  (cd "$STACK_DIR/registry-data" && exec setsid "$java" -Xms64m "-Xmx$REGISTRY_HEAP" \
    -Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$port" \
    -Dquarkus.management.host=127.0.0.1 "-Dquarkus.management.port=$mgmt" \
    "-Dapicurio.datasource.url=jdbc:h2:file:$STACK_DIR/registry-data/registry" \
    -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
    -Dapicurio.rules.global.compatibility=BACKWARD -Dapicurio.ccompat.use-canonical-hash=true \
    "-Dapicurio.storage.snapshot.location=$STACK_DIR/registry-data" \
    -jar "$app/quarkus-run.jar" >>"$STACK_DIR/registry.out" 2>&1 </dev/null) &
  echo $! >"$STACK_DIR/registry.pid"
  echo "http://127.0.0.1:$port/apis/ccompat/v7" >"$STACK_DIR/registry.url"
  log "registry starting on 127.0.0.1:$port (pid $(cat "$STACK_DIR/registry.pid"))"
}

wait_registry() {
  local deadline=$((SECONDS + READY_TIMEOUT)) health
  health="http://127.0.0.1:$(cat "$STACK_DIR/registry-management.port")/health/ready"
  until "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "$health" 2>/dev/null; do
    is_running "$STACK_DIR/registry.pid" \
      || die "registry exited during start-up: $(tail -n 20 "$STACK_DIR/registry.out" 2>/dev/null)"
    ((SECONDS < deadline)) || die "registry not ready after ${READY_TIMEOUT}s (log: $STACK_DIR/registry.out)"
    sleep 0.3
  done
  log "registry ready at $(cat "$STACK_DIR/registry.url")"
}

print_registry_env() {
  is_running "$STACK_DIR/registry.pid" && echo "SCHEMA_REGISTRY_URL=$(cat "$STACK_DIR/registry.url")"
  return 0
}

registry_status() { # only once it has been started here: the registry is optional
  [[ -f "$STACK_DIR/registry.url" ]] || return 0
  if is_running "$STACK_DIR/registry.pid"; then
    echo "registry: running at $(cat "$STACK_DIR/registry.url") (pid $(cat "$STACK_DIR/registry.pid"))"
  else
    echo "registry: stopped"
  fi
}
# ----------------------------------------------------------------------------------------------

# --- monitoring (optional): Debian's Prometheus and Alertmanager with the project's configs ---
# `up --monitoring` (or CX_MONITORING=1) starts them, `down` stops them. Prometheus runs
# ops/prometheus/prometheus.yml and its rules with only the addresses made local: it scrapes a
# worker at CX_WORKER_METRICS (default 127.0.0.1:6066, `cxstream worker`'s default --web-port)
# and alerts the Alertmanager, which runs ops/alertmanager/alertmanager.yml as it is.
# PROMETHEUS_PORT (default 9090, or "auto"), ALERTMANAGER_PORT (default 9093, or "auto").

monitoring_wanted() { # the arguments of `up`
  [[ "${CX_MONITORING:-0}" == 1 ]] && return 0
  local arg
  for arg in "$@"; do [[ "$arg" == --monitoring ]] && return 0; done
  return 1
}

monitoring_binary() { # names to look for; prints the first found, or dies naming the fix
  local name
  for name in "$@"; do command -v "$name" && return 0; done
  die "$1 not found: run ops/setup.sh (Debian packages prometheus, prometheus-alertmanager)"
}

wait_http() { # $1 name, $2 url, $3 pid file
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$2" 2>/dev/null; do
    is_running "$3" || die "$1 exited during start-up: $(tail -n 20 "$STACK_DIR/$1.log" 2>/dev/null)"
    ((SECONDS < deadline)) || die "$1 not ready after ${READY_TIMEOUT}s (log: $STACK_DIR/$1.log)"
    sleep 0.3
  done
}

start_monitoring() {
  local am prom am_port prom_port worker=${CX_WORKER_METRICS:-127.0.0.1:6066}
  am=$(monitoring_binary prometheus-alertmanager alertmanager) || exit 1
  prom=$(monitoring_binary prometheus) || exit 1
  am_port=$(remembered_port "$STACK_DIR/alertmanager.port" "${ALERTMANAGER_PORT:-9093}")
  prom_port=$(remembered_port "$STACK_DIR/prometheus.port" "${PROMETHEUS_PORT:-9090}")
  mkdir -p "$STACK_DIR/alertmanager-data" "$STACK_DIR/prometheus-data"
  if ! is_running "$STACK_DIR/alertmanager.pid"; then
    setsid "$am" "--config.file=$ROOT/ops/alertmanager/alertmanager.yml" \
      "--storage.path=$STACK_DIR/alertmanager-data" "--web.listen-address=127.0.0.1:$am_port" \
      --cluster.listen-address= >>"$STACK_DIR/alertmanager.log" 2>&1 </dev/null &
    echo $! >"$STACK_DIR/alertmanager.pid"
  fi
  if ! is_running "$STACK_DIR/prometheus.pid"; then
    sed -e "s|\"worker:6066\"|\"$worker\"|" -e "s|\"alertmanager:9093\"|\"127.0.0.1:$am_port\"|" \
      -e "s|\"localhost:9090\"|\"127.0.0.1:$prom_port\"|" \
      -e "s|- rules/|- $ROOT/ops/prometheus/rules/|" \
      "$ROOT/ops/prometheus/prometheus.yml" >"$STACK_DIR/prometheus.yml"
    setsid "$prom" "--config.file=$STACK_DIR/prometheus.yml" \
      "--storage.tsdb.path=$STACK_DIR/prometheus-data" "--web.listen-address=127.0.0.1:$prom_port" \
      >>"$STACK_DIR/prometheus.log" 2>&1 </dev/null &
    echo $! >"$STACK_DIR/prometheus.pid"
  fi
  wait_http alertmanager "http://127.0.0.1:$am_port/-/ready" "$STACK_DIR/alertmanager.pid"
  wait_http prometheus "http://127.0.0.1:$prom_port/-/ready" "$STACK_DIR/prometheus.pid"
  echo "http://127.0.0.1:$prom_port" >"$STACK_DIR/prometheus.url"
  echo "http://127.0.0.1:$am_port" >"$STACK_DIR/alertmanager.url"
  log "prometheus at http://127.0.0.1:$prom_port (scraping a worker at $worker), alertmanager at http://127.0.0.1:$am_port"
}

stop_monitoring() {
  stop_pidfile prometheus "$STACK_DIR/prometheus.pid"
  stop_pidfile alertmanager "$STACK_DIR/alertmanager.pid"
}

print_monitoring_env() {
  is_running "$STACK_DIR/prometheus.pid" && echo "PROMETHEUS_URL=$(cat "$STACK_DIR/prometheus.url")"
  is_running "$STACK_DIR/alertmanager.pid" && echo "ALERTMANAGER_URL=$(cat "$STACK_DIR/alertmanager.url")"
  return 0
}

monitoring_status() { # only once it has been started here: monitoring is optional
  local name
  for name in prometheus alertmanager; do
    [[ -f "$STACK_DIR/$name.url" ]] || continue
    if is_running "$STACK_DIR/$name.pid"; then
      echo "$name: running at $(cat "$STACK_DIR/$name.url") (pid $(cat "$STACK_DIR/$name.pid"))"
    else
      echo "$name: stopped"
    fi
  done
}
# ----------------------------------------------------------------------------------------------

service() { # $1 = command, $2 = kafka|redis
  case "$1:${2:-}" in
    start:kafka) start_kafka; wait_ready ;;
    start:redis) start_redis ;;
    stop:kafka | stop:redis) stop_pidfile "$2" "$STACK_DIR/$2.pid" ;;
    kill:kafka | kill:redis) stop_pidfile "$2" "$STACK_DIR/$2.pid" KILL ;;
    restart:kafka | restart:redis) service stop "$2"; service start "$2" ;;
    start:registry) start_registry; wait_registry ;;
    stop:registry) stop_pidfile registry "$STACK_DIR/registry.pid" ;;
    kill:registry) stop_pidfile registry "$STACK_DIR/registry.pid" KILL ;;
    restart:registry) service stop registry; service start registry ;;
    *) die "usage: ops/stack.sh $1 kafka|redis" ;;
  esac
}

main() {
  mkdir -p "$STACK_DIR"
  case "${1:-}" in
    up) start_redis; start_kafka; wait_ready
      if registry_wanted "${@:2}"; then start_registry; wait_registry; fi
      if monitoring_wanted "${@:2}"; then start_monitoring; fi
      print_env ;;
    down) stop_pidfile kafka "$STACK_DIR/kafka.pid"; stop_pidfile redis "$STACK_DIR/redis.pid"
      stop_pidfile registry "$STACK_DIR/registry.pid"; stop_monitoring ;;
    start | stop | kill | restart) service "$1" "${2:-}" ;;
    status) status ;;
    env) print_env ;;
    *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
}

main "$@"
