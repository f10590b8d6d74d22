// octokit-check.mjs: check the GitHub double (tests/fakes/github.mjs) with
// a real client written by others, @octokit/rest, found in
// $BK_NODE_MODULES like deliver.mjs's packages.
//
// Usage:
//   node octokit-check.mjs URL TOKEN OWNER/NAME SHA FILE
//
// URL is the double's base URL, TOKEN the one it was started with, SHA a
// commit of OWNER/NAME holding FILE (a path in the repository, and also a
// file of that name in the current directory, to compare bytes with).
// The double must have been started with a collaborators file naming
// "OWNER/NAME alice" and not "mallory", and must be fresh (no statuses).
//
// Prints one line per check, "NAME key=value ...", with what Octokit saw,
// for the shell test to match. An unexpected failure prints
// "NAME unexpected: MESSAGE" and the script goes on; it exits 1 if any
// did.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modulesDir = process.env.BK_NODE_MODULES ||
    join(import.meta.dirname, "../../node_modules");
// @octokit/rest is ESM only: import its entry point by file URL.
const pkgDir = join(modulesDir, "@octokit", "rest");
const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
const { Octokit } = await import(
    pathToFileURL(join(pkgDir, pkg.exports["."].import)).href);

const [baseUrl, token, full, sha, file] = process.argv.slice(2);
if (!file) {
	process.stderr.write("usage: octokit-check.mjs URL TOKEN OWNER/NAME " +
	    "SHA FILE\n");
	process.exit(2);
}
const [owner, repo] = full.split("/");
const local = readFileSync(file);
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const octokit = new Octokit({ baseUrl, auth: token, log: quiet,
    userAgent: "beekeeper-octokit-check" });
let failed = 0;

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

async function fault(body) {
	const r = await fetch(`${baseUrl}/_fake/faults`, { method: "POST",
	    headers: { "Content-Type": "application/json" },
	    body: JSON.stringify(body) });
	if (r.status !== 200)
		throw new Error(`setting a fault: ${r.status}`);
}

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

// A GitHub App: a JWT (only its shape is checked) finds the installation
// and gets a token, which then works on the API.
await check("app-token", async () => {
	const app = new Octokit({ baseUrl, auth: "eyJhbGciOiJSUzI1NiJ9." +
	    "eyJpc3MiOiIxIn0.c2lnbmF0dXJl", log: quiet });
	const inst = await app.rest.apps.getRepoInstallation({ owner, repo });
	const tok = await app.rest.apps.createInstallationAccessToken({
	    installation_id: inst.data.id });
	const expires = Date.parse(tok.data.expires_at) - Date.now();
	const inside = new Octokit({ baseUrl, auth: tok.data.token,
	    log: quiet });
	const r = await inside.rest.repos.get({ owner, repo });
	return { installation: inst.data.id, status: tok.status,
	    token: tok.data.token.startsWith("ghs_") ? "ghs" : "other",
	    expires: expires > 3500e3 && expires <= 3600e3 ? "1h" : expires,
	    use: r.status };
});

process.exit(failed ? 1 : 0);
