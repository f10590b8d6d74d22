/*
 * beekeeperd's one internal header: the structures shared between the
 * daemon's modules and their prototypes, grouped by file.
 */

#ifndef DAEMON_H
#define DAEMON_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <yaml.h>

#include "common.h"

#define BEEKEEPERD_CONF		"/etc/beekeeper/beekeeperd.yml"
#define DELIVERY_ID_MAX		64
#define EVENT_NAME_MAX		64

struct ev_loop;
struct build;
struct task;
struct db;
struct httpd;
struct intake;

/* config.c */
struct profile {
	char		*name;
	char		*driver;
	u_int		 slots;
	u_int		 min;
	u_int		 max;
	uint64_t	 idle_timeout_ms;
	uint64_t	 task_timeout_ms;

	/* driver aws: what each instance is, and how it is watched. */
	char		*instance_type;
	char		*ami;
	char		*subnet;
	char		**security_groups;	/* NULL-ended, or NULL */
	char		*iam_profile;		/* a name or an ARN */
	char		*key_name;
	int		 spot;
	int		 spot_fallback;		/* on-demand when spot fails */
	char		*spot_max_price;	/* USD/hour as text, or NULL */
	uint64_t	 boot_timeout_ms;
	u_int		 memory_mb;		/* reserved per task */
	char		*image;			/* a task's, if it has none */
	u_int		 breaker_failures;	/* failed launches in a row */
	uint64_t	 breaker_backoff_ms;	/* the first pause */
};
/* aws.prices and aws.spot_prices: instance type to USD per hour. */
struct config_price {
	char		*type;
	double		 usd_hour;
};
/* variables: and secrets: entries, layered by project and image. */
struct config_var {
	char		*name;
	char		*value;		/* a secret's: read from file, wiped */
	size_t		 value_len;
	char		*file;		/* secrets only */
	char		*project;	/* NULL: every project */
	char		*image;		/* NULL: every task */
	int		 secret;
};
/* projects.push_branches: a repository and its fnmatch(3) patterns. */
struct config_branches {
	char		*repo;
	char		**patterns;
	size_t		 npatterns;
};
struct bus_keys;

struct config {
	char		*path;
	char		*listen;
	char		*listen_host;
	char		*listen_port;
	char		*public_url;
	int		 public_url_derived; /* from listen, not set */
	char		*state_dir;
	char		*pid_file;
	char		*webhook_secret_file;
	int		 legacy_signatures;
	uint64_t	 max_delivery_size;
	int		 auto_approve;
	struct profile	*profiles;
	size_t		 nprofiles;

	/* github: the API, and how the daemon authenticates to it. */
	char		*github_api_url;
	char		*github_token_file;
	char		*github_app_id;		/* digits */
	char		*github_app_key_file;
	char		*github_context;	/* status context prefix */
	int		 github_trust_forks;

	/* projects: */
	char		**approved;		/* owner/name */
	size_t		 napproved;
	struct config_branches *push_branches;
	size_t		 npush_branches;

	/* bus: */
	char		*bus_publish;
	char		*bus_control;
	char		*bus_curve_key_file;	/* NULL: no CURVE */
	char		*bus_curve_key;		/* its text, a secret */
	size_t		 bus_curve_key_len;
	char		*bus_clients_file;
	struct bus_keys	*bus_keys;		/* read from it */
	int		 bus_unauthenticated_remote;

	/* aws: for the pools of driver aws. */
	char		*aws_region;
	char		*aws_endpoint_url;	/* NULL: AWS's, per service */
	char		*aws_profile;		/* of the shared files */
	char		*aws_cluster;		/* ECS */
	char		*aws_log_group;		/* CloudWatch Logs */
	char		*aws_daemon;		/* the beekeeper:daemon tag */
	uint64_t	 aws_lease_ms;
	uint64_t	 aws_reconcile_ms;
	double		 aws_spot_factor;
	struct config_price *aws_prices;
	size_t		 naws_prices;
	struct config_price *aws_spot_prices;
	size_t		 naws_spot_prices;

	/* variables: then secrets:, in file order. */
	struct config_var *vars;
	size_t		 nvars;

	/* Read from webhook_secret_file; wiped when freed, never printed. */
	char		*webhook_secret;
	size_t		 webhook_secret_len;
	/* Read from token_file and app_key_file, likewise. */
	char		*github_token;
	size_t		 github_token_len;
	char		*github_app_key;	/* PEM */
	size_t		 github_app_key_len;
};
struct config	*config_load(const char *, char **);
void		 config_free(struct config *);
void		 config_print(const struct config *, FILE *);
/*
 * The parser's own, shared by the config*.c files only: options are rows
 * of a table, each stored at an offset of a struct config, a struct
 * profile or a struct config_var.
 */
#define CONFIG_ALNUM	"abcdefghijklmnopqrstuvwxyz" \
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define CONFIG_NOT_A_REPO \
	"is not a repository: owner/name, as in beeware/toga"
#define CONFIG_NOT_A_NUMBER \
	"is not a number: digits, and up to 9 more after a '.', as in 0.35"
#define CONFIG_NOT_AN_INSTANCE_TYPE \
	"is not an EC2 instance type, as in c5.xlarge"
