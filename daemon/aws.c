/*
 * The daemon's AWS client: one call is one action of EC2 (the Query API,
 * answers in XML), ECS or CloudWatch Logs (JSON 1.1), signed with SigV4
 * (sigv4.c) with the credentials aws-creds.c finds, sent through the
 * loop's HTTP client, and answered once: with the body, or with a
 * sentence that names the service, the action, AWS's error code and its
 * message.
 *
 * Throttling (RequestLimitExceeded, ThrottlingException and their kin),
 * 5xx answers and network errors are retried with jittered exponential
 * backoff, up to AWS_ATTEMPTS attempts, while a retry quota allows: a
 * token bucket, as AWS's SDKs keep, that retries spend and successes
 * refill, so an outage makes the daemon back off as a whole instead of
 * multiplying its calls. Every other error is the caller's at once.
 *
 * Invariants:
 * - A call's callback runs exactly once, never from inside aws_call(),
 *   unless the call is cancelled first, and then never.
 * - Nothing this file logs or returns holds a secret key, a session
 *   token or a signature.
 */

#include "config.h"

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon.h"

#define AWS_ATTEMPTS		6
#define AWS_BACKOFF_MS		200
#define AWS_BACKOFF_MAX_MS	(20 * 1000)
#define AWS_TIMEOUT_MS		(30 * 1000)
#define AWS_ANSWER_MAX		(16 * 1024 * 1024)
#define AWS_QUOTA		500	/* the retry bucket's tokens */
#define AWS_QUOTA_RETRY		5
#define AWS_QUOTA_TIMEOUT	10
#define AWS_EC2_VERSION		"2016-11-15"

struct aws_service_def {
	const char	*name;		/* in the host and the signature */
	const char	*label;		/* for people */
	const char	*target;	/* JSON: X-Amz-Target's prefix */
};

static const struct aws_service_def aws_services[] = {
	[AWS_EC2] = { "ec2", "EC2", NULL },
	[AWS_ECS] = { "ecs", "ECS", "AmazonEC2ContainerServiceV20141113" },
	[AWS_LOGS] = { "logs", "CloudWatch Logs", "Logs_20140328" },
};

/* Codes that mean "slow down" or "not now", whatever the status. */
static const char *aws_retry_codes[] = {
	"RequestLimitExceeded", "Throttling", "ThrottlingException",
	"ThrottledException", "RequestThrottled", "RequestThrottledException",
	"TooManyRequestsException", "ProvisionedThroughputExceededException",
	"TransactionInProgressException", "SlowDown", "EC2ThrottledException",
	"InternalError", "InternalFailure", "ServiceUnavailable",
	"ServiceUnavailableException", "Unavailable", "RequestTimeout",
	"RequestTimeoutException", "PriorRequestNotComplete",
};

struct aws_call {
	struct aws		*aws;
	uint64_t		 id;
	enum aws_service	 svc;
	char			*action;
	char			*body;
	aws_cb			 cb;
	void			*arg;
	u_int			 attempts;
	uint64_t		 xfer;
	struct ev_timer		*wait;
	int			 asking;	/* for credentials */
	int			 cancelled;
	TAILQ_ENTRY(aws_call)	 entry;
};

struct aws {
	struct ev_loop		*loop;
	struct http		*http;
	struct aws_auth		*auth;
	char			*region;
	char			*endpoint;	/* NULL: AWS's own */
	uint64_t		 next_id;
	int			 quota;
	uint64_t		 retries;
	uint64_t		 errors;
	TAILQ_HEAD(, aws_call)	 calls;
};

static void	aws_send(struct aws_call *);

struct aws *
aws_create(struct ev_loop *loop, struct http *http, const char *region,
    const char *endpoint, const char *profile, const char *imds)
{
	struct aws	*aws = xcalloc(1, sizeof *aws);
	size_t		 len;

	aws->loop = loop;
	aws->http = http;
	aws->auth = aws_auth_create(loop, http, profile, imds);
	aws->region = xstrdup(region);
	if (endpoint != NULL && *endpoint != '\0') {
		aws->endpoint = xstrdup(endpoint);
		len = strlen(aws->endpoint);
		while (len > 0 && aws->endpoint[len - 1] == '/')
			aws->endpoint[--len] = '\0';
	}
	aws->quota = AWS_QUOTA;
	aws->next_id = 1;
	TAILQ_INIT(&aws->calls);
	return (aws);
}

