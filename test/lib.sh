# shellcheck shell=bash
# test/lib.sh: helpers shared by test/demo and test/check. Source it; don't run it.
#
#   ensure_deps [PKG...]   install whatever Debian packages are missing (as root), or
#                          say which ones to install and fail (not root); PKG...: more
#                          packages to require (test/check fuzz passes BO_FUZZ_PKGS);
#                          optional ones (BO_OPTIONAL_PKGS, e.g. tmux) are best effort
#   build_install          make -jN && make install in the repo root
#   start_cluster          initdb and start a throwaway PostgreSQL 15 cluster in a temp dir
#                          under /tmp, owned by the postgres OS user when we are root. It
#                          exports PGHOST (socket dir) PGPORT PGUSER=postgres PGDATABASE=postgres.
#                          The server is stopped and the temp dir removed on exit: success,
#                          failure, Ctrl-C, SIGTERM or SIGHUP.
#   server_log_tail [N]    print the last N (default 50) lines of the server log
#   bo_on_exit 'CMD'       register a cleanup command; they run in reverse order at exit
#   as_pg CMD...           run CMD as the postgres OS user (when root), else as ourselves
#   bo_mktemp NAME VAR     make /tmp/batch_ops_NAME.XXXXXX (postgres-owned when root) into
#                          VAR; at exit, servers with a data dir inside it are stopped and
#                          it is removed
#   bo_run SECS LOG CMD... run CMD with a time limit, printing its output live and keeping
#                          it in LOG; returns CMD's exit status (124 on timeout). Ctrl-C or
#                          kill of the script stops CMD too.
#
# Knobs (environment variables):
#   PG_CONFIG              pg_config to use (default /usr/lib/postgresql/15/bin/pg_config)
#   BATCH_OPS_PRELOAD      shared_preload_libraries of the throwaway cluster
#                          (default "batch_ops"; set it empty to preload nothing)
#   BATCH_OPS_JOBS         make/cmake parallelism (default 2)
#   BATCH_OPS_KEEP_TMP=1   keep the cluster's temp dir after exit (the server is still stopped)
#
# Everything here works under `set -euo pipefail`: functions return non-zero on failure
# and check their own steps, so they also behave inside `if` and `||`.

if [[ -n "${_BO_LIB_SOURCED:-}" ]]; then return 0; fi
_BO_LIB_SOURCED=1

BO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BO_LOG_DIR="$BO_ROOT/test/out/logs"
BO_JOBS="${BATCH_OPS_JOBS:-2}"
BO_PG_MAJOR=15

bo_say()  { printf '%s\n' "$*"; }
bo_warn() { printf '!! %s\n' "$*" >&2; }
bo_is_root() { [[ "$(id -u)" -eq 0 ]]; }

# ---------------------------------------------------------------------------------------
# Cleanup on exit: a list of shell commands run in reverse order of registration.
# ---------------------------------------------------------------------------------------
_BO_CLEANUPS=()
_BO_CHILD=""   # process started by bo_run (a `timeout`), stopped at exit if still running
_BO_TAIL=""

