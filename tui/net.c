/*
 * The console's two connections to the daemon, inside its event loop: a
 * DEALER on the control socket for requests, never waited on (replies
 * come back as events and are matched by "id"), and a SUB on the publish
 * socket feeding the model.
 *
 * The connection moves through connecting (hello sent), syncing
 * (subscribed, snapshot asked), synced, and disconnected (nothing heard
 * for NET_SILENT_MS: both sockets are made again and hello is sent every
 * NET_RETRY_MS until the daemon answers). A gap or a restart seen by the
 * model sends the connection back to syncing.
 *
 * Invariants:
 * - Nothing here blocks: sends use ZMQ_DONTWAIT, and a request that gets
 *   no answer in CLIENT_TIMEOUT_MS is failed with a sentence.
 * - Every request is answered exactly once through its callback, with
 *   the reply or with why there is none, also when the sockets are made
 *   again or the console quits.
 */

#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "proto.h"
#include "tui.h"

#define NET_TICK_MS		250

struct net_req {
	json_int_t		 id;
	uint64_t		 sent;
	net_reply_cb		 cb;
	void			*arg;
	TAILQ_ENTRY(net_req)	 entry;
};

struct net {
	struct ev_loop		*loop;
	struct model		*model;
	net_change_cb		 change;
	void			*arg;

	void			*dealer;
	void			*sub;
	struct ev_io		*dealer_io;
	struct ev_io		*sub_io;
	char			*publish;	/* as hello said */
	struct ev_timer		*tick;

	enum net_state		 state;
	char			*role;
	int			 protocol;
	uint64_t		 heard;
	uint64_t		 hello_at;
	int			 snapshot_out;
	u_int			 resyncs;
	json_int_t		 next_id;
	TAILQ_HEAD(, net_req)	 reqs;
};

static void	net_hello(struct net *);
static void	net_dealer_read(struct ev_loop *, int, void *);
static void	net_sub_read(struct ev_loop *, int, void *);

static void
net_fail_all(struct net *n, const char *why)
{
	struct net_req	*r;

	while ((r = TAILQ_FIRST(&n->reqs)) != NULL) {
		TAILQ_REMOVE(&n->reqs, r, entry);
		r->cb(NULL, why, r->arg);
		free(r);
	}
}

static void
net_close(struct net *n)
{
	ev_io_del(n->dealer_io);
	ev_io_del(n->sub_io);
	n->dealer_io = n->sub_io = NULL;
	if (n->dealer != NULL)
		zmq_close(n->dealer);
	if (n->sub != NULL)
		zmq_close(n->sub);
	n->dealer = n->sub = NULL;
}

/*
 * A socket that lingers 0 ms, so closing it never waits for the daemon,
 * and that authenticates as client.c's sockets do.
 */
static void *
net_socket(int type)
{
	void	*s;
	int	 linger = 0, hwm = 100000;

	if ((s = zmq_socket(client_context(), type)) == NULL)
		fatal("zmq_socket");
	if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
	    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0)
		fatal("zmq_setsockopt");
	/* With a key pair, a CURVE client (client_key_ready checked it). */
	if (client_secure(s) != 0)
		fatalx("cannot make a CURVE socket");
	return (s);
}

/* Make the DEALER again: what the old one queued is dropped with it. */
static void
net_connect(struct net *n)
{
	net_close(n);
	n->dealer = net_socket(ZMQ_DEALER);
	if (zmq_connect(n->dealer, client_endpoint()) != 0)
		fatal("cannot connect to %s", client_endpoint());
	n->dealer_io = ev_zmq_add(n->loop, n->dealer, EV_READ,
	    net_dealer_read, n);
}

static void
net_subscribe(struct net *n)
{
	ev_io_del(n->sub_io);
	if (n->sub != NULL)
		zmq_close(n->sub);
	n->sub = net_socket(ZMQ_SUB);
	if (zmq_connect(n->sub, n->publish) != 0) {
		log_warn("cannot subscribe to %s", n->publish);
		zmq_close(n->sub);
		n->sub = NULL;
		n->sub_io = NULL;
		return;
	}
	zmq_setsockopt(n->sub, ZMQ_SUBSCRIBE, "", 0);
	n->sub_io = ev_zmq_add(n->loop, n->sub, EV_READ, net_sub_read, n);
}

static void
net_set_state(struct net *n, enum net_state state)
{
	if (n->state == state)
		return;
	n->state = state;
	n->change(n->arg);
}

/*
 * Send REQ (taken) with the key when ADMIN; CB gets the reply, or NULL
 * and why, exactly once.
 */
