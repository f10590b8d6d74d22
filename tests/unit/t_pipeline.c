/*
 * beekeeper.yml: every file under tests/data/pipeline planned for every
 * event it names and compared with its expected plan or error, then what
 * is easier to build than to store: the size limit, the structures behind
 * a printed plan, the event names.
 *
 * corpus/ and good/: NAME.yml with NAME.EVENT.plan for each event whose
 * plan is not empty; an event without a plan file must plan nothing.
 * bad/: NAME.yml, planned for push, and NAME.expect: its first line is
 * the start of the error ("beekeeper.yml:LINE:COLUMN:"), each further line
 * a string the error must contain.
 */

#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "tap.h"

#define FILE_NAME	"beekeeper.yml"

static const enum pipeline_event events[] = {
	PIPELINE_PUSH, PIPELINE_PULL_REQUEST, PIPELINE_TAG
};

static char *
slurp(const char *path, size_t *lenp)
{
	char	*text, *cause = NULL;

	if ((text = util_read_file(path, 4 * 1024 * 1024, lenp, &cause)) ==
	    NULL) {
		printf("# %s\n", cause);
		free(cause);
	}
	return (text);
}

static char *
plan_text(const struct pipeline *pl)
{
	char	*s;
	size_t	 len;
	FILE	*f;

	if ((f = open_memstream(&s, &len)) == NULL)
		exit(1);
	pipeline_print(pl, f);
	fclose(f);
	return (s);
}

/* Print both texts as TAP comments when they differ. */
static void
show(const char *label, const char *s)
{
	const char	*nl;

	printf("#   %s:\n", label);
	while (*s != '\0') {
		nl = strchr(s, '\n');
		printf("#     %.*s\n", nl != NULL ? (int)(nl - s) :
		    (int)strlen(s), s);
		s = nl != NULL ? nl + 1 : s + strlen(s);
	}
}

static struct pipeline *
plan_file(const char *path, enum pipeline_event event, char **cause)
{
	struct pipeline	*pl;
	char		*text;
	size_t		 len;

	if ((text = slurp(path, &len)) == NULL) {
		*cause = xstrdup("unreadable");
		return (NULL);
	}
	pl = pipeline_parse(FILE_NAME, text, len, event, cause);
	free(text);
	return (pl);
}

static int
yml_filter(const struct dirent *d)
{
	size_t	 len = strlen(d->d_name);

	return (len > 4 && strcmp(d->d_name + len - 4, ".yml") == 0);
}

/* Each case of a directory, in name order, with the .yml cut off. */
static char **
cases(const char *dir, int *n)
{
	struct dirent	**list;
	char		**names;
	int		  i;

	if ((*n = scandir(dir, &list, yml_filter, alphasort)) < 0) {
		printf("# %s: cannot read\n", dir);
		*n = 0;
		return (NULL);
	}
	names = xcalloc(*n + 1, sizeof *names);
	for (i = 0; i < *n; i++) {
		names[i] = xstrndup(list[i]->d_name,
		    strlen(list[i]->d_name) - 4);
		free(list[i]);
	}
	free(list);
	return (names);
}

static void
check_plan(const char *dir, const char *name, enum pipeline_event event)
{
	struct pipeline	*pl;
	char		*yml, *planfile, *want, *got, *cause = NULL;
	char		 label[256];
	size_t		 len;
	FILE		*f;

	xasprintf(&yml, "%s/%s.yml", dir, name);
	xasprintf(&planfile, "%s/%s.%s.plan", dir, name,
	    pipeline_event_name(event));
	/* A file without tag: runs push: for tags, as the original did. */
	if (event == PIPELINE_TAG && access(planfile, R_OK) != 0) {
		free(planfile);
		xasprintf(&planfile, "%s/%s.push.plan", dir, name);
	}
	snprintf(label, sizeof label, "%s %s", name,
	    pipeline_event_name(event));
	pl = plan_file(yml, event, &cause);
	if (!ok(pl != NULL, label)) {
		printf("#   %s\n", cause);
		goto out;
	}
	if ((f = fopen(planfile, "r")) == NULL) {
		if (!ok(pl->nphases == 0, "  no plan file: plans nothing")) {
			got = plan_text(pl);
			show("got", got);
			free(got);
		}
		goto out;
	}
	fclose(f);
	want = slurp(planfile, &len);
	got = plan_text(pl);
	if (!ok(want != NULL && strcmp(got, want) == 0,
	    "  plan as expected")) {
		show("want", want != NULL ? want : "");
		show("got", got);
	}
	free(want);
	free(got);

out:
	pipeline_free(pl);
	free(cause);
	free(yml);
	free(planfile);
}

