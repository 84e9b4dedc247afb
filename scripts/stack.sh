#!/usr/bin/env bash
# Local PostgreSQL + Apache Kafka (KRaft, single node) as real native processes, no Docker.
#
#   scripts/stack.sh up              start both (installs/resolves/initialises what is missing)
#   scripts/stack.sh status          exit 0 only if both answer
#   scripts/stack.sh down [--purge]  stop what `up` started; --purge also deletes data (`purge` = down --purge)
#
# Everything written lives under $STACK_DIR (default <repo>/.stack): data, logs, pids, the Kafka jar cache.
# See docs/local-servers.md. docker-compose.yml at the repo root gives the same services with Docker.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=$(realpath -m "${STACK_DIR:-$ROOT/.stack}")
LOGS=$STACK_DIR/logs

FEES_PG_HOST=${FEES_PG_HOST:-127.0.0.1}
FEES_PG_PORT=${FEES_PG_PORT:-55432}
FEES_PG_DB=${FEES_PG_DB:-fees}
FEES_PG_USER=${FEES_PG_USER:-fees}
FEES_PG_PASSWORD=${FEES_PG_PASSWORD:-fees}
FEES_PG_EXTERNAL=${FEES_PG_EXTERNAL:-0}
FEES_KAFKA_PORT=${FEES_KAFKA_PORT:-59092}
FEES_KAFKA_CONTROLLER_PORT=${FEES_KAFKA_CONTROLLER_PORT:-59093}
KAFKA_READY_TIMEOUT=${KAFKA_READY_TIMEOUT:-90}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g}   # fixed heap: polite on a 2-core box

# PostgreSQL refuses to run as root, so its files must be reachable by the `postgres` OS user. When
# the checkout sits below a directory closed to others (a clone under /root, say), `up` moves them to
# /var/tmp and records where in $STACK_DIR/pg-home, so that later `down`/`status` find them.
PG_HOME_POINTER=$STACK_DIR/pg-home
set_pg_home() {
  PG_HOME=$1
  PG_DATA=$PG_HOME/data
  PG_RUN=$PG_HOME/run               # unix socket dir (private: local socket auth is `trust`)
  PG_LOG=$PG_HOME/postgres.log
}
set_pg_home "$(cat "$PG_HOME_POINTER" 2>/dev/null || echo "$STACK_DIR/pg")"
K_DIR=$STACK_DIR/kafka
K_LIBS=$K_DIR/libs                  # Maven-resolved classpath; survives `purge`
K_DATA=$K_DIR/data
K_PROPS=$K_DIR/server.properties
K_PID=$STACK_DIR/kafka.pid
K_POM=$ROOT/scripts/kafka/pom.xml
K_LOG4J=$ROOT/scripts/kafka/log4j2.properties
K_READY=$ROOT/scripts/kafka_ready.py

