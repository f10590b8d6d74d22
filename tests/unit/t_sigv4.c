/*
 * SigV4 against two references: every case of AWS's published test suite
 * (tests/data/sigv4/v4: canonical request, string to sign and signature
 * byte for byte, in the header and the query form, and the Authorization
 * header of the signed request), and libcurl's own signer
 * (CURLOPT_AWS_SIGV4) for requests shaped like the ones the daemon sends
 * to EC2, ECS and CloudWatch Logs: libcurl signs and sends each to a
 * loopback socket, and the same request signed here at the same time must
 * carry the same Authorization header.
 */

#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "daemon.h"
#include "tap.h"

#define MAX_HEADERS	32

struct vector {
	char			*text;		/* request.txt, cut up */
	const char		*method;
	char			*path;
	const char		*query;
	struct sigv4_header	 headers[MAX_HEADERS];
	char			*folded[MAX_HEADERS];
	size_t			 nheaders;
	const char		*body;
	size_t			 bodylen;
};

static char *
slurp(const char *dir, const char *name, size_t *len)
{
	char	*path, *text, *cause = NULL;
	size_t	 n;

	xasprintf(&path, "%s/%s", dir, name);
	text = util_read_file(path, 1024 * 1024, &n, &cause);
	if (text == NULL) {
		printf("# %s: %s\n", path, cause);
		free(cause);
	}
	free(path);
	if (len != NULL)
		*len = n;
	return (text);
}

/*
 * request.txt: "METHOD TARGET HTTP/1.1", header lines (a line starting
 * with white space continues the one before), an empty line, the body.
 */
static int
vector_parse(struct vector *v, char *text, size_t len)
{
	char	*line, *next, *colon, *sp, *q;

	memset(v, 0, sizeof *v);
	v->text = text;
	if ((next = strchr(text, '\n')) == NULL)
		return (-1);
	*next++ = '\0';
	if ((sp = strchr(text, ' ')) == NULL)
		return (-1);
	*sp++ = '\0';
	v->method = text;
	if ((q = strrchr(sp, ' ')) == NULL)
		return (-1);
	*q = '\0';
	if ((q = strchr(sp, '?')) != NULL) {
		*q++ = '\0';
		v->query = q;
	}
	v->path = sp;
	while ((line = next) != NULL && *line != '\0') {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '\0')
			break;
		if ((*line == ' ' || *line == '\t') && v->nheaders > 0) {
			char	*joined;

			xasprintf(&joined, "%s %s",
			    v->headers[v->nheaders - 1].value, line);
			free(v->folded[v->nheaders - 1]);
			v->folded[v->nheaders - 1] = joined;
			v->headers[v->nheaders - 1].value = joined;
			continue;
		}
		if ((colon = strchr(line, ':')) == NULL ||
		    v->nheaders == MAX_HEADERS)
			return (-1);
		*colon = '\0';
		v->headers[v->nheaders].name = line;
		v->headers[v->nheaders].value = colon + 1;
		v->nheaders++;
	}
	v->body = next != NULL ? next : "";
	v->bodylen = next != NULL ? len - (next - text) : 0;
	return (0);
}

static void
vector_release(struct vector *v)
{
	size_t	 i;

	for (i = 0; i < v->nheaders; i++)
		free(v->folded[i]);
	free(v->text);
}

/* The value of "Authorization:" in a signed request. */
static char *
authorization_of(char *signed_req)
{
	char	*p = strstr(signed_req, "\nAuthorization:"), *e;

	if (p == NULL)
		return (NULL);
	p += strlen("\nAuthorization:");
	if ((e = strchr(p, '\n')) != NULL)
		*e = '\0';
	return (p);
}

static void
check_form(const char *dir, const char *name, const struct vector *v,
    const struct sigv4_key *k, time_t when, int flags, const char *form)
{
	struct sigv4_result	 res;
	struct sigv4_request	 req;
	char			*want, *cause = NULL, label[256], file[64];
	int			 rc;

	memset(&req, 0, sizeof req);
	req.method = v->method;
	req.path = v->path;
	req.query = v->query;
	req.headers = v->headers;
	req.nheaders = v->nheaders;
	req.body = v->body;
	req.bodylen = v->bodylen;
	req.expires = 3600;
	rc = sigv4_sign(&req, k, when, flags, &res, &cause);
	snprintf(label, sizeof label, "%s %s: signs", name, form);
	if (!ok(rc == 0, label)) {
		printf("# %s\n", cause);
		free(cause);
		return;
	}
	snprintf(file, sizeof file, "%s-canonical-request.txt", form);
	want = slurp(dir, file, NULL);
	snprintf(label, sizeof label, "%s %s: canonical request", name, form);
	is_str(res.canonical, want, label);
	free(want);
	snprintf(file, sizeof file, "%s-string-to-sign.txt", form);
	want = slurp(dir, file, NULL);
	snprintf(label, sizeof label, "%s %s: string to sign", name, form);
	is_str(res.string_to_sign, want, label);
	free(want);
	snprintf(file, sizeof file, "%s-signature.txt", form);
	want = slurp(dir, file, NULL);
	snprintf(label, sizeof label, "%s %s: signature", name, form);
	is_str(res.signature, want, label);
	free(want);
	snprintf(file, sizeof file, "%s-signed-request.txt", form);
	want = slurp(dir, file, NULL);
	if (!(flags & SIGV4_QUERY)) {
		snprintf(label, sizeof label, "%s: Authorization header",
		    name);
		is_str(res.authorization, want != NULL ?
		    authorization_of(want) : NULL, label);
	} else {
		char	*sig;

		xasprintf(&sig, "X-Amz-Signature=%s", res.signature);
		snprintf(label, sizeof label, "%s: presigned query ends with "
		    "the signature", name);
		ok(res.query != NULL && strlen(res.query) > strlen(sig) &&
		    strcmp(res.query + strlen(res.query) - strlen(sig),
		    sig) == 0 && want != NULL && strstr(want, sig) != NULL,
		    label);
		free(sig);
	}
	free(want);
	sigv4_result_release(&res);
}

