/*
 * GitHub event normalisation: turns a delivery's JSON payload into what
 * the daemon acts on. A ping names a repository to register as a project;
 * push and pull_request become change records (repository, branch or tag,
 * head SHA, pull request number and action, fork or not, sender) for the
 * build engine; every other event is only recorded.
 *
 * Which changes the build engine acts on is decided here, once: a push
 * that creates or moves a ref, and a pull request opened, synchronized,
 * reopened (a build) or closed (stop its builds). Everything else is kept
 * as an ignored change with the reason, so an operator can see why a
 * delivery built nothing.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon.h"

static const char *ghevent_pr_actions[] = {
	"opened", "synchronize", "reopened", "closed"
};

static const char *
ghevent_str(json_t *obj, const char *path)
{
	json_t		*v = obj;
	const char	*p = path, *dot;
	char		 key[64];

	while (v != NULL && *p != '\0') {
		dot = strchr(p, '.');
		if (dot == NULL)
			dot = p + strlen(p);
		if ((size_t)(dot - p) >= sizeof key)
			return (NULL);
		memcpy(key, p, dot - p);
		key[dot - p] = '\0';
		v = json_is_object(v) ? json_object_get(v, key) : NULL;
		p = *dot == '.' ? dot + 1 : dot;
	}
	return (json_is_string(v) ? json_string_value(v) : NULL);
}

static char *
ghevent_dup(json_t *obj, const char *path)
{
	const char	*s = ghevent_str(obj, path);

	return (s != NULL ? xstrdup(s) : NULL);
}

static int
ghevent_is_zero_sha(const char *sha)
{
	if (sha == NULL || *sha == '\0')
		return (1);
	return (strspn(sha, "0") == strlen(sha));
}

static int
ghevent_repo(json_t *payload, struct ghevent *ev, char **cause)
{
	struct change	*c = &ev->change;
	json_t		*inst;

	if ((c->repo = ghevent_dup(payload, "repository.full_name")) == NULL) {
		*cause = xstrdup("payload has no repository.full_name");
		return (-1);
	}
	c->clone_url = ghevent_dup(payload, "repository.clone_url");
	c->html_url = ghevent_dup(payload, "repository.html_url");
	c->sender = ghevent_dup(payload, "sender.login");
	c->default_branch = ghevent_dup(payload, "repository.default_branch");
	inst = json_object_get(json_object_get(payload, "installation"), "id");
	if (json_is_integer(inst) && json_integer_value(inst) > 0)
		c->installation = json_integer_value(inst);
	return (0);
}

static int
ghevent_push(json_t *payload, struct ghevent *ev, char **cause)
{
	struct change	*c = &ev->change;
	const char	*ref, *after;
	json_t		*deleted;

	c->event = "push";
	if (ghevent_repo(payload, ev, cause) != 0)
		return (-1);
	if ((ref = ghevent_str(payload, "ref")) == NULL) {
		*cause = xstrdup("push payload has no ref");
		return (-1);
	}
	if (strncmp(ref, "refs/heads/", 11) == 0) {
		c->ref_type = "branch";
		c->ref = xstrdup(ref + 11);
	} else if (strncmp(ref, "refs/tags/", 10) == 0) {
		c->ref_type = "tag";
		c->ref = xstrdup(ref + 10);
	} else {
		*cause = NULL;
		xasprintf(cause, "push to '%s', neither a branch nor a tag",
		    ref);
		return (-1);
	}
	after = ghevent_str(payload, "after");
	c->sha = after != NULL ? xstrdup(after) : NULL;

	/* A deleted ref has an all-zero after (and no head commit). */
	deleted = json_object_get(payload, "deleted");
	if (json_is_true(deleted) || ghevent_is_zero_sha(after)) {
		c->deleted = 1;
		c->state = "ignored";
		c->reason = strcmp(c->ref_type, "tag") == 0 ?
		    "tag deleted" : "branch deleted";
		return (0);
	}
	c->state = "queued";
	return (0);
}