log() { echo "stack: $*"; }
die() { echo "stack: ERROR: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

apt_install() {  # apt_install PKG... (as root, or through sudo)
  local sudo=()
  is_root || { command -v sudo >/dev/null || die "need root or sudo to install: $*"; sudo=(sudo); }
  log "installing $* with apt-get"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ---------------------------------------------------------------- PostgreSQL

pg_bin() {  # newest installed server's bin dir, or nothing
  local p
  p=$(printf '%s\n' /usr/lib/postgresql/*/bin/postgres | sort -V | tail -n1)
  if [ -x "$p" ]; then dirname "$p"; fi
}

# postgres refuses to run as root: when we are root, run server tools as the `postgres` OS user
# (from /, since that user may not be allowed into our cwd).
as_pg() { if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

pg_running() { [ -f "$PG_DATA/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
pg_answers() { pg_isready -q -h "$FEES_PG_HOST" -p "$FEES_PG_PORT" -t "${1:-3}" 2>/dev/null; }

# Create role (LOGIN, CREATEDB for throwaway test databases) and database, idempotently.
# Reads a psql connection (args) with superuser rights; password is re-set so env changes apply.
pg_ensure_role_db() {
  psql -X -q -v ON_ERROR_STOP=1 -v u="$FEES_PG_USER" -v p="$FEES_PG_PASSWORD" -v d="$FEES_PG_DB" "$@" <<'SQL'
SELECT format('CREATE ROLE %I', :'u') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'u') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'u', :'p') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'d', :'u')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'d') \gexec
SQL
}

pg_check_login() {  # the app's own credentials over TCP
  [ "$(PGPASSWORD=$FEES_PG_PASSWORD PGCONNECT_TIMEOUT=5 psql -X -tA -h "$FEES_PG_HOST" -p "$FEES_PG_PORT" \
        -U "$FEES_PG_USER" -d "$FEES_PG_DB" -c 'select 1' 2>&1)" = 1 ]
}

pg_up_external() {
  command -v pg_isready >/dev/null || apt_install postgresql-client
  for _ in $(seq 1 30); do pg_answers 2 && break; sleep 1; done
  pg_answers 2 || die "no PostgreSQL answers at $FEES_PG_HOST:$FEES_PG_PORT (FEES_PG_EXTERNAL=1)"
  if [ -n "${FEES_PG_ADMIN_DSN:-}" ]; then pg_ensure_role_db "$FEES_PG_ADMIN_DSN"; fi
  pg_check_login || die "cannot log in as $FEES_PG_USER to $FEES_PG_DB at $FEES_PG_HOST:$FEES_PG_PORT" \
    "(set FEES_PG_ADMIN_DSN to a superuser DSN to create them)"
  log "postgres (external) ready on $FEES_PG_HOST:$FEES_PG_PORT"
}

pg_up_local() {
  [ -n "$(pg_bin)" ] || apt_install postgresql   # Debian's `main` cluster on 5432 is left alone
  PGBIN=$(pg_bin)
  [ -n "$PGBIN" ] || die "PostgreSQL server binaries not found after install"
  mkdir -p "$PG_HOME" "$LOGS"
  if is_root; then
    chown postgres:postgres "$PG_HOME"
    if ! as_pg test -w "$PG_HOME"; then
      set_pg_home "/var/tmp/province-fees-pg-$(echo "$STACK_DIR" | sha1sum | cut -c1-12)"
      log "OS user postgres cannot reach $STACK_DIR; PostgreSQL files go to $PG_HOME"
      mkdir -p "$PG_HOME"
      chown postgres:postgres "$PG_HOME"
      echo "$PG_HOME" >"$PG_HOME_POINTER"
    fi
  fi
  mkdir -p "$PG_RUN"
  touch "$PG_LOG"
  chmod 700 "$PG_RUN"
  is_root && chown postgres:postgres "$PG_RUN" "$PG_LOG"
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    rm -rf "$PG_DATA"   # leftovers of an interrupted initdb
    log "initdb $PG_DATA ($("$PGBIN/postgres" --version))"
    as_pg "$PGBIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$LOGS/initdb.log" 2>&1 ||
      { tail -n 20 "$LOGS/initdb.log" >&2; rm -rf "$PG_DATA"; die "initdb failed"; }
    echo "include_if_exists = 'stack.conf'" >>"$PG_DATA/postgresql.conf"
  fi
  # Our settings, rewritten on every `up` so env changes apply (with a restart if running).
  # fsync stays on: the project measures real commit throughput against this server.
  local conf
  conf=$(cat <<EOF
listen_addresses = '$FEES_PG_HOST'
port = $FEES_PG_PORT
unix_socket_directories = '$PG_RUN'
max_connections = 200
shared_buffers = 256MB
wal_level = minimal
max_wal_senders = 0
fsync = on
EOF
)
  local changed=0
  if [ "$conf" != "$(cat "$PG_DATA/stack.conf" 2>/dev/null)" ]; then
    echo "$conf" >"$PG_DATA/stack.conf"
    is_root && chown postgres:postgres "$PG_DATA/stack.conf"
    changed=1
  fi
  if pg_running && [ $changed = 1 ]; then
    log "postgres settings changed, restarting"
    as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -m fast -w -t 60 restart >/dev/null
  elif ! pg_running; then
    pg_answers 1 && die "something else already answers on $FEES_PG_HOST:$FEES_PG_PORT"
    log "starting postgres (log: $PG_LOG)"
    as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null ||
      { tail -n 40 "$PG_LOG" >&2; die "postgres did not start"; }
  fi
  for _ in $(seq 1 60); do pg_answers 1 && break; sleep 0.5; done
  pg_answers 2 || { tail -n 40 "$PG_LOG" >&2; die "postgres does not answer on $FEES_PG_HOST:$FEES_PG_PORT"; }
  pg_ensure_role_db -h "$PG_RUN" -p "$FEES_PG_PORT" -U postgres -d postgres
  pg_check_login || die "postgres is up but $FEES_PG_USER cannot log in to $FEES_PG_DB"
  log "postgres ready on $FEES_PG_HOST:$FEES_PG_PORT (db $FEES_PG_DB, user $FEES_PG_USER)"
}

pg_up() { if [ "$FEES_PG_EXTERNAL" = 1 ]; then pg_up_external; else pg_up_local; fi; }

pg_down() {
  [ "$FEES_PG_EXTERNAL" = 1 ] && { log "postgres is external, not stopping it"; return; }
  PGBIN=$(pg_bin)
  if [ -n "$PGBIN" ] && pg_running; then
    as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
    log "postgres stopped"
  else
    log "postgres not running"
  fi
}

pg_status() {  # prints one line; returns 0 when ready
  local state=ready who=external
  { pg_answers 2 && pg_check_login; } || state="not ready"
  if [ "$FEES_PG_EXTERNAL" != 1 ]; then
    PGBIN=$(pg_bin)
    { [ -n "$PGBIN" ] && pg_running; } || { log "postgres not running (addr $FEES_PG_HOST:$FEES_PG_PORT)"; return 1; }
    who="running pid=$(head -n1 "$PG_DATA/postmaster.pid")"
  fi
  log "postgres $who addr=$FEES_PG_HOST:$FEES_PG_PORT $state"
  [ "$state" = ready ]
}

# --------------------------------------------------------------------- Kafka

# Version from the jar name (kafka_2.13-4.4.0.jar); cluster id from what StorageTool wrote.
kafka_version() { local j=("$K_LIBS"/kafka_2.13-*.jar) v; v=${j[0]##*/kafka_2.13-}; echo "${v%.jar}"; }
kafka_cluster_id() { sed -n 's/^cluster.id=//p' "$K_DATA/meta.properties" 2>/dev/null || true; }

kafka_pid() {  # pid of our broker if alive (matched on cmdline, so a recycled pid is not mistaken for it)
  local pid
  pid=$(cat "$K_PID" 2>/dev/null || true)
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $K_PROPS" && echo "$pid"
}

kafka_ready() {  # kafka_ready TIMEOUT [PID]
  python3 "$K_READY" -q --host 127.0.0.1 --port "$FEES_KAFKA_PORT" --timeout "$1" \
    --cluster-id "$(kafka_cluster_id)" ${2:+--pid "$2"}
}

# Resolve the broker's jars only when the libs dir is missing or the pom changed.
kafka_libs() {
  local want
  want=$(sha256sum "$K_POM" | cut -d' ' -f1)
  [ "$(cat "$K_LIBS/.pom.sha256" 2>/dev/null || true)" = "$want" ] && return
  command -v mvn >/dev/null || apt_install maven
  log "resolving Kafka jars with Maven into $K_LIBS (first run or pom changed)"
  rm -rf "$K_LIBS.tmp"
  mvn -B -f "$K_POM" dependency:copy-dependencies -DoutputDirectory="$K_LIBS.tmp" >"$LOGS/maven.log" 2>&1 ||
    { tail -n 30 "$LOGS/maven.log" >&2; die "maven could not resolve $K_POM (full log: $LOGS/maven.log)"; }
  echo "$want" >"$K_LIBS.tmp/.pom.sha256"
  rm -rf "$K_LIBS" && mv "$K_LIBS.tmp" "$K_LIBS"   # swap in whole: an interrupted resolve leaves no half cache
}

kafka_write_config() {
  cat >"$K_PROPS" <<EOF
# Generated by scripts/stack.sh on each \`up\`; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$FEES_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$FEES_KAFKA_PORT,CONTROLLER://127.0.0.1:$FEES_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$FEES_KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$K_DATA
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
log.retention.check.interval.ms=300000
EOF
}

kafka_up() {
  command -v java >/dev/null || apt_install default-jre-headless   # Kafka 4.x brokers need Java 17+
  command -v python3 >/dev/null || apt_install python3              # for the readiness probe
  mkdir -p "$K_DIR" "$LOGS"
  local pid
  if pid=$(kafka_pid); then   # already running (maybe still starting): just wait for it
    kafka_ready "$KAFKA_READY_TIMEOUT" "$pid" ||
      die "kafka pid $pid runs but does not answer on $FEES_KAFKA_PORT; see $LOGS/kafka.log, or run down"
    [ "$(cat "$K_LIBS/.pom.sha256" 2>/dev/null)" = "$(sha256sum "$K_POM" | cut -d' ' -f1)" ] ||
      log "note: $K_POM changed; run down + up to switch the broker to it"
    log "kafka ready on 127.0.0.1:$FEES_KAFKA_PORT ($(kafka_version), KRaft) pid=$pid (already running)"
    return
  fi
  if [ -f "$K_PID" ]; then log "removing stale $K_PID"; rm -f "$K_PID"; fi
  kafka_libs
  kafka_write_config
  if [ ! -f "$K_DATA/meta.properties" ]; then
    # Kafka's Uuid: 16 random bytes, base64url without padding; it never hands out ids starting with '-'.
    local cid
    cid=$(python3 -c 'import base64,uuid
while (s := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(s)')
    log "formatting KRaft storage in $K_DATA (cluster id $cid)"
    java -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$K_LOG4J" -cp "$K_LIBS/*" \
      kafka.tools.StorageTool format --standalone -t "$cid" -c "$K_PROPS" >"$LOGS/kafka-format.log" 2>&1 ||
      { cat "$LOGS/kafka-format.log" >&2; die "kafka storage format failed"; }
  fi
  local t0 mark
  t0=$(now_ms)
  mark=$({ wc -l <"$LOGS/kafka.log"; } 2>/dev/null || echo 0)   # to show only this start's errors on failure
  log "starting kafka $(kafka_version) (log: $LOGS/kafka.log)"
  # setsid: own session, so a terminal's Ctrl-C/hangup does not reach the broker.
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a word list on purpose
  setsid nohup java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$K_LOG4J" \
    -cp "$K_LIBS/*" kafka.Kafka "$K_PROPS" >>"$LOGS/kafka.out" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$K_PID"
  if ! kafka_ready "$KAFKA_READY_TIMEOUT" "$pid"; then
    { echo "---- last 40 lines of $LOGS/kafka.log"; tail -n 40 "$LOGS/kafka.log"
      echo "---- first errors (kafka.log), then JVM output (kafka.out)"
      tail -n +"$((mark + 1))" "$LOGS/kafka.log" | grep -m 5 -E '\] (ERROR|FATAL) '; tail -n 10 "$LOGS/kafka.out"; } >&2 2>/dev/null || true
    die "kafka did not become ready (waited up to ${KAFKA_READY_TIMEOUT}s); full log: $LOGS/kafka.log"
  fi
  log "kafka ready on 127.0.0.1:$FEES_KAFKA_PORT ($(kafka_version), KRaft) pid=$pid in $(($(now_ms) - t0)) ms"
}

kafka_down() {
  local pid
  pid=$(kafka_pid) || { rm -f "$K_PID"; log "kafka not running"; return; }
  kill -TERM "$pid" || true   # TERM = controlled shutdown
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "kafka pid $pid ignored TERM for 60s, killing"; kill -KILL "$pid"; fi
  rm -f "$K_PID"
  log "kafka stopped"
}

kafka_status() {
  local pid state=ready
  pid=$(kafka_pid) || { log "kafka not running (addr 127.0.0.1:$FEES_KAFKA_PORT)"; return 1; }
  kafka_ready 2 "$pid" 2>/dev/null || state="not ready"
  log "kafka running pid=$pid addr=127.0.0.1:$FEES_KAFKA_PORT $state ($(kafka_version), KRaft)"
  [ "$state" = ready ]
}

# ---------------------------------------------------------------------- main

cmd=${1:-}
case "$cmd" in
  up)
    t0=$(now_ms)
    mkdir -p "$STACK_DIR"
    [ -f "$STACK_DIR/.gitignore" ] || echo '*' >"$STACK_DIR/.gitignore"   # ignored even without a root rule
    pg_up
    kafka_up
    log "up in $(($(now_ms) - t0)) ms" ;;
  down|purge)
    purge=0
    if [ "$cmd" = purge ] || [ "${2:-}" = --purge ]; then purge=1; fi
    kafka_down
    pg_down
    if [ $purge = 1 ]; then
      rm -rf "$PG_HOME" "$PG_HOME_POINTER" "$K_DATA" "$K_PROPS" "$LOGS" "$K_PID"
      log "purged data and logs under $STACK_DIR (kept the jar cache $K_LIBS)"
    fi ;;
  status)
    rc=0
    pg_status || rc=1
    kafka_status || rc=1
    exit $rc ;;
  *) echo "usage: $0 up | down [--purge] | purge | status" >&2; exit 2 ;;
esac
