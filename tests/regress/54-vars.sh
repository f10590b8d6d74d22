#!/bin/sh
# 54-vars: variables and secrets set at run time with the beekeeper tool
# (set-var, set-secret, unset-var, unset-secret) reach the tasks of builds
# planned afterwards, over the configuration file's at the same scope, a
# project's only its own, a fork's without the secrets. A secret is masked
# in the task's log, and its value is in no reply (vars, --json or not),
# audit record, published message or daemon log line, only in the store's
# table variables. Bad names, reserved names, oversized values, unsets of
# nothing and a viewer are refused, exit 1, with a sentence.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${BEEKEEPER:=$top_builddir/beekeeper}"
PY=/usr/bin/python3
bk_require_daemon
[ -x "$BEEKEEPER" ] || skip_all "no beekeeper at $BEEKEEPER"
command -v git >/dev/null 2>&1 || skip_all "git is not installed"
[ -x "$PY" ] || skip_all "no $PY to read JSON with"
plan 58

# js EXPR: EXPR over the JSON document on stdin, d; strings as they are.
js() {
	"$PY" -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

# bk ARG...: run the tool on the test's daemon; its output in OUT and
# ERR, its exit status in RC; every output is kept in replies.txt.
bk() {
	"$BEEKEEPER" "$@" >"$BK_DIR/out" 2>"$BK_DIR/err" <"${BK_STDIN:-/dev/null}"
	RC=$?
	OUT=$(cat "$BK_DIR/out")
	ERR=$(cat "$BK_DIR/err")
	cat "$BK_DIR/out" "$BK_DIR/err" >>"$BK_DIR/replies.txt"
}

# build_log SLUG N [PROJECT]: push a new commit of the repository (as
# delivery v-N), wait for its build, print the log of task SLUG.
build_log() {
	git -C "$repo" commit -q --allow-empty -m "run $2"
	_sha=$(git -C "$repo" rev-parse HEAD)
	bk_push "$repo" "${3:-acme/widget}" "v-$2"
	_id=$(bk_wait_build "$_sha")
	bk_wait_for 30 bk_build_done "$_id" || echo "build $_id did not end"
	cat "$BK_STATE/logs/$_id/$(bk_task id "$_id" "$1").log"
}

BK_AUTO_APPROVE=true
# Forks run without approval, and so must go without secrets.
BK_GITHUB_YAML="  trust_forks: true"
bk_start "variables:" \
    "  - name: LAYER" \
    "    value: config-global" \
    "  - name: LAYER2" \
    "    value: config-project" \
    "    project: acme/widget"
BEEKEEPER_CONTROL=$BK_CONTROL
BEEKEEPER_KEY_FILE=$BK_STATE/control.key
export BEEKEEPER_CONTROL BEEKEEPER_KEY_FILE
SECRET="s3cr3t-$$-$(date +%s)-value"
printf '%064d\n' 0 >"$BK_DIR/wrong.key"

"$BEEKEEPER" watch --json audit >"$BK_DIR/watch.json" 2>&1 &
watcher=$!
echo "$watcher" >>"$BK_DIR/extra.pids"
sleep 0.5

# ----------------------------------------------------------- setting

bk set-var GREETING "hello there"
is "$RC" 0 "set-var: exit 0"
is "$OUT" "variable GREETING: set for every project" "set-var says so"
printf '%s\n' "$SECRET" >"$BK_DIR/secret.in"
BK_STDIN=$BK_DIR/secret.in bk set-secret TOKEN
is "$RC" 0 "set-secret from standard input: exit 0"
is "$OUT" "secret TOKEN: set for every project" "set-secret says so"
bk set-var LAYER bus-global
bk set-var LAYER2 bus-global
bk set-var -p acme/other ONLY_OTHER other
is "$RC" 0 "set-var -p: exit 0"
bk --json set-var -p acme/widget MINE widget
is "$(printf '%s' "$OUT" | js 'd["ok"]')" true "set-var --json: the reply"

# ------------------------------------------------------- in the tasks

repo=$BK_DIR/repo
bk_repo_init "$repo"
cat >"$repo/beekeeper.yml" <<'YML'
push:
  - env:
      run: env | sort; echo "token is $TOKEN"; echo "length ${#TOKEN}"
pull_request:
  - env:
      run: echo "token=[$TOKEN] greeting=[$GREETING]"
YML
bk_repo_commit "$repo" "print the environment" >/dev/null
log=$(build_log env 1)
like "$log" "^GREETING=hello there$" "a stored variable reaches the task"
like "$log" "^TOKEN=\\*\\*\\*$" "a stored secret reaches it, masked in the log"
like "$log" "^length ${#SECRET}$" "with its whole value, one newline less"
unlike "$log" "$SECRET" "the log never shows the secret"
like "$log" "^LAYER=bus-global$" \
    "a stored global variable wins over the file's global one"
like "$log" "^LAYER2=config-project$" \
    "the file's project variable wins over a stored global one"
like "$log" "^MINE=widget$" "the project's stored variable"
unlike "$log" "ONLY_OTHER" "another project's variable is not given"
log=$(build_log env 2 acme/other)
like "$log" "^ONLY_OTHER=other$" "that project's tasks get it"
unlike "$log" "^MINE=" "and not acme/widget's"

# A pull request from a fork: variables, but no secret.
fsha=$(git -C "$repo" rev-parse HEAD)
r='{"full_name":"acme/widget","clone_url":"file://'"$repo"'"}'
cat >"$BK_DIR/fork.json" <<JSON
{"action":"opened","number":5,"pull_request":{"number":5,
"head":{"ref":"patch","sha":"$fsha","repo":{"full_name":"mallory/widget"}},
"base":{"ref":"main","repo":$r}},
"repository":$r,"sender":{"login":"mallory"}}
JSON
bk_post_file "$BK_DIR/fork.json" pull_request v-fork
has_fork_build() {
	[ -n "$(bk_sql "SELECT id FROM builds WHERE pr = 5")" ]
}
bk_wait_for 10 has_fork_build
fid=$(bk_sql "SELECT id FROM builds WHERE pr = 5")
ok "the fork's build ends" bk_wait_for 30 bk_build_done "${fid:-0}"
is "$(bk_sql "SELECT fork FROM builds WHERE id = $fid")" 1 "it is a fork's"
like "$(cat "$BK_STATE/logs/$fid/$(bk_task id "$fid" env).log")" \
    "^token=\\[\\] greeting=\\[hello there\\]$" \
    "its task gets the stored variable, not the stored secret"

# ------------------------------------------------------------ listing

bk vars
is "$RC" 0 "vars: exit 0"
like "$OUT" "^NAME +KIND +PROJECT +IMAGE +SOURCE +VALUE$" "vars: a header"
like "$OUT" "^LAYER +variable +- +- +config +config-global$" \
    "a variable of the file, with its value"
like "$OUT" "^GREETING +variable +- +- +bus +hello there$" \
    "a stored variable, with its value"
like "$OUT" "^TOKEN +secret +- +- +bus +\\(secret, not shown\\)$" \
    "a secret, by name only"
like "$OUT" "^ONLY_OTHER +variable +acme/other +- +bus +other$" \
    "every project's, without -p"
bk vars -p acme/widget
unlike "$OUT" "ONLY_OTHER" "with -p, only what applies to that project"
like "$OUT" "^MINE +variable +acme/widget " "its own included"
bk --json vars
is "$(printf '%s' "$OUT" | js '[[v["source"], "value" in v]
    for v in d["variables"] if v["name"] == "TOKEN"]')" '[["bus", false]]' \
    "vars --json: the secret has no value member"
