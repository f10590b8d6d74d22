#!/bin/sh
# 41-github-status: with a token, the daemon reads beekeeper.yml and the
# commit's tarball through GitHub's API (the double in tests/fakes) and
# reports every task as a commit status: pending when planned, then a
# final state, never the same state twice, with a link to the task's log;
# one summary context per build. Every context ends final, also for
# superseded, errored and stopped builds; failing and rate-limited
# answers delay reports but lose none, also across a restart.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
bk_require_node
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
BK_PYTHON=${BK_PYTHON:-/usr/bin/python3}
plan 63

bk_tmpdir
TOKEN="ghp-test-$$-token"
(umask 077 && printf '%s\n' "$TOKEN" >"$BK_DIR/github-token")
: >"$BK_DIR/collaborators"
repo=$BK_DIR/repos/acme/widget
mkdir -p "$repo"
bk_repo_init "$repo"
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - lint:
      run: test -f beekeeper.yml && echo "tree unpacked"
  - test:
      subtasks:
        - unit:
            run: echo unit passes
        - docs:
            critical: false
            run: echo docs fail; exit 4
  - package:
      run: echo packaged
YML
sha=$(bk_repo_commit "$repo" "three phases")

bk_gh_start gh
bk_gh_wait gh
GH=http://127.0.0.1:$(bk_gh_port gh)

BK_GITHUB_YAML="  api_url: $GH
  token_file: $BK_DIR/github-token"
BK_PROJECTS_YAML="  approved: [acme/widget]"
# states SHA CONTEXT: the states posted for a context, oldest first.
states() {
	bk_gh_json "$GH/_fake/statuses" "d.filter((s) => s.sha === '$1' &&
	    s.context === '$2').map((s) => s.state).join(' ')"
}
# last_desc SHA CONTEXT: the description last posted for a context.
last_desc() {
	bk_gh_json "$GH/_fake/statuses" "d.filter((s) => s.sha === '$1' &&
	    s.context === '$2').map((s) => s.description).pop()"
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
# repeats SHA: contexts of SHA that got the same state twice in a row.
repeats() {
	bk_gh_json "$GH/_fake/statuses" "(() => {
	    const prev = new Map(), bad = [];
	    for (const s of d.filter((s) => s.sha === '$1')) {
		if (prev.get(s.context) === s.state) bad.push(s.context);
		prev.set(s.context, s.state);
	    }
	    return bad.join(' ') || 'none';
	})()"
}

bk_start
like "$(cat "$BK_LOG")" "github: $GH with a token" \
    "the daemon says it reports to GitHub with a token"

# ------------------------------------------------- the whole sequence

bk_gh_push "$repo" acme/widget s-1
is "$BK_STATUS" 202 "the push is accepted"
id=$(bk_wait_build "$sha")
ok "the build finishes" bk_wait_for 30 bk_build_done "$id"
is "$(bk_sql "SELECT state, reason FROM builds WHERE id = $id")" \
    "passed|passed, though test:docs failed (not critical)" \
    "the build passes, qualified"
ok "GitHub gets five contexts, all final" bk_wait_for 15 settled "$sha" 5
like "$(states "$sha" beekeeper:lint/lint)" '^(pending )?success$' \
    "lint: pending when planned (unless it ended first), then success"
like "$(states "$sha" beekeeper:test/unit)" '^(pending )?success$' \
    "test/unit: pending, then success"
like "$(states "$sha" beekeeper:test/docs)" '^(pending )?success$' \
    "a non-critical failure is posted as success"
like "$(last_desc "$sha" beekeeper:test/docs)" \
    '^failed, not critical: exited with status 4$' \
    "and its description says it failed, not critically"
is "$(states "$sha" beekeeper:package/package)" "pending success" \
    "the last phase was pending while it waited"
is "$(states "$sha" beekeeper)" "pending success" \
    "the build's own context: pending once, then success"
is "$(repeats "$sha")" none "no context got the same state twice"
like "$(last_desc "$sha" beekeeper)" \
    '^passed, though test:docs failed \(not critical\)$' \
    "the build's description is its result in words"
like "$(last_desc "$sha" beekeeper:lint/lint)" '^passed in [0-9]+s$' \
    "a task's final description says how long it took"
url=$(bk_gh_json "$GH/_fake/statuses" "d.filter((s) => s.sha === '$sha' &&
    s.context === 'beekeeper:lint/lint').pop().target_url")
is "$url" "$BK_URL/builds/$id/tasks/lint/log" \
    "a task's status links to its log"
like "$(curl -s "$url")" "tree unpacked" \
    "the link serves the log, and the task had the commit's tree"
is "$(bk_gh_json "$GH/_fake/requests" "d.filter((r) =>
    r.path === '/repos/acme/widget/contents/beekeeper.yml').map((r) =>
    r.query.ref).join(' ')")" "$sha" \
    "beekeeper.yml was read once, through the contents API at the commit"
