/*
 * The commands that follow the daemon over time: log, which prints a
 * task's log and with -f keeps printing it while it grows, and watch,
 * which subscribes to the publish socket and prints each message as it
 * comes. Both run until their end (a finished task) or until interrupted,
 * and flush every line, so output sent to a file or a pipe is there at
 * once and survives a kill.
 *
 * log polls, as tail -f does: the protocol has no push for log bytes, and
 * a request every FOLLOW_POLL_MS with the offset the last reply gave
 * costs the daemon one read of what is new.
 */

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "proto.h"
#include "tui.h"

#define FOLLOW_POLL_MS		200
/* Heartbeats missed before watch says the daemon is silent. */
#define FOLLOW_SILENT_MS	(3 * PROTO_HEARTBEAT_MS)

/*
 * What watch prints of each topic after "seq topic op key": the members
 * named, a bare value (skipped when null or empty) or "name=value", then
 * what fmt makes of the object.
 */
static const struct follow_topic {
	const char	*topic;
	const char	*key;
	const char	*fields[5];
	char		*(*fmt[2])(const json_t *);
} follow_topics[] = {
	{ .topic = PROTO_TOPIC_BUILD, .key = "id",
	  .fields = { "project", "ref", "state", "reason" } },
	{ .topic = PROTO_TOPIC_TASK, .key = "id",
	  .fields = { "build=", "slug", "state", "reason" } },
	{ .topic = PROTO_TOPIC_POOL, .key = "name",
	  .fields = { "instances=", "busy=", "queued=", "cap=" } },
	{ .topic = PROTO_TOPIC_INSTANCE, .key = "id",
	  .fields = { "pool", "state", "busy=", "reason" } },
	{ .topic = PROTO_TOPIC_PROJECT, .key = "repo",
	  .fields = { "state" } },
	{ .topic = PROTO_TOPIC_AUDIT, .key = "id",
	  .fields = { "who" }, .fmt = { act_describe, act_outcome } },
};

