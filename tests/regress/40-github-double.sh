#!/bin/sh
# 40-github-double.sh: the GitHub API double (tests/fakes/github.mjs) is
# checked by a real client written by others, @octokit/rest (through
# tests/tools/octokit-check.mjs), and by curl for the tarball redirect,
# authentication, the request log and the control endpoints. The App's
# JWTs are checked against a key made here with openssl; a second double,
# with --token-ttl 1, lets an installation token expire.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_node
[ -f "$BK_NODE_MODULES/@octokit/rest/package.json" ] ||
    skip_all "@octokit/rest not installed in $BK_NODE_MODULES (run npm ci)"
command -v curl >/dev/null 2>&1 || skip_all "curl not found"
command -v git >/dev/null 2>&1 || skip_all "git not found"
command -v openssl >/dev/null 2>&1 || skip_all "openssl not found"

FAKE=$top_srcdir/tests/fakes/github.mjs

plan 68

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
APP_ID=4242

# The App's key pair, and a key of no App.
for _k in app wrong; do
	openssl genrsa -out "$BK_DIR/$_k.key" 2048 2>"$BK_DIR/openssl.err" ||
	    { echo "Bail out! openssl genrsa failed"; diag <"$BK_DIR/openssl.err"
	    exit 1; }
done
openssl rsa -in "$BK_DIR/app.key" -pubout -out "$BK_DIR/app.pub" \
    2>"$BK_DIR/openssl.err" ||
    { echo "Bail out! openssl rsa failed"; diag <"$BK_DIR/openssl.err"
    exit 1; }

# gh_auths LOG: the "auth" of each line of LOG, one a line; each token
# prefix must look like "installation:ghs_XXXX..." and is shown as
# "instN", N counting distinct tokens in order of first use.
gh_auths() {
	"$NODE" -e '
		const fs = require("node:fs");
		const seen = new Map();
		for (const l of fs.readFileSync(process.argv[1], "utf8")
		    .split("\n").filter(Boolean)) {
			const a = JSON.parse(l).auth;
			if (!/^installation:ghs_[A-Za-z0-9_-]{4}\.\.\.$/.test(a)) {
				console.log(a);
				continue;
			}
			if (!seen.has(a))
				seen.set(a, "inst" + (seen.size + 1));
			console.log(seen.get(a));
		}' "$1"
}

bk_gh_start gh --app-id "$APP_ID" --app-key "$BK_DIR/app.pub"
bk_gh_wait gh
pass "the double prints its port once bound"
GH=http://127.0.0.1:$(bk_gh_port gh)

# --------------------------------------------------------- with Octokit

