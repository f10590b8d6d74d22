#!/bin/sh
# 30-build: a push runs the pipeline at that commit on the local pool.
# Phases run in order, the tasks of a phase overlap, a non-critical
# failure does not stop the pipeline and a critical one does, tasks get
# the documented environment and their output is in their log, and the
# build's result is the worst of its tasks', a non-critical failure
# counting as a pass that says so.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
plan 36

BK_AUTO_APPROVE=true
bk_start
repo=$BK_DIR/repo
bk_repo_init "$repo"
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - lint:
      run: echo "lint $TASK at $SHA in $GITHUB_OWNER/$GITHUB_PROJECT_NAME"; cat hello.txt; echo "code at $CODE_URL"
  - test:
      environment:
        LEVEL: full
      subtasks:
        - unit:
            run: date +%s.%N >start; sleep 1; date +%s.%N; echo "level $LEVEL"
        - flaky:
            critical: false
            run: sleep 1; echo failing on purpose; exit 3
  - package:
      run: echo packaged; test ! -e /tmp/leftover && touch /tmp/leftover
YML
echo hello >"$repo/hello.txt"
sha=$(bk_repo_commit "$repo" "three phases")

bk_push "$repo" acme/widget d-1
is "$BK_STATUS" 202 "the push is accepted"
ok "a build is created for the commit" bk_wait_for 10 \
    sh -c "[ -n \"\$(\"$SQLITE3\" \"$BK_STATE/beekeeper.db\" \
    \"SELECT id FROM builds WHERE sha = '$sha'\")\" ]"
id=$(bk_build_of "$sha")
ok "the build finishes" bk_wait_for 30 bk_build_done "$id"
is "$(bk_sql "SELECT state, reason FROM builds WHERE id = $id")" \
    "passed|passed, though test:flaky failed (not critical)" \
    "a non-critical failure: the build passes, and says so"
is "$(bk_sql "SELECT slug || '=' || state FROM tasks WHERE build_id = $id
    ORDER BY id" | tr '\n' ' ')" \
    "lint=passed test:unit=passed test:flaky=failed package=passed " \
    "each task's result; package ran after a non-critical failure"
is "$(bk_task exit_status "$id" test:flaky)" 3 "the exit status is kept"
is "$(bk_task reason "$id" test:flaky)" "exited with status 3" \
    "and said in words"

# Phase order and parallelism, from the store's timestamps.
is "$(bk_sql "SELECT count(*) FROM tasks a, tasks b WHERE a.build_id = $id
    AND b.build_id = $id AND b.phase = a.phase + 1
    AND b.started_at < a.finished_at")" 0 \
    "no task starts before every task of the phase before it ended"
is "$(bk_sql "SELECT count(*) FROM tasks a, tasks b WHERE a.build_id = $id
    AND b.build_id = $id AND a.slug = 'test:unit' AND b.slug = 'test:flaky'
    AND a.started_at < b.finished_at AND b.started_at < a.finished_at")" 1 \
    "the two tasks of the test phase overlap"

log=$BK_STATE/logs/$id/$(bk_task id "$id" lint).log
like "$(cat "$log")" "^lint lint at $sha in acme/widget$" \
    "the lint log has TASK, SHA, GITHUB_OWNER and GITHUB_PROJECT_NAME"
like "$(cat "$log")" "^hello$" "the task ran in a checkout of the commit"
like "$(cat "$log")" "^code at $BK_URL/builds/$id/code$" \
    "CODE_URL names the port the daemon bound (listen on port 0)"
log=$BK_STATE/logs/$id/$(bk_task id "$id" test:unit).log
like "$(cat "$log")" "^level full$" "a phase's environment reaches its subtasks"
ok "the workspaces are removed" bk_wait_for 5 \
    sh -c "[ -z \"\$(ls -A \"$BK_STATE/workspaces\")\" ]"
ok "the package task's /tmp was private" test ! -e /tmp/leftover
is "$(bk_sql "SELECT state FROM changes WHERE delivery_id = 'd-1'")" "done" \
    "the change record is done"

# The build over HTTP: its page, its logs (followed with ?offset=), code.
bk_http GET "/builds/$id"
is "$BK_STATUS" 200 "the build page answers"
like "$BK_BODY" "test:flaky</a></td><td>[^<]*</td><td class=\"failed\">" \
    "it shows each task with its result"
