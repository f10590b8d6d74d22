#!/bin/sh
# 34-pool: a pool launches instances for waiting tasks up to its max,
# terminates them once idle past idle_timeout (down to min), never
# launches past the operator's cap, and shrinks to a lowered cap without
# killing a task.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
plan 20

BK_AUTO_APPROVE=true
pool="profiles:
  default: { slots: 1, min: 0, max: 3, idle_timeout: 1s }"
bk_start "$pool"
repo=$BK_DIR/repo
bk_repo_init "$repo"
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - test:
      subtasks:
        - a:
            run: sleep 1
        - b:
            run: sleep 1
        - c:
            run: sleep 1
YML
sha=$(bk_repo_commit "$repo" "three tasks")
bk_push "$repo" acme/pool p-1
id=$(bk_wait_build "$sha")
ok "the build finishes" bk_wait_for 30 bk_build_done "$id"
is "$(bk_sql "SELECT count(*) FROM instances")" 3 \
    "three waiting tasks, one slot each: three instances (the max)"
is "$(bk_sql "SELECT count(*) FROM tasks a, tasks b WHERE a.build_id = $id
    AND b.build_id = $id AND a.id < b.id AND a.started_at < b.finished_at
    AND b.started_at < a.finished_at")" 3 "the three tasks ran together"
idle() {
	[ "$(bk_sql "SELECT count(*) FROM instances
	    WHERE state = 'terminated'")" = 3 ]
}
ok "idle past idle_timeout, all three are terminated (min 0)" \
    bk_wait_for 10 idle
like "$(bk_sql "SELECT DISTINCT reason FROM instances")" \
    "idle past idle_timeout" "and the reason is stored"

# The operator's cap: one instance, so the tasks run one after another.
bk_stop
bk_sql "INSERT INTO pools (name, cap) VALUES ('default', 1)"
bk_restart
like "$(cat "$BK_LOG")" "pool default: capped at 1 instances" \
    "the daemon reads the cap at start"
git -C "$repo" commit -q --allow-empty -m "again"
sha=$(git -C "$repo" rev-parse HEAD)
bk_push "$repo" acme/pool p-2
id=$(bk_wait_build "$sha")
ok "the capped build finishes" bk_wait_for 30 bk_build_done "$id"
is "$(bk_sql "SELECT count(*) FROM instances WHERE created_at >=
    (SELECT created_at FROM builds WHERE id = $id)")" 1 \
    "the cap holds launches to one instance"
is "$(bk_sql "SELECT count(*) FROM tasks a, tasks b WHERE a.build_id = $id
    AND b.build_id = $id AND a.id < b.id AND a.started_at < b.finished_at
    AND b.started_at < a.finished_at")" 0 "so the tasks did not overlap"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id")" passed \
    "and the build passed"

# A lowered cap: the idle instances go at once, the busy one is drained
# and goes when its task has ended; the task is not killed.
bk_stop
bk_sql "DELETE FROM pools"
bk_write_config "profiles:
  default: { slots: 1, min: 0, max: 3, idle_timeout: 1h }"
bk_restart
# The sandbox hides the test's files, so the slow task is a sleep long
# enough for the checks below to run while it does.
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - test:
      subtasks:
        - slow:
            run: sleep 8
        - quick1:
            run: "true"
        - quick2:
            run: "true"
YML
sha=$(bk_repo_commit "$repo" "one slow task")
bk_push "$repo" acme/pool p-3
id=$(bk_wait_build "$sha")
two_idle() {
	[ "$(bk_sql "SELECT count(*) FROM tasks WHERE build_id = $id
	    AND state = 'passed'")" = 2 ] &&
	    [ "$(bk_task state "$id" test:slow)" = running ]
}
ok "three instances: the quick tasks passed, the slow one runs" \
    bk_wait_for 30 two_idle
# shellcheck disable=SC2153 # set by make check
"$BEEKEEPER" -c "$BK_CONTROL" -k "$BK_STATE/control.key" cap default 0 \
    >/dev/null 2>&1
is "$?" 0 "cap default 0 is accepted"
is "$(bk_sql "SELECT count(*) FROM instances WHERE state = 'terminated'
    AND reason = 'the pool''s cap is now 0'")" 2 \
    "the two idle instances are terminated at once, saying why"
is "$(bk_sql "SELECT state || ': ' || reason FROM instances
    WHERE state NOT IN ('terminated')")" \
    "draining: the pool's cap is now 0" "the busy one is draining"
is "$(bk_task state "$id" test:slow)" running "its task still runs"
ok "the build finishes" bk_wait_for 30 bk_build_done "$id"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id")" passed \
    "and passes: the slow task was not killed"
drained() {
	[ "$(bk_sql "SELECT count(*) FROM instances
	    WHERE state = 'terminated' AND reason = 'drained'")" = 1 ]
}
ok "the drained instance goes once its task has ended" \
    bk_wait_for 10 drained

bk_finish