static void
check_case(const char *top, const char *name)
{
	struct sigv4_key	 k;
	struct vector		 v;
	struct tm		 tm;
	json_t			*ctx, *creds;
	json_error_t		 jerr;
	char			*dir, *text, *json;
	size_t			 len;
	int			 flags = 0;

	xasprintf(&dir, "%s/%s", top, name);
	json = slurp(dir, "context.json", NULL);
	text = slurp(dir, "request.txt", &len);
	if (json == NULL || text == NULL || (ctx = json_loads(json, 0,
	    &jerr)) == NULL) {
		ok(0, name);
		free(json);
		free(text);
		free(dir);
		return;
	}
	free(json);
	if (!ok(vector_parse(&v, text, len) == 0, name)) {
		free(text);
		json_decref(ctx);
		free(dir);
		return;
	}
	creds = json_object_get(ctx, "credentials");
	memset(&k, 0, sizeof k);
	k.access_key = json_string_value(json_object_get(creds,
	    "access_key_id"));
	k.secret_key = json_string_value(json_object_get(creds,
	    "secret_access_key"));
	k.token = json_string_value(json_object_get(creds, "token"));
	k.region = json_string_value(json_object_get(ctx, "region"));
	k.service = json_string_value(json_object_get(ctx, "service"));
	memset(&tm, 0, sizeof tm);
	strptime(json_string_value(json_object_get(ctx, "timestamp")),
	    "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!json_is_true(json_object_get(ctx, "normalize")))
		flags |= SIGV4_NO_NORMALIZE;
	if (json_is_true(json_object_get(ctx, "sign_body")))
		flags |= SIGV4_SIGN_BODY;
	if (json_is_true(json_object_get(ctx, "omit_session_token")))
		flags |= SIGV4_OMIT_TOKEN;
	check_form(dir, name, &v, &k, timegm(&tm), flags, "header");
	check_form(dir, name, &v, &k, timegm(&tm), flags | SIGV4_QUERY,
	    "query");
	vector_release(&v);
	json_decref(ctx);
	free(dir);
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

static void
check_suite(void)
{
	DIR		*d;
	struct dirent	*de;
	char		*top, *names[128];
	size_t		 n = 0, i;

	xasprintf(&top, "%s/sigv4/v4", getenv("BK_DATA"));
	if ((d = opendir(top)) == NULL) {
		ok(0, "the test suite's folder opens");
		free(top);
		return;
	}
	while ((de = readdir(d)) != NULL && n < nitems(names)) {
		if (de->d_name[0] != '.')
			names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, name_cmp);
	is_int(n, 38, "AWS's suite has its 38 cases");
	for (i = 0; i < n; i++) {
		check_case(top, names[i]);
		free(names[i]);
	}
	free(top);
}

/* ---------------------------------------------------- against libcurl */

struct sent {
	char	headers[8192];
	size_t	len;
};

static int
sent_debug(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
	struct sent	*s = arg;

	(void)c;
	if (type == CURLINFO_HEADER_OUT && s->len + size < sizeof s->headers) {
		memcpy(s->headers + s->len, data, size);
		s->len += size;
		s->headers[s->len] = '\0';
	}
	return (0);
}

/* The value of header name (case-insensitive) in a header block. */
static char *
sent_header(const char *block, const char *name)
{
	const char	*p = block, *e;
	size_t		 n = strlen(name);

	while ((e = strstr(p, "\r\n")) != NULL) {
		if ((size_t)(e - p) > n && strncasecmp(p, name, n) == 0 &&
		    p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			return (xstrndup(p, e - p));
		}
		p = e + 2;
	}
	return (NULL);
}

/*
 * libcurl signs and sends one POST to a socket that listens but never
 * answers (the request is sent into the backlog; the transfer times out).
 * Its headers are then signed here at its X-Amz-Date, with the headers it
 * signed, and the Authorization headers must be the same.
 */
static void
check_curl(int port, const char *service, const char *target,
    const char *type, const char *body, const char *token)
{
	struct curl_slist	*hl = NULL;
	struct sigv4_header	 h[8];
	struct sigv4_request	 req;
	struct sigv4_key	 k;
	struct sigv4_result	 res;
	struct sent		 s;
	struct tm		 tm;
	CURL			*c;
	char			 url[64], provider[64], hdr[512], label[128];
	char			*list, *name, *next, *date, *auth;
	char			*cause = NULL;
	char			*values[8];
	size_t			 n = 0, i;

	memset(&s, 0, sizeof s);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	snprintf(provider, sizeof provider, "aws:amz:us-east-1:%s", service);
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, provider);
	curl_easy_setopt(c, CURLOPT_USERNAME, "AKIDEXAMPLE");
	curl_easy_setopt(c, CURLOPT_PASSWORD,
	    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	snprintf(hdr, sizeof hdr, "Content-Type: %s", type);
	hl = curl_slist_append(hl, hdr);
	if (target != NULL) {
		snprintf(hdr, sizeof hdr, "X-Amz-Target: %s", target);
		hl = curl_slist_append(hl, hdr);
	}
	if (token != NULL) {
		snprintf(hdr, sizeof hdr, "X-Amz-Security-Token: %s", token);
		hl = curl_slist_append(hl, hdr);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, sent_debug);
	curl_easy_setopt(c, CURLOPT_DEBUGDATA, &s);
	curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 300L);
	curl_easy_perform(c);
	curl_easy_cleanup(c);
	curl_slist_free_all(hl);

	auth = sent_header(s.headers, "Authorization");
	date = sent_header(s.headers, "X-Amz-Date");
	snprintf(label, sizeof label, "libcurl signed a %s request%s",
	    service, token != NULL ? " with a session token" : "");
	if (!ok(auth != NULL && date != NULL && strptime(date,
	    "%Y%m%dT%H%M%SZ", &tm) != NULL, label)) {
		free(auth);
		free(date);
		return;
	}
	/* The headers libcurl signed, as it sent them, but those ours adds. */
	list = xstrdup(strstr(auth, "SignedHeaders=") + strlen(
	    "SignedHeaders="));
	list[strcspn(list, ",")] = '\0';
	for (name = list; name != NULL && n < nitems(h); name = next) {
		if ((next = strchr(name, ';')) != NULL)
			*next++ = '\0';
		if (strcmp(name, "x-amz-date") == 0 ||
		    strcmp(name, "x-amz-security-token") == 0)
			continue;
		h[n].name = name;
		h[n].value = values[n] = sent_header(s.headers, name);
		if (values[n] == NULL)
			break;
		n++;
	}
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.path = "/";
	req.headers = h;
	req.nheaders = n;
	req.body = body;
	req.bodylen = strlen(body);
	memset(&k, 0, sizeof k);
	k.access_key = "AKIDEXAMPLE";
	k.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	k.token = token;
	k.region = "us-east-1";
	k.service = service;
	snprintf(label, sizeof label, "%s%s: the same Authorization as "
	    "libcurl's", service, token != NULL ? " with a token" : "");
	if (sigv4_sign(&req, &k, timegm(&tm), 0, &res, &cause) == 0) {
		is_str(res.authorization, auth, label);
		sigv4_result_release(&res);
	} else {
		ok(0, label);
		free(cause);
	}
	for (i = 0; i < n; i++)
		free(values[i]);
	free(list);
	free(auth);
	free(date);
}

static void
check_libcurl(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	int			 fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!ok(fd != -1 && bind(fd, (struct sockaddr *)&sin, sizeof sin) ==
	    0 && listen(fd, 16) == 0 && getsockname(fd,
	    (struct sockaddr *)&sin, &len) == 0, "a loopback socket listens"))
		return;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	check_curl(ntohs(sin.sin_port), "ec2", NULL,
	    "application/x-www-form-urlencoded; charset=utf-8",
	    "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name="
	    "tag%3Abeekeeper%3Adaemon&Filter.1.Value.1=ci.example.org", NULL);
	check_curl(ntohs(sin.sin_port), "ecs",
	    "AmazonEC2ContainerServiceV20141113.DescribeTasks",
	    "application/x-amz-json-1.1",
	    "{\"cluster\":\"beekeeper\",\"tasks\":[\"arn:aws:ecs:us-east-1:"
	    "123456789012:task/beekeeper/0123\"]}", NULL);
	check_curl(ntohs(sin.sin_port), "logs", "Logs_20140328.GetLogEvents",
	    "application/x-amz-json-1.1",
	    "{\"logGroupName\":\"/beekeeper\",\"logStreamName\":\"t/1\","
	    "\"startFromHead\":true}", NULL);
	check_curl(ntohs(sin.sin_port), "ec2", NULL,
	    "application/x-www-form-urlencoded; charset=utf-8",
	    "Action=TerminateInstances&Version=2016-11-15&InstanceId.1="
	    "i-0123456789abcdef0", "FQoGZXIvYXdzEXAMPLE//token+/=");
	curl_global_cleanup();
	close(fd);
}

int
main(void)
{
	check_suite();
	check_libcurl();
	done_testing();
}
