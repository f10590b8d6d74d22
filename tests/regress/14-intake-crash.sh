#!/bin/sh
# 14-intake-crash: a flood of deliveries, and kill -9 in the middle. After
# a restart on the same state dir, every delivery that was answered 2xx is
# in the store, each stored push has exactly one change row, nothing is
# left 'received', and the daemon serves again.
#
# BK_FLOOD_N (600), BK_FLOOD_C (16) and BK_FLOOD_KILL_AT (200 answers) size
# the flood.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
bk_require_node
plan 13

N=${BK_FLOOD_N:-600}
C=${BK_FLOOD_C:-16}
KILL_AT=${BK_FLOOD_KILL_AT:-200}

bk_start

flog=$BK_DIR/flood.log
: >"$flog"
"$NODE" "$BK_TOOLS/deliver.mjs" flood -s "$BK_SECRET_FILE" -n "$N" -c "$C" \
    --timeout 5000 -o "$flog" "$BK_HOOK" push 4 &
flood=$!
echo "$flood" >>"$BK_DIR/extra.pids"

answered() {
	[ "$(wc -l <"$flog")" -ge "$KILL_AT" ]
}
# Poll briskly: a fast daemon gets through the flood in a second or two.
i=0
until answered; do
	i=$((i + 1))
	[ "$i" -lt 1000 ] || break
	sleep 0.01
done
ok "the flood reached $KILL_AT answers" answered
bk_kill9

# The flood ends by itself: connections refused. Bounded wait.
_bk_wait_pid "$flood" 400 || kill -KILL "$flood" 2>/dev/null
wait "$flood"
is "$?" 0 "the flood tool exits 0 once the daemon is gone"

n2xx=$(awk '$2 ~ /^2/' "$flog" | wc -l)
nerr=$(awk '$2 == "ERR"' "$flog" | wc -l)
nother=$(awk '$2 != "ERR" && $2 !~ /^2/' "$flog" | wc -l)
diag "flood: $N sent, $n2xx answered 2xx, $nerr unanswered, $nother other"
ok "the kill came mid-flood (some deliveries unanswered)" test "$nerr" -gt 0
is "$nother" 0 "no answer other than 2xx before the kill"

bk_restart

settled() {
	[ "$(bk_sql "SELECT count(*) FROM deliveries
	    WHERE state = 'received'")" = 0 ]
}
ok "after restart, no delivery is left 'received' (within 10 s)" \
    bk_wait_for 10 settled

# Every id acknowledged with a 2xx must be in the store.
{
	echo "CREATE TEMP TABLE acked(id TEXT PRIMARY KEY);"
	echo "BEGIN;"
	awk '$2 ~ /^2/ { print "INSERT INTO acked VALUES('\''" $1 "'\'');" }' \
	    "$flog"
	echo "COMMIT;"
	echo "SELECT count(*) FROM acked WHERE id NOT IN"
	echo "    (SELECT id FROM deliveries);"
} >"$BK_DIR/acked.sql"
lost=$("$SQLITE3" -cmd '.timeout 5000' "$BK_STATE/beekeeper.db" \
    <"$BK_DIR/acked.sql")
is "$lost" 0 "every delivery answered 2xx is stored ($n2xx)"

stored=$(bk_sql "SELECT count(*) FROM deliveries")
ok "no more deliveries stored ($stored) than sent ($N)" test "$stored" -le "$N"
is "$(bk_sql "SELECT count(*) FROM deliveries WHERE state != 'processed'")" \
    0 "every stored delivery is processed"
is "$(bk_sql "SELECT count(*) FROM deliveries d WHERE event = 'push' AND
    (SELECT count(*) FROM changes c WHERE c.delivery_id = d.id) != 1")" 0 \
    "each stored push has exactly one change row"
is "$(bk_sql "SELECT count(*) FROM changes WHERE delivery_id NOT IN
    (SELECT id FROM deliveries)")" 0 "no change row without its delivery"

is "$(bk_deliver_status --index 4 "$BK_HOOK" push)" 202 \
    "the restarted daemon takes a new delivery"

bk_finish
