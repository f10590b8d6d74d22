#!/bin/sh
# 50-bus: the bus, driven by tests/tools/bus-client.py, a client written
# from beekeeper-protocol(7) alone. A copy of the state kept by the Clone
# pattern through a whole pipeline equals a fresh snapshot, with every seq
# in order; hello, snapshot and the queries say what the store says; the
# commands change the daemon, and each is audited and published; malformed
# requests get an error reply in words and the daemon serves on; a
# subscriber that stops reading while the daemon publishes a lot notices
# the gap and resyncs, while others are served; a restart is a gap too.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
bk_require_daemon
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
command -v pgrep >/dev/null 2>&1 || skip_all "pgrep is not installed"
"$PY" -c 'import zmq' 2>/dev/null ||
    skip_all "$PY has no zmq module (Debian's python3-zmq)"
plan 132

# bus ARG...: the client. req FRAME...: the replies to the FRAMEs, sent
# on one REQ socket to the control endpoint, with the control key (an
# admin's); vreq FRAME...: the same without (a viewer's). j JSON EXPR: the
# value of the Python EXPR over JSON, as d. jf FILE EXPR: the same over a
# file.
bus() {
	"$PY" "$BK_TOOLS/bus-client.py" "$@"
}
req() {
	bus request --control "$CTL" --key-file "$KEY_FILE" "$@"
}
vreq() {
	bus request --control "$CTL" "$@"
}
j() {
	printf '%s\n' "$1" | bus json "$2"
}
jf() {
	bus json "$2" "$1"
}
# error_reply REPLY: the reply says no, with a sentence.
error_reply() {
	[ "$(j "$1" 'd.get("ok") is False and isinstance(d.get("error"), str)
	    and len(d["error"].split()) >= 2 and "\n" not in d["error"]')" = true ]
}
# refused DESC REPLY: pass when REPLY is an error reply.
refused() {
	if error_reply "$2"; then
		pass "$1"
	else
		not_ok "$1" "reply: $2"
	fi
}
# accepted DESC REPLY: pass when REPLY says ok.
accepted() {
	if [ "$(j "$2" 'd.get("ok")')" = true ]; then
		pass "$1"
	else
		not_ok "$1" "reply: $2"
	fi
}
# report_equal FILE DESC: the follower's copy equalled the snapshot.
report_equal() {
	if [ "$(jf "$1" 'd["equal"]')" = true ]; then
		pass "$2"
	else
		not_ok "$2" "$(jf "$1" '"\n".join(d["differences"] + d["events"])')"
	fi
}
# row JSON FIELDS: the object's FIELDS (Python list) as bk_sql prints a
# row: "|" between them, null as nothing, booleans as 0 and 1.
row() {
	j "$1" '"|".join("" if v is None else str(int(v)) if isinstance(v, bool)
	    else str(v) for v in (d.get(f) for f in '"$2"'))'
}