enum config_opt_type {
	OPT_SECTION,
	OPT_STRING,		/* .chars, if set, are all it may hold */
	OPT_ADDRESS,
	OPT_URL,
	OPT_ENDPOINT,		/* a ZeroMQ endpoint on loopback */
	OPT_PATH,
	OPT_SECRET_FILE,	/* its contents go to .data and .datalen */
	OPT_BOOL,
	OPT_SIZE,
	OPT_UINT,
	OPT_DURATION,
	OPT_DRIVER,
	OPT_REPO,		/* owner/name */
	OPT_ENVNAME,		/* an environment variable's name */
	OPT_NUMBER,		/* a decimal number >= 0, as a double */
	OPT_DECIMAL,		/* a decimal number > 0, kept as text */
	OPT_INSTANCE_TYPE,	/* an EC2 instance type, c5.xlarge */
	OPT_AWS_ID,		/* .chars, then hex digits: ami-0abc... */
	OPT_AWS_IDS,		/* a list of OPT_AWS_ID (or one), NULL-ended */
	OPT_IAM_PROFILE,	/* an instance profile's name or ARN */
	OPT_PROFILES,
	OPT_REPOS,		/* projects.approved */
	OPT_BRANCHES,		/* projects.push_branches */
	OPT_VARS,		/* variables:, or secrets: with OPT_SECRET */
	OPT_PRICES		/* instance type to USD/hour; count: .datalen */
};
#define OPT_NOSLASH	0x01	/* URL: one trailing '/' is dropped */
#define OPT_TOKEN	0x02	/* secret: one word, as it goes in a header */
#define OPT_PEM		0x04	/* secret: a PEM private key */
#define OPT_SECRET	0x08	/* secrets: rather than variables: */
#define OPT_REQUIRED	0x10	/* entry key: every entry has it */
#define OPT_VARONLY	0x20	/* entry key: in variables: only */
#define OPT_SECRETONLY	0x40	/* entry key: in secrets: only */
#define OPT_CURVE	0x80	/* secret: a keygen key pair file */
struct config_opt {
	const char	*key;		/* dotted path */
	enum config_opt_type type;
	size_t		 off;
	size_t		 data;		/* OPT_SECRET_FILE: the contents */
	size_t		 datalen;	/* and their length */
	int		 flags;
	const char	*chars;		/* OPT_STRING: allowed characters */
	const char	*chars_help;	/* what the error says if others */
	const char	*def;		/* NULL: computed or none */
	const char	*help;
};
struct config_parse {
	const char	*file;
	yaml_document_t	 doc;
	struct config	*conf;
	char		*cause;
	u_char		*seen;		/* of each of config.c's options */
	size_t		*line;		/* where each is set */
	void		*base;		/* what .off is relative to */
	const char	*prefix;	/* of .key in errors, or NULL */
	size_t		*var_lines;	/* where each of conf->vars is */
};
int		 config_error(struct config_parse *, yaml_node_t *,
		    const char *, ...) printflike(3, 4);
int		 config_error_at(struct config_parse *, size_t, const char *,
		    ...) printflike(3, 4);
int		 config_null(yaml_node_t *);

/* config-profiles.c */
const struct profile *config_profile(const struct config *, const char *);
int		 config_profiles(struct config_parse *, yaml_node_t *);
int		 config_default_profile(struct config_parse *);
int		 config_check_profiles(struct config_parse *);
void		 config_print_profiles(const struct config *,
		    const struct config_opt *, FILE *);
void		 config_free_profiles(struct config *);
int		 config_prices(struct config_parse *, const struct config_opt *,
		    yaml_node_t *);
void		 config_print_prices(const struct config *,
		    const struct config_opt *, const char *, FILE *);

/* config-projects.c */
int		 config_repos(struct config_parse *, const struct config_opt *,
		    yaml_node_t *);
int		 config_branches(struct config_parse *,
		    const struct config_opt *, yaml_node_t *);
void		 config_print_repos(const struct config *,
		    const struct config_opt *, const char *, FILE *);
void		 config_print_branches(const struct config *,
		    const struct config_opt *, const char *, FILE *);
void		 config_free_projects(struct config *);

/* config-value.c */
int		 config_set(struct config_parse *, const struct config_opt *,
		    yaml_node_t *, const char *);
int		 config_set_node(struct config_parse *,
		    const struct config_opt *, yaml_node_t *);
void		 config_free_value(void *, const struct config_opt *);
int		 config_parse_number(const char *, double *);
char		*config_number(double);
int		 config_is_instance_type(const char *);
int		 config_is_repo(const char *);
int		 config_is_loopback_endpoint(const char *);
int		 config_is_endpoint(const char *);
char		*config_quote(const char *);
char		*config_value(const void *, const struct config_opt *);
size_t		 config_secret_len(const void *, const struct config_opt *);
void		 config_print_opt(const void *, const struct config_opt *,
		    const char *, const char *, const char *, FILE *);

/* config-vars.c */
int		 config_var_reserved(const char *);
int		 config_vars(struct config_parse *, const struct config_opt *,
		    yaml_node_t *);
void		 config_order_vars(struct config *);
void		 config_print_vars(const struct config *,
		    const struct config_opt *, FILE *);
void		 config_free_vars(struct config *);

/* db.c */
struct delivery {
	char		 id[DELIVERY_ID_MAX + 1];
	char		 event[EVENT_NAME_MAX + 1];
	char		 remote[64];
	const char	*signature;	/* "sha256" or "sha1" */
	const char	*content_type;
	int64_t		 received_at;
	char		*payload;	/* the JSON text */
	size_t		 payload_len;
	json_t		*json;
};
struct change {
	const char	*event;
	char		*repo;
	char		*clone_url;
	char		*html_url;
	const char	*ref_type;	/* "branch" or "tag" */
	char		*ref;
	char		*base_ref;
	char		*sha;
	int64_t		 pr;		/* 0: not a pull request */
	char		*action;
	int		 fork;
	int		 deleted;
	char		*sender;
	int64_t		 installation;	/* the GitHub App's; 0: none */
	char		*default_branch;
	const char	*state;		/* "queued" or "ignored" */
	const char	*reason;
};
enum db_insert {
	DB_INSERT_ERROR = -1,
	DB_INSERT_DUPLICATE = 0,
	DB_INSERT_NEW = 1
};
typedef void	(*db_delivery_cb)(struct delivery *, void *);
struct db	*db_create(const char *, char **);
void		 db_free(struct db *);
const char	*db_error(struct db *);
int		 db_begin(struct db *);
int		 db_commit(struct db *);
void		 db_rollback(struct db *);
int		 db_ping(struct db *);
enum db_insert	 db_delivery_insert(struct db *, const struct delivery *);
int		 db_delivery_done(struct db *, const char *, const char *,
		    const char *, int64_t);
int		 db_deliveries_received(struct db *, db_delivery_cb, void *);
int		 db_change_insert(struct db *, const char *,
		    const struct change *, int64_t);
int		 db_project_register(struct db *, const char *, const char *,
		    const char *, int, int64_t);
