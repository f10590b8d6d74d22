#!/bin/sh
# 20-plan: `beekeeper plan` reads a pipeline file without a daemon: the
# plan of every corpus file as text and as JSON (checked with Python's
# json module, an independent reader, against the expected plans), the
# event choice, and each way it refuses with a message and exit 1.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

corpus=$BK_DATA/pipeline/corpus
# shellcheck disable=SC2153 # set by make check
[ -x "$BEEKEEPER" ] || skip_all "beekeeper not built ($BEEKEEPER)"
py=/usr/bin/python3
[ -x "$py" ] || skip_all "no $py to read the JSON"
nplans=$(find "$corpus" -name '*.plan' | wc -l)
plan $((3 * nplans + 14))
bk_tmpdir

# The slugs of an expected plan, in order, one line.
plan_slugs() {
	sed -n 's/^  task \([^ ]*\) at .*/\1/p' "$1" | tr '\n' ' '
}

for want in "$corpus"/*.plan; do
	base=$(basename "$want" .plan)
	name=${base%.*}
	event=${base##*.}
	out=$("$BEEKEEPER" plan --event "$event" "$corpus/$name.yml" 2>&1)
	is "$?" 0 "$name $event: plan exits 0"
	slugs=$(plan_slugs "$want")
	got=$("$BEEKEEPER" plan --json --event "$event" "$corpus/$name.yml" |
	    "$py" -c 'import json, sys
d = json.load(sys.stdin)
print(" ".join(t["slug"] for p in d["phases"] for t in p["tasks"]) + " ")')
	is "$got" "$slugs" "$name $event: --json has the planned tasks in order"
	first=${slugs%% *}
	like "$out" "^  $first " "$name $event: the text lists $first"
done

out=$("$BEEKEEPER" plan --event tag "$corpus/comb.yml")
is "$?" 0 "a file without a tag pipeline: exit 0"
like "$out" "^  smoke-test " "and a tag runs the push pipeline, as in 2017"

out=$("$BEEKEEPER" plan --event pull_request "$corpus/comb.yml")
is "$?" 0 "a file without a pull_request pipeline: exit 0"
like "$out" "nothing to run" "and it says there is nothing to run"

out=$("$BEEKEEPER" --json plan --event pull_request "$corpus/toga.yml" |
    "$py" -c 'import json, sys
d = json.load(sys.stdin)
t = d["phases"][1]["tasks"][0]
print(d["event"], t["slug"], t["image"], t["profile"], t["critical"],
    t["environment"]["TEST_DIR"])')
is "$out" "pull_request core:py3.5 pybee/py35 default True src/core" \
    "--json before the command works too, with every field"

cd "$BK_DIR" || exit 1
cp "$corpus/comb.yml" beekeeper.yml
out=$("$BEEKEEPER" plan)
is "$?" 0 "no file argument: ./beekeeper.yml"
like "$out" "^beekeeper.yml: push pipeline" "and the summary names it"

printf 'push:\n  - lint:\n      name: [a, b]\n      run: make lint\n' >bad.yml
err=$("$BEEKEEPER" plan bad.yml 2>&1)
is "$?" 1 "a broken file: exit 1"
like "$err" '^bad.yml:3:[0-9]+: ' "the message is FILE:LINE:COLUMN: reason"

err=$("$BEEKEEPER" plan --event nightly bad.yml 2>&1)
is "$?" 1 "an unknown event: exit 1"
like "$err" "unknown event 'nightly'" "the message names it"

err=$("$BEEKEEPER" plan "$BK_DIR/missing.yml" 2>&1)
is "$?" 1 "a missing file: exit 1"
like "$err" "missing.yml: No such file" "the message names the file"

err=$("$BEEKEEPER" frobnicate 2>&1)
is "$?" 1 "an unknown command: exit 1"
