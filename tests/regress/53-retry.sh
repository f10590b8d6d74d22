#!/bin/sh
# 53-retry: an operator runs a finished build again with "beekeeper retry",
# as a new build of the same commit: the whole build, or only a task that
# failed, whose later phases then run if it passes. A build still running,
# an unknown build or task, a task that passed or never ran, a build with
# a newer one on its branch, and a viewer are refused with a sentence, and
# every try is audited. GitHub ends with every context final again.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${BEEKEEPER:=$top_builddir/beekeeper}"
PY=/usr/bin/python3
bk_require_daemon
bk_require_node
[ -x "$BEEKEEPER" ] || skip_all "no beekeeper at $BEEKEEPER"
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
[ -x "$PY" ] || skip_all "no $PY to read JSON with"
plan 46

# js EXPR: EXPR over the JSON document on stdin, d; strings as they are.
js() {
	"$PY" -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

# bk ARG...: run the tool on the test's daemon; its output in OUT and
# ERR, its exit status in RC.
bk() {
	"$BEEKEEPER" "$@" >"$BK_DIR/out" 2>"$BK_DIR/err"
	RC=$?
	OUT=$(cat "$BK_DIR/out")
	ERR=$(cat "$BK_DIR/err")
}

# tasks ID: each task of a build as slug=state/attempt, in plan order.
tasks() {
	bk_sql "SELECT slug || '=' || state || '/' || attempt FROM tasks
	    WHERE build_id = $1 ORDER BY id" | tr '\n' ' '
}

bk_tmpdir
# The task fails until the test sets a variable between runs (through
# the daemon, as an operator would): the sandbox shows a task no file of
# the test's, wherever the test runs.
TOKEN="ghp-test-$$-token"
(umask 077 && printf '%s\n' "$TOKEN" >"$BK_DIR/github-token")
: >"$BK_DIR/collaborators"
repo=$BK_DIR/repos/acme/widget
mkdir -p "$repo"
bk_repo_init "$repo"
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - check:
      subtasks:
        - flag:
            run: test "$RETRY_FLAG" = up && echo "the flag is there"
        - wait:
            run: sleep 2; echo waited
  - after:
      run: echo after ran
YML
sha=$(bk_repo_commit "$repo" "a check that fails until the flag is made")

bk_gh_start gh
bk_gh_wait gh
GH=http://127.0.0.1:$(bk_gh_port gh)
BK_GITHUB_YAML="  api_url: $GH
  token_file: $BK_DIR/github-token"
BK_PROJECTS_YAML="  approved: [acme/widget]"
bk_start
BEEKEEPER_CONTROL=$BK_CONTROL
BEEKEEPER_KEY_FILE=$BK_STATE/control.key
export BEEKEEPER_CONTROL BEEKEEPER_KEY_FILE

# states SHA CONTEXT: the states posted for a context, oldest first.
states() {
	bk_gh_json "$GH/_fake/statuses" "d.filter((s) => s.sha === '$1' &&
	    s.context === '$2').map((s) => s.state).join(' ')"
}
# settled SHA N: GitHub has N contexts for SHA and none is pending last.
settled() {
	[ "$(bk_gh_json "$GH/_fake/statuses" "(() => {
	    const last = new Map();
	    for (const s of d.filter((s) => s.sha === '$1'))
		last.set(s.context, s.state);
	    return last.size === $2 &&
		[...last.values()].every((v) => v !== 'pending');
	})()")" = true ]
}

# ------------------------------------------------- a build that fails

bk_gh_push "$repo" acme/widget r-1
is "$BK_STATUS" 202 "the push is accepted"
id=$(bk_wait_build "$sha")
ok "the check is running" bk_wait_for 10 bk_task_running "$id" check:wait
bk retry "$id"
is "$RC" 1 "retry of a running build: exit 1"
is "$ERR" "beekeeper: build $id is still running: wait for it to finish, \
or cancel it first (beekeeper cancel $id)" "and it says why, and what to do"
ok "the build finishes" bk_wait_for 30 bk_build_done "$id"
is "$(bk_sql "SELECT state, reason FROM builds WHERE id = $id")" \
    "failed|check:flag failed" "it fails on the missing flag"
is "$(tasks "$id")" "check:flag=failed/1 check:wait=passed/1 after=skipped/1 " \
    "its later phase is skipped"

# --------------------------------------------------------- refusals

bk retry 999
is "$RC" 1 "retry of an unknown build: exit 1"
is "$ERR" "beekeeper: no build 999" "and it says so"
bk retry "$id" nope
is "$RC" 1 "retry of an unknown task: exit 1"
is "$ERR" "beekeeper: build $id has no task 'nope' (its tasks: check:flag, \
check:wait, after)" "and it lists the build's tasks"
bk retry "$id" check:wait
is "$RC" 1 "retry of a task that passed: exit 1"
like "$ERR" "^beekeeper: task check:wait of build $id passed: " \
    "and it says why"