static void
aws_call_free(struct aws_call *c)
{
	if (c->wait != NULL)
		ev_timer_del(c->wait);
	if (c->xfer != 0)
		http_cancel(c->aws->http, c->xfer);
	free(c->action);
	free(c->body);
	free(c);
}

void
aws_free(struct aws *aws)
{
	struct aws_call	*c;

	if (aws == NULL)
		return;
	while ((c = TAILQ_FIRST(&aws->calls)) != NULL) {
		TAILQ_REMOVE(&aws->calls, c, entry);
		aws_call_free(c);
	}
	aws_auth_free(aws->auth);
	free(aws->region);
	free(aws->endpoint);
	free(aws);
}

/* The service's URL, and the host (with the port, if given) it names. */
static void
aws_url(struct aws *aws, enum aws_service svc, char **url, char **host)
{
	const char	*p;

	if (aws->endpoint != NULL)
		xasprintf(url, "%s/", aws->endpoint);
	else
		xasprintf(url, "https://%s.%s.amazonaws.com/",
		    aws_services[svc].name, aws->region);
	p = strstr(*url, "://");
	p = p != NULL ? p + 3 : *url;
	*host = xstrndup(p, strcspn(p, "/"));
}

/* Answer the caller and forget the call. */
static void
aws_finish(struct aws_call *c, const struct aws_reply *r)
{
	struct aws	*aws = c->aws;

	TAILQ_REMOVE(&aws->calls, c, entry);
	c->xfer = 0;
	if (!r->ok)
		aws->errors++;
	c->cb(aws, r, c->arg);
	aws_call_free(c);
}

static void
aws_fail(struct aws_call *c, const char *code, long status, const char *why)
{
	struct aws_reply	 r;
	char			*error;

	xasprintf(&error, "%s %s failed: %s", aws_services[c->svc].label,
	    c->action, why);
	memset(&r, 0, sizeof r);
	r.status = status;
	r.code = code;
	r.error = error;
	r.attempts = c->attempts;
	aws_finish(c, &r);
	free(error);
}

static void
aws_wait_cb(struct ev_loop *loop, void *arg)
{
	struct aws_call	*c = arg;

	(void)loop;
	c->wait = NULL;
	aws_send(c);
}

/* Retry after a backoff if attempts and the quota allow; else 0. */
static int
aws_retry(struct aws_call *c, int cost)
{
	struct aws	*aws = c->aws;

	if (c->attempts >= AWS_ATTEMPTS || aws->quota < cost)
		return (0);
	aws->quota -= cost;
	aws->retries++;
	c->wait = ev_timer_add(aws->loop, util_backoff(AWS_BACKOFF_MS,
	    AWS_BACKOFF_MAX_MS, c->attempts - 1), aws_wait_cb, c);
	return (1);
}

/*
 * AWS's error code and message in an answer: EC2's XML
 * (Response/Errors/Error/Code and Message), or JSON's "__type" (the code
 * after any '#') and "message". Copies, or NULL.
 */
void
aws_error_parse(const char *body, size_t len, char **code, char **message)
{
	struct xml_node	*x, *err;
	json_t		*j;
	const char	*t, *m;
	char		*cause = NULL;

	*code = *message = NULL;
	if (len > 0 && body[0] == '<') {
		if ((x = xml_parse(body, len, AWS_ANSWER_MAX, &cause)) ==
		    NULL) {
			free(cause);
			return;
		}
		err = xml_child(xml_child(x, "Errors"), "Error");
		if (err == NULL)	/* some answers omit Response */
			err = strcmp(xml_name(x), "Error") == 0 ? x :
			    xml_child(x, "Error");
		if ((t = xml_get(err, "Code")) != NULL && *t != '\0')
			*code = xstrdup(t);
		if ((m = xml_get(err, "Message")) != NULL && *m != '\0')
			*message = xstrdup(m);
		xml_free(x);
		return;
	}
	if ((j = json_loadb(body, len, 0, NULL)) == NULL)
		return;
	if ((t = json_string_value(json_object_get(j, "__type"))) != NULL) {
		if (strchr(t, '#') != NULL)
			t = strrchr(t, '#') + 1;
		*code = xstrndup(t, strcspn(t, ":"));
	}
	if ((m = json_string_value(json_object_get(j, "message"))) != NULL ||
	    (m = json_string_value(json_object_get(j, "Message"))) != NULL)
		*message = xstrdup(m);
	json_decref(j);
}