/* beekeeper log BUILD SLUG [-f]: a task's log, followed with -f. */
int
cmd_log(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	json_t				*req, *reply, *data;
	json_int_t			 offset = 0, next, size;
	int				 ch, follow = 0, finished, rc;

	while ((ch = getopt_long(argc, argv, "fj", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			follow = 1;
			break;
		case 'j':
			json_output = 1;
			break;
		default:
			return (cmd_usage("log"));
		}
	}
	if (argc - optind != 2)
		return (cmd_usage("log"));
	req = json_pack("{s:s, s:o, s:s, s:I}", "cmd", "log", "build",
	    client_number(argv[optind]), "task", argv[optind + 1],
	    "offset", offset);

	for (;;) {
		if ((rc = client_request(req, 0, &reply)) != 0)
			break;
		data = json_object_get(reply, "data");
		if (json_output)
			client_print_json(reply, 1);
		else if (json_is_string(data)) {
			fwrite(json_string_value(data), 1,
			    json_string_length(data), stdout);
			fflush(stdout);
		}
		next = json_number(reply, "next", -1);
		size = json_number(reply, "size", -1);
		finished = json_is_true(json_object_get(reply, "finished"));
		json_decref(reply);
		if (next < offset) {
			fprintf(stderr, "beekeeper: beekeeperd gave no 'next' "
			    "offset past %" JSON_INTEGER_FORMAT "\n", offset);
			rc = EXIT_UNREACHABLE;
			break;
		}
		/*
		 * Without -f, the log as it is now, 1 MiB a reply at most,
		 * and never twice the same offset.
		 */
		if (finished || (!follow && (next >= size || next == offset)))
			break;
		if (next == offset)
			poll(NULL, 0, FOLLOW_POLL_MS);
		offset = next;
		json_object_set_new(req, "offset", json_integer(offset));
	}
	json_decref(req);
	client_close();
	return (rc);
}

/* "seq topic op key summary", one line for a person. */
static void
follow_line(const char *topic, const json_t *msg)
{
	const struct follow_topic	*ft = NULL;
	const json_t			*data = json_object_get(msg, "data");
	const char			*f, *op = json_text(msg, "op");
	const char			*key = "id";
	struct buf			 b;
	size_t				 i, len;
	char				*s, name[32];

	for (i = 0; i < nitems(follow_topics); i++) {
		if (strcmp(follow_topics[i].topic, topic) == 0)
			ft = &follow_topics[i];
	}
	if (ft != NULL)
		key = ft->key;
	/* A deletion's data is the key alone. */
	if (op != NULL && strcmp(op, "delete") == 0)
		ft = NULL;
	buf_init(&b, 0);
	buf_printf(&b, "%" JSON_INTEGER_FORMAT " %s %s",
	    json_number(msg, "seq", 0), topic, op != NULL ? op : "-");
	s = fmt_value(json_object_get(data, key));
	buf_printf(&b, " %s", s);
	free(s);
	for (i = 0; ft != NULL && i < nitems(ft->fields); i++) {
		if ((f = ft->fields[i]) == NULL)
			break;
		len = strlen(f);
		if (f[len - 1] == '=') {
			snprintf(name, sizeof name, "%.*s", (int)len - 1, f);
			s = fmt_value(json_object_get(data, name));
			buf_printf(&b, " %s%s", f, s);
		} else {
			s = fmt_value(json_object_get(data, f));
			if (strcmp(s, "-") != 0 && *s != '\0')
				buf_printf(&b, " %s", s);
		}
		free(s);
	}
	for (i = 0; ft != NULL && i < nitems(ft->fmt); i++) {
		if (ft->fmt[i] == NULL)
			continue;
		s = ft->fmt[i](data);
		buf_printf(&b, " %s", s);
		free(s);
	}
	b.data[strcspn(b.data, "\r\n")] = '\0';
	printf("%s\n", b.data);
	buf_release(&b);
}

/* The publish endpoint, from hello; NULL with the exit status in *RC. */
static char *
follow_publish(int *rc)
{
	json_t		*req, *reply;
	const char	*s;
	char		*endpoint = NULL;

	req = json_pack("{s:s}", "cmd", "hello");
	*rc = client_request(req, 0, &reply);
	json_decref(req);
	if (*rc != 0)
		return (NULL);
	if ((s = json_text(reply, "publish")) == NULL) {
		fprintf(stderr, "beekeeper: beekeeperd at %s named no publish "
		    "endpoint\n", client_endpoint());
		*rc = EXIT_UNREACHABLE;
	} else
		endpoint = xstrdup(s);
	json_decref(reply);
	return (endpoint);
}

/* Receive one frame as a string of the caller's; NULL on EAGAIN. */
static char *
follow_frame(void *sub, int *more)
{
	zmq_msg_t	 msg;
	char		*s;

	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, sub, ZMQ_DONTWAIT) == -1) {
		zmq_msg_close(&msg);
		*more = 0;
		return (NULL);
	}
	s = xstrndup(zmq_msg_data(&msg), zmq_msg_size(&msg));
	*more = zmq_msg_more(&msg);
	zmq_msg_close(&msg);
	return (s);
}

/*
 * Check MSG's sequence number against the last one seen (*LAST, -1 at
 * first) and say on stderr when messages were missed or the daemon
 * started again. Only meaningful when subscribed to every topic.
 */
static void
follow_check_seq(const char *topic, const json_t *msg, json_int_t *last)
{
	json_int_t	 seq = json_number(msg, "seq", -1);
	int		 hb = strcmp(topic, PROTO_TOPIC_HEARTBEAT) == 0;

	if (seq < 0)
		return;
	if (*last >= 0 && (hb ? seq < *last : seq <= *last))
		fprintf(stderr, "beekeeper: beekeeperd started again (seq "
		    "%" JSON_INTEGER_FORMAT " after %" JSON_INTEGER_FORMAT
		    ")\n", seq, *last);
	else if (*last >= 0 && (hb ? seq > *last : seq > *last + 1))
		fprintf(stderr, "beekeeper: missed messages %"
		    JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT "\n",
		    *last + 1, hb ? seq : seq - 1);
	fflush(stderr);
	*last = seq;
}

