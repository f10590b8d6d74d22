#!/bin/sh
# 51-cli: the beekeeper tool against a daemon's control socket. Every
# command prints an aligned table (or a line) that names what the store
# holds, and with --json the daemon's reply; a refusal exits 1 with the
# daemon's sentence, a daemon that does not answer exits 2 and says so;
# commands act with the control key of BEEKEEPER_KEY_FILE or -k, and
# without the right one are refused; log -f follows a running task to its
# end, and watch prints what the daemon publishes about a build, as lines
# and as JSON.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${BEEKEEPER:=$top_builddir/beekeeper}"
PY=/usr/bin/python3
bk_require_daemon
[ -x "$BEEKEEPER" ] || skip_all "no beekeeper at $BEEKEEPER"
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
[ -x "$PY" ] || skip_all "no $PY to read JSON with"
plan 116

# free_port: a loopback TCP port nobody listens on, now.
free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# js EXPR: EXPR over the JSON document on stdin, d; strings as they are.
js() {
	"$PY" -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

# jslines EXPR FILE [ARG...]: EXPR over the list of JSON objects of
# FILE's lines, d; the ARGs are sys.argv[3:].
jslines() {
	"$PY" -c 'import json, sys
d = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))' "$@"
}

# bk ARG...: run the tool on the test's daemon; its output in OUT and
# ERR, its exit status in RC.
bk() {
	"$BEEKEEPER" "$@" >"$BK_DIR/out" 2>"$BK_DIR/err"
	RC=$?
	OUT=$(cat "$BK_DIR/out")
	ERR=$(cat "$BK_DIR/err")
}

pub=tcp://127.0.0.1:$(free_port)
ctl=tcp://127.0.0.1:$(free_port)
BK_BUS_PUBLISH=$pub
BK_BUS_CONTROL=$ctl
bk_start
BEEKEEPER_CONTROL=$ctl
BEEKEEPER_KEY_FILE=$BK_STATE/control.key
export BEEKEEPER_CONTROL BEEKEEPER_KEY_FILE

# Nothing listens: exit 2 and say where, without hanging.
dead=tcp://127.0.0.1:$(free_port)
bk -c "$dead" pools
is "$RC" 2 "a daemon that does not answer: exit 2"
is "$ERR" "beekeeper: cannot reach beekeeperd at $dead: no answer in 5 s" \
    "and it says so, with the endpoint"
BEEKEEPER_CONTROL=$dead "$BEEKEEPER" -c "$ctl" status >/dev/null 2>&1
is "$?" 0 "-c comes before BEEKEEPER_CONTROL"

# status, the first time: the bus as configured, nothing going on.
bk status
is "$RC" 0 "status answers"
like "$OUT" "^beekeeperd  $ctl \\(protocol 1, admin\\)$" \
    "status names the endpoint, the protocol and the role the key gives"
# The daemon names the endpoint as bound: an IPv6 socket's bus.publish
# tcp://127.0.0.1:PORT reads tcp://[::ffff:127.0.0.1]:PORT.
pubre="tcp://(127\\.0\\.0\\.1|\\[::ffff:127\\.0\\.0\\.1\\]):${pub##*:}"
like "$OUT" "^publish     $pubre$" "and where to subscribe"
like "$OUT" "^default +local +" "and the pools"
bk --json status
like "$(printf '%s' "$OUT" |
    js '[d["protocol"], d["publish"], d["endpoint"]]')" \
    "^\\[1, \"$pubre\", \"$ctl\"\\]$" \
    "status --json: protocol, publish, endpoint"

# The control key: the wrong one makes a viewer, who may look but not act;
# a key file that cannot be read is said, and nothing is sent.
printf '%064d\n' 0 >"$BK_DIR/wrong.key"
bk -k "$BK_DIR/wrong.key" status
like "$OUT" "\\(protocol 1, viewer\\)$" "with the wrong key: a viewer"
bk -k "$BK_DIR/wrong.key" cap default 1
is "$RC" 1 "a viewer's cap: exit 1"
like "$ERR" "^beekeeper: only an admin may cap: " "with the daemon's sentence"
bk -k "$BK_DIR/nope.key" uncap default
is "$RC" 1 "a key file that is missing: exit 1"
is "$ERR" "beekeeper: cannot read the control key: $BK_DIR/nope.key: \
No such file or directory" "and it says which"

# watch, as lines and as JSON, from before the first push. The probe
# (an accepted uncap, audited and published) shows both are subscribed.
"$BEEKEEPER" watch >"$BK_DIR/watch.txt" 2>"$BK_DIR/watch.err" &
w1=$!
"$BEEKEEPER" watch --json >"$BK_DIR/watch.json" 2>&1 &
w2=$!
watching() {
	"$BEEKEEPER" uncap default >/dev/null 2>&1
	sleep 0.2
	grep -q ' audit put ' "$BK_DIR/watch.txt" &&
	    grep -q '"topic": *"audit"' "$BK_DIR/watch.json"
}
ok "both watchers are subscribed" bk_wait_for 20 watching

# A push of a project not yet approved: held, and pending.
repo=$BK_DIR/repo
bk_repo_init "$repo"
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - lint:
      run: echo lint ok
  - test:
      run: for i in 1 2 3 4 5 6; do echo "line $i"; sleep 0.5; done; echo done
YML
sha=$(bk_repo_commit "$repo" "two phases")
bk_push "$repo" acme/widget c-1
is "$BK_STATUS" 202 "the push is accepted"
pending() {
	[ "$(bk_sql "SELECT state FROM projects WHERE repo = 'acme/widget'")" \
	    = pending ]
}
ok "the project waits for approval" bk_wait_for 10 pending
bk projects
like "$OUT" "^PROJECT +STATE$" "projects: a header"
like "$OUT" "^acme/widget +pending$" "projects: the project, pending"
bk projects --json
is "$(printf '%s' "$OUT" | js '[p["state"] for p in d["projects"]
    if p["repo"] == "acme/widget"]')" '["pending"]' \
    "projects --json: pending"
