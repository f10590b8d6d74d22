#!/bin/sh
# 11-intake-bad: each bad request gets its status and a one-line reason,
# none is stored, the daemon keeps serving, and a refused signature is
# logged with the delivery id and the client's address but never the
# secret.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
bk_require_node
plan 45

BK_MAX_DELIVERY_SIZE=1K bk_start

good=$BK_DIR/good.json
printf '%s' '{"zen":"Design for failure.","hook_id":1}' >"$good"

# check DESC STATUS: the last answer had STATUS and a one-line reason.
bodies=
check() {
	bodies="$bodies
$BK_BODY"
	is "$BK_STATUS" "$2" "$1: $2"
	ok "$1: one-line reason" bk_one_line
}

bk_post_file "$good" ping bad-nosig application/json ""
check "no signature" 401

bk_post_file "$good" ping bad-wrongsig application/json \
    "X-Hub-Signature-256: $(bk_hmac sha256 "$good" "not-$BK_SECRET")"
check "wrong signature" 401

bk_post_file "$good" ping bad-truncsig application/json \
    "X-Hub-Signature-256: $(bk_hmac sha256 "$good" | cut -c1-40)"
check "truncated signature" 401

bk_post_file "$good" ping bad-sha1only application/json \
    "X-Hub-Signature: $(bk_hmac sha1 "$good")"
check "sha1 only, legacy off" 401

f=$BK_DIR/malformed.json
printf '%s' '{"zen": "unterminated' >"$f"
bk_post_file "$f" ping bad-malformed
check "malformed JSON" 400

f=$BK_DIR/array.json
printf '%s' '[{"zen":"an array"}]' >"$f"
bk_post_file "$f" ping bad-array
check "JSON array" 400

f=$BK_DIR/string.json
printf '%s' '"a JSON string"' >"$f"
bk_post_file "$f" ping bad-string
check "JSON string" 400

f=$BK_DIR/nopayload.form
printf '%s' 'zen=no+payload+field' >"$f"
bk_post_file "$f" ping bad-nopayload application/x-www-form-urlencoded
check "form without payload" 400

bk_post_file "$good" "" bad-noevent
check "no X-GitHub-Event" 400

bk_post_file "$good" ping ""
check "no X-GitHub-Delivery" 400

bk_post_file "$good" ping "bad/delivery"
check "delivery id with a slash" 400

long=$(printf '%065d' 0)
bk_post_file "$good" ping "$long"
check "delivery id of 65 characters" 400

f=$BK_DIR/big.json
{
	printf '{"zen":"'
	printf '%01100d' 0
	printf '"}'
} >"$f"
bk_post_file "$f" ping bad-toobig
check "body over max_delivery_size (1K)" 413

# Without Content-Length the limit must hold while the body arrives.
bk_http POST /github/webhook -H "Content-Type: application/json" \
    -H "X-GitHub-Event: ping" -H "X-GitHub-Delivery: bad-toobig-chunked" \
    -H "X-Hub-Signature-256: $(bk_hmac sha256 "$f")" \
    -H "Transfer-Encoding: chunked" --data-binary "@$f"
check "chunked body over max_delivery_size (1K)" 413

bk_post_file "$good" ping bad-textplain text/plain
check "text/plain" 415

bk_http GET /github/webhook -H "X-GitHub-Event: ping" \
    -H "X-GitHub-Delivery: bad-get"
check "GET /github/webhook" 405

bk_http PUT /github/webhook -H "Content-Type: application/json" \
    -H "X-GitHub-Event: ping" -H "X-GitHub-Delivery: bad-put" \
    -H "X-Hub-Signature-256: $(bk_hmac sha256 "$good")" \
    --data-binary "@$good"
check "PUT /github/webhook" 405

bk_http POST /nope -H "Content-Type: application/json" \
    -H "X-GitHub-Event: ping" -H "X-GitHub-Delivery: bad-nope" \
    -H "X-Hub-Signature-256: $(bk_hmac sha256 "$good")" \
    --data-binary "@$good"
check "POST /nope" 404

is "$(bk_sql "SELECT count(*) FROM deliveries")" 0 \
    "no bad request is stored"
is "$(bk_sql "SELECT count(*) FROM changes") $(bk_sql \
    "SELECT count(*) FROM projects")" "0 0" "no change and no project"
ok "alive after the bad requests" bk_alive

bk_post_file "$good" ping good-1
is "$BK_STATUS" 202 "a good delivery afterwards: 202"
is "$(bk_sql "SELECT event FROM deliveries WHERE id = 'good-1'")" ping \
    "the good delivery is stored"

like "$(cat "$BK_LOG")" \
    'bad-wrongsig.*127\.0\.0\.1|127\.0\.0\.1.*bad-wrongsig' \
    "the log names the delivery id and client of a refused signature"
case "$(cat "$BK_LOG") $bodies" in
*"$BK_SECRET"*)	not_ok "the secret is in neither the log nor any answer" ;;
*)		pass "the secret is in neither the log nor any answer" ;;
esac

bk_finish
