/*
 * Event normalisation of every push, pull_request and ping example in
 * @octokit/webhooks-examples, checked against tests/data/ghevent/
 * examples.tsv (written from the payloads by a second implementation,
 * tests/tools/ghevent-expect.mjs), and the cases the examples lack: forks,
 * a deleted head repository, payloads missing what an event needs.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "tap.h"

static json_t *
examples_of(json_t *index, const char *name)
{
	json_t	*e;
	size_t	 i;

	json_array_foreach(index, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "name")),
		    name) == 0)
			return (json_object_get(e, "examples"));
	}
	return (NULL);
}

static const char *
or_dash(const char *s)
{
	return (s != NULL ? s : "-");
}

static void
check_line(json_t *index, char *line)
{
	char		*f[13], *p = line, name[160], *cause = NULL;
	struct ghevent	 ev;
	struct change	*c = &ev.change;
	json_t		*payload;
	int		 n = 0, rv;

	while (n < 13 && (f[n] = strsep(&p, "\t\n")) != NULL)
		n++;
	if (!ok(n == 13, "expectation line has 13 fields"))
		return;
	payload = json_array_get(examples_of(index, f[0]),
	    strtol(f[1], NULL, 10));
	snprintf(name, sizeof name, "%s example %s", f[0], f[1]);
	if (!ok(payload != NULL, name))
		return;
	rv = ghevent_normalise(f[0], payload, &ev, &cause);
	if (!ok(rv == 0, name)) {
		printf("#   %s\n", cause);
		free(cause);
		return;
	}
	if (strcmp(f[2], "ping") == 0) {
		is_int(ev.kind, GHEVENT_PING, "  is a ping");
		is_str(or_dash(ev.repo), f[3], "  repository");
	} else {
		is_int(ev.kind, GHEVENT_CHANGE, "  is a change");
		is_str(c->event, f[0], "  event");
		is_str(or_dash(c->repo), f[3], "  repository");
		is_str(or_dash(c->ref_type), f[4], "  ref type");
		is_str(or_dash(c->ref), f[5], "  ref");
		is_str(or_dash(c->base_ref), f[6], "  base ref");
		is_str(or_dash(c->sha), f[7], "  head sha");
		is_int(c->pr, strtol(f[8], NULL, 10), "  pull request number");
		is_str(or_dash(c->action), f[9], "  action");
		is_int(c->fork, strtol(f[10], NULL, 10), "  fork");
		is_int(c->deleted, strtol(f[11], NULL, 10), "  deleted");
		is_str(c->state, f[12], "  state");
		ok(c->sender != NULL, "  sender");
		ok(strcmp(c->state, "ignored") != 0 || c->reason != NULL,
		    "  an ignored change says why");
	}
	ghevent_release(&ev);
}

static json_t *
pr_payload(const char *head_repo, const char *base_repo)
{
	json_t	*p;

	p = json_pack("{s:s, s:i, s:{s:s}, s:{s:s}, s:{s:i, s:{s:s, s:s, "
	    "s:o}, s:{s:s, s:{s:s}}}}",
	    "action", "opened", "number", 7,
	    "repository", "full_name", base_repo,
	    "sender", "login", "someone",
	    "pull_request", "number", 7,
	    "head", "ref", "feature", "sha", "abc123",
	    "repo", head_repo != NULL ?
	    json_pack("{s:s}", "full_name", head_repo) : json_null(),
	    "base", "ref", "main", "repo", "full_name", base_repo);
	return (p);
}

static void
check_special_cases(void)
{
	struct ghevent	 ev;
	json_t		*p;
	char		*cause;

	p = pr_payload("contributor/toga", "beeware/toga");
	is_int(ghevent_normalise("pull_request", p, &ev, &cause), 0,
	    "pull request from a fork");
	is_int(ev.change.fork, 1, "  is a fork");
	is_int(ev.change.pr, 7, "  number");
	ghevent_release(&ev);
	json_decref(p);

	p = pr_payload(NULL, "beeware/toga");
	is_int(ghevent_normalise("pull_request", p, &ev, &cause), 0,
	    "pull request whose head repository was deleted");
	is_int(ev.change.fork, 1, "  counts as a fork");
	ghevent_release(&ev);
	json_decref(p);

	p = pr_payload("beeware/toga", "beeware/toga");
	is_int(ghevent_normalise("pull_request", p, &ev, &cause), 0,
	    "pull request from a branch of the same repository");
	is_int(ev.change.fork, 0, "  is not a fork");
	ghevent_release(&ev);
	json_decref(p);

	p = json_pack("{s:s, s:s, s:{s:s}}", "ref", "refs/heads/main",
	    "after", "abc", "sender", "login", "x");
	is_int(ghevent_normalise("push", p, &ev, &cause), -1,
	    "push without a repository is refused");
	like(cause, "repository", "  and the reason names what is missing");
	free(cause);
	json_decref(p);

	p = json_pack("{s:s, s:s, s:{s:s}}", "ref", "refs/notes/commits",
	    "after", "abc", "repository", "full_name", "a/b");
	is_int(ghevent_normalise("push", p, &ev, &cause), -1,
	    "push to a ref that is neither branch nor tag is refused");
	like(cause, "refs/notes/commits", "  and the reason names the ref");
	free(cause);
	json_decref(p);

	p = json_pack("{s:s, s:{s:s}}", "action", "opened", "repository",
	    "full_name", "a/b");
	is_int(ghevent_normalise("pull_request", p, &ev, &cause), -1,
	    "pull_request without pull_request object is refused");
	free(cause);
	json_decref(p);

	p = json_pack("{s:s}", "action", "created");
	is_int(ghevent_normalise("issue_comment", p, &ev, &cause), 0,
	    "another event is accepted");
	is_int(ev.kind, GHEVENT_OTHER, "  and only recorded");
	ghevent_release(&ev);
	json_decref(p);

	p = json_pack("[i]", 1);
	is_int(ghevent_normalise("push", p, &ev, &cause), -1,
	    "a payload that is not an object is refused");
	free(cause);
	json_decref(p);
}

int
main(void)
{
	const char	*modules = getenv("BK_NODE_MODULES");
	const char	*data = getenv("BK_DATA");
	char		*path, line[1024];
	json_t		*index;
	json_error_t	 err;
	FILE		*f;
	int		 lines = 0;

	if (modules == NULL || data == NULL)
		skip_all("BK_NODE_MODULES and BK_DATA are not set "
		    "(run through make check)");
	xasprintf(&path, "%s/@octokit/webhooks-examples/api.github.com/"
	    "index.json", modules);
	if ((index = json_load_file(path, 0, &err)) == NULL) {
		printf("# %s: %s\n", path, err.text);
		skip_all("@octokit/webhooks-examples is not installed "
		    "(npm ci)");
	}
	free(path);
	xasprintf(&path, "%s/ghevent/examples.tsv", data);
	if ((f = fopen(path, "r")) == NULL) {
		ok(0, "open examples.tsv");
		return (done_testing());
	}
	free(path);
	while (fgets(line, sizeof line, f) != NULL) {
		if (line[0] == '#')
			continue;
		check_line(index, line);
		lines++;
	}
	fclose(f);
	ok(lines == 40, "all 40 push, pull_request and ping examples checked");
	json_decref(index);
	check_special_cases();
	return (done_testing());
}
