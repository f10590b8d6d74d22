/*
 * beekeeperd's one internal header: the structures shared between the
 * daemon's modules and their prototypes, grouped by file.
 */

#ifndef DAEMON_H
#define DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common.h"

#define BEEKEEPERD_CONF		"/etc/beekeeper/beekeeperd.yml"
#define DELIVERY_ID_MAX		64
#define EVENT_NAME_MAX		64

struct ev_loop;
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
};
struct config {
	char		*path;
	char		*listen;
	char		*listen_host;
	char		*listen_port;
	char		*public_url;
	char		*state_dir;
	char		*pid_file;
	char		*webhook_secret_file;
	int		 legacy_signatures;
	uint64_t	 max_delivery_size;
	int		 auto_approve;
	struct profile	*profiles;
	size_t		 nprofiles;

	/* Read from webhook_secret_file; wiped when freed, never printed. */
	char		*webhook_secret;
	size_t		 webhook_secret_len;
};
struct config	*config_load(const char *, char **);
void		 config_free(struct config *);
void		 config_print(const struct config *, FILE *);
const struct profile *config_profile(const struct config *, const char *);

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

/* webhook.c */
struct webhook;
struct webhook	*webhook_create(struct ev_loop *, struct httpd *,
		    struct intake *, const struct config **);
void		 webhook_free(struct webhook *);

/* source.c */
struct source;
/* cause is borrowed, NULL on success. */
typedef void	(*source_cb)(int, const char *, void *);
/* data (NUL-terminated) and cause are borrowed; data is NULL on error. */
typedef void	(*source_file_cb)(const char *, size_t, const char *, void *);
struct source	*source_create(struct ev_loop *, const char *, char **);
void		 source_free(struct source *);
int		 source_fetch(struct source *, const char *, const char *,
		    const char *, source_cb, void *, char **);
int		 source_read_file(struct source *, const char *, const char *,
		    const char *, size_t, source_file_cb, void *, char **);
int		 source_archive(struct source *, const char *, const char *,
		    const char *, source_cb, void *, char **);

#endif /* DAEMON_H */
