#!/bin/sh
# 55-curve: the bus with CURVE. beekeeper keygen writes a key pair (0600)
# and its public key (0644) and will not overwrite them without -f; the
# config refuses a secret key others can read, a clients file with a bad
# line (FILE:LINE) and a remote endpoint with no authentication (naming
# both ways out). With CURVE an admin key acts under its name, a viewer's
# is refused in a sentence and audited, an unknown key and a client
# without CURVE get nothing while the daemon serves on; SIGHUP lets a new
# key in and shuts a removed one out, even on a connection already open;
# the beekeeper tool works with -k PAIR and the server key.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${BEEKEEPER:=$top_builddir/beekeeper}"
PY=/usr/bin/python3
bk_require_daemon
[ -x "$BEEKEEPER" ] || skip_all "no beekeeper at $BEEKEEPER"
"$PY" -c 'import zmq' 2>/dev/null ||
    skip_all "$PY has no zmq module (Debian's python3-zmq)"
"$PY" "$BK_TOOLS/curve-client.py" has-curve ||
    skip_all "pyzmq's libzmq has no CURVE"
command -v tmux >/dev/null 2>&1 ||
    skip_all "tmux is not installed (scripts/deps --test installs it)"
plan 68

# cc ARG...: the CURVE client. as NAME ARG...: a request with NAME's pair.
cc() {
	"$PY" "$BK_TOOLS/curve-client.py" "$@"
}
as() {
	_who=$1
	shift
	cc request --control "$BK_CONTROL" --pair "$K/$_who" \
	    --server "$K/server.pub" "$@"
}
# bk ARG...: the tool; its output in OUT and ERR, its status in RC.
bk() {
	"$BEEKEEPER" -c "$BK_CONTROL" "$@" >"$BK_DIR/out" 2>"$BK_DIR/err"
	RC=$?
	OUT=$(cat "$BK_DIR/out")
	ERR=$(cat "$BK_DIR/err")
}
# bke NAME=VALUE... ARG...: bk with those in the tool's environment only.
bke() {
	(
		while [ $# -gt 0 ]; do
			case $1 in
			*=*)	export "${1?}"; shift ;;
			*)	break ;;
			esac
		done
		exec "$BEEKEEPER" -c "$BK_CONTROL" "$@"
	) >"$BK_DIR/out" 2>"$BK_DIR/err"
	RC=$?
	OUT=$(cat "$BK_DIR/out")
	ERR=$(cat "$BK_DIR/err")
}
# js JSON EXPR: EXPR over JSON, as d; strings as they are.
js() {
	printf '%s\n' "$1" | "$PY" -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))' "$2"
}
pub() {
	sed -n 's/^public-key = //p' "$K/$1.pub"
}
# check YAML...: beekeeperd -n on the test config with YAML added; its
# output in OUT, its status in RC.
check() {
	bk_config_text "$@" >"$BK_DIR/check.yml"
	OUT=$("$BEEKEEPERD" -n -f "$BK_DIR/check.yml" 2>&1)
	RC=$?
}
reloads() {
	grep -c 'reload: configuration read' "$BK_LOG"
}
reloaded() {
	[ "$(reloads)" -gt "$1" ]
}

bk_tmpdir
K=$BK_DIR/keys
mkdir "$K"

# ---------------------------------------------------------------- keygen

bk keygen "$K/server"
is "$RC" 0 "keygen exits 0"
like "$OUT" '^.{40} NAME ROLE$' "it prints the public key as a clients line"
is "$(stat -c %a "$K/server")" 600 "the pair file is 0600"
is "$(stat -c %a "$K/server.pub")" 644 "the public key file is 0644"
is "$(grep -c -e '^# BeeKeeper CURVE key pair. Keep this file secret.$' \
    -e '^public-key = .\{40\}$' -e '^secret-key = .\{40\}$' "$K/server")" 3 \
    "the pair file: the header, public-key and secret-key"
is "$(pub server) NAME ROLE" "$OUT" \
    "the .pub file holds the public key printed"