# Two free loopback ports for the bus, fixed so that a restart keeps them.
ports=$("$PY" -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s:
	x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
BK_BUS_PUBLISH=tcp://127.0.0.1:${ports% *}
BK_BUS_CONTROL=tcp://127.0.0.1:${ports#* }
CTL=$BK_BUS_CONTROL
BK_AUTO_APPROVE=true
BK_TEST_TIMEOUT=${BK_TEST_TIMEOUT:-240}
bk_start
marker=$$
KEY_FILE=$BK_STATE/control.key
key=$(cat "$KEY_FILE" 2>/dev/null)

# ------------------------------------------------------ hello and roles

is "$(stat -c %a "$KEY_FILE" 2>&1)" 600 "the daemon made control.key, 0600"
is "$(wc -c <"$KEY_FILE" | tr -d ' '),$(grep -Ec '^[0-9a-f]{64}$' \
    "$KEY_FILE")" 65,1 "it holds 64 hexadecimal digits and a newline"
r=$(req '{"cmd": "hello"}')
accepted "hello is answered" "$r"
is "$(j "$r" 'd.get("protocol")')" 1 "protocol 1"
# bus.publish says tcp://127.0.0.1:PORT; the daemon may name it as bound,
# an IPv6 socket's tcp://[::ffff:127.0.0.1]:PORT.
like "$(j "$r" 'd.get("publish")')" \
    "^tcp://(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):${BK_BUS_PUBLISH##*:}\$" \
    "publish is the endpoint of bus.publish"
is "$(row "$r" '["name", "role"]')" "local|admin" \
    "with the key and without a name, the client is local, an admin"
is "$(row "$(vreq '{"cmd": "hello"}')" '["ok", "name", "role"]')" \
    "1|viewer|viewer" "without the key, a viewer"
is "$(row "$(vreq --key "$(printf '%064d' 0)" '{"cmd": "hello"}')" \
    '["ok", "role"]')" "1|viewer" "with a wrong key, a viewer"
is "$(j "$r" 'type(d.get("seq")) is int and d["seq"] >= 0')" true \
    "seq is the last seq published, a number"
r=$(req '{"cmd": "hello", "name": "tester", "id": {"n": [1, "a"]}}')
is "$(j "$r" '[d.get("name"), d.get("id")]')" '["tester", {"n": [1, "a"]}]' \
    "a name is echoed, and an id of any type is copied into the reply"
r=$(bus request --dealer --control "$CTL" '{"cmd": "hello", "id": 7}' \
    '{"cmd": "hello", "id": 8}')
is "$(printf '%s\n' "$r" |
    bus json --lines '[x["id"] for x in d if x["ok"]]')" "[7, 8]" \
    "a DEALER socket with an empty frame is served too, in turn"

# ------------------------------------------------- following a pipeline

repo=$BK_DIR/repo
bk_repo_init "$repo"
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - lint:
      run: echo "lint $SHA"; printf 'caf\303\251 \377 end\n'
  - test:
      subtasks:
        - unit:
            run: sleep 1; echo unit
        - flaky:
            critical: false
            run: sleep 1; exit 3
  - package:
      run: echo packaged
YML
sha=$(bk_repo_commit "$repo" "three phases")
bus follow --control "$CTL" --until-builds-finished 1 --timeout 60 \
    --ready "$BK_DIR/f1.ready" --out "$BK_DIR/f1.json" 2>"$BK_DIR/f1.err" &
fpid=$!
ok "a follower subscribes and takes its snapshot" \
    bk_wait_for 15 test -s "$BK_DIR/f1.ready"
bk_push "$repo" acme/widget b-1
is "$BK_STATUS" 202 "the push is accepted"
id=$(bk_wait_build "$sha")
ok "the build finishes" bk_wait_for 30 bk_build_done "$id"
wait "$fpid"
is "$?" 0 "the follower's copy has the build finished"
diag <"$BK_DIR/f1.err"
F1=$BK_DIR/f1.json
report_equal "$F1" "after the pipeline, the copy equals a fresh snapshot"
is "$(jf "$F1" '[d["gaps"], d["resyncs"], d["restarts"]]')" "[0, 0, 0]" \
    "no gap, no resync"
is "$(jf "$F1" 'd["contiguous"] and
    d["first_seq"] == d["snapshot_seq"] + 1')" true \
    "each message's seq is the one before plus one, from the snapshot's"
is "$(jf "$F1" 'd["final_seq"] == d["last_seq"] and d["applied"] > 10')" \
    true "the copy was compared at the snapshot's seq, after many messages"
is "$(jf "$F1" '{"build", "task", "pool", "instance"} <= set(d["topics"])')" \
    true "builds, tasks, pools and instances were published"
is "$(jf "$F1" 'd["build_states"]["'"$id"'"][-2:]')" \
    '["running", "passed"]' "the build was seen running, then passed"
is "$(jf "$F1" 'd["publish"]')" "$(j "$(req '{"cmd": "hello"}')" \
    'd["publish"]')" "the follower subscribed where hello said"

# ------------------------------------------------------------ commands

