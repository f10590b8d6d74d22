// deliver.mjs: a GitHub webhook client for the regress tests.
//
// It sends the real example payloads of @octokit/webhooks-examples, signed
// with @octokit/webhooks-methods, as GitHub would. The packages are found
// in $BK_NODE_MODULES (a node_modules directory holding @octokit/...),
// since this script lives outside it.
//
// Usage:
//   node deliver.mjs send [options] URL EVENT...
//       POST every example of each EVENT (push, pull_request, ping, ...) to
//       URL, one at a time, each with a fresh delivery id. Prints one line
//       per delivery: "ID EVENT INDEX STATUS" (STATUS is the HTTP status,
//       or ERR when no answer came).
//   node deliver.mjs flood [options] -n N -c C -o LOG URL EVENT [INDEX]
//       POST N deliveries of example INDEX (default 0) of EVENT, C at a
//       time, each with a fresh id. As each answer arrives, appends
//       "ID STATUS" to LOG (or "ID ERR" for a connection error or a
//       time-out), so a daemon killed mid-flood leaves a truthful log.
//       Exits 0 whatever the daemon did.
//   node deliver.mjs payload EVENT INDEX
//       Prints the JSON body that send and flood POST for that example,
//       with no newline after it.
//   node deliver.mjs count EVENT
//       Prints how many examples EVENT has.
//
// Options:
//   -s, --secret-file FILE  the webhook secret (the whole file, as is)
//   --index N               send: only example N of each EVENT
//   --id ID                 use this delivery id (every delivery gets it)
//   --form                  application/x-www-form-urlencoded, payload=JSON
//   --sig sha256|sha1|both|none
//                           which signature headers to send:
//                           X-Hub-Signature-256 (default), X-Hub-Signature
//                           only (legacy sha1, computed with node:crypto),
//                           both, or none
//   --wrong-secret          sign with a secret other than the file's
//   --expect FILE           send: append to FILE, for each push and
//                           pull_request delivery, the changes row the daemon
//                           should make, as "ID|EVENT|REPO|REF_TYPE|REF|
//                           BASE_REF|SHA|PR|ACTION|FORK|DELETED|SENDER|STATE"
//                           (SHA is "-" for a delete, empty fields are NULL)
//   --timeout MS            per request (default 10000)
//
// Exit status: 0 when every request got an answer (send) or always (flood);
// 1 on a send that got no answer; 2 on a usage error.

