#!/bin/sh
# 43-github-forks: admin variables and secrets reach tasks, and a secret a
# task prints is masked in its log, on disk and over HTTP; a pull request
# from a fork by someone who is not a collaborator waits for approval
# (also across a restart) and no fork build gets secrets; the changes of
# a project not yet approved are held, and approving it in the
# configuration builds the newest of them.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
bk_require_node
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
plan 30

bk_tmpdir
TOKEN="ghp-forks-$$"
(umask 077 && printf '%s\n' "$TOKEN" >"$BK_DIR/github-token")
DEPLOY="s3cr3t-$$-deploy-key"
(umask 077 && printf '%s\n' "$DEPLOY" >"$BK_DIR/deploy")
echo "acme/widget alice" >"$BK_DIR/collaborators"
for r in acme/widget acme/other; do
	mkdir -p "$BK_DIR/repos/$r"
	bk_repo_init "$BK_DIR/repos/$r"
	cat >"$BK_DIR/repos/$r/beekeeper.yml" <<'YML'
push:
  - show:
      run: echo "greeting=$GREETING deploy=$DEPLOY_TOKEN"; printf 'half=%s\n' "$DEPLOY_TOKEN"
pull_request:
  - show:
      run: echo "greeting=$GREETING deploy=[$DEPLOY_TOKEN]"
YML
	bk_repo_commit "$BK_DIR/repos/$r" "pipeline" >/dev/null
done
repo=$BK_DIR/repos/acme/widget
other=$BK_DIR/repos/acme/other

bk_gh_start gh
bk_gh_wait gh
GH=http://127.0.0.1:$(bk_gh_port gh)
BK_GITHUB_YAML="  api_url: $GH
  token_file: $BK_DIR/github-token"
BK_PROJECTS_YAML="  approved: [acme/widget]"
VARS="variables:
  - name: GREETING
    value: hello
secrets:
  - name: DEPLOY_TOKEN
    file: $BK_DIR/deploy
    project: acme/widget"
bk_start "$VARS"

# fork_pr ID NUMBER USER: a pull request from USER's fork of acme/widget.
fork_pr() {
	_sha=$(git -C "$repo" rev-parse HEAD)
	_base='{"full_name":"acme/widget","clone_url":"https://github.invalid/acme/widget.git"}'
	cat >"$BK_DIR/pr-$1.json" <<JSON
{"action":"opened","number":$2,"pull_request":{"number":$2,
"head":{"ref":"patch","sha":"$_sha","repo":{"full_name":"$3/widget"}},
"base":{"ref":"main","repo":$_base}},
"repository":$_base,"sender":{"login":"$3"}}
JSON
	bk_post_file "$BK_DIR/pr-$1.json" pull_request "$1"
}
# log_of BUILD: the log of its task "show", over HTTP.
log_of() {
	curl -s "$BK_URL/builds/$1/tasks/show/log"
}
# build_of_pr NUMBER: the newest build of that pull request.
build_of_pr() {
	bk_sql "SELECT id FROM builds WHERE pr = $1 ORDER BY id DESC LIMIT 1"
}
has_build_of_pr() {
	[ -n "$(build_of_pr "$1")" ]
}
last_status() {
	bk_gh_json "$GH/_fake/statuses" "d.filter((s) => s.sha === '$1' &&
	    s.context === '$2').map((s) => s.state + ' ' + s.description)
	    .pop()"
}
has_status() {
	[ "$(last_status "$1" "$2")" = "$3" ]
}

# ------------------------------------------------------------- secrets

sha=$(git -C "$repo" rev-parse HEAD)
bk_gh_push "$repo" acme/widget f-1
id=$(bk_wait_build "$sha")
ok "the push builds" bk_wait_for 30 bk_build_done "$id"
is "$(bk_sql "SELECT state FROM builds WHERE id = $id")" passed "and passes"
log=$(log_of "$id")
like "$log" '^greeting=hello deploy=\*\*\*$' \
    "the task had the variable and the secret, and its log masks the secret"
like "$log" '^half=\*\*\*$' "a secret printed by printf is masked too"
unlike "$log" "$DEPLOY" "the secret is not in the log served over HTTP"
is "$(grep -rl -- "$DEPLOY" "$BK_STATE" 2>/dev/null | wc -l | tr -d ' ')" 0 \
    "nor anywhere in the state directory"
