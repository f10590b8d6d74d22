#!/bin/sh
#
# The webhook intake benchmark, run by `make bench` from the build directory.
# It measures beekeeperd against bench/baseline (libmicrohttpd that only
# checks the signature) in the same run, interleaved, BENCH_ROUNDS rounds of
# BENCH_COUNT signed push deliveries over 32 connections, each server with a
# fresh state.  After each daemon round it checks that every delivery the
# daemon acknowledged with a 2xx is in its store: a lost delivery exits 1.
# Missing the speed target is reported, not failed: this is a measurement.
#
# Environment: BENCH_COUNT (default 4000), BENCH_ROUNDS (default 3),
# SQLITE3 (default sqlite3).

set -u
LC_ALL=C
export LC_ALL

srcdir=$(dirname "$0")/..
body=$srcdir/bench/data/push.json
count=${BENCH_COUNT:-4000}
rounds=${BENCH_ROUNDS:-3}
conc=32
sqlite=${SQLITE3:-sqlite3}
target=0.5

die()
{
	echo "webhook.sh: $*" >&2
	exit 1
}

# A positive integer, or die.
check_count()
{
	case $2 in
	'' | *[!0-9]*) die "$1 must be a positive integer: '$2'" ;;
	esac
	[ "$2" -gt 0 ] || die "$1 must be a positive integer: '$2'"
}

check_count BENCH_COUNT "$count"
check_count BENCH_ROUNDS "$rounds"
for prog in ./beekeeperd ./bench/baseline ./bench/loadgen; do
	[ -x "$prog" ] || die "$prog not built: run make bench"
done
[ -r "$body" ] || die "$body: not readable"
command -v "$sqlite" >/dev/null 2>&1 || die "$sqlite not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/beekeeper-bench.XXXXXX") ||
    die "cannot make a temporary directory"
# The server and the load generator running, if any.  Both run in the
# background so that a signal to this script is handled at once.
pid=
lpid=
trap '[ -z "$lpid" ] || kill "$lpid" 2>/dev/null
    [ -z "$pid" ] || stop server >/dev/null 2>&1
    rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The secret has no final newline, so no reader can disagree about it.
secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
[ ${#secret} -eq 64 ] || die "cannot read /dev/urandom"
(umask 077 && printf '%s' "$secret" >"$tmp/secret") ||
    die "cannot write $tmp/secret"
chmod 600 "$tmp/secret"

cat >"$tmp/beekeeperd.yml" <<EOF
listen: 127.0.0.1:0
public_url: http://127.0.0.1:8080
state_dir: $tmp/state
github:
  webhook_secret_file: $tmp/secret
EOF

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# field NAME LINE: the value of NAME=VALUE in a loadgen result line.
field()
{
	for kv in $2; do
		case $kv in
		"$1"=*) echo "${kv#*=}"; return 0 ;;
		esac
	done
}

# load NAME ROUND IDSFILE: run the load generator against $port, write the
# ids of the acknowledged deliveries to IDSFILE and append
# "rate p50 p99 ok" to $tmp/NAME.results.
load()
{
	./bench/loadgen -u "http://127.0.0.1:$port/github/webhook" \
	    -s "$tmp/secret" -b "$body" -c "$conc" -n "$count" -o "$3" \
	    >"$tmp/loadgen.out" &
	lpid=$!
	wait "$lpid"
	lstatus=$?
	lpid=
	[ "$lstatus" -eq 0 ] || die "$1 round $2: loadgen failed"
	line=$(cat "$tmp/loadgen.out")
	case $line in
	requests=*' ok='*' fail='*' rate='*' p50_ms='*' p99_ms='*) ;;
	*) die "$1 round $2: unexpected loadgen output: $line" ;;
	esac
	fail=$(field fail "$line")
	if [ "$fail" -ne 0 ]; then
		echo "webhook.sh: $1 round $2: $fail of $count requests" \
		    "failed" >&2
	fi
	printf '%s %s %s %s\n' "$(field rate "$line")" \
	    "$(field p50_ms "$line")" "$(field p99_ms "$line")" \
	    "$(field ok "$line")" >>"$tmp/$1.results"
}

