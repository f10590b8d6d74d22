/*
 * The projects view: the repositories the daemon knows, those awaiting
 * approval first. A row's key is the repository ("owner/name"): F7
 * approves it, F8 rejects it.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tui.h"

static int
projects_rank(const json_t *p)
{
	const char	*s = json_text(p, "state");

	if (s != NULL && strcmp(s, "pending") == 0)
		return (0);
	if (s != NULL && strcmp(s, "approved") == 0)
		return (1);
	return (2);
}

static int
projects_cmp(const void *a, const void *b)
{
	const json_t	*x = *(const json_t *const *)a;
	const json_t	*y = *(const json_t *const *)b;
	const char	*rx = json_text(x, "repo"), *ry = json_text(y, "repo");

	if (projects_rank(x) != projects_rank(y))
		return (projects_rank(x) - projects_rank(y));
	return (strcmp(rx != NULL ? rx : "", ry != NULL ? ry : ""));
}

void
view_projects_rows(struct console *c, struct rows *r, int width)
{
	json_t		**projects, *p;
	const char	*repo, *state;
	size_t		 n, i, nb;
	json_t		**builds;
	size_t		 j, count;

	rows_columns(r, "%-40s %-10s %6s", "PROJECT", "STATE", "BUILDS");
	n = model_list(c->model, MODEL_PROJECTS, &projects);
	nb = model_list(c->model, MODEL_BUILDS, &builds);
	qsort(projects, n, sizeof *projects, projects_cmp);
	for (i = 0; i < n; i++) {
		p = projects[i];
		if ((repo = json_text(p, "repo")) == NULL)
			continue;
		state = json_text(p, "state");
		for (count = 0, j = 0; j < nb; j++) {
			if (json_text(builds[j], "project") != NULL &&
			    strcmp(json_text(builds[j], "project"), repo) == 0)
				count++;
		}
		rows_add(r, repo, role_of_state(state),
		    "%-40.40s %-10s %6zu", repo,
		    state != NULL ? state : "-", count);
	}
	free(projects);
	free(builds);
	(void)width;
}