void
net_request(struct net *n, json_t *req, int admin, net_reply_cb cb,
    void *arg)
{
	struct net_req	*r;

	r = xcalloc(1, sizeof *r);
	r->id = ++n->next_id;
	r->sent = ev_now(n->loop);
	r->cb = cb;
	r->arg = arg;
	json_object_set_new(req, "id", json_integer(r->id));
	if (n->dealer == NULL ||
	    zmq_send(n->dealer, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1 ||
	    client_send(n->dealer, req, admin) == -1) {
		json_decref(req);
		cb(NULL, "cannot send to beekeeperd now", arg);
		free(r);
		return;
	}
	json_decref(req);
	TAILQ_INSERT_TAIL(&n->reqs, r, entry);
}

static void
net_audit_done(json_t *reply, const char *why, void *arg)
{
	struct net	*n = arg;

	if (reply == NULL)
		return;
	model_audit(n->model, reply);
	n->change(n->arg);
}

static void
net_snapshot_done(json_t *reply, const char *why, void *arg)
{
	struct net	*n = arg;

	n->snapshot_out = 0;
	if (reply == NULL)
		return;		/* the tick asks again */
	n->resyncs++;
	if (model_snapshot(n->model, reply) == MODEL_APPLIED) {
		net_set_state(n, NET_SYNCED);
		/* The commands given before: the audit is not in the state. */
		net_request(n, json_pack("{s:s, s:i}", "cmd", "audit",
		    "limit", 50), 0, net_audit_done, n);
	}
	n->change(n->arg);
}

/* Ask for the state again (the model holds what comes meanwhile). */
static void
net_resync(struct net *n)
{
	model_unsync(n->model);
	net_set_state(n, NET_SYNCING);
	if (n->snapshot_out)
		return;
	n->snapshot_out = 1;
	net_request(n, json_pack("{s:s}", "cmd", "snapshot"), 0,
	    net_snapshot_done, n);
}

static void
net_hello_done(json_t *reply, const char *why, void *arg)
{
	struct net	*n = arg;
	const char	*publish, *role;

	if (reply == NULL)
		return;		/* the tick says hello again */
	publish = json_string_value(json_object_get(reply, "publish"));
	role = json_string_value(json_object_get(reply, "role"));
	free(n->role);
	n->role = xstrdup(role != NULL ? role : "viewer");
	n->protocol = json_number(reply, "protocol", 0);
	if (publish != NULL && (n->sub == NULL || n->publish == NULL ||
	    strcmp(publish, n->publish) != 0)) {
		free(n->publish);
		n->publish = xstrdup(publish);
		net_subscribe(n);
	}
	/* Subscribed first: the snapshot's S then has messages after it. */
	net_resync(n);
}

static void
net_hello(struct net *n)
{
	n->hello_at = ev_now(n->loop);
	net_request(n, json_pack("{s:s, s:s}", "cmd", "hello", "name",
	    "console"), client_has_key(), net_hello_done, n);
}

static void
net_dealer_read(struct ev_loop *loop, int fd, void *arg)
{
	struct net	*n = arg;
	struct net_req	*r;
	zmq_msg_t	 msg;
	json_t		*reply;
	json_int_t	 id;
	const char	*why;

	for (;;) {
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, n->dealer, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&msg);
			break;
		}
		/* The empty delimiter frame comes first. */
		if (zmq_msg_size(&msg) == 0 && zmq_msg_more(&msg)) {
			zmq_msg_close(&msg);
			continue;
		}
		reply = json_loadb(zmq_msg_data(&msg), zmq_msg_size(&msg), 0,
		    NULL);
		zmq_msg_close(&msg);
		n->heard = ev_now(loop);
		id = json_number(reply, "id", -1);
		TAILQ_FOREACH(r, &n->reqs, entry) {
			if (r->id == id)
				break;
		}
		if (r == NULL) {
			json_decref(reply);
			continue;
		}
		TAILQ_REMOVE(&n->reqs, r, entry);
		if (!json_is_object(reply))
			r->cb(NULL, "beekeeperd answered with something that "
			    "is not a reply", r->arg);
		else if (!json_is_true(json_object_get(reply, "ok"))) {
			why = json_string_value(json_object_get(reply,
			    "error"));
			r->cb(NULL, why != NULL ? why :
			    "refused, without saying why", r->arg);
		} else
			r->cb(reply, NULL, r->arg);
		json_decref(reply);
		free(r);
		if (n->dealer == NULL)
			break;
	}
}

