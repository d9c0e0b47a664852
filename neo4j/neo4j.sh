#!/usr/bin/env bash
# Run a local Neo4j 5.26 (community) from Maven Central jars: no Docker, no tarball.
#
#   neo4j/neo4j.sh fetch                      download the jars once (into the cache, outside git)
#   neo4j/neo4j.sh start [--ephemeral [--harness]] [--wait] [--timeout N]
#   neo4j/neo4j.sh wait  [--ephemeral] [--timeout N]
#   neo4j/neo4j.sh status [--ephemeral]
#   neo4j/neo4j.sh stop  [--ephemeral]
#   neo4j/neo4j.sh home  [--ephemeral]           print the instance's folder
#   neo4j/neo4j.sh import [--ephemeral] [--timeout N] -- ARGS...
#                         stop the server, run `neo4j-admin database import full neo4j ARGS...`
#                         (replacing database neo4j), start the server again and wait for it
#
# Persistent mode (default): full server, auth on, password from NEO4J_PASSWORD,
# home in $LINEAGE_NEO4J_HOME. Ephemeral mode (--ephemeral or LINEAGE_NEO4J_EPHEMERAL=1):
# auth on too, with a random password in <home>/password (mode 600), fresh temporary home,
# deleted by `stop`. See neo4j/README.md.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM="$SCRIPT_DIR/pom.xml"
LAUNCHER="$SCRIPT_DIR/Launcher.java"

NEO4J_VERSION=$(sed -n 's:.*<neo4j.version>\(.*\)</neo4j.version>.*:\1:p' "$POM" | head -n 1)
CACHE_DIR="${LINEAGE_CACHE_DIR:-$HOME/.cache/lineage}/neo4j/$NEO4J_VERSION"
LIB_DIR="$CACHE_DIR/lib"
MARKER="$CACHE_DIR/lib.complete"
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

BOLT_PORT="${LINEAGE_NEO4J_BOLT_PORT:-7687}"
HTTP_PORT="${LINEAGE_NEO4J_HTTP_PORT:-7474}"
HEAP="${LINEAGE_NEO4J_HEAP:-1g}"
PAGECACHE="${LINEAGE_NEO4J_PAGECACHE:-512m}"
WAIT_TIMEOUT="${LINEAGE_NEO4J_WAIT_TIMEOUT:-120}"
STOP_TIMEOUT="${LINEAGE_NEO4J_STOP_TIMEOUT:-60}"
IMPORT_HEAP="${LINEAGE_NEO4J_IMPORT_HEAP:-1g}"
IMPORT_MEMORY="${LINEAGE_NEO4J_IMPORT_MEMORY:-2g}"
PERSISTENT_HOME="${LINEAGE_NEO4J_HOME:-$HOME/.local/share/lineage/neo4j}"
EPHEMERAL_HOME="${LINEAGE_NEO4J_EPHEMERAL_HOME:-${TMPDIR:-/tmp}/lineage-neo4j-ephemeral-$(id -u)-$BOLT_PORT}"
EPHEMERAL_TAG=".lineage-neo4j-ephemeral"

MAIN_CLASS=org.neo4j.server.CommunityEntryPoint
ADMIN_CLASS=org.neo4j.cli.AdminTool

die() { echo "neo4j.sh: error: $*" >&2; exit 1; }
note() { echo "neo4j.sh: $*" >&2; }

usage() {
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------- options

EPHEMERAL=0
HARNESS=0
START_WAIT=0
IMPORT_ARGS=()
case "${LINEAGE_NEO4J_EPHEMERAL:-0}" in 1 | true | yes) EPHEMERAL=1 ;; esac