_bo_run_cleanups() {
  local rc=$? i
  set +e
  trap - EXIT
  trap '' INT TERM HUP   # a second Ctrl-C must not cut the cleanup short
  _bo_stop_child
  for ((i = ${#_BO_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${_BO_CLEANUPS[i]}"
  done
  exit "$rc"
}

_bo_on_signal() {
  bo_warn "interrupted (signal $1): cleaning up"
  exit "$((128 + $1))"
}

_bo_install_traps() {
  [[ -n "${_BO_TRAPS:-}" ]] && return 0
  _BO_TRAPS=1
  # Keep a pre-existing EXIT trap of the caller: it runs last.
  local prev words=()
  prev="$(trap -p EXIT)"
  if [[ -n "$prev" ]]; then
    eval "words=($prev)"   # trap -- 'CMD' EXIT
    _BO_CLEANUPS+=("${words[2]}")
  fi
  trap _bo_run_cleanups EXIT
  trap '_bo_on_signal 2' INT
  trap '_bo_on_signal 15' TERM
  trap '_bo_on_signal 1' HUP
}

bo_on_exit() {
  _bo_install_traps
  _BO_CLEANUPS+=("$1")
}

# ---------------------------------------------------------------------------------------
# Running commands
# ---------------------------------------------------------------------------------------
_bo_stop_child() {
  if [[ -n "$_BO_CHILD" ]] && kill -0 "$_BO_CHILD" 2>/dev/null; then
    # `timeout` passes the signal on to its whole process group (the command and
    # everything it started that did not leave the group).
    kill -TERM "$_BO_CHILD" 2>/dev/null
    local i
    for ((i = 0; i < 50; i++)); do
      kill -0 "$_BO_CHILD" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$_BO_CHILD" 2>/dev/null
  fi
  if [[ -n "$_BO_TAIL" ]]; then kill "$_BO_TAIL" 2>/dev/null; fi
  _BO_CHILD="" _BO_TAIL=""
  return 0
}

bo_run() {
  local secs=$1 log=$2 rc=0
  shift 2
  _bo_install_traps
  mkdir -p "$(dirname "$log")" || return 1
  : >"$log" || return 1
  # In the background so that a signal to this script is handled at once (a foreground
  # command would delay the trap until it ends); stdin is /dev/null (CI has none).
  timeout --kill-after=20 "$secs" "$@" >>"$log" 2>&1 </dev/null &
  _BO_CHILD=$!
  tail -n +1 -f --pid="$_BO_CHILD" "$log" 2>/dev/null &
  _BO_TAIL=$!
  wait "$_BO_CHILD" || rc=$?
  wait "$_BO_TAIL" 2>/dev/null || true
  _BO_CHILD="" _BO_TAIL=""
  if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    local what="$*"
    ((${#what} > 160)) && what="${what:0:160}..."
    bo_warn "timed out after ${secs}s: $what"
  fi
  return "$rc"
}

# as_pg CMD...: as the postgres OS user when root (PostgreSQL refuses to run as root).
# BO_AS_PG is the prefix, ending in `env`: env options and NAME=VALUE may follow it.
BO_AS_PG=()
_bo_set_as_pg() {
  if bo_is_root; then
    BO_AS_PG=(runuser -u postgres -- env)
  else
    BO_AS_PG=(env)
  fi
}
as_pg() {
  _bo_set_as_pg
  "${BO_AS_PG[@]}" "PATH=$PATH" "$@"
}

# ---------------------------------------------------------------------------------------
# Dependencies
# ---------------------------------------------------------------------------------------
BO_REQUIRED_PKGS=(postgresql-15 postgresql-server-dev-15 libpq-dev libipc-run-perl
                  make g++ cmake libgtest-dev pkg-config python3 binutils)
# Optional: tmux runs batch_ops_watch in a real terminal (test/t/050_watch.pl skips that
# subtest without it).
BO_OPTIONAL_PKGS=(postgresql-contrib tmux)
# The fuzz suite: clang++ with libFuzzer and the sanitizer runtimes, llvm-symbolizer.
BO_FUZZ_PKGS=(clang libclang-rt-14-dev llvm)

_bo_pkg_installed() {
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q ' installed$'
    return
  fi
  # No dpkg: look for what the package provides.
  case "$1" in
    postgresql-15)            [[ -x /usr/lib/postgresql/15/bin/postgres ]] ;;
    postgresql-server-dev-15) [[ -x /usr/lib/postgresql/15/bin/pg_config ]] ;;
    libpq-dev)                [[ -e /usr/include/postgresql/libpq-fe.h ]] ;;
    libipc-run-perl)          perl -MIPC::Run -e 1 >/dev/null 2>&1 ;;
    libgtest-dev)             [[ -e /usr/include/gtest/gtest.h ]] ;;
    libclang-rt-14-dev)       compgen -G '/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a' >/dev/null ;;
    llvm)                     command -v llvm-symbolizer >/dev/null 2>&1 ;;
    postgresql-contrib)       true ;;
    *)                        command -v "$1" >/dev/null 2>&1 ;;
  esac
}