import { createHmac, randomUUID } from "node:crypto";
import { openSync, readFileSync, writeSync, closeSync,
    appendFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const USAGE = `usage: deliver.mjs send [options] URL EVENT...
       deliver.mjs flood [options] -n N -c C -o LOG URL EVENT [INDEX]
       deliver.mjs payload EVENT INDEX
       deliver.mjs count EVENT`;

function usage(msg) {
	if (msg)
		process.stderr.write(`deliver.mjs: ${msg}\n`);
	process.stderr.write(USAGE + "\n");
	process.exit(2);
}

const modulesDir = process.env.BK_NODE_MODULES;
if (!modulesDir)
	usage("BK_NODE_MODULES is not set");

// The examples are JSON: require() from the modules directory finds them.
// webhooks-methods is ESM only and exports no "require" condition, so its
// entry point is read from its package.json and imported by file URL.
const require = createRequire(join(modulesDir, "noop.js"));
const examples = require(
    "@octokit/webhooks-examples/api.github.com/index.json");
const methodsDir = join(modulesDir, "@octokit", "webhooks-methods");
const methodsPkg = JSON.parse(readFileSync(join(methodsDir, "package.json"),
    "utf8"));
const methodsEntry = methodsPkg.exports["."].node.import;
const { sign } = await import(pathToFileURL(join(methodsDir, methodsEntry)));

const { values: opt, positionals: args } = parseArgs({
	allowPositionals: true,
	options: {
		"secret-file": { type: "string", short: "s" },
		index: { type: "string" },
		id: { type: "string" },
		form: { type: "boolean", default: false },
		sig: { type: "string", default: "sha256" },
		"wrong-secret": { type: "boolean", default: false },
		expect: { type: "string" },
		timeout: { type: "string", default: "10000" },
		n: { type: "string", short: "n" },
		c: { type: "string", short: "c" },
		o: { type: "string", short: "o" },
	},
});

function examplesOf(event) {
	const e = examples.find((x) => x.name === event);
	if (!e)
		usage(`no examples for event ${event}`);
	return e.examples;
}

function number(s, what) {
	const n = Number(s);
	if (!Number.isInteger(n) || n < 0)
		usage(`bad ${what}: ${s}`);
	return n;
}

// The body exactly as it goes on the wire, and its content type. A form
// body is what GitHub sends for "application/x-www-form-urlencoded" hooks:
// one field, payload, holding the JSON.
function encode(payload) {
	const json = JSON.stringify(payload);
	if (opt.form) {
		return {
			body: new URLSearchParams({ payload: json }).toString(),
			type: "application/x-www-form-urlencoded",
		};
	}
	return { body: json, type: "application/json" };
}

let secret = null;
async function headersFor(event, id, body, type) {
	const h = {
		"Content-Type": type,
		"User-Agent": "GitHub-Hookshot/beekeeper-tests",
		"X-GitHub-Event": event,
		"X-GitHub-Delivery": id,
		"X-GitHub-Hook-ID": "1",
	};
	if (opt.sig === "none")
		return h;
	let key = secret;
	if (opt["wrong-secret"])
		key = "not-" + secret;
	if (opt.sig === "sha256" || opt.sig === "both")
		h["X-Hub-Signature-256"] = await sign(key, body);
	if (opt.sig === "sha1" || opt.sig === "both") {
		h["X-Hub-Signature"] = "sha1=" +
		    createHmac("sha1", key).update(body).digest("hex");
	}
	return h;
}

const timeout = number(opt.timeout, "timeout");

// One POST; resolves to the status, or "ERR" when no answer came.
async function post(url, event, id, enc) {
	try {
		const res = await fetch(url, {
			method: "POST",
			headers: await headersFor(event, id, enc.body, enc.type),
			body: enc.body,
			signal: AbortSignal.timeout(timeout),
		});
		await res.arrayBuffer();
		return String(res.status);
	} catch (e) {
		return "ERR";
	}
}

// The changes row the daemon should make for a push or pull_request
// payload, in the column order of the --expect format above.
function expected(id, event, p) {
	const row = (f) => f.map((x) => (x === null || x === undefined) ?
	    "" : String(x)).join("|");
	if (event === "push") {
		const m = /^refs\/(heads|tags)\/(.*)$/.exec(p.ref);
		const deleted = p.deleted ? 1 : 0;
		return row([id, event, p.repository.full_name,
		    m[1] === "heads" ? "branch" : "tag", m[2], null,
		    deleted ? "-" : p.after, null, null,
		    p.repository.fork ? 1 : 0, deleted, p.sender?.login,
		    deleted ? "ignored" : "queued"]);
	}
	const pr = p.pull_request;
	const acts = ["opened", "synchronize", "reopened", "closed"];
	const fork = pr.head.repo &&
	    pr.head.repo.full_name !== pr.base.repo.full_name;
	return row([id, event, p.repository.full_name, "branch", pr.head.ref,
	    pr.base.ref, pr.head.sha, p.number, p.action, fork ? 1 : 0, 0,
	    p.sender?.login, acts.includes(p.action) ? "queued" : "ignored"]);
}

function readSecret() {
	if (opt.sig === "none")
		return;
	if (!opt["secret-file"])
		usage("--secret-file is needed to sign");
	secret = readFileSync(opt["secret-file"], "utf8");
}

async function cmdSend() {
	if (args.length < 2)
		usage();
	const [url, ...events] = args;
	readSecret();
	let failed = 0;
	for (const event of events) {
		const list = examplesOf(event);
		for (let i = 0; i < list.length; i++) {
			if (opt.index !== undefined &&
			    i !== number(opt.index, "index"))
				continue;
			const id = opt.id ?? randomUUID();
			const status = await post(url, event, id,
			    encode(list[i]));
			if (status === "ERR")
				failed++;
			process.stdout.write(`${id} ${event} ${i} ${status}\n`);
			if (opt.expect && (event === "push" ||
			    event === "pull_request")) {
				appendFileSync(opt.expect,
				    expected(id, event, list[i]) + "\n");
			}
		}
	}
	return failed ? 1 : 0;
}

async function cmdFlood() {
	if (args.length < 2 || args.length > 3 || !opt.n || !opt.c || !opt.o)
		usage();
	const [url, event, index = "0"] = args;
	const total = number(opt.n, "-n");
	const conc = Math.max(1, number(opt.c, "-c"));
	const payload = examplesOf(event)[number(index, "index")];
	if (!payload)
		usage(`no example ${index} for ${event}`);
	readSecret();
	const enc = encode(payload);
	const fd = openSync(opt.o, "a");
	let next = 0;
	async function worker() {
		while (next < total) {
			next++;
			const id = opt.id ?? randomUUID();
			const status = await post(url, event, id, enc);
			writeSync(fd, `${id} ${status}\n`);
		}
	}
	await Promise.all(Array.from({ length: conc }, worker));
	closeSync(fd);
	return 0;
}

let rc;
switch (args.shift()) {
case "send":
	rc = await cmdSend();
	break;
case "flood":
	rc = await cmdFlood();
	break;
case "payload":
	if (args.length !== 2)
		usage();
	process.stdout.write(JSON.stringify(
	    examplesOf(args[0])[number(args[1], "index")]));
	rc = 0;
	break;
case "count":
	if (args.length !== 1)
		usage();
	process.stdout.write(examplesOf(args[0]).length + "\n");
	rc = 0;
	break;
default:
	usage();
}
process.exit(rc);
