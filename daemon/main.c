/*
 * beekeeperd: start-up, the pid file lock, signals and shutdown. Wires the
 * modules together around one event loop and owns the running
 * configuration, which SIGHUP replaces as a whole when the new file is
 * good (modules read it through a pointer to the pointer, so a reload
 * reaches them without a notification).
 *
 * Order at start matters: everything that can fail because of the
 * operator's files (config, pid lock, store, listening socket) is tried
 * before detaching, so the error reaches the terminal. The store is then
 * closed and opened again in the detached process, because SQLite's locks
 * do not survive fork().
 */

#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon.h"

#define STOP_GRACE_MS	5000

struct beekeeperd {
	struct ev_loop		*loop;
	struct config		*conf;
	struct db		*db;
	struct intake		*intake;
	struct httpd		*httpd;
	struct webhook		*webhook;
	struct engine		*engine;
	struct github		*github;
	struct bus		*bus;
	struct web		*web;
	struct metrics		*metrics;
	char			*db_path;
	char			*pid_path;	/* the one locked */
	int			 pid_fd;
	int			 stopping;
	struct ev_timer		*stop_timer;
};

static __dead void
usage(void)
{
	fprintf(stderr, "usage: beekeeperd [-dnRv] [-f file]\n");
	exit(1);
}

/*
 * The pid file is also the lock that keeps a second daemon off the same
 * state: flock() is held by the open descriptor, which the detached
 * child inherits, and dies with the process, so a crash leaves no stale
 * lock behind.
 */
static int
pidfile_lock(const char *path, char **cause)
{
	char	 old[32];
	ssize_t	 n;
	int	 fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		n = read(fd, old, sizeof old - 1);
		old[n > 0 ? n : 0] = '\0';
		old[strcspn(old, "\n")] = '\0';
		xasprintf(cause, "%s: another beekeeperd (pid %s) is running "
		    "with this state", path, *old != '\0' ? old : "unknown");
		close(fd);
		return (-1);
	}
	return (fd);
}

static void
pidfile_write(int fd)
{
	char	 line[32];
	int	 len;

	len = snprintf(line, sizeof line, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, line, len, 0) != len)
		log_warn("pid file: %s", strerror(errno));
}

static void
health_end(struct httpd_req *req, void *arg)
{
	struct beekeeperd	*bk = arg;

	if (bk->stopping)
		httpd_respond(req, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "503 stopping");
	else if (!intake_healthy(bk->intake))
		httpd_respond(req, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "503 store unavailable: %s", db_error(bk->db));
	else
		httpd_respond(req, MHD_HTTP_OK, "ok");
}

static const struct httpd_route health_route = {
	.path = "/healthz",
	.methods = "GET HEAD",
	.end = health_end,
};

static void
stop_now(struct ev_loop *loop, void *arg)
{
	struct beekeeperd	*bk = arg;

	bk->stop_timer = NULL;
	log_warn("stopping with %u requests still open",
	    httpd_inflight(bk->httpd));
	ev_stop(loop);
}

/* Stop once every request under way has been answered. */
static void
stop_when_idle(struct ev_loop *loop, void *arg)
{
	struct beekeeperd	*bk = arg;

	if (bk->stopping && httpd_inflight(bk->httpd) == 0)
		ev_stop(loop);
}

static void
on_stop_signal(struct ev_loop *loop, int signo, void *arg)
{
	struct beekeeperd	*bk = arg;

	if (bk->stopping) {
		log_info("second %s: stopping now", strsignal(signo));
		ev_stop(loop);
		return;
	}
	log_info("%s: stopping", strsignal(signo));
	bk->stopping = 1;
	httpd_quiesce(bk->httpd);
	bk->stop_timer = ev_timer_add(loop, STOP_GRACE_MS, stop_now, bk);
}

/*
 * A public_url derived from listen names the port actually bound, so a
 * daemon on port 0 (tests, the demo) gives tasks a CODE_URL that works.
 */
static void
public_url_fix(struct beekeeperd *bk, struct config *conf)
{
	if (!conf->public_url_derived)
		return;
	free(conf->public_url);
	xasprintf(&conf->public_url, "http://%s", httpd_address(bk->httpd));
}

