#!/bin/sh
# 52-metrics: GET /metrics is the Prometheus text format, version 0.0.4.
# Every line is a comment or a sample the grammar allows, every family has
# its HELP and TYPE before its samples, which follow each other; the
# counts are the store's (deliveries by event and outcome, builds and
# tasks by state, every state included), the pools' and the instances'
# are the daemon's, label values are escaped, and the deliveries counter
# is the same after a restart. The bus's subscribers are counted as they
# come and go. HEAD answers as GET does; other methods
# are refused with 405.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

bk_require_daemon
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
PY=/usr/bin/python3
"$PY" -c 'import zmq' 2>/dev/null ||
    skip_all "$PY has no zmq module (Debian's python3-zmq)"
plan 38

CT='text/plain; version=0.0.4; charset=utf-8'
NAME='[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL='[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\[\\"n])*"'
VALUE='(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[+-]Inf)'
SAMPLE="^$NAME(\\{($LABEL(,$LABEL)*)?\\})? $VALUE( -?[0-9]+)?\$"
TYPES='(counter|gauge|histogram|summary|untyped)'
COMMENT="^# (HELP $NAME .*|TYPE $NAME $TYPES)\$"

# scrape: GET /metrics into BK_DIR/metrics, its headers in .headers.
scrape() {
	curl -s --max-time 10 -D "$BK_DIR/metrics.headers" \
	    -o "$BK_DIR/metrics" "$BK_URL/metrics"
}

# samples FAMILY: the lines of that family's samples, as served.
samples() {
	grep -E "^$1(\\{| )" "$BK_DIR/metrics"
}

# by_state TABLE FAMILY STATE...: the lines FAMILY should have, one per
# STATE, counted in TABLE.
by_state() {
	_t=$1
	_f=$2
	shift 2
	for _s in "$@"; do
		echo "$_f{state=\"$_s\"} $(bk_sql \
		    "SELECT count(*) FROM $_t WHERE state = '$_s'")"
	done
}

# deliveries_want: the deliveries lines the store says there should be,
# label values escaped as the format asks, sorted.
deliveries_want() {
	bk_sql "SELECT 'beekeeper_deliveries_total{event=\"' ||
	    replace(replace(replace(event, '\\', '\\\\'), '\"', '\\\"'),
	    char(10), '\\n') || '\",outcome=\"' || state || '\"} ' || count(*)
	    FROM deliveries GROUP BY event, state" | LC_ALL=C sort
}

# grammar: the lines that are neither a comment nor a sample.
grammar() {
	grep -Ev -e "$SAMPLE" -e "$COMMENT" "$BK_DIR/metrics"
}

# families: what is wrong with the grouping, one line each: a sample whose
# family's TYPE is not the last TYPE line, a family with other than one
# HELP and one TYPE, or one whose TYPE does not follow its HELP.
families() {
	awk '
	/^# HELP / { help[$3]++; last_help = $3; next }
	/^# TYPE / {
		type[$3]++
		if (last_help != $3)
			print "TYPE without HELP just before: " $3
		fam = $3
		next
	}
	/^#/ { next }
	{
		n = $0
		sub(/[{ ].*/, "", n)
		if (n != fam)
			print "sample outside its family: " $0
		seen[n] = 1
	}
	END {
		for (n in seen)
			if (help[n] != 1 || type[n] != 1)
				print n ": " help[n] + 0 " HELP, " \
				    type[n] + 0 " TYPE"
		for (n in type)
			if (help[n] != 1 || type[n] != 1)
				print n ": " help[n] + 0 " HELP, " \
				    type[n] + 0 " TYPE"
	}' "$BK_DIR/metrics" | sort -u
}

BK_AUTO_APPROVE=true
t0=$(date +%s)
bk_start "profiles:
  default: { slots: 2, max: 1 }
  big.x-1: { slots: 4 }"
repo=$BK_DIR/repo
bk_repo_init "$repo"
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - test:
      subtasks:
        - unit:
            run: "true"
        - flaky:
            critical: false
            run: exit 3
YML
sha=$(bk_repo_commit "$repo" "passes")
bk_push "$repo" acme/widget m-1
id=$(bk_wait_build "$sha")
ok "the first build finishes" bk_wait_for 30 bk_build_done "$id"
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - lint:
      run: exit 1
  - test:
      run: "true"
YML
sha=$(bk_repo_commit "$repo" "fails")
bk_push "$repo" acme/widget m-2
id=$(bk_wait_build "$sha")
ok "the second build finishes" bk_wait_for 30 bk_build_done "$id"
# A delivery whose payload cannot be normalised is stored as failed, and
# an event the daemon does not build is processed.
echo '{}' >"$BK_DIR/empty.json"
bk_post_file "$BK_DIR/empty.json" push m-3
bk_post_file "$BK_DIR/empty.json" issues m-4
# Event names from GitHub are plain words; the store could hold any, and
# the format must escape a backslash, a double quote and a newline.
bk_sql "INSERT INTO deliveries (id, event, received_at, size, payload, state)
    VALUES ('m-odd', 'a\\b\"c' || char(10) || 'd', 0, 0, '', 'processed')"
done_all() {
	[ "$(bk_sql "SELECT count(*) FROM deliveries
	    WHERE state = 'received'")" = 0 ]
}
ok "every delivery is processed" bk_wait_for 10 done_all
idle() {
	scrape && samples beekeeper_pool_busy |
	    grep -qx 'beekeeper_pool_busy{pool="default"} 0'
}
ok "GET /metrics answers, and the pool is idle" bk_wait_for 10 idle
t1=$(date +%s)

is "$(grammar)" "" "every line is a comment or a sample of the format"
is "$(families)" "" \
    "every family has one HELP and one TYPE, before its grouped samples"
like "$(tr -d '\r' <"$BK_DIR/metrics.headers")" "^Content-Type: $CT\$" \
    "Content-Type: text/plain; version=0.0.4"
is "$(samples beekeeper_up)" "beekeeper_up 1" "beekeeper_up is 1"

samples beekeeper_deliveries_total | LC_ALL=C sort >"$BK_DIR/deliveries"
deliveries_want >"$BK_DIR/deliveries.want"
same_text "$BK_DIR/deliveries" "$BK_DIR/deliveries.want" \
    "deliveries by event and outcome, as the store counts them"
like "$(cat "$BK_DIR/deliveries")" \
    '^beekeeper_deliveries_total\{event="push",outcome="failed"\} 1$' \
    "a delivery that failed is counted as failed"
like "$(cat "$BK_DIR/deliveries")" \
    '^beekeeper_deliveries_total\{event="push",outcome="processed"\} 2$' \
    "the two pushes are processed"
is "$(grep -F 'event="a' "$BK_DIR/deliveries")" \
    'beekeeper_deliveries_total{event="a\\b\"c\nd",outcome="processed"} 1' \
    "a label value escapes backslash, double quote and newline"
like "$(cat "$BK_DIR/metrics")" \
    '^# TYPE beekeeper_deliveries_total counter$' "deliveries: a counter"

is "$(samples beekeeper_builds)" "$(by_state builds beekeeper_builds \
    fetching running passed failed errored cancelled)" \
    "builds by state, every state, zeros too"
is "$(samples beekeeper_tasks)" "$(by_state tasks beekeeper_tasks \
    waiting queued running passed failed errored cancelled skipped)" \
    "tasks by state, every state, zeros too"
is "$(bk_sql "SELECT count(DISTINCT state) FROM tasks")" 3 \
    "(the tasks are in three states: passed, failed and skipped)"

is "$(samples beekeeper_pool_queued)" 'beekeeper_pool_queued{pool="default"} 0
beekeeper_pool_queued{pool="big.x-1"} 0' "queued tasks of each pool"
is "$(samples beekeeper_pool_busy)" 'beekeeper_pool_busy{pool="default"} 0
beekeeper_pool_busy{pool="big.x-1"} 0' "busy slots of each pool"
is "$(samples beekeeper_pool_cap)" "" "no pool has a cap: no sample"
like "$(cat "$BK_DIR/metrics")" '^# TYPE beekeeper_pool_cap gauge$' \
    "but the family is described"
is "$(samples beekeeper_instances | LC_ALL=C sort)" "$(bk_sql "SELECT
    'beekeeper_instances{pool=\"' || pool || '\",state=\"' || state ||
    '\"} ' || count(*) FROM instances
    WHERE state NOT IN ('terminated', 'lost') GROUP BY pool, state" |
    LC_ALL=C sort)" "live instances by pool and state, as the store has them"
is "$(samples beekeeper_instances)" \
    'beekeeper_instances{pool="default",state="ready"} 1' \
    "(the default pool's one instance, idle)"
is "$(samples beekeeper_github_backlog)" "beekeeper_github_backlog $(bk_sql \
    "SELECT count(*) FROM reports WHERE posted_state IS NOT state")" \
    "the GitHub backlog is the store's"
is "$(samples beekeeper_github_ratelimit_remaining)" "" \
    "GitHub has not told its rate limit: no sample"
like "$(samples beekeeper_bus_seq)" '^beekeeper_bus_seq [1-9][0-9]*$' \
    "the bus has published"
start=$(samples beekeeper_bus_start_time_seconds | cut -d' ' -f2)
ok "the bus started during the test, in seconds with milliseconds" \
    awk -v s="$start" -v a="$t0" -v b="$t1" \
    'BEGIN { exit !(s ~ /^[0-9]+\.[0-9][0-9][0-9]$/ && s >= a && s <= b + 1) }'

# Two subscribers, then one: the tool waits (with a deadline) for each.
is "$(samples beekeeper_bus_subscribers)" "beekeeper_bus_subscribers 0" \
    "no subscriber yet"
like "$(cat "$BK_DIR/metrics")" '^# TYPE beekeeper_bus_subscribers gauge$' \
    "subscribers: a gauge"
"$PY" "$BK_TOOLS/curve-client.py" subscribers --publish "$BK_PUBLISH" \
    --metrics "$BK_URL/metrics" --timeout 10 >"$BK_DIR/subscribers"
is "$(sed -n 1p "$BK_DIR/subscribers")" 2 "two SUB sockets: 2 subscribers"
is "$(sed -n 2p "$BK_DIR/subscribers")" 1 "one of them closed: 1"

is "$(curl -s -I --max-time 10 -o /dev/null \
    -w '%{http_code} %{content_type} %{size_download}' "$BK_URL/metrics")" \
    "200 $CT 0" "HEAD: 200, the same type, no body"
bk_http POST /metrics -D "$BK_DIR/post.headers" -d x=1
is "$BK_STATUS" 405 "POST /metrics: 405"
like "$(tr -d '\r' <"$BK_DIR/post.headers")" '^Allow: GET, HEAD$' \
    "with Allow: GET, HEAD"

# After a restart, with a cap on a pool: the counter is the same.
bk_stop
bk_sql "INSERT INTO pools (name, cap) VALUES ('default', 3)"
bk_restart
scrape
samples beekeeper_deliveries_total | LC_ALL=C sort >"$BK_DIR/deliveries.2"
same_text "$BK_DIR/deliveries.2" "$BK_DIR/deliveries" \
    "the deliveries counter survives a restart"
is "$(samples beekeeper_pool_cap)" 'beekeeper_pool_cap{pool="default"} 3' \
    "a pool's cap"
ok "the bus's start time is the new run's" awk -v s="$start" \
    -v n="$(samples beekeeper_bus_start_time_seconds | cut -d' ' -f2)" \
    'BEGIN { exit !(n > s) }'

bk_finish