parse_options() {
    while (($#)); do
        case "$1" in
            --ephemeral) EPHEMERAL=1 ;;
            --harness) EPHEMERAL=1 HARNESS=1 ;;
            --wait) START_WAIT=1 ;;
            --timeout) (($# >= 2)) || die "--timeout needs a number of seconds"; WAIT_TIMEOUT=$2; shift ;;
            --timeout=*) WAIT_TIMEOUT=${1#--timeout=} ;;
            -h | --help) usage; exit 0 ;;
            --) shift; IMPORT_ARGS=("$@"); break ;;
            *) die "unknown option: $1 (see --help)" ;;
        esac
        shift
    done
    local v
    [[ ${#IMPORT_ARGS[@]} == 0 || $command == import ]] || die "arguments after -- are for the import command only"
    for v in BOLT_PORT HTTP_PORT WAIT_TIMEOUT STOP_TIMEOUT; do
        [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
    done
    ((BOLT_PORT != HTTP_PORT)) || die "bolt and http ports must differ ($BOLT_PORT)"
    if ((EPHEMERAL)); then NEO4J_HOME_DIR=$EPHEMERAL_HOME MODE_NAME=ephemeral; else NEO4J_HOME_DIR=$PERSISTENT_HOME MODE_NAME=persistent; fi
    [[ $NEO4J_HOME_DIR == /* ]] || NEO4J_HOME_DIR="$PWD/$NEO4J_HOME_DIR"
    NEO4J_HOME_DIR=${NEO4J_HOME_DIR%/}
    PID_FILE="$NEO4J_HOME_DIR/run/neo4j.pid"
    PASSWORD_FILE="$NEO4J_HOME_DIR/password" # ephemeral only
    STATE_FILE="$NEO4J_HOME_DIR/run/instance"
    CONSOLE_LOG="$NEO4J_HOME_DIR/logs/console.log"
    IMPORT_LOG="$NEO4J_HOME_DIR/logs/import.log"
}

# ---------------------------------------------------------------- fetch

pom_sum() { sha256sum "$POM" | cut -d' ' -f1; }

lib_ready() { [[ -d $LIB_DIR && -f $MARKER && "$(cat "$MARKER")" == "$(pom_sum)" ]]; }

cmd_fetch() {
    if lib_ready; then
        [[ $command == fetch ]] && note "Neo4j $NEO4J_VERSION jars already in $LIB_DIR"
        return 0
    fi
    command -v mvn >/dev/null || die "mvn (Maven) is needed to download the Neo4j jars"
    mkdir -p "$CACHE_DIR"
    exec 9>"$CACHE_DIR/.lock"
    if command -v flock >/dev/null; then flock 9; fi
    if lib_ready; then return 0; fi # another process finished it meanwhile
    rm -f "$MARKER"
    local partial="$CACHE_DIR/lib.partial" start=$SECONDS
    rm -rf "$partial"
    note "downloading Neo4j $NEO4J_VERSION jars into $LIB_DIR ..."
    if ! mvn -B -q -Dstyle.color=never -f "$POM" "$DEPENDENCY_PLUGIN:copy-dependencies" \
        -DincludeScope=runtime -DoutputDirectory="$partial" >"$CACHE_DIR/fetch.log" 2>&1; then
        cat "$CACHE_DIR/fetch.log" >&2
        rm -rf "$partial"
        die "Maven could not download the Neo4j jars (output above, also in $CACHE_DIR/fetch.log)"
    fi
    rm -rf "$LIB_DIR"
    mv "$partial" "$LIB_DIR"
    pom_sum >"$MARKER" # written last: an interrupted download is redone
    note "downloaded $(find "$LIB_DIR" -name "*.jar" | wc -l) jars, $(du -sh "$LIB_DIR" | cut -f1), in $((SECONDS - start)) s"
}

# ---------------------------------------------------------------- java

find_java() {
    if [[ -n ${LINEAGE_JAVA:-} ]]; then JAVA=$LINEAGE_JAVA
    elif [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then JAVA=$JAVA_HOME/bin/java
    else JAVA=$(command -v java || true)
    fi
    [[ -n $JAVA ]] || die "java not found: Neo4j $NEO4J_VERSION needs Java 17 or 21 (set JAVA_HOME or LINEAGE_JAVA)"
    local major
    major=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
    [[ $major =~ ^[0-9]+$ ]] || die "could not read the version of $JAVA"
    ((major >= 17)) || die "$JAVA is Java $major; Neo4j $NEO4J_VERSION needs Java 17 or 21 (set JAVA_HOME or LINEAGE_JAVA)"
    if ((major != 17 && major != 21)); then
        note "warning: $JAVA is Java $major; Neo4j $NEO4J_VERSION supports Java 17 and 21 only"
    fi
}

jvm_opts() {
    JVM_OPTS=(
        "-Xms$HEAP" "-Xmx$HEAP"
        -XX:+UseG1GC -XX:-OmitStackTraceInFastThrow -XX:+DisableExplicitGC
        --add-opens=java.base/java.nio=ALL-UNNAMED
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
        --add-opens=java.base/java.io=ALL-UNNAMED
        --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
        --enable-native-access=ALL-UNNAMED
        -Dfile.encoding=UTF-8
        "-Djava.io.tmpdir=$NEO4J_HOME_DIR/run/tmp"
        -Djdk.nio.maxCachedBufferSize=1024
        -Dio.netty.tryReflectionSetAccessible=true
        -Dlog4j2.disable.jmx=true
    )
}

# ---------------------------------------------------------------- process helpers

read_pid() { [[ -f $PID_FILE ]] && tr -dc '0-9' <"$PID_FILE" || true; }

# Is $1 alive and one of ours (a java process whose command line names this home)?
is_our_pid() {
    local pid=$1 args
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r /proc/$pid/cmdline ]]; then args=$(tr '\0' ' ' <"/proc/$pid/cmdline")
    else args=$(ps -o args= -p "$pid" 2>/dev/null || true)
    fi
    [[ $args == *java* && ($args == *"--home-dir=$NEO4J_HOME_DIR "* || $args == *"$NEO4J_HOME_DIR/harness "*) ]]
}

mode_flag() { if ((EPHEMERAL)); then echo " --ephemeral"; fi; }

running_pid() {
    local pid
    pid=$(read_pid)
    if is_our_pid "$pid"; then echo "$pid"; fi
}

load_state() { # ports and kind the instance was started with
    KIND=server
    if [[ -f $STATE_FILE ]]; then
        BOLT_PORT=$(sed -n 's/^bolt_port=//p' "$STATE_FILE")
        HTTP_PORT=$(sed -n 's/^http_port=//p' "$STATE_FILE")
        KIND=$(sed -n 's/^kind=//p' "$STATE_FILE")
        # The memory it was started with, so that a restart (import) keeps it.
        local v
        v=$(sed -n 's/^heap=//p' "$STATE_FILE"); [[ -z $v ]] || HEAP=$v
        v=$(sed -n 's/^pagecache=//p' "$STATE_FILE"); [[ -z $v ]] || PAGECACHE=$v
    fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Bolt handshake: magic 6060B017, offer 5.8..5.0 and 4.4; any non-zero answer means Bolt is serving.
bolt_ready() {
    local answer
    answer=$(timeout 3 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "\x60\x60\xb0\x17\x00\x08\x08\x05\x00\x00\x04\x04\x00\x00\x00\x00\x00\x00\x00\x00" >&3
        head -c 4 <&3 | od -An -tx1 | tr -d " \n"' _ "$1" 2>/dev/null) || return 1
    [[ ${#answer} == 8 && $answer != 00000000 ]]
}

http_ready() {
    command -v curl >/dev/null || return 0
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$1/" 2>/dev/null) == 200 ]]
}

show_logs() {
    local f shown=0
    for f in "$CONSOLE_LOG" "$NEO4J_HOME_DIR/logs/neo4j.log"; do
        if [[ -s $f ]]; then
            echo "---- last 30 lines of $f" >&2
            tail -n 30 "$f" >&2
            shown=1
        fi
    done
    ((shown)) || echo "---- no log output in $NEO4J_HOME_DIR/logs" >&2
}

print_urls() {
    echo "  bolt:    bolt://127.0.0.1:$BOLT_PORT   (neo4j://127.0.0.1:$BOLT_PORT)"
    echo "  http:    http://127.0.0.1:$HTTP_PORT/"
    if ((EPHEMERAL)); then
        echo "  browser: http://localhost:$HTTP_PORT/browser/?dbms=bolt://localhost:$BOLT_PORT  (user neo4j, password in $PASSWORD_FILE)"
    else
        echo "  browser: http://localhost:$HTTP_PORT/browser/?dbms=bolt://localhost:$BOLT_PORT  (user neo4j, password \$NEO4J_PASSWORD)"
    fi
}

# ---------------------------------------------------------------- start

check_password() {
    [[ -n ${NEO4J_PASSWORD:-} ]] || die "NEO4J_PASSWORD is not set. The persistent server runs with authentication on;
  export NEO4J_PASSWORD (at least 8 characters) and run start again,
  or use 'start --ephemeral' for a throwaway instance with a generated password."
    ((${#NEO4J_PASSWORD} >= 8)) || die "NEO4J_PASSWORD is too short: Neo4j requires at least 8 characters"
    [[ $NEO4J_PASSWORD != *$'\n'* && $NEO4J_PASSWORD != *$'\r'* ]] || die "NEO4J_PASSWORD must not contain line breaks"
}

write_conf() {
    local h=$NEO4J_HOME_DIR
    cat >"$h/conf/neo4j.conf" <<EOF
# Generated by neo4j/neo4j.sh on every start: edits here are overwritten.
server.directories.data=$h/data
server.directories.logs=$h/logs
server.directories.run=$h/run
server.directories.import=$h/import
server.directories.plugins=$h/plugins

server.default_listen_address=127.0.0.1
server.default_advertised_address=localhost
server.bolt.enabled=true
server.bolt.listen_address=127.0.0.1:$BOLT_PORT
server.bolt.advertised_address=localhost:$BOLT_PORT
server.http.enabled=true
server.http.listen_address=127.0.0.1:$HTTP_PORT
server.http.advertised_address=localhost:$HTTP_PORT
server.https.enabled=false

# Auth on in both modes: the Bolt port also speaks Bolt over WebSocket and accepts a handshake
# from any web page (no Origin check, and no setting for one), so a server without auth
# would take queries from any site the user visits.
dbms.security.auth_enabled=true
# The HTTP API answers CORS requests for Browser's own origin only (default '*': any page).
dbms.security.http_access_control_allow_origin=http://localhost:$HTTP_PORT
server.memory.pagecache.size=$PAGECACHE
dbms.usage_report.enabled=false

# Neo4j Browser (served from the neo4j-browser jar at /browser/)
browser.remote_content_hostname_whitelist=guides.neo4j.com,localhost,127.0.0.1
# No product-analytics pings from Browser (the only other browser.* setting is browser.post_connect_cmd).
client.allow_telemetry=false

# Close Bolt at once on shutdown (default: 2 x 5 s quiet period). Internal setting, integer seconds.
internal.dbms.bolt.netty_server_shutdown_quiet_period=0
EOF
}

# $1 as a double-quoted string (backslashes and quotes escaped), as both the admin tool's
# @argument-file and curl's config file read one. A shell function: the secret never becomes
# a process argument.
quoted() {
    local escaped=${1//\\/\\\\}
    escaped=${escaped//\"/\\\"}
    printf '"%s"' "$escaped"
}

set_initial_password() { # $1: the password
    local argfile status=0
    # The password goes to the admin tool in a picocli @argument-file (mode 600,
    # deleted at once) so that it never shows up in a process listing.
    argfile=$(umask 077 && mktemp "$NEO4J_HOME_DIR/run/initial-password.XXXXXX")
    printf '%s\n' "$(quoted "$1")" >"$argfile"
    NEO4J_HOME="$NEO4J_HOME_DIR" NEO4J_CONF="$NEO4J_HOME_DIR/conf" \
        "$JAVA" -Dfile.encoding=UTF-8 -cp "$LIB_DIR/*" "$ADMIN_CLASS" \
        dbms set-initial-password "@$argfile" >"$NEO4J_HOME_DIR/logs/set-initial-password.log" 2>&1 || status=$?
    rm -f "$argfile"
    if ((status)); then
        cat "$NEO4J_HOME_DIR/logs/set-initial-password.log" >&2
        die "setting the initial password failed"
    fi
    ((EPHEMERAL)) || note "initial password of user 'neo4j' set from NEO4J_PASSWORD"
}

# The ephemeral server's password: random, in a file only this user can read, which
# scripts/test.sh and lineage read for this instance. Never printed.
make_ephemeral_password() {
    local password
    password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    [[ ${#password} == 48 ]] || die "could not read random bytes for the ephemeral password"
    (umask 077 && printf '%s\n' "$password" >"$PASSWORD_FILE")
    # Set before the server starts (the harness reads data/dbms/auth.ini too): a server that
    # came up with the default neo4j/neo4j would let the first client choose the password.
    set_initial_password "$password"
}

cmd_start() {
    local pid
    pid=$(running_pid)
    if [[ -n $pid ]]; then
        load_state
        echo "neo4j ($MODE_NAME) is already running, pid $pid"
        print_urls
        ((START_WAIT)) && cmd_wait
        return 0
    fi
    ((EPHEMERAL)) || check_password
    cmd_fetch
    find_java
    check_ports_free

    if ((EPHEMERAL)); then
        if [[ -e $NEO4J_HOME_DIR ]]; then
            check_ephemeral_home
            rm -rf "$NEO4J_HOME_DIR"
        fi
        # mkdir, not mkdir -p: a folder someone else made meanwhile is an error, not our home.
        mkdir -p "$(dirname "$NEO4J_HOME_DIR")"
        (umask 077 && mkdir "$NEO4J_HOME_DIR") || die "cannot create $NEO4J_HOME_DIR"
        touch "$NEO4J_HOME_DIR/$EPHEMERAL_TAG"
    fi
    (umask 077 && mkdir -p "$NEO4J_HOME_DIR"/{conf,data,logs,run,import,plugins})
    fresh_tmp
    write_conf

    local kind=server
    ((HARNESS)) && kind=harness
    printf 'kind=%s\nbolt_port=%s\nhttp_port=%s\nheap=%s\npagecache=%s\n' "$kind" "$BOLT_PORT" "$HTTP_PORT" "$HEAP" "$PAGECACHE" >"$STATE_FILE"

    if ((EPHEMERAL)); then
        make_ephemeral_password
    elif [[ ! -e $NEO4J_HOME_DIR/data/dbms/auth.ini && ! -e $NEO4J_HOME_DIR/data/databases ]]; then
        set_initial_password "$NEO4J_PASSWORD"
    fi

    launch
}

# Start the JVM on the prepared home (conf written, password set) and, with --wait, wait.
launch() {
    local pid kind=server
    ((HARNESS)) && kind=harness
    jvm_opts
    local cmd
    if ((HARNESS)); then
        cmd=("$JAVA" "${JVM_OPTS[@]}" -cp "$LIB_DIR/*" "$LAUNCHER" "$NEO4J_HOME_DIR/harness" "$BOLT_PORT" "$HTTP_PORT" "$NEO4J_HOME_DIR/data/dbms")
    else
        cmd=("$JAVA" "${JVM_OPTS[@]}" -cp "$LIB_DIR/*" "$MAIN_CLASS"
            "--home-dir=$NEO4J_HOME_DIR" "--config-dir=$NEO4J_HOME_DIR/conf")
    fi
    : >"$CONSOLE_LOG"
    local setsid=()
    command -v setsid >/dev/null && setsid=(setsid)
    # The server never needs the password after set-initial-password: the JVM does not get it,
    # so it cannot be read from the process's environment (/proc/PID/environ) for its whole life.
    (cd "$NEO4J_HOME_DIR" && unset NEO4J_PASSWORD && exec "${setsid[@]}" "${cmd[@]}" >>"$CONSOLE_LOG" 2>&1 </dev/null) &
    pid=$!
    echo "$pid" >"$PID_FILE"
    sleep 0.5
    if ! kill -0 "$pid" 2>/dev/null; then
        show_logs
        rm -f "$PID_FILE"
        die "neo4j ($MODE_NAME) exited right after start"
    fi
    echo "neo4j $NEO4J_VERSION ($MODE_NAME, $kind) starting, pid $pid, home $NEO4J_HOME_DIR"
    print_urls
    if ((START_WAIT)); then cmd_wait; else echo "'$0 wait$(mode_flag)' blocks until it is ready"; fi
}

# ---------------------------------------------------------------- wait / status / stop

check_auth() {
    # One authenticated request; the password goes to curl on stdin, not on its command line.
    command -v curl >/dev/null && [[ -n ${NEO4J_PASSWORD:-} ]] || return 0
    local code
    code=$(printf 'user = %s\n' "$(quoted "neo4j:$NEO4J_PASSWORD")" | curl -s -K - -o /dev/null -w '%{http_code}' --max-time 10 \
        -H 'Content-Type: application/json' -d '{"statements":[{"statement":"RETURN 1"}]}' \
        "http://127.0.0.1:$HTTP_PORT/db/neo4j/tx/commit" 2>/dev/null || true)
    case "$code" in
        200) echo "  auth:    NEO4J_PASSWORD accepted for user neo4j" ;;
        401 | 403) note "warning: the server rejects NEO4J_PASSWORD for user neo4j (HTTP $code): the password was fixed when this data folder was created" ;;
        *) note "warning: could not check NEO4J_PASSWORD (HTTP ${code:-none})" ;;
    esac
}

cmd_wait() {
    local pid deadline start=$SECONDS
    pid=$(running_pid)
    [[ -n $pid ]] || { show_logs; die "neo4j ($MODE_NAME) is not running; run '$0 start$(mode_flag)' first"; }
    load_state
    deadline=$((SECONDS + WAIT_TIMEOUT))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            show_logs
            die "neo4j ($MODE_NAME, pid $pid) exited while starting"
        fi
        if http_ready "$HTTP_PORT" && bolt_ready "$BOLT_PORT"; then
            echo "neo4j ($MODE_NAME) is ready after waiting $((SECONDS - start)) s, pid $pid"
            print_urls
            ((EPHEMERAL)) || check_auth
            return 0
        fi
        if ((SECONDS >= deadline)); then
            show_logs
            die "neo4j ($MODE_NAME, pid $pid) did not accept Bolt connections on 127.0.0.1:$BOLT_PORT within $WAIT_TIMEOUT s"
        fi
        sleep 0.5
    done
}

cmd_status() {
    local pid
    pid=$(running_pid)
    load_state
    if [[ -z $pid ]]; then
        echo "neo4j ($MODE_NAME): not running (home $NEO4J_HOME_DIR)"
        return 3
    fi
    local state=starting
    bolt_ready "$BOLT_PORT" && state=ready
    echo "neo4j ($MODE_NAME, $KIND): running, $state, pid $pid, home $NEO4J_HOME_DIR"
    print_urls
}

check_ports_free() {
    local p
    for p in "$BOLT_PORT" "$HTTP_PORT"; do
        ! port_open "$p" || die "port $p on 127.0.0.1 is in use by another process (set LINEAGE_NEO4J_BOLT_PORT / LINEAGE_NEO4J_HTTP_PORT)"
    done
}

# An existing ephemeral home is ours to replace or import into only if it carries the tag, is
# this user's and is not a symlink.
check_ephemeral_home() {
    [[ -f $NEO4J_HOME_DIR/$EPHEMERAL_TAG ]] || die "$NEO4J_HOME_DIR exists and is not an ephemeral Neo4j home; not touching it"
    [[ -O $NEO4J_HOME_DIR && ! -L $NEO4J_HOME_DIR ]] || die "$NEO4J_HOME_DIR belongs to another user; not touching it"
}

# JVM temp files (Jetty's Browser folder, the harness's log4j config, the import tool's) stay
# in the home, emptied at each start.
fresh_tmp() {
    rm -rf "$NEO4J_HOME_DIR/run/tmp"
    mkdir -p "$NEO4J_HOME_DIR/run/tmp"
}

stop_pid() { # SIGTERM, then SIGKILL after STOP_TIMEOUT
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        note "pid $pid still running after $STOP_TIMEOUT s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
}

cmd_stop() {
    local pid
    pid=$(running_pid)
    if [[ -z $pid ]]; then
        echo "neo4j ($MODE_NAME): not running"
    else
        stop_pid "$pid"
        echo "neo4j ($MODE_NAME): stopped (pid $pid)"
    fi
    rm -f "$PID_FILE"
    if ((EPHEMERAL)) && [[ -f $NEO4J_HOME_DIR/$EPHEMERAL_TAG ]]; then
        rm -rf "$NEO4J_HOME_DIR"
    fi
}

# ---------------------------------------------------------------- import

# Community Neo4j cannot stop one database (STOP DATABASE is an Enterprise command), and the
# import tool needs database neo4j offline: so the whole server stops, the tool replaces the
# database, and the server starts again on the same home, ports and password (the system
# database, which holds the password, is not touched).
cmd_import() {
    ((${#IMPORT_ARGS[@]})) || die "import needs the arguments of 'neo4j-admin database import full' after --"
    [[ -f $NEO4J_HOME_DIR/conf/neo4j.conf && -d $NEO4J_HOME_DIR/data ]] ||
        die "no Neo4j home at $NEO4J_HOME_DIR; run '$0 start$(mode_flag)' first"
    if ((EPHEMERAL)); then check_ephemeral_home; fi
    load_state
    [[ $KIND == server ]] || die "the in-process harness cannot import; start the ephemeral server without --harness"
    HARNESS=0
    START_WAIT=1
    cmd_fetch
    find_java
    local pid start=$SECONDS
    pid=$(running_pid)
    if [[ -n $pid ]]; then
        stop_pid "$pid"
        note "stopped neo4j ($MODE_NAME, pid $pid) for the import"
    fi
    rm -f "$PID_FILE"
    check_ports_free
    write_conf
    fresh_tmp
    local status=0
    # The import tool needs no password; like the server's JVM, it does not get one.
    env -u NEO4J_PASSWORD NEO4J_HOME="$NEO4J_HOME_DIR" NEO4J_CONF="$NEO4J_HOME_DIR/conf" \
        "$JAVA" "-Xms$IMPORT_HEAP" "-Xmx$IMPORT_HEAP" -XX:+UseG1GC -Dfile.encoding=UTF-8 \
        "-Djava.io.tmpdir=$NEO4J_HOME_DIR/run/tmp" --add-opens=java.base/java.nio=ALL-UNNAMED \
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --enable-native-access=ALL-UNNAMED \
        -cp "$LIB_DIR/*" "$ADMIN_CLASS" database import full neo4j --overwrite-destination=true \
        "--max-off-heap-memory=$IMPORT_MEMORY" "--report-file=$NEO4J_HOME_DIR/logs/import.report" \
        "${IMPORT_ARGS[@]}" >"$IMPORT_LOG" 2>&1 </dev/null || status=$?
    if ((status)); then
        echo "---- last 40 lines of $IMPORT_LOG" >&2
        tail -n 40 "$IMPORT_LOG" >&2
        die "neo4j-admin database import full failed (exit $status); the server stays stopped (log: $IMPORT_LOG)"
    fi
    echo "import: $(grep -m1 'IMPORT DONE' "$IMPORT_LOG" | sed 's/\. *$//') ($((SECONDS - start)) s with the stop)"
    launch
}

# ---------------------------------------------------------------- main

[[ -n $NEO4J_VERSION ]] || die "no <neo4j.version> in $POM"
command=${1:-}
(($#)) && shift
parse_options "$@"
case "$command" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    wait) cmd_wait ;;
    status) cmd_status ;;
    stop) cmd_stop ;;
    home) echo "$NEO4J_HOME_DIR" ;;
    import) cmd_import ;;
    -h | --help | help) usage ;;
    "") usage; exit 2 ;;
    *) die "unknown command: $command (fetch, start, stop, status, wait, home, import)" ;;
esac
