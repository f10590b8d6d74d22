#!/bin/sh
# 13-intake-form: a webhook configured for application/x-www-form-urlencoded
# sends payload=<urlencoded JSON>, signed over the form body: it is stored
# as the decoded JSON. Legacy sha1 signatures (X-Hub-Signature) are
# refused unless legacy_signatures is on, and never override a sha256 one.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
bk_require_node
plan 16

bk_start

# Legacy off.
line=$(bk_deliver --form --index 4 "$BK_HOOK" push)
id=$(echo "$line" | cut -d' ' -f1)
is "$(echo "$line" | cut -d' ' -f4)" 202 "form-encoded push: 202"
"$NODE" "$BK_TOOLS/deliver.mjs" payload push 4 >"$BK_DIR/push4.json"
is "$(bk_sql "SELECT CAST(payload AS BLOB) = readfile('$BK_DIR/push4.json')
    FROM deliveries WHERE id = '$id'")" 1 \
    "form-encoded push: the stored payload is the decoded JSON"
# content_type may be the media type or a short name for it.
like "$(bk_sql "SELECT content_type, signature FROM deliveries
    WHERE id = '$id'")" \
    '^(application/x-www-form-urlencoded.*|form)[|]sha256$' \
    "form-encoded push: content type and signature recorded"
settled() {
	[ "$(bk_sql "SELECT count(*) FROM changes WHERE delivery_id = '$id'")" \
	    = 1 ]
}
ok "form-encoded push: one change row" bk_wait_for 10 settled

line=$(bk_deliver --form --index 0 "$BK_HOOK" pull_request)
is "$(echo "$line" | cut -d' ' -f4)" 202 "form-encoded pull_request: 202"

is "$(bk_deliver_status --sig sha1 --index 4 "$BK_HOOK" push)" 401 \
    "legacy off: sha1 only is refused"
is "$(bk_deliver_status --sig sha1 --form --index 4 "$BK_HOOK" push)" 401 \
    "legacy off: sha1 only, form-encoded, is refused"

# Legacy on.
bk_stop
BK_LEGACY_SIGNATURES=true bk_write_config
bk_restart
line=$(bk_deliver --sig sha1 --index 4 "$BK_HOOK" push)
id=$(echo "$line" | cut -d' ' -f1)
is "$(echo "$line" | cut -d' ' -f4)" 202 "legacy on: sha1 only: 202"
is "$(bk_sql "SELECT signature FROM deliveries WHERE id = '$id'")" sha1 \
    "legacy on: signature recorded as sha1"
line=$(bk_deliver --sig sha1 --form --index 4 "$BK_HOOK" push)
is "$(echo "$line" | cut -d' ' -f4)" 202 \
    "legacy on: sha1 only, form-encoded: 202"
is "$(bk_deliver_status --sig sha1 --wrong-secret --index 4 "$BK_HOOK" \
    push)" 401 "legacy on: a wrong sha1 is refused"

line=$(bk_deliver --sig both --index 4 "$BK_HOOK" push)
id=$(echo "$line" | cut -d' ' -f1)
is "$(bk_sql "SELECT signature FROM deliveries WHERE id = '$id'")" sha256 \
    "legacy on: with both headers, sha256 is the one checked"

# A good sha1 must not rescue a bad sha256 (no downgrade).
f=$BK_DIR/push4.json
bk_post_file "$f" push downgrade-1 application/json \
    "X-Hub-Signature-256: $(bk_hmac sha256 "$f" "not-$BK_SECRET")" \
    "X-Hub-Signature: $(bk_hmac sha1 "$f")"
is "$BK_STATUS" 401 "legacy on: bad sha256 with a good sha1 is refused"
is "$(bk_sql "SELECT count(*) FROM deliveries WHERE id = 'downgrade-1'")" 0 \
    "legacy on: the refused delivery is not stored"

bk_finish
