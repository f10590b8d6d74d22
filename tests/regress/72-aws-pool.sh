#!/bin/sh
# 72-aws-pool: the daemon's aws pools against the AWS double. A burst of
# 20 tasks on a pool with max 5 launches exactly 5 instances and runs all
# 20 as ECS tasks, their output copied into the daemon's logs; idle
# instances end after idle_timeout but never below min; drain tells ECS
# (DRAINING) and ends the instance once empty; a lowered cap drains the
# extra instances without killing a task; an orphan with our tag and an
# expired lease is terminated, one with a valid lease adopted; kill -9 in
# the middle of a scale-up, then a restart, adopts what was launched with
# no duplicate and no leak; a throttling storm delays but completes; a
# spot interruption retries its task on-demand and the build passes; the
# cost figures add up; an error of ECS ends its task with ECS's words; a
# launch that keeps failing opens the pool's circuit breaker, visible on
# the bus.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CALL=$top_builddir/tests/tools/aws-call
BK_PYTHON=${BK_PYTHON:-/usr/bin/python3}
bk_require_daemon
[ -x "$CALL" ] || skip_all "no $CALL (make check builds it)"
"$BK_PYTHON" -c 'import http.server' 2>/dev/null ||
    skip_all "no $BK_PYTHON to run the AWS double"
command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
plan 58

: "${BK_TEST_TIMEOUT:=600}"
bk_tmpdir
bk_aws_start aws --boot-delay 0.3 --register-delay 0.3 --task-delay 0.1 \
    --terminate-delay 0.2
bk_aws_wait aws
bk_aws_env
DAEMON=bk-test-$$

# aws_yaml PROFILE_YAML: the config's aws section, for the double (whose
# aws-call run joins the cluster named as the pool), and
# its profiles; aws_config writes the config with them.
aws_yaml() {
	printf '%s\n' "aws:
  region: us-east-1
  endpoint_url: $BK_AWS_URL
  daemon_name: $DAEMON
  cluster: default
  lease: 2m
  reconcile_interval: 2s
profiles:
$1"
}
aws_config() {
	bk_write_config "$(aws_yaml "$1")"
}
# state EXPR: the value of the Python EXPR over the double's state, "d".
state() {
	curl -s "$BK_AWS_URL/_fake/state" | "$BK_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}
# calls ACTION: how many ACTION calls the double answered (any outcome).
calls() {
	grep -c "\"action\": *\"$1\"" "$BK_DIR/aws.log"
}
oks() {
	grep "\"action\": *\"$1\"" "$BK_DIR/aws.log" | grep -c '"outcome": *"ok"'
}
live() {
	state "len([i for i in d['instances'] if i['state'] in
	    ('pending', 'running')])"
}
fault() {
	curl -s -o /dev/null -X POST -d "$1" "$BK_AWS_URL/_fake/fault"
}
bk() {
	# shellcheck disable=SC2153 # set by make check
	"$BEEKEEPER" -c "$BK_CONTROL" -k "$BK_STATE/control.key" "$@"
}
# pool_field KEY: a member of the default pool, from beekeeper --json.
pool_field() {
	bk --json pools | "$BK_PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["pools"][0][sys.argv[1]])' "$1"
}
db_live() {
	bk_sql "SELECT count(*) FROM instances WHERE state IN
	    ('requested', 'booting', 'ready', 'draining')"
}

BK_AUTO_APPROVE=true
profile="  default:
    driver: aws
    instance_type: c5.large
    ami: ami-0123456789abcdef0
    slots: 1
    min: 0
    max: 5
    idle_timeout: 3s
    boot_timeout: 30s"
bk_start "$(aws_yaml "$profile")"
repo=$BK_DIR/repo
bk_repo_init "$repo"
{
	echo "push:"
	echo "  - test:"
	echo "      subtasks:"
	for i in $(seq 1 20); do
		echo "        - t$i:"
		echo "            run: echo \"hello from \$TASK\"; test -f README.md && sleep 0.3"
	done
} >"$repo/beekeeper.yml"
echo "readme" >"$repo/README.md"
git -C "$repo" add README.md
sha=$(bk_repo_commit "$repo" "a burst of twenty")