cp "$K/server" "$BK_DIR/server.copy"
bk keygen "$K/server"
is "$RC" 1 "keygen refuses to overwrite"
like "$ERR" 'File exists \(use -f to replace it\)' "and says how to"
ok "the pair is untouched" cmp -s "$K/server" "$BK_DIR/server.copy"
bk keygen -f "$K/server"
is "$RC" 0 "keygen -f replaces it"
isnt "$(pub server)" "$(sed -n 's/^public-key = //p' "$BK_DIR/server.copy")" \
    "with a new key"
for who in alice bob carol mallory; do
	"$BEEKEEPER" keygen "$K/$who" >/dev/null 2>&1
done

# ---------------------------------------------------------------- config

cat >"$K/clients" <<EOF
# who may use the bus
$(pub alice) alice admin

$(pub bob) bob viewer
EOF
CURVE1="  curve_secret_key_file: $K/server"
CURVE2="  clients_file: $K/clients"
check "$CURVE1" "$CURVE2"
is "$RC" 0 "-n accepts a key pair and a clients file"
chmod 644 "$K/server"
check "$CURVE1" "$CURVE2"
is "$RC" 1 "a secret key file others can read is refused"
like "$OUT" "secret file is readable by other users \\(mode 0644\\); run chmod 600 $K/server" \
    "saying what to do"
chmod 600 "$K/server"
printf '%s alice admin\n%s dave superuser\n' "$(pub alice)" "$(pub carol)" \
    >"$K/bad-clients"
check "$CURVE1" "  clients_file: $K/bad-clients"
is "$RC" 1 "a clients file with a bad role is refused"
is "$OUT" "$K/bad-clients:2: role 'superuser' is neither admin nor viewer" \
    "FILE:LINE: reason"
printf '%s alice admin\n%s alice viewer\n' "$(pub alice)" "$(pub bob)" \
    >"$K/bad-clients"
check "$CURVE1" "  clients_file: $K/bad-clients"
is "$OUT" "$K/bad-clients:2: this name is already on line 1" \
    "a name twice is refused"
check "$CURVE1"
like "$OUT" 'CURVE also needs bus.clients_file' \
    "a key pair without a clients file is refused"

BK_BUS_CONTROL='tcp://0.0.0.0:*'
check
is "$RC" 1 "a remote endpoint with no authentication is refused"
like "$OUT" "bus.control: 'tcp://0.0.0.0:\\*' is not a loopback endpoint" \
    "naming the endpoint"
like "$OUT" 'set bus.curve_secret_key_file and bus.clients_file.*or set bus.unauthenticated_remote: true' \
    "and both ways out"
check "  unauthenticated_remote: true"
is "$RC" 0 "bus.unauthenticated_remote: true allows it"
check "$CURVE1" "$CURVE2"
is "$RC" 0 "CURVE allows it"
BK_BUS_CONTROL=

# ---------------------------------------------------- the daemon, CURVE

bk_start "$CURVE1" "$CURVE2"
ok "the daemon says CURVE is on, with its public key" grep -qF \
    "bus: CURVE keys required (server key $(pub server)" "$BK_LOG"
r=$(as alice '{"cmd": "hello"}')
is "$(js "$r" '"%s %s" % (d.get("name"), d.get("role"))')" "alice admin" \
    "hello: an admin key's name and role, from the clients file"
r=$(as bob '{"cmd": "hello", "name": "alice"}')
is "$(js "$r" '"%s %s" % (d.get("name"), d.get("role"))')" "bob viewer" \
    "hello: a viewer's, whatever name it gives"
r=$(as alice '{"cmd": "cap", "pool": "default", "n": 1}')
is "$(js "$r" 'd.get("ok")')" true "the admin caps a pool"
r=$(as alice '{"cmd": "drain", "instance": "i-none"}')
is "$(js "$r" 'd.get("error")')" "no live instance 'i-none'" \
    "the admin may drain (the instance is what is wrong)"
r=$(as bob '{"cmd": "drain", "instance": "i-none"}')
is "$(js "$r" 'd.get("error")')" "only an admin may drain: the key named \
bob is a viewer; to make it an admin, change its role to admin in \
$K/clients and send beekeeperd SIGHUP" "the viewer may not, and is told why"
r=$(as bob '{"cmd": "pools"}')
is "$(js "$r" 'd["pools"][0]["cap"]')" 1 "the viewer may look"
r=$(as bob '{"cmd": "audit", "limit": 3}')
is "$(js "$r" '" ".join("%s:%s:%s" % (a["who"], a["cmd"], a["ok"])
    for a in d["audit"])')" "bob:drain:False alice:drain:False alice:cap:True" \
    "the audit log names each key's owner, refusals too"