ensure_deps() {
  local p missing=() optional=()
  for p in "${BO_REQUIRED_PKGS[@]}" "$@"; do
    _bo_pkg_installed "$p" || missing+=("$p")
  done
  for p in make g++ cmake pkg-config prove runuser timeout; do
    if ! command -v "$p" >/dev/null 2>&1; then
      case "$p" in
        prove)   missing+=(perl) ;;
        runuser) missing+=(util-linux) ;;
        timeout) missing+=(coreutils) ;;
        *)       [[ " ${missing[*]} " == *" $p "* ]] || missing+=("$p") ;;
      esac
    fi
  done
  for p in "${BO_OPTIONAL_PKGS[@]}"; do
    _bo_pkg_installed "$p" || optional+=("$p")
  done
  if ((${#missing[@]} == 0 && ${#optional[@]})); then
    if bo_is_root; then
      bo_say "== installing optional packages: ${optional[*]}"
      export DEBIAN_FRONTEND=noninteractive
      { apt-get update -qq && apt-get install -y -q --no-install-recommends "${optional[@]}" </dev/null; } \
        || bo_warn "optional packages not installed: ${optional[*]} (the tests that need them are skipped)"
    else
      bo_warn "optional packages missing: ${optional[*]} (the tests that need them are skipped)"
    fi
  fi
  if ((${#missing[@]})); then
    if ! bo_is_root; then
      bo_warn "missing packages: ${missing[*]}"
      bo_warn "install them as root: apt-get install -y ${missing[*]} ${optional[*]}"
      return 1
    fi
    bo_say "== installing missing packages: ${missing[*]} ${optional[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || { bo_warn "apt-get update failed"; return 1; }
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null \
      || { bo_warn "apt-get install failed: ${missing[*]}"; return 1; }
    if ((${#optional[@]})); then
      apt-get install -y -q --no-install-recommends "${optional[@]}" </dev/null \
        || bo_warn "optional packages not installed: ${optional[*]}"
    fi
  fi
  if bo_is_root && ! id -u postgres >/dev/null 2>&1; then
    bo_say "== creating the postgres OS user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres \
      || { bo_warn "could not create the postgres user"; return 1; }
  fi
  bo_setup_pg_env
}

# PG_CONFIG, PG_BINDIR (first in PATH), PG_PKGLIBDIR, PG_REGRESS, PG_ISOLATION_REGRESS.
bo_setup_pg_env() {
  if [[ -z "${PG_CONFIG:-}" ]]; then
    if [[ -x /usr/lib/postgresql/$BO_PG_MAJOR/bin/pg_config ]]; then
      PG_CONFIG=/usr/lib/postgresql/$BO_PG_MAJOR/bin/pg_config
    else
      PG_CONFIG="$(command -v pg_config || true)"
    fi
  fi
  if [[ -z "$PG_CONFIG" ]] || ! PG_BINDIR="$("$PG_CONFIG" --bindir)"; then
    bo_warn "pg_config not found (is postgresql-server-dev-$BO_PG_MAJOR installed?)"
    return 1
  fi
  PG_PKGLIBDIR="$("$PG_CONFIG" --pkglibdir)" || return 1
  PG_REGRESS="$PG_PKGLIBDIR/pgxs/src/test/regress/pg_regress"
  PG_ISOLATION_REGRESS="$PG_PKGLIBDIR/pgxs/src/test/isolation/pg_isolation_regress"
  PG_PERL_LIB="$PG_PKGLIBDIR/pgxs/src/test/perl"
  case ":$PATH:" in
    ":$PG_BINDIR:"*) ;;
    *) PATH="$PG_BINDIR:$PATH" ;;
  esac
  export PATH PG_CONFIG PG_BINDIR PG_PKGLIBDIR PG_REGRESS PG_ISOLATION_REGRESS PG_PERL_LIB
}

# ---------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------
build_install() {
  bo_setup_pg_env || return 1
  local rc=0
  bo_say "== build: make -j$BO_JOBS"
  bo_run 1200 "$BO_LOG_DIR/make.log" make -C "$BO_ROOT" -j"$BO_JOBS" PG_CONFIG="$PG_CONFIG" || rc=$?
  if ((rc)); then
    bo_warn "BUILD FAILED: make exited with $rc (log: $BO_LOG_DIR/make.log)"
    return 1
  fi
  bo_say "== install: make install"
  bo_run 300 "$BO_LOG_DIR/make-install.log" make -C "$BO_ROOT" install PG_CONFIG="$PG_CONFIG" || rc=$?
  if ((rc)); then
    bo_warn "INSTALL FAILED: make install exited with $rc (log: $BO_LOG_DIR/make-install.log)"
    bo_is_root || bo_warn "not root: make install needs write access to $PG_PKGLIBDIR and $("$PG_CONFIG" --sharedir)/extension"
    return 1
  fi
  return 0
}

# ---------------------------------------------------------------------------------------
# Throwaway cluster
# ---------------------------------------------------------------------------------------
BO_TMP="" BO_PGDATA="" BO_SERVER_LOG=""

_bo_port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_bo_free_port() {
  local i port start=$((54000 + RANDOM % 1000))
  for ((i = 0; i < 1000; i++)); do
    port=$((54000 + (start - 54000 + i) % 1000))
    if ! _bo_port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# Is PID a live postgres server process (and not some other process that reused the PID)?
_bo_is_postgres_pid() {
  local exe
  [[ "$1" =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null || return 1
  exe="$(readlink "/proc/$1/exe" 2>/dev/null || true)"
  [[ "$exe" == */postgres ]]
}

# Stop the server of a data directory: fast, then immediate, then SIGKILL.
bo_stop_datadir() {
  local pgdata=$1 pid
  [[ -f "$pgdata/postmaster.pid" ]] || return 0
  pid="$(head -n 1 "$pgdata/postmaster.pid" 2>/dev/null || true)"
  _bo_is_postgres_pid "$pid" || return 0
  as_pg pg_ctl -D "$pgdata" -m fast -w -t 60 stop >/dev/null 2>&1 && return 0
  bo_warn "fast shutdown of $pgdata failed; trying immediate"
  as_pg pg_ctl -D "$pgdata" -m immediate -w -t 30 stop >/dev/null 2>&1 && return 0
  if _bo_is_postgres_pid "$pid"; then
    bo_warn "killing postmaster $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  return 0
}

_bo_remove_tmp() {
  local dir=$1
  [[ "$dir" == /tmp/batch_ops_* && -d "$dir" ]] || return 0
  if [[ -n "${BATCH_OPS_KEEP_TMP:-}" ]]; then
    bo_say "== kept $dir (BATCH_OPS_KEEP_TMP)"
  else
    rm -rf -- "$dir"
  fi
}

# bo_mktemp NAME VAR: set VAR to a fresh directory /tmp/batch_ops_NAME.XXXXXX, owned by
# postgres when root, removed at exit after stopping any server whose data directory is
# inside it. (Not for use in $(...): the cleanup must be registered in this shell.)
bo_mktemp() {
  local dir
  dir="$(mktemp -d "/tmp/batch_ops_$1.XXXXXX")" || return 1
  bo_on_exit "_bo_remove_tmp '$dir'"
  bo_on_exit "_bo_stop_servers_under '$dir'"
  printf -v "$2" '%s' "$dir"
  if bo_is_root; then chown postgres: "$dir" || return 1; fi
  chmod 755 "$dir" || return 1
}

# Stop every server left running with its data directory under DIR.
_bo_stop_servers_under() {
  local pidfile
  [[ -d "$1" ]] || return 0
  while IFS= read -r pidfile; do
    bo_stop_datadir "$(dirname "$pidfile")"
  done < <(find "$1" -name postmaster.pid -type f 2>/dev/null)
  return 0
}

_bo_locale() {
  if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then echo C.UTF-8; else echo C; fi
}

start_cluster() {
  bo_setup_pg_env || return 1
  _bo_install_traps
  local port rc loc
  bo_mktemp cluster BO_TMP || { bo_warn "could not make a temp dir"; return 1; }
  BO_PGDATA="$BO_TMP/data"
  BO_SERVER_LOG="$BO_TMP/server.log"
  loc="$(_bo_locale)"
  bo_say "== initdb $BO_PGDATA (locale $loc)"
  if ! (cd "$BO_TMP" && as_pg initdb -D "$BO_PGDATA" -U postgres --auth=trust \
          --encoding=UTF8 --locale="$loc" >"$BO_TMP/initdb.log" 2>&1); then
    cat "$BO_TMP/initdb.log" >&2
    bo_warn "initdb failed"
    return 1
  fi
  cat >>"$BO_PGDATA/postgresql.conf" <<EOF

# Added by test/lib.sh (throwaway test cluster)
shared_preload_libraries = '${BATCH_OPS_PRELOAD-batch_ops}'
listen_addresses = '127.0.0.1'
unix_socket_directories = '$BO_TMP'
max_worker_processes = 16
log_min_messages = warning
logging_collector = off
include_if_exists = 'batch_ops_port.conf'
EOF
  for _ in 1 2 3 4 5; do   # retry if another process takes the port meanwhile
    port="$(_bo_free_port)" || { bo_warn "no free port in 54000-54999"; return 1; }
    echo "port = $port" >"$BO_PGDATA/batch_ops_port.conf"
    bo_say "== starting PostgreSQL on port $port, socket in $BO_TMP"
    rc=0
    (cd "$BO_TMP" && as_pg pg_ctl -D "$BO_PGDATA" -l "$BO_SERVER_LOG" -w -t 120 start >/dev/null) || rc=$?
    if ((rc == 0)); then
      export PGHOST="$BO_TMP" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
      unset PGHOSTADDR PGSERVICE PGDATA PGPASSWORD PGOPTIONS
      return 0
    fi
    bo_stop_datadir "$BO_PGDATA"
    if grep -qE 'could not (bind|create listen socket)|Address already in use' "$BO_SERVER_LOG" 2>/dev/null; then
      bo_warn "port $port taken meanwhile; trying another"
      continue
    fi
    break
  done
  bo_warn "the server did not start; last 50 lines of $BO_SERVER_LOG:"
  server_log_tail 50
  return 1
}

server_log_tail() {
  local n="${1:-50}"
  if [[ -n "$BO_SERVER_LOG" && -f "$BO_SERVER_LOG" ]]; then
    bo_say "---- server log (last $n lines of $BO_SERVER_LOG) ----"
    tail -n "$n" "$BO_SERVER_LOG"
    bo_say "---- end of server log ----"
  else
    bo_say "(no server log)"
  fi
}

# ---------------------------------------------------------------------------------------
# Other PostgreSQL majors (17, 18): built from Debian's source package into a prefix
# ---------------------------------------------------------------------------------------
#   bo_pg_server MAJOR     make sure /opt/batch_ops-pgMAJOR holds a PostgreSQL MAJOR
#                          server built from Debian's source package postgresql-MAJOR
#                          (17: the trixie suite, 18: sid), and set BO_PG_SERVER_CONFIG to
#                          its pg_config. Cached: nothing is built when the prefix already
#                          holds the version of the source package (or, when the archive
#                          cannot be reached, any build of that major).
#
# Only the source is taken from the newer suites: their Sources index is read with apt
# in a private state directory (/var/cache/batch_ops-apt/SUITE), with the mirror URI and the
# keyring of the system's bookworm entry, so the system's apt sources never change
# (later apt-get install calls stay on bookworm, even if this is interrupted). apt checks
# the download against the signed index. The build runs under nice in a temp dir under
# /tmp and is installed with DESTDIR, then moved into place: a prefix is complete or absent.
# Knobs: BATCH_OPS_PG_PREFIX_BASE (default /opt/batch_ops-pg), BATCH_OPS_PG_BUILD_SECS
# (time limit of one server build, default 3600).
declare -A BO_PG_SUITE=([17]=trixie [18]=sid)
BO_PG_PREFIX_BASE="${BATCH_OPS_PG_PREFIX_BASE:-/opt/batch_ops-pg}"
BO_APT_STATE=/var/cache/batch_ops-apt
BO_PG_BUILD_PKGS=(gcc make perl bzip2 bison flex libreadline-dev zlib1g-dev libipc-run-perl)

bo_pg_prefix() { printf '%s%s' "$BO_PG_PREFIX_BASE" "$1"; }

# _bo_debian_mirror: "URI KEYRING" of the system's entry for the bookworm suite.
_bo_debian_mirror() {
  local f uri="" key="" suites="" line k v
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e "$f" ]] || continue
    uri="" key="" suites=""
    while IFS= read -r line || [[ -n "$line" ]]; do
      if [[ -z "${line// /}" ]]; then   # end of a stanza
        if [[ " $suites " == *" bookworm "* && -n "$uri" ]]; then
          echo "$uri ${key:-/usr/share/keyrings/debian-archive-keyring.gpg}"; return 0
        fi
        uri="" key="" suites=""
        continue
      fi
      [[ "$line" == \#* || "$line" != *:* ]] && continue
      k="${line%%:*}" v="${line#*:}"
      v="${v#"${v%%[![:space:]]*}"}"
      case "${k,,}" in
        uris) uri="${v%% *}" ;;
        suites) suites="$v" ;;
        signed-by) key="$v" ;;
      esac
    done <"$f"
    if [[ " $suites " == *" bookworm "* && -n "$uri" ]]; then
      echo "$uri ${key:-/usr/share/keyrings/debian-archive-keyring.gpg}"; return 0
    fi
  done
  echo "http://deb.debian.org/debian /usr/share/keyrings/debian-archive-keyring.gpg"
}

# _bo_apt_src CMD ARGS...: apt-get or apt-cache on the private deb-src list of the suite
# that _bo_apt_src_update set up last (one state dir per suite: runs for two majors may
# be at work at once).
_bo_apt_src() {
  local cmd=$1
  shift
  "$cmd" -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$BO_APT_DIR/sources.list.d" \
    -o Dir::State::Lists="$BO_APT_DIR/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
    -o APT::Sandbox::User=root "$@"
}

# _bo_apt_src_update SUITE: the Sources index of SUITE (only), in its private state dir.
_bo_apt_src_update() {
  local mirror
  read -r -a mirror < <(_bo_debian_mirror)
  BO_APT_DIR="$BO_APT_STATE/$1"
  mkdir -p "$BO_APT_DIR/sources.list.d" "$BO_APT_DIR/lists/partial" || return 1
  printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
    "${mirror[0]}" "$1" "${mirror[1]}" >"$BO_APT_DIR/sources.list.d/batch_ops-$1.sources" || return 1
  _bo_apt_src apt-get update </dev/null
}

# _bo_pg_source_version MAJOR: upstream version of postgresql-MAJOR in the index (18.6).
_bo_pg_source_version() {
  local v
  v="$(_bo_apt_src apt-cache showsrc "postgresql-$1" 2>/dev/null \
       | sed -n 's/^Version: //p' | sort -V | tail -n 1)"
  v="${v#*:}"
  v="${v%-*}"
  [[ -n "$v" ]] && echo "$v"
}

# _bo_pg_prefix_version PREFIX: "18.6" from PREFIX/bin/pg_config, or nothing.
_bo_pg_prefix_version() {
  local v
  [[ -x "$1/bin/pg_config" ]] || return 1
  v="$("$1/bin/pg_config" --version 2>/dev/null)" || return 1
  v="${v#PostgreSQL }"
  echo "${v%% *}"
}

bo_pg_server() {
  local major=$1 prefix have want suite lockfd rc=0 log why
  prefix="$(bo_pg_prefix "$major")"
  suite="${BO_PG_SUITE[$major]:-}"
  log="$BO_LOG_DIR/pg$major-server-build.log"
  BO_PG_SERVER_CONFIG=""
  if [[ -z "$suite" ]]; then bo_warn "no Debian suite known for PostgreSQL $major"; return 1; fi
  mkdir -p "$(dirname "$prefix")" "$BO_LOG_DIR" || return 1
  # One build of a prefix at a time (two test/check runs on one machine).
  exec {lockfd}>"$prefix.lock" || return 1
  flock "$lockfd" || return 1
  have="$(_bo_pg_prefix_version "$prefix" || true)"
  if ! bo_is_root; then
    [[ -n "$have" ]] && { BO_PG_SERVER_CONFIG="$prefix/bin/pg_config"; exec {lockfd}>&-; return 0; }
    bo_warn "PostgreSQL $major is not built in $prefix; building it needs root"
    exec {lockfd}>&-
    return 1
  fi
  want=""
  if _bo_apt_src_update "$suite" >"$BO_LOG_DIR/pg$major-apt-update.log" 2>&1; then
    want="$(_bo_pg_source_version "$major" || true)"
  fi
  if [[ -z "$want" ]]; then
    if [[ -n "$have" ]]; then
      bo_warn "Debian's $suite suite could not be read; using the PostgreSQL $have already in $prefix"
      BO_PG_SERVER_CONFIG="$prefix/bin/pg_config"
      exec {lockfd}>&-
      return 0
    fi
    bo_warn "no source of postgresql-$major in Debian's $suite suite (log: $BO_LOG_DIR/pg$major-apt-update.log)"
    exec {lockfd}>&-
    return 1
  fi
  if [[ "$have" == "$want" ]]; then
    bo_say "== PostgreSQL $major: $want already built in $prefix"
    BO_PG_SERVER_CONFIG="$prefix/bin/pg_config"
    exec {lockfd}>&-
    return 0
  fi
  bo_say "== PostgreSQL $major: building $want from Debian's source package into $prefix${have:+ (it holds $have)}"
  bo_run "${BATCH_OPS_PG_BUILD_SECS:-3600}" "$log" \
    bash -c 'source "$1" && _bo_pg_build "$2" "$3" "$4"' _ "$BO_ROOT/test/lib.sh" "$major" "$want" "$prefix" || rc=$?
  if ((rc == 0)) && [[ "$(_bo_pg_prefix_version "$prefix" || true)" == "$want" ]]; then
    BO_PG_SERVER_CONFIG="$prefix/bin/pg_config"
  elif grep -q '^E: Failed to fetch' "$log"; then
    why="$(grep -m 1 '^E: Failed to fetch' "$log" | grep -oE '[0-9]{3} +[A-Z][A-Za-z ]*[a-z]' | head -n 1 | tr -s ' ')"
    bo_warn "Debian's archive did not give the source of postgresql-$major $want (suite $suite)${why:+: $why}"
    rc=1
  else
    bo_warn "the build of PostgreSQL $want failed (log: $log)"
    rc=1
  fi
  exec {lockfd}>&-
  return "$rc"
}

# _bo_pg_build MAJOR VERSION PREFIX (in bo_run: its output goes to the build log).
_bo_pg_build() {
  local major=$1 version=$2 prefix=$3 work src jobs="$BO_JOBS" p missing=()
  set -e
  for p in "${BO_PG_BUILD_PKGS[@]}"; do _bo_pkg_installed "$p" || missing+=("$p"); done
  if ((${#missing[@]})); then
    echo "== installing the build dependencies: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # (the other major's build may be installing too: wait for dpkg's lock)
    apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" </dev/null \
      || { apt-get update -qq -o DPkg::Lock::Timeout=600 \
           && apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" </dev/null; }
  fi
  BO_APT_DIR="$BO_APT_STATE/${BO_PG_SUITE[$major]}"
  work="$(mktemp -d "/tmp/batch_ops_pg$major-build.XXXXXX")"
  # shellcheck disable=SC2064 # $work is local: expand it now
  trap "rm -rf -- '$work'" EXIT
  cd "$work"
  echo "== apt-get source --download-only postgresql-$major in $work"
  _bo_apt_src apt-get source --download-only "postgresql-$major"
  src="$(ls postgresql-"$major"_"$version".orig.tar.*)"
  echo "== unpacking $src"
  mkdir src
  tar -xf "$src" -C src --strip-components=1
  cd src
  echo "== configure --prefix=$prefix"
  nice -n 10 ./configure --prefix="$prefix" --enable-tap-tests --enable-debug \
    --without-icu --with-readline --with-zlib PROVE=prove >../configure.log 2>&1 \
    || { tail -n 40 ../configure.log; return 1; }
  echo "== make -j$jobs (nice)"
  nice -n 10 make -s -j"$jobs"
  nice -n 10 make -s -C src/test/isolation -j"$jobs"
  echo "== make install (DESTDIR)"
  make -s install DESTDIR="$work/root"
  make -s -C src/test/isolation install DESTDIR="$work/root"
  make -s -C src/test/perl install DESTDIR="$work/root"
  rm -rf -- "$prefix.new" "$prefix.old"
  mv "$work/root$prefix" "$prefix.new"
  [[ -e "$prefix" ]] && mv "$prefix" "$prefix.old"
  mv "$prefix.new" "$prefix"
  rm -rf -- "$prefix.old"
  echo "== installed PostgreSQL $("$prefix/bin/pg_config" --version) in $prefix"
}

# The suites of test/check that run against a server: the suites pg17 and pg18 run them
# on those majors (lint, unit and fuzz check sources and src/core, the same on every major).
BO_PG_MAJOR_SUITES=(regress isolation doctest tap stress)

# bo_pg_major_run MAJOR DST BUDGET SUITE_TIMEOUT: what test/check's suite pgMAJOR runs:
# the server (bo_pg_server), a copy of the tree in DST (bo_sync_tree), then that copy's
# test/check BO_PG_MAJOR_SUITES against the server, within BUDGET seconds (counted
# from after the server build). Holds the prefix's lock meanwhile: one run at a time
# installs into a prefix. Its output ends with the copy's summary.
bo_pg_major_run() {
  local major=$1 dst=$2 budget=$3 suite_timeout=$4 prefix
  prefix="$(bo_pg_prefix "$major")"
  bo_say "== pg$major: PostgreSQL $major server in $prefix"
  bo_pg_server "$major" || return 1   # it says why
  bo_sync_tree "$BO_ROOT" "$dst" || { bo_warn "could not copy the tree to $dst"; return 1; }
  bo_say "== pg$major: test/check ${BO_PG_MAJOR_SUITES[*]} in $dst (PG_CONFIG=$BO_PG_SERVER_CONFIG, ${budget}s)"
  flock -w 600 "$prefix.lock" env PG_CONFIG="$BO_PG_SERVER_CONFIG" \
    BATCH_OPS_CHECK_BUDGET="$budget" BATCH_OPS_SUITE_TIMEOUT="$suite_timeout" BATCH_OPS_ALL_VERSIONS= \
    bash "$dst/test/check" "${BO_PG_MAJOR_SUITES[@]}"
}

# bo_sync_tree SRC DST: make DST a copy of the sources of the work tree SRC that keeps
# its own build products (SRC's are for another major and never copied): files gone
# from SRC are removed from DST, the others are copied with their times, so make
# rebuilds only what changed. Not copied: .git, build/, test/out/, objects, libraries.
bo_sync_tree() {
  local src=$1 dst=$2 skip=(.git build test/out results tmp_check log) p
  local not_built=(! -name '*.o' ! -name '*.d' ! -name '*.so' ! -name '*.bc' ! -name 'regression.*')
  local prune=() excl=()
  for p in "${skip[@]}"; do
    prune+=(${prune[0]+-o} -path "./$p")
    excl+=(--exclude="./$p")
  done
  mkdir -p "$dst" || return 1
  comm -13 \
    <(cd "$src" && find . \( "${prune[@]}" \) -prune -o ! -type d "${not_built[@]}" -print | LC_ALL=C sort) \
    <(cd "$dst" && find . \( "${prune[@]}" \) -prune -o ! -type d "${not_built[@]}" -print | LC_ALL=C sort) \
    | (cd "$dst" && xargs -r -d '\n' rm -f --) || return 1
  tar -C "$src" "${excl[@]}" --exclude='*.o' --exclude='*.d' --exclude='*.so' --exclude='*.bc' \
      --exclude='./regression.*' -cf - . | tar -C "$dst" -xpf - || return 1
}