# ------------------------------------------------------------- a burst

bk_push "$repo" acme/burst b-1
id=$(bk_wait_build "$sha")
ok "the build of 20 tasks finishes" bk_wait_for 90 bk_build_done "$id"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id")" passed \
    "and passes"
is "$(bk_sql "SELECT count(*) FROM tasks WHERE build_id = $id AND
    state = 'passed'")" 20 "all 20 tasks passed"
is "$(oks RunInstances)" 5 "max 5: exactly 5 RunInstances, not 20"
is "$(bk_sql "SELECT count(DISTINCT instance) FROM tasks
    WHERE build_id = $id")" 5 "the tasks ran on those 5 instances"
is "$(state "len(d['tasks'])")" 20 "20 ECS tasks were started"
is "$(state "sorted(set(t['containerInstanceArn'] == '' for t in
    d['tasks']))")" "[False]" "each placed on a container instance"
tid=$(bk_task id "$id" test:t7)
like "$(cat "$BK_STATE/logs/$id/$tid.log")" "^hello from test:t7$" \
    "a task's output is copied into the daemon's log file"
like "$(curl -s "$BK_URL/builds/$id/tasks/test:t7/log")" "hello from test:t7" \
    "and served on its log page"
unlike "$(cat "$BK_LOG")" "$AWS_SECRET_ACCESS_KEY" \
    "the secret key is never logged"

# ----------------------------------------------------- idle and min

gone_all() {
	[ "$(live)" = 0 ] && [ "$(db_live)" = 0 ]
}
ok "idle past idle_timeout, all 5 are terminated (min 0)" \
    bk_wait_for 30 gone_all
like "$(bk_sql "SELECT DISTINCT reason FROM instances
    WHERE state = 'terminated'")" "idle past idle_timeout" \
    "for that reason"

# Cost: every micro-dollar of the instances went to a task or the pool.
ti=$(pool_field cost_tasks_micro)
id_=$(pool_field cost_idle_micro)
in_=$(pool_field cost_instances_micro)
is "$((ti + id_))" "$in_" \
    "cost: tasks' share plus idle equals what the instances cost"