is "$(bk_gh_json "$GH/_fake/requests" "d.filter((r) =>
    r.path === '/repos/acme/widget/tarball/$sha').length")" 1 \
    "the tarball was downloaded once for the build's four tasks"
is "$(bk_gh_json "$GH/_fake/requests" "[...new Set(d.filter((r) =>
    r.path.startsWith('/repos/')).map((r) => r.auth))].join(' ')")" token \
    "every API call used the token"
unlike "$(cat "$BK_LOG")" "$TOKEN" "the token is not in the daemon's log"
code=$(curl -s -o "$BK_DIR/code.tgz" -w '%{http_code}' \
    "$BK_URL/builds/$id/code")
is "$code" 200 "CODE_URL serves the commit's tarball"
like "$(tar -tzf "$BK_DIR/code.tgz" | head -n 20)" "beekeeper.yml" \
    "and it holds the tree"

# ---------------------------------------- no file, a broken file, a branch

git -C "$repo" rm -q beekeeper.yml
sha2=$(bk_repo_commit "$repo" "no pipeline")
bk_gh_push "$repo" acme/widget s-2
id2=$(bk_wait_build "$sha2")
ok "a commit without beekeeper.yml ends" bk_wait_for 15 bk_build_done "$id2"
ok "with its context final" bk_wait_for 15 settled "$sha2" 1
like "$(states "$sha2" beekeeper)" '^(pending )?error$' \
    "a build without a pipeline file is an error on GitHub"
like "$(last_desc "$sha2" beekeeper)" \
    "^no beekeeper.yml in acme/widget at ${sha2%????????????????????????????}" \
    "which says the file is missing"

printf 'push: [unclosed\n' >"$repo/beekeeper.yml"
sha3=$(bk_repo_commit "$repo" "broken pipeline")
bk_gh_push "$repo" acme/widget s-3
id3=$(bk_wait_build "$sha3")
ok "a broken beekeeper.yml ends the build" bk_wait_for 15 bk_build_done "$id3"
ok "with its context final" bk_wait_for 15 settled "$sha3" 1
like "$(last_desc "$sha3" beekeeper)" "^beekeeper.yml:" \
    "and the status says where the file is wrong"

bk_gh_push "$repo" acme/widget s-4 feature
is "$BK_STATUS" 202 "a push to another branch is accepted"
ok "and not built: only the default branch builds on push" \
    bk_wait_for 10 sh -c "[ \"\$(\"$SQLITE3\" \"$BK_STATE/beekeeper.db\" \
    \"SELECT state FROM changes WHERE delivery_id = 's-4'\")\" = ignored ]"
like "$(bk_sql "SELECT reason FROM changes WHERE delivery_id = 's-4'")" \
    "only the default branch \\(main\\) builds on push" "and says why"

# ------------------------------------------------------------ superseded

cat >"$repo/beekeeper.yml" <<'YML'
push:
  - slow:
      run: sleep 41
  - after:
      run: echo never
YML
sha4=$(bk_repo_commit "$repo" "slow")
bk_gh_push "$repo" acme/widget s-5
id4=$(bk_wait_build "$sha4")
ok "the slow task starts" bk_wait_for 15 bk_task_running "$id4" slow
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - quick:
      run: echo quick
YML
sha5=$(bk_repo_commit "$repo" "quick")
bk_gh_push "$repo" acme/widget s-6
ok "the newer commit's build supersedes the slow one" \
    bk_wait_for 15 bk_build_done "$id4"
ok "every context of the superseded build ends final" \
    bk_wait_for 15 settled "$sha4" 3
short5=$(printf '%s' "$sha5" | cut -c1-12)
is "$(states "$sha4" beekeeper:slow/slow)" "pending error" \
    "the running task: pending, then error"
is "$(last_desc "$sha4" beekeeper:slow/slow)" \
    "cancelled: superseded by $short5" "saying what superseded it"
is "$(last_desc "$sha4" beekeeper:after/after)" \
    "cancelled: superseded by $short5" "and so does the task never started"
is "$(last_desc "$sha4" beekeeper)" "cancelled: superseded by $short5" \
    "and the build's own context"
ok "the newer build reports as usual" bk_wait_for 15 settled "$sha5" 2

# ------------------------------------------------ outages and rate limits

curl -s -X POST -d '{"status":503,"count":3,"path":"/repos/acme/widget/statuses"}' \
    "$GH/_fake/faults" >/dev/null
echo "outage" >"$repo/outage.txt"
sha6=$(bk_repo_commit "$repo" "outage")
bk_gh_push "$repo" acme/widget s-7
id6=$(bk_wait_build "$sha6")
ok "the build runs while GitHub fails" bk_wait_for 15 bk_build_done "$id6"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id6")" passed \
    "and passes"

