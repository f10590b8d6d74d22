#!/bin/sh
# 12-intake-duplicate: GitHub redelivers with the same X-GitHub-Delivery:
# the first is stored (202), a repeat is acknowledged (200) and creates
# nothing, even with another body and after a restart.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
bk_require_node
plan 13

bk_start

id=dup-$$-0001
is "$(bk_deliver_status --id "$id" --index 4 "$BK_HOOK" push)" 202 \
    "first delivery: 202"
is "$(bk_deliver_status --id "$id" --index 4 "$BK_HOOK" push)" 200 \
    "same delivery again: 200"
is "$(bk_deliver_status --id "$id" --index 0 "$BK_HOOK" pull_request)" \
    200 "same id, another event and body: 200"

settled() {
	[ "$(bk_sql "SELECT state FROM deliveries WHERE id = '$id'")" = \
	    processed ]
}
ok "the delivery is processed" bk_wait_for 10 settled
is "$(bk_sql "SELECT count(*), event FROM deliveries")" "1|push" \
    "stored once, as the first delivery"
is "$(bk_sql "SELECT count(*), ref FROM changes WHERE delivery_id = '$id'")" \
    "1|master" "one change row"
is "$(bk_sql "SELECT count(*) FROM changes")" 1 "no other change row"

bk_stop INT
is "$?" 0 "SIGINT: exit status 0"
bk_restart
is "$(bk_deliver_status --id "$id" --index 4 "$BK_HOOK" push)" 200 \
    "after a restart, the same delivery: 200"
is "$(bk_sql "SELECT count(*) FROM deliveries") $(bk_sql \
    "SELECT count(*) FROM changes")" "1 1" \
    "after a restart: still one delivery and one change"
is "$(bk_deliver_status --index 4 "$BK_HOOK" push)" 202 \
    "a new delivery id: 202"

bk_finish