baseline_round()
{
	: >"$tmp/baseline.log"
	./bench/baseline -p 0 -s "$tmp/secret" >"$tmp/baseline.log" \
	    2>&1 &
	pid=$!
	if ! wait_port "$tmp/baseline.log"; then
		tail -n 20 "$tmp/baseline.log" >&2
		die "baseline did not start"
	fi
	load baseline "$1" /dev/null
	stop baseline || die "baseline exited with status $?"
}

daemon_round()
{
	rm -rf "$tmp/state"
	mkdir -p "$tmp/state" || die "cannot make $tmp/state"
	: >"$tmp/daemon.log"
	./beekeeperd -d -f "$tmp/beekeeperd.yml" >/dev/null \
	    2>"$tmp/daemon.log" &
	pid=$!
	if ! wait_port "$tmp/daemon.log"; then
		tail -n 20 "$tmp/daemon.log" >&2
		die "beekeeperd did not start"
	fi
	load daemon "$1" "$tmp/ids"
	if ! stop beekeeperd; then
		echo "webhook.sh: beekeeperd exited with status $status" \
		    "after SIGTERM:" >&2
		tail -n 20 "$tmp/daemon.log" >&2
	fi
	check_stored "$1"
}

# check_stored ROUND: every delivery acknowledged with a 2xx must be in
# the store once the daemon has stopped.
check_stored()
{
	db=$tmp/state/beekeeper.db
	[ -f "$db" ] || die "daemon round $1: no store at $db"
	"$sqlite" "$db" 'select id from deliveries' >"$tmp/stored" ||
	    die "daemon round $1: cannot read $db"
	sort -u "$tmp/stored" >"$tmp/stored.sorted"
	sort -u "$tmp/ids" >"$tmp/ids.sorted"
	acked=$(wc -l <"$tmp/ids.sorted" | tr -d ' ')
	ok=$(tail -n 1 "$tmp/daemon.results" | cut -d ' ' -f 4)
	[ "$acked" -eq "$ok" ] ||
	    die "daemon round $1: $ok answers were 2xx but $acked ids listed"
	comm -23 "$tmp/ids.sorted" "$tmp/stored.sorted" >"$tmp/missing"
	lost=$(wc -l <"$tmp/missing" | tr -d ' ')
	if [ "$lost" -ne 0 ]; then
		echo "webhook.sh: daemon round $1: $lost of $acked" \
		    "acknowledged deliveries are not in the store, e.g.:" >&2
		head -n 5 "$tmp/missing" >&2
		exit 1
	fi
}

# median FILE COLUMN
median()
{
	cut -d ' ' -f "$2" "$1" | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (NR % 2)
				print v[(NR + 1) / 2]
			else
				printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

echo "webhook intake: $count requests a round over $conc connections," \
    "$rounds rounds, body $(wc -c <"$body" | tr -d ' ') bytes"
r=1
while [ "$r" -le "$rounds" ]; do
	baseline_round "$r"
	daemon_round "$r"
	r=$((r + 1))
done

fmt='%-8s %10.1f %9.3f %9.3f  %10.1f %9.3f %9.3f\n'
echo
printf '%-8s %30s  %30s\n' "" "baseline" "beekeeperd"
printf '%-8s %10s %9s %9s  %10s %9s %9s\n' round req/s "p50 ms" "p99 ms" \
    req/s "p50 ms" "p99 ms"
paste -d ' ' "$tmp/baseline.results" "$tmp/daemon.results" |
    awk -v fmt="$fmt" '{ printf fmt, NR, $1, $2, $3, $5, $6, $7 }'
b_rate=$(median "$tmp/baseline.results" 1)
d_rate=$(median "$tmp/daemon.results" 1)
# shellcheck disable=SC2059 # the format is ours, shared with awk above
printf "$fmt" median \
    "$b_rate" "$(median "$tmp/baseline.results" 2)" \
    "$(median "$tmp/baseline.results" 3)" \
    "$d_rate" "$(median "$tmp/daemon.results" 2)" \
    "$(median "$tmp/daemon.results" 3)"
echo
awk -v d="$d_rate" -v b="$b_rate" 'BEGIN {
	printf "ratio beekeeperd / baseline rate: %.2f\n",
	    (b > 0 ? d / b : 0) }'
if awk -v d="$d_rate" -v b="$b_rate" -v t="$target" \
    'BEGIN { exit !(b > 0 && d >= t * b) }'; then
	echo "target: daemon >= $target x baseline: met"
else
	echo "target: daemon >= $target x baseline: not met"
fi
exit 0