unlike "$(cat "$BK_LOG")" "$DEPLOY" "nor in the daemon's log"
unlike "$(curl -s "$GH/_fake/statuses")" "$DEPLOY" "nor in any status"

# ---------------------------------------------------------------- forks

fork_pr f-2 7 mallory
is "$BK_STATUS" 202 "a pull request from a fork is accepted"
ok "it makes a build" bk_wait_for 10 has_build_of_pr 7
fid=$(build_of_pr 7)
ok "which waits for approval, shown on GitHub" bk_wait_for 10 has_status \
    "$sha" beekeeper "pending awaiting approval: a pull request from a fork by mallory"
is "$(bk_sql "SELECT state || ' ' || approval FROM builds WHERE id = $fid")" \
    "fetching required" "the store says it waits for approval"
is "$(bk_sql "SELECT count(*) FROM tasks WHERE build_id = $fid")" 0 \
    "nothing of it runs"
is "$(bk_gh_json "$GH/_fake/requests" "d.filter((r) =>
    r.path === '/repos/acme/widget/collaborators/mallory').length")" 1 \
    "the daemon asked GitHub whether the author is a collaborator"
like "$(cat "$BK_LOG")" "build $fid: waits for an admin's approval: pull request from a fork by mallory, who is not a collaborator of acme/widget" \
    "and says why the build waits"

bk_stop
bk_restart
sleep 1
is "$(bk_sql "SELECT state || ' ' || approval FROM builds WHERE id = $fid")" \
    "fetching required" "after a restart it still waits"
is "$(bk_sql "SELECT count(*) FROM tasks WHERE build_id = $fid")" 0 \
    "and still nothing runs"

fork_pr f-3 8 alice
ok "a collaborator's fork pull request builds" bk_wait_for 10 has_build_of_pr 8
aid=$(build_of_pr 8)
ok "without waiting" bk_wait_for 30 bk_build_done "$aid"
like "$(log_of "$aid")" '^greeting=hello deploy=\[\]$' \
    "it gets the variables but not the secret"

# trust_forks: forks run without approval, still without secrets.
BK_GITHUB_YAML="$BK_GITHUB_YAML
  trust_forks: true"
bk_write_config "$VARS"
kill -HUP "$BK_PID"
ok "the daemon reloads" bk_wait_for 10 grep -q "reload: configuration read" "$BK_LOG"
fork_pr f-4 9 mallory
ok "with trust_forks a stranger's fork builds" bk_wait_for 10 has_build_of_pr 9
tid=$(build_of_pr 9)
ok "and runs at once" bk_wait_for 30 bk_build_done "$tid"
like "$(log_of "$tid")" '^greeting=hello deploy=\[\]$' \
    "still without the secret"

# ------------------------------------------------ projects not approved

osha1=$(git -C "$other" rev-parse HEAD)
bk_gh_push "$other" acme/other f-5
echo more >"$other/more.txt"
osha2=$(bk_repo_commit "$other" "more")
bk_gh_push "$other" acme/other f-6
ok "a project not approved: its pushes are held" bk_wait_for 10 sh -c \
    "[ \"\$(\"$SQLITE3\" \"$BK_STATE/beekeeper.db\" \
    \"SELECT count(*) FROM changes WHERE repo = 'acme/other' AND held = 1\")\" = 2 ]"
is "$(bk_sql "SELECT count(*) FROM builds WHERE project = 'acme/other'")" 0 \
    "and not built"
BK_PROJECTS_YAML="  approved: [acme/widget, acme/other]"
bk_write_config "$VARS"
kill -HUP "$BK_PID"
ok "approving it in the configuration builds its newest change" \
    bk_wait_for 10 sh -c "[ -n \"\$(\"$SQLITE3\" \"$BK_STATE/beekeeper.db\" \
    \"SELECT id FROM builds WHERE sha = '$osha2'\")\" ]"
is "$(bk_sql "SELECT count(*) FROM builds WHERE project = 'acme/other'
    AND sha = '$osha1'")" 0 \
    "and only that one"

bk_finish