sum=$(bk --json build "$id" | "$BK_PYTHON" -c '
import json, sys
print(sum(t["cost_micro"] for t in json.load(sys.stdin)["tasks"]))')
is "$sum" "$ti" "and the tasks' costs add up to the tasks' share"
# c5.large at $0.085 an hour, at least 60 s each: 5 * 1416 micro-dollars.
ok "five instances cost at least five billing minimums" \
    [ "$in_" -ge 7080 ]

# min: the pool keeps one, launched at once with nothing queued.
bk_stop
aws_config "$(printf '%s\n' "$profile" | sed 's/min: 0/min: 1/')"
bk_restart
one_live() {
	[ "$(live)" = 1 ] && [ "$(db_live)" = 1 ]
}
ok "min 1: one instance is launched with nothing queued" \
    bk_wait_for 20 one_live
sleep 4
is "$(live)" 1 "and is kept past idle_timeout"

# ------------------------------------------------- drain and cap

cat >"$repo/beekeeper.yml" <<'YML'
push:
  - test:
      subtasks:
        - slow1:
            run: sleep 6
        - slow2:
            run: sleep 6
        - slow3:
            run: sleep 6
YML
sha=$(bk_repo_commit "$repo" "three slow")
bk_push "$repo" acme/burst b-2
id=$(bk_wait_build "$sha")
three_running() {
	[ "$(bk_sql "SELECT count(*) FROM tasks WHERE build_id = $id AND
	    state = 'running'")" = 3 ]
}
ok "three slow tasks run on three instances" bk_wait_for 30 three_running
inst=$(bk_task instance "$id" test:slow1)
bk drain "$inst" >/dev/null
is "$(bk_sql "SELECT state FROM instances WHERE id = '$inst'")" draining \
    "drain: the busy instance drains"
drained_in_ecs() {
	[ "$(state "[c['status'] for c in d['container_instances']
	    if c['status'] == 'DRAINING']")" = "['DRAINING']" ]
}
ok "and ECS is told (DRAINING)" bk_wait_for 10 drained_in_ecs
bk cap default 1 >/dev/null
is "$(bk_sql "SELECT count(*) FROM instances WHERE state = 'draining'")" 2 \
    "cap 1 below three busy: one more drains, none is stopped"
ok "the build still finishes" bk_wait_for 30 bk_build_done "$id"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id")" passed \
    "and passes: no task was killed"
is "$(bk_sql "SELECT state, reason FROM instances WHERE id = '$inst'")" \
    "terminated|drained" "the drained instance ended once empty"
ok "down to min: one instance" bk_wait_for 20 one_live
bk uncap default >/dev/null

# ----------------------------------------------------- reconcile

bk_stop
expired=$("$CALL" -e "$BK_AWS_URL" run "$DAEMON" default | cut -d' ' -f1)
"$CALL" -e "$BK_AWS_URL" -- lease -60 "$expired" >/dev/null
valid=$("$CALL" -e "$BK_AWS_URL" run "$DAEMON" default | cut -d' ' -f1)
other=$("$CALL" -e "$BK_AWS_URL" run "other-daemon" default | cut -d' ' -f1)
"$CALL" -e "$BK_AWS_URL" -- lease -60 "$other" >/dev/null
before=$(oks RunInstances)
bk_restart
orphan_gone() {
	[ "$(state "[i['state'] for i in d['instances']
	    if i['id'] == '$expired']")" != "['running']" ] &&
	[ "$(state "[i['state'] for i in d['instances']
	    if i['id'] == '$expired']")" != "['pending']" ]
}
ok "an orphan with our tag and an expired lease is terminated" \
    bk_wait_for 20 orphan_gone
adopted() {
	[ "$(bk_sql "SELECT state FROM instances WHERE id = '$valid'")" = \
	    ready ]
}
ok "one with a valid lease is adopted and becomes ready" \
    bk_wait_for 20 adopted
is "$(state "[i['state'] for i in d['instances'] if i['id'] == '$other']")" \
    "['running']" "another daemon's instance is left alone"
is "$(oks RunInstances)" "$before" \
    "the adopted ones count toward min: nothing launched"
lease=$(state "[i['tags'].get('beekeeper:lease-expires') for i in
    d['instances'] if i['id'] == '$valid'][0]")
ok "the adopted instance's lease is renewed (2 minutes ahead)" \
    [ "$lease" -gt $(($(date +%s) + 100)) ]
"$CALL" -e "$BK_AWS_URL" terminate "$other" >/dev/null

# ------------------------------------------- kill -9 in a scale-up

bk_stop
aws_config "$profile"
bk_restart
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - test:
      subtasks:
        - k1: { run: sleep 1 }
        - k2: { run: sleep 1 }
        - k3: { run: sleep 1 }
        - k4: { run: sleep 1 }
YML
sha=$(bk_repo_commit "$repo" "four")
ok "min 0 again: the adopted instance ends once idle" bk_wait_for 30 gone_all
before=$(oks RunInstances)
bk_push "$repo" acme/burst b-3
id=$(bk_wait_build "$sha")
launched4() {
	[ "$(($(oks RunInstances) - before))" -ge 4 ]
}
ok "the scale-up sends four RunInstances" bk_wait_for 20 launched4
kill -9 "$BK_PID"
wait "$BK_PID" 2>/dev/null
bk_restart
ok "after kill -9 and a restart the build finishes" \
    bk_wait_for 60 bk_build_done "$id"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id")" passed \
    "and passes"
is "$(($(oks RunInstances) - before))" 4 \
    "no duplicate: the four launched before the kill were adopted"
like "$(cat "$BK_LOG")" "adopted i-" "the log says so"
ok "no leak: all end once idle" bk_wait_for 30 gone_all

# ------------------------------------------------ throttling storm

fault '{"action":"RunInstances","error":"RequestLimitExceeded","count":3}'
fault '{"action":"DescribeTasks","error":"ThrottlingException","count":4}'
fault '{"action":"StartTask","error":"ServiceUnavailableException","count":2}'
git -C "$repo" commit -q --allow-empty -m "storm"
sha=$(git -C "$repo" rev-parse HEAD)
bk_push "$repo" acme/burst b-4
id=$(bk_wait_build "$sha")
ok "a throttling storm delays the build" bk_wait_for 90 bk_build_done "$id"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id")" passed \
    "but it passes"
is "$(grep -c '"outcome": *"RequestLimitExceeded"' "$BK_DIR/aws.log")" 3 \
    "after three throttled RunInstances"

# ----------------------------------------------- spot interruption

ok "the storm's instances end once idle" bk_wait_for 30 gone_all
bk_stop
aws_config "  default:
    driver: aws
    instance_type: c5.large
    ami: ami-0123456789abcdef0
    slots: 1
    max: 3
    idle_timeout: 3s
    spot: true
    spot_fallback: true"
bk_restart
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - test:
      run: sleep 3; echo done
YML
sha=$(bk_repo_commit "$repo" "spot")
bk_push "$repo" acme/burst b-5
id=$(bk_wait_build "$sha")
running() {
	[ "$(bk_task state "$id" test)" = running ]
}
ok "the task runs on a spot instance" bk_wait_for 30 running
inst=$(bk_task instance "$id" test)
cloud=$(bk --json instances | "$BK_PYTHON" -c '
import json, sys
print([i["cloud_id"] for i in json.load(sys.stdin)["instances"]
       if i["id"] == sys.argv[1]][0])' "$inst")
is "$(state "[bool(i['spot']) for i in d['instances'] if i['id'] == '$cloud']")" \
    "[True]" "EC2 says it is spot"
curl -s -o /dev/null -X POST -d "{\"instance\":\"$cloud\"}" \
    "$BK_AWS_URL/_fake/spot-interrupt"
retried() {
	[ "$(bk_task attempt "$id" test)" -ge 2 ]
}
ok "the interruption retries the task" bk_wait_for 20 retried
like "$(bk_sql "SELECT reason FROM tasks WHERE build_id = $id")" \
    "infrastructure retry: EC2 reclaimed spot instance $cloud" \
    "as an infrastructure retry that says why"
is "$(bk_sql "SELECT state FROM instances WHERE id = '$inst'")" lost \
    "the instance is lost"
ok "the build passes" bk_wait_for 60 bk_build_done "$id"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id")" passed \
    "after the retry"
is "$(bk --json build "$id" | "$BK_PYTHON" -c '
import json, sys
print([t["attempt"] for t in json.load(sys.stdin)["tasks"]])')" \
    "[2]" "its second attempt"
is "$(state "bool(d['instances'][-1]['spot'])")" False \
    "on an on-demand instance, launched for it (spot_fallback)"

# ------------------------------------------- an error, in its task

fault '{"action":"RegisterTaskDefinition","error":"ClientException","count":1}'
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - test:
      image: example/builder:2
      run: echo never
YML
sha=$(bk_repo_commit "$repo" "an image ECS refuses")
bk_push "$repo" acme/burst b-7
id=$(bk_wait_build "$sha")
ok "ECS refusing the task definition ends the build" \
    bk_wait_for 30 bk_build_done "$id"
like "$(bk_sql "SELECT state || ': ' || reason FROM tasks WHERE build_id = $id")" \
    "^errored: ECS RegisterTaskDefinition failed: ClientException \\(HTTP 400\\): " \
    "the task says why, in AWS's words"

# ---------------------------------------------------- the breaker

ok "its instance ends once idle" bk_wait_for 30 gone_all
fault '{"action":"RunInstances","error":"InvalidAMIID.NotFound","count":100}'
git -C "$repo" commit -q --allow-empty -m "no ami"
sha=$(git -C "$repo" rev-parse HEAD)
bk_push "$repo" acme/burst b-6
id=$(bk_wait_build "$sha")
open() {
	[ "$(pool_field breaker)" = open ]
}
ok "failed launches open the pool's circuit breaker" bk_wait_for 20 open
like "$(pool_field breaker_reason)" "InvalidAMIID.NotFound" \
    "and the pool says why, in AWS's words"
n=$(calls RunInstances)
sleep 3
is "$(calls RunInstances)" "$n" "while open, nothing is launched"

bk_finish