bus follow --control "$CTL" --key-file "$KEY_FILE" --until-audit 9 \
    --timeout 90 --ready "$BK_DIR/f2.ready" --out "$BK_DIR/f2.json" \
    2>"$BK_DIR/f2.err" &
fpid=$!
bk_wait_for 15 test -s "$BK_DIR/f2.ready" ||
    diag "the audit follower is not ready"

vcap=$(vreq '{"cmd": "cap", "pool": "default", "n": 5}')
refused "a viewer's cap is refused" "$vcap"
like "$(j "$vcap" 'd["error"]')" \
    "^only an admin may cap: send the control key" \
    "saying that only an admin may"
wcap=$(vreq --key "$(printf '%064d' 0)" \
    '{"cmd": "cap", "pool": "default", "n": 6}')
refused "a cap with a wrong key is refused" "$wcap"
is "$(bk_sql "SELECT count(*) FROM pools WHERE cap IS NOT NULL")" 0 \
    "neither capped the pool"

r=$(req '{"cmd": "cap", "pool": "default", "n": 2}')
accepted "cap default 2" "$r"
is "$(bk_sql "SELECT cap FROM pools WHERE name = 'default'")" 2 \
    "the cap is stored"
is "$(j "$(req '{"cmd": "pools"}')" \
    '[p["cap"] for p in d["pools"] if p["name"] == "default"]')" "[2]" \
    "and shown by pools"
r=$(req '{"cmd": "uncap", "pool": "default"}')
accepted "uncap default" "$r"
is "$(bk_sql "SELECT count(*) FROM pools WHERE name = 'default'
    AND cap IS NOT NULL")" 0 "the cap is gone from the store"
is "$(j "$(req '{"cmd": "pools"}')" \
    '[p["cap"] for p in d["pools"] if p["name"] == "default"]')" "[null]" \
    "and from pools"
nopool=$(req '{"cmd": "cap", "pool": "nosuch", "n": 1}')
refused "cap of a pool that does not exist is refused" "$nopool"

cat >"$repo/beekeeper.yml" <<YML
push:
  - slow:
      run: echo started; sleep 57.$marker
  - after:
      run: echo never
YML
sha=$(bk_repo_commit "$repo" "slow")
bk_push "$repo" acme/widget b-2
cid=$(bk_wait_build "$sha")
ok "a slow build runs" bk_wait_for 20 bk_task_running "$cid" slow
r=$(req "{\"cmd\": \"cancel\", \"build\": $cid}")
accepted "cancel the running build" "$r"
ok "it ends" bk_wait_for 20 bk_build_done "$cid"
is "$(bk_sql "SELECT state FROM builds WHERE id = $cid")" cancelled \
    "cancelled"
is "$(bk_task state "$cid" slow)" cancelled "its running task is cancelled"
ok "its process is gone" bk_wait_for 10 bk_no_process "sleep 57.$marker"
nobuild=$(req '{"cmd": "cancel", "build": 999999}')
refused "cancel of a build that does not exist is refused" "$nobuild"

r=$(req '{"cmd": "reject", "project": "acme/widget"}')
accepted "reject acme/widget" "$r"
is "$(bk_sql "SELECT state FROM projects WHERE repo = 'acme/widget'")" \
    rejected "the store has it rejected"
sha=$(bk_repo_commit "$repo" "while rejected")
bk_push "$repo" acme/widget b-3
is "$BK_STATUS" 202 "a push of the rejected project is accepted"
ok "and processed" bk_wait_for 10 sh -c "[ \"\$(\"$SQLITE3\" \
    \"$BK_STATE/beekeeper.db\" \
    \"SELECT state FROM deliveries WHERE id = 'b-3'\")\" = processed ]"
sleep 1
is "$(bk_sql "SELECT count(*) FROM builds WHERE sha = '$sha'")" 0 \
    "but not built"
r=$(req '{"cmd": "approve", "project": "acme/widget"}')
accepted "approve acme/widget" "$r"
is "$(bk_sql "SELECT state FROM projects WHERE repo = 'acme/widget'")" \
    approved "the store has it approved"