/* One published message, read whole; 0, or -1 when there is none. */
static int
net_sub_one(struct net *n, char **topic, json_t **msg)
{
	zmq_msg_t	 f;
	int		 more, i;

	*topic = NULL;
	*msg = NULL;
	for (i = 0;; i++) {
		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, n->sub, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&f);
			return (i == 0 ? -1 : 0);
		}
		if (i == 0)
			*topic = xstrndup(zmq_msg_data(&f), zmq_msg_size(&f));
		else if (i == 1)
			*msg = json_loadb(zmq_msg_data(&f), zmq_msg_size(&f),
			    0, NULL);
		more = zmq_msg_more(&f);
		zmq_msg_close(&f);
		if (!more)
			return (0);
	}
}

static void
net_sub_read(struct ev_loop *loop, int fd, void *arg)
{
	struct net		*n = arg;
	enum model_result	 r;
	char			*topic;
	json_t			*msg;
	int			 changed = 0;

	while (n->sub != NULL && net_sub_one(n, &topic, &msg) == 0) {
		n->heard = ev_now(loop);
		if (n->state == NET_DISCONNECTED) {
			/* Heard again: say hello, then resync. */
			net_set_state(n, NET_CONNECTING);
			net_hello(n);
		}
		if (strcmp(topic, PROTO_TOPIC_HEARTBEAT) == 0)
			r = model_heartbeat(n->model, msg);
		else
			r = model_apply(n->model, topic, msg);
		if (r == MODEL_APPLIED)
			changed = 1;
		else if ((r == MODEL_GAP || r == MODEL_RESTART) &&
		    n->state != NET_CONNECTING)
			net_resync(n);
		json_decref(msg);
		free(topic);
	}
	if (changed)
		n->change(n->arg);
}

/*
 * Every NET_TICK_MS: fail requests that waited too long, notice silence,
 * and while disconnected say hello again.
 */
static void
net_tick(struct ev_loop *loop, void *arg)
{
	struct net	*n = arg;
	struct net_req	*r;
	uint64_t	 now = ev_now(loop);

	n->tick = ev_timer_add(loop, NET_TICK_MS, net_tick, n);
	while ((r = TAILQ_FIRST(&n->reqs)) != NULL &&
	    now - r->sent > CLIENT_TIMEOUT_MS) {
		TAILQ_REMOVE(&n->reqs, r, entry);
		r->cb(NULL, "no answer from beekeeperd in 5 s", r->arg);
		free(r);
	}
	if (n->state != NET_DISCONNECTED && now - n->heard > NET_SILENT_MS) {
		net_set_state(n, NET_DISCONNECTED);
		n->hello_at = 0;
	}
	if (n->state == NET_DISCONNECTED &&
	    now - n->hello_at >= NET_RETRY_MS) {
		net_fail_all(n, "disconnected from beekeeperd");
		net_connect(n);
		if (n->publish != NULL)
			net_subscribe(n);
		net_hello(n);
	}
	if (n->state == NET_SYNCING && !n->snapshot_out)
		net_resync(n);
}

struct net *
net_create(struct ev_loop *loop, struct model *model, net_change_cb change,
    void *arg)
{
	struct net	*n;

	n = xcalloc(1, sizeof *n);
	n->loop = loop;
	n->model = model;
	n->change = change;
	n->arg = arg;
	n->role = xstrdup(client_has_key() ? "admin" : "viewer");
	TAILQ_INIT(&n->reqs);
	n->state = NET_CONNECTING;
	n->heard = ev_now(loop);
	net_connect(n);
	net_hello(n);
	n->tick = ev_timer_add(loop, NET_TICK_MS, net_tick, n);
	return (n);
}

void
net_free(struct net *n)
{
	if (n == NULL)
		return;
	net_fail_all(n, "the console is closing");
	ev_timer_del(n->tick);
	net_close(n);
	free(n->publish);
	free(n->role);
	free(n);
}

enum net_state
net_state(const struct net *n)
{
	return (n->state);
}

const char *
net_state_text(const struct net *n)
{
	switch (n->state) {
	case NET_CONNECTING:
		return ("connecting");
	case NET_SYNCING:
		return ("connected, syncing");
	case NET_SYNCED:
		return ("connected");
	case NET_DISCONNECTED:
		break;
	}
	return ("disconnected, retrying");
}

const char *
net_role(const struct net *n)
{
	return (n->role);
}

int
net_protocol(const struct net *n)
{
	return (n->protocol);
}

u_int
net_resyncs(const struct net *n)
{
	return (n->resyncs);
}
