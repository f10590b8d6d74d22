# shellcheck shell=sh
# lib.sh: shared helpers for the regress tests, sourced by each of them.
#
# TAP: plan N, then ok/is/isnt/like/unlike/pass/not_ok print "ok N - desc"
# or "not ok N - desc" with diagnostics as "# ..." lines; skip_all prints
# "1..0 # SKIP reason" and exits 0.
#
# The daemon: bk_start writes a config into a fresh temporary directory
# and starts "$BEEKEEPERD -d" on 127.0.0.1 with an ephemeral port; the exit
# trap kills it (by PID) and removes the directory (kept when BK_KEEP is
# set). Knobs read when the config is written (bk_write_config):
# BK_LEGACY_SIGNATURES, BK_MAX_DELIVERY_SIZE, BK_AUTO_APPROVE, and the
# extra top-level YAML given to bk_start.
#
# The environment (set by "make check"): BEEKEEPERD, BK_DATA, BK_TOOLS,
# BK_NODE_MODULES, NODE, SQLITE3, top_srcdir, top_builddir. Without them,
# the defaults below point into the source tree.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${BEEKEEPERD:=$top_builddir/beekeeperd}"
: "${BK_DATA:=$top_srcdir/tests/data}"
: "${BK_TOOLS:=$top_srcdir/tests/tools}"
: "${BK_NODE_MODULES:=$top_srcdir/node_modules}"
: "${NODE:=node}"
: "${SQLITE3:=sqlite3}"
export top_srcdir top_builddir BEEKEEPERD BK_DATA BK_TOOLS BK_NODE_MODULES \
    NODE SQLITE3

# Timeouts are in steps of 0.05 s: 200 steps is 10 s.
BK_WAIT_STEPS=200

_tap_n=0
_tap_failed=0
BK_DIR=
BK_PID=
_bk_nstart=0

# ------------------------------------------------------------------ TAP

plan() {
	echo "1..$1"
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# diag [LINE...]: print each argument (or stdin, with none) as TAP
# diagnostics.
diag() {
	if [ $# -gt 0 ]; then
		printf '%s\n' "$@"
	else
		cat
	fi | sed 's/^/# /'
}

pass() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1"
}

# skip DESC REASON: a test point not run, and why (TAP's SKIP).
skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}

# not_ok DESC [DIAG...]: record a failure.
not_ok() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	shift
	[ $# -eq 0 ] || diag "$@"
}

# ok DESC CMD [ARG...]: passes when CMD exits 0.
ok() {
	_d=$1
	shift
	if "$@"; then
		pass "$_d"
	else
		not_ok "$_d" "command failed: $*"
	fi
}

# is GOT WANT DESC
is() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		not_ok "$3" "got:      '$1'" "expected: '$2'"
	fi
}

# isnt GOT UNWANTED DESC
isnt() {
	if [ "$1" != "$2" ]; then
		pass "$3"
	else
		not_ok "$3" "got '$1', expected anything else"
	fi
}

# like GOT ERE DESC: some line of GOT matches the extended regexp.
like() {
	if printf '%s\n' "$1" | grep -Eq -e "$2"; then
		pass "$3"
	else
		not_ok "$3" "no line matches /$2/ in:" "$1"
	fi
}

# unlike GOT ERE DESC: no line of GOT matches.
unlike() {
	if printf '%s\n' "$1" | grep -Eq -e "$2"; then
		not_ok "$3" "a line matches /$2/ in:" "$1"
	else
		pass "$3"
	fi
}

# same_text GOT_FILE WANT_FILE DESC: the files are equal; else a diff.
same_text() {
	if cmp -s "$1" "$2"; then
		pass "$3"
	else
		not_ok "$3" "$(diff -u "$2" "$1" | head -40)"
	fi
}

# --------------------------------------------------------- requirements

# bk_require_node: skip the whole test without node and the npm tools.
bk_require_node() {
	command -v "$NODE" >/dev/null 2>&1 ||
	    skip_all "node not found (NODE=$NODE)"
	for _m in webhooks-examples webhooks-methods; do
		[ -f "$BK_NODE_MODULES/@octokit/$_m/package.json" ] ||
		    skip_all "npm test tools not installed in" \
		    "$BK_NODE_MODULES (run npm ci)"
	done
}