static int
aws_retryable(const char *code, long status)
{
	size_t	 i;

	/* EC2 answers these with a 500, but retrying here would only delay
	 * the pool's own answer: another type, or on demand. */
	if (ec2_capacity_error(code))
		return (0);
	if (status >= 500 || status == 429)
		return (1);
	for (i = 0; code != NULL && i < nitems(aws_retry_codes); i++) {
		if (strcmp(code, aws_retry_codes[i]) == 0)
			return (1);
	}
	return (0);
}

static void
aws_http_cb(struct http *h, const struct http_response *resp, void *arg)
{
	struct aws_call		*c = arg;
	struct aws		*aws = c->aws;
	struct aws_reply	 r;
	char			*code = NULL, *message = NULL, *why;

	(void)h;
	c->xfer = 0;
	if (!resp->ok) {
		if (aws_retry(c, AWS_QUOTA_TIMEOUT))
			return;
		xasprintf(&why, "no answer after %u attempts (%s)",
		    c->attempts, resp->cause);
		aws_fail(c, NULL, 0, why);
		free(why);
		return;
	}
	if (resp->status >= 200 && resp->status < 300) {
		if (aws->quota < AWS_QUOTA)
			aws->quota++;
		memset(&r, 0, sizeof r);
		r.ok = 1;
		r.status = resp->status;
		r.body = resp->body->data != NULL ? resp->body->data : "";
		r.len = resp->body->len;
		r.attempts = c->attempts;
		aws_finish(c, &r);
		return;
	}
	aws_error_parse(resp->body->data, resp->body->len, &code, &message);
	if (aws_retryable(code, resp->status) &&
	    aws_retry(c, AWS_QUOTA_RETRY)) {
		log_info("aws: %s %s: %s (HTTP %ld), attempt %u, retrying",
		    aws_services[c->svc].label, c->action, code != NULL ?
		    code : "no error code", resp->status, c->attempts);
		free(code);
		free(message);
		return;
	}
	xasprintf(&why, "%s (HTTP %ld%s%s)%s%s", code != NULL ? code :
	    "an error without a code", resp->status,
	    aws_retryable(code, resp->status) ? ", after " : "",
	    aws_retryable(code, resp->status) ? "retries" : "",
	    message != NULL ? ": " : "", message != NULL ? message : "");
	aws_fail(c, code, resp->status, why);
	free(why);
	free(code);
	free(message);
}

