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
//       [--collaborators FILE]
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
//
// Endpoints:
//   GET  /repos/O/R
//   GET  /repos/O/R/contents/PATH[?ref=REF]   (raw with Accept ...raw)
//   GET  /repos/O/R/tarball[/REF]             302 to /_codeload/O/R/SHA.tar.gz
//   POST /repos/O/R/statuses/SHA
//   GET  /repos/O/R/commits/REF/statuses      newest first
//   GET  /repos/O/R/commits/REF/status        combined
//   GET  /repos/O/R/collaborators/USER        204 or 404
//   GET  /repos/O/R/installation              (app JWT)
//   POST /app/installations/ID/access_tokens  (app JWT)
//   GET  /_codeload/O/R/SHA.tar.gz, /_raw/O/R/SHA/PATH (no auth, as the
//                                             hosts they stand for)
// Control (never recorded, never faulted):
//   POST /_fake/faults    {"status":500|502|503|403|429, "count":N,
//                          "retry_after":S, "rate_limited":true,
//                          "delay_ms":D}: the next N requests (1 by
//                          default) get that status, or are delayed
//   GET  /_fake/requests  the recorded requests, a JSON array
//   GET  /_fake/statuses  every status created, oldest first
//   POST /_fake/reset     forget requests, statuses, tokens and faults
//
// Each answer carries X-RateLimit-* and X-GitHub-Request-Id. The rate
// limit counts down from 5000 per hour, as GitHub's does, but never
// refuses on its own: refusals come only from faults.

import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
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
	},
});
const reposDir = resolve(opt.repos);

// Mutable state, all of it cleared by /_fake/reset.
let requests = [];
let statuses = [];		// oldest first
let nextStatusId = 1;
let issuedTokens = new Set();
let fault = null;		// { status, count, retry_after, ... }
let used = 0;
let windowReset = 0;

function reset() {
	requests = [];
	statuses = [];
	nextStatusId = 1;
	issuedTokens = new Set();
	fault = null;
	used = 0;
	windowReset = 0;
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

function validationFailed(res, field, message, code = "custom") {
	send(res, 422, {
		message: "Validation Failed",
		errors: [{ resource: "Status", code, field, message }],
		documentation_url:
		    `${DOCS}/commits/statuses#create-a-commit-status`,
		status: "422",
	});
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

// tokenOk: the request may use the API (no --token, or the token, or an
// installation token we issued).
function tokenOk(req) {
	if (!opt.token)
		return true;
	const a = authScheme(req.headers.authorization);
	if (!a || (a.scheme !== "token" && a.scheme !== "bearer"))
		return false;
	return a.cred === opt.token || issuedTokens.has(a.cred);
}

// jwtOk: an app's JWT, checked for shape only (signatures are the
// daemon's unit tests' business).
function jwtOk(req) {
	const a = authScheme(req.headers.authorization);
	return a !== null && a.scheme === "bearer" &&
	    /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(a.cred);
}

function badCredentials(res) {
	send(res, 401, { message: "Bad credentials", documentation_url: DOCS,
	    status: "401" });
}

function needJwt(res) {
	send(res, 401, {
		message: "A JSON web token could not be decoded",
		documentation_url: DOCS,
		status: "401",
	});
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
	fault = {
		status,
		count,
		retry_after: f.retry_after === undefined ? null :
		    Number(f.retry_after),
		rate_limited: f.rate_limited === undefined ?
		    (status === 403 || status === 429) && f.retry_after ===
		    undefined : Boolean(f.rate_limited),
		delay_ms: Number(f.delay_ms || 0),
	};
	return null;
}

function takeFault() {
	if (!fault || fault.count <= 0)
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
		app_id: 1,
		app_slug: "beekeeper",
		target_id: 1,
		target_type: "Organization",
		repository_selection: "all",
		access_tokens_url:
		    `${base}/app/installations/1/access_tokens`,
		repositories_url: `${base}/installation/repositories`,
		html_url: `${base}/organizations/${owner}/settings/` +
		    "installations/1",
		permissions: { contents: "read", statuses: "write",
		    metadata: "read" },
		events: ["push", "pull_request"],
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
		if (!jwtOk(req))
			return needJwt(res);
		if (parts[2] !== "1")
			return notFound(res);
		const token = `ghs_${randomBytes(18).toString("base64url")}`;
		issuedTokens.add(token);
		return send(res, 201, {
			token,
			expires_at: iso(Date.now() + 3600 * 1000),
			permissions: { contents: "read", statuses: "write",
			    metadata: "read" },
			repository_selection: "all",
		});
	}

	if (parts[0] !== "repos" || parts.length < 3)
		return notFound(res);
	const [, owner, name, what, ...rest] = parts;

	if (what === "installation" && rest.length === 0 && m === "GET") {
		if (!jwtOk(req))
			return needJwt(res);
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
			};
			requests.push(entry);
			if (opt.log)
				appendFileSync(opt.log,
				    JSON.stringify(entry) + "\n");
			const f = takeFault();
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