static int
ghevent_pull_request(json_t *payload, struct ghevent *ev, char **cause)
{
	struct change	*c = &ev->change;
	json_t		*pr, *number, *headrepo;
	const char	*action, *head_full, *base_full;
	size_t		 i;

	c->event = "pull_request";
	if (ghevent_repo(payload, ev, cause) != 0)
		return (-1);
	pr = json_object_get(payload, "pull_request");
	number = json_object_get(payload, "number");
	if (!json_is_integer(number))
		number = pr != NULL ? json_object_get(pr, "number") : NULL;
	if (!json_is_object(pr) || !json_is_integer(number) ||
	    json_integer_value(number) <= 0) {
		*cause = xstrdup("pull_request payload has no pull_request "
		    "object or number");
		return (-1);
	}
	if ((action = ghevent_str(payload, "action")) == NULL) {
		*cause = xstrdup("pull_request payload has no action");
		return (-1);
	}
	c->pr = json_integer_value(number);
	c->action = xstrdup(action);
	c->ref_type = "branch";
	c->ref = ghevent_dup(pr, "head.ref");
	c->base_ref = ghevent_dup(pr, "base.ref");
	c->sha = ghevent_dup(pr, "head.sha");
	if (c->sha == NULL) {
		*cause = xstrdup("pull_request payload has no head.sha");
		return (-1);
	}

	/*
	 * A head in another repository is a fork, and so is a head whose
	 * repository has been deleted: neither may see this project's
	 * secrets without an admin's approval.
	 */
	headrepo = json_object_get(json_object_get(pr, "head"), "repo");
	head_full = ghevent_str(pr, "head.repo.full_name");
	base_full = ghevent_str(pr, "base.repo.full_name");
	if (headrepo == NULL || json_is_null(headrepo) || head_full == NULL)
		c->fork = 1;
	else
		c->fork = base_full == NULL || strcmp(head_full,
		    base_full) != 0;

	c->state = "ignored";
	c->reason = "pull request action that builds nothing";
	for (i = 0; i < nitems(ghevent_pr_actions); i++) {
		if (strcmp(action, ghevent_pr_actions[i]) == 0) {
			c->state = "queued";
			c->reason = NULL;
		}
	}
	return (0);
}

static int
ghevent_ping(json_t *payload, struct ghevent *ev, char **cause)
{
	/* An organization's hook pings without a repository. */
	ev->repo = ghevent_dup(payload, "repository.full_name");
	ev->clone_url = ghevent_dup(payload, "repository.clone_url");
	ev->html_url = ghevent_dup(payload, "repository.html_url");
	return (0);
}

/*
 * Normalise one payload. Returns 0 and fills ev, or -1 with *cause saying
 * what the payload lacks (the delivery is then kept as failed).
 */
int
ghevent_normalise(const char *event, json_t *payload, struct ghevent *ev,
    char **cause)
{
	int	 rv;

	memset(ev, 0, sizeof *ev);
	*cause = NULL;
	if (!json_is_object(payload)) {
		*cause = xstrdup("payload is not a JSON object");
		return (-1);
	}
	if (strcmp(event, "ping") == 0) {
		ev->kind = GHEVENT_PING;
		rv = ghevent_ping(payload, ev, cause);
	} else if (strcmp(event, "push") == 0) {
		ev->kind = GHEVENT_CHANGE;
		rv = ghevent_push(payload, ev, cause);
	} else if (strcmp(event, "pull_request") == 0) {
		ev->kind = GHEVENT_CHANGE;
		rv = ghevent_pull_request(payload, ev, cause);
	} else {
		ev->kind = GHEVENT_OTHER;
		rv = 0;
	}
	if (rv != 0)
		ghevent_release(ev);
	return (rv);
}

void
ghevent_release(struct ghevent *ev)
{
	struct change	*c = &ev->change;

	free(ev->repo);
	free(ev->clone_url);
	free(ev->html_url);
	free(c->repo);
	free(c->clone_url);
	free(c->html_url);
	free(c->ref);
	free(c->base_ref);
	free(c->sha);
	free(c->action);
	free(c->sender);
	free(c->default_branch);
	memset(ev, 0, sizeof *ev);
}