bk status
like "$OUT" "^projects    1 pending$" "status counts it"

# reject and approve.
other=$BK_DIR/other
bk_repo_init "$other"
cp "$repo/beekeeper.yml" "$other/"
bk_repo_commit "$other" "other" >/dev/null
bk_push "$other" acme/other c-2
ok "a second project waits" bk_wait_for 10 sh -c "[ \"\$(\"$SQLITE3\" \
    \"$BK_STATE/beekeeper.db\" \"SELECT state FROM projects
    WHERE repo = 'acme/other'\")\" = pending ]"
bk reject acme/other
is "$RC" 0 "reject: exit 0"
is "$OUT" "project acme/other: rejected" "reject says what it did"
is "$(bk_sql "SELECT state FROM projects WHERE repo = 'acme/other'")" \
    rejected "the project is rejected in the store"
bk reject acme/nobody
is "$RC" 1 "reject of an unknown project: exit 1"
like "$ERR" "^beekeeper: no project acme/nobody" "with the daemon's sentence"
bk approve acme/widget
is "$RC" 0 "approve a project: exit 0"
is "$OUT" "project acme/widget: approved" "approve says what it did"
is "$(bk_sql "SELECT state FROM projects WHERE repo = 'acme/widget'")" \
    approved "the project is approved in the store"
id=$(bk_wait_build "$sha")
isnt "$id" "" "its held push is built"

# log -f follows the running task to its end.
ok "the test task runs" bk_wait_for 20 bk_task_running "$id" test
"$BEEKEEPER" log -f --json "$id" test >"$BK_DIR/follow.json" &
fj=$!
bk log -f "$id" test
is "$RC" 0 "log -f: exit 0 when the task ends"
wait "$fj"
is "$?" 0 "log -f --json: exit 0 too"
tid=$(bk_task id "$id" test)
is "$(bk_task state "$id" test)" passed "log -f returned once the task ended"
printf '%s\n' "$OUT" >"$BK_DIR/followed"
same_text "$BK_DIR/followed" "$BK_STATE/logs/$id/$tid.log" \
    "log -f printed the whole log, as stored"
like "$OUT" "^line 1$" "from its first line"
like "$OUT" "^done$" "to its last"
is "$(jslines '[d[0]["finished"], d[-1]["finished"], len(d) > 2,
    "".join(m["data"] for m in d) == open(sys.argv[3]).read()]' \
    "$BK_DIR/follow.json" "$BK_STATE/logs/$id/$tid.log")" \
    "[false, true, true, true]" \
    "log -f --json: replies while it ran, then finished, the log whole"
bk log "$id" lint
is "$OUT" "lint ok" "log without -f: the log"
bk log "$id" lint --json
is "$(printf '%s' "$OUT" | js '[d["data"], d["offset"], d["finished"]]')" \
    '["lint ok\n", 0, true]' "log --json: data, offset, finished"
bk log "$id" nope
is "$RC" 1 "log of an unknown task: exit 1"
is "$ERR" "beekeeper: build $id has no task 'nope'" "with the sentence"

ok "the build finishes" bk_wait_for 20 bk_build_done "$id"

# builds and build, as tables and as JSON.
short=$(printf '%s' "$sha" | cut -c1-7)
bk builds
is "$RC" 0 "builds: exit 0"
like "$OUT" "^ID +PROJECT +EVENT +REF +SHA +STATE +TOOK +REASON$" \
    "builds: the header"
