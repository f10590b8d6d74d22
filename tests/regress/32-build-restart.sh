#!/bin/sh
# 32-build-restart: kill -9 of the daemon in the middle of a build, then a
# restart on the same state: the build finishes, the task that was
# running runs once more as a documented infrastructure retry, no other
# task runs twice, and no process of the killed run is left behind.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
command -v pgrep >/dev/null 2>&1 || skip_all "pgrep is not installed"
plan 13

BK_AUTO_APPROVE=true
bk_start
repo=$BK_DIR/repo
bk_repo_init "$repo"
marker=$$
cat >"$repo/beekeeper.yml" <<YML
push:
  - first:
      run: echo "first ran"
  - second:
      run: echo "second started"; sleep 3.$marker; echo "second ended"
  - third:
      run: echo "third ran"
YML
sha=$(bk_repo_commit "$repo" "three phases")
bk_push "$repo" acme/restart r-1
is "$BK_STATUS" 202 "the push is accepted"
id=$(bk_wait_build "$sha")
ok "the second phase starts" bk_wait_for 20 bk_task_running "$id" second
# Kill once the task's own command runs, not while bubblewrap sets up.
second_log=$BK_STATE/logs/$id/$(bk_task id "$id" second).log
ok "its command has started" bk_wait_for 20 \
    grep -q "second started" "$second_log"
bk_kill9
# The sleep lasts 3 s: gone within 2 s means it died with the daemon.
ok "the task died with the killed daemon" bk_wait_for 2 \
    bk_no_process "sleep 3.$marker"

bk_restart
ok "after the restart the build finishes" bk_wait_for 30 bk_build_done "$id"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id")" passed \
    "and passes"
is "$(bk_sql "SELECT slug || ':' || attempt || ':' || infra_retry
    FROM tasks WHERE build_id = $id ORDER BY id" | tr '\n' ' ')" \
    "first:1:0 second:2:1 third:1:0 " \
    "only the running task ran again, marked as an infrastructure retry"
like "$(bk_task reason "$id" second)" "infrastructure retry" \
    "the retry says why in words"
log=$BK_STATE/logs/$id/$(bk_task id "$id" first).log
is "$(grep -c 'first ran' "$log")" 1 "the first phase ran once"
log=$BK_STATE/logs/$id/$(bk_task id "$id" second).log
is "$(grep -c 'second ended' "$log")" 1 "the retried task ended once"
ok "no process of either run is left" bk_wait_for 10 \
    bk_no_process "sleep 3.$marker"

bk_finish
