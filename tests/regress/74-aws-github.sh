#!/bin/sh
# 74-aws-github: what GitHub shows of a task on an aws pool (the GitHub
# and AWS doubles together). The task's container fetches the commit's
# tree from the daemon, which has it from GitHub's tarball; a spot
# interruption is posted as a retry, pending with its reason, never as a
# failure, and the task's context ends in success once the retry passes.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

BK_PYTHON=${BK_PYTHON:-/usr/bin/python3}
bk_require_daemon
bk_require_node
"$BK_PYTHON" -c 'import http.server' 2>/dev/null ||
    skip_all "no $BK_PYTHON to run the AWS double"
command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
plan 10

: "${BK_TEST_TIMEOUT:=300}"
bk_tmpdir
TOKEN="ghp-test-$$-token"
(umask 077 && printf '%s\n' "$TOKEN" >"$BK_DIR/github-token")
: >"$BK_DIR/collaborators"
repo=$BK_DIR/repos/acme/widget
mkdir -p "$repo"
bk_repo_init "$repo"
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - test:
      run: test -f beekeeper.yml && sleep 3 && echo "tree here"
YML
sha=$(bk_repo_commit "$repo" "a task on spot")

bk_gh_start gh
bk_gh_wait gh
GH=http://127.0.0.1:$(bk_gh_port gh)
bk_aws_start aws --boot-delay 0.3 --register-delay 0.3 --task-delay 0.1 \
    --terminate-delay 0.2
bk_aws_wait aws
bk_aws_env

BK_GITHUB_YAML="  api_url: $GH
  token_file: $BK_DIR/github-token"
BK_PROJECTS_YAML="  approved: [acme/widget]"
bk_start "aws:
  region: us-east-1
  endpoint_url: $BK_AWS_URL
  daemon_name: bk-gh-$$
profiles:
  default:
    driver: aws
    instance_type: c5.large
    ami: ami-0123456789abcdef0
    slots: 1
    max: 2
    idle_timeout: 5s
    spot: true"

# descs CONTEXT: "state: description" of each status posted, oldest first.
descs() {
	bk_gh_json "$GH/_fake/statuses" "d.filter((s) => s.sha === '$sha' &&
	    s.context === '$1').map((s) => s.state + ': ' +
	    s.description).join('\n')"
}
state() {
	curl -s "$BK_AWS_URL/_fake/state" | "$BK_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}

bk_gh_push "$repo" acme/widget g-1
is "$BK_STATUS" 202 "the push is accepted"
id=$(bk_wait_build "$sha")
running() {
	[ "$(bk_task state "$id" test)" = running ]
}
ok "the task runs on a spot instance" bk_wait_for 30 running
cloud=$(state "[i['id'] for i in d['instances'] if i['state'] == 'running'][0]")
curl -s -o /dev/null -X POST -d "{\"instance\":\"$cloud\"}" \
    "$BK_AWS_URL/_fake/spot-interrupt"
ok "the build passes after the retry" bk_wait_for 60 bk_build_done "$id"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id")" passed \
    "its state is passed"
settled() {
	[ "$(descs beekeeper:test/test | tail -n 1 | cut -d: -f1)" = success ]
}
ok "GitHub's last word on the task is success" bk_wait_for 20 settled
like "$(descs beekeeper:test/test)" \
    "^pending: infrastructure retry: EC2 reclaimed spot instance $cloud" \
    "GitHub was told of the retry, pending, with its reason"
unlike "$(descs beekeeper:test/test)" "^(failure|error):" \
    "and never of a failure"
like "$(cat "$BK_STATE/logs/$id/"*.log)" \
    "tree here" "the container had the commit's tree from GitHub's tarball"

bk_finish
