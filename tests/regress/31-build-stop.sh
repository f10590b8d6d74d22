#!/bin/sh
# 31-build-stop: a newer commit on the same branch cancels the older build
# and kills its processes; a closed pull request stops its build; a task
# past its timeout is killed with everything it started.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
command -v pgrep >/dev/null 2>&1 || skip_all "pgrep is not installed"
plan 19

BK_AUTO_APPROVE=true
bk_start
repo=$BK_DIR/repo
bk_repo_init "$repo"
marker=$$
cat >"$repo/beekeeper.yml" <<YML
push:
  - slow:
      run: sleep 41.$marker & sleep 42.$marker; echo never
pull_request:
  - slow:
      run: sleep 43.$marker
YML
sha1=$(bk_repo_commit "$repo" "slow")
bk_push "$repo" acme/stop s-1
is "$BK_STATUS" 202 "the first push is accepted"
id1=$(bk_wait_build "$sha1")
ok "its task starts" bk_wait_for 20 bk_task_running "$id1" slow
ok "its processes run" pgrep -f "sleep 42.$marker"

cat >"$repo/beekeeper.yml" <<'YML'
push:
  - quick:
      run: echo quick
YML
sha2=$(bk_repo_commit "$repo" "quick")
bk_push "$repo" acme/stop s-2
is "$BK_STATUS" 202 "a newer push to the same branch is accepted"
ok "the older build ends" bk_wait_for 20 bk_build_done "$id1"
like "$(bk_sql "SELECT state || ': ' || reason FROM builds WHERE id = $id1")" \
    "^cancelled: cancelled: superseded by $(printf %.12s "$sha2")" \
    "cancelled, superseded by the newer commit"
is "$(bk_task state "$id1" slow)" cancelled "its task is cancelled"
ok "no process of the older build is left" bk_wait_for 10 \
    bk_no_process "sleep 4[12].$marker"
id2=$(bk_wait_build "$sha2")
ok "the newer build finishes" bk_wait_for 30 bk_build_done "$id2"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id2")" passed \
    "and passes"

# A pull request closed while its build runs.
cat >"$repo/beekeeper.yml" <<YML
pull_request:
  - slow:
      run: sleep 43.$marker
YML
sha3=$(bk_repo_commit "$repo" "a pull request")
bk_pr "$repo" acme/stop p-1 opened 7
id3=$(bk_wait_build "$sha3")
ok "the pull request's task starts" bk_wait_for 20 bk_task_running "$id3" slow
bk_pr "$repo" acme/stop p-2 closed 7
ok "closing it ends the build" bk_wait_for 20 bk_build_done "$id3"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id3")" cancelled \
    "the build is cancelled"
ok "and its process is gone" bk_wait_for 10 bk_no_process "sleep 43.$marker"

# A timeout kills the whole process group.
cat >"$repo/beekeeper.yml" <<YML
push:
  - hang:
      timeout: 1s
      run: sleep 44.$marker & sleep 45.$marker
YML
sha4=$(bk_repo_commit "$repo" "hangs")
bk_push "$repo" acme/stop s-3
id4=$(bk_wait_build "$sha4")
ok "the build past its timeout ends" bk_wait_for 30 bk_build_done "$id4"
is "$(bk_task state "$id4" hang) $(bk_task reason "$id4" hang)" \
    "failed timed out after 1s" "the task failed, timed out, said in words"
ok "nothing it started is left" bk_wait_for 10 \
    bk_no_process "sleep 4[45].$marker"

bk_finish