static int
check_good_dir(const char *sub)
{
	char	*dir, **names;
	size_t	 e;
	int	 i, n;

	xasprintf(&dir, "%s/pipeline/%s", getenv("BK_DATA"), sub);
	names = cases(dir, &n);
	ok(n > 0, sub);
	for (i = 0; i < n; i++) {
		for (e = 0; e < nitems(events); e++)
			check_plan(dir, names[i], events[e]);
		free(names[i]);
	}
	free(names);
	free(dir);
	return (n);
}

static void
check_error(const char *dir, const char *name)
{
	struct pipeline	*pl;
	char		*yml, *expect, *want, *line, *p, *cause = NULL;
	size_t		 len;
	int		 good;

	xasprintf(&yml, "%s/%s.yml", dir, name);
	xasprintf(&expect, "%s/%s.expect", dir, name);
	pl = plan_file(yml, PIPELINE_PUSH, &cause);
	if ((want = slurp(expect, &len)) == NULL) {
		ok(0, name);
		goto out;
	}
	p = want;
	line = strsep(&p, "\n");
	good = pl == NULL && cause != NULL && *line != '\0' &&
	    strncmp(cause, line, strlen(line)) == 0;
	while (good && (line = strsep(&p, "\n")) != NULL) {
		if (*line != '\0' && strstr(cause, line) == NULL)
			good = 0;
	}
	if (!ok(good, name)) {
		printf("#   got '%s'\n", cause != NULL ? cause : "a plan");
		show("want", want);
	}
	free(want);

out:
	pipeline_free(pl);
	free(cause);
	free(yml);
	free(expect);
}

static int
check_bad_dir(void)
{
	char	*dir, **names;
	int	 i, n;

	xasprintf(&dir, "%s/pipeline/bad", getenv("BK_DATA"));
	names = cases(dir, &n);
	ok(n > 0, "bad");
	for (i = 0; i < n; i++) {
		check_error(dir, names[i]);
		free(names[i]);
	}
	free(names);
	free(dir);
	return (n);
}