like "$OUT" "^$id +acme/widget +push +main +$short +passed +[0-9]" \
    "builds: the build's row"
bk builds -p acme/widget -s passed -n 1 --json
is "$(printf '%s' "$OUT" | js '[(b["id"], b["state"], b["sha"])
    for b in d["builds"]]')" "[[$id, \"passed\", \"$sha\"]]" \
    "builds -p -s -n --json: that build only"
bk builds -s running
is "$OUT" "ID  PROJECT  EVENT  REF  SHA  STATE  TOOK  REASON" \
    "builds -s running: none, a header alone"
bk builds -n 0
is "$RC" 1 "builds -n 0: exit 1"
like "$ERR" "^beekeeper: .*limit" "the daemon says why"
bk builds extra
is "$RC" 1 "builds with an argument: a usage error"
like "$ERR" "^usage: beekeeper builds " "and the usage"

bk build "$id"
is "$RC" 0 "build: exit 0"
like "$OUT" "^build     $id$" "build: its id"
like "$OUT" "^state     passed$" "its state"
like "$OUT" "^sha       $sha$" "its commit"
like "$OUT" "^1 +lint +passed +0 +default +" "the first task, phase 1"
like "$OUT" "^2 +test +passed +0 +default +" "the second, phase 2"
bk build "$id" --json
is "$(printf '%s' "$OUT" | js '([d["build"]["id"], d["build"]["state"]] +
    [t["slug"] + "=" + t["state"] for t in d["tasks"]])')" \
    "[$id, \"passed\", $(bk_sql "SELECT '\"' || slug || '=' || state || '\"'
    FROM tasks WHERE build_id = $id ORDER BY id" | paste -sd, - |
    sed 's/,/, /g')]" \
    "build --json: the build and its tasks, as stored"
bk build 999
is "$RC" 1 "build of an unknown build: exit 1"
is "$ERR" "beekeeper: no build 999" "with the daemon's sentence"
bk build
is "$RC" 1 "build without an id: a usage error"

# pools, cap and uncap.
bk cap default 3
is "$RC" 0 "cap: exit 0"
is "$OUT" "pool default: at most 3 instances" "cap says what it did"
is "$(bk_sql "SELECT cap FROM pools WHERE name = 'default'")" 3 \
    "the cap is stored"
bk pools
like "$OUT" "^POOL +DRIVER +SLOTS +MIN +MAX +CAP +INSTANCES +BUSY +QUEUED +SPEND/H +TODAY +BREAKER$" \
    "pools: the header"
like "$OUT" "^default +local +[0-9]+ +[0-9]+ +[0-9]+ +3 +[0-9]+ +0 +0 +\\\$0\\.00 +\\\$0\\.00 +closed$" \
    "pools: the cap, nothing busy or queued"
bk pools --json
is "$(printf '%s' "$OUT" | js '[(p["name"], p["cap"]) for p in d["pools"]]')" \
    '[["default", 3]]' "pools --json: the cap"
bk cap default abc
is "$RC" 1 "cap with a count that is not a number: exit 1"
like "$ERR" "^beekeeper: 'n' must be a whole number" "with the sentence"
bk cap nope 2
is "$RC" 1 "cap of an unknown pool: exit 1"
like "$ERR" "^beekeeper: no pool 'nope'" "with the sentence"
bk cap default
is "$RC" 1 "cap without a count: a usage error"
bk uncap default --json
is "$RC" 0 "uncap --json: exit 0"
is "$(printf '%s' "$OUT" | js 'd["ok"]')" true "uncap --json: the reply"
is "$(bk_sql "SELECT ifnull(cap, 'none') FROM pools WHERE name = 'default'")" \
    none "the cap is gone from the store"
bk pools
like "$OUT" "^default +local +[0-9]+ +[0-9]+ +[0-9]+ +- +" "pools: no cap"

# instances: as many rows as live instances in the store.
bk instances
like "$OUT" "^ID +POOL +STATE +SLOTS +BUSY +CLOUD-ID +COST +REASON$" \
    "instances: the header"
bk instances --json
is "$(printf '%s' "$OUT" | js 'len(d["instances"])')" \
    "$(bk_sql "SELECT count(*) FROM instances
    WHERE state NOT IN ('terminated', 'lost')")" \
    "instances --json: the live instances of the store"

# cancel a running build; cancel and approve refusals.
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - slow:
      run: sleep 51
YML
sha2=$(bk_repo_commit "$repo" "slow")
bk_push "$repo" acme/widget c-3
id2=$(bk_wait_build "$sha2")
ok "the slow task runs" bk_wait_for 20 bk_task_running "$id2" slow
bk status --json
is "$(printf '%s' "$OUT" |
    js '[d["builds"]["running"], d["tasks"]["running"]]')" \
    "[1, 1]" "status --json counts the running build and task"