int		 db_schema_version(struct db *);
struct change_row {
	int64_t		 id;
	char		*delivery_id;
	char		*event;
	char		*repo;
	char		*clone_url;
	char		*ref_type;
	char		*ref;
	char		*sha;
	int64_t		 pr;
	char		*action;
	int		 fork;
	int		 deleted;
	char		*sender;
	int64_t		 installation;
	char		*default_branch;
	char		*base_ref;
};
/* What GitHub should show for one status context or check run. */
struct report_row {
	int64_t		 id;
	char		*kind;		/* "status" or "check" */
	char		*repo;
	char		*sha;
	char		*context;	/* a check run's name */
	int64_t		 build_id;
	int64_t		 installation;
	char		*state;		/* check runs: status[:conclusion] */
	char		*description;
	char		*target_url;
	char		*summary;	/* check runs' output */
	char		*posted_state;	/* what GitHub has */
	int		 repost;	/* news in the same state: post it */
	int64_t		 remote_id;	/* a check run's id */
	u_int		 attempts;
};
typedef void	(*db_report_cb)(struct report_row *, void *);
/* db_changes_queued gives at most this many changes at a time. */
#define DB_CHANGES_PAGE		100
#define DB_CHANGES_PAGE_SQL	"100"
typedef void	(*db_change_cb)(struct change_row *, void *);
typedef void	(*db_build_cb)(struct build *, void *);
int		 db_changes_queued(struct db *, db_change_cb, void *);
void		 change_row_free(struct change_row *);
int		 db_change_done(struct db *, int64_t, const char *,
		    const char *);
char		*db_project_state(struct db *, const char *);
int		 db_build_insert(struct db *, struct build *);
int		 db_build_update(struct db *, const struct build *);
int		 db_task_insert(struct db *, struct task *);
int		 db_task_update(struct db *, const struct task *);
int		 db_builds_active(struct db *, db_build_cb, void *);
struct build	*db_build_get(struct db *, int64_t);
char		*db_build_latest(struct db *, const char *, const char *);
int64_t		 db_build_newer(struct db *, const struct build *);
typedef void	(*db_var_cb)(const char *, const char *, const char *, size_t,
		    int, const char *, int64_t, void *);
int		 db_vars_list(struct db *, db_var_cb, void *);
int		 db_var_set(struct db *, const char *, const char *,
		    const char *, size_t, int, const char *, int64_t);
int		 db_var_unset(struct db *, const char *, const char *);
int		 db_instance_save(struct db *, const char *, const char *,
		    const char *, const char *, u_int, const char *, int64_t);
int		 db_instances_end_all(struct db *, const char *, int64_t);
int		 db_pool_cap(struct db *, const char *);
int		 db_change_hold(struct db *, int64_t, const char *);
int		 db_project_approve(struct db *, const char *, int64_t);
void		 report_row_free(struct report_row *);
int		 db_report_want(struct db *, const struct report_row *,
		    int64_t);
int		 db_reports_due(struct db *, int64_t, u_int, db_report_cb,
		    void *);
int		 db_report_posted(struct db *, int64_t, const char *, int64_t,
		    const char *);
int		 db_report_retry(struct db *, int64_t, int64_t, const char *);
int		 db_reports_backlog(struct db *, int64_t *, int64_t *);
int		 db_builds_list(struct db *, const char *, const char *, u_int,
		    void (*)(int64_t, void *), void *);
int		 db_builds_recent(struct db *, u_int, void (*)(int64_t, void *),
		    void *);
int		 db_builds_open(struct db *, void (*)(int64_t, void *), void *);
json_t		*db_projects_json(struct db *);
json_t		*db_project_json(struct db *, const char *);
int		 db_project_set_state(struct db *, const char *, const char *,
		    int64_t);
int		 db_pool_set_cap(struct db *, const char *, int);
int64_t		 db_audit_insert(struct db *, int64_t, const char *,
		    const char *, const char *, int, const char *);
json_t		*db_audit_json(struct db *, u_int);
typedef void	(*db_count_cb)(const char *, const char *, int64_t, void *);
int		 db_deliveries_count(struct db *, db_count_cb, void *);
int		 db_builds_count(struct db *, db_count_cb, void *);
int		 db_tasks_count(struct db *, db_count_cb, void *);

/* build.c */
enum build_state {
	BUILD_FETCHING,
	BUILD_RUNNING,
	BUILD_PASSED,
	BUILD_FAILED,
	BUILD_ERRORED,
	BUILD_CANCELLED
};
enum task_state {
	TASK_WAITING,		/* its phase has not started */
	TASK_QUEUED,		/* in its pool's queue */
	TASK_RUNNING,
	TASK_PASSED,
	TASK_FAILED,
	TASK_ERRORED,
	TASK_CANCELLED,
	TASK_SKIPPED		/* an earlier phase stopped the build */
};
struct instance;
struct task {
	int64_t		 id;
	struct build	*build;
	u_int		 phase;
	char		*phase_name;
	char		*slug;
	char		*name;
	char		*image;
	char		*run;
	char		*profile;
	int		 critical;
	uint64_t	 timeout_ms;
	char		*environment;	/* JSON object */
	enum task_state	 state;
	int		 exit_status;	/* -1: none */
	char		*reason;
	u_int		 attempt;
	u_int		 infra_retry;
	int		 on_demand;	/* not on a spot instance */
	int64_t		 cost;		/* micro-dollars */
	char		*instance_id;
	long		 pid;
	int64_t		 queued_at;
	int64_t		 started_at;
	int64_t		 finished_at;

	/* While it is queued or running. */
	struct instance	*instance;
	void		*run_state;	/* the driver's */
	int		 in_queue;
	int		 cancelling;
	TAILQ_ENTRY(task) qentry;
};
struct build {
	int64_t		 id;
	int64_t		 change_id;
	char		*project;
	char		*clone_url;
	char		*event;		/* push, pull_request or tag */
	char		*ref;
	int64_t		 pr;
	char		*sha;
	int		 fork;
	char		*sender;
	int64_t		 installation;
	char		*approval;	/* NULL, "required" or "approved" */
	int64_t		 retry_of;	/* the build it repeats, or 0 */
	enum build_state state;
	u_int		 phase;
	char		*reason;
	int64_t		 created_at;
	int64_t		 started_at;
	int64_t		 finished_at;
	struct task	**tasks;
	size_t		 ntasks;

	int		 busy;		/* a fetch or read is under way */
	TAILQ_ENTRY(build) entry;
};
struct engine;
struct vars;
const char	*build_state_name(enum build_state);
int		 build_state_parse(const char *, enum build_state *);
const char	*task_state_name(enum task_state);
int		 task_state_parse(const char *, enum task_state *);
int		 task_finished(const struct task *);
int		 build_finished(const struct build *);
u_int		 build_nphases(const struct build *);
void		 build_free(struct build *);
struct github;
struct engine	*engine_create(struct ev_loop *, struct db *,
		    const struct config **, struct github *, char **);