/* The bus's "github" object: what GitHub reporting looks like now. */
static json_t *
github_state(void *arg)
{
	struct beekeeperd	*bk = arg;
	int64_t			 remaining, reset_at, held_until;

	github_limits(bk->github, &remaining, &reset_at, &held_until);
	return (json_pack("{s:s, s:b, s:I, s:o, s:o, s:o}",
	    "name", "github", "enabled", github_enabled(bk->github),
	    "backlog", (json_int_t)engine_report_backlog(bk->engine),
	    "ratelimit_remaining", remaining >= 0 ? json_integer(remaining) :
	    json_null(),
	    "ratelimit_reset", reset_at > 0 ? json_integer(reset_at) :
	    json_null(),
	    "held_until", held_until > 0 ? json_integer(held_until) :
	    json_null()));
}

static int
reload_changed(const char *key, const char *old, const char *new)
{
	if (strcmp(old, new) == 0)
		return (0);
	log_warn("reload: %s changed from %s to %s; restart beekeeperd to "
	    "apply it", key, old, new);
	return (1);
}

static void
on_reload_signal(struct ev_loop *loop, int signo, void *arg)
{
	struct beekeeperd	*bk = arg;
	struct config		*conf, *old;
	char			*cause = NULL;

	if ((conf = config_load(bk->conf->path, &cause)) == NULL) {
		log_error("reload: %s; keeping the running configuration",
		    cause);
		free(cause);
		return;
	}
	reload_changed("listen", bk->conf->listen, conf->listen);
	reload_changed("state_dir", bk->conf->state_dir, conf->state_dir);
	reload_changed("pid_file", bk->conf->pid_file, conf->pid_file);
	reload_changed("bus.publish", bk->conf->bus_publish, conf->bus_publish);
	reload_changed("bus.control", bk->conf->bus_control, conf->bus_control);
	/* The clients file is read again; the daemon's own key is not. */
	reload_changed("bus.curve_secret_key_file",
	    bk->conf->bus_curve_key_file != NULL ?
	    bk->conf->bus_curve_key_file : "(none)",
	    conf->bus_curve_key_file != NULL ? conf->bus_curve_key_file :
	    "(none)");
	public_url_fix(bk, conf);
	old = bk->conf;
	bk->conf = conf;
	if (github_reload(bk->github, &cause) != 0) {
		log_error("reload: github.app_key_file: %s; keeping the "
		    "running configuration", cause);
		free(cause);
		bk->conf = old;
		config_free(conf);
		github_reload(bk->github, &cause);
		return;
	}
	config_free(old);
	engine_config_changed(bk->engine);
	log_info("reload: configuration read from %s", conf->path);
}

static int
state_dir_prepare(const char *dir, char **cause)
{
	struct stat	 sb;

	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		xasprintf(cause, "state_dir %s: %s", dir, strerror(errno));
		return (-1);
	}
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		xasprintf(cause, "state_dir %s: not a directory", dir);
		return (-1);
	}
	return (0);
}

