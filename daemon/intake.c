/*
 * Intake: the durable half of the webhook front door. The HTTP side hands
 * over each checked delivery and suspends its connection; once per loop
 * turn, before the loop sleeps, every delivery handed over since the last
 * turn is written in one transaction (group commit) and only then are the
 * senders answered. So a 2xx always means "on disk", and a burst of
 * deliveries costs one fsync, not one each.
 *
 * Processing (normalising the payload into a project or a change record)
 * happens in the same transaction as the insert, and a delivery's state
 * moves from 'received' to 'processed' or 'failed' in it too: a delivery
 * is processed exactly once, even across a crash. Deliveries found still
 * 'received' at start (a crash between the two, or an older daemon) are
 * processed by intake_resume().
 */

#include "config.h"

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "daemon.h"

struct intake_item {
	struct delivery			*d;
	intake_cb			 cb;
	void				*arg;
	enum intake_result		 result;
	TAILQ_ENTRY(intake_item)	 entry;
};
TAILQ_HEAD(intake_items, intake_item);

struct intake {
	struct ev_loop		*loop;
	struct db		*db;
	const struct config	**conf;
	struct intake_items	 pending;
	int			 healthy;
	uint64_t		 batches;
	uint64_t		 stored;
	void			 (*committed)(void *);
	void			*committed_arg;
};

void
delivery_free(struct delivery *d)
{
	if (d == NULL)
		return;
	free(d->payload);
	json_decref(d->json);
	free(d);
}

static void
intake_log_change(const struct delivery *d, const struct change *c)
{
	if (c->pr != 0) {
		log_info("delivery %s: %s #%lld %s on %s at %.12s: %s%s%s",
		    d->id, c->event, (long long)c->pr, c->action, c->repo,
		    c->sha, c->state, c->reason != NULL ? ", " : "",
		    c->reason != NULL ? c->reason : "");
	} else {
		log_info("delivery %s: %s to %s %s of %s at %.12s: %s%s%s",
		    d->id, c->event, c->ref_type, c->ref, c->repo,
		    c->sha != NULL ? c->sha : "-", c->state,
		    c->reason != NULL ? ", " : "",
		    c->reason != NULL ? c->reason : "");
	}
}

/*
 * Process one stored delivery inside the current transaction. Returns -1
 * only if the store failed; a payload that cannot be understood is kept
 * as 'failed' with the reason.
 */
static int
intake_process(struct intake *in, struct delivery *d)
{
	const struct config	*conf = *in->conf;
	struct ghevent		 ev;
	json_error_t		 jerr;
	char			*cause = NULL;
	int64_t			 now = ev_time(in->loop);
	int			 rv = 0;

	if (d->json == NULL &&
	    (d->json = json_loadb(d->payload, d->payload_len, 0, &jerr)) ==
	    NULL) {
		log_warn("delivery %s: stored payload is not JSON: %s", d->id,
		    jerr.text);
		return (db_delivery_done(in->db, d->id, "failed",
		    "payload is not JSON", now));
	}
	if (ghevent_normalise(d->event, d->json, &ev, &cause) != 0) {
		log_warn("delivery %s: %s event not understood: %s", d->id,
		    d->event, cause);
		rv = db_delivery_done(in->db, d->id, "failed", cause, now);
		free(cause);
		return (rv);
	}
	switch (ev.kind) {
	case GHEVENT_PING:
		if (ev.repo == NULL) {
			log_info("delivery %s: ping from an organization hook, "
			    "recorded", d->id);
			break;
		}
		rv = db_project_register(in->db, ev.repo, ev.clone_url,
		    ev.html_url, conf->auto_approve, now);
		bus_project(ev.repo);
		log_info("delivery %s: ping from %s: project registered%s",
		    d->id, ev.repo, conf->auto_approve ? " and approved" :
		    ", awaiting approval");
		break;
	case GHEVENT_CHANGE:
		rv = db_change_insert(in->db, d->id, &ev.change, now);
		intake_log_change(d, &ev.change);
		break;
	case GHEVENT_OTHER:
		log_info("delivery %s: %s event recorded", d->id, d->event);
		break;
	}
	if (rv == 0)
		rv = db_delivery_done(in->db, d->id, "processed", NULL, now);
	ghevent_release(&ev);
	return (rv);
}

/* Answer every item of a list with its result and free it. */
static void
intake_answer(struct intake_items *items, const char *why)
{
	struct intake_item	*it;

	while ((it = TAILQ_FIRST(items)) != NULL) {
		TAILQ_REMOVE(items, it, entry);
		if (it->cb != NULL)
			it->cb(it->result, why, it->arg);
		delivery_free(it->d);
		free(it);
	}
}

/*
 * Commit everything handed over since the last turn, then answer. Returns
 * the number of deliveries written, or -1 if the store failed (everyone in
 * the batch is then told so, and nothing of it was accepted).
 */