bk retry "$id" after
is "$RC" 1 "retry of a task that never ran: exit 1"
like "$ERR" "^beekeeper: task after of build $id never ran \\(skipped\\): " \
    "and it says what to retry instead"
printf '%064d\n' 0 >"$BK_DIR/wrong.key"
bk -k "$BK_DIR/wrong.key" retry "$id" check:flag
is "$RC" 1 "a viewer's retry: exit 1"
like "$ERR" "^beekeeper: only an admin may retry: " "with the daemon's sentence"
is "$(bk_sql "SELECT who || ' ' || cmd || ' ' || args || ' ' || ok
    FROM audit ORDER BY id DESC LIMIT 1")" \
    "viewer retry {\"build\":$id,\"task\":\"check:flag\"} 0" \
    "the viewer's refusal is audited"
is "$(bk_sql "SELECT count(*) FROM builds")" 1 "no refusal made a build"

# ------------------------------------------- one task, then the whole

bk set-var RETRY_FLAG up
bk retry "$id" check:flag
is "$RC" 0 "retry of the failed task: exit 0"
id2=$(bk_sql "SELECT max(id) FROM builds")
is "$OUT" "build $id: task check:flag retried as build $id2" \
    "it names the new build"
is "$(bk_sql "SELECT sha, retry_of, event, ref FROM builds WHERE id = $id2")" \
    "$sha|$id|push|main" "the new build is of the same commit, and says so"
ok "the retry finishes" bk_wait_for 30 bk_build_done "$id2"
is "$(bk_sql "SELECT state, reason IS NULL FROM builds WHERE id = $id2")" \
    "passed|1" "the check passes now, and so does the build"
is "$(tasks "$id2")" "check:flag=passed/2 check:wait=passed/1 after=passed/1 " \
    "the task's second attempt; the passed task is carried, the next phase ran"
like "$(cat "$BK_STATE/logs/$id2/$(bk_task id "$id2" check:flag).log")" \
    "^the flag is there$" "the retried task's log"
like "$(cat "$BK_STATE/logs/$id2/$(bk_task id "$id2" check:wait).log")" \
    "^waited$" "the carried task keeps its log"
is "$(tasks "$id")" "check:flag=failed/1 check:wait=passed/1 after=skipped/1 " \
    "the old build is as it was"

bk retry "$id"
is "$RC" 1 "retry of a build with a newer one on its branch: exit 1"
is "$ERR" "beekeeper: build $id2 of acme/widget branch main is newer than \
build $id: retry build $id2 instead, so that an older run does not replace \
its result" "and it names the newer build"

bk --json retry "$id2"
is "$RC" 0 "retry of the whole build, --json: exit 0"
id3=$(bk_sql "SELECT max(id) FROM builds")
is "$(printf '%s' "$OUT" | js '[d["ok"], d["build"]]')" "[true, $id3]" \
    "the reply names the new build"
ok "the whole retry finishes" bk_wait_for 30 bk_build_done "$id3"
is "$(bk_sql "SELECT state, retry_of FROM builds WHERE id = $id3")" \
    "passed|$id2" "it passes"
is "$(tasks "$id3")" "check:flag=passed/3 check:wait=passed/2 after=passed/2 " \
    "every task ran again, each with its next attempt"
bk --json build "$id3"
is "$(printf '%s' "$OUT" | js 'd["build"]["retry_of"]')" "$id2" \
    "build --json says which build it repeats"

# ---------------------------------------------------------- the audit

bk audit -n 3
like "$OUT" " local +retry build=$id2 +ok$" "audit: the whole retry"
like "$OUT" " local +retry build=$id +refused: build $id2 of acme/widget " \
    "audit: the refused one, with its reason"
like "$OUT" " local +retry build=$id task=check:flag +ok$" \
    "audit: the task's retry, with the task"

# ---------------------------------------------------------- on GitHub

ok "GitHub has four contexts, all final" bk_wait_for 15 settled "$sha" 4
like "$(states "$sha" beekeeper:check/flag)" \
    '^(pending )?failure (pending )?success (pending )?success$' \
    "the retried task: failure, then success twice"
like "$(states "$sha" beekeeper:after/after)" \
    '^(pending )?error (pending )?success (pending )?success$' \
    "the skipped task: an error, then final after each retry"
like "$(states "$sha" beekeeper)" \
    '^pending failure (pending )?success pending success$' \
    "the build's context: pending again at each retry, then final"
url=$(bk_gh_json "$GH/_fake/statuses" "d.filter((s) => s.sha === '$sha' &&
    s.context === 'beekeeper').pop().target_url")
is "$url" "$BK_URL/builds/$id3" "the build's context links to the last retry"

bk_finish
