#!/bin/sh
#
# The GitHub reporting benchmark, run by `make bench` from the build
# directory.  A burst of BENCH_BURST pushes (default 40) of a trivial
# one-task pipeline, on distinct branches, is sent at once to a beekeeperd
# with a local pool of 2 slots, twice in the same run:
#
#   baseline    without GitHub credentials (pipelines read from the git
#               mirror, nothing reported): from the first delivery to the
#               last task's end.
#   reporting   with a token, against the GitHub API double
#               (tests/fakes/github.mjs, on loopback): pipelines and
#               tarballs come from its API, and the time runs from the
#               first delivery until the double holds a final status for
#               every context of every build.
#
# Printed: both times, their ratio, and the statuses posted per build
# against the least possible (two contexts, pending then final: 4).  A
# measurement, not a test: it exits 1 only when something does not run.
#
# Environment: BEEKEEPERD (default ./beekeeperd), BENCH_BURST (default
# 40), NODE (default node), SQLITE3 (default sqlite3).

set -u
LC_ALL=C
export LC_ALL

daemon=${BEEKEEPERD:-./beekeeperd}
burst=${BENCH_BURST:-40}
node=${NODE:-node}
sqlite=${SQLITE3:-sqlite3}
timeout=180
top=$(cd "$(dirname "$0")/.." && pwd)

die()
{
	echo "github.sh: $*" >&2
	exit 1
}

case $burst in
'' | *[!0-9]*) die "BENCH_BURST must be a positive integer: '$burst'" ;;
esac
[ "$burst" -gt 0 ] || die "BENCH_BURST must be a positive integer"
[ -x "$daemon" ] || die "$daemon not built: run make bench"
for prog in "$sqlite" git curl openssl "$node"; do
	command -v "$prog" >/dev/null 2>&1 || die "$prog not found"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/beekeeper-bench.XXXXXX") ||
    die "cannot make a temporary directory"
pid=
ghpid=
trap '[ -z "$pid" ] || stop beekeeperd >/dev/null 2>&1
    [ -z "$ghpid" ] || kill "$ghpid" 2>/dev/null
    [ -n "${BENCH_KEEP:-}" ] || rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
(umask 077 && printf '%s' "$secret" >"$tmp/secret" &&
    printf 'bench-token-%s\n' "$$" >"$tmp/token") ||
    die "cannot write the secrets"

repo=$tmp/repos/bench/trivial
mkdir -p "$repo" || die "cannot make $repo"
git init -q -b main "$repo" || die "git init failed"
git -C "$repo" config user.name Bench
git -C "$repo" config user.email bench@example.org
printf 'push:\n  - t:\n      run: "true"\n' >"$repo/beekeeper.yml"
git -C "$repo" add -A
git -C "$repo" commit -q -m pipeline || die "git commit failed"

# prepare ROUND N: a commit on branch ROUND-N and its signed push.
prepare()
{
	if ! git -C "$repo" checkout -q -b "$1-$2" main ||
	    ! git -C "$repo" commit -q --allow-empty -m "$1-$2"; then
		die "cannot commit on $1-$2"
	fi
	sha=$(git -C "$repo" rev-parse HEAD)
	cat >"$tmp/$1-$2.json" <<JSON
{"ref":"refs/heads/$1-$2","before":"0000000000000000000000000000000000000000",
"after":"$sha","created":true,"deleted":false,
"head_commit":{"id":"$sha","message":"$1-$2"},
"repository":{"full_name":"bench/trivial","default_branch":"main",
"clone_url":"file://$repo","html_url":"file://$repo"},
"sender":{"login":"bench"}}
JSON
	mac=$(openssl dgst -sha256 -hmac "$secret" "$tmp/$1-$2.json") ||
	    die "openssl failed"
	printf '%s\n' "X-GitHub-Event: push" "X-GitHub-Delivery: $1-$2" \
	    "X-Hub-Signature-256: sha256=${mac##*= }" \
	    "Content-Type: application/json" >"$tmp/$1-$2.hdr"
}
for round in baseline reporting; do
	n=1
	while [ "$n" -le "$burst" ]; do
		prepare "$round" "$n"
		n=$((n + 1))
	done
done
git -C "$repo" checkout -q main

"$node" "$top/tests/fakes/github.mjs" --port 0 --repos "$tmp/repos" \
    --token "$(cat "$tmp/token")" >"$tmp/github.out" 2>&1 &