# The archive host fails once: the download starts over, from the API.
curl -s -X POST -d '{"status":502,"count":1,"path":"/_codeload"}' \
    "$GH/_fake/faults" >/dev/null
echo "codeload" >"$repo/codeload.txt"
sha9=$(bk_repo_commit "$repo" "codeload")
bk_gh_push "$repo" acme/widget s-10
id9=$(bk_wait_build "$sha9")
ok "a build whose tarball download failed once ends" \
    bk_wait_for 20 bk_build_done "$id9"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id9")" passed \
    "and passes: the download was tried again"
is "$(bk_gh_json "$GH/_fake/requests" "d.filter((r) =>
    r.path === '/repos/acme/widget/tarball/$sha9').length")" 2 \
    "from GitHub's API, not from the redirect it had expired"
unlike "$(cat "$BK_LOG")" "_codeload" \
    "the redirect's URL, which may hold a token, is never logged"
ok "its reports arrive once GitHub is back" bk_wait_for 30 settled "$sha6" 2
like "$(cat "$BK_LOG")" "GitHub answered 503.*will try again" \
    "the daemon said it would try again"
is "$(repeats "$sha6")" none "retries post nothing twice"

curl -s -X POST -d '{"status":403,"count":1,"rate_limited":true,"retry_after":2,"path":"/repos/acme/widget/statuses"}' \
    "$GH/_fake/faults" >/dev/null
echo "limited" >"$repo/limited.txt"
sha7=$(bk_repo_commit "$repo" "rate limited")
bk_gh_push "$repo" acme/widget s-8
ok "a rate-limited daemon still reports everything" \
    bk_wait_for 30 settled "$sha7" 2
like "$(cat "$BK_LOG")" "GitHub asked us to slow down \\(Retry-After\\); calls wait [0-9]+s" \
    "and it waited as GitHub asked"

# ------------------------- stopped while a task waits for its tree

# The archive host answers slowly: the daemon stops with a task still
# waiting for its commit's tarball, and the next run takes it up.
curl -s -X POST -d '{"delay_ms":4000,"count":1,"path":"/_codeload"}' \
    "$GH/_fake/faults" >/dev/null
echo "slow tree" >"$repo/slowtree.txt"
shaT=$(bk_repo_commit "$repo" "slow tree")
bk_gh_push "$repo" acme/widget s-11
idT=$(bk_wait_build "$shaT")
tarball_asked() {
	[ "$(bk_gh_json "$GH/_fake/requests" "d.filter((r) =>
	    r.path === '/repos/acme/widget/tarball/$shaT').length")" = 1 ]
}
ok "a task waits for its tree" bk_wait_for 15 tarball_asked
bk_stop
is "$?" 0 "the daemon stops cleanly while a task waits for its tree"
bk_restart
ok "the next daemon runs that build to its end" \
    bk_wait_for 30 bk_build_done "$idT"
is "$(bk_sql "SELECT state FROM builds WHERE id = $idT")" passed \
    "and it passes"

# ------------------------------------------------- across a restart

curl -s -X POST -d '{"status":502,"count":1000,"path":"/repos/acme/widget/statuses"}' \
    "$GH/_fake/faults" >/dev/null
echo "restart" >"$repo/restart.txt"
sha8=$(bk_repo_commit "$repo" "restart")
bk_gh_push "$repo" acme/widget s-9
id8=$(bk_wait_build "$sha8")
ok "the build finishes while GitHub refuses every status" \
    bk_wait_for 15 bk_build_done "$id8"
is "$(bk_sql "SELECT count(*) FROM reports WHERE sha = '$sha8'
    AND posted_state IS NOT state")" 2 \
    "its two reports wait in the store"
# The bus says so too: the snapshot's "github" object.
github_on_bus() {
	"$BK_PYTHON" "$top_srcdir/tests/tools/bus-client.py" request \
	    --control "$BK_CONTROL" '{"cmd": "snapshot"}' |
	    "$BK_PYTHON" -c 'import json, sys
g = json.load(sys.stdin)["github"]
print(g["name"], g["enabled"], g["backlog"],
    isinstance(g["ratelimit_remaining"], int))'
}
backlog_on_bus() {
	[ "$(github_on_bus)" = "github True 2 True" ]
}
if "$BK_PYTHON" -c 'import zmq' 2>/dev/null; then
	ok "the bus shows the backlog and the rate limit" \
	    bk_wait_for 10 backlog_on_bus
else
	skip "the bus shows the backlog" "$BK_PYTHON has no zmq"
fi
bk_stop
is "$?" 0 "the daemon stops cleanly with reports undelivered"
curl -s -X POST -d '{"status":502,"count":0}' "$GH/_fake/faults" >/dev/null
bk_restart
ok "the next daemon delivers them" bk_wait_for 30 settled "$sha8" 2
is "$(bk_sql "SELECT count(*) FROM reports WHERE posted_state IS NOT state")" \
    0 "nothing is left in the backlog"

bk_finish