void		 engine_free(struct engine *);
int		 engine_resume(struct engine *);
void		 engine_task_started(struct engine *, struct task *, long);
void		 engine_task_retry(struct engine *, struct task *,
		    const char *);
void		 engine_task_done(struct engine *, struct task *,
		    enum task_state, int, const char *);
struct build	*engine_build(struct engine *, int64_t);
void		 engine_wake(void *);
struct source	*engine_source(struct engine *);
struct archives	*engine_archives(struct engine *);
struct pools	*engine_pools(struct engine *);
struct vars	*engine_vars(struct engine *);
int64_t		 engine_report_backlog(struct engine *);
int		 engine_cancel_build(struct engine *, int64_t, const char *,
		    char **);
int		 engine_github_mode(struct engine *);
int64_t		 engine_retry_build(struct engine *, int64_t, const char *,
		    const char *, char **);
int		 engine_approve_build(struct engine *, int64_t, const char *,
		    char **);
int		 engine_approve_project(struct engine *, const char *,
		    const char *);
void		 engine_config_changed(struct engine *);

/* trust.c */
struct trust;
typedef void	(*trust_cb)(int, void *, int64_t);
struct trust	*trust_create(struct ev_loop *, struct github *,
		    const struct config **);
void		 trust_free(struct trust *);
int		 trust_collaborator(struct trust *, const char *, const char *,
		    trust_cb, void *, int64_t);
int		 trust_push_builds(const struct config *, const char *,
		    const char *, const char *, char **);
void		 trust_task_vars(const struct config *, const struct vars *,
		    const struct task *, json_t *, const char ***, size_t *);

/* vars.c */
struct vars	*vars_create(struct db *, char **);
void		 vars_free(struct vars *);
int		 vars_set(struct vars *, const char *, const char *,
		    const char *, size_t, int, const char *, int64_t, char **);
int		 vars_unset(struct vars *, const char *, const char *, int,
		    const char *, char **);
void		 vars_apply(const struct vars *, const char *, json_t *, int);
void		 vars_masks(const struct vars *, const char *, const char ***,
		    size_t *);
void		 vars_json(const struct vars *, const char *, int, json_t *);

/* report.c */
struct report;
struct report	*report_create(struct ev_loop *, struct db *, struct github *,
		    const struct config **);
void		 report_free(struct report *);
void		 report_task(struct report *, const struct task *);
void		 report_build(struct report *, const struct build *);
char		*report_context(const struct config *, const struct task *);
int64_t		 report_backlog(struct report *);

/* pool.c */
struct pool;
struct pools;
struct driver {
	const char	*name;
	/* Start an instance; pool_instance_ready() once it takes tasks. */
	int		 (*launch)(struct pool *, struct instance *, char **);
	void		 (*terminate)(struct pool *, struct instance *);
	/* Start a task; the end comes through engine_task_done(). */
	int		 (*run)(struct instance *, struct task *, char **);
	void		 (*cancel)(struct instance *, struct task *);
	/* The daemon stops: kill the task now, no report. */
	void		 (*abandon)(struct instance *, struct task *);
	/* Optional: an instance drains (1) or takes tasks again (0). */
	void		 (*drain)(struct instance *, int);
	/* Optional: 0 while the pool may not launch yet (a reconcile). */
	int		 (*can_launch)(struct pool *);
	/* Its instances are not stopped when the daemon stops. */
	int		 outlives_daemon;
	/* Optional: once when the pools start, and when they stop. */
	void		 (*start)(struct pools *);
	void		 (*stop)(struct pools *);
};
struct pools	*pools_create(struct engine *, struct ev_loop *, struct db *,
		    const struct config **);
void		 pools_free(struct pools *);
int		 pools_enqueue(struct pools *, struct task *, char **);
void		 pools_dequeue(struct pools *, struct task *);
void		 pools_cancel(struct pools *, struct task *);
void		 pools_abandon(struct pools *, struct task *);
void		 pools_task_ended(struct pools *, struct task *);
void		 pools_schedule(struct pools *);
json_t		*pools_json(struct pools *, json_t **);
int		 pools_set_cap(struct pools *, const char *, int, char **);
int		 pools_drain(struct pools *, const char *, const char *,
		    const char *, char **);
struct engine	*pools_engine(struct pools *);
int		 pools_begin(struct pools *);
void		 pools_commit(struct pools *);
struct ev_loop	*pools_loop(struct pools *);
const struct config *pools_config(struct pools *);
struct pools	*pool_pools(struct pool *);
const char	*pool_name(struct pool *);
void		 pool_instance_ready(struct instance *);
void		 pool_instance_booting(struct instance *, const char *, int);
void		 pool_instance_failed(struct instance *, const char *);
void		 pool_instance_lost(struct instance *, const char *);
struct instance	*pool_instance_adopt(struct pool *, const char *, int,
		    int64_t);
struct pool	*pools_find(struct pools *, const char *);
const struct profile *pool_profile(struct pool *);
const char	*pool_driver_name(struct pool *);
size_t		 pools_count(struct pools *);
struct pool	*pools_at(struct pools *, size_t);
struct instance	*pool_instances(struct pool *);
struct instance	*instance_next(struct instance *);
int		 instance_live(struct instance *);
int		 instance_is_ready(struct instance *);
int		 instance_on_demand(struct instance *);
const char	*instance_cloud_id(struct instance *);
struct task	*instance_task(struct instance *, u_int);
u_int		 instance_ntasks(struct instance *);
const char	*instance_id(struct instance *);
struct pool	*instance_pool(struct instance *);
void		*instance_driver_state(struct instance *);
void		 instance_set_driver_state(struct instance *, void *);