int
main(int argc, char **argv)
{
	struct beekeeperd	 bk;
	const char		*file = BEEKEEPERD_CONF;
	char			*cause = NULL, *abs = NULL;
	int			 ch, debug = 0, check = 0, reap = 0, verbose = 0;
	int			 rc;

	while ((ch = getopt(argc, argv, "df:nRv")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'R':
			reap = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	/*
	 * A sweep run from cron says only what went wrong: AWS's retries
	 * are for -v, or every throttled call would mail someone.
	 */
	log_init("beekeeperd", 1, (reap ? LOG_LEVEL_WARN : LOG_LEVEL_INFO) +
	    verbose);
	memset(&bk, 0, sizeof bk);
	/* Detaching changes to /: SIGHUP must find the same file. */
	if (!check && !reap && *file != '/') {
		if ((abs = realpath(file, NULL)) == NULL)
			fatal("%s", file);
		file = abs;
	}
	bk.pid_fd = -1;
	if ((bk.conf = config_load(file, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		exit(1);
	}
	/* -R: the sweep of expired leases, then exit; -n makes it a dry run. */
	if (reap) {
		rc = reap_main(bk.conf, check);
		config_free(bk.conf);
		exit(rc);
	}
	if (check) {
		config_print(bk.conf, stdout);
		config_free(bk.conf);
		exit(0);
	}

	if (state_dir_prepare(bk.conf->state_dir, &cause) != 0 ||
	    (bk.pid_fd = pidfile_lock(bk.conf->pid_file, &cause)) == -1)
		fatalx("%s", cause);
	bk.pid_path = xstrdup(bk.conf->pid_file);
	xasprintf(&bk.db_path, "%s/beekeeper.db", bk.conf->state_dir);
	if ((bk.db = db_create(bk.db_path, &cause)) == NULL)
		fatalx("store: %s", cause);

	bk.loop = ev_create();
	bk.httpd = httpd_create(bk.loop, bk.conf->listen_host,
	    bk.conf->listen_port, &cause);
	if (bk.httpd == NULL)
		fatalx("%s", cause);
	public_url_fix(&bk, bk.conf);

	if (!debug) {
		db_free(bk.db);
		if (daemon(0, 0) != 0)
			fatal("daemon");
		log_init("beekeeperd", 0, LOG_LEVEL_INFO + verbose);
		if ((bk.db = db_create(bk.db_path, &cause)) == NULL)
			fatalx("store: %s", cause);
	}
	pidfile_write(bk.pid_fd);
	signal(SIGPIPE, SIG_IGN);
	if (ev_signal_add(bk.loop, SIGTERM, on_stop_signal, &bk) != 0 ||
	    ev_signal_add(bk.loop, SIGINT, on_stop_signal, &bk) != 0 ||
	    ev_signal_add(bk.loop, SIGHUP, on_reload_signal, &bk) != 0)
		fatal("signals");

	bk.intake = intake_create(bk.loop, bk.db,
	    (const struct config **)&bk.conf);
	if (intake_resume(bk.intake) < 0)
		fatalx("store: cannot process stored deliveries: %s",
		    db_error(bk.db));
	if ((bk.github = github_create(bk.loop,
	    (const struct config **)&bk.conf, &cause)) == NULL)
		fatalx("github: %s", cause);
	bk.engine = engine_create(bk.loop, bk.db,
	    (const struct config **)&bk.conf, bk.github, &cause);
	if (bk.engine == NULL)
		fatalx("%s", cause);
	if ((bk.bus = bus_create(bk.loop, bk.db, bk.engine,
	    (const struct config **)&bk.conf, &cause)) == NULL)
		fatalx("%s", cause);
	bus_on_github(bk.bus, github_state, &bk);
	engine_config_changed(bk.engine);
	intake_on_commit(bk.intake, engine_wake, bk.engine);
	if (engine_resume(bk.engine) != 0)
		fatalx("store: cannot resume builds: %s", db_error(bk.db));
	bk.webhook = webhook_create(bk.loop, bk.httpd, bk.intake,
	    (const struct config **)&bk.conf);
	httpd_route(bk.httpd, &health_route, &bk);
	bk.web = web_create(bk.httpd, bk.engine, bk.db,
	    (const struct config **)&bk.conf);
	bk.metrics = metrics_create(bk.httpd, bk.db, bk.engine, bk.github,
	    bk.bus);
	ev_before_sleep(bk.loop, stop_when_idle, &bk);

	log_info("listening on %s (pid %ld, state in %s)",
	    httpd_address(bk.httpd), (long)getpid(), bk.conf->state_dir);
	if (ev_run(bk.loop) != 0)
		log_error("event loop failed");

	intake_flush(bk.intake);
	ev_timer_del(bk.stop_timer);
	httpd_free(bk.httpd);
	webhook_free(bk.webhook);
	web_free(bk.web);
	metrics_free(bk.metrics);
	intake_free(bk.intake);
	bus_free(bk.bus);
	engine_free(bk.engine);
	github_free(bk.github);
	db_free(bk.db);
	unlink(bk.pid_path);
	close(bk.pid_fd);
	log_info("stopped");
	free(bk.pid_path);
	free(bk.db_path);
	config_free(bk.conf);
	ev_free(bk.loop);
	free(abs);
	return (0);
}
