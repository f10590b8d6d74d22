#!/bin/sh
# 33-sched: the order in which a pool with one slot serves queued tasks.
# A started build's next phase goes before another build's first phase,
# and projects take turns: three queued builds of one project do not make
# a fourth project's build wait for all of them.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
plan 9

BK_AUTO_APPROVE=true
bk_start "profiles:" "  default: { slots: 1, max: 1 }"

# The order tasks started in, as "project:slug" words.
started_order() {
	bk_sql "SELECT b.project || ':' || t.slug FROM tasks t
	    JOIN builds b ON b.id = t.build_id ORDER BY t.started_at, t.id" |
	    tr '\n' ' '
}

all_done() {
	[ "$(bk_sql "SELECT count(*) FROM builds
	    WHERE state NOT IN ('passed', 'failed', 'errored', 'cancelled')")" \
	    = 0 ] && [ "$(bk_sql "SELECT count(*) FROM builds")" = "$1" ]
}

# Started builds first: a's second phase before b's first.
a=$BK_DIR/a
bk_repo_init "$a"
printf 'push:\n  - one:\n      run: sleep 2.5\n  - two:\n      run: "true"\n' \
    >"$a/beekeeper.yml"
bk_repo_commit "$a" "two phases" >/dev/null
b=$BK_DIR/b
bk_repo_init "$b"
printf 'push:\n  - only:\n      run: "true"\n' >"$b/beekeeper.yml"
bk_repo_commit "$b" "one phase" >/dev/null
bk_push "$a" acme/a s-1
id=$(bk_wait_build "$(git -C "$a" rev-parse HEAD)")
ok "a's first phase runs" bk_wait_for 20 bk_task_running "$id" one
bk_push "$b" acme/b s-2
ok "both builds finish" bk_wait_for 30 all_done 2
is "$(started_order)" "acme/a:one acme/a:two acme/b:only " \
    "a started build's next phase goes before a new build's first"

# Projects take turns: c's three builds (on three branches) and d's one.
c=$BK_DIR/c
bk_repo_init "$c"
printf 'push:\n  - t:\n      run: sleep 2.5\n' >"$c/beekeeper.yml"
bk_repo_commit "$c" "c" >/dev/null
d=$BK_DIR/d
bk_repo_init "$d"
printf 'push:\n  - t:\n      run: "true"\n' >"$d/beekeeper.yml"
bk_repo_commit "$d" "d" >/dev/null
for n in 1 2 3; do
	bk_push "$c" acme/c "c-$n" "refs/heads/c$n"
done
ok "c's first build runs" bk_wait_for 20 sh -c "[ \"\$(\"$SQLITE3\" \
    -cmd '.timeout 5000' \"$BK_STATE/beekeeper.db\" \"SELECT count(*)
    FROM tasks WHERE state = 'running'\")\" = 1 ]"
bk_push "$d" acme/d d-1
ok "all four builds finish" bk_wait_for 40 all_done 6
order=$(bk_sql "SELECT b.project FROM tasks t JOIN builds b
    ON b.id = t.build_id WHERE b.project IN ('acme/c', 'acme/d')
    ORDER BY t.started_at, t.id" | tr '\n' ' ')
is "$order" "acme/c acme/d acme/c acme/c " \
    "d's one build goes after c's first, not after all three"
is "$(bk_sql "SELECT count(*) FROM builds WHERE state = 'passed'")" 6 \
    "every build passed"

bk_finish