/* scale.c */
struct scale_pool {
	u_int		 min;
	u_int		 max;
	int		 cap;		/* -1: none */
	u_int		 slots;		/* per instance */
	u_int		 live;		/* requested, booting, ready */
	u_int		 capacity;	/* free slots, booting ones' too */
	u_int		 queued;
};
enum breaker_state {
	BREAKER_CLOSED,
	BREAKER_OPEN,
	BREAKER_HALF_OPEN
};
struct breaker {
	u_int		 threshold;	/* failures in a row that open it */
	uint64_t	 backoff;	/* ms, the first time it opens */
	u_int		 failures;
	u_int		 opens;		/* in a row; 0: closed */
	uint64_t	 until;		/* open until, loop ms */
	int		 probing;	/* half-open: the one launch is out */
};
u_int		 scale_limit(const struct scale_pool *);
u_int		 scale_wanted(const struct scale_pool *);
u_int		 scale_keep(int, u_int);
int		 scale_idle_expired(const struct scale_pool *, u_int, uint64_t,
		    uint64_t, uint64_t, uint64_t *);
int		 scale_boot_expired(uint64_t, uint64_t, uint64_t);
void		 breaker_init(struct breaker *, u_int, uint64_t);
enum breaker_state breaker_state(const struct breaker *, uint64_t);
const char	*breaker_state_name(enum breaker_state);
u_int		 breaker_allows(const struct breaker *, uint64_t, u_int);
void		 breaker_launched(struct breaker *, uint64_t);
int		 breaker_failure(struct breaker *, uint64_t, uint64_t *);
int		 breaker_success(struct breaker *);

/* driver-local.c */
extern const struct driver driver_local;
json_t		*task_env(const struct config *, struct engine *,
		    struct task *, const char ***, size_t *);

/* driver-aws.c and aws-task.c: the aws driver's machines and tasks. */
struct arun;
struct ainst {
	struct awsd		*a;
	struct instance		*in;		/* NULL: the pool let go */
	struct pool		*pool;
	char			*ec2_id;	/* NULL until RunInstances */
	char			*ci_arn;	/* its ECS container instance */
	char			*token;		/* RunInstances' ClientToken */
	int			 spot;
	int			 adopted;
	int			 seen;		/* in this reconcile pass */
	int			 gone;		/* EC2 says terminated */
	int			 terminated;	/* TerminateInstances took */
	int			 leftovers;	/* stopping old tasks */
	uint64_t		 known_at;	/* loop ms, ec2_id known */
	uint64_t		 call;
	TAILQ_ENTRY(ainst)	 entry;
};
struct aws_taskdef {
	char			*image;
	char			*arn;		/* NULL until registered */
	char			*error;		/* the last failure */
	int			 registering;
};
struct awsd {
	struct pools		*pools;
	struct ev_loop		*loop;
	struct http		*http;
	struct aws		*aws;
	struct ev_timer		*poll;
	int			 poll_due;
	struct ev_timer		*reconcile;
	int			 reconciled;	/* the first pass is done */
	uint64_t		 describe_call;
	uint64_t		 reconcile_started;
	uint64_t		 reconcile_ms;	/* the last pass took */
	uint64_t		 passes;
	uint64_t		 ci_call;
	char			*ci_next;
	u_int			 tasks_calls;	/* DescribeTasks out */
	u_int			 log_cursor;
	struct aws_taskdef	*defs;
	size_t			 ndefs;
	TAILQ_HEAD(, ainst)	 insts;
	TAILQ_HEAD(, arun)	 runs;
};
extern const struct driver driver_aws;
struct awsd	*awsd_get(void);
const struct config *awsd_config(struct awsd *);
void		 awsd_poll_soon(struct awsd *);
void		 awsd_lost(struct ainst *, const char *);
void		 awsd_stats(struct awsd *, uint64_t *, uint64_t *, size_t *);
int		 aws_task_run(struct instance *, struct task *, char **);
void		 aws_task_cancel(struct instance *, struct task *);
void		 aws_task_abandon(struct instance *, struct task *);
void		 aws_task_release_all(struct ainst *);
void		 aws_task_stop_leftovers(struct ainst *);
void		 aws_task_poll(struct awsd *);
void		 aws_task_free_all(struct awsd *);
void		 aws_task_defs_free(struct awsd *);

/* signature.c */
int		 signature_check(const void *, size_t, const void *, size_t,
		    const char *, const char *, int, const char **,
		    const char **);

/* ghevent.c */
enum ghevent_kind {
	GHEVENT_PING,
	GHEVENT_CHANGE,
	GHEVENT_OTHER
};
struct ghevent {
	enum ghevent_kind kind;
	char		*repo;		/* ping: owner/name, or NULL */
	char		*clone_url;
	char		*html_url;
	struct change	 change;
};
int		 ghevent_normalise(const char *, json_t *, struct ghevent *,
		    char **);
void		 ghevent_release(struct ghevent *);

/* intake.c */
enum intake_result {
	INTAKE_STORED,
	INTAKE_DUPLICATE,
	INTAKE_FAILED
};
typedef void	(*intake_cb)(enum intake_result, const char *, void *);
struct intake	*intake_create(struct ev_loop *, struct db *,
		    const struct config **);
void		 intake_free(struct intake *);
void		 intake_submit(struct intake *, struct delivery *, intake_cb,
		    void *);
void		 intake_cancel(struct intake *, void *);
int		 intake_flush(struct intake *);
int		 intake_resume(struct intake *);
int		 intake_healthy(struct intake *);
void		 intake_on_commit(struct intake *, void (*)(void *), void *);
void		 delivery_free(struct delivery *);

/* httpd.c */
struct httpd_req;
struct httpd_route {
	const char	*path;
	const char	*methods;	/* space-separated */
	size_t		 (*max_body)(void *);
	void		 (*begin)(struct httpd_req *, void *);
	void		 (*end)(struct httpd_req *, void *);
	void		 (*cancel)(struct httpd_req *, void *);
};
struct httpd	*httpd_create(struct ev_loop *, const char *, const char *,
		    char **);
void		 httpd_free(struct httpd *);
void		 httpd_route(struct httpd *, const struct httpd_route *,
		    void *);
void		 httpd_quiesce(struct httpd *);
u_int		 httpd_inflight(struct httpd *);
const char	*httpd_address(struct httpd *);
const char	*httpd_method(struct httpd_req *);
const char	*httpd_header(struct httpd_req *, const char *);
const char	*httpd_remote(struct httpd_req *);
const struct buf *httpd_body(struct httpd_req *);
int		 httpd_too_large(struct httpd_req *);
int		 httpd_responded(struct httpd_req *);
void		 httpd_set_data(struct httpd_req *, void *);
void		*httpd_get_data(struct httpd_req *);
void		 httpd_respond(struct httpd_req *, u_int, const char *, ...)
		    printflike(3, 4);
