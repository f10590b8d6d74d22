#!/bin/sh
# 75-aws-many: more running tasks than one DescribeTasks call takes (100):
# 120 tasks at once on one instance of 120 slots are all followed, the
# last 20 to start as closely as the first 100, in calls of at most 100
# (ECS refuses more), and all pass.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

BK_PYTHON=${BK_PYTHON:-/usr/bin/python3}
bk_require_daemon
"$BK_PYTHON" -c 'import http.server' 2>/dev/null ||
    skip_all "no $BK_PYTHON to run the AWS double"
command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
plan 7

: "${BK_TEST_TIMEOUT:=300}"
bk_tmpdir
bk_aws_start aws --boot-delay 0.3 --register-delay 0.3 --task-delay 0.1 \
    --terminate-delay 0.2
bk_aws_wait aws
bk_aws_env

BK_AUTO_APPROVE=true
bk_start "aws:
  region: us-east-1
  endpoint_url: $BK_AWS_URL
  daemon_name: bk-many-$$
profiles:
  default:
    driver: aws
    instance_type: c5.large
    ami: ami-0123456789abcdef0
    slots: 120
    max: 1
    memory: 4
    idle_timeout: 1h"
repo=$BK_DIR/repo
bk_repo_init "$repo"
{
	echo "push:"
	echo "  - test:"
	echo "      subtasks:"
	for i in $(seq 1 100); do
		echo "        - t$i: { run: sleep 45 }"
	done
	for i in $(seq 101 120); do
		echo "        - t$i: { run: sleep 3 }"
	done
} >"$repo/beekeeper.yml"
sha=$(bk_repo_commit "$repo" "a hundred and twenty")
bk_push "$repo" acme/many m-1
id=$(bk_wait_build "$sha")
# The last 20 to start end first: they are followed while the 100
# before them still run, not once those have ended.
late_done() {
	[ "$(bk_sql "SELECT count(*) FROM tasks WHERE build_id = $id AND
	    state = 'passed'")" = 20 ]
}
ok "the 20 short tasks, started last, are seen to end" \
    bk_wait_for 40 late_done
is "$(bk_sql "SELECT count(*) FROM tasks WHERE build_id = $id AND
    state = 'running'")" 100 "while the 100 long ones still run"
ok "all of them are followed to their end" bk_wait_for 120 bk_build_done "$id"
is "$(bk_sql "SELECT count(*) FROM tasks WHERE build_id = $id AND
    state = 'passed'")" 120 "and all 120 passed"
# The double refuses more than 100 tasks a call, as ECS does.
is "$(grep '"action": *"DescribeTasks"' "$BK_DIR/aws.log" |
    grep -vc '"outcome": *"ok"')" 0 "no DescribeTasks was refused"

bk_finish