is "$(js "$r" 'any("key" in a["args"] for a in d["audit"])')" false \
    "and holds no key"
is "$(cc sub --publish "$BK_PUBLISH" --pair "$K/bob" \
    --server "$K/server.pub" --timeout 5)" hb "the viewer subscribes"

cc subscribers --publish "$BK_PUBLISH" --metrics "$BK_URL/metrics" \
    --pair "$K/bob" --server "$K/server.pub" --timeout 10 >"$BK_DIR/subs"
is "$(tr '\n' ' ' <"$BK_DIR/subs")" "2 1 " \
    "beekeeper_bus_subscribers counts CURVE subscribers: 2, then 1"
as mallory '{"cmd": "hello"}' >"$BK_DIR/out" 2>&1
is "$?" 2 "an unknown key gets no reply"
cc sub --publish "$BK_PUBLISH" --pair "$K/mallory" --server "$K/server.pub" \
    --timeout 2 >/dev/null 2>&1
is "$?" 2 "nor anything published"
# Two SUB sockets with that key, trying for 2 s: never counted.
cc subscribers --publish "$BK_PUBLISH" --metrics "$BK_URL/metrics" \
    --pair "$K/mallory" --server "$K/server.pub" --timeout 2 >"$BK_DIR/subs"
is "$(tr '\n' ' ' <"$BK_DIR/subs")" "0 0 " \
    "nor is it counted as a subscriber"
logged() {
	grep -F "public key $(pub mallory) is not in $K/clients" "$BK_LOG" |
	    grep -q 'bus: refused a connection from [^ ]*127\.0\.0\.1: '
}
ok "the daemon logs the refusal, with the key" bk_wait_for 5 logged
cc request --control "$BK_CONTROL" '{"cmd": "hello"}' >/dev/null 2>&1
is "$?" 2 "a client without CURVE gets no reply"
cc sub --publish "$BK_PUBLISH" --timeout 2 >/dev/null 2>&1
is "$?" 2 "nor anything published"
r=$(as alice '{"cmd": "hello"}')
is "$(js "$r" 'd.get("ok")')" true "the admin is served all the same"

# --------------------------------------------------------------- SIGHUP

# alice keeps a connection open across the reload that removes her.
rm -f "$BK_DIR/go"
as alice --wait-for "$BK_DIR/go" '{"cmd": "hello"}' \
    '{"cmd": "cap", "pool": "default", "n": 3}' >"$BK_DIR/open" 2>&1 &
open_pid=$!
echo "$open_pid" >>"$BK_DIR/extra.pids"
ok "alice's connection is open (hello answered)" \
    bk_wait_for 10 grep -q '"name":"alice"' "$BK_DIR/open"
n=$(reloads)
printf '%s bob viewer\n%s carol admin\n' "$(pub bob)" "$(pub carol)" \
    >"$K/clients"
kill -HUP "$BK_PID"
ok "SIGHUP reads the clients file again" bk_wait_for 10 reloaded "$n"
r=$(as carol '{"cmd": "hello"}')
is "$(js "$r" '"%s %s" % (d.get("name"), d.get("role"))')" "carol admin" \
    "a key added is let in"
as alice '{"cmd": "hello"}' >/dev/null 2>&1
is "$?" 2 "a key removed cannot connect again"
touch "$BK_DIR/go"
wait "$open_pid"
is "$(sed -n 2p "$BK_DIR/open" | "$PY" -c 'import json, sys
print(json.load(sys.stdin).get("error"))')" "the key named alice is no \
longer in the clients file ($K/clients): reconnect with a key that is" \
    "nor act on a connection it opened before"

n=$(reloads)
printf 'garbage\n' >"$K/clients"
kill -HUP "$BK_PID"
kept() {
	grep -q "reload: $K/clients:1: expected PUBLIC-KEY NAME ROLE.*keeping the running configuration" \
	    "$BK_LOG"
}
ok "a broken clients file is refused at reload, the old one kept" \
    bk_wait_for 10 kept