void		 httpd_suspend(struct httpd_req *);
void		 httpd_respond_file(struct httpd_req *, u_int, int, uint64_t,
		    uint64_t, const char *);
void		 httpd_respond_text(struct httpd_req *, u_int, const char *,
		    const char *);
const char	*httpd_query(struct httpd_req *, const char *);
const char	*httpd_url(struct httpd_req *);
void		 httpd_set_header(struct httpd_req *, const char *,
		    const char *);

/* web.c */
struct web;
struct web	*web_create(struct httpd *, struct engine *, struct db *,
		    const struct config **);
void		 web_free(struct web *);

/* metrics.c */
struct bus;
struct metrics;
struct metrics	*metrics_create(struct httpd *, struct db *, struct engine *,
		    struct github *, struct bus *);
void		 metrics_free(struct metrics *);

/* webhook.c */
struct webhook;
struct webhook	*webhook_create(struct ev_loop *, struct httpd *,
		    struct intake *, const struct config **);
void		 webhook_free(struct webhook *);

/* http.c */
struct http;
struct http_header {
	char		*name;
	char		*value;
};
/* Everything a request points to is copied by http_submit. */
struct http_request {
	const char		 *method;	/* NULL: GET */
	const char		 *url;
	const char *const	 *headers;	/* "Name: value", NULL-ended */
	const void		 *body;		/* NULL: none */
	size_t			  bodylen;
	uint64_t		  timeout_ms;	/* whole request; 0: none */
	size_t			  max_size;	/* body cap; 0: none */
};
/*
 * Borrowed for the callback only; it may buf_detach the body. ok is 0 when
 * no complete response arrived (cause says why); any status is ok.
 */
struct http_response {
	uint64_t		  id;
	int			  ok;
	const char		 *cause;
	long			  status;
	struct buf		 *body;
	const struct http_header *headers;
	size_t			  nheaders;
};
typedef void	(*http_cb)(struct http *, const struct http_response *,
		    void *);
struct http	*http_create(struct ev_loop *, char **);
void		 http_free(struct http *);
uint64_t	 http_submit(struct http *, const struct http_request *,
		    http_cb, void *, char **);
int		 http_cancel(struct http *, uint64_t);
const char	*http_response_header(const struct http_response *,
		    const char *);

/* source.c */
struct source;
/* cause is borrowed, NULL on success. */
typedef void	(*source_cb)(int, const char *, void *);
/* data (NUL-terminated) and cause are borrowed; data is NULL on error. */
typedef void	(*source_file_cb)(const char *, size_t, const char *, void *);
struct source	*source_create(struct ev_loop *, const char *, char **);
void		 source_free(struct source *);
char		*source_mirror_dir(struct source *, const char *);
int		 source_fetch(struct source *, const char *, const char *,
		    const char *, source_cb, void *, char **);
int		 source_read_file(struct source *, const char *, const char *,
		    const char *, size_t, source_file_cb, void *, char **);
int		 source_read_fetching(struct source *, const char *,
		    const char *, const char *, const char *, size_t,
		    source_file_cb, void *, char **);
int		 source_archive(struct source *, const char *, const char *,
		    const char *, source_cb, void *, char **);

/* archive.c */
struct archives;
struct archives	*archives_create(struct ev_loop *, struct github *,
		    struct source *, const struct config **);
void		 archives_free(struct archives *);
char		*archives_path(struct archives *, const char *, const char *);
int		 archives_get(struct archives *, const char *, const char *,
		    source_cb, void *, char **);
void		 archives_cancel(struct archives *, void *);

/* github.c */
struct github;
struct github_call {
	const char	*method;	/* NULL: GET */
	const char	*repo;		/* owner/name: whose installation */
	const char	*path;		/* "/repos/..." under github.api_url */
	const char	*body;		/* JSON text or NULL */
	const char	*accept;	/* NULL: application/vnd.github+json */
	int		 raw;		/* the answer is not JSON */
	size_t		 max_size;	/* 0: 8 MB */
	u_int		 attempts;	/* tries on 5xx and network errors */
};
/*
 * status is 0 when no answer came (cause says why); otherwise cause is
 * set only for a failure worth a sentence. json is the parsed body, if it
 * was JSON; all of it is borrowed for the callback.
 */
struct github_response {
	long				 status;
	const char			*cause;
	json_t				*json;
	struct buf			*body;
	const struct http_response	*http;
};
typedef void	(*github_cb)(const struct github_response *, void *);
struct github	*github_create(struct ev_loop *, const struct config **,
		    char **);
void		 github_free(struct github *);
int		 github_reload(struct github *, char **);
int		 github_enabled(struct github *);
int		 github_is_app_auth(struct github *);
void		 github_installation_seen(struct github *, const char *,
		    int64_t);
uint64_t	 github_call(struct github *, const struct github_call *,
		    github_cb, void *);
void		 github_cancel(struct github *, uint64_t);
uint64_t	 github_backoff(u_int);
void		 github_limits(struct github *, int64_t *, int64_t *,
		    int64_t *);

/* bus.c */
struct bus;
struct bus	*bus_create(struct ev_loop *, struct db *, struct engine *,
		    const struct config **, char **);
void		 bus_free(struct bus *);
json_t		*bus_build_json(const struct build *);
json_t		*bus_task_json(const struct task *);
void		 bus_build(const struct build *);
void		 bus_task(const struct task *);
void		 bus_pool(json_t *);
void		 bus_instance(json_t *);
void		 bus_audit(json_t *);
void		 bus_project(const char *);
void		 bus_on_github(struct bus *, json_t *(*)(void *), void *);
json_t		*bus_github(struct bus *);
int		 bus_recent(int64_t);
int		 bus_is_admin(struct bus *, const char *);
uint64_t	 bus_seq(struct bus *);
int64_t		 bus_start(struct bus *);
const char	*bus_publish_endpoint(struct bus *);
void		 bus_snapshot_builds(struct bus *, void (*)(int64_t, void *),
		    void *);
struct db	*bus_db(struct bus *);
struct engine	*bus_engine(struct bus *);
const struct config *bus_config(struct bus *);
struct ev_loop	*bus_loop(struct bus *);
void		*bus_router(struct bus *);
int		 bus_curve(struct bus *);
size_t		 bus_subscribers(struct bus *);