(cd "$REPO" && "$NODE" "$BK_TOOLS/octokit-check.mjs" --app-id "$APP_ID" \
    --key "$BK_DIR/app.key" --wrong-key "$BK_DIR/wrong.key" "$GH" "$TOKEN" \
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
like "$OUT" '^fault-path content=200 status=502 again=201$' \
    "a fault scoped to the statuses path spares contents, hits statuses once"

# The App's JWTs.
like "$OUT" "^app-token installation=1 app_id=$APP_ID status=201 token=ghs expires=1h checks=write use=200\$" \
    "a JWT signed by the App's key gets an installation token that works"
UNDECODABLE='message="A JSON web token could not be decoded"'
like "$OUT" "^jwt-wrong-key threw=HttpError status=401 $UNDECODABLE\$" \
    "a JWT signed by another key: 401"
like "$OUT" "^jwt-installation-wrong-key threw=HttpError status=401 $UNDECODABLE\$" \
    "... also when it looks up the installation"
like "$OUT" "^jwt-unsigned threw=HttpError status=401 $UNDECODABLE\$" \
    "a JWT of the right shape but no signature: 401"
like "$OUT" '^jwt-wrong-iss threw=HttpError status=401 message="Integration not found"$' \
    "a JWT issued by another app id: 401, Integration not found"
like "$OUT" "^jwt-too-long threw=HttpError status=401 message=\"'Expiration time' claim \\('exp'\\) is too far in the future\"\$" \
    "a JWT living over 10 minutes: 401, exp too far in the future"
like "$OUT" "^jwt-expired threw=HttpError status=401 message=\"'Expiration time' claim \\('exp'\\) must be a numeric value representing the future time at which the assertion expires\"\$" \
    "an expired JWT: 401"
like "$OUT" "^jwt-iat-future threw=HttpError status=401 message=\"'Issued at' claim \\('iat'\\) must be an Integer representing the time that the assertion was issued\"\$" \
    "a JWT issued 2 minutes in the future: 401"

# Check runs.
NOAPP='message="You must authenticate via a GitHub App."'
like "$OUT" "^checks-personal threw=HttpError status=403 $NOAPP\$" \
    "checks.create with a personal token: 403"
like "$OUT" '^checks-create status=201 id=1 name=beekeeper/unit run_status=in_progress conclusion=null head_sha=right external_id=build-1 details_url=http://127.0.0.1:8080/builds/1 started=yes completed_at=null url=right annotations_url=right title=running summary="3 jobs" text=null annotations=0 suite=1 app=beekeeper pull_requests=0 location=right$' \
    "checks.create with an installation token: 201 and the check run"
like "$OUT" '^checks-create-queued status=201 id=2 run_status=queued suite=1 details_url=app title=null$' \
    "a check run without status is queued, details_url the App's page"
VF='message="Validation Failed" resource=CheckRun'
like "$OUT" "^checks-no-conclusion threw=HttpError status=422 $VF field=conclusion code=missing_field\$" \
    "completed without a conclusion: 422"
like "$OUT" "^checks-bad-status threw=HttpError status=422 $VF field=status code=invalid\$" \
    "an unknown status: 422"
like "$OUT" "^checks-bad-conclusion threw=HttpError status=422 $VF field=conclusion code=invalid\$" \
    "an unknown conclusion: 422"
like "$OUT" "^checks-no-summary threw=HttpError status=422 $VF field=output.summary code=missing_field\$" \
    "an output without a summary: 422"
like "$OUT" "^checks-no-name threw=HttpError status=422 $VF field=name code=missing_field\$" \
    "no name: 422"
like "$OUT" "^checks-bad-time threw=HttpError status=422 $VF field=started_at code=invalid\$" \
    "a started_at that is no ISO 8601 time: 422"
like "$OUT" '^checks-unknown-sha threw=HttpError status=422 message="No commit found for SHA: 0{40}"$' \
    "a head_sha of no commit: 422"
like "$OUT" '^checks-update status=200 run_status=completed conclusion=failure completed=yes title=failed text="unit: exit 2" annotations=1 external_id=build-1$' \
    "checks.update: a conclusion completes the run, output and annotations"
like "$OUT" "^checks-update-invalid threw=HttpError status=422 $VF field=conclusion code=missing_field\$" \
    "checks.update to completed without a conclusion: 422"
like "$OUT" '^checks-update-unknown threw=HttpError status=404 message="Not Found"$' \
    "checks.update of an unknown id: 404"
like "$OUT" "^checks-update-personal threw=HttpError status=403 $NOAPP\$" \
    "checks.update with a personal token: 403"
like "$OUT" '^checks-rerun status=201 id=3 run_status=completed conclusion=success suite=1$' \
    "a check run created completed"
like "$OUT" '^checks-list status=200 total_count=2 runs=3:beekeeper/unit:completed:success,2:beekeeper/lint:queued:null$' \
    "checks.listForRef: the latest run of each name, newest first"
like "$OUT" '^checks-list-all status=200 total_count=3 runs=3:beekeeper/unit:completed:success,2:beekeeper/lint:queued:null,1:beekeeper/unit:completed:failure$' \
    "checks.listForRef filter=all, with a personal token: every run"
like "$OUT" '^checks-list-name status=200 total_count=2 runs=3:beekeeper/unit:completed:success,1:beekeeper/unit:completed:failure$' \
    "checks.listForRef by check_name and status"
like "$OUT" '^checks-get status=200 name=beekeeper/unit conclusion=failure title=failed$' \
    "checks.get: the run as updated"

HIST=$(bk_gh_json "$GH/_fake/check-runs" 'd.map((r) => [r.id, r.repo, r.name,
    r.status + "/" + r.conclusion, r.history.map((h) => [h.action, h.status,
    h.conclusion, h.title].map(String).join(":")).join(",")].join(" "))
    .join("\n")')
