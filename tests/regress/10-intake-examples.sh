#!/bin/sh
# 10-intake-examples: every push, pull_request and ping example payload of
# @octokit/webhooks-examples, signed by @octokit/webhooks-methods, is
# accepted, stored under its delivery id and normalised exactly once: one
# changes row per push and pull_request (the fields the expected rows of
# deliver.mjs --expect name), a project for a repository ping, nothing
# for an organization ping.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
bk_require_node
plan 19

bk_start

sent=$BK_DIR/sent
expect=$BK_DIR/expect
bk_deliver --expect "$expect" "$BK_HOOK" push pull_request ping >"$sent"
is "$?" 0 "every delivery got an answer"
n=$(wc -l <"$sent")
want=0
for ev in push pull_request ping; do
	want=$((want + $("$NODE" "$BK_TOOLS/deliver.mjs" count "$ev")))
done
is "$n" "$want" "sent every example ($want)"
not202=$(awk '$4 != 202' "$sent")
is "$not202" "" "every example got 202"

# Processing may follow the answer: wait until nothing is 'received'.
settled() {
	[ "$(bk_sql "SELECT count(*) FROM deliveries
	    WHERE state = 'received'")" = 0 ]
}
ok "every delivery is processed within 10 s" bk_wait_for 10 settled

awk '{ print $1 "|" $2 "|sha256|processed" }' "$sent" | LC_ALL=C sort \
    >"$BK_DIR/want.deliveries"
bk_sql "SELECT id, event, signature, state FROM deliveries ORDER BY id" \
    >"$BK_DIR/got.deliveries"
same_text "$BK_DIR/got.deliveries" "$BK_DIR/want.deliveries" \
    "deliveries: each stored once, with its event, sha256, processed"

# content_type may be the media type or a short name for it.
is "$(bk_sql "SELECT count(*) FROM deliveries WHERE (content_type NOT LIKE
    'application/json%' AND content_type != 'json') OR size <= 0
    OR payload IS NULL
    OR received_at IS NULL OR remote IS NULL OR processed_at IS NULL")" 0 \
    "deliveries: content type, size, payload, times and remote are set"

# The stored payload is the body, byte for byte (checked on one example).
id=$(awk '$2 == "push" && $3 == 4 { print $1 }' "$sent")
"$NODE" "$BK_TOOLS/deliver.mjs" payload push 4 >"$BK_DIR/push4.json"
is "$(bk_sql "SELECT CAST(payload AS BLOB) = readfile('$BK_DIR/push4.json'),
    size = length(readfile('$BK_DIR/push4.json'))
    FROM deliveries WHERE id = '$id'")" "1|1" \
    "deliveries: the payload and size are the body's"

# The intake queues a change for the build engine; the engine then sets
# it aside because Codertocat/Hello-World never pinged and auto_approve
# is off. A row so set aside counts as the intake's 'queued'.
unapproved="project Codertocat/Hello-World is pending, not approved"
LC_ALL=C sort "$expect" >"$BK_DIR/want.changes"
ok "the build engine has taken every queued change" bk_wait_for 10 \
    sh -c "[ \"\$(\"$SQLITE3\" -cmd '.timeout 5000' \
    \"$BK_STATE/beekeeper.db\" \
    \"SELECT count(*) FROM changes WHERE state = 'queued'\")\" = 0 ]"
bk_sql "SELECT delivery_id, event, repo, ref_type, ref, ifnull(base_ref, ''),
    CASE WHEN deleted THEN '-' ELSE sha END, ifnull(pr, ''),
    ifnull(action, ''), fork, deleted, sender,
    CASE WHEN reason = '$unapproved' THEN 'queued' ELSE state END
    FROM changes ORDER BY delivery_id" >"$BK_DIR/got.changes"
same_text "$BK_DIR/got.changes" "$BK_DIR/want.changes" \
    "changes: one row per push and pull_request, fields from the payload"
is "$(bk_sql "SELECT count(*) FROM changes WHERE reason = '$unapproved'")" \
    "$(grep -c '|queued$' "$expect")" \
    "the engine ignores each change of the unapproved project, saying why"
is "$(bk_sql "SELECT count(*) FROM builds")" 0 \
    "and builds nothing for it"

is "$(bk_sql "SELECT count(*) FROM changes c JOIN deliveries d
    ON d.id = c.delivery_id WHERE d.event != c.event")" 0 \
    "changes: each row's event is its delivery's"
is "$(bk_sql "SELECT count(*) FROM changes WHERE state = 'ignored'
    AND ifnull(reason, '') = ''")" 0 \
    "changes: every ignored row says why"
is "$(bk_sql "SELECT count(*) FROM changes WHERE event = 'push' AND deleted
    AND state = 'ignored'")" \
    "$(grep -c '|push|.*|1|[^|]*|ignored$' "$expect")" \
    "changes: branch and tag deletes are ignored with deleted=1"
is "$(bk_sql "SELECT count(*) FROM changes WHERE clone_url IS NULL
    OR created_at IS NULL")" 0 "changes: clone_url and created_at are set"

gh=https://github.com/Octocoders/Hello-World
is "$(bk_sql "SELECT repo, clone_url, ifnull(html_url, ''), state
    FROM projects ORDER BY repo")" \
    "Codertocat/Hello-World|https://github.com/Codertocat/Hello-World.git||pending
Octocoders/Hello-World|$gh.git|$gh|pending" \
    "projects: the ping registers one pending project, a push another"
ok "the daemon is still alive" bk_alive

bk_finish