/* bus-auth.c */
struct bus_key {
	char		 public[CURVEKEY_Z85 + 1];
	char		*name;
	int		 admin;
	size_t		 line;		/* in the clients file */
};
struct bus_keys {
	struct bus_key	*keys;
	size_t		 n;
};
struct bus_auth;
struct bus_keys	*bus_keys_load(const char *, char **);
void		 bus_keys_free(struct bus_keys *);
const struct bus_key *bus_keys_find(const struct bus_keys *, const char *,
		    const char *);
int		 bus_auth_server(void *, const char *, char **);
struct bus_auth	*bus_auth_create(struct ev_loop *, void *, void *,
		    const struct config **, char **);
void		 bus_auth_free(struct bus_auth *);
size_t		 bus_auth_subscribers(struct bus_auth *);
int		 bus_auth_is_admin(struct bus_auth *, const char *);

/* bus-cmd.c */
void		 bus_cmd_readable(struct ev_loop *, int, void *);

/* jwt.c */
struct jwt_key;
struct jwt_key	*jwt_key_load(const char *, size_t, char **);
void		 jwt_key_free(struct jwt_key *);
char		*jwt_sign(struct jwt_key *, const char *, int64_t, char **);

/* sigv4.c */
#define SIGV4_QUERY		0x1	/* presign: the query, not a header */
#define SIGV4_SIGN_BODY		0x2	/* also sign x-amz-content-sha256 */
#define SIGV4_OMIT_TOKEN	0x4	/* the session token is not signed */
#define SIGV4_NO_NORMALIZE	0x8	/* the path as given (S3) */

struct sigv4_header {
	const char	*name;
	const char	*value;
};

struct sigv4_request {
	const char			*method;
	const char			*path;		/* unencoded */
	const char			*query;		/* NULL: none */
	const struct sigv4_header	*headers;	/* host included */
	size_t				 nheaders;
	const void			*body;
	size_t				 bodylen;
	int				 expires;	/* query form, s */
};

struct sigv4_key {
	const char	*access_key;
	const char	*secret_key;
	const char	*token;			/* NULL: none */
	const char	*region;
	const char	*service;
};

struct sigv4_result {
	char	 amz_date[17];			/* X-Amz-Date */
	char	 body_hash[65];			/* x-amz-content-sha256 */
	char	 signature[65];
	char	*canonical;
	char	*string_to_sign;
	char	*signed_headers;
	char	*authorization;			/* header form */
	char	*query;				/* query form: to send */
};

int		 sigv4_sign(const struct sigv4_request *,
		    const struct sigv4_key *, time_t, int,
		    struct sigv4_result *, char **);
void		 sigv4_result_release(struct sigv4_result *);
void		 sigv4_uri_encode(struct buf *, const char *);

/* aws-creds.c */
struct aws_creds {
	char		*access_key;
	char		*secret_key;
	char		*token;			/* NULL: none */
	int64_t		 expires;		/* ms since the epoch; 0: never */
	char		*source;		/* where they came from */
};
struct aws_auth;
/* creds and cause are borrowed; exactly one is NULL. */
typedef void	(*aws_auth_cb)(const struct aws_creds *, const char *, void *);
void		 aws_creds_free(struct aws_creds *);
char		*aws_ini_get(const char *, const char *, const char *);
struct aws_creds *aws_creds_static(const char *, char **);
struct aws_auth	*aws_auth_create(struct ev_loop *, struct http *,
		    const char *, const char *);
void		 aws_auth_free(struct aws_auth *);
void		 aws_auth_get(struct aws_auth *, aws_auth_cb, void *);

/* xml.c */
struct xml_node;
struct xml_node	*xml_parse(const char *, size_t, size_t, char **);
void		 xml_free(struct xml_node *);
const char	*xml_name(const struct xml_node *);
const char	*xml_text_of(const struct xml_node *);
struct xml_node	*xml_child(const struct xml_node *, const char *);
struct xml_node	*xml_next(const struct xml_node *);
const char	*xml_get(const struct xml_node *, const char *);

/* aws.c */
struct aws;
enum aws_service {
	AWS_EC2,
	AWS_ECS,
	AWS_LOGS
};
/* Borrowed for the callback only. */
struct aws_reply {
	int		 ok;
	long		 status;		/* 0: no answer */
	const char	*body;			/* ok: the answer */
	size_t		 len;
	const char	*code;			/* AWS's error code, or NULL */
	const char	*error;			/* !ok: a sentence */
	u_int		 attempts;
};
typedef void	(*aws_cb)(struct aws *, const struct aws_reply *, void *);
struct aws	*aws_create(struct ev_loop *, struct http *, const char *,
		    const char *, const char *, const char *);
void		 aws_free(struct aws *);
uint64_t	 aws_call(struct aws *, enum aws_service, const char *,
		    const char *, aws_cb, void *);
void		 aws_cancel(struct aws *, uint64_t);
void		 aws_error_parse(const char *, size_t, char **, char **);
void		 aws_stats(const struct aws *, uint64_t *, uint64_t *, int *);

/* aws-ec2.c */
#define EC2_TAG_DAEMON		"beekeeper:daemon"
#define EC2_TAG_POOL		"beekeeper:pool"
#define EC2_TAG_LEASE		"beekeeper:lease-expires"
struct ec2_launch {
	const char		*daemon;	/* the beekeeper:daemon tag */
	const char		*pool;
	const char		*name;		/* the Name tag; NULL: pool */
	const char		*image;
	const char		*type;
	const char		*subnet;
	const char *const	*security_groups;	/* NULL-ended */
	const char		*iam_profile;	/* a name or an ARN */
	const char		*key_name;
	const char		*user_data;	/* not yet base64 */
	int			 spot;
	const char		*spot_max_price;
	const char		*client_token;	/* idempotency */
	int64_t			 lease_expires;	/* s since the epoch */
};
struct ec2_instance {
	char		*id;
	char		*state;		/* pending, running, ... */
	char		*type;
	char		*lifecycle;	/* "spot", or NULL */
	char		*private_ip;
	char		*daemon;	/* tags */
	char		*pool;
	int64_t		 lease_expires;	/* s; 0: none or unreadable */
	int64_t		 launched;	/* ms */
	char		*reason;	/* stateReason's code */
};
int		 ec2_capacity_error(const char *);
char		*ec2_run_params(const struct ec2_launch *);
char		*ec2_describe_params(const char *, const char *, u_int);
char		*ec2_ids_params(const char *const *, size_t, int64_t);
int		 ec2_instances_parse(const char *, size_t,
		    struct ec2_instance **, size_t *, char **, char **);