/* A plan's structures, beyond what the printed text shows. */
static void
check_structures(void)
{
	struct pipeline			*pl, *pl2;
	const struct pipeline_task	*t;
	char				*path, *cause = NULL;

	xasprintf(&path, "%s/pipeline/corpus/toga.yml", getenv("BK_DATA"));
	pl = plan_file(path, PIPELINE_PULL_REQUEST, &cause);
	ok(pl != NULL && cause == NULL, "toga pull_request: no cause");
	is_int(pl->nphases, 3, "  three phases");
	is_str(pl->phases[2].name, "implementations",
	    "  phase name is its key");
	is_int(pl->phases[2].ntasks, 6, "  six implementations");
	t = &pl->phases[2].tasks[1];
	is_str(t->slug, "implementations:winforms", "  slug");
	is_str(t->phase, "implementations", "  phase of the task");
	is_str(t->image, "pybee/py36", "  image inherited from the phase");
	ok(t->run == NULL, "  no run");
	is_int(t->timeout_ms, 0, "  no timeout: the profile's");
	is_int(t->nenv, 3, "  three variables");
	is_str(t->env[0].name, "EXTRA_REQUIRES", "  in file order");
	is_int(t->line, 40, "  line");
	is_int(t->column, 15, "  column");
	pipeline_free(pl);

	pl = plan_file(path, PIPELINE_TAG, &cause);
	pl2 = plan_file(path, PIPELINE_PUSH, &cause);
	ok(pl != NULL && pl2 != NULL && pl->nphases == pl2->nphases &&
	    pl->nphases > 0 && strcmp(pl->phases[0].tasks[0].slug,
	    pl2->phases[0].tasks[0].slug) == 0,
	    "toga has no tag: pipeline, so a tag runs push:, as in 2017");
	pipeline_free(pl);
	pipeline_free(pl2);
	free(path);

	xasprintf(&path, "%s/pipeline/good/run-timeout.yml",
	    getenv("BK_DATA"));
	pl = plan_file(path, PIPELINE_PUSH, &cause);
	ok(pl != NULL, "run-timeout push");
	is_int(pl->phases[0].tasks[0].timeout_ms, 90000, "  90s");
	ok(pl->phases[0].tasks[0].image == NULL, "  run without an image");
	is_int(pl->phases[1].tasks[1].timeout_ms, 3600000,
	    "  1h inherited from the phase");
	is_int(pl->phases[1].tasks[2].timeout_ms, 1500, "  1500ms");
	pipeline_free(pl);
	free(path);
}

/* A file of exactly len bytes: a small pipeline padded with a comment. */
static char *
padded(size_t len)
{
	static const char	 head[] = "push:\n  - t:\n      image: x\n#";
	char			*s;

	s = xmalloc(len + 1);
	memset(s, 'x', len);
	memcpy(s, head, sizeof head - 1);
	s[len - 1] = '\n';
	s[len] = '\0';
	return (s);
}

static void
check_limits(void)
{
	struct pipeline		*pl;
	enum pipeline_event	 e;
	char			*s, *cause = NULL;

	pipeline_free(NULL);
	ok(1, "pipeline_free(NULL) does nothing");

	s = padded(1024 * 1024);
	pl = pipeline_parse(FILE_NAME, s, 1024 * 1024, PIPELINE_PUSH, &cause);
	ok(pl != NULL && pl->nphases == 1, "a file of exactly 1 MiB is read");
	pipeline_free(pl);
	free(s);

	s = padded(1024 * 1024 + 1);
	pl = pipeline_parse(FILE_NAME, s, 1024 * 1024 + 1, PIPELINE_PUSH,
	    &cause);
	ok(pl == NULL, "a file of 1 MiB and a byte is refused");
	like(cause, "beekeeper.yml:1:1: larger than 1 MiB",
	    "  with its reason");
	free(cause);
	free(s);

	pl = pipeline_parse(FILE_NAME, "push:\n  - t: {run: x}\n: [", 22,
	    PIPELINE_PUSH, &cause);
	ok(pl != NULL, "text is read to its length, not to a NUL");
	pipeline_free(pl);

	ok(pipeline_event_parse("push", &e) == 0 && e == PIPELINE_PUSH,
	    "event push");
	ok(pipeline_event_parse("pull_request", &e) == 0 &&
	    e == PIPELINE_PULL_REQUEST, "event pull_request");
	ok(pipeline_event_parse("tag", &e) == 0 && e == PIPELINE_TAG,
	    "event tag");
	ok(pipeline_event_parse("pre_commit", &e) == -1, "unknown event");
	is_str(pipeline_event_name(PIPELINE_PULL_REQUEST), "pull_request",
	    "event name");
}

int
main(void)
{
	int	 n;

	if (getenv("BK_DATA") == NULL)
		skip_all("BK_DATA is not set (make check sets it)");

	n = check_good_dir("corpus");
	is_int(n, 9, "the nine corpus files");
	check_good_dir("good");
	check_bad_dir();
	check_structures();
	check_limits();
	return (done_testing());
}
