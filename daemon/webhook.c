/*
 * POST /github/webhook: the checks a delivery must pass before it is
 * stored, in the order that lets a sender learn the most from one answer.
 * Headers and size are judged before the body is read (405, 415, 413, 400),
 * then the signature over the raw body (401), then the payload (400). A
 * delivery that passes is handed to the intake and its connection waits
 * for the group commit: 202 when it is on disk, 200 if its id was seen
 * before, 503 if the store failed.
 *
 * Every refusal is logged with the delivery id and the client address,
 * never with the body or the secret.
 */

#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "daemon.h"

struct webhook {
	struct ev_loop		*loop;
	struct intake		*intake;
	const struct config	**conf;
};

/* What a request learnt in begin() and needs again in end(). */
struct webhook_req {
	int			 form;
	char			 id[DELIVERY_ID_MAX + 1];
	char			 event[EVENT_NAME_MAX + 1];
};

static int
webhook_token_ok(const char *s, size_t max, const char *extra)
{
	size_t	 len = strlen(s), i;

	if (len == 0 || len > max)
		return (0);
	for (i = 0; i < len; i++) {
		if (!isalnum((u_char)s[i]) && strchr(extra, s[i]) == NULL)
			return (0);
	}
	return (1);
}

/* Answer with a reason and log it with the delivery id and the client. */
static void
webhook_refuse(struct httpd_req *req, u_int status, const char *id,
    const char *reason, const char *detail)
{
	log_warn("webhook: delivery %s from %s: %u %s%s%s",
	    id != NULL ? id : "-", httpd_remote(req), status, reason,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	httpd_respond(req, status, "%u %s%s%s", status, reason,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

static size_t
webhook_max_body(void *arg)
{
	struct webhook	*wh = arg;

	return ((*wh->conf)->max_delivery_size);
}

static void
webhook_begin(struct httpd_req *req, void *arg)
{
	struct webhook		*wh = arg;
	struct webhook_req	*wr;
	const char		*ctype, *clen, *id, *event;
	char			 type[128], *semi;
	unsigned long long	 n;
	char			*end;

	id = httpd_header(req, "X-GitHub-Delivery");
	event = httpd_header(req, "X-GitHub-Event");
	ctype = httpd_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ctype == NULL) {
		webhook_refuse(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, id,
		    "no Content-Type; send application/json", NULL);
		return;
	}
	util_strlcpy(type, ctype, sizeof type);
	if ((semi = strchr(type, ';')) != NULL)
		*semi = '\0';
	while ((end = strrchr(type, ' ')) != NULL && end[1] == '\0')
		*end = '\0';
	wr = xcalloc(1, sizeof *wr);
	httpd_set_data(req, wr);
	if (strcasecmp(type, "application/x-www-form-urlencoded") == 0)
		wr->form = 1;
	else if (strcasecmp(type, "application/json") != 0) {
		webhook_refuse(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, id,
		    "Content-Type must be application/json or "
		    "application/x-www-form-urlencoded, not", type);
		return;
	}

	clen = httpd_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (clen != NULL && (n = strtoull(clen, &end, 10),
	    *end == '\0') && n > (*wh->conf)->max_delivery_size) {
		webhook_refuse(req, MHD_HTTP_CONTENT_TOO_LARGE, id,
		    "delivery larger than the limit (github.max_delivery_size)",
		    NULL);
		return;
	}
	if (event == NULL) {
		webhook_refuse(req, MHD_HTTP_BAD_REQUEST, id,
		    "no X-GitHub-Event header", NULL);
		return;
	}
	if (!webhook_token_ok(event, EVENT_NAME_MAX, "_")) {
		webhook_refuse(req, MHD_HTTP_BAD_REQUEST, id,
		    "X-GitHub-Event is not an event name", NULL);
		return;
	}
	if (id == NULL) {
		webhook_refuse(req, MHD_HTTP_BAD_REQUEST, NULL,
		    "no X-GitHub-Delivery header", NULL);
		return;
	}
	if (!webhook_token_ok(id, DELIVERY_ID_MAX, "-_.")) {
		webhook_refuse(req, MHD_HTTP_BAD_REQUEST, NULL,
		    "X-GitHub-Delivery must be 1 to 64 letters, digits, "
		    "'-', '_' or '.'", NULL);
		return;
	}
	util_strlcpy(wr->id, id, sizeof wr->id);
	util_strlcpy(wr->event, event, sizeof wr->event);
}

/*
 * Find payload= in a form body and decode it. Returns the JSON text (the
 * caller's) or NULL.
 */
static char *
webhook_form_payload(const char *body, size_t len, size_t *outlen)
{
	const char	*p = body, *end = body + len, *amp;
	char		*raw, *s, *decoded, *out;
	int		 n;

	while (p < end) {
		amp = memchr(p, '&', end - p);
		if (amp == NULL)
			amp = end;
		if (amp - p >= 8 && memcmp(p, "payload=", 8) == 0) {
			raw = xstrndup(p + 8, amp - p - 8);
			for (s = raw; *s != '\0'; s++) {
				if (*s == '+')
					*s = ' ';
			}
			decoded = curl_easy_unescape(NULL, raw, 0, &n);
			free(raw);
			if (decoded == NULL)
				return (NULL);
			out = xmalloc(n + 1);
			memcpy(out, decoded, n);
			out[n] = '\0';
			curl_free(decoded);
			*outlen = n;
			return (out);
		}
		p = amp + 1;
	}
	return (NULL);
}

static void
webhook_stored(enum intake_result r, const char *why, void *arg)
{
	struct httpd_req	*req = arg;
	struct webhook_req	*wr = httpd_get_data(req);

	switch (r) {
	case INTAKE_STORED:
		httpd_respond(req, MHD_HTTP_ACCEPTED,
		    "202 accepted: delivery %s stored", wr->id);
		break;
	case INTAKE_DUPLICATE:
		log_info("webhook: delivery %s from %s: 200 already received",
		    wr->id, httpd_remote(req));
		httpd_respond(req, MHD_HTTP_OK,
		    "200 delivery %s was already received; nothing new done",
		    wr->id);
		break;
	case INTAKE_FAILED:
		webhook_refuse(req, MHD_HTTP_SERVICE_UNAVAILABLE, wr->id,
		    "delivery not stored, the store failed; redeliver it "
		    "later", why);
		break;
	}
}

static void
webhook_end(struct httpd_req *req, void *arg)
{
	struct webhook		*wh = arg;
	const struct config	*conf = *wh->conf;
	struct webhook_req	*wr = httpd_get_data(req);
	const struct buf	*body = httpd_body(req);
	struct delivery		*d;
	const char		*algo, *why;
	char			*payload, detail[256];
	size_t			 len;
	json_t			*json;
	json_error_t		 jerr;

	if (httpd_too_large(req)) {
		webhook_refuse(req, MHD_HTTP_CONTENT_TOO_LARGE, wr->id,
		    "delivery larger than the limit (github.max_delivery_size)",
		    NULL);
		return;
	}
	if (signature_check(conf->webhook_secret, conf->webhook_secret_len,
	    body->data != NULL ? body->data : "", body->len,
	    httpd_header(req, "X-Hub-Signature-256"),
	    httpd_header(req, "X-Hub-Signature"), conf->legacy_signatures,
	    &algo, &why) != 0) {
		webhook_refuse(req, MHD_HTTP_UNAUTHORIZED, wr->id,
		    "signature rejected", why);
		return;
	}

	if (wr->form) {
		payload = webhook_form_payload(body->data != NULL ?
		    body->data : "", body->len, &len);
		if (payload == NULL) {
			webhook_refuse(req, MHD_HTTP_BAD_REQUEST, wr->id,
			    "form body has no payload= field", NULL);
			return;
		}
	} else {
		len = body->len;
		payload = xmalloc(len + 1);
		if (len != 0)
			memcpy(payload, body->data, len);
		payload[len] = '\0';
	}
	if ((json = json_loadb(payload, len, 0, &jerr)) == NULL) {
		/* jansson's text quotes the body: give the place only. */
		snprintf(detail, sizeof detail, "error at line %d, column %d",
		    jerr.line, jerr.column);
		free(payload);
		webhook_refuse(req, MHD_HTTP_BAD_REQUEST, wr->id,
		    "payload is not JSON", detail);
		return;
	}
	if (!json_is_object(json)) {
		json_decref(json);
		free(payload);
		webhook_refuse(req, MHD_HTTP_BAD_REQUEST, wr->id,
		    "payload must be a JSON object", NULL);
		return;
	}

	d = xcalloc(1, sizeof *d);
	util_strlcpy(d->id, wr->id, sizeof d->id);
	util_strlcpy(d->event, wr->event, sizeof d->event);
	util_strlcpy(d->remote, httpd_remote(req), sizeof d->remote);
	d->signature = algo;
	d->content_type = wr->form ? "form" : "json";
	d->received_at = ev_time(wh->loop);
	d->payload = payload;
	d->payload_len = len;
	d->json = json;
	log_debug("webhook: delivery %s from %s: %s event, %zu bytes, %s "
	    "signature", d->id, d->remote, d->event, len, algo);
	intake_submit(wh->intake, d, webhook_stored, req);
	httpd_suspend(req);
}

static void
webhook_cancel(struct httpd_req *req, void *arg)
{
	struct webhook	*wh = arg;

	intake_cancel(wh->intake, req);
	free(httpd_get_data(req));
	httpd_set_data(req, NULL);
}

static const struct httpd_route webhook_route = {
	.path = "/github/webhook",
	.methods = "POST",
	.max_body = webhook_max_body,
	.begin = webhook_begin,
	.end = webhook_end,
	.cancel = webhook_cancel,
};

struct webhook *
webhook_create(struct ev_loop *loop, struct httpd *h, struct intake *in,
    const struct config **conf)
{
	struct webhook	*wh;

	wh = xcalloc(1, sizeof *wh);
	wh->loop = loop;
	wh->intake = in;
	wh->conf = conf;
	httpd_route(h, &webhook_route, wh);
	return (wh);
}

void
webhook_free(struct webhook *wh)
{
	free(wh);
}
