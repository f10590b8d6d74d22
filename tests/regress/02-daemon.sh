#!/bin/sh
# 02-daemon: the daemon's life: /healthz, 404 elsewhere, SIGHUP reloads the
# webhook secret and keeps the old config when the new one is broken,
# SIGTERM exits 0; without -d it detaches, writes its pid file, keeps a
# second daemon off the same state dir, and removes the pid file on SIGTERM.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
bk_require_node
plan 26

bk_start

bk_http GET /healthz
is "$BK_STATUS $BK_BODY" "200 ok" "GET /healthz: 200 ok"
bk_http GET /nope
is "$BK_STATUS" 404 "GET /nope: 404"
bk_http GET /github/webhookx
is "$BK_STATUS" 404 "GET /github/webhookx: 404"

# ---------------------------------------------- SIGHUP rotates the secret

old=$BK_DIR/secret.old
cp -p "$BK_SECRET_FILE" "$old"
is "$(bk_deliver_status -s "$old" --index 4 "$BK_HOOK" push)" 202 \
    "before SIGHUP: the old secret is accepted"

# Rewrite the secret in place (it stays 0600), then reload.
(umask 077 && printf '%s' "rotated-$BK_SECRET" >"$BK_SECRET_FILE.new") &&
    mv "$BK_SECRET_FILE.new" "$BK_SECRET_FILE"
is "$(bk_deliver_status --index 4 "$BK_HOOK" push)" 401 \
    "before SIGHUP: the new secret is refused"
kill -HUP "$BK_PID"
new_ok() {
	[ "$(bk_deliver_status --index 4 "$BK_HOOK" push)" = 202 ]
}
ok "after SIGHUP: the new secret is accepted" bk_wait_for 5 new_ok
is "$(bk_deliver_status -s "$old" --index 4 "$BK_HOOK" push)" 401 \
    "after SIGHUP: the old secret is refused"
ok "after SIGHUP: still alive" bk_alive

# ------------------------------------ SIGHUP with a broken config keeps the old

# The broken config also names another secret: were it half applied,
# that secret would be accepted.
other=$BK_DIR/secret.other
(umask 077 && printf '%s' "other-$BK_SECRET" >"$other")
cp "$BK_CONFIG" "$BK_DIR/good.yml"
sed -e "s|webhook_secret_file: .*|webhook_secret_file: $other|" \
    "$BK_DIR/good.yml" >"$BK_CONFIG"
echo "no_such_key: 1" >>"$BK_CONFIG"
lines=$(wc -l <"$BK_CONFIG")
nlog=$(wc -l <"$BK_LOG")
kill -HUP "$BK_PID"
logged() {
	tail -n "+$((nlog + 1))" "$BK_LOG" | grep -q "$BK_CONFIG:$lines:"
}
ok "broken reload: the error is logged as FILE:LINE" bk_wait_for 5 logged
ok "broken reload: still alive" bk_alive
is "$(bk_deliver_status --index 4 "$BK_HOOK" push)" 202 \
    "broken reload: the current secret is still accepted"
is "$(bk_deliver_status -s "$other" --index 4 "$BK_HOOK" push)" 401 \
    "broken reload: nothing of the broken config is applied"
cp "$BK_DIR/good.yml" "$BK_CONFIG"

# ------------------------------------------------------- SIGTERM, foreground

pid=$BK_PID
bk_stop
is "$?" 0 "SIGTERM: exit status 0"
ok "SIGTERM: the process is gone" eval "! bk_running $pid"

# ------------------------------------------------------------- detached

port=$("$NODE" -e 'const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
pidfile=$BK_DIR/run/beekeeperd.pid
mkdir -p "$BK_DIR/run"
BK_PORT=$port bk_write_config "pid_file: $pidfile"
timeout 10 "$BEEKEEPERD" -f "$BK_CONFIG" >"$BK_DIR/detach.out" 2>&1
is "$?" 0 "without -d: the starting process exits 0"
ok "without -d: the pid file appears" bk_wait_for 5 test -s "$pidfile"
dpid=$(cat "$pidfile" 2>/dev/null)
dpid=${dpid%%[!0-9]*}
[ -z "$dpid" ] || echo "$dpid" >>"$BK_DIR/extra.pids"
comm=
[ -z "$dpid" ] || comm=$(cat "/proc/$dpid/comm" 2>/dev/null)
is "$comm" beekeeperd "the pid file names a running beekeeperd"
BK_URL=http://127.0.0.1:$port
healthy() {
	[ "$(curl -s --max-time 5 "$BK_URL/healthz")" = ok ]
}
ok "the detached daemon serves /healthz" bk_wait_for 5 healthy

# A second daemon on the same state dir (foreground, so its message and
# status show) must refuse.
BK_PORT=0 bk_config_text "pid_file: $pidfile" >"$BK_DIR/second.yml"
timeout 10 "$BEEKEEPERD" -d -f "$BK_DIR/second.yml" >"$BK_DIR/second.out" \
    2>&1
rc=$?
case $rc in
0|124|126|127)	not_ok "a second daemon on the same state dir exits non-zero" \
		    "exit status $rc" ;;
*)		pass "a second daemon on the same state dir exits non-zero" ;;
esac
like "$(cat "$BK_DIR/second.out")" '[Rr]unning|[Ll]ock|pid' \
    "a second daemon says another one is running"
is "$(cat "$pidfile" 2>/dev/null)" "$dpid" \
    "a second daemon leaves the pid file alone"
ok "the first daemon still serves" healthy

kill -TERM "$dpid" 2>/dev/null
ok "SIGTERM: the detached daemon exits" _bk_wait_pid "$dpid" 200
ok "SIGTERM: the pid file is removed" test ! -e "$pidfile"

bk_finish