wait "$fpid"
is "$?" 0 "the follower received nine audit records"
diag <"$BK_DIR/f2.err"
F2=$BK_DIR/f2.json
report_equal "$F2" "its copy equals a fresh snapshot"
audit=$(vreq '{"cmd": "audit", "limit": 9}')
accepted "audit is answered, to a viewer too" "$audit"
is "$(j "$audit" '" ".join(a["cmd"] for a in d["audit"])')" \
    "approve reject cancel cancel cap uncap cap cap cap" \
    "it has the nine commands, newest first"
is "$(j "$audit" '[a["ok"] for a in d["audit"]]')" \
    "[true, true, false, true, false, true, true, false, false]" \
    "accepted and refused"
is "$(j "$audit" '" ".join(a["who"] for a in d["audit"])')" \
    "local local local local local local local viewer viewer" \
    "sent by local (with the key) or viewer"
is "$(j "$audit" '[(a["args"].get("pool"), a["args"].get("n"))
    for a in d["audit"][-5:]]')" \
    '[["nosuch", 1], ["default", null], ["default", 2], ["default", 6],'\
' ["default", 5]]' \
    "with their arguments"
is "$(j "$audit" 'sorted(set(m for a in d["audit"] for m in a["args"]
    if m in ("key", "cmd", "id")))')" "[]" "but not key, cmd nor id"
is "$(printf '%s\n' "$audit" "$nobuild" "$nopool" "$wcap" "$vcap" |
    bus json --lines '[a["result"] for a in d[0]["audit"]] == [None, None,
    d[1]["error"], None, d[2]["error"], None, None, d[3]["error"],
    d[4]["error"]]')" true \
    "a refusal's result is its reply's error, an acceptance's null"
is "$(j "$audit" 'all(abs(a["time"] - __import__("time").time() * 1000)
    < 600000 for a in d["audit"])')" true "and a time in milliseconds"
is "$(j "$audit" 'sorted(a["id"] for a in d["audit"])')" \
    "$(jf "$F2" 'sorted(a["id"] for a in d["audit"])')" \
    "the same records were published on the audit topic"
is "$(printf '%s\n%s\n' "$(jf "$F2" 'd["audit"]')" "$audit" |
    bus json --lines '[a == b for a in d[0] for b in d[1]["audit"]
    if a["id"] == b["id"]]')" \
    "[true, true, true, true, true, true, true, true, true]" \
    "with the same members"
unlike "$(cat "$BK_DIR/f2.json")$audit" "$key" \
    "the key is in no audit record, published or stored"
unlike "$(cat "$BK_LOG")" "$key" "nor in the daemon's log"
is "$(j "$(req '{"cmd": "audit", "limit": 1000}')" \
    '[a["cmd"] for a in d["audit"] if a["cmd"] in ("hello", "snapshot",
    "pools", "audit", "builds", "build", "log")]')" "[]" \
    "queries are not audited"
ok "no build is left running" bk_wait_for 30 sh -c "[ \"\$(\"$SQLITE3\" \
    \"$BK_STATE/beekeeper.db\" \"SELECT count(*) FROM builds
    WHERE state IN ('fetching', 'running')\")\" = 0 ]"

# ------------------------------------------------- queries and the store

snap=$(req '{"cmd": "snapshot"}')
accepted "snapshot is answered" "$snap"
is "$(j "$snap" '[type(d.get("seq")).__name__] + [type(d.get(k)).__name__
    for k in ("builds", "tasks", "pools", "instances", "projects")]')" \
    '["int", "list", "list", "list", "list", "list"]' \
    "it has seq and the five arrays"
is "$(j "$snap" '[d["github"][k] for k in ("name", "enabled", "backlog",
    "ratelimit_remaining", "ratelimit_reset", "held_until")]')" \
    '["github", false, 0, null, null, null]' \
    "and the github object: no credentials, nothing waiting"
members() {
	j "$snap" 'sorted(set(m for o in d["'"$1"'"] for m in '"$2"'
	    if m not in o)) if d["'"$1"'"] else "empty"'
}
is "$(members builds '["id", "project", "event", "ref", "pr", "sha",
    "state", "phase", "reason", "approval", "sender", "created_at",
    "started_at", "finished_at"]')" "[]" "each build has the page's members"