r=$(as carol '{"cmd": "hello"}')
is "$(js "$r" 'd.get("role")')" admin "and the keys it had still work"

# ------------------------------------------------------------- the tool

bk -k "$K/carol" -s "$K/server.pub" status
is "$RC" 0 "beekeeper -k PAIR -s SERVER: status"
like "$OUT" "\\(protocol 1, admin\\)$" "with the admin's role"
bk -k "$K/carol" -s "$K/server.pub" cap default 2
is "$RC.$OUT" "0.pool default: at most 2 instances" "an admin's cap"
bk -k "$K/carol" -s "$K/server.pub" --json uncap default
is "$RC.$(js "$OUT" 'd.get("ok")')" 0.true "and --json uncap"
bk -k "$K/bob" -s "$K/server.pub" drain i-none
is "$RC" 1 "a viewer's drain exits 1"
like "$ERR" '^beekeeper: only an admin may drain: the key named bob is a viewer' \
    "with the daemon's sentence"
bk -k "$K/bob" -s "$K/server.pub" --json drain i-none
is "$RC" 1 "likewise with --json"
bke "BEEKEEPER_SERVER_KEY=$(pub server)" -k "$K/bob" pools
is "$RC" 0 "BEEKEEPER_SERVER_KEY names the server's key"
cp "$K/bob" "$K/bob-with-server"
echo "server-key = $(pub server)" >>"$K/bob-with-server"
bk -k "$K/bob-with-server" pools
is "$RC" 0 "so does a server-key line in the pair file"
mkdir -p "$BK_DIR/home/.config/beekeeper"
cp "$K/bob-with-server" "$BK_DIR/home/.config/beekeeper/key"
bke "HOME=$BK_DIR/home" BEEKEEPER_KEY_FILE= status
is "$RC" 0 "without -k, ~/.config/beekeeper/key is used"
like "$OUT" "\\(protocol 1, viewer\\)$" "(bob's key: a viewer)"
bk -k "$K/mallory" -s "$K/server.pub" status
is "$RC" 2 "an unknown key: exit 2"
like "$ERR" 'no answer in 5 s \(with CURVE, a key the daemon does not know or a wrong server key also looks like this\)' \
    "saying what that can mean"

# ----------------------------------------------------------- the console

# The console's sockets authenticate as the tool's do: an admin's console
# may act, a viewer's says it may not, and an unknown key's never connects.
TM="bk-curve-$$"
_curve_cleanup() {
	_rc0=$?
	tmux -L "$TM" kill-server 2>/dev/null
	(exit "$_rc0")
	_bk_cleanup
}
trap _curve_cleanup EXIT
# console NAME PAIR: a console in a 120x40 tmux window NAME.
console() {
	tmux -L "$TM" new-session -d -s "$1" -x 120 -y 40 \
	    "env TERM=xterm-256color LANG=C.UTF-8 $BEEKEEPER -c $BK_CONTROL \
-k $2 -s $K/server.pub 2>$BK_DIR/console-$1.err; echo EXITED \$?; sleep 600"
}
shows() {
	tmux -L "$TM" capture-pane -p -t "$1" | grep -Eq -e "$2"
}
console carol "$K/carol"
ok "an admin's console connects with CURVE, as an admin" bk_wait_for 10 \
    shows carol "^ beekeeper  .*  connected  protocol 1  admin"
console bob "$K/bob"
ok "a viewer's console connects, as a viewer" bk_wait_for 10 \
    shows bob "^ beekeeper  .*  connected  protocol 1  viewer"
tmux -L "$TM" send-keys -t bob 2 c
ok "and says why it may not act" bk_wait_for 10 \
    shows bob "^read-only: Cap needs an admin's key"
console mallory "$K/mallory"
ok "an unknown key's console never connects" bk_wait_for 10 \
    shows mallory "^ beekeeper  .*  disconnected, retrying"
tmux -L "$TM" send-keys -t carol q
ok "q quits the admin's console" bk_wait_for 10 shows carol "^EXITED 0$"

bk_finish