int
intake_flush(struct intake *in)
{
	struct intake_items	 batch;
	struct intake_item	*it;
	enum db_insert		 r;
	int			 n = 0;

	if (TAILQ_EMPTY(&in->pending))
		return (0);
	TAILQ_INIT(&batch);
	TAILQ_CONCAT(&batch, &in->pending, entry);

	if (db_begin(in->db) != 0)
		goto fail;
	TAILQ_FOREACH(it, &batch, entry) {
		r = db_delivery_insert(in->db, it->d);
		if (r == DB_INSERT_ERROR)
			goto fail;
		it->result = r == DB_INSERT_NEW ? INTAKE_STORED :
		    INTAKE_DUPLICATE;
		if (r == DB_INSERT_NEW) {
			if (intake_process(in, it->d) != 0)
				goto fail;
			n++;
		}
	}
	if (db_commit(in->db) != 0)
		goto fail;
	in->healthy = 1;
	in->batches++;
	in->stored += n;
	log_debug("intake: batch of %d new deliveries committed", n);
	intake_answer(&batch, NULL);
	if (n > 0 && in->committed != NULL)
		in->committed(in->committed_arg);
	return (n);

fail:
	db_rollback(in->db);
	in->healthy = 0;
	log_error("intake: batch not stored: %s", db_error(in->db));
	TAILQ_FOREACH(it, &batch, entry)
		it->result = INTAKE_FAILED;
	intake_answer(&batch, db_error(in->db));
	return (-1);
}

static void
intake_before_sleep(struct ev_loop *loop, void *arg)
{
	intake_flush(arg);
}

struct intake *
intake_create(struct ev_loop *loop, struct db *db,
    const struct config **conf)
{
	struct intake	*in;

	in = xcalloc(1, sizeof *in);
	in->loop = loop;
	in->db = db;
	in->conf = conf;
	in->healthy = 1;
	TAILQ_INIT(&in->pending);
	ev_before_sleep(loop, intake_before_sleep, in);
	return (in);
}

void
intake_free(struct intake *in)
{
	if (in == NULL)
		return;
	intake_flush(in);
	free(in);
}

/* Take ownership of d; cb is called once it is on disk (or has failed). */
void
intake_submit(struct intake *in, struct delivery *d, intake_cb cb, void *arg)
{
	struct intake_item	*it;

	it = xcalloc(1, sizeof *it);
	it->d = d;
	it->cb = cb;
	it->arg = arg;
	it->result = INTAKE_FAILED;
	TAILQ_INSERT_TAIL(&in->pending, it, entry);
}

/*
 * The sender went away before the commit. The delivery is still stored
 * (GitHub may have given up waiting, but a redelivery is then a duplicate),
 * only the answer is dropped.
 */
void
intake_cancel(struct intake *in, void *arg)
{
	struct intake_item	*it;

	TAILQ_FOREACH(it, &in->pending, entry) {
		if (it->arg == arg)
			it->cb = NULL;
	}
}

static void
intake_collect(struct delivery *d, void *arg)
{
	struct intake_items	*items = arg;
	struct intake_item	*it;

	it = xcalloc(1, sizeof *it);
	it->d = d;
	TAILQ_INSERT_TAIL(items, it, entry);
}

/* Process deliveries stored but not processed before the last stop. */
int
intake_resume(struct intake *in)
{
	struct intake_items	 items;
	struct intake_item	*it;
	int			 n = 0, rv = -1;

	TAILQ_INIT(&items);
	if (db_deliveries_received(in->db, intake_collect, &items) != 0)
		goto out;
	if (TAILQ_EMPTY(&items))
		return (0);
	if (db_begin(in->db) != 0)
		goto out;
	TAILQ_FOREACH(it, &items, entry) {
		if (intake_process(in, it->d) != 0) {
			db_rollback(in->db);
			goto out;
		}
		n++;
	}
	if (db_commit(in->db) != 0) {
		db_rollback(in->db);
		goto out;
	}
	log_info("intake: %d stored deliveries processed after restart", n);
	rv = n;
out:
	intake_answer(&items, NULL);
	return (rv);
}

/*
 * Healthy while the store takes writes. After a failed batch an empty
 * write transaction is tried, so health comes back by itself once the
 * cause (a full disk, say) is gone, without waiting for a delivery.
 */
/* Who to tell when new deliveries (and so perhaps changes) are stored. */
void
intake_on_commit(struct intake *in, void (*cb)(void *), void *arg)
{
	in->committed = cb;
	in->committed_arg = arg;
}

int
intake_healthy(struct intake *in)
{
	if (!in->healthy && db_begin(in->db) == 0 && db_commit(in->db) == 0)
		in->healthy = 1;
	if (!in->healthy)
		db_rollback(in->db);
	return (in->healthy && db_ping(in->db) == 0);
}