is "$(members tasks '["id", "build", "phase", "phase_name", "slug", "name",
    "image", "profile", "critical", "state", "exit_status", "reason",
    "attempt", "instance", "queued_at", "started_at", "finished_at"]')" \
    "[]" "each task has the page's members"
is "$(members pools '["name", "driver", "slots", "min", "max", "cap",
    "instances", "busy", "queued"]')" "[]" "each pool has the page's members"
is "$(members instances '["id", "pool", "state", "slots", "busy",
    "reason"]')" "[]" "each instance has the page's members"
is "$(members projects '["repo", "state"]')" "[]" \
    "each project has the page's members"
is "$(j "$snap" '" ".join(str(b["id"]) for b in
    sorted(d["builds"], key=lambda b: b["id"]))')" \
    "$(bk_sql "SELECT id FROM builds ORDER BY id" | tr '\n' ' ' |
    sed 's/ $//')" "the snapshot has every build (fewer than 100)"
is "$(j "$snap" '" ".join(str(t["id"]) for t in
    sorted(d["tasks"], key=lambda t: t["id"]))')" \
    "$(bk_sql "SELECT id FROM tasks ORDER BY id" | tr '\n' ' ' |
    sed 's/ $//')" "and their tasks"
is "$(j "$snap" '" ".join(sorted(i["id"] for i in d["instances"]))')" \
    "$(bk_sql "SELECT id FROM instances WHERE state NOT IN
    ('terminated', 'lost') ORDER BY id" | tr '\n' ' ' | sed 's/ $//')" \
    "the instances not terminated nor lost"
is "$(j "$snap" '" ".join(sorted(p["repo"] + "=" + p["state"]
    for p in d["projects"]))')" \
    "$(bk_sql "SELECT repo || '=' || state FROM projects ORDER BY repo" |
    tr '\n' ' ' | sed 's/ $//')" "the projects and their states"
is "$(j "$(vreq '{"cmd": "instances"}')" '" ".join(sorted(i["id"]
    for i in d["instances"]))')" "$(bk_sql "SELECT id FROM instances
    WHERE state NOT IN ('terminated', 'lost') ORDER BY id" | tr '\n' ' ' |
    sed 's/ $//')" "instances says the same"
is "$(j "$(vreq '{"cmd": "projects"}')" '" ".join(sorted(p["repo"] + "=" +
    p["state"] for p in d["projects"]))')" "$(bk_sql "SELECT repo || '=' ||
    state FROM projects ORDER BY repo" | tr '\n' ' ' | sed 's/ $//')" \
    "and projects"
is "$(j "$snap" '[(p["name"], p["driver"], p["slots"], p["min"], p["max"],
    p["cap"]) for p in d["pools"]]')" '[["default", "local", 2, 0, 1, null]]' \
    "the pool as configured"

r=$(req "{\"cmd\": \"build\", \"build\": $id}")
accepted "build is answered" "$r"
bfields='["id", "project", "event", "ref", "pr", "sha", "state", "phase",
    "reason", "approval", "sender", "created_at", "started_at",
    "finished_at"]'
is "$(j "$r" 'd["build"]' | { read -r b; row "$b" "$bfields"; })" \
    "$(bk_sql "SELECT id, project, event, ref, pr, sha, state, phase, reason,
    approval, sender, created_at, started_at, finished_at
    FROM builds WHERE id = $id")" "the build is as stored"
tfields='["id", "build", "phase", "phase_name", "slug", "name", "profile",
    "critical", "state", "exit_status", "reason", "attempt", "queued_at",
    "started_at", "finished_at"]'