bk_require_daemon() {
	[ -x "$BEEKEEPERD" ] || skip_all "no daemon at $BEEKEEPERD"
	command -v "$SQLITE3" >/dev/null 2>&1 ||
	    skip_all "sqlite3 not found (SQLITE3=$SQLITE3)"
	command -v curl >/dev/null 2>&1 || skip_all "curl not found"
	command -v openssl >/dev/null 2>&1 || skip_all "openssl not found"
}

# ----------------------------------------------------- temporary state

# _bk_kill_ours SIG PID: signal PID if it is still a daemon or a node or
# python helper of ours (a recorded PID may since have been reused).
_bk_kill_ours() {
	case $(cat "/proc/$2/comm" 2>/dev/null) in
	beekeeperd|node|lt-beekeeperd|python3)	kill "-$1" "$2" 2>/dev/null ;;
	esac
	return 0
}

_bk_cleanup() {
	_rc=$?
	trap - EXIT
	if [ -n "$BK_PID" ] && kill -0 "$BK_PID" 2>/dev/null; then
		kill -TERM "$BK_PID" 2>/dev/null
		_bk_wait_pid "$BK_PID" 50 || kill -KILL "$BK_PID" 2>/dev/null
	fi
	if [ -n "$BK_DIR" ] && [ -f "$BK_DIR/extra.pids" ]; then
		while read -r _p; do
			_bk_kill_ours KILL "$_p"
		done <"$BK_DIR/extra.pids"
	fi
	if [ "$_tap_failed" -gt 0 ] && [ -n "$BK_LOG" ] && [ -f "$BK_LOG" ]
	then
		diag "last lines of $BK_LOG:"
		tail -n 30 "$BK_LOG" | diag
	fi
	if [ -n "$BK_DIR" ] && [ -z "$BK_KEEP" ]; then
		rm -rf "$BK_DIR"
	elif [ -n "$BK_DIR" ]; then
		diag "kept $BK_DIR"
	fi
	exit "$_rc"
}

# A test gets BK_TEST_TIMEOUT seconds (120) from its bk_tmpdir: then it
# bails out and its daemons and helpers are killed by PID, so a client
# waiting on a hung daemon returns and the exit trap runs at once.
_bk_watchdog() {
	_bk_test_pid=$$
	(
		_t=$((${BK_TEST_TIMEOUT:-120} * 10))
		while [ "$_t" -gt 0 ]; do
			sleep 0.1
			kill -0 "$_bk_test_pid" 2>/dev/null || exit 0
			_t=$((_t - 1))
		done
		echo "Bail out! timed out after ${BK_TEST_TIMEOUT:-120} s"
		kill -TERM "$_bk_test_pid"
		cat "$BK_DIR/daemon.pids" "$BK_DIR/extra.pids" 2>/dev/null |
		    while read -r _p; do
			_bk_kill_ours KILL "$_p"
		done
	) &
}

# bk_tmpdir: make BK_DIR (once), with a 0600 secret in BK_SECRET_FILE,
# and set the exit trap that cleans up.
bk_tmpdir() {
	[ -z "$BK_DIR" ] || return 0
	BK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bk-regress.XXXXXX") ||
	    { echo "Bail out! mktemp failed"; exit 1; }
	trap _bk_cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	_bk_watchdog
	BK_STATE=$BK_DIR/state
	BK_CONFIG=$BK_DIR/beekeeperd.yml
	BK_SECRET_FILE=$BK_DIR/secret
	BK_SECRET="test-secret-$$-$(date +%s)-do-not-log"
	(umask 077 && printf '%s' "$BK_SECRET" >"$BK_SECRET_FILE")
	export BK_DIR BK_STATE BK_CONFIG BK_SECRET_FILE
}