is "$HIST" "1 acme/widget beekeeper/unit completed/failure created:in_progress:null:running,updated:completed:failure:failed
2 acme/widget beekeeper/lint queued/null created:queued:null:null
3 acme/widget beekeeper/unit completed/success created:completed:success:passed" \
    "/_fake/check-runs: each run now, and its history oldest first"

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
like "$(cat "$BK_DIR/gh.log")" \
    '"method":"POST","path":"/repos/acme/widget/check-runs",.*"authorization":"token".*"auth":"installation:ghs_[A-Za-z0-9_-]{4}\.\.\."\}$' \
    "... and which credential a request used: an installation token's prefix"
is "$(gh_auths "$BK_DIR/gh.log" | sort -u | tr '\n' ' ')" \
    "inst1 inst2 invalid jwt none token " \
    "... or token, jwt, none, invalid"

RESP=$(curl -s -X POST -d '{"status":500,"path":"repos"}' "$GH/_fake/faults")
is "$RESP" '{"message":"path must be a string starting with /"}' \
    "a fault's path must be absolute"

N=$(curl -s "$GH/_fake/requests" | "$NODE" -e '
	let s = ""; process.stdin.on("data", (d) => s += d);
	process.stdin.on("end", () => console.log(JSON.parse(s).length));')
LINES=$(wc -l <"$BK_DIR/gh.log" | tr -d ' ')
is "$N" "$LINES" "/_fake/requests holds every logged request"
curl -s -X POST -o /dev/null "$GH/_fake/reset"
is "$(curl -s "$GH/_fake/requests")" "[]" "/_fake/reset forgets them"
is "$(curl -s "$GH/_fake/check-runs")" "[]" "... and the check runs"

# ------------------------------------------------- installation tokens expire

bk_gh_start ttl --token-ttl 1
bk_gh_wait ttl
TTL=http://127.0.0.1:$(bk_gh_port ttl)
"$NODE" "$BK_TOOLS/octokit-check.mjs" --expiry "$TTL" "$TOKEN" acme/widget \
    >"$BK_DIR/expiry.out" 2>"$BK_DIR/expiry.err"
is "$?" 0 "octokit-check.mjs --expiry meets no unexpected failure"
[ ! -s "$BK_DIR/expiry.err" ] || diag <"$BK_DIR/expiry.err"
is "$(cat "$BK_DIR/expiry.out")" \
    'expiry expires=1s fresh=200 stale=401/"Bad credentials" check_run=401 other_token=yes renewed=200' \
    "--token-ttl 1: a token works, 2 s later gets 401, a new one works"
is "$(gh_auths "$BK_DIR/ttl.log" | tr '\n' ' ')" \
    "jwt inst1 inst1 inst1 jwt inst2 " \
    "the log shows the expired token's requests, then the new token's"
unlike "$(cat "$BK_DIR/gh.log" "$BK_DIR/ttl.log")" 'ghs_[A-Za-z0-9_-]{5}' \
    "no log holds more than a token's first 8 characters"

# ------------------------------------------------------------ bad options

"$NODE" "$FAKE" --token-ttl 0 >/dev/null 2>"$BK_DIR/opt.err"
is "$?:$(cat "$BK_DIR/opt.err")" \
    "2:github.mjs: --token-ttl: not a positive integer: 0" \
    "--token-ttl 0: exit 2 with the reason"
"$NODE" "$FAKE" --app-key "$BK_DIR/collaborators" >/dev/null \
    2>"$BK_DIR/opt.err"
like "$?:$(cat "$BK_DIR/opt.err")" "^2:github.mjs: --app-key $BK_DIR/collaborators: " \
    "an --app-key that is no key: exit 2 with the reason"
