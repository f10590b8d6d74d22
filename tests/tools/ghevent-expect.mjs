// Writes what the daemon's event normalisation must produce for every
// push, pull_request and ping example in @octokit/webhooks-examples, one
// tab-separated line each, from the payloads alone: a second
// implementation of daemon/ghevent.c's rules, written in another language.
// The output is kept as tests/data/ghevent/examples.tsv and read by
// tests/unit/t_ghevent.c; run again when the examples package changes:
//   BK_NODE_MODULES=node_modules node tests/tools/ghevent-expect.mjs \
//     > tests/data/ghevent/examples.tsv
import { createRequire } from 'node:module';
import path from 'node:path';

const modules = process.env.BK_NODE_MODULES || 'node_modules';
const require = createRequire(path.resolve(modules) + '/');
const index = require('@octokit/webhooks-examples/api.github.com/index.json');

const building = ['opened', 'synchronize', 'reopened', 'closed'];
const cols = ['event', 'index', 'kind', 'repo', 'ref_type', 'ref',
    'base_ref', 'sha', 'pr', 'action', 'fork', 'deleted', 'state'];
console.log('# ' + cols.join('\t'));
for (const name of ['ping', 'push', 'pull_request']) {
	const group = index.find((e) => e.name === name);
	group.examples.forEach((p, i) => {
		let r = { event: name, index: i, kind: 'change', repo: '-',
		    ref_type: '-', ref: '-', base_ref: '-', sha: '-', pr: 0,
		    action: '-', fork: 0, deleted: 0, state: '-' };
		if (name === 'ping') {
			r.kind = 'ping';
			r.repo = p.repository ? p.repository.full_name : '-';
		} else if (name === 'push') {
			r.repo = p.repository.full_name;
			const m = /^refs\/(heads|tags)\/(.*)$/.exec(p.ref);
			r.ref_type = m[1] === 'heads' ? 'branch' : 'tag';
			r.ref = m[2];
			r.sha = p.after;
			r.deleted = p.deleted === true || /^0+$/.test(p.after)
			    ? 1 : 0;
			r.state = r.deleted ? 'ignored' : 'queued';
		} else {
			const pr = p.pull_request;
			r.repo = p.repository.full_name;
			r.ref_type = 'branch';
			r.ref = pr.head.ref;
			r.base_ref = pr.base.ref;
			r.sha = pr.head.sha;
			r.pr = p.number;
			r.action = p.action;
			r.fork = !pr.head.repo ||
			    pr.head.repo.full_name !== pr.base.repo.full_name
			    ? 1 : 0;
			r.state = building.includes(p.action) ? 'queued' :
			    'ignored';
		}
		console.log(cols.map((c) => String(r[c])).join('\t'));
	});
}