bk -k "$BK_DIR/wrong.key" vars
is "$RC" 0 "a viewer may list them"

# --------------------------------------------------- the secret leaks

bk audit --json
is "$(printf '%s' "$OUT" | js '[a["args"] for a in d["audit"]
    if a["cmd"] == "set-secret"]')" '[{"name": "TOKEN", "value": "***"}]' \
    "audit: the secret's value reads ***"
ok "the watcher saw the audit record" bk_wait_for 5 \
    grep -q '"set-secret"' "$BK_DIR/watch.json"
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
unlike "$(cat "$BK_DIR/watch.json")" "$SECRET" "nor is it published"
unlike "$(cat "$BK_DIR/replies.txt")" "$SECRET" "no reply holds the secret"
unlike "$(cat "$BK_LOG")" "$SECRET" "the daemon's log does not"
unlike "$("$SQLITE3" "$BK_STATE/beekeeper.db" .dump |
    grep -v '^INSERT INTO variables ')" "$SECRET" \
    "the store holds it only in the table variables"
is "$(bk_sql "SELECT count(*) FROM variables WHERE secret = 1")" 1 \
    "where it is, as a secret"

# ----------------------------------------------------------- refusals

bk set-var 1BAD x
is "$RC" 1 "a bad name: exit 1"
is "$ERR" "beekeeper: '1BAD' is not a variable name (letters, digits and \
'_', not starting with a digit, at most 128)" "and it says why"
bk set-var PATH /tmp
is "$RC" 1 "a reserved name: exit 1"
is "$ERR" "beekeeper: PATH is a name beekeeperd sets for every task (as \
every BEEKEEPER_ name may be): choose another" "and it says why"
bk set-var BEEKEEPER_MODE x
is "$RC" 1 "a BEEKEEPER_ name: exit 1"
head -c 70000 /dev/zero | tr '\0' x >"$BK_DIR/big"
BK_STDIN=$BK_DIR/big bk set-secret BIG
is "$RC" 1 "an oversized secret: exit 1"
like "$ERR" "^beekeeper: the value of BIG is [0-9]+ bytes, more than the \
65536 allowed$" "and it says the limit"
bk unset-var NOPE
is "$RC" 1 "unset of a variable that is not there: exit 1"
is "$ERR" "beekeeper: no variable NOPE is stored for every project" \
    "and it names it"
bk unset-var TOKEN
is "$RC" 1 "unset-var of a secret: exit 1"
like "$ERR" "\\(it is a secret\\)$" "and it says what it is"
bk set-var -p nonsense X y
is "$RC" 1 "a project that is not owner/name: exit 1"
bk -k "$BK_DIR/wrong.key" set-var X y
is "$RC" 1 "a viewer's set-var: exit 1"
like "$ERR" "^beekeeper: only an admin may set-var: " \
    "with the daemon's sentence"
BK_STDIN=$BK_DIR/secret.in bk -k "$BK_DIR/wrong.key" set-secret OTHER
is "$(bk_sql "SELECT who, args, ok FROM audit ORDER BY id DESC LIMIT 1")" \
    'viewer|{"name":"OTHER","value":"***"}|0' \
    "a viewer's set-secret is audited, without the value"

# ---------------------------------------------------------- unsetting

bk unset-secret TOKEN
is "$RC" 0 "unset-secret: exit 0"
is "$OUT" "secret TOKEN: unset for every project" "unset-secret says so"
bk unset-var GREETING
is "$RC" 0 "unset-var: exit 0"
log=$(build_log env 3)
unlike "$log" "^(TOKEN|GREETING)=" "the next build's tasks get neither"
is "$(bk_sql "SELECT count(*) FROM variables WHERE secret = 1")" 0 \
    "the store forgot the secret"

bk_finish