/* Credentials are here (or are not): sign and send one attempt. */
static void
aws_creds_cb(const struct aws_creds *creds, const char *cause, void *arg)
{
	struct aws_call		*c = arg;
	struct aws		*aws = c->aws;
	struct sigv4_request	 sreq;
	struct sigv4_key	 key;
	struct sigv4_result	 res;
	struct sigv4_header	 sh[3];
	struct http_request	 req;
	const char		*hdrs[8];
	char			*url, *host, *target = NULL, *why = NULL;
	char			*error = NULL;
	char			*h_host, *h_date, *h_auth, *h_token = NULL;
	size_t			 nsh = 0, nh = 0;

	c->asking = 0;
	if (c->cancelled) {
		TAILQ_REMOVE(&aws->calls, c, entry);
		aws_call_free(c);
		return;
	}
	if (creds == NULL) {
		aws_fail(c, NULL, 0, cause);
		return;
	}
	aws_url(aws, c->svc, &url, &host);
	sh[nsh++] = (struct sigv4_header){ "host", host };
	if (aws_services[c->svc].target != NULL) {
		xasprintf(&target, "%s.%s", aws_services[c->svc].target,
		    c->action);
		sh[nsh++] = (struct sigv4_header){ "content-type",
		    "application/x-amz-json-1.1" };
		sh[nsh++] = (struct sigv4_header){ "x-amz-target", target };
	} else
		sh[nsh++] = (struct sigv4_header){ "content-type",
		    "application/x-www-form-urlencoded; charset=utf-8" };
	memset(&sreq, 0, sizeof sreq);
	sreq.method = "POST";
	sreq.path = "/";
	sreq.headers = sh;
	sreq.nheaders = nsh;
	sreq.body = c->body;
	sreq.bodylen = strlen(c->body);
	memset(&key, 0, sizeof key);
	key.access_key = creds->access_key;
	key.secret_key = creds->secret_key;
	key.token = creds->token;
	key.region = aws->region;
	key.service = aws_services[c->svc].name;
	if (sigv4_sign(&sreq, &key, ev_time(aws->loop) / 1000, 0, &res,
	    &why) != 0) {
		aws_fail(c, NULL, 0, why);
		free(why);
		free(url);
		free(host);
		free(target);
		return;
	}
	xasprintf(&h_host, "Host: %s", host);
	xasprintf(&h_date, "X-Amz-Date: %s", res.amz_date);
	xasprintf(&h_auth, "Authorization: %s", res.authorization);
	hdrs[nh++] = h_host;
	hdrs[nh++] = h_date;
	hdrs[nh++] = h_auth;
	if (creds->token != NULL) {
		xasprintf(&h_token, "X-Amz-Security-Token: %s", creds->token);
		hdrs[nh++] = h_token;
	}
	if (target != NULL) {
		hdrs[nh++] = "Content-Type: application/x-amz-json-1.1";
		xasprintf(&why, "X-Amz-Target: %s", target);
		hdrs[nh++] = why;
	} else
		hdrs[nh++] = "Content-Type: application/x-www-form-urlencoded; "
		    "charset=utf-8";
	hdrs[nh++] = "Expect:";		/* no 100-continue round trip */
	hdrs[nh] = NULL;
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.body = c->body;
	req.bodylen = strlen(c->body);
	req.timeout_ms = AWS_TIMEOUT_MS;
	req.max_size = AWS_ANSWER_MAX;
	c->xfer = http_submit(aws->http, &req, aws_http_cb, c, &error);
	sigv4_result_release(&res);
	free(url);
	free(host);
	free(target);
	free(why);
	free(h_host);
	free(h_date);
	free(h_auth);
	freezero_str(h_token);
	if (c->xfer == 0) {
		aws_fail(c, NULL, 0, error);
		free(error);
	}
}

/* One attempt: credentials first (at once, unless fetched). */
static void
aws_send(struct aws_call *c)
{
	c->attempts++;
	c->asking = 1;
	aws_auth_get(c->aws->auth, aws_creds_cb, c);
}

/*
 * Call action of svc with body: for EC2, the form's parameters after
 * Action and Version ("InstanceId.1=i-1&..."; already encoded, or
 * empty); for ECS and Logs, the JSON request. Returns the call's id, to
 * cancel it; cb is called later, once.
 */
uint64_t
aws_call(struct aws *aws, enum aws_service svc, const char *action,
    const char *body, aws_cb cb, void *arg)
{
	struct aws_call	*c = xcalloc(1, sizeof *c);

	c->aws = aws;
	c->id = aws->next_id++;
	c->svc = svc;
	c->action = xstrdup(action);
	if (svc == AWS_EC2)
		xasprintf(&c->body, "Action=%s&Version=" AWS_EC2_VERSION "%s%s",
		    action, body != NULL && *body != '\0' ? "&" : "",
		    body != NULL ? body : "");
	else
		c->body = xstrdup(body != NULL ? body : "{}");
	c->cb = cb;
	c->arg = arg;
	TAILQ_INSERT_TAIL(&aws->calls, c, entry);
	c->wait = ev_timer_add(aws->loop, 0, aws_wait_cb, c);
	return (c->id);
}

/* Forget a call: its callback will not run. */
void
aws_cancel(struct aws *aws, uint64_t id)
{
	struct aws_call	*c;

	TAILQ_FOREACH(c, &aws->calls, entry) {
		if (c->id == id)
			break;
	}
	if (c == NULL || c->cancelled)
		return;
	if (c->asking) {
		/* The credentials' callback will come, and free it. */
		c->cancelled = 1;
		return;
	}
	TAILQ_REMOVE(&aws->calls, c, entry);
	aws_call_free(c);
}

/* Counts for /metrics: retries made, calls failed, the retry quota. */
void
aws_stats(const struct aws *aws, uint64_t *retries, uint64_t *errors,
    int *quota)
{
	*retries = aws->retries;
	*errors = aws->errors;
	*quota = aws->quota;
}
