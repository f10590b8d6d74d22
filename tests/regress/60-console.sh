#!/bin/sh
# 60-console: the console in a real terminal (tmux). It follows a
# pipeline's build to its end and opens it with its log; caps a pool and
# drains an instance from the keyboard, which the daemon does and audits;
# stays whole at 80x24 and 200x60 and says when the terminal is too
# small; shows "disconnected, retrying" while the daemon is away and the
# daemon's new state once it is back; a viewer's console cannot act and
# says it is read-only; q and SIGTERM give the terminal back.
#
# Every wait polls the screen with a deadline; nothing sleeps to
# synchronise.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${BEEKEEPER:=$top_builddir/beekeeper}"
PY=/usr/bin/python3
bk_require_daemon
[ -x "$BEEKEEPER" ] || skip_all "no beekeeper at $BEEKEEPER"
command -v tmux >/dev/null 2>&1 ||
    skip_all "tmux is not installed (scripts/deps --test installs it)"
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
[ -x "$PY" ] || skip_all "no $PY to read JSON with"
plan 64

free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# js EXPR: EXPR over the JSON document on stdin, d.
js() {
	"$PY" -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

# Fixed ports, so that the daemon started again is where it was.
ctl=tcp://127.0.0.1:$(free_port)
BK_BUS_PUBLISH=tcp://127.0.0.1:$(free_port)
BK_BUS_CONTROL=$ctl
BK_AUTO_APPROVE=true
bk_start "profiles:
  default: { slots: 2, min: 2, max: 4, idle_timeout: 60s }"
key=$BK_STATE/control.key
BEEKEEPER_CONTROL=$ctl
BEEKEEPER_KEY_FILE=$key
export BEEKEEPER_CONTROL BEEKEEPER_KEY_FILE

# One tmux server of this test's own, killed at exit whatever happens.
TM="bk-console-$$"
_console_cleanup() {
	_rc0=$?
	tmux -L "$TM" kill-server 2>/dev/null
	(exit "$_rc0")
	_bk_cleanup
}
trap _console_cleanup EXIT
tm() {
	tmux -L "$TM" "$@"
}

# console NAME ARG...: a console in a 120x40 window NAME, its stderr in
# BK_DIR/console-NAME.err; when it exits, the pane says "EXITED status".
console() {
	_n=$1
	shift
	tm new-session -d -s "$_n" -x 120 -y 40 \
	    "env TERM=xterm-256color LANG=C.UTF-8 $BEEKEEPER $* \
2>$BK_DIR/console-$_n.err; echo EXITED \$?; sleep 600"
}
screen() {
	tm capture-pane -p -t "$1"
}
# shows NAME ERE: the screen of NAME has a line matching ERE.
shows() {
	screen "$1" | grep -Eq -e "$2"
}
# wait_shows NAME ERE DESC: pass once it does, within 10 s.
wait_shows() {
	if bk_wait_for 10 shows "$1" "$2"; then
		pass "$3"
	else
		not_ok "$3" "no line matches /$2/ in:" "$(screen "$1")"
	fi
}
keys() {
	_n=$1
	shift
	tm send-keys -t "$_n" "$@"
}

console admin -c "$ctl" -k "$key"
wait_shows admin "^ beekeeper  $ctl  connected  protocol 1  admin" \
    "the console opens, connected, with the protocol and the role"
shows admin "connected" || { echo "Bail out! no console"; exit 1; }
wait_shows admin "^F1Help F2Filter F3Cmd F4Sort F5Cancel" \
    "with the F-key bar at the bottom"
is "$(screen admin | wc -l)" 40 "the screen has the window's 40 lines"

# A pipeline's build, followed from running to its end.
repo=$BK_DIR/repo
bk_repo_init "$repo"
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - lint:
      run: echo lint ok
  - test:
      run: for i in 1 2 3 4 5 6; do echo "line $i"; sleep 0.5; done
YML
sha=$(bk_repo_commit "$repo" "two phases")
bk_push "$repo" acme/widget con-1
id=$(bk_wait_build "$sha")
wait_shows admin "^ +$id  acme/widget +main +${sha%"${sha#????????}"} running" \
    "the build shows up running"
keys admin Enter
wait_shows admin "^build $id  acme/widget" "Enter opens the build"
wait_shows admin "phase 2: test" "with its phases"
wait_shows admin "^ log of lint" "and the first task's log"
wait_shows admin "^lint ok$" "which holds what the task wrote"
keys admin Down Down
wait_shows admin "^line 2$" "another task's log, followed while it grows"
wait_shows admin "^line 6$" "to its end"
keys admin Escape
wait_shows admin "^ +$id  acme/widget .* passed " \
    "back in the builds view, the build has passed"

# Cap a pool from the keyboard.
keys admin 2
wait_shows admin "^ default +local +2 +4 +- " "the pools view, uncapped"
keys admin c
wait_shows admin "^cap default at how many instances\\?" \
    "c asks how many"
keys admin 1 Enter
wait_shows admin "^cap default 1: done" "and says it is done"
wait_shows admin "^ default +local +2 +4 +1 " "the pool shows its cap"
is "$("$BEEKEEPER" --json pools | js '[p["cap"] for p in d["pools"]]')" \
    "[1]" "the daemon has capped the pool"

# Drain an instance from the keyboard.
keys admin 3
wait_shows admin "^ local-default-1-" "the instances view"
inst=$(screen admin | sed -n 's/^ \(local-default-1-[0-9]*\) .*/\1/p')
keys admin d
wait_shows admin "^drain $inst\\? \\(y/n\\)" "d asks first"
keys admin y
wait_shows admin "^drain $inst: done" "y drains it"
gone() {
	[ "$("$BEEKEEPER" --json instances | js "[i['state'] for i in
	    d['instances'] if i['id'] == '$inst']")" != '["ready"]' ]
}
ok "the daemon drained the instance" bk_wait_for 10 gone
"$BEEKEEPER" --json audit >"$BK_DIR/audit.json"
is "$(js '[[a["cmd"], a["who"], a["ok"]] for a in d["audit"]
    if a["cmd"] in ("cap", "drain")]' <"$BK_DIR/audit.json")" \
    '[["drain", "local", true], ["cap", "local", true]]' \
    "the audit records both, as the admin's"
keys admin 5
wait_shows admin " audit +put .*drain instance=$inst: ok, by local" \
    "the events view shows the audit record"

# Tagged rows: one drain for both instances, asked once.
keys admin 3 g Space Space
tagged() {
	screen admin | sed -n 's/^\*\(local-default-[0-9]*-[0-9]*\) .*/\1/p'
}
two_tagged() {
	[ "$(tagged | wc -w)" -eq 2 ]
}
ok "Space tags two instances" bk_wait_for 10 two_tagged
tagged=$(tagged)
keys admin d
wait_shows admin "^drain 2 instances\\? \\(y/n\\)" "d asks once for both"
keys admin y
both_gone() {
	for _i in $tagged; do
		[ "$("$BEEKEEPER" --json instances | js "[i['state'] for i in
		    d['instances'] if i['id'] == '$_i']")" != '["ready"]' ] ||
		    return 1
	done
}
ok "the daemon drained both" bk_wait_for 10 both_gone
no_tags() {
	! screen admin | grep -q '^\*'
}
ok "and the tags went with the instances" bk_wait_for 10 no_tags

# retry goes to the daemon, whose answer is shown whatever it is.
keys admin : r e t r y Space "$id" Enter
wait_shows admin "^retry $id\\? \\(y/n\\)" ":retry asks first"
keys admin y
wait_shows admin "^retry $id: (done|[a-z].*)" \
    "and shows the daemon's answer"
keys admin : c a p Space d e f a u l t Enter
wait_shows admin "^usage: :cap POOL N$" "a bad command says why"

# Help, from the table, and the filter.
keys admin 1 '?'
wait_shows admin "^   F5, x +Cancel +cancel the selected or tagged builds" \
    "? shows the keys of the view"
wait_shows admin "^   :drain-pool POOL +drain every live instance" \
    "and the commands"
keys admin Escape /
keys admin n o - s u c h Enter
wait_shows admin "^  \\(nothing here\\)" "/ filters the rows out"
keys admin / C-u a c m e Enter
wait_shows admin "^ +$id  acme/widget" "and back in"

# Sizes.
tm resize-window -t admin -x 80 -y 24
wait_shows admin "^F1Help F2Filter F3Cmd" "80x24: the F-key bar"
is "$(screen admin | wc -l)" 24 "80x24: 24 lines"
like "$(screen admin | head -n 1)" "^ beekeeper  $ctl  connected" \
    "80x24: the header"
tm resize-window -t admin -x 200 -y 60
wait_shows admin "^F1Help F2Filter F3Cmd" "200x60: the F-key bar"
is "$(screen admin | wc -l)" 60 "200x60: 60 lines"
like "$(screen admin | head -n 1)" "^ beekeeper  $ctl  connected" \
    "200x60: the header"
tm resize-window -t admin -x 50 -y 10
wait_shows admin "^terminal too small: 50x10" "50x10: too small, it says"
tm resize-window -t admin -x 120 -y 40
wait_shows admin "^F1Help" "120x40 again: whole again"

# The daemon goes away and comes back with a new state.
keys admin 2
bk_stop
wait_shows admin "^ beekeeper  $ctl  disconnected, retrying" \
    "the daemon stopped: disconnected, retrying"
bk_sql "UPDATE pools SET cap = 3 WHERE name = 'default'"
bk_restart
wait_shows admin "^ beekeeper  $ctl  connected" "it is back: connected"
wait_shows admin "^ default +local +2 +4 +3 " \
    "and the console shows its new state (cap 3, set while it was away)"

# A viewer's console: it may look, not act.
printf '%064d\n' 0 >"$BK_DIR/wrong.key"
console viewer -c "$ctl" -k "$BK_DIR/wrong.key"
wait_shows viewer "^ beekeeper  $ctl  connected  protocol 1  viewer" \
    "a console with the wrong key is a viewer's"
keys viewer 2
wait_shows viewer "^ default +local" "it sees the pools"
keys viewer 5
wait_shows viewer "^ [0-9:]+ +a[0-9]+  audit +put .*cap pool=default n=1: ok, by local" \
    "its events start with the commands given before it came"
keys viewer 2
unlike "$(screen viewer | tail -n 1)" "Cap" "the F-key bar hides actions"
keys viewer c
wait_shows viewer "^read-only: Cap needs the control key" \
    "c says it is read-only"
keys viewer : c a p Space d e f a u l t Space 9 Enter
wait_shows viewer "^read-only: cap needs the control key" \
    "so does :cap"
is "$("$BEEKEEPER" --json pools | js '[p["cap"] for p in d["pools"]]')" \
    "[3]" "and the pool is unchanged"

# No colours with NO_COLOR, and ASCII lines without UTF-8.
tm new-session -d -s plain -x 120 -y 40 "env NO_COLOR=1 LANG=C LC_ALL=C \
TERM=xterm-256color $BEEKEEPER -c $ctl -k $key 2>$BK_DIR/console-plain.err; \
echo EXITED \$?; sleep 600"
wait_shows plain "^ beekeeper  $ctl  connected" "a console with NO_COLOR"
keys plain : b u i l d Space "$id" Enter
wait_shows plain "^   \`- lint " "in the C locale, the tree is ASCII"
unlike "$(tm capture-pane -e -p -t plain)" "$(printf '\033')\\[[^m]*3[0-7]" \
    "and NO_COLOR: no colour at all"
like "$(tm capture-pane -e -p -t admin)" "$(printf '\033')\\[[^m]*3[0-7]" \
    "while the other console has colours"
keys plain q

# The terminal is given back: q, and SIGTERM.
keys admin q
wait_shows admin "^EXITED 0$" "q quits, exit 0"
unlike "$(screen admin)" "F1Help" "and the screen is the shell's again"
pane=$(tm list-panes -t viewer -F '#{pane_pid}')
kill -TERM "$(pgrep -P "$pane" -x beekeeper || pgrep -P "$pane")"
wait_shows viewer "^EXITED 0$" "SIGTERM quits, exit 0"

# A terminal terminfo does not know: said, and no screen taken.
tm new-session -d -s badterm -x 120 -y 40 "env TERM=nosuchterm \
$BEEKEEPER -c $ctl -k $key; echo EXITED \$?; sleep 600"
wait_shows badterm "^beekeeper: cannot use the terminal: TERM=nosuchterm" \
    "an unknown TERM is said"
wait_shows badterm "^EXITED 1$" "and the console exits 1"

# Without a terminal and a command: usage, as before.
"$BEEKEEPER" </dev/null >"$BK_DIR/out" 2>&1
rc=$?
is "$rc $(head -n 1 "$BK_DIR/out")" "1 usage: beekeeper [-j] [-c endpoint] \
[-k keyfile] [-s serverkey] [command [argument ...]]" \
    "no terminal, no command: usage"
is "$(cat "$BK_DIR"/console-*.err)" "" "the consoles wrote nothing on stderr"
bk_finish
