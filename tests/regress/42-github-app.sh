#!/bin/sh
# 42-github-app: as a GitHub App the daemon signs an RS256 JWT with its
# key (checked here with openssl against the App's public key), finds the
# repository's installation, gets an installation token and uses it until
# five minutes before it expires, then gets a new one; every task is also
# a check run, and a failed one carries the end of its log.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
bk_require_node
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
command -v openssl >/dev/null 2>&1 || skip_all "openssl is not installed"
plan 25

bk_tmpdir
APP_ID=4242
TOKEN=unused-personal-token
: >"$BK_DIR/collaborators"
(umask 077 && openssl genrsa -out "$BK_DIR/app.key" 2048 2>/dev/null)
openssl rsa -in "$BK_DIR/app.key" -pubout -out "$BK_DIR/app.pub" 2>/dev/null
repo=$BK_DIR/repos/acme/widget
mkdir -p "$repo"
bk_repo_init "$repo"
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - build:
      run: echo built
  - test:
      run: echo "first line"; echo "the assertion that failed"; exit 2
YML
sha=$(bk_repo_commit "$repo" "a failing test")

# Installation tokens live 303 s: the daemon, which keeps five minutes in
# hand, may use one for 3 s only.
bk_gh_start gh --app-id "$APP_ID" --app-key "$BK_DIR/app.pub" \
    --token-ttl 303
bk_gh_wait gh
GH=http://127.0.0.1:$(bk_gh_port gh)
BK_GITHUB_YAML="  api_url: $GH
  app_id: $APP_ID
  app_key_file: $BK_DIR/app.key"
BK_PROJECTS_YAML="  approved: [acme/widget]"
bk_start
like "$(cat "$BK_LOG")" "github: $GH as App $APP_ID" \
    "the daemon says it is an App"

# runs SHA: "name=status/conclusion" of each check run of SHA, by name.
runs() {
	bk_gh_json "$GH/_fake/check-runs" "d.filter((r) => r.head_sha ===
	    '$1').map((r) => r.name + '=' + r.status + '/' + r.conclusion)
	    .sort().join(' ')"
}
runs_done() {
	[ "$(runs "$1")" = "$2" ]
}
# count PATH_REGEXP: requests whose path matches.
count() {
	bk_gh_json "$GH/_fake/requests" "d.filter((r) =>
	    /$1/.test(r.path)).length"
}

bk_gh_push "$repo" acme/widget a-1
is "$BK_STATUS" 202 "the push is accepted"
id=$(bk_wait_build "$sha")
ok "the build ends" bk_wait_for 30 bk_build_done "$id"
ok "each task is a check run, completed" bk_wait_for 20 runs_done "$sha" \
    "build/build=completed/success test/test=completed/failure"
is "$(count '^\/repos\/acme\/widget\/installation$')" 1 \
    "the installation was looked up once (the push did not name it)"
is "$(count '^\/app\/installations\/1\/access_tokens$')" 1 \
    "one installation token served the whole build"
is "$(bk_gh_json "$GH/_fake/requests" "[...new Set(d.filter((r) =>
    /^\/repos\/acme\/widget\/(statuses|check-runs|contents|tarball)/
    .test(r.path)).map((r) => r.auth.replace(/:.*/, '')))].join(' ')")" \
    installation "every repository call used the installation token"
like "$(bk_gh_json "$GH/_fake/check-runs" "d.find((r) => r.head_sha ===
    '$sha' && r.name === 'test/test').output.summary")" \
    'the assertion that failed' \
    "a failed check run's summary holds the end of its log"
is "$(bk_gh_json "$GH/_fake/check-runs" "d.find((r) => r.head_sha ===
    '$sha' && r.name === 'test/test').details_url")" \
    "$BK_URL/builds/$id/tasks/test/log" "and links to the log"
# A state already over when its turn to be posted comes is not posted.
like "$(bk_gh_json "$GH/_fake/check-runs" "d.find((r) => r.head_sha ===
    '$sha' && r.name === 'build/build').history.map((h) =>
    h.status).join(' ')")" "^queued (in_progress )?completed$" \
    "a check run goes queued, in progress, completed"
is "$(bk_gh_json "$GH/_fake/statuses" "d.filter((s) => s.sha === '$sha' &&
    s.context === 'beekeeper:test/test').map((s) => s.state).join(' ')")" \
    "pending failure" "statuses are posted as well"

# The JWT, checked by openssl alone.
jwt=$(bk_gh_json "$GH/_fake/jwts" "d[0]")
b64url_decode() {
	_s=$(printf '%s' "$1" | tr '_-' '/+')
	case $((${#_s} % 4)) in
	2)	_s="$_s==" ;;
	3)	_s="$_s=" ;;
	esac
	printf '%s' "$_s" | openssl base64 -d -A
}
printf '%s' "${jwt%.*}" >"$BK_DIR/jwt.data"
b64url_decode "${jwt##*.}" >"$BK_DIR/jwt.sig"
is "$(openssl dgst -sha256 -verify "$BK_DIR/app.pub" \
    -signature "$BK_DIR/jwt.sig" "$BK_DIR/jwt.data" 2>&1)" "Verified OK" \
    "the JWT verifies with the App's public key (openssl dgst -verify)"
is "$(b64url_decode "${jwt%%.*}")" '{"alg":"RS256","typ":"JWT"}' \
    "its header says RS256"
claims=$(b64url_decode "$(printf '%s' "$jwt" | cut -d. -f2)")
like "$claims" "\"iss\":\"$APP_ID\"" "it is issued by the App"
is "$(printf '%s' "$claims" | "$NODE" -e '
    const c = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const now = Math.floor(Date.now() / 1000);
    console.log(c.exp - c.iat <= 600 && c.iat <= now && c.exp > now)')" \
    true "it lives at most ten minutes, from a moment already past"
unlike "$(cat "$BK_LOG")" "$(printf '%s' "$jwt" | cut -c1-40)" \
    "the JWT is not in the daemon's log"

# After three seconds the token is within five minutes of its end.
sleep 4
echo again >"$repo/again.txt"
sha2=$(bk_repo_commit "$repo" "again")
bk_gh_push "$repo" acme/widget a-2 main ',"installation":{"id":1}'
id2=$(bk_wait_build "$sha2")
ok "the next build ends" bk_wait_for 30 bk_build_done "$id2"
ok "and reports" bk_wait_for 20 runs_done "$sha2" \
    "build/build=completed/success test/test=completed/failure"
is "$(count '^\/app\/installations\/1\/access_tokens$')" 2 \
    "a new token was taken before the old one expired"
is "$(count '^\/repos\/acme\/widget\/installation$')" 1 \
    "the installation was not looked up again"

# A repository the App is not installed on: the build says so.
BK_PROJECTS_YAML="  approved: [acme/widget, acme/nowhere]"
bk_write_config
kill -HUP "$BK_PID"
ok "the daemon reloads" bk_wait_for 10 grep -q "reload: configuration read" \
    "$BK_LOG"
bk_gh_push "$repo" acme/nowhere a-3
nowhere_done() {
	nid=$(bk_sql "SELECT id FROM builds WHERE project = 'acme/nowhere'")
	[ -n "$nid" ] && bk_build_done "$nid"
}
ok "a build of a repository without the App ends" bk_wait_for 15 nowhere_done
is "$(bk_sql "SELECT state || ': ' || reason FROM builds WHERE id = $nid")" \
    "errored: cannot read beekeeper.yml from GitHub: the GitHub App is not installed on acme/nowhere (GitHub answered 404)" \
    "in words: the App is not installed there"

bk_finish
