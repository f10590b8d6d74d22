/*
 * Trust: who may build what, and with which secrets.
 *
 * - Pushes build only the branches a project builds: its
 *   projects.push_branches patterns, else the repository's default branch.
 * - A pull request from a fork is trusted to run only if its author is a
 *   collaborator of the repository, as GitHub says
 *   (GET /repos/OWNER/NAME/collaborators/USER, 204 or 404); the answer
 *   is cached for COLLAB_TTL_MS. Anything else, including GitHub not
 *   answering or no credentials to ask with, is "not known", and the
 *   build waits for an admin: never run a stranger's code on a guess.
 * - A task gets the admin's variables, layered, and secrets only when its
 *   build may have them: not a fork's, unless an admin approved that
 *   build. Every secret of the project is masked in every task's output
 *   whether the task got it or not.
 */

#include "config.h"

#include <sys/queue.h>

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon.h"

#define COLLAB_TTL_MS		(10 * 60 * 1000)
/* 5xx and network errors: about eight minutes of backoff in all. */
#define COLLAB_ATTEMPTS		10

/* Whether a user is a repository's collaborator, as GitHub said lately. */
struct collab {
	char			*repo;
	char			*user;
	int			 yes;
	int64_t			 until;
	LIST_ENTRY(collab)	 entry;
};

/* A question to GitHub, and who waits for its answer. */
struct collab_ask {
	struct trust		*tr;
	char			*repo;
	char			*user;
	uint64_t		 call;
	trust_cb		 cb;
	void			*arg;
	int64_t			 tag;
	LIST_ENTRY(collab_ask)	 entry;
};

struct trust {
	struct ev_loop		*loop;
	struct github		*gh;
	const struct config	**conf;
	LIST_HEAD(, collab)	 collabs;
	LIST_HEAD(, collab_ask)	 asks;
};

static void
collab_free(struct collab *c)
{
	LIST_REMOVE(c, entry);
	free(c->repo);
	free(c->user);
	free(c);
}

static struct collab *
trust_cached(struct trust *tr, const char *repo, const char *user)
{
	struct collab	*c, *next;

	for (c = LIST_FIRST(&tr->collabs); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		if (c->until <= ev_time(tr->loop))
			collab_free(c);
		else if (strcasecmp(c->repo, repo) == 0 &&
		    strcasecmp(c->user, user) == 0)
			return (c);
	}
	return (NULL);
}

static void
collab_ask_free(struct collab_ask *ca)
{
	LIST_REMOVE(ca, entry);
	free(ca->repo);
	free(ca->user);
	free(ca);
}

static void
trust_answered(const struct github_response *gr, void *arg)
{
	struct collab_ask	*ca = arg;
	struct trust		*tr = ca->tr;
	struct collab		*c;
	int			 yes = -1;

	ca->call = 0;
	/* 204: a collaborator; 404: not; anything else: not known. */
	if (gr->status == 204 || gr->status == 404) {
		yes = gr->status == 204;
		c = xcalloc(1, sizeof *c);
		c->repo = xstrdup(ca->repo);
		c->user = xstrdup(ca->user);
		c->yes = yes;
		c->until = ev_time(tr->loop) + COLLAB_TTL_MS;
		LIST_INSERT_HEAD(&tr->collabs, c, entry);
	} else
		log_warn("github: cannot tell whether %s is a collaborator "
		    "of %s: %s", ca->user, ca->repo, gr->cause != NULL ?
		    gr->cause : "unexpected answer");
	ca->cb(yes, ca->arg, ca->tag);
	collab_ask_free(ca);
}

/*
 * Is user a collaborator of repo? 1 or 0 when that is known now (cb is
 * not called); -1 when GitHub is asked, and cb(1, 0 or -1: not known,
 * arg, tag) comes later, unless the trust is freed first.
 */
int
trust_collaborator(struct trust *tr, const char *repo, const char *user,
    trust_cb cb, void *arg, int64_t tag)
{
	struct collab		*c;
	struct collab_ask	*ca;
	struct github_call	 gc;
	char			*path;

	if (user == NULL || !github_enabled(tr->gh))
		return (0);
	if ((c = trust_cached(tr, repo, user)) != NULL)
		return (c->yes);
	ca = xcalloc(1, sizeof *ca);
	ca->tr = tr;
	ca->repo = xstrdup(repo);
	ca->user = xstrdup(user);
	ca->cb = cb;
	ca->arg = arg;
	ca->tag = tag;
	LIST_INSERT_HEAD(&tr->asks, ca, entry);
	xasprintf(&path, "/repos/%s/collaborators/%s", repo, user);
	memset(&gc, 0, sizeof gc);
	gc.repo = repo;
	gc.path = path;
	gc.attempts = COLLAB_ATTEMPTS;
	ca->call = github_call(tr->gh, &gc, trust_answered, ca);
	free(path);
	return (-1);
}

