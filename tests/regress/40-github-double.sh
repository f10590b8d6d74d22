#!/bin/sh
# 40-github-double.sh: the GitHub API double (tests/fakes/github.mjs) is
# checked by a real client written by others, @octokit/rest (through
# tests/tools/octokit-check.mjs), and by curl for the tarball redirect,
# authentication, the request log and the control endpoints.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_node
[ -f "$BK_NODE_MODULES/@octokit/rest/package.json" ] ||
    skip_all "@octokit/rest not installed in $BK_NODE_MODULES (run npm ci)"
command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v git >/dev/null 2>&1 || skip_all "git not found"

FAKE=$top_srcdir/tests/fakes/github.mjs

plan 30

bk_tmpdir
REPO=$BK_DIR/repos/acme/widget
mkdir -p "$REPO"
bk_repo_init "$REPO"
cat >"$REPO/beekeeper.yml" <<'EOF'
phases:
  test:
    unit:
      run: make check
EOF
SHA=$(bk_repo_commit "$REPO" "a pipeline")
SHORT=$(printf '%s' "$SHA" | cut -c1-7)
echo "acme/widget alice" >"$BK_DIR/collaborators"
TOKEN="tok-$$-$(date +%s)-secret"

# The double, on an ephemeral port; the exit trap kills it by PID.
"$NODE" "$FAKE" --port 0 --repos "$BK_DIR/repos" --log "$BK_DIR/gh.log" \
    --token "$TOKEN" --collaborators "$BK_DIR/collaborators" \
    >"$BK_DIR/gh.out" 2>"$BK_DIR/gh.err" &
echo $! >>"$BK_DIR/extra.pids"

gh_port() {
	sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
	    "$BK_DIR/gh.out"
}
gh_listening() {
	[ -n "$(gh_port)" ]
}
if ! bk_wait_for 10 gh_listening; then
	echo "Bail out! the GitHub double is not listening after 10 s"
	diag <"$BK_DIR/gh.err"
	exit 1
fi
pass "the double prints its port once bound"
GH=http://127.0.0.1:$(gh_port)

# --------------------------------------------------------- with Octokit

(cd "$REPO" && "$NODE" "$BK_TOOLS/octokit-check.mjs" "$GH" "$TOKEN" \
    acme/widget "$SHA" beekeeper.yml) >"$BK_DIR/octokit.out" \
    2>"$BK_DIR/octokit.err"
is "$?" 0 "octokit-check.mjs meets no unexpected failure"
OUT=$(cat "$BK_DIR/octokit.out")
[ ! -s "$BK_DIR/octokit.err" ] || diag <"$BK_DIR/octokit.err"

like "$OUT" '^get status=200 full_name=acme/widget default_branch=main private=false ratelimit_limit=5000 request_id=yes$' \
    "repos.get: the repository, its default branch from HEAD"
like "$OUT" '^content-raw status=200 same=yes$' \
    "repos.getContent raw: the file's bytes"
like "$OUT" '^content-json status=200 type=file encoding=base64 name=beekeeper.yml size=right same=yes$' \
    "repos.getContent: the content object, base64"
like "$OUT" '^content-missing threw=HttpError status=404 message="Not Found"$' \
    "repos.getContent of a missing path: RequestError 404"
like "$OUT" '^status-create status=201 state=success context=beekeeper:test/unit id=1 target_url=http://127.0.0.1:8080/builds/1$' \
    "repos.createCommitStatus: 201 and the status object"
like "$OUT" '^status-default-context status=201 context=default$' \
    "a status without a context gets \"default\""
like "$OUT" '^status-invalid-state threw=HttpError status=422 message="Validation Failed" field=state$' \
    "an invalid state: RequestError 422, Validation Failed"
like "$OUT" '^status-long-description threw=HttpError status=422 field=description$' \
    "a description over 140 characters: RequestError 422"
like "$OUT" '^status-update status=201$' \
    "a second status for a context"
like "$OUT" '^combined status=200 state=success total_count=2 contexts=beekeeper:test/unit,default sha=right$' \
    "repos.getCombinedStatusForRef: the latest per context"
like "$OUT" '^list status=200 count=3 newest=default/success$' \
    "repos.listCommitStatusesForRef: every status, newest first"
like "$OUT" '^collaborator-yes status=204$' \
    "repos.checkCollaborator: a listed user, 204"
like "$OUT" '^collaborator-no threw=HttpError status=404$' \
    "repos.checkCollaborator: anyone else, RequestError 404"
like "$OUT" '^fault-500 threw=HttpError status=500$' \
    "a 500 fault: RequestError 500"
like "$OUT" '^after-fault status=200$' \
    "a fault with count 1 hits one request only"
like "$OUT" '^fault-rate-limit threw=HttpError status=403 remaining=0 reset_in=soon retry_after=30 message="API rate limit exceeded for installation ID 1."$' \
    "a rate-limit fault: 403, X-RateLimit-Remaining 0, Retry-After"
like "$OUT" '^fault-delay status=200 delayed=yes$' \
    "a delay fault slows the next request"
like "$OUT" '^bad-token threw=HttpError status=401 message="Bad credentials"$' \
    "a wrong token: RequestError 401, Bad credentials"
like "$OUT" '^app-token installation=1 status=201 token=ghs expires=1h use=200$' \
    "an app's JWT gets an installation token that works"

# ------------------------------------------------------------ with curl

H="Authorization: token $TOKEN"
LOC=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H "$H" \
    "$GH/repos/acme/widget/tarball/main")
is "$LOC" "302 $GH/_codeload/acme/widget/$SHA.tar.gz" \
    "the tarball redirects to the commit's archive"
curl -sfL -H "$H" -o "$BK_DIR/src.tar.gz" \
    "$GH/repos/acme/widget/tarball/$SHA"
LIST=$(tar -tzf "$BK_DIR/src.tar.gz" 2>&1)
like "$LIST" "^acme-widget-$SHORT/beekeeper\\.yml\$" \
    "curl -L fetches a tar.gz under OWNER-NAME-SHORTSHA/"

HDRS=$(curl -s -D - -o "$BK_DIR/body" "$GH/repos/acme/widget" | tr -d '\r')
like "$HDRS" '^HTTP/1\.1 401' "no credentials: 401"
like "$(cat "$BK_DIR/body")" '"message":"Bad credentials","documentation_url":"https://' \
    "with GitHub's error body"
like "$HDRS" '^X-RateLimit-Used: [0-9]+$' \
    "every answer carries the rate-limit headers"

# The log: one JSON line per request, the authorization cut to its scheme.
ok "the log never holds the token" sh -c \
    "! grep -q -F -e '$TOKEN' '$BK_DIR/gh.log'"
like "$(cat "$BK_DIR/gh.log")" \
    '"method":"POST","path":"/repos/acme/widget/statuses/[0-9a-f]{40}",.*"authorization":"token".*"body":\{"state":"success","context":"beekeeper:test/unit"' \
    "the log records method, path, headers and the JSON body"

N=$(curl -s "$GH/_fake/requests" | "$NODE" -e '
	let s = ""; process.stdin.on("data", (d) => s += d);
	process.stdin.on("end", () => console.log(JSON.parse(s).length));')
LINES=$(wc -l <"$BK_DIR/gh.log" | tr -d ' ')
is "$N" "$LINES" "/_fake/requests holds every logged request"
curl -s -X POST -o /dev/null "$GH/_fake/reset"
is "$(curl -s "$GH/_fake/requests")" "[]" "/_fake/reset forgets them"
