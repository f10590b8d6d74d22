// octokit-check.mjs: check the GitHub double (tests/fakes/github.mjs) with
// a real client written by others, @octokit/rest, found in
// $BK_NODE_MODULES like deliver.mjs's packages.
//
// Usage:
//   node octokit-check.mjs [--app-id ID --key PEM --wrong-key PEM]
//       URL TOKEN OWNER/NAME SHA FILE
//   node octokit-check.mjs --expiry [--app-id ID --key PEM]
//       URL TOKEN OWNER/NAME
//
// URL is the double's base URL, TOKEN the one it was started with, SHA a
// commit of OWNER/NAME holding FILE (a path in the repository, and also a
// file of that name in the current directory, to compare bytes with).
// The double must have been started with a collaborators file naming
// "OWNER/NAME alice" and not "mallory", and must be fresh (no statuses,
// no check runs). --key is the App's private key, whose public half the
// double was given with --app-key, and --app-id its --app-id; --wrong-key
// another private key. The App's JWTs are signed here with node:crypto,
// as @octokit/rest has no app authentication of its own.
//
// --expiry checks instead that an installation token stops working once
// expired: the double must run with --token-ttl 1. It takes 2 s.
//
// Prints one line per check, "NAME key=value ...", with what Octokit saw,
// for the shell test to match. An unexpected failure prints
// "NAME unexpected: MESSAGE" and the script goes on; it exits 1 if any
// did.

import { createPrivateKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const modulesDir = process.env.BK_NODE_MODULES ||
    join(import.meta.dirname, "../../node_modules");
// @octokit/rest is ESM only: import its entry point by file URL.
const pkgDir = join(modulesDir, "@octokit", "rest");
const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
const { Octokit } = await import(
    pathToFileURL(join(pkgDir, pkg.exports["."].import)).href);

const { values: opt, positionals } = parseArgs({
	allowPositionals: true,
	options: {
		"app-id": { type: "string", default: "1" },
		key: { type: "string" },
		"wrong-key": { type: "string" },
		expiry: { type: "boolean", default: false },
	},
});
const [baseUrl, token, full, sha, file] = positionals;
if (opt.expiry ? positionals.length !== 3 : positionals.length !== 5) {
	process.stderr.write("usage: octokit-check.mjs [--app-id ID " +
	    "--key PEM --wrong-key PEM] URL TOKEN OWNER/NAME SHA FILE\n" +
	    "       octokit-check.mjs --expiry [--app-id ID --key PEM] " +
	    "URL TOKEN OWNER/NAME\n");
	process.exit(2);
}
const [owner, repo] = full.split("/");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const octokit = new Octokit({ baseUrl, auth: token, log: quiet,
    userAgent: "beekeeper-octokit-check" });
const appKey = opt.key ? createPrivateKey(readFileSync(opt.key)) : null;
const wrongKey = opt["wrong-key"] ?
    createPrivateKey(readFileSync(opt["wrong-key"])) : null;
let failed = 0;

// jwt: an App's JWT as @octokit/auth-app makes one (issued 30 s ago, for
// 10 minutes), with CLAIMS overriding; signed RS256 with KEY, or with a
// dummy signature when there is no key (a double without --app-key
// checks the shape only).
function jwt(claims = {}, key = appKey) {
	const now = Math.floor(Date.now() / 1000);
	const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
	const input = `${b64({ alg: "RS256", typ: "JWT" })}.` +
	    b64({ iat: now - 30, exp: now - 30 + 600,
	    iss: Number(opt["app-id"]), ...claims });
	const sig = key ? sign("sha256", Buffer.from(input), key) :
	    Buffer.from("signature");
	return `${input}.${sig.toString("base64url")}`;
}

function client(auth) {
	return new Octokit({ baseUrl, auth, log: quiet,
	    userAgent: "beekeeper-octokit-check" });
}

// installationClient: a client with a fresh installation token.
async function installationClient() {
	const app = client(jwt());
	const tok = await app.rest.apps.createInstallationAccessToken({
	    installation_id: 1 });
	return { octokit: client(tok.data.token), data: tok.data };
}

const message = (err) => ({
    message: JSON.stringify(err.response?.data?.message) });
const validation = (err) => {
	const e = err.response?.data?.errors?.[0] || {};
	return { message: JSON.stringify(err.response?.data?.message),
	    resource: e.resource, field: e.field, code: e.code };
};

function line(name, fields) {
	const kv = Object.entries(fields).map(([k, v]) => `${k}=${v}`);
	console.log([name, ...kv].join(" "));
}

// check NAME FN: FN returns the fields to print; a thrown RequestError
// prints its status (and FN's catch may add fields), anything else counts
// as a failure.
async function check(name, fn, onError) {
	try {
		line(name, await fn());
	} catch (err) {
		if (err.name === "HttpError" && err.status !== undefined) {
			line(name, { threw: err.name, status: err.status,
			    ...(onError ? onError(err) : {}) });
		} else {
			failed++;
			console.log(`${name} unexpected: ${err.message}`);
		}
	}
}

// status: the HTTP status a request ends with, thrown or not.
async function status(promise) {
	try {
		return (await promise).status;
	} catch (err) {
		if (err.name !== "HttpError")
			throw err;
		return err.status;
	}
}

async function fault(body) {
	const r = await fetch(`${baseUrl}/_fake/faults`, { method: "POST",
	    headers: { "Content-Type": "application/json" },
	    body: JSON.stringify(body) });
	if (r.status !== 200)
		throw new Error(`setting a fault: ${r.status}`);
}

if (opt.expiry) {
	// The double runs with --token-ttl 1.
	await check("expiry", async () => {
		const inst = await installationClient();
		const ttl = Date.parse(inst.data.expires_at) - Date.now();
		const fresh = await status(inst.octokit.rest.repos.get({ owner,
		    repo }));
		await new Promise((r) => setTimeout(r, 2000));
		let stale;
		try {
			stale = (await inst.octokit.rest.repos.get({ owner,
			    repo })).status;
		} catch (err) {
			stale = `${err.status}/${message(err).message}`;
		}
		const checkRun = await status(inst.octokit.rest.checks.create({
		    owner, repo, name: "late", head_sha: "0".repeat(40) }));
		const renewed = await installationClient();
		const again = await status(renewed.octokit.rest.repos.get({
		    owner, repo }));
		return { expires: ttl > -1000 && ttl <= 1000 ? "1s" : ttl,
		    fresh, stale, check_run: checkRun,
		    other_token: renewed.data.token !== inst.data.token ?
		    "yes" : "no", renewed: again };
	});
	process.exit(failed ? 1 : 0);
}

const local = readFileSync(file);

await check("get", async () => {
	const r = await octokit.rest.repos.get({ owner, repo });
	return { status: r.status, full_name: r.data.full_name,
	    default_branch: r.data.default_branch, private: r.data.private,
	    ratelimit_limit: r.headers["x-ratelimit-limit"],
	    request_id: r.headers["x-github-request-id"] ? "yes" : "no" };
});

await check("content-raw", async () => {
	const r = await octokit.rest.repos.getContent({ owner, repo,
	    path: file, ref: sha, mediaType: { format: "raw" } });
	const got = typeof r.data === "string" ? Buffer.from(r.data) :
	    Buffer.from(r.data);
	return { status: r.status, same: got.equals(local) ? "yes" : "no" };
});

await check("content-json", async () => {
	const r = await octokit.rest.repos.getContent({ owner, repo,
	    path: file, ref: sha });
	const got = Buffer.from(r.data.content, r.data.encoding);
	return { status: r.status, type: r.data.type,
	    encoding: r.data.encoding, name: r.data.name,
	    size: r.data.size === local.length ? "right" : r.data.size,
	    same: got.equals(local) ? "yes" : "no" };
});

await check("content-missing", async () => {
	const r = await octokit.rest.repos.getContent({ owner, repo,
	    path: "no/such/file", ref: sha });
	return { status: r.status };
}, (err) => ({ message: JSON.stringify(err.response?.data?.message) }));

await check("status-create", async () => {
	const r = await octokit.rest.repos.createCommitStatus({ owner, repo,
	    sha, state: "success", context: "beekeeper:test/unit",
	    description: "passed in 3 s",
	    target_url: "http://127.0.0.1:8080/builds/1" });
	return { status: r.status, state: r.data.state,
	    context: r.data.context, id: r.data.id,
	    target_url: r.data.target_url };
});

await check("status-default-context", async () => {
	const r = await octokit.rest.repos.createCommitStatus({ owner, repo,
	    sha, state: "pending" });
	return { status: r.status, context: r.data.context };
});

await check("status-invalid-state", async () => {
	const r = await octokit.rest.repos.createCommitStatus({ owner, repo,
	    sha, state: "bogus", context: "beekeeper:test/unit" });
	return { status: r.status };
}, (err) => ({ message: JSON.stringify(err.response?.data?.message),
    field: err.response?.data?.errors?.[0]?.field }));

await check("status-long-description", async () => {
	const r = await octokit.rest.repos.createCommitStatus({ owner, repo,
	    sha, state: "success", description: "x".repeat(141) });
	return { status: r.status };
}, (err) => ({ field: err.response?.data?.errors?.[0]?.field }));

await check("status-update", async () => {
	const r = await octokit.rest.repos.createCommitStatus({ owner, repo,
	    sha, state: "success", context: "default" });
	return { status: r.status };
});

await check("combined", async () => {
	const r = await octokit.rest.repos.getCombinedStatusForRef({ owner,
	    repo, ref: sha });
	const ctx = r.data.statuses.map((s) => s.context).sort().join(",");
	return { status: r.status, state: r.data.state,
	    total_count: r.data.total_count, contexts: ctx,
	    sha: r.data.sha === sha ? "right" : r.data.sha };
});

await check("list", async () => {
	const r = await octokit.rest.repos.listCommitStatusesForRef({ owner,
	    repo, ref: sha });
	return { status: r.status, count: r.data.length,
	    newest: `${r.data[0].context}/${r.data[0].state}` };
});

await check("collaborator-yes", async () => {
	const r = await octokit.rest.repos.checkCollaborator({ owner, repo,
	    username: "alice" });
	return { status: r.status };
});

await check("collaborator-no", async () => {
	const r = await octokit.rest.repos.checkCollaborator({ owner, repo,
	    username: "mallory" });
	return { status: r.status };
});

await check("fault-500", async () => {
	await fault({ status: 500, count: 1 });
	const r = await octokit.rest.repos.get({ owner, repo });
	return { status: r.status };
});

await check("after-fault", async () => {
	const r = await octokit.rest.repos.get({ owner, repo });
	return { status: r.status };
});

await check("fault-rate-limit", async () => {
	await fault({ status: 403, count: 1, rate_limited: true,
	    retry_after: 30 });
	const r = await octokit.rest.repos.get({ owner, repo });
	return { status: r.status };
}, (err) => {
	const h = err.response?.headers || {};
	const reset = Number(h["x-ratelimit-reset"]) -
	    Math.floor(Date.now() / 1000);
	return { remaining: h["x-ratelimit-remaining"],
	    reset_in: reset > 0 && reset <= 31 ? "soon" : reset,
	    retry_after: h["retry-after"],
	    message: JSON.stringify(err.response?.data?.message) };
});

await check("fault-delay", async () => {
	await fault({ delay_ms: 300, count: 1 });
	const t0 = Date.now();
	const r = await octokit.rest.repos.get({ owner, repo });
	return { status: r.status,
	    delayed: Date.now() - t0 >= 280 ? "yes" : "no" };
});

await check("bad-token", async () => {
	const other = new Octokit({ baseUrl, auth: "wrong", log: quiet });
	const r = await other.rest.repos.get({ owner, repo });
	return { status: r.status };
}, (err) => ({ message: JSON.stringify(err.response?.data?.message) }));

// Commit statuses fail on a path-scoped fault, contents do not.
await check("fault-path", async () => {
	await fault({ status: 502, count: 1,
	    path: `/repos/${owner}/${repo}/statuses` });
	const content = await status(octokit.rest.repos.getContent({ owner,
	    repo, path: file, ref: sha }));
	const first = await status(octokit.rest.repos.createCommitStatus({
	    owner, repo, sha, state: "pending", context: "fault" }));
	const again = await status(octokit.rest.repos.createCommitStatus({
	    owner, repo, sha, state: "pending", context: "fault" }));
	return { content, status: first, again };
});

// A GitHub App: a signed JWT (its "iss" a string, then a number, as
// both are allowed) finds the installation and gets a token, which then
// works on the API.
await check("app-token", async () => {
	const app = client(jwt({ iss: opt["app-id"] }));
	const inst = await app.rest.apps.getRepoInstallation({ owner, repo });
	const tok = await client(jwt()).rest.apps
	    .createInstallationAccessToken({ installation_id: inst.data.id });
	const expires = Date.parse(tok.data.expires_at) - Date.now();
	const inside = client(tok.data.token);
	const r = await inside.rest.repos.get({ owner, repo });
	return { installation: inst.data.id, app_id: inst.data.app_id,
	    status: tok.status,
	    token: tok.data.token.startsWith("ghs_") ? "ghs" : "other",
	    expires: expires > 3500e3 && expires <= 3600e3 ? "1h" : expires,
	    checks: tok.data.permissions.checks, use: r.status };
});

// Refused JWTs: each prints GitHub's message.
const now = Math.floor(Date.now() / 1000);
const badJwts = {
	"jwt-wrong-key": jwt({}, wrongKey),
	"jwt-unsigned": jwt({}, null),
	"jwt-wrong-iss": jwt({ iss: Number(opt["app-id"]) + 1 }),
	"jwt-too-long": jwt({ iat: now - 30, exp: now - 30 + 660 }),
	"jwt-expired": jwt({ iat: now - 700, exp: now - 100 }),
	"jwt-iat-future": jwt({ iat: now + 120, exp: now + 600 }),
};
for (const [name, token] of Object.entries(badJwts)) {
	await check(name, async () => {
		const r = await client(token).rest.apps
		    .createInstallationAccessToken({ installation_id: 1 });
		return { status: r.status };
	}, message);
}
await check("jwt-installation-wrong-key", async () => {
	const r = await client(jwt({}, wrongKey)).rest.apps
	    .getRepoInstallation({ owner, repo });
	return { status: r.status };
}, message);

// Check runs: GitHub refuses personal tokens, and an App's installation
// token creates, updates and lists them.
const inside = (await installationClient()).octokit;
const base = baseUrl.replace(/\/+$/, "");

await check("checks-personal", async () => {
	const r = await octokit.rest.checks.create({ owner, repo,
	    name: "beekeeper/unit", head_sha: sha });
	return { status: r.status };
}, message);

await check("checks-create", async () => {
	const r = await inside.rest.checks.create({ owner, repo,
	    name: "beekeeper/unit", head_sha: sha, status: "in_progress",
	    external_id: "build-1",
	    details_url: "http://127.0.0.1:8080/builds/1",
	    output: { title: "running", summary: "3 jobs" } });
	const d = r.data;
	const url = `${base}/repos/${owner}/${repo}/check-runs/${d.id}`;
	return { status: r.status, id: d.id, name: d.name,
	    run_status: d.status, conclusion: d.conclusion,
	    head_sha: d.head_sha === sha ? "right" : d.head_sha,
	    external_id: d.external_id, details_url: d.details_url,
	    started: Number.isNaN(Date.parse(d.started_at)) ? "no" : "yes",
	    completed_at: d.completed_at,
	    url: d.url === url ? "right" : d.url,
	    annotations_url: d.output.annotations_url === `${url}/annotations` ?
	    "right" : d.output.annotations_url,
	    title: d.output.title, summary: JSON.stringify(d.output.summary),
	    text: d.output.text, annotations: d.output.annotations_count,
	    suite: d.check_suite.id, app: d.app.slug,
	    pull_requests: d.pull_requests.length,
	    location: r.headers.location === url ? "right" :
	    r.headers.location };
});

await check("checks-create-queued", async () => {
	const r = await inside.rest.checks.create({ owner, repo,
	    name: "beekeeper/lint", head_sha: sha });
	return { status: r.status, id: r.data.id, run_status: r.data.status,
	    suite: r.data.check_suite.id, details_url: r.data.details_url ===
	    `${base}/apps/beekeeper` ? "app" : r.data.details_url,
	    title: r.data.output.title };
});

const invalidRuns = {
	"checks-no-conclusion": { name: "x", head_sha: sha,
	    status: "completed" },
	"checks-bad-status": { name: "x", head_sha: sha, status: "done" },
	"checks-bad-conclusion": { name: "x", head_sha: sha,
	    conclusion: "passed" },
	"checks-no-summary": { name: "x", head_sha: sha,
	    output: { title: "t" } },
	"checks-no-name": { head_sha: sha },
	"checks-bad-time": { name: "x", head_sha: sha,
	    started_at: "yesterday" },
};
for (const [name, params] of Object.entries(invalidRuns)) {
	await check(name, async () => {
		const r = await inside.rest.checks.create({ owner, repo,
		    ...params });
		return { status: r.status };
	}, validation);
}

await check("checks-unknown-sha", async () => {
	const r = await inside.rest.checks.create({ owner, repo, name: "x",
	    head_sha: "0".repeat(40) });
	return { status: r.status };
}, message);

await check("checks-update", async () => {
	const r = await inside.rest.checks.update({ owner, repo,
	    check_run_id: 1, conclusion: "failure",
	    output: { title: "failed", summary: "1 of 3 jobs failed",
	    text: "unit: exit 2",
	    annotations: [{ path: file, start_line: 1, end_line: 1,
	    annotation_level: "failure", message: "here" }] } });
	const d = r.data;
	return { status: r.status, run_status: d.status,
	    conclusion: d.conclusion,
	    completed: Number.isNaN(Date.parse(d.completed_at)) ? "no" : "yes",
	    title: d.output.title, text: JSON.stringify(d.output.text),
	    annotations: d.output.annotations_count,
	    external_id: d.external_id };
});

await check("checks-update-invalid", async () => {
	const r = await inside.rest.checks.update({ owner, repo,
	    check_run_id: 2, status: "completed" });
	return { status: r.status };
}, validation);

await check("checks-update-unknown", async () => {
	const r = await inside.rest.checks.update({ owner, repo,
	    check_run_id: 999, status: "in_progress" });
	return { status: r.status };
}, message);

await check("checks-update-personal", async () => {
	const r = await octokit.rest.checks.update({ owner, repo,
	    check_run_id: 1, status: "in_progress" });
	return { status: r.status };
}, message);

// A re-run: a second run of the same name, created completed.
await check("checks-rerun", async () => {
	const r = await inside.rest.checks.create({ owner, repo,
	    name: "beekeeper/unit", head_sha: sha, status: "completed",
	    conclusion: "success",
	    output: { title: "passed", summary: "3 jobs passed" } });
	return { status: r.status, id: r.data.id, run_status: r.data.status,
	    conclusion: r.data.conclusion, suite: r.data.check_suite.id };
});

const runs = (d) => d.check_runs.map((c) =>
    `${c.id}:${c.name}:${c.status}:${c.conclusion}`).join(",");

await check("checks-list", async () => {
	const r = await inside.rest.checks.listForRef({ owner, repo,
	    ref: sha });
	return { status: r.status, total_count: r.data.total_count,
	    runs: runs(r.data) };
});

await check("checks-list-all", async () => {
	const r = await octokit.rest.checks.listForRef({ owner, repo,
	    ref: sha, filter: "all" });
	return { status: r.status, total_count: r.data.total_count,
	    runs: runs(r.data) };
});

await check("checks-list-name", async () => {
	const r = await octokit.rest.checks.listForRef({ owner, repo,
	    ref: sha, filter: "all", check_name: "beekeeper/unit",
	    status: "completed" });
	return { status: r.status, total_count: r.data.total_count,
	    runs: runs(r.data) };
});

await check("checks-get", async () => {
	const r = await octokit.rest.checks.get({ owner, repo,
	    check_run_id: 1 });
	return { status: r.status, name: r.data.name,
	    conclusion: r.data.conclusion, title: r.data.output.title };
});

process.exit(failed ? 1 : 0);
