/*
 * beekeeper reap: the sweep, for cron, of the EC2 instances whose lease
 * ran out because their daemon died. The tool never links the daemon's
 * AWS client and config parser, so it runs the daemon's binary in its
 * sweep mode, beekeeperd -R, in its own place: the output, the exit
 * status and the errors are beekeeperd's.
 *
 * beekeeperd is looked for as $BEEKEEPERD, beside this binary (a build
 * tree has both at its top), in the sbindir it was configured with
 * (installed, this binary is in bindir), then in PATH.
 */

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"

#ifndef SBINDIR
#define SBINDIR		"/usr/local/sbin"
#endif

/* What a person reads when no beekeeperd is found, or it will not run. */
static void
reap_not_found(const char *self_dir)
{
	fprintf(stderr, "beekeeper: reap: cannot find beekeeperd, which does "
	    "the sweep: it is not in %s%s%s, nor in PATH; set BEEKEEPERD to "
	    "its path\n", self_dir != NULL ? self_dir : "",
	    self_dir != NULL ? " or " : "", SBINDIR);
}

/* The directory of the running binary, or NULL; the caller frees it. */
static char *
reap_self_dir(void)
{
	char	 path[PATH_MAX], *slash;
	ssize_t	 len;

	len = readlink("/proc/self/exe", path, sizeof path - 1);
	if (len <= 0)
		return (NULL);
	path[len] = '\0';
	if ((slash = strrchr(path, '/')) == NULL)
		return (NULL);
	*slash = '\0';
	return (xstrdup(*path != '\0' ? path : "/"));
}

int
cmd_reap(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const char			*file = NULL, *env, *av[6];
	char				*dir, *path = NULL;
	int				 ch, n = 0, dry_run = 0;

	while ((ch = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			file = optarg;
			break;
		case 'n':
			dry_run = 1;
			break;
		default:
			cmd_usage("reap");
			return (2);
		}
	}
	if (optind != argc) {
		cmd_usage("reap");
		return (2);
	}

	av[n++] = "beekeeperd";
	av[n++] = "-R";
	if (dry_run)
		av[n++] = "-n";
	if (file != NULL) {
		av[n++] = "-f";
		av[n++] = file;
	}
	av[n] = NULL;

	/* Set, it is the one: a wrong path is said, not looked past. */
	if ((env = getenv("BEEKEEPERD")) != NULL && *env != '\0') {
		execv(env, (char *const *)av);
		fprintf(stderr, "beekeeper: reap: BEEKEEPERD=%s: %s\n", env,
		    strerror(errno));
		return (1);
	}
	dir = reap_self_dir();
	if (dir != NULL) {
		xasprintf(&path, "%s/beekeeperd", dir);
		if (access(path, X_OK) != 0) {
			free(path);
			path = NULL;
		}
	}
	if (path == NULL && access(SBINDIR "/beekeeperd", X_OK) == 0)
		path = xstrdup(SBINDIR "/beekeeperd");
	if (path != NULL)
		execv(path, (char *const *)av);
	else
		execvp("beekeeperd", (char *const *)av);
	if (path == NULL && errno == ENOENT) {
		reap_not_found(dir);
		free(dir);
		return (1);
	}
	fprintf(stderr, "beekeeper: reap: %s: %s\n", path != NULL ? path :
	    "beekeeperd", strerror(errno));
	free(path);
	free(dir);
	return (1);
}