is "$(j "$r" '"\n".join(json.dumps(t) for t in
    sorted(d["tasks"], key=lambda t: t["id"]))' |
    while read -r t; do row "$t" "$tfields"; done)" \
    "$(bk_sql "SELECT id, build_id, phase, phase_name, slug, name, profile,
    critical, state, exit_status, reason, attempt, queued_at, started_at,
    finished_at FROM tasks WHERE build_id = $id ORDER BY id")" \
    "its tasks are as stored"
is "$(j "$(req '{"cmd": "builds"}')" '" ".join(str(b["id"])
    for b in d["builds"])')" \
    "$(bk_sql "SELECT id FROM builds ORDER BY id DESC LIMIT 50" |
    tr '\n' ' ' | sed 's/ $//')" "builds: newest first"
is "$(j "$(req '{"cmd": "builds", "project": "acme/widget",
    "state": "cancelled"}')" '[b["id"] for b in d["builds"]]')" \
    "[$cid]" "builds of a project in a state"
is "$(j "$(req '{"cmd": "builds", "limit": 1}')" \
    '[b["id"] for b in d["builds"]]')" \
    "[$(bk_sql "SELECT max(id) FROM builds")]" "builds, at most limit"
is "$(j "$(req '{"cmd": "builds", "project": "acme/none"}')" 'd["builds"]')" \
    "[]" "builds of a project without any: none"
refused "build of an id that does not exist is refused" \
    "$(req '{"cmd": "build", "build": 999999}')"

log=$BK_STATE/logs/$id/$(bk_task id "$id" lint).log
r=$(req "{\"cmd\": \"log\", \"build\": $id, \"task\": \"lint\"}")
accepted "log is answered" "$r"
# Replaced bytes may become U+FFFD or "?": both compare as "?".
printf '%s\n' "$r" | bus json -n 'd["data"].replace("\ufffd", "?")' \
    >"$BK_DIR/log.data"
"$PY" -c 'import sys
sys.stdout.write(open(sys.argv[1], "rb").read().decode("utf-8", "replace")
    .replace("\ufffd", "?"))' "$log" >"$BK_DIR/log.want"
same_text "$BK_DIR/log.data" "$BK_DIR/log.want" \
    "the task's log, with bytes that are not UTF-8 replaced"
size=$(wc -c <"$log" | tr -d ' ')
is "$(row "$r" '["offset", "next", "size", "finished"]')" "0|$size|$size|1" \
    "from offset 0, next and size the log's size, finished"
r=$(req "{\"cmd\": \"log\", \"build\": $id, \"task\": \"test:unit\",
    \"offset\": 2}")
is "$(j "$r" '[d["offset"], d["data"]]')" "$("$PY" -c 'import json, sys
print(json.dumps([2, open(sys.argv[1], "rb").read()[2:].decode()]))' \
    "$BK_STATE/logs/$id/$(bk_task id "$id" test:unit).log")" \
    "an offset: the log from there"
refused "log of a task that does not exist is refused" \
    "$(req "{\"cmd\": \"log\", \"build\": $id, \"task\": \"nope\"}")"

# --------------------------------------------------------- bad requests

req --dealer 'not json at all' '[1, 2, 3]' '"cmd"' '{}' '{"cmd": 7}' \
    '{"cmd": "frobnicate", "id": "x-1"}' '{"cmd": "build", "build": "seven"}' \
    '{"cmd": "builds", "limit": "ten"}' '{"cmd": "hello", "name": 5}' \
    '{"cmd": "log", "build": 1, "task": 5}' \
    '{"cmd": "cap", "pool": "default", "n": "3"}' \
    '{"cmd": "cap", "pool": "default", "n": -1}' \
    '{"cmd": "cap", "pool": "default", "n": 100001}' \
    '{"cmd": "cap", "pool": "default"}' '{"cmd": "hello"} trailing' '' \
    '{"cmd": "hello", "id": "after"}' >"$BK_DIR/bad.out"
is "$(wc -l <"$BK_DIR/bad.out" | tr -d ' ')" 17 \
    "every request on one socket gets a reply"