# bk_config_text [EXTRA_YAML...]: print the test config (an ephemeral
# port unless BK_PORT is set), each EXTRA_YAML line appended at top level;
# BK_GITHUB_YAML and BK_PROJECTS_YAML are more lines (indented) of the
# github and projects sections; the bus binds ephemeral loopback ports
# (BK_BUS_PUBLISH and BK_BUS_CONTROL override), which _bk_launch reads
# from the log into BK_PUBLISH and BK_CONTROL; BK_CONTROL_KEY is the key
# that lets a client act.
bk_config_text() {
	cat <<EOF
listen: 127.0.0.1:${BK_PORT:-0}
state_dir: $BK_STATE
github:
  webhook_secret_file: $BK_SECRET_FILE
  legacy_signatures: ${BK_LEGACY_SIGNATURES:-false}
  max_delivery_size: ${BK_MAX_DELIVERY_SIZE:-25M}
EOF
	[ -z "$BK_GITHUB_YAML" ] || printf '%s\n' "$BK_GITHUB_YAML"
	cat <<EOF
projects:
  auto_approve: ${BK_AUTO_APPROVE:-false}
EOF
	[ -z "$BK_PROJECTS_YAML" ] || printf '%s\n' "$BK_PROJECTS_YAML"
	cat <<EOF
bus:
  publish: ${BK_BUS_PUBLISH:-tcp://127.0.0.1:*}
  control: ${BK_BUS_CONTROL:-tcp://127.0.0.1:*}
EOF
	for _y in "$@"; do
		printf '%s\n' "$_y"
	done
}

# bk_write_config [EXTRA_YAML...]: write BK_CONFIG.
bk_write_config() {
	bk_config_text "$@" >"$BK_CONFIG"
}

# ------------------------------------------------------------ the daemon

# _bk_wait_pid PID STEPS: wait until PID is gone (or a zombie), at most
# STEPS times 0.05 s.
_bk_wait_pid() {
	_i=0
	while bk_running "$1"; do
		_i=$((_i + 1))
		[ "$_i" -le "$2" ] || return 1
		sleep 0.05
	done
	return 0
}

# bk_running PID: the process exists and is not a zombie.
bk_running() {
	kill -0 "$1" 2>/dev/null || return 1
	if [ -r "/proc/$1/stat" ]; then
		_st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
		[ "$_st" != Z ] || return 1
	fi
	return 0
}

# _bk_launch: start the daemon in the foreground on BK_CONFIG, logging to a
# new BK_LOG, and wait for "listening on 127.0.0.1:PORT".
_bk_launch() {
	_bk_nstart=$((_bk_nstart + 1))
	BK_LOG=$BK_DIR/daemon.$_bk_nstart.log
	# shellcheck disable=SC2086 # BK_DAEMON_FLAGS is a list of flags
	"$BEEKEEPERD" -d ${BK_DAEMON_FLAGS:-} -f "$BK_CONFIG" 2>"$BK_LOG" &
	BK_PID=$!
	echo "$BK_PID" >"$BK_DIR/daemon.pids"
	export BK_LOG BK_PID
	_i=0
	while :; do
		_port=$(sed -n \
		    's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
		    "$BK_LOG" | head -n 1)
		[ -z "$_port" ] || break
		if ! bk_running "$BK_PID"; then
			wait "$BK_PID"
			echo "Bail out! beekeeperd exited ($?) before listening"
			diag <"$BK_LOG"
			BK_PID=
			exit 1
		fi
		_i=$((_i + 1))
		if [ "$_i" -gt "$BK_WAIT_STEPS" ]; then
			echo "Bail out! beekeeperd not listening after 10 s"
			diag <"$BK_LOG"
			exit 1
		fi
		sleep 0.05
	done
	BK_URL=http://127.0.0.1:$_port
	BK_HOOK=$BK_URL/github/webhook
	# The bus's endpoints as bound (ephemeral ports unless set).
	BK_PUBLISH=$(sed -n 's/.*bus: publishing on \([^ ,]*\), control on .*/\1/p' \
	    "$BK_LOG" | head -n 1)
	BK_CONTROL=$(sed -n 's/.*bus: publishing on .*, control on \([^ ]*\)$/\1/p' \
	    "$BK_LOG" | head -n 1)
	# The control key that lets a client act (made at the first start).
	BK_CONTROL_KEY=$(cat "$BK_STATE/control.key" 2>/dev/null)
	export BK_URL BK_HOOK BK_PUBLISH BK_CONTROL BK_CONTROL_KEY
}

# bk_start [EXTRA_YAML...]: a fresh state dir and config, then the daemon.
# shellcheck disable=SC2120 # the arguments are optional
bk_start() {
	bk_tmpdir
	bk_write_config "$@"
	_bk_launch
}

# bk_restart: start again on the same config and state dir (the previous
# daemon must be stopped or killed first). BK_URL changes.
bk_restart() {
	_bk_launch
}

# bk_stop [SIGNAL]: SIGTERM (or SIGNAL), wait (at most 10 s, then
# SIGKILL); returns the daemon's exit status.
# shellcheck disable=SC2120 # the argument is optional
bk_stop() {
	[ -n "$BK_PID" ] || return 0
	kill "-${1:-TERM}" "$BK_PID" 2>/dev/null
	if ! _bk_wait_pid "$BK_PID" "$BK_WAIT_STEPS"; then
		diag "beekeeperd ignored SIG${1:-TERM} for 10 s: SIGKILL"
		kill -KILL "$BK_PID" 2>/dev/null
	fi
	wait "$BK_PID"
	_rc=$?
	BK_PID=
	return "$_rc"
}

# bk_finish: the last two checks of a test that ran daemons. The running
# one is stopped with SIGTERM and must exit 0, and no daemon of the test
# may have logged a sanitizer report (the sanitizer build runs these same
# scripts, and LeakSanitizer reports at exit).
bk_finish() {
	_fin_rc=0
	[ -z "$BK_PID" ] || bk_stop || _fin_rc=$?
	is "$_fin_rc" 0 "the daemon stops cleanly on SIGTERM"
	_reports=$(grep -l -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' \
	    -e 'runtime error:' "$BK_DIR"/daemon.*.log 2>/dev/null || true)
	if [ -z "$_reports" ]; then
		pass "no sanitizer report in any daemon log"
	else
		not_ok "no sanitizer report in any daemon log" "in: $_reports"
		for _f in $_reports; do
			grep -A 20 -e 'ERROR:' -e 'runtime error:' "$_f" | diag
		done
	fi
}

bk_kill9() {
	[ -n "$BK_PID" ] || return 0
	kill -KILL "$BK_PID" 2>/dev/null
	wait "$BK_PID" 2>/dev/null
	BK_PID=
	return 0
}

# bk_sql QUERY: run QUERY on the daemon's database (the CLI's default
# output: columns separated by "|").
bk_sql() {
	"$SQLITE3" -cmd '.timeout 5000' "$BK_STATE/beekeeper.db" "$1"
}

# bk_alive: the daemon's process exists and /healthz answers 200.
bk_alive() {
	[ -n "$BK_PID" ] || return 1
	bk_running "$BK_PID" || return 1
	_code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	    "$BK_URL/healthz") || return 1
	[ "$_code" = 200 ]
}

# bk_wait_for SECONDS CMD [ARG...]: retry CMD every 0.05 s until it
# succeeds; fail once SECONDS have passed.
bk_wait_for() {
	_deadline=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$_deadline" ] || return 1
		sleep 0.05
	done
	return 0
}

# ---------------------------------------------------------------- HTTP

# bk_hmac ALGO FILE [SECRET]: "ALGO=HEX", the HMAC of FILE's bytes.
bk_hmac() {
	_h=$(openssl dgst "-$1" -hmac "${3:-$BK_SECRET}" "$2") || return 1
	echo "$1=${_h##*= }"
}

# bk_http METHOD PATH [CURL_ARG...]: one request; sets BK_STATUS (000 for
# no answer) and BK_BODY, for the caller.
# shellcheck disable=SC2034
bk_http() {
	_m=$1
	_p=$2
	shift 2
	BK_STATUS=$(curl -s -o "$BK_DIR/response" -w '%{http_code}' \
	    --max-time 10 -X "$_m" "$@" "$BK_URL$_p")
	BK_BODY=$(cat "$BK_DIR/response" 2>/dev/null)
	rm -f "$BK_DIR/response"
}

# bk_post_file FILE EVENT ID [CONTENT_TYPE [SIG_HEADER...]]: POST FILE to
# the webhook, with X-Hub-Signature-256 over FILE unless SIG_HEADERs are
# given ("" for none). Empty EVENT or ID leaves that header out.
bk_post_file() {
	_f=$1
	_ev=$2
	_id=$3
	_ct=${4:-application/json}
	if [ $# -gt 4 ]; then
		shift 4
	else
		set -- "X-Hub-Signature-256: $(bk_hmac sha256 "$_f")"
	fi
	_hdrs=$BK_DIR/headers
	: >"$_hdrs"
	[ -z "$_ev" ] || echo "X-GitHub-Event: $_ev" >>"$_hdrs"
	[ -z "$_id" ] || echo "X-GitHub-Delivery: $_id" >>"$_hdrs"
	for _s in "$@"; do
		[ -z "$_s" ] || echo "$_s" >>"$_hdrs"
	done
	bk_http POST /github/webhook -H "Content-Type: $_ct" -H "@$_hdrs" \
	    --data-binary "@$_f"
}

# bk_one_line: BK_BODY is one non-empty line (a reason for a person).
bk_one_line() {
	[ -n "$BK_BODY" ] && [ "$(printf '%s\n' "$BK_BODY" | wc -l)" -eq 1 ]
}

# bk_deliver [OPTION...] URL EVENT...: "deliver.mjs send" with the test
# secret and a 5 s time-out (BK_DELIVER_TIMEOUT, in ms); prints its lines,
# "ID EVENT INDEX STATUS".
bk_deliver() {
	"$NODE" "$BK_TOOLS/deliver.mjs" send -s "$BK_SECRET_FILE" \
	    --timeout "${BK_DELIVER_TIMEOUT:-5000}" "$@"
}

# bk_deliver_status [OPTION...] URL EVENT: the status of the last (with
# --index N, the one) delivery made.
bk_deliver_status() {
	bk_deliver "$@" | awk 'END { print $4 }'
}

# --------------------------------------------------------------- builds

# bk_repo_init DIR: a git repository with one branch, main.
bk_repo_init() {
	git init -q -b main "$1"
	git -C "$1" config user.name Test
	git -C "$1" config user.email test@example.org
}

# bk_repo_commit DIR MESSAGE: commit everything in DIR; prints the SHA.
bk_repo_commit() {
	git -C "$1" add -A
	git -C "$1" commit -q --allow-empty -m "$2"
	git -C "$1" rev-parse HEAD
}

# bk_push DIR OWNER/NAME ID [REF]: deliver a signed push of DIR's HEAD
# (REF defaults to refs/heads/main), as GitHub would; sets BK_STATUS.
bk_push() {
	_sha=$(git -C "$1" rev-parse HEAD)
	_f=$BK_DIR/push-$3.json
	cat >"$_f" <<JSON
{"ref":"${4:-refs/heads/main}","before":"0000000000000000000000000000000000000000",
"after":"$_sha","created":false,"deleted":false,
"head_commit":{"id":"$_sha","message":"test"},
"repository":{"full_name":"$2","clone_url":"file://$1","html_url":"file://$1"},
"sender":{"login":"tester"}}
JSON
	bk_post_file "$_f" push "$3"
}

# bk_build_of SHA: the id of the build of that commit, once it exists.
bk_build_of() {
	bk_sql "SELECT id FROM builds WHERE sha = '$1' ORDER BY id DESC LIMIT 1"
}

# bk_build_done ID: the build has finished.
bk_build_done() {
	case $(bk_sql "SELECT state FROM builds WHERE id = $1") in
	passed|failed|errored|cancelled)	return 0 ;;
	esac
	return 1
}

# bk_task FIELD BUILD SLUG: one column of one task.
bk_task() {
	bk_sql "SELECT $1 FROM tasks WHERE build_id = $2 AND slug = '$3'"
}

# bk_pr DIR OWNER/NAME ID ACTION NUMBER: deliver a signed pull_request
# event for DIR's HEAD on branch "feature"; sets BK_STATUS.
bk_pr() {
	_sha=$(git -C "$1" rev-parse HEAD)
	_f=$BK_DIR/pr-$3.json
	_r="{\"full_name\":\"$2\",\"clone_url\":\"file://$1\"}"
	cat >"$_f" <<JSON
{"action":"$4","number":$5,"pull_request":{"number":$5,
"head":{"ref":"feature","sha":"$_sha","repo":$_r},
"base":{"ref":"main","repo":$_r}},
"repository":$_r,"sender":{"login":"tester"}}
JSON
	bk_post_file "$_f" pull_request "$3"
}

# bk_wait_build SHA: wait (10 s) for the build of SHA; prints its id.
bk_wait_build() {
	bk_wait_for 10 sh -c "[ -n \"\$(\"$SQLITE3\" -cmd '.timeout 5000' \
	    \"$BK_STATE/beekeeper.db\" \
	    \"SELECT id FROM builds WHERE sha = '$1'\")\" ]" || return 1
	bk_build_of "$1"
}

# bk_task_running BUILD SLUG: the task is running.
bk_task_running() {
	[ "$(bk_task state "$1" "$2")" = running ]
}

# bk_no_process PATTERN: no process's command line matches PATTERN.
bk_no_process() {
	! pgrep -f -- "$1" >/dev/null 2>&1
}

# ------------------------------------------------------ the GitHub double

# bk_gh_start NAME [OPTION...]: start tests/fakes/github.mjs on an
# ephemeral port, serving BK_DIR/repos/OWNER/NAME, requiring TOKEN, with
# collaborators from BK_DIR/collaborators; its output in BK_DIR/NAME.out
# and .err, its log in NAME.log; the exit trap kills it by PID.
bk_gh_start() {
	_n=$1
	shift
	"$NODE" "$top_srcdir/tests/fakes/github.mjs" --port 0 --repos "$BK_DIR/repos" \
	    --log "$BK_DIR/$_n.log" --token "$TOKEN" \
	    --collaborators "$BK_DIR/collaborators" "$@" \
	    >"$BK_DIR/$_n.out" 2>"$BK_DIR/$_n.err" &
	echo $! >>"$BK_DIR/extra.pids"
}
# bk_gh_port NAME: the port the double NAME printed, once it has.
bk_gh_port() {
	sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
	    "$BK_DIR/$1.out"
}
bk_gh_listening() {
	[ -n "$(bk_gh_port "$1")" ]
}
# bk_gh_wait NAME: wait for the double NAME to listen, or bail out.
bk_gh_wait() {
	if ! bk_wait_for 10 bk_gh_listening "$1"; then
		echo "Bail out! the GitHub double is not listening after 10 s"
		diag <"$BK_DIR/$1.err"
		exit 1
	fi
}
# bk_gh_json URL EXPR: GET URL (a control endpoint) and print the value of
# the JavaScript EXPR over its JSON, "d".
bk_gh_json() {
	curl -s "$1" | "$NODE" -e '
		let s = ""; process.stdin.on("data", (c) => s += c);
		process.stdin.on("end", () => console.log(
		    new Function("d", "return " + process.argv[1])(
		    JSON.parse(s))));' "$2"
}

# --------------------------------------------------------- the AWS double

# bk_aws_start NAME [OPTION...]: start tests/fakes/aws.py (with
# BK_PYTHON, Debian's /usr/bin/python3 by default) on an ephemeral port;
# its output in BK_DIR/NAME.out and .err, its request log in NAME.log, its
# state in NAME.state, its PID in NAME.pid; the exit trap kills it. Its
# tasks' directories are made in BK_DIR, so none outlives the test.
bk_aws_start() {
	_n=$1
	shift
	TMPDIR=$BK_DIR "${BK_PYTHON:-/usr/bin/python3}" \
	    "$top_srcdir/tests/fakes/aws.py" \
	    --port 0 --log "$BK_DIR/$_n.log" --state "$BK_DIR/$_n.state" "$@" \
	    >"$BK_DIR/$_n.out" 2>"$BK_DIR/$_n.err" &
	echo $! >>"$BK_DIR/extra.pids"
	echo $! >"$BK_DIR/$_n.pid"
}
# bk_aws_wait NAME: wait for the AWS double NAME to listen, or bail out;
# then BK_AWS_URL is its endpoint.
bk_aws_wait() {
	if ! bk_wait_for 10 bk_gh_listening "$1"; then
		echo "Bail out! the AWS double is not listening after 10 s"
		diag <"$BK_DIR/$1.err"
		exit 1
	fi
	BK_AWS_URL=http://127.0.0.1:$(bk_gh_port "$1")
	export BK_AWS_URL
}

# bk_aws_env: the environment of a daemon or client of the AWS double:
# the double's keys, no shared files, and a metadata service that does
# not answer, so nothing of the machine's own AWS setup is used.
bk_aws_env() {
	: >"$BK_DIR/empty"
	AWS_ACCESS_KEY_ID=AKIDEXAMPLE
	AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
	AWS_CONFIG_FILE=$BK_DIR/empty
	AWS_SHARED_CREDENTIALS_FILE=$BK_DIR/empty
	AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:9/
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_CONFIG_FILE \
	    AWS_SHARED_CREDENTIALS_FILE AWS_EC2_METADATA_SERVICE_ENDPOINT
}

# bk_gh_push DIR OWNER/NAME ID [BRANCH] [MORE_JSON]: deliver a signed push
# of DIR's HEAD to BRANCH (main), of a repository on GitHub whose default
# branch is main; MORE_JSON (",\"key\":...") is added to the payload.
bk_gh_push() {
	_sha=$(git -C "$1" rev-parse HEAD)
	cat >"$BK_DIR/push-$3.json" <<JSON
{"ref":"refs/heads/${4:-main}","before":"0000000000000000000000000000000000000000",
"after":"$_sha","created":false,"deleted":false,
"head_commit":{"id":"$_sha","message":"test"},
"repository":{"full_name":"$2","default_branch":"main",
"clone_url":"https://github.invalid/$2.git",
"html_url":"https://github.invalid/$2"},
"sender":{"login":"tester"}${5:-}}
JSON
	bk_post_file "$BK_DIR/push-$3.json" push "$3"
}