void		 ec2_instances_free(struct ec2_instance *, size_t);

/* aws-ecs.c */
struct ecs_taskdef {
	const char	*family;
	const char	*image;
	u_int		 memory_mb;	/* reserved for the container */
	const char	*log_group;
	const char	*region;
};
struct ecs_task {
	char		*arn;
	char		*last_status;	/* PROVISIONING ... STOPPED */
	char		*stopped_reason;
	char		*stop_code;
	char		*container_instance;
	int		 exit_code;	/* -1: none */
	char		*reason;	/* the container's */
};
struct ecs_instance {
	char		*arn;
	char		*ec2_id;
	char		*status;	/* ACTIVE, DRAINING, ... */
	int		 running;	/* tasks */
	int		 connected;	/* the agent */
};
char		*ecs_family(const char *, const char *);
char		*ecs_register_body(const struct ecs_taskdef *);
char		*ecs_start_body(const char *, const char *, const char *,
		    const char *, const char *const *, size_t, const char *);
char		*ecs_describe_tasks_body(const char *, const char *const *,
		    size_t);
char		*ecs_stop_body(const char *, const char *, const char *);
char		*ecs_list_instances_body(const char *, const char *);
char		*ecs_list_tasks_body(const char *, const char *);
char		*ecs_arns_body(const char *, const char *,
		    const char *const *, size_t, const char *);
char		*ecs_log_events_body(const char *, const char *,
		    const char *);
char		*ecs_log_stream(const char *);
int		 ecs_tasks_parse(const char *, size_t, struct ecs_task **,
		    size_t *, char **, char **);
void		 ecs_tasks_free(struct ecs_task *, size_t);
int		 ecs_instances_parse(const char *, size_t,
		    struct ecs_instance **, size_t *, char **);
void		 ecs_instances_free(struct ecs_instance *, size_t);
int		 ecs_list_parse(const char *, size_t, const char *, char ***,
		    size_t *, char **, char **);
int		 ecs_log_events_parse(const char *, size_t, struct buf *,
		    char **, int *, char **);

/* cost.c */
struct cost_price {
	const char	*type;
	const char	*region;	/* NULL: any */
	double		 usd_hour;
};
struct cost_meter {
	int64_t		 micro_per_hour;	/* price, micro-dollars */
	uint64_t	 started;		/* ms */
	uint64_t	 last;			/* ms, last charged */
	u_int		 running;		/* tasks since last */
	int64_t		 carry;			/* below one micro-dollar */
	int64_t		 total;			/* micro-dollars so far */
};
double		 cost_price(const struct cost_price *, size_t, const char *,
		    const char *, int *);
double		 cost_spot(double, double, double);
double		 cost_profile(const struct config *, const struct profile *,
		    int, int *, int *);
void		 cost_meter_init(struct cost_meter *, double, uint64_t);
void		 cost_meter_advance(struct cost_meter *, uint64_t, u_int,
		    int64_t *, int64_t *);
void		 cost_meter_end(struct cost_meter *, uint64_t, int64_t *,
		    int64_t *);

/* reap.c */
int		 reap_main(const struct config *, int);

/*
 * pool.c, pool-cost.c and pool-admin.c: a pool's insides, shared by the
 * three files only; drivers go through pool.c's functions.
 */
#define POOL_PROJECTS_MAX	256
enum instance_state {
	INSTANCE_REQUESTED,
	INSTANCE_BOOTING,
	INSTANCE_READY,
	INSTANCE_DRAINING,
	INSTANCE_TERMINATING,
	INSTANCE_TERMINATED,
	INSTANCE_LOST
};


struct instance {
	char			*id;
	char			*cloud_id;	/* the driver's name, or NULL */
	struct pool		*pool;
	enum instance_state	 state;
	u_int			 slots;
	u_int			 used;
	struct task		**tasks;	/* slots of them, NULL: free */
	int			 preemptible;	/* spot */
	int			 on_demand;	/* launched for a retried task */
	uint64_t		 launched;	/* loop ms */
	int64_t			 launched_at;	/* wall ms */
	uint64_t		 idle_since;	/* loop ms */
	uint64_t		 reap_at;	/* loop ms; 0: not due */
	struct cost_meter	 meter;
	int			 metered;
	char			*reason;	/* of its last change */
	void			*driver_state;
	TAILQ_ENTRY(instance)	 entry;
};

struct pool {
	struct pools		*pools;
	char			*name;
	const struct driver	*driver;
	int			 cap;		/* -1: none */
	u_int			 launched;	/* for instance ids */
	TAILQ_HEAD(, instance)	 instances;
	TAILQ_HEAD(, task)	 queue;
	u_int			 nqueued;
	struct {
		char		*project;
		uint64_t	 served;
	}			 projects[POOL_PROJECTS_MAX];
	u_int			 nprojects;
	uint64_t		 serves;
	int			 dirty;		/* to publish */
	struct breaker		 breaker;
	char			*breaker_reason;	/* the last failure */
	/* Micro-dollars since the daemon started: cost_tasks + cost_idle
	 * is what every instance cost, ended ones included. */
	int64_t			 cost_tasks;
	int64_t			 cost_idle;
	int64_t			 cost_ended;	/* meters of ended instances */
	int64_t			 spend_today;	/* since midnight UTC */
	int64_t			 spend_day;	/* that midnight, s */
};

struct pools {
	struct engine		*engine;
	struct ev_loop		*loop;
	struct db		*db;
	const struct config	**conf;
	struct pool		**list;
	size_t			 n;
	struct ev_timer		*tick;
	int64_t			 wall0;		/* wall ms at loop ms 0 */
};
extern const char *instance_state_names[];
void		 instance_set_state(struct instance *, enum instance_state,
		    const char *);
void		 instance_changed(struct instance *);
void		 instance_charge(struct instance *, int);
u_int		 pool_live(struct pool *);
u_int		 pool_capacity(struct pool *, int);
void		 pool_terminate(struct instance *, const char *);
void		 pool_launch_failed(struct pool *, const char *);
struct pool	*pool_add(struct pools *, const struct profile *);
json_t		*pool_json(struct pool *);
double		 pool_price(struct pool *, int);

#endif /* DAEMON_H */