bk_http GET "/builds/$id/tasks/test:unit/log"
full=$BK_BODY
like "$full" "^level full$" "a task's log is served"
bk_http GET "/builds/$id/tasks/test:unit/log?offset=5"
is "$BK_BODY" "$(printf '%s' "$full" | tail -c +6)" \
    "?offset=5 gives the log from its sixth byte"
curl -s -o "$BK_DIR/code.tgz" "$BK_URL/builds/$id/code"
short=$(printf '%s' "$sha" | cut -c1-7)
is "$(tar -tzf "$BK_DIR/code.tgz" | sort | tr '\n' ' ')" \
    "acme-widget-$short/ acme-widget-$short/beekeeper.yml acme-widget-$short/hello.txt " \
    "CODE_URL serves the commit's tree, in one top directory as GitHub's"
bk_http GET "/builds/$id/tasks/nope/log"
is "$BK_STATUS" 404 "an unknown task is 404"
bk_http GET "/builds/999/tasks/lint/log"
is "$BK_STATUS" 404 "an unknown build is 404"
bk_http GET "/badge/acme/widget.svg?branch=main"
like "$BK_BODY" "<title>build: passing</title>" \
    "the badge shows the branch's last result"
bk_http GET "/builds/$id/tasks/lint/log?offset=abc"
is "$BK_STATUS" 400 "an offset that is not a number is 400"
bk_http GET "/badge/widget.png"
is "$BK_STATUS" 404 "a badge path of another form is 404"
bk_http GET "/badge/acme/widget.svg?branch=other"
like "$BK_BODY" "<title>build: unknown</title>" \
    "a branch without builds: unknown"

# A critical failure stops the pipeline.
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - lint:
      run: echo broken; exit 1
  - test:
      run: echo never
YML
sha=$(bk_repo_commit "$repo" "critical failure")
bk_push "$repo" acme/widget d-2
is "$BK_STATUS" 202 "the second push is accepted"
bk_wait_for 10 sh -c "[ -n \"\$(\"$SQLITE3\" \"$BK_STATE/beekeeper.db\" \
    \"SELECT id FROM builds WHERE sha = '$sha'\")\" ]"
id=$(bk_build_of "$sha")
ok "the second build finishes" bk_wait_for 30 bk_build_done "$id"
is "$(bk_sql "SELECT slug || '=' || state FROM tasks WHERE build_id = $id
    ORDER BY id" | tr '\n' ' ')" "lint=failed test=skipped " \
    "a critical failure skips the later phases"

# A broken file fails the build with a message naming the line.
printf 'push:\n  - lint:\n      name: [a]\n      run: x\n' \
    >"$repo/beekeeper.yml"
sha=$(bk_repo_commit "$repo" "broken file")
bk_push "$repo" acme/widget d-3
bk_wait_for 10 sh -c "[ -n \"\$(\"$SQLITE3\" \"$BK_STATE/beekeeper.db\" \
    \"SELECT id FROM builds WHERE sha = '$sha'\")\" ]"
id=$(bk_build_of "$sha")
ok "the build of a broken file ends" bk_wait_for 30 bk_build_done "$id"
like "$(bk_sql "SELECT state || ' ' || reason FROM builds WHERE id = $id")" \
    "^errored beekeeper.yml:3:[0-9]+: " "errored, with FILE:LINE:COLUMN"

# A task whose profile the daemon does not have errors, saying which.
printf 'push:\n  - gpu:\n      profile: gpu\n      run: "true"\n' \
    >"$repo/beekeeper.yml"
sha=$(bk_repo_commit "$repo" "unknown profile")
bk_push "$repo" acme/widget d-4
id=$(bk_wait_build "$sha")
ok "the build with an unknown profile ends" bk_wait_for 30 bk_build_done "$id"
is "$(bk_sql "SELECT b.state || ' / ' || t.reason FROM builds b
    JOIN tasks t ON t.build_id = b.id WHERE b.id = $id")" \
    "errored / no profile 'gpu' in beekeeperd.yml (profiles: ...)" \
    "the task is errored with the reason, and so is the build"

bk_finish