/*
 * Does a push to branch ref of repo build? Returns 0 with *why (the
 * caller's) when it does not.
 */
int
trust_push_builds(const struct config *conf, const char *repo,
    const char *ref, const char *default_branch, char **why)
{
	const struct config_branches	*br;
	size_t				 i, j;

	for (i = 0; i < conf->npush_branches; i++) {
		br = &conf->push_branches[i];
		if (strcasecmp(br->repo, repo) != 0)
			continue;
		for (j = 0; j < br->npatterns; j++) {
			if (fnmatch(br->patterns[j], ref, 0) == 0)
				return (1);
		}
		xasprintf(why, "push to branch %s, which projects.push_branches "
		    "does not build for %s", ref, repo);
		return (0);
	}
	/* A delivery that does not name the default branch: build. */
	if (default_branch == NULL || strcmp(default_branch, ref) == 0)
		return (1);
	xasprintf(why, "push to branch %s: only the default branch (%s) "
	    "builds on push", ref, default_branch);
	return (0);
}

/* May this build's tasks have the project's secrets? */
static int
trust_build_secrets(const struct build *b)
{
	return (!b->fork || (b->approval != NULL &&
	    strcmp(b->approval, "approved") == 0));
}

static int
trust_var_applies(const struct config_var *v, const struct task *t,
    int project, int image)
{
	if ((v->project != NULL) != project || (v->image != NULL) != image)
		return (0);
	if (project && strcasecmp(v->project, t->build->project) != 0)
		return (0);
	if (image && (t->image == NULL || strcmp(v->image, t->image) != 0))
		return (0);
	return (1);
}

/*
 * The admin's variables and secrets for a task, into env, each layer
 * overriding the ones before: the configuration's for every project (for
 * every image, then for the task's image), the stored ones for every
 * project (vars.c), the configuration's for the task's project (every
 * image, then its image), the stored ones for its project. So a value set
 * at run time wins over the file at the same scope, and a project's over
 * a global one. A build that may not have secrets gets none. Every secret
 * of the project, given or not, is added to masks (values borrowed from
 * the config and the stored layer), so no task output shows one.
 */
void
trust_task_vars(const struct config *conf, const struct vars *vs,
    const struct task *t, json_t *env, const char ***masks, size_t *nmasks)
{
	const struct config_var	*v;
	size_t			 i;
	int			 pass, secrets = trust_build_secrets(t->build);

	for (pass = 0; pass < 4; pass++) {
		for (i = 0; i < conf->nvars; i++) {
			v = &conf->vars[i];
			if (!trust_var_applies(v, t, pass >= 2, pass % 2))
				continue;
			if (v->secret && !secrets)
				continue;
			json_object_set_new(env, v->name,
			    json_string(v->value));
		}
		if (pass % 2 == 1)
			vars_apply(vs, pass == 1 ? "" : t->build->project, env,
			    secrets);
	}
	for (i = 0; i < conf->nvars; i++) {
		v = &conf->vars[i];
		if (!v->secret || v->value_len == 0 || (v->project != NULL &&
		    strcasecmp(v->project, t->build->project) != 0))
			continue;
		*masks = xreallocarray(*masks, *nmasks + 1, sizeof **masks);
		(*masks)[(*nmasks)++] = v->value;
	}
	vars_masks(vs, t->build->project, masks, nmasks);
}

struct trust *
trust_create(struct ev_loop *loop, struct github *gh,
    const struct config **conf)
{
	struct trust	*tr;

	tr = xcalloc(1, sizeof *tr);
	tr->loop = loop;
	tr->gh = gh;
	tr->conf = conf;
	LIST_INIT(&tr->collabs);
	LIST_INIT(&tr->asks);
	return (tr);
}

/* Questions still open are dropped: nobody hears. */
void
trust_free(struct trust *tr)
{
	struct collab_ask	*ca;

	if (tr == NULL)
		return;
	while ((ca = LIST_FIRST(&tr->asks)) != NULL) {
		if (ca->call != 0)
			github_cancel(tr->gh, ca->call);
		collab_ask_free(ca);
	}
	while (!LIST_EMPTY(&tr->collabs))
		collab_free(LIST_FIRST(&tr->collabs));
	free(tr);
}