ghpid=$!
i=0
until grep -q '^listening on' "$tmp/github.out"; do
	i=$((i + 1))
	if [ "$i" -gt 100 ] || ! kill -0 "$ghpid" 2>/dev/null; then
		die "the GitHub double did not start: $(cat "$tmp/github.out")"
	fi
	sleep 0.1
done
gh=http://$(sed -n 's/^listening on //p' "$tmp/github.out")

# start ROUND [GITHUB_YAML]: a daemon on a fresh state directory.
start()
{
	mkdir -p "$tmp/$1" || die "cannot make $tmp/$1"
	cat >"$tmp/$1.yml" <<EOF
listen: 127.0.0.1:0
state_dir: $tmp/$1
github:
  webhook_secret_file: $tmp/secret
${2:-}
projects:
  auto_approve: true
  push_branches:
    bench/trivial: ["*"]
profiles:
  default:
    driver: local
    slots: 2
EOF
	"$daemon" -d -f "$tmp/$1.yml" >/dev/null 2>"$tmp/$1.log" &
	pid=$!
	wait_port "$tmp/$1.log" || die "beekeeperd did not start:" \
	    "$(tail -n 5 "$tmp/$1.log")"
}

# burst ROUND: send every push of ROUND at once; prints the start (ns).
# Run in $(...), which returns once every curl has.
burst()
{
	t0=$(date +%s%N)
	n=1
	while [ "$n" -le "$burst" ]; do
		curl -s -o /dev/null --max-time 10 -H "@$tmp/$1-$n.hdr" \
		    --data-binary "@$tmp/$1-$n.json" \
		    "http://127.0.0.1:$port/github/webhook" &
		n=$((n + 1))
	done
	echo "$t0"
}

# await what: poll (10 ms) until the command what succeeds; prints the
# moment (ns) it did.
await()
{
	deadline=$(($(date +%s) + timeout))
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || die "$* not done in" \
		    "${timeout}s"
		kill -0 "$pid" 2>/dev/null || die "beekeeperd exited"
		sleep 0.01
	done
	date +%s%N
}

built()
{
	[ "$("$sqlite" -cmd '.timeout 5000' "$tmp/$round/beekeeper.db" \
	    "SELECT count(*) FROM builds WHERE state = 'passed'")" = "$burst" ]
}

settled()
{
	[ "$(curl -s "$gh/_fake/statuses" | "$node" -e '
		let s = ""; process.stdin.on("data", (c) => s += c);
		process.stdin.on("end", () => {
			const last = new Map();
			for (const x of JSON.parse(s))
				last.set(x.sha + " " + x.context, x.state);
			console.log(last.size === 2 * Number(process.argv[1]) &&
			    [...last.values()].every((v) => v === "success"));
		});' "$burst")" = true ]
}

round=baseline
start "$round"
t0=$(burst "$round")
t1=$(await built)
stop beekeeperd || die "beekeeperd did not stop cleanly"
base_ms=$(((t1 - t0) / 1000000))

round=reporting
start "$round" "  api_url: $gh
  token_file: $tmp/token"
t0=$(burst "$round")
t1=$(await built)
t2=$(await settled)
stop beekeeperd || die "beekeeperd did not stop cleanly"
run_ms=$(((t1 - t0) / 1000000))
rep_ms=$(((t2 - t0) / 1000000))
posts=$(curl -s "$gh/_fake/requests" | "$node" -e '
	let s = ""; process.stdin.on("data", (c) => s += c);
	process.stdin.on("end", () => console.log(JSON.parse(s).filter((r) =>
	    r.method === "POST" && /\/statuses\//.test(r.path)).length));')

echo "github: a burst of $burst one-task builds, 2 slots"
echo "github: baseline (no GitHub): all built in ${base_ms} ms"
echo "github: reporting: all built in ${run_ms} ms, every status final" \
    "at GitHub in ${rep_ms} ms"
awk -v a="$rep_ms" -v b="$base_ms" -v r="$run_ms" 'BEGIN {
	printf "github: ratio reporting/baseline: built %.2f, reported %.2f\n",
	    r / b, a / b }'
awk -v p="$posts" -v n="$burst" 'BEGIN {
	printf "github: %d statuses posted, %.2f per build (at most 4:" \
	    " pending then final, for 2 contexts)\n", p, p / n }'