n=0
for what in "not JSON" "an array" "a string" "no cmd" "a cmd not a string" \
    "an unknown command" "build with a string id" \
    "builds with a string limit" \
    "hello with a number for a name" "log with a number for a task" \
    "cap with a string n" "cap with n below 0" "cap with n above 100000" \
    "cap without n" "JSON then more" "an empty frame"; do
	n=$((n + 1))
	refused "$what: an error reply" "$(sed -n "${n}p" "$BK_DIR/bad.out")"
done
is "$(sed -n 6p "$BK_DIR/bad.out" | bus json 'd.get("id")')" x-1 \
    "an error reply carries the request's id"
r=$(sed -n 17p "$BK_DIR/bad.out")
is "$(row "$r" '["ok", "id"]')" "1|after" \
    "the socket is served as usual after them"
refused "a frame that is not UTF-8: an error reply" \
    "$(req --hex 7b22636d64223a202268656cff6c6f227d)"
refused "a frame of 10 MB: an error reply" \
    "$(req --pad 10485760 '{"cmd": "hello"}')"
refused "a frame of 1 MiB and one byte: an error reply" \
    "$(req --pad 1048577 '{"cmd": "hello"}')"
accepted "a request of 1 MiB is served" \
    "$(req --pad 1048576 '{"cmd": "hello"}')"
accepted "hello after them is answered" "$(req '{"cmd": "hello"}')"
ok "the daemon is alive" bk_alive

# ------------------------------------------------- a slow subscriber

bus slow --control "$CTL" --key-file "$KEY_FILE" --commands 20000 \
    --timeout 150 --out "$BK_DIR/slow.json" 2>"$BK_DIR/slow.err"
is "$?" 0 "a subscriber stops reading while 20000 commands are answered"
diag <"$BK_DIR/slow.err"
S=$BK_DIR/slow.json
is "$(jf "$S" '[d["answered"], d["refused"]]')" "[20000, 0]" \
    "every command is answered and accepted"
is "$(jf "$S" 'd["hellos"] > 0 and d["hellos_answered"] == d["hellos"]')" \
    true "a hello meanwhile is answered"
is "$(jf "$S" 'd["gaps"] > 0 and d["resyncs"] > 0')" true \
    "the slow subscriber notices a gap and resyncs"
report_equal "$S" "then its copy equals a fresh snapshot"
is "$(jf "$S" 'd["fast"]["equal"]')" true \
    "so does the copy of a subscriber that read all along"
diag "$(jf "$S" '"fast subscriber: %d gaps, %d applied; slow: %d applied, "
    "%d missed" % (d["fast"]["gaps"], d["fast"]["applied"], d["applied"],
    d["missed"])')"
is "$(bk_sql "SELECT count(*) FROM pools WHERE cap IS NOT NULL")" 0 \
    "the last command uncapped the pool"
ok "the daemon is alive" bk_alive

# ------------------------------------------------------------ a restart

before=$(j "$(req '{"cmd": "hello"}')" 'd["seq"]')
bus follow --control "$CTL" --until-resyncs 1 --timeout 60 \
    --ready "$BK_DIR/f3.ready" --out "$BK_DIR/f3.json" 2>"$BK_DIR/f3.err" &
fpid=$!
bk_wait_for 15 test -s "$BK_DIR/f3.ready" || diag "the follower is not ready"
# The follower must see a heartbeat past its snapshot before the stop:
# before that, a lower seq may be one published before the snapshot.
sleep 1.5
bk_stop
is "$?" 0 "the daemon stops cleanly under its subscribers"
bk_restart
is "$(cat "$KEY_FILE")" "$key" "the control key outlives a restart"
after=$(j "$(req --timeout 20 '{"cmd": "hello"}')" 'd["seq"]')
is "$(j "[$before, $after]" 'd[1] < d[0]')" true \
    "after a restart seq counts again from the start"
wait "$fpid"
is "$?" 0 "a follower across the restart resyncs"
diag <"$BK_DIR/f3.err"
is "$(jf "$BK_DIR/f3.json" 'd["restarts"]')" 1 \
    "for it saw the restart: a seq lower than the last it applied"
report_equal "$BK_DIR/f3.json" "and its copy equals a fresh snapshot"

bk_finish
