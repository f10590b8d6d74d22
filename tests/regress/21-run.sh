#!/bin/sh
# 21-run: `beekeeper run` runs a checkout's pipeline here, without a
# daemon: phases in order, the tasks of a phase at once (their intervals
# overlap), output streamed with a "slug | " prefix, a non-critical
# failure shown but exit 0, a critical failure stopping later phases with
# exit 1, --task, the --json summary (read with Python's json module), a
# timeout that leaves no process behind, and a broken file.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# shellcheck disable=SC2153 # set by make check
[ -x "$BEEKEEPER" ] || skip_all "beekeeper not built ($BEEKEEPER)"
py=/usr/bin/python3
[ -x "$py" ] || skip_all "no $py to read the JSON"
command -v git >/dev/null 2>&1 || skip_all "git not found"
plan 22
bk_tmpdir

repo=$BK_DIR/repo
mkdir "$repo"
cat >"$repo/beekeeper.yml" <<'EOF'
push:
  - lint:
      run: echo "linting $TASK"; test -f beekeeper.yml
  - test:
      subtasks:
        - unit:
            run: date +%s.%N; sleep 1; date +%s.%N
        - flaky:
            critical: false
            run: date +%s.%N; sleep 1; date +%s.%N; exit 3
  - package:
      environment:
        KIND: wheel
      run: echo "packaging $KIND at $SHA"
pull_request:
  - lint:
      run: echo lint; exit 2
  - package:
      run: echo never
tag:
  - slow:
      timeout: 1s
      run: sleep 30; echo woke
EOF
git -C "$repo" init -q
git -C "$repo" add beekeeper.yml
git -C "$repo" -c user.name=t -c user.email=t@example.com commit -q -m one
sha=$(git -C "$repo" rev-parse HEAD)

out=$("$BEEKEEPER" run "$repo" 2>&1)
is "$?" 0 "a non-critical failure only: exit 0"
like "$out" '^lint \| linting lint$' "output is streamed with a prefix"
like "$out" "^package \\| packaging wheel at $sha\$" \
    "the last phase ran, with its environment and SHA"
like "$out" '^test:flaky  *failed  *3 ' "the summary shows the failure"
like "$out" '^test:unit  *passed  *0 ' "and the pass"
like "$out" '^pipeline passed$' "and that the pipeline passed"

# The two tasks of phase 2 print their start and end: they must overlap.
echo "$out" | sed -n 's/^test:\(unit\|flaky\) | \([0-9.]*\)$/\1 \2/p' \
    >"$BK_DIR/times"
overlap=$("$py" -c 'import sys
t = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    t.setdefault(k, []).append(float(v))
(a0, a1), (b0, b1) = t["unit"], t["flaky"]
print("yes" if a0 < b1 and b0 < a1 else "no %s" % t)' "$BK_DIR/times")
is "$overlap" yes "the tasks of one phase run at once"

out=$("$BEEKEEPER" run --event pull_request "$repo" 2>&1)
is "$?" 1 "a critical failure: exit 1"
like "$out" '^package  *skipped ' "and the later phase is skipped"
unlike "$out" '^package \| never' "and did not run"

out=$("$BEEKEEPER" run --task test:unit "$repo" 2>&1)
is "$?" 0 "--task: exit 0"
like "$out" '^test:unit  *passed ' "--task runs that task"
unlike "$out" '^lint' "and no other"

out=$("$BEEKEEPER" run --task nope "$repo" 2>&1)
is "$?" 1 "--task with an unknown slug: exit 1"

got=$("$BEEKEEPER" -j run "$repo" 2>/dev/null | "$py" -c 'import json, sys
d = json.load(sys.stdin)
print(d["passed"], d["status"], d["sha"] == sys.argv[1],
    " ".join("%s=%s/%s" % (t["slug"], t["result"], t["exit"])
    for t in d["tasks"]))' "$sha")
is "$got" "True 0 True lint=passed/0 test:unit=passed/0 \
test:flaky=failed/3 package=passed/0" "--json: the summary on stdout"

start=$(date +%s)
out=$("$BEEKEEPER" run --event tag "$repo" 2>&1)
is "$?" 1 "a task past its timeout: exit 1"
like "$out" '^slow  *failed  *timed out ' "reported as failed, timed out"
ok "killed within seconds" [ $(($(date +%s) - start)) -lt 10 ]
left=$(pgrep -cx -f 'sleep 30')
is "$left" 0 "no sleep left behind"

out=$("$BEEKEEPER" run --no-sandbox --task lint "$repo" 2>&1)
is "$?" 0 "--no-sandbox runs too"

printf 'push:\n  - lint: [\n' >"$repo/beekeeper.yml"
out=$("$BEEKEEPER" run "$repo" 2>&1)
is "$?" 1 "a broken file: exit 1"
like "$out" "^$repo/beekeeper.yml:[0-9]*:[0-9]*: " \
    "with FILE:LINE:COLUMN: reason"