bk cancel "$id2"
is "$RC" 0 "cancel: exit 0"
is "$OUT" "build $id2: cancelled" "cancel says what it did"
ok "the build ends" bk_wait_for 20 bk_build_done "$id2"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id2")" cancelled \
    "cancelled in the store"
bk cancel "$id"
is "$RC" 1 "cancel of a finished build: exit 1"
like "$ERR" "^beekeeper: build $id is not running" "with the sentence"
bk approve 999
is "$RC" 1 "approve of a build that does not wait: exit 1"
like "$ERR" "^beekeeper: build 999 " "with the sentence"

# drain, undrain, drain-pool an instance with a running task.
echo again >"$repo/again.txt"
sha3=$(bk_repo_commit "$repo" "slow again")
bk_push "$repo" acme/widget c-4
id3=$(bk_wait_build "$sha3")
ok "a slow task runs again" bk_wait_for 20 bk_task_running "$id3" slow
inst=$(bk_task instance "$id3" slow)
istate() {
	bk_sql "SELECT state FROM instances WHERE id = '$inst'"
}
bk drain "$inst"
is "$RC|$OUT" "0|instance $inst: draining" "drain: exit 0, and says so"
is "$(istate)" draining "the busy instance is draining"
bk undrain "$inst" --json
is "$RC|$(printf '%s' "$OUT" | js 'd["ok"]')" "0|true" \
    "undrain --json: the reply"
is "$(istate)" ready "the instance takes tasks again"
bk undrain "$inst"
is "$RC" 1 "undrain of an instance not draining: exit 1"
is "$ERR" "beekeeper: instance $inst is ready, not draining" \
    "with the sentence"
bk drain no-such-instance
is "$RC|$ERR" "1|beekeeper: no live instance 'no-such-instance'" \
    "drain of an unknown instance: exit 1 and the sentence"
bk drain-pool default
is "$RC|$OUT" "0|pool default: its instances are draining" \
    "drain-pool: exit 0, and says so"
is "$(istate)" draining "its busy instance drains"
bk cancel "$id3"
gone() {
	[ "$(istate)" = terminated ]
}
ok "once its task has ended the drained instance is terminated" \
    bk_wait_for 20 gone

# audit: every command above, newest first.
bk audit
like "$OUT" "^ID +TIME +WHO +COMMAND +RESULT$" "audit: the header"
like "$OUT" "^[0-9]+ +[0-9-]+ [0-9:]+ +local +cap pool=default n=3 +ok$" \
    "audit: an accepted cap, with its arguments"
like "$OUT" "^[0-9]+ .* cap pool=nope n=2 +refused: no pool 'nope'" \
    "audit: a refused one, with the reason"
bk audit -n 2 --json
is "$(printf '%s' "$OUT" | js '[a["id"] for a in d["audit"]]')" \
    "[$(bk_sql "SELECT id FROM audit ORDER BY id DESC LIMIT 2" |
    paste -sd, - | sed 's/,/, /g')]" "audit -n 2 --json: the newest two"

# What the watchers saw of the first build.
kill "$w1" "$w2"
wait "$w1" "$w2" 2>/dev/null
w=$(cat "$BK_DIR/watch.txt")
like "$w" "^[0-9]+ project put acme/widget approved$" \
    "watch: the project approved"
like "$w" "^[0-9]+ build put $id acme/widget [a-z/]*main running" \
    "watch: the build running"
like "$w" "^[0-9]+ task put $tid build=$id test running" \
    "watch: its task running"
like "$w" "^[0-9]+ build put $id acme/widget [a-z/]*main passed" \
    "watch: the build passed"
like "$w" "^[0-9]+ audit put [0-9]+ local cap pool=default n=3 ok$" \
    "watch: a command, audited"
like "$w" "^[0-9]+ pool put default instances=[0-9]+ busy=0 queued=0 cap=3$" \
    "watch: the pool, capped"
is "$(cat "$BK_DIR/watch.err")" "" "watch: no gap, nothing on stderr"
is "$(jslines 'all(m["seq"] == p["seq"] + 1 for p, m in zip(d, d[1:]))' \
    "$BK_DIR/watch.json")" true "watch --json: one object a line, in seq order"
is "$(jslines '[m["data"]["state"] for m in d if m["topic"] == "build"
    and m["data"]["id"] == '"$id"'][-1]' "$BK_DIR/watch.json")" passed \
    "watch --json: the build's last state"
is "$(jslines 'sorted(set(m["topic"] for m in d))' "$BK_DIR/watch.json")" \
    '["audit", "build", "instance", "pool", "project", "task"]' \
    "watch --json: every topic but heartbeats"

bk_finish