/* Subscribe to the publish endpoint; the socket, or NULL said why. */
static void *
follow_subscribe(const char *endpoint, int argc, char **argv)
{
	void	*sub;
	int	 linger = 0, hwm = 100000, i;

	if ((sub = zmq_socket(client_context(), ZMQ_SUB)) == NULL)
		fatal("zmq_socket");
	if (zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
	    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0)
		fatal("zmq_setsockopt");
	/* With a key pair, the publisher admits only known keys. */
	if (client_secure(sub) != 0) {
		zmq_close(sub);
		return (NULL);
	}
	if (zmq_connect(sub, endpoint) != 0) {
		fprintf(stderr, "beekeeper: cannot subscribe to %s: %s\n",
		    endpoint, zmq_strerror(errno));
		zmq_close(sub);
		return (NULL);
	}
	/* Heartbeats always, to notice silence; printed only if asked. */
	if (argc == 0)
		zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
	else
		zmq_setsockopt(sub, ZMQ_SUBSCRIBE, PROTO_TOPIC_HEARTBEAT,
		    strlen(PROTO_TOPIC_HEARTBEAT));
	for (i = 0; i < argc; i++)
		zmq_setsockopt(sub, ZMQ_SUBSCRIBE, argv[i], strlen(argv[i]));
	return (sub);
}

/* Print one message: a line, or with --json its object and "topic". */
static void
follow_print(const char *topic, json_t *msg)
{
	if (json_output) {
		json_object_set_new(msg, "topic", json_string(topic));
		client_print_json(msg, 1);
	} else {
		follow_line(topic, msg);
		fflush(stdout);
	}
}

/*
 * beekeeper watch [topic ...]: print what the daemon publishes, all
 * topics but heartbeats unless topics are named, until interrupted.
 */
int
cmd_watch(int argc, char **argv)
{
	zmq_pollitem_t	 item;
	json_t		*msg;
	json_int_t	 last = -1;
	uint64_t	 heard;
	void		*sub;
	char		*endpoint, *topic, *body;
	int		 i, j, rc, more, n, silent = 0, want_hb = 0;

	if ((i = cmd_options(argc, argv)) < 0)
		return (cmd_usage("watch"));
	for (j = i; j < argc; j++) {
		if (strcmp(argv[j], PROTO_TOPIC_HEARTBEAT) == 0)
			want_hb = 1;
	}
	if ((endpoint = follow_publish(&rc)) == NULL) {
		client_close();
		return (rc);
	}
	if ((sub = follow_subscribe(endpoint, argc - i, argv + i)) == NULL) {
		free(endpoint);
		client_close();
		return (EXIT_UNREACHABLE);
	}

	heard = util_mono_ms();
	for (;;) {
		memset(&item, 0, sizeof item);
		item.socket = sub;
		item.events = ZMQ_POLLIN;
		if ((n = zmq_poll(&item, 1, PROTO_HEARTBEAT_MS)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "beekeeper: zmq_poll: %s\n",
			    zmq_strerror(errno));
			break;
		}
		if (n == 0 && !silent &&
		    util_mono_ms() - heard > FOLLOW_SILENT_MS) {
			fprintf(stderr, "beekeeper: no heartbeat from "
			    "beekeeperd at %s for %d s\n", endpoint,
			    FOLLOW_SILENT_MS / 1000);
			silent = 1;
		}
		while ((topic = follow_frame(sub, &more)) != NULL) {
			body = more ? follow_frame(sub, &more) : NULL;
			while (more)
				free(follow_frame(sub, &more));
			heard = util_mono_ms();
			if (silent)
				fprintf(stderr, "beekeeper: beekeeperd at %s "
				    "is heard again\n", endpoint);
			silent = 0;
			msg = body != NULL ? json_loads(body, 0, NULL) : NULL;
			if (!json_is_object(msg))
				fprintf(stderr, "beekeeper: a message on topic "
				    "'%s' that is not a JSON object\n", topic);
			else {
				if (argc == i)
					follow_check_seq(topic, msg, &last);
				if (strcmp(topic, PROTO_TOPIC_HEARTBEAT) != 0 ||
				    want_hb)
					follow_print(topic, msg);
			}
			json_decref(msg);
			free(body);
			free(topic);
		}
	}
	zmq_close(sub);
	free(endpoint);
	client_close();
	return (EXIT_UNREACHABLE);
}
