// github.mjs: a double of GitHub's REST API for the daemon's tests.
//
// It serves the few endpoints the daemon uses, backed by local git
// repositories, with the request and response shapes of GitHub's REST
// documentation, and it is itself checked by a real client written by
// others (tests/tools/octokit-check.mjs, run by 40-github-double.sh).
// Node's standard library only.
//
// Usage:
//   node github.mjs [--port N] [--repos DIR] [--log FILE] [--token TOKEN]
//       [--collaborators FILE] [--app-id ID] [--app-key FILE]
//       [--token-ttl SECONDS]
//
//   --port N        listen on 127.0.0.1:N (0, the default: ephemeral);
//                   prints "listening on 127.0.0.1:PORT" once bound
//   --repos DIR     DIR/OWNER/NAME are git repositories (default ".")
//   --log FILE      append each request as one JSON line
//   --token TOKEN   API requests need "Authorization: token TOKEN" or
//                   "Bearer TOKEN" (or an installation token this double
//                   issued), else 401 "Bad credentials"
//   --collaborators FILE
//                   lines "OWNER/NAME USER": who is a collaborator (read
//                   on each request, so a test may change it)
//   --app-id ID     the GitHub App's id (default 1): the installation's
//                   app_id, and the "iss" a JWT must carry
//   --app-key FILE  the App's public key (PEM; a private key will do):
//                   app JWTs must then be RS256-signed by its private key,
//                   have "iss" equal to the app id (string or number),
//                   "exp" in the future and at most 600 s after "iat", and
//                   "iat" at most 60 s in the future, else 401 with
//                   GitHub's message. Without it, only a JWT's shape is
//                   checked.
//   --token-ttl SECONDS
//                   lifetime of the installation tokens issued (default
//                   3600); a token used after its expires_at gets 401
//                   "Bad credentials"
//
// Endpoints:
//   GET  /repos/O/R
//   GET  /repos/O/R/contents/PATH[?ref=REF]   (raw with Accept ...raw)
//   GET  /repos/O/R/tarball[/REF]             302 to /_codeload/O/R/SHA.tar.gz
//   POST /repos/O/R/statuses/SHA
//   GET  /repos/O/R/commits/REF/statuses      newest first
//   GET  /repos/O/R/commits/REF/status        combined
//   GET  /repos/O/R/collaborators/USER        204 or 404
//   POST /repos/O/R/check-runs                201; installation token only
//   PATCH /repos/O/R/check-runs/ID            200; installation token only
//   GET  /repos/O/R/check-runs/ID
//   GET  /repos/O/R/commits/REF/check-runs    {total_count, check_runs},
//                                             newest first; check_name,
//                                             status, filter (latest|all),
//                                             per_page, page
//   GET  /repos/O/R/installation              (app JWT)
//   POST /app/installations/ID/access_tokens  (app JWT)
//   GET  /_codeload/O/R/SHA.tar.gz, /_raw/O/R/SHA/PATH (no auth, as the
//                                             hosts they stand for)
// Check runs are created and updated with an installation token only: any
// other credential gets 403 "You must authenticate via a GitHub App.", as
// GitHub answers personal tokens. Invalid fields get 422 "Validation
// Failed" with errors [{resource: "CheckRun", code, field, message}]; an
// unknown head_sha, 422 "No commit found for SHA: ...".
//
// Control (never recorded, never faulted):
//   POST /_fake/faults    {"status":500|502|503|403|429, "count":N,
//                          "retry_after":S, "rate_limited":true,
//                          "delay_ms":D, "path":P}: the next N requests
//                          (1 by default) get that status, or are
//                          delayed; with "path", only requests whose path
//                          is P or lies under P/ count and are hit
//   GET  /_fake/requests  the recorded requests, a JSON array
//   GET  /_fake/statuses  every status created, oldest first
//   GET  /_fake/jwts      every app JWT presented, whole, oldest first
//                         (so a test can verify them with openssl)
//   GET  /_fake/check-runs
//                         every check run as it is now (the API's object
//                         plus "repo": "O/R"), oldest first, each with
//                         "history": [{action: "created"|"updated", time,
//                         status, conclusion, title}], oldest first
//   POST /_fake/reset     forget requests, statuses, check runs, tokens
//                         and faults
//
// A recorded request (and log line) is {time, method, path, query,
// headers, body, auth}: headers.authorization is cut to its scheme, and
// auth says which credential was used, never the whole of it: "none",
// "installation:ghs_XXXX..." (the first 8 characters of a token this
// double issued, expired or not), "token" (--token's), "jwt" (any other
// token shaped as a JWT), "token" again for any other token when there is
// no --token, else "invalid".
//
// Each answer carries X-RateLimit-* and X-GitHub-Request-Id. The rate
// limit counts down from 5000 per hour, as GitHub's does, but never
// refuses on its own: refusals come only from faults.

import { execFile } from "node:child_process";
import { createPublicKey, randomBytes, randomUUID, verify }
    from "node:crypto";
import { appendFileSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const DOCS = "https://docs.github.com/rest";
const LIMIT = 5000;

const { values: opt } = parseArgs({
	options: {
		port: { type: "string", default: "0" },
		repos: { type: "string", default: "." },
		log: { type: "string" },
		token: { type: "string" },
		collaborators: { type: "string" },
		"app-id": { type: "string", default: "1" },
		"app-key": { type: "string" },
		"token-ttl": { type: "string", default: "3600" },
	},
});
const reposDir = resolve(opt.repos);

function usageError(msg) {
	process.stderr.write(`github.mjs: ${msg}\n`);
	process.exit(2);
}

const appId = opt["app-id"];
if (!/^[1-9][0-9]*$/.test(appId))
	usageError(`--app-id: not a positive integer: ${appId}`);
let appKey = null;
if (opt["app-key"] !== undefined) {
	try {
		appKey = createPublicKey(readFileSync(opt["app-key"]));
	} catch (err) {
		usageError(`--app-key ${opt["app-key"]}: ${err.message}`);
	}
	if (appKey.asymmetricKeyType !== "rsa")
		usageError(`--app-key ${opt["app-key"]}: not an RSA key`);
}
const tokenTtl = Number(opt["token-ttl"]);
if (!Number.isInteger(tokenTtl) || tokenTtl < 1)
	usageError(`--token-ttl: not a positive integer: ${opt["token-ttl"]}`);

// Mutable state, all of it cleared by /_fake/reset.
let requests = [];
let statuses = [];		// oldest first
let nextStatusId = 1;
let checkRuns = [];		// oldest first
let nextCheckRunId = 1;
let checkSuites = new Map();	// "O/R@SHA" to a suite id
let issuedTokens = new Map();	// token to its expiry, in ms
let jwts = [];			// every app JWT presented, oldest first
let fault = null;		// { status, count, retry_after, path, ... }
let used = 0;
let windowReset = 0;

function reset() {
	requests = [];
	statuses = [];
	nextStatusId = 1;
	checkRuns = [];
	nextCheckRunId = 1;
	checkSuites = new Map();
	issuedTokens = new Map();
	jwts = [];
	fault = null;
	used = 0;
	windowReset = 0;
}

function isObject(v) {
	return v !== undefined && v !== null && typeof v === "object" &&
	    !Array.isArray(v);
}

function nowSeconds() {
	return Math.floor(Date.now() / 1000);
}

function iso(ms) {
	return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// git: run git in a repository; resolves to stdout as a Buffer, or null
// when git fails (an unknown ref or path).
function git(dir, args) {
	return new Promise((res) => {
		execFile("git", ["-C", dir, ...args],
		    { encoding: "buffer", maxBuffer: 512 * 1024 * 1024 },
		    (err, stdout) => res(err ? null : stdout));
	});
}

function repoDir(owner, name) {
	if (!/^[A-Za-z0-9_.-]+$/.test(owner) || !/^[A-Za-z0-9_.-]+$/.test(name) ||
	    owner.startsWith(".") || name.startsWith("."))
		return null;
	const dir = join(reposDir, owner, name);
	try {
		return statSync(dir).isDirectory() ? dir : null;
	} catch {
		return null;
	}
}

// resolveRef: the full SHA of REF's commit, or null.
async function resolveRef(dir, ref) {
	if (ref.startsWith("-"))
		return null;
	const out = await git(dir, ["rev-parse", "--verify", "--quiet",
	    `${ref}^{commit}`]);
	return out ? out.toString().trim() : null;
}

async function defaultBranch(dir) {
	const out = await git(dir, ["symbolic-ref", "--short", "HEAD"]);
	return out ? out.toString().trim() : "main";
}

// ------------------------------------------------------------ answers

function baseHeaders(req) {
	const now = nowSeconds();
	if (now >= windowReset) {
		windowReset = now + 3600;
		used = 0;
	}
	used++;
	return {
		"X-RateLimit-Limit": String(LIMIT),
		"X-RateLimit-Remaining": String(Math.max(LIMIT - used, 0)),
		"X-RateLimit-Reset": String(windowReset),
		"X-RateLimit-Used": String(used),
		"X-RateLimit-Resource": "core",
		"X-GitHub-Request-Id": req.requestId,
		"X-GitHub-Api-Version-Selected": "2022-11-28",
	};
}

function send(res, status, body, headers = {}) {
	const h = { ...res.bkHeaders, ...headers };
	let data = body;
	if (body !== null && body !== undefined && !Buffer.isBuffer(body) &&
	    typeof body !== "string") {
		data = JSON.stringify(body);
		h["Content-Type"] = "application/json; charset=utf-8";
	}
	if (data === undefined || data === null)
		data = "";
	h["Content-Length"] = String(Buffer.byteLength(data));
	res.writeHead(status, h);
	res.end(data);
}

function notFound(res) {
	send(res, 404, { message: "Not Found", documentation_url: DOCS,
	    status: "404" });
}

// invalid: GitHub's 422 for a field of a RESOURCE ("Status", "CheckRun")
// that fails validation, pointing at the endpoint's DOC.
function invalid(res, resource, doc, field, message, code = "custom") {
	send(res, 422, {
		message: "Validation Failed",
		errors: [{ resource, code, field, message }],
		documentation_url: doc,
		status: "422",
	});
}

function validationFailed(res, field, message, code = "custom") {
	invalid(res, "Status",
	    `${DOCS}/commits/statuses#create-a-commit-status`, field, message,
	    code);
}

function noCommit(res, ref, doc) {
	send(res, 422, { message: `No commit found for SHA: ${ref}`,
	    documentation_url: doc, status: "422" });
}

function apiBase(req) {
	return `http://${req.headers.host || "127.0.0.1"}`;
}

// --------------------------------------------------------------- auth

function authScheme(value) {
	if (!value)
		return null;
	const m = /^(\S+)\s+(.*)$/.exec(value.trim());
	return m ? { scheme: m[1].toLowerCase(), cred: m[2].trim() } : null;
}

function credential(req) {
	const a = authScheme(req.headers.authorization);
	return a && (a.scheme === "token" || a.scheme === "bearer") ? a.cred :
	    null;
}

function looksLikeJwt(cred) {
	return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(cred);
}

// installationToken: the request carries a token this double issued
// (expired or not).
function installationToken(req) {
	const cred = credential(req);
	return cred !== null && issuedTokens.has(cred);
}

function tokenExpired(cred) {
	return Date.now() >= issuedTokens.get(cred);
}

// authLabel: which credential a request used, for the request log; never
// more than a token's first 8 characters.
function authLabel(req) {
	if (!req.headers.authorization)
		return "none";
	const cred = credential(req);
	if (cred === null)
		return "invalid";
	if (issuedTokens.has(cred))
		return `installation:${cred.slice(0, 8)}...`;
	if (cred === opt.token)
		return "token";
	if (looksLikeJwt(cred))
		return "jwt";
	return opt.token === undefined ? "token" : "invalid";
}

// tokenOk: the request may use the API: an unexpired installation token
// we issued, or the --token (any token without --token).
function tokenOk(req) {
	const cred = credential(req);
	if (cred !== null && issuedTokens.has(cred))
		return !tokenExpired(cred);
	if (!opt.token)
		return true;
	return cred === opt.token;
}

function base64urlJson(part) {
	try {
		const v = JSON.parse(Buffer.from(part, "base64url")
		    .toString("utf8"));
		return isObject(v) ? v : null;
	} catch {
		return null;
	}
}

// jwtError: why the request's app JWT is refused (GitHub's message), or
// null. Without --app-key, only its shape is checked. GitHub allows 60 s
// of clock drift for "iat" and a lifetime of at most 10 minutes.
function jwtError(req) {
	const undecodable = "A JSON web token could not be decoded";
	const a = authScheme(req.headers.authorization);
	if (a === null || a.scheme !== "bearer" || !looksLikeJwt(a.cred))
		return undecodable;
	jwts.push(a.cred);
	if (appKey === null)
		return null;
	const [h, p, sig] = a.cred.split(".");
	const header = base64urlJson(h);
	const claims = base64urlJson(p);
	if (header === null || claims === null || header.alg !== "RS256")
		return undecodable;
	if ((typeof claims.iss !== "string" &&
	    typeof claims.iss !== "number") || String(claims.iss) !== appId)
		return "Integration not found";
	if (!verify("sha256", Buffer.from(`${h}.${p}`), appKey,
	    Buffer.from(sig, "base64url")))
		return undecodable;
	const now = nowSeconds();
	if (!Number.isInteger(claims.iat) || claims.iat > now + 60)
		return "'Issued at' claim ('iat') must be an Integer " +
		    "representing the time that the assertion was issued";
	if (typeof claims.exp !== "number" || claims.exp <= now)
		return "'Expiration time' claim ('exp') must be a numeric " +
		    "value representing the future time at which the " +
		    "assertion expires";
	if (claims.exp - claims.iat > 600)
		return "'Expiration time' claim ('exp') is too far in the " +
		    "future";
	return null;
}

function badCredentials(res) {
	send(res, 401, { message: "Bad credentials", documentation_url: DOCS,
	    status: "401" });
}

function badJwt(res, message) {
	send(res, 401, { message, documentation_url: DOCS, status: "401" });
}

// ------------------------------------------------------------- faults

function setFault(body) {
	const f = body && typeof body === "object" ? body : {};
	const status = f.status === undefined ? null : Number(f.status);
	if (status !== null && ![500, 502, 503, 403, 429].includes(status))
		return "status must be one of 500, 502, 503, 403, 429";
	const count = f.count === undefined ? 1 : Number(f.count);
	if (!Number.isInteger(count) || count < 0)
		return "count must be a non-negative integer";
	if (f.path !== undefined && f.path !== null &&
	    (typeof f.path !== "string" || !f.path.startsWith("/")))
		return "path must be a string starting with /";
	fault = {
		status,
		count,
		retry_after: f.retry_after === undefined ? null :
		    Number(f.retry_after),
		rate_limited: f.rate_limited === undefined ?
		    (status === 403 || status === 429) && f.retry_after ===
		    undefined : Boolean(f.rate_limited),
		delay_ms: Number(f.delay_ms || 0),
		path: f.path ? f.path.replace(/\/+$/, "") || "/" : null,
	};
	return null;
}

// faultApplies: PATH is the fault's path or lies under it (a prefix that
// ends at a "/": "/repos/o/r" does not cover "/repos/o/r2").
function faultApplies(f, path) {
	if (f.path === null || f.path === "/")
		return true;
	return path === f.path || path.startsWith(`${f.path}/`);
}

// takeFault: the fault for a request to PATH, counted down; requests it
// does not apply to neither see nor use it.
function takeFault(path) {
	if (!fault || fault.count <= 0 || !faultApplies(fault, path))
		return null;
	const f = fault;
	if (--fault.count === 0)
		fault = null;
	return f;
}

function sendFault(res, f) {
	const h = {};
	let body;
	if (f.status === 403 || f.status === 429) {
		if (f.rate_limited) {
			const reset = nowSeconds() + (f.retry_after ?? 60);
			h["X-RateLimit-Remaining"] = "0";
			h["X-RateLimit-Used"] = String(LIMIT);
			h["X-RateLimit-Reset"] = String(reset);
			body = {
				message: "API rate limit exceeded for " +
				    "installation ID 1.",
				documentation_url: `${DOCS}/overview/` +
				    "rate-limits-for-the-rest-api",
				status: String(f.status),
			};
		} else {
			body = {
				message: "You have exceeded a secondary rate " +
				    "limit. Please wait a few minutes before " +
				    "you try again.",
				documentation_url: `${DOCS}/overview/` +
				    "rate-limits-for-the-rest-api#about-" +
				    "secondary-rate-limits",
				status: String(f.status),
			};
		}
		if (f.retry_after !== null)
			h["Retry-After"] = String(f.retry_after);
	} else {
		const text = { 500: "Server Error", 502: "Bad Gateway",
		    503: "Service Unavailable" };
		body = { message: text[f.status], status: String(f.status) };
		if (f.retry_after !== null)
			h["Retry-After"] = String(f.retry_after);
	}
	send(res, f.status, body, h);
}

// ------------------------------------------------------------ handlers

function repoObject(req, owner, name, branch) {
	const base = apiBase(req);
	return {
		id: 1,
		node_id: "R_fake",
		name,
		full_name: `${owner}/${name}`,
		owner: { login: owner, id: 1, type: "Organization" },
		private: false,
		visibility: "public",
		fork: false,
		html_url: `${base}/${owner}/${name}`,
		url: `${base}/repos/${owner}/${name}`,
		clone_url: `file://${join(reposDir, owner, name)}`,
		default_branch: branch,
		archived: false,
		disabled: false,
	};
}

function statusObject(req, s) {
	const base = apiBase(req);
	return {
		url: `${base}/repos/${s.repo}/statuses/${s.sha}`,
		avatar_url: null,
		id: s.id,
		node_id: `SC_fake${s.id}`,
		state: s.state,
		description: s.description,
		target_url: s.target_url,
		context: s.context,
		created_at: s.created_at,
		updated_at: s.created_at,
		creator: { login: "beekeeper[bot]", id: 1, type: "Bot" },
	};
}

async function getContents(req, res, dir, owner, name, path, query) {
	const ref = query.get("ref") || await defaultBranch(dir);
	const sha = await resolveRef(dir, ref);
	path = path.replace(/^\/+|\/+$/g, "");
	if (sha === null || path.split("/").some((p) => p === ".." ||
	    p === "."))
		return notFound(res);
	const base = apiBase(req);
	const ls = await git(dir, ["ls-tree", "-l", "-z", sha, "--",
	    path === "" ? "." : path]);
	if (ls === null || ls.length === 0)
		return notFound(res);
	const entries = ls.toString().split("\0").filter(Boolean).map((l) => {
		const [meta, p] = l.split("\t");
		const [, type, objSha, size] = meta.split(/\s+/);
		return { type, sha: objSha, size: size === "-" ? 0 :
		    Number(size), path: p };
	});
	const entry = (e) => {
		const url = `${base}/repos/${owner}/${name}/contents/` +
		    `${e.path}?ref=${ref}`;
		return {
			type: e.type === "tree" ? "dir" : "file",
			size: e.size,
			name: e.path.split("/").pop(),
			path: e.path,
			sha: e.sha,
			url,
			git_url: `${base}/repos/${owner}/${name}/git/` +
			    `${e.type === "tree" ? "trees" : "blobs"}/${e.sha}`,
			html_url: `${base}/${owner}/${name}/blob/${ref}/` +
			    e.path,
			download_url: e.type === "tree" ? null :
			    `${base}/_raw/${owner}/${name}/${sha}/${e.path}`,
			_links: { self: url },
		};
	};
	if (path === "" || (entries.length >= 1 && entries[0].path !== path)) {
		// A directory: ls-tree listed its entries.
		const inner = await git(dir, ["ls-tree", "-l", "-z",
		    `${sha}:${path}`]);
		if (inner === null)
			return notFound(res);
		const list = inner.toString().split("\0").filter(Boolean)
		    .map((l) => {
			const [meta, p] = l.split("\t");
			const [, type, objSha, size] = meta.split(/\s+/);
			return entry({ type, sha: objSha, size: size === "-" ?
			    0 : Number(size), path: path ? `${path}/${p}` : p });
		});
		return send(res, 200, list);
	}
	const e = entries[0];
	if (e.type === "tree") {
		const inner = await git(dir, ["ls-tree", "-l", "-z",
		    `${sha}:${path}`]);
		const list = (inner || Buffer.alloc(0)).toString().split("\0")
		    .filter(Boolean).map((l) => {
			const [meta, p] = l.split("\t");
			const [, type, objSha, size] = meta.split(/\s+/);
			return entry({ type, sha: objSha, size: size === "-" ?
			    0 : Number(size), path: `${path}/${p}` });
		});
		return send(res, 200, list);
	}
	if (e.type !== "blob")
		return notFound(res);
	const bytes = await git(dir, ["show", `${sha}:${path}`]);
	if (bytes === null)
		return notFound(res);
	const accept = String(req.headers.accept || "");
	if (/application\/vnd\.github(\.v3)?\.raw(\+json)?\b/.test(accept)) {
		return send(res, 200, bytes,
		    { "Content-Type": "application/vnd.github.raw" });
	}
	// GitHub wraps base64 content at 60 columns.
	const b64 = bytes.toString("base64").replace(/(.{60})/g, "$1\n");
	return send(res, 200, { ...entry(e), content: b64,
	    encoding: "base64" });
}

async function createStatus(req, res, dir, owner, name, ref, body) {
	const sha = /^[0-9a-f]{4,40}$/i.test(ref) ?
	    await resolveRef(dir, ref) : null;
	if (sha === null) {
		return send(res, 422, {
			message: `No commit found for SHA: ${ref}`,
			documentation_url:
			    `${DOCS}/commits/statuses#create-a-commit-status`,
			status: "422",
		});
	}
	if (body === undefined || body === null || typeof body !== "object" ||
	    Array.isArray(body)) {
		return send(res, 400, {
			message: "Problems parsing JSON",
			documentation_url: DOCS,
			status: "400",
		});
	}
	const states = ["error", "failure", "pending", "success"];
	if (body.state === undefined)
		return validationFailed(res, "state", "state is missing",
		    "missing_field");
	if (!states.includes(body.state))
		return validationFailed(res, "state",
		    "state is not included in the list", "invalid");
	for (const f of ["target_url", "description", "context"]) {
		if (body[f] !== undefined && body[f] !== null &&
		    typeof body[f] !== "string")
			return validationFailed(res, f, `${f} is invalid`,
			    "invalid");
	}
	if (body.description && [...body.description].length > 140)
		return validationFailed(res, "description",
		    "description is too long (maximum is 140 characters)");
	if (body.target_url && !/^https?:\/\/\S+$/.test(body.target_url))
		return validationFailed(res, "target_url",
		    "target_url is not a valid URL", "invalid");
	const s = {
		id: nextStatusId++,
		repo: `${owner}/${name}`,
		sha,
		state: body.state,
		description: body.description ?? null,
		target_url: body.target_url ?? null,
		context: body.context || "default",
		created_at: iso(Date.now()),
	};
	statuses.push(s);
	send(res, 201, statusObject(req, s), {
	    Location: `${apiBase(req)}/repos/${owner}/${name}/statuses/${sha}`,
	});
}

function statusesOf(repo, sha) {
	return statuses.filter((s) => s.repo === repo && s.sha === sha)
	    .reverse();
}

async function listStatuses(req, res, dir, owner, name, ref, combined) {
	const sha = await resolveRef(dir, ref);
	if (sha === null)
		return notFound(res);
	const all = statusesOf(`${owner}/${name}`, sha);
	if (!combined)
		return send(res, 200, all.map((s) => statusObject(req, s)));
	const latest = [];
	const seen = new Set();
	for (const s of all) {
		if (!seen.has(s.context)) {
			seen.add(s.context);
			latest.push(s);
		}
	}
	let state = "success";
	if (latest.length === 0 || latest.some((s) => s.state === "pending"))
		state = "pending";
	if (latest.some((s) => s.state === "error" || s.state === "failure"))
		state = "failure";
	const base = apiBase(req);
	send(res, 200, {
		state,
		statuses: latest.map((s) => statusObject(req, s)),
		sha,
		total_count: latest.length,
		repository: repoObject(req, owner, name,
		    await defaultBranch(dir)),
		commit_url: `${base}/repos/${owner}/${name}/commits/${sha}`,
		url: `${base}/repos/${owner}/${name}/commits/${sha}/status`,
	});
}

// --------------------------------------------------------- check runs

const CHECKS_DOCS = `${DOCS}/checks/runs`;
const CHECK_STATUSES = ["queued", "in_progress", "completed"];
const CONCLUSIONS = ["action_required", "cancelled", "failure", "neutral",
    "success", "skipped", "stale", "timed_out"];
const PERMISSIONS = { checks: "write", contents: "read", metadata: "read",
    statuses: "write" };

function appIdValue() {
	return Number(appId);
}

function appObject(req) {
	const base = apiBase(req);
	const t = iso(Date.UTC(2024, 0, 1));
	return {
		id: appIdValue(),
		slug: "beekeeper",
		node_id: "A_fake",
		client_id: "Iv1.fake",
		owner: { login: "beekeeper", id: 1, type: "Organization" },
		name: "BeeKeeper",
		description: "",
		external_url: `${base}/apps/beekeeper`,
		html_url: `${base}/apps/beekeeper`,
		created_at: t,
		updated_at: t,
		permissions: PERMISSIONS,
		events: ["check_run", "pull_request", "push"],
	};
}

function checkRunObject(req, r) {
	const base = apiBase(req);
	const url = `${base}/repos/${r.repo}/check-runs/${r.id}`;
	return {
		id: r.id,
		head_sha: r.head_sha,
		node_id: `CR_fake${r.id}`,
		external_id: r.external_id,
		url,
		html_url: `${base}/${r.repo}/runs/${r.id}`,
		details_url: r.details_url ?? `${base}/apps/beekeeper`,
		status: r.status,
		conclusion: r.conclusion,
		started_at: r.started_at,
		completed_at: r.completed_at,
		output: {
			title: r.output.title,
			summary: r.output.summary,
			text: r.output.text,
			annotations_count: r.output.annotations_count,
			annotations_url: `${url}/annotations`,
		},
		name: r.name,
		check_suite: { id: r.suite_id },
		app: appObject(req),
		pull_requests: [],
	};
}

function isoTime(v) {
	const date = /^\d{4}-\d{2}-\d{2}/.source;
	const time = /T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.source;
	return new RegExp(date + time).test(v) && !Number.isNaN(Date.parse(v));
}

// checkRunChanges: what BODY does to RUN (null when creating one): the
// fields to set, or {field, message, code} for GitHub's 422. A conclusion
// completes the run; completing it needs one.
function checkRunChanges(body, run) {
	const creating = run === null;
	const bad = (field, message, code = "invalid") =>
	    ({ error: { field, message, code } });
	if (creating) {
		for (const f of ["name", "head_sha"]) {
			if (body[f] === undefined || body[f] === null)
				return bad(f, `${f} wasn't supplied`,
				    "missing_field");
		}
	}
	for (const f of ["name", "head_sha", "details_url", "external_id",
	    "status", "conclusion", "started_at", "completed_at"]) {
		if (body[f] !== undefined && body[f] !== null &&
		    typeof body[f] !== "string")
			return bad(f, `${f} is not a string`);
	}
	if (body.name !== undefined && body.name !== null &&
	    body.name.trim() === "")
		return bad("name", "name can't be blank", "missing_field");
	if (body.status != null && !CHECK_STATUSES.includes(body.status))
		return bad("status", "status is not included in the list");
	if (body.conclusion != null && !CONCLUSIONS.includes(body.conclusion))
		return bad("conclusion",
		    "conclusion is not included in the list");
	for (const f of ["started_at", "completed_at"]) {
		if (body[f] != null && !isoTime(body[f]))
			return bad(f, `${f} is not an ISO 8601 timestamp`);
	}
	if (body.details_url != null && body.details_url !== "" &&
	    !/^https?:\/\/\S+$/.test(body.details_url))
		return bad("details_url", "details_url is not a valid URL");
	const out = body.output;
	if (out !== undefined && out !== null) {
		if (typeof out !== "object" || Array.isArray(out))
			return bad("output", "output is not an object");
		if (out.summary === undefined || out.summary === null)
			return bad("output.summary", "summary wasn't supplied",
			    "missing_field");
		if (creating && (out.title === undefined || out.title === null))
			return bad("output.title", "title wasn't supplied",
			    "missing_field");
		for (const f of ["title", "summary", "text"]) {
			if (out[f] !== undefined && out[f] !== null &&
			    typeof out[f] !== "string")
				return bad(`output.${f}`,
				    `${f} is not a string`);
		}
		for (const f of ["summary", "text"]) {
			if (typeof out[f] === "string" &&
			    [...out[f]].length > 65535)
				return bad(`output.${f}`, `${f} is too long ` +
				    "(maximum is 65535 characters)");
		}
		if (out.annotations !== undefined && (!Array.isArray(
		    out.annotations) || out.annotations.length > 50))
			return bad("output.annotations",
			    "annotations must be an array of at most 50");
	}
	const c = {};
	for (const f of ["name", "details_url", "external_id", "started_at",
	    "completed_at"]) {
		if (body[f] !== undefined && body[f] !== null)
			c[f] = body[f];
	}
	c.status = body.status ?? (creating ? "queued" : run.status);
	c.conclusion = body.conclusion ?? (creating ? null : run.conclusion);
	if (body.conclusion)
		c.status = "completed";
	if ((c.status === "completed" || body.completed_at) && !c.conclusion)
		return bad("conclusion", "conclusion is required when status " +
		    "is completed or completed_at is given", "missing_field");
	if (c.status !== "completed") {
		// Back to queued or in_progress: a re-run forgets its end.
		c.conclusion = null;
		c.completed_at = null;
	} else if (c.completed_at === undefined &&
	    (creating || !run.completed_at)) {
		c.completed_at = iso(Date.now());
	}
	if (creating && c.started_at === undefined)
		c.started_at = iso(Date.now());
	if (out !== undefined && out !== null)
		c.output = out;
	return { changes: c };
}

// applyCheckRun: set CHANGES on RUN and record the state it is now in.
function applyCheckRun(run, changes, action) {
	const { output, ...rest } = changes;
	Object.assign(run, rest);
	if (output) {
		run.output = {
			title: output.title ?? run.output.title,
			summary: output.summary,
			text: output.text ?? null,
			annotations_count: run.output.annotations_count +
			    (output.annotations?.length ?? 0),
		};
	}
	run.history.push({ action, time: iso(Date.now()), status: run.status,
	    conclusion: run.conclusion, title: run.output.title });
}

function checksForbidden(res, doc) {
	send(res, 403, { message: "You must authenticate via a GitHub App.",
	    documentation_url: doc, status: "403" });
}

function problemsParsing(res) {
	send(res, 400, { message: "Problems parsing JSON",
	    documentation_url: DOCS, status: "400" });
}

async function createCheckRun(req, res, dir, owner, name, body) {
	const doc = `${CHECKS_DOCS}#create-a-check-run`;
	if (!installationToken(req))
		return checksForbidden(res, doc);
	if (!isObject(body))
		return problemsParsing(res);
	const r = checkRunChanges(body, null);
	if (r.error)
		return invalid(res, "CheckRun", doc, r.error.field,
		    r.error.message, r.error.code);
	const sha = /^[0-9a-f]{40}$/i.test(body.head_sha) ?
	    await resolveRef(dir, body.head_sha) : null;
	if (sha === null)
		return noCommit(res, body.head_sha, doc);
	const repo = `${owner}/${name}`;
	const key = `${repo}@${sha}`;
	if (!checkSuites.has(key))
		checkSuites.set(key, checkSuites.size + 1);
	const run = {
		id: nextCheckRunId++,
		repo,
		head_sha: sha,
		name: null,
		external_id: null,
		details_url: null,
		status: "queued",
		conclusion: null,
		started_at: null,
		completed_at: null,
		output: { title: null, summary: null, text: null,
		    annotations_count: 0 },
		suite_id: checkSuites.get(key),
		history: [],
	};
	applyCheckRun(run, r.changes, "created");
	checkRuns.push(run);
	send(res, 201, checkRunObject(req, run), {
	    Location: `${apiBase(req)}/repos/${repo}/check-runs/${run.id}`,
	});
}

function findCheckRun(owner, name, id) {
	const repo = `${owner}/${name}`;
	return /^[0-9]+$/.test(id) ? checkRuns.find((r) => r.repo === repo &&
	    r.id === Number(id)) ?? null : null;
}

function updateCheckRun(req, res, owner, name, id, body) {
	const doc = `${CHECKS_DOCS}#update-a-check-run`;
	if (!installationToken(req))
		return checksForbidden(res, doc);
	const run = findCheckRun(owner, name, id);
	if (run === null)
		return notFound(res);
	if (!isObject(body))
		return problemsParsing(res);
	const r = checkRunChanges(body, run);
	if (r.error)
		return invalid(res, "CheckRun", doc, r.error.field,
		    r.error.message, r.error.code);
	applyCheckRun(run, r.changes, "updated");
	send(res, 200, checkRunObject(req, run));
}

async function listCheckRuns(req, res, dir, owner, name, ref, query) {
	const sha = await resolveRef(dir, ref);
	if (sha === null)
		return notFound(res);
	const repo = `${owner}/${name}`;
	let runs = checkRuns.filter((r) => r.repo === repo &&
	    r.head_sha === sha).reverse();
	if (query.get("filter") !== "all") {
		const seen = new Set();
		runs = runs.filter((r) => !seen.has(r.name) &&
		    seen.add(r.name));
	}
	if (query.has("check_name"))
		runs = runs.filter((r) => r.name === query.get("check_name"));
	if (query.has("status"))
		runs = runs.filter((r) => r.status === query.get("status"));
	const perPage = Math.min(Math.max(Number(query.get("per_page")) ||
	    30, 1), 100);
	const page = Math.max(Number(query.get("page")) || 1, 1);
	send(res, 200, {
		total_count: runs.length,
		check_runs: runs.slice((page - 1) * perPage, page * perPage)
		    .map((r) => checkRunObject(req, r)),
	});
}

function isCollaborator(owner, name, user) {
	if (!opt.collaborators)
		return false;
	let text;
	try {
		text = readFileSync(opt.collaborators, "utf8");
	} catch {
		return false;
	}
	const want = `${owner}/${name}`.toLowerCase();
	return text.split("\n").some((l) => {
		const [r, u] = l.trim().split(/\s+/);
		return r && u && r.toLowerCase() === want &&
		    u.toLowerCase() === user.toLowerCase();
	});
}

function installationObject(req, owner) {
	const base = apiBase(req);
	const t = iso(Date.UTC(2024, 0, 1));
	return {
		id: 1,
		account: { login: owner, id: 1, type: "Organization" },
		app_id: appIdValue(),
		app_slug: "beekeeper",
		target_id: 1,
		target_type: "Organization",
		repository_selection: "all",
		access_tokens_url:
		    `${base}/app/installations/1/access_tokens`,
		repositories_url: `${base}/installation/repositories`,
		html_url: `${base}/organizations/${owner}/settings/` +
		    "installations/1",
		permissions: PERMISSIONS,
		events: ["check_run", "pull_request", "push"],
		created_at: t,
		updated_at: t,
		single_file_name: null,
		suspended_at: null,
	};
}

async function route(req, res, url, body) {
	const parts = url.pathname.split("/").slice(1).map((p) => {
		try {
			return decodeURIComponent(p);
		} catch {
			return p;
		}
	});
	const m = req.method;

	if (parts[0] === "_codeload" && m === "GET" && parts.length === 4) {
		const dir = repoDir(parts[1], parts[2]);
		const mm = /^([0-9a-f]{40})\.tar\.gz$/.exec(parts[3]);
		if (!dir || !mm)
			return notFound(res);
		const sha = await resolveRef(dir, mm[1]);
		if (sha === null)
			return notFound(res);
		const prefix = `${parts[1]}-${parts[2]}-${sha.slice(0, 7)}/`;
		const tgz = await git(dir, ["archive", "--format=tar.gz",
		    `--prefix=${prefix}`, sha]);
		if (tgz === null)
			return notFound(res);
		return send(res, 200, tgz, {
			"Content-Type": "application/x-gzip",
			"Content-Disposition": "attachment; filename=" +
			    `${prefix.slice(0, -1)}.tar.gz`,
		});
	}

	// download_url of a content object (raw.githubusercontent.com).
	if (parts[0] === "_raw" && m === "GET" && parts.length >= 5) {
		const dir = repoDir(parts[1], parts[2]);
		const sha = dir && /^[0-9a-f]{40}$/.test(parts[3]) ?
		    await resolveRef(dir, parts[3]) : null;
		const path = parts.slice(4).join("/");
		const bytes = sha === null || path.split("/").includes("..") ?
		    null : await git(dir, ["show", `${sha}:${path}`]);
		if (bytes === null)
			return send(res, 404, "404: Not Found");
		return send(res, 200, bytes, { "Content-Type": "text/plain" });
	}

	if (parts[0] === "app" && parts[1] === "installations" &&
	    parts[3] === "access_tokens" && parts.length === 4 && m === "POST") {
		const why = jwtError(req);
		if (why !== null)
			return badJwt(res, why);
		if (parts[2] !== "1")
			return notFound(res);
		const token = `ghs_${randomBytes(18).toString("base64url")}`;
		const expires = Date.now() + tokenTtl * 1000;
		issuedTokens.set(token, expires);
		return send(res, 201, {
			token,
			expires_at: iso(expires),
			permissions: PERMISSIONS,
			repository_selection: "all",
		});
	}

	if (parts[0] !== "repos" || parts.length < 3)
		return notFound(res);
	const [, owner, name, what, ...rest] = parts;

	if (what === "installation" && rest.length === 0 && m === "GET") {
		const why = jwtError(req);
		if (why !== null)
			return badJwt(res, why);
		if (!repoDir(owner, name))
			return notFound(res);
		return send(res, 200, installationObject(req, owner));
	}

	if (!tokenOk(req))
		return badCredentials(res);
	const dir = repoDir(owner, name);
	if (!dir)
		return notFound(res);

	if (what === undefined && m === "GET")
		return send(res, 200, repoObject(req, owner, name,
		    await defaultBranch(dir)));
	if (what === "contents" && m === "GET")
		return getContents(req, res, dir, owner, name,
		    url.pathname.split("/").slice(5).map(decodeURIComponent)
		    .join("/"), url.searchParams);
	if (what === "tarball" && m === "GET" && rest.length <= 1) {
		const ref = rest.length ? rest[0] : await defaultBranch(dir);
		const sha = await resolveRef(dir, ref);
		if (sha === null)
			return notFound(res);
		const loc = `${apiBase(req)}/_codeload/${owner}/${name}/` +
		    `${sha}.tar.gz`;
		return send(res, 302, "", { Location: loc });
	}
	if (what === "statuses" && rest.length === 1 && m === "POST")
		return createStatus(req, res, dir, owner, name, rest[0], body);
	if (what === "commits" && rest.length === 2 && m === "GET" &&
	    (rest[1] === "statuses" || rest[1] === "status"))
		return listStatuses(req, res, dir, owner, name, rest[0],
		    rest[1] === "status");
	if (what === "check-runs" && rest.length === 0 && m === "POST")
		return createCheckRun(req, res, dir, owner, name, body);
	if (what === "check-runs" && rest.length === 1 && m === "PATCH")
		return updateCheckRun(req, res, owner, name, rest[0], body);
	if (what === "check-runs" && rest.length === 1 && m === "GET") {
		const run = findCheckRun(owner, name, rest[0]);
		return run ? send(res, 200, checkRunObject(req, run)) :
		    notFound(res);
	}
	if (what === "commits" && rest.length === 2 && m === "GET" &&
	    rest[1] === "check-runs")
		return listCheckRuns(req, res, dir, owner, name, rest[0],
		    url.searchParams);
	if (what === "collaborators" && rest.length === 1 && m === "GET")
		return isCollaborator(owner, name, rest[0]) ?
		    send(res, 204, null) : notFound(res);
	return notFound(res);
}

function control(req, res, url, body) {
	const p = url.pathname;
	if (p === "/_fake/faults" && req.method === "POST") {
		const err = setFault(body);
		return err ? send(res, 400, { message: err }) :
		    send(res, 200, { fault });
	}
	if (p === "/_fake/requests" && req.method === "GET")
		return send(res, 200, requests);
	if (p === "/_fake/statuses" && req.method === "GET")
		return send(res, 200, statuses);
	if (p === "/_fake/jwts" && req.method === "GET")
		return send(res, 200, jwts);
	if (p === "/_fake/check-runs" && req.method === "GET")
		return send(res, 200, checkRuns.map((r) => ({
		    ...checkRunObject(req, r), repo: r.repo,
		    history: r.history })));
	if (p === "/_fake/reset" && req.method === "POST") {
		reset();
		return send(res, 200, { ok: true });
	}
	return notFound(res);
}

function redactedHeaders(headers) {
	const h = { ...headers };
	if (h.authorization !== undefined) {
		const a = authScheme(h.authorization);
		h.authorization = a ? a.scheme : "[redacted]";
	}
	return h;
}

const server = createServer((req, res) => {
	const chunks = [];
	req.on("data", (c) => chunks.push(c));
	req.on("end", async () => {
		req.requestId = randomUUID().toUpperCase().slice(0, 23);
		const url = new URL(req.url, "http://127.0.0.1");
		const raw = Buffer.concat(chunks);
		let body;
		if (raw.length > 0) {
			try {
				body = JSON.parse(raw.toString("utf8"));
			} catch {
				body = raw.toString("utf8");
			}
		}
		try {
			if (url.pathname.startsWith("/_fake/")) {
				res.bkHeaders = {};
				return control(req, res, url, body);
			}
			res.bkHeaders = baseHeaders(req);
			const entry = {
				time: iso(Date.now()),
				method: req.method,
				path: url.pathname,
				query: Object.fromEntries(url.searchParams),
				headers: redactedHeaders(req.headers),
				body: body === undefined ? null : body,
				auth: authLabel(req),
			};
			requests.push(entry);
			if (opt.log)
				appendFileSync(opt.log,
				    JSON.stringify(entry) + "\n");
			const f = takeFault(url.pathname);
			if (f && f.delay_ms > 0)
				await new Promise((r) =>
				    setTimeout(r, f.delay_ms));
			if (f && f.status)
				return sendFault(res, f);
			await route(req, res, url, body);
		} catch (err) {
			process.stderr.write(`github.mjs: ${err.stack}\n`);
			if (!res.headersSent)
				send(res, 500, { message: "Server Error" });
		}
	});
});

server.listen(Number(opt.port), "127.0.0.1", () => {
	process.stdout.write(
	    `listening on 127.0.0.1:${server.address().port}\n`);
});

for (const sig of ["SIGTERM", "SIGINT"])
	process.on(sig, () => process.exit(0));
