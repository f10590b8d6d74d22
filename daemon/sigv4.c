/*
 * AWS Signature Version 4: the canonical request, the string to sign, the
 * signing key and the signature, for the Authorization header or for a
 * presigned query string, as AWS's "Signing AWS API requests" describes
 * them. Pure: no clock, no network; the caller passes the time and sends
 * what comes back.
 *
 * Checked byte for byte against every case of AWS's published test suite
 * (tests/data/sigv4, by t_sigv4), and against libcurl's own signer
 * (CURLOPT_AWS_SIGV4) for the requests the daemon sends.
 *
 * Invariants:
 * - The secret key and the keys derived from it are only in the HMAC
 *   chain's buffers, which are wiped before they are released; nothing
 *   this file returns holds them.
 * - Paths are given unencoded and encoded here once; a query may be
 *   given with or without percent escapes, which are decoded and encoded
 *   again, so both spellings sign the same.
 */

#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "daemon.h"

#define SIGV4_ALGORITHM		"AWS4-HMAC-SHA256"
#define SIGV4_HASH		32

struct sigv4_pair {
	char	*name;
	char	*value;
	size_t	 order;		/* position in the request: a stable sort */
};

static int
sigv4_unreserved(unsigned char c)
{
	return (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~');
}

/* Append s, percent-encoding every byte but the unreserved (and '/'). */
static void
sigv4_encode(struct buf *b, const char *s, size_t len, int slash)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (sigv4_unreserved(s[i]) || (slash && s[i] == '/'))
			buf_add(b, &s[i], 1);
		else
			buf_printf(b, "%%%02X", (unsigned char)s[i]);
	}
}

/* Append s percent-encoded as AWS wants it (RFC 3986, '/' too). */
void
sigv4_uri_encode(struct buf *b, const char *s)
{
	sigv4_encode(b, s, strlen(s), 0);
}

static char *
sigv4_encode_str(const char *s, size_t len)
{
	struct buf	 b;

	buf_init(&b, 0);
	sigv4_encode(&b, s, len, 0);
	return (buf_detach(&b, NULL));
}

/* Decode %XX escapes of s[0..len) into a new string. */
static char *
sigv4_decode(const char *s, size_t len)
{
	char	*out = xmalloc(len + 1), hex[3];
	size_t	 i, n = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			hex[0] = s[i + 1];
			hex[1] = s[i + 2];
			hex[2] = '\0';
			out[n++] = (char)strtoul(hex, NULL, 16);
			i += 2;
		} else
			out[n++] = s[i];
	}
	out[n] = '\0';
	return (out);
}

/*
 * The canonical URI: with normalize, RFC 3986 dot segments removed and
 * empty segments dropped ("//a//" is "/a/"), as every service but S3
 * wants; then each byte but the unreserved and '/' percent-encoded.
 */
static void
sigv4_path(struct buf *b, const char *path, int normalize)
{
	const char	**seg, *p, *e;
	size_t		  nseg = 0, i, len;
	int		  trailing = 0;
	struct buf	  norm;

	if (path == NULL || *path == '\0')
		path = "/";
	if (!normalize) {
		sigv4_encode(b, path, strlen(path), 1);
		return;
	}
	seg = xcalloc(strlen(path) + 1, sizeof *seg);
	for (p = path; *p != '\0'; p = *e == '\0' ? e : e + 1) {
		while (*p == '/')
			p++;
		e = p + strcspn(p, "/");
		len = e - p;
		if (len == 0 || (len == 1 && *p == '.'))
			continue;
		if (len == 2 && strncmp(p, "..", 2) == 0) {
			if (nseg > 0)
				nseg--;
			continue;
		}
		seg[nseg++] = p;
	}
	/* A path naming a directory keeps saying so. */
	len = strlen(path);
	trailing = path[len - 1] == '/' || (len >= 2 &&
	    strcmp(path + len - 2, "/.") == 0) || (len >= 3 &&
	    strcmp(path + len - 3, "/..") == 0);
	buf_init(&norm, 0);
	for (i = 0; i < nseg; i++) {
		buf_addstr(&norm, "/");
		buf_add(&norm, seg[i], strcspn(seg[i], "/"));
	}
	if (nseg == 0 || trailing)
		buf_addstr(&norm, "/");
	sigv4_encode(b, norm.data, norm.len, 1);
	buf_release(&norm);
	free(seg);
}

static int
sigv4_pair_cmp(const void *a, const void *b)
{
	const struct sigv4_pair	*pa = a, *pb = b;
	int			 c;

	if ((c = strcmp(pa->name, pb->name)) != 0)
		return (c);
	if (pa->value != NULL && pb->value != NULL &&
	    (c = strcmp(pa->value, pb->value)) != 0)
		return (c);
	return (pa->order < pb->order ? -1 : pa->order > pb->order);
}

static void
sigv4_pairs_free(struct sigv4_pair *pairs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(pairs[i].name);
		free(pairs[i].value);
	}
	free(pairs);
}

/*
 * The canonical query: each parameter decoded and encoded again, sorted
 * by name and then value, "name=value" joined by '&' (a parameter with
 * no '=' has an empty value). extra, if not NULL, is added as given
 * (the presigned form's X-Amz-* parameters, already encoded).
 */
static void
sigv4_query(struct buf *b, const char *query, const struct sigv4_pair *extra,
    size_t nextra)
{
	struct sigv4_pair	*pairs;
	const char		*p, *e, *eq;
	size_t			 n = 0, i, cap;

	cap = nextra + 1;
	for (p = query; p != NULL && *p != '\0'; p++)
		cap += *p == '&';
	pairs = xcalloc(cap, sizeof *pairs);
	for (p = query; p != NULL && *p != '\0'; p = *e == '\0' ? e : e + 1) {
		char	*raw;

		e = p + strcspn(p, "&");
		if (e == p)
			continue;
		eq = memchr(p, '=', e - p);
		raw = sigv4_decode(p, (eq != NULL ? eq : e) - p);
		pairs[n].name = sigv4_encode_str(raw, strlen(raw));
		free(raw);
		raw = eq != NULL ? sigv4_decode(eq + 1, e - eq - 1) :
		    xstrdup("");
		pairs[n].value = sigv4_encode_str(raw, strlen(raw));
		free(raw);
		pairs[n].order = n;
		n++;
	}
	for (i = 0; i < nextra; i++, n++) {
		pairs[n].name = xstrdup(extra[i].name);
		pairs[n].value = xstrdup(extra[i].value);
		pairs[n].order = n;
	}
	qsort(pairs, n, sizeof *pairs, sigv4_pair_cmp);
	for (i = 0; i < n; i++)
		buf_printf(b, "%s%s=%s", i > 0 ? "&" : "", pairs[i].name,
		    pairs[i].value);
	sigv4_pairs_free(pairs, n);
}

/* A header's value as signed: trimmed, each run of spaces made one. */
static char *
sigv4_header_value(const char *v)
{
	struct buf	 b;
	int		 space = 0;

	buf_init(&b, 0);
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v != '\0'; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') {
			space = 1;
			continue;
		}
		if (space && b.len > 0)
			buf_addstr(&b, " ");
		space = 0;
		buf_add(&b, v, 1);
	}
	return (buf_detach(&b, NULL));
}

/*
 * The canonical headers and the signed header list: names lower-cased
 * and sorted; a name sent more than once is one line, its values joined
 * by ',' in the order sent.
 */
static void
sigv4_headers(struct buf *canon, struct buf *signed_list,
    const struct sigv4_header *h, size_t nh)
{
	struct sigv4_pair	*pairs;
	size_t			 i, j;

	pairs = xcalloc(nh + 1, sizeof *pairs);
	for (i = 0; i < nh; i++) {
		pairs[i].name = xstrdup(h[i].name);
		for (j = 0; pairs[i].name[j] != '\0'; j++)
			pairs[i].name[j] = tolower((unsigned char)
			    pairs[i].name[j]);
		pairs[i].value = NULL;	/* sort by name, then as sent */
		pairs[i].order = i;
	}
	qsort(pairs, nh, sizeof *pairs, sigv4_pair_cmp);
	for (i = 0; i < nh; i++) {
		char	*v = sigv4_header_value(h[pairs[i].order].value);

		if (i > 0 && strcmp(pairs[i].name, pairs[i - 1].name) == 0)
			buf_printf(canon, ",%s", v);
		else {
			if (i > 0)
				buf_addstr(canon, "\n");
			buf_printf(canon, "%s:%s", pairs[i].name, v);
			buf_printf(signed_list, "%s%s", signed_list->len > 0 ?
			    ";" : "", pairs[i].name);
		}
		free(v);
	}
	buf_addstr(canon, "\n");
	sigv4_pairs_free(pairs, nh);
}

static void
sigv4_sha256_hex(const void *p, size_t len, char out[SIGV4_HASH * 2 + 1])
{
	unsigned char	 md[SIGV4_HASH];
	unsigned int	 mdlen = sizeof md;

	EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL);
	util_hex_encode(md, sizeof md, out, SIGV4_HASH * 2 + 1);
}

/* The signing key for date/region/service, then the signature of sts. */
static void
sigv4_signature(const struct sigv4_key *k, const char *date, const char *sts,
    char out[SIGV4_HASH * 2 + 1])
{
	const char	*parts[4];
	unsigned char	 key[SIGV4_HASH], sig[SIGV4_HASH];
	unsigned int	 len = SIGV4_HASH;
	char		*first;
	size_t		 i;

	parts[0] = date;
	parts[1] = k->region;
	parts[2] = k->service;
	parts[3] = "aws4_request";
	xasprintf(&first, "AWS4%s", k->secret_key);
	HMAC(EVP_sha256(), first, strlen(first), (const unsigned char *)
	    parts[0], strlen(parts[0]), key, &len);
	freezero_str(first);
	for (i = 1; i < nitems(parts); i++)
		HMAC(EVP_sha256(), key, sizeof key, (const unsigned char *)
		    parts[i], strlen(parts[i]), key, &len);
	HMAC(EVP_sha256(), key, sizeof key, (const unsigned char *)sts,
	    strlen(sts), sig, &len);
	OPENSSL_cleanse(key, sizeof key);
	util_hex_encode(sig, sizeof sig, out, SIGV4_HASH * 2 + 1);
}

int
sigv4_sign(const struct sigv4_request *req, const struct sigv4_key *k,
    time_t when, int flags, struct sigv4_result *res, char **cause)
{
	struct sigv4_header	*h;
	struct sigv4_pair	 extra[6];
	struct buf		 canon, hdrs, list, sts;
	struct tm		 tm;
	char			 date[9], scope_cred[512], *cred = NULL;
	char			*token = NULL, *enc_list = NULL;
	char			 expires[32];
	size_t			 nh = 0, nextra = 0, i;
	int			 query = flags & SIGV4_QUERY;
	int			 sign_token;

	memset(res, 0, sizeof *res);
	if (k->access_key == NULL || *k->access_key == '\0' ||
	    k->secret_key == NULL || *k->secret_key == '\0') {
		*cause = xstrdup("no AWS credentials to sign with");
		return (-1);
	}
	if (gmtime_r(&when, &tm) == NULL ||
	    strftime(res->amz_date, sizeof res->amz_date, "%Y%m%dT%H%M%SZ",
	    &tm) == 0) {
		xasprintf(cause, "cannot sign at time %lld", (long long)when);
		return (-1);
	}
	memcpy(date, res->amz_date, 8);
	date[8] = '\0';
	sigv4_sha256_hex(req->body != NULL ? req->body : "", req->bodylen,
	    res->body_hash);
	sign_token = k->token != NULL && !(flags & SIGV4_OMIT_TOKEN);

	/* What is signed: the request's headers and, in the header form,
	 * the ones this file adds. */
	h = xcalloc(req->nheaders + 3, sizeof *h);
	for (i = 0; i < req->nheaders; i++)
		h[nh++] = req->headers[i];
	if (!query) {
		h[nh++] = (struct sigv4_header){ "x-amz-date", res->amz_date };
		if (flags & SIGV4_SIGN_BODY)
			h[nh++] = (struct sigv4_header){
			    "x-amz-content-sha256", res->body_hash };
		if (sign_token)
			h[nh++] = (struct sigv4_header){
			    "x-amz-security-token", k->token };
	}
	buf_init(&hdrs, 0);
	buf_init(&list, 0);
	sigv4_headers(&hdrs, &list, h, nh);
	free(h);

	if (snprintf(scope_cred, sizeof scope_cred, "%s/%s/%s/%s/aws4_request",
	    k->access_key, date, k->region, k->service) >=
	    (int)sizeof scope_cred) {
		buf_release(&hdrs);
		buf_release(&list);
		*cause = xstrdup("the AWS access key id is too long");
		return (-1);
	}
	if (query) {
		snprintf(expires, sizeof expires, "%d", req->expires > 0 ?
		    req->expires : 3600);
		cred = sigv4_encode_str(scope_cred, strlen(scope_cred));
		if (sign_token)
			token = sigv4_encode_str(k->token, strlen(k->token));
		extra[nextra++] = (struct sigv4_pair){ "X-Amz-Algorithm",
		    SIGV4_ALGORITHM, 0 };
		extra[nextra++] = (struct sigv4_pair){ "X-Amz-Credential",
		    cred, 0 };
		extra[nextra++] = (struct sigv4_pair){ "X-Amz-Date",
		    res->amz_date, 0 };
		extra[nextra++] = (struct sigv4_pair){ "X-Amz-Expires",
		    expires, 0 };
		if (token != NULL)
			extra[nextra++] = (struct sigv4_pair){
			    "X-Amz-Security-Token", token, 0 };
		enc_list = sigv4_encode_str(list.data, list.len);
		extra[nextra++] = (struct sigv4_pair){ "X-Amz-SignedHeaders",
		    enc_list, 0 };
	}

	buf_init(&canon, 0);
	buf_printf(&canon, "%s\n", req->method);
	sigv4_path(&canon, req->path, !(flags & SIGV4_NO_NORMALIZE));
	buf_addstr(&canon, "\n");
	sigv4_query(&canon, req->query, extra, nextra);
	buf_printf(&canon, "\n%s\n%s\n%s", hdrs.data, list.data,
	    res->body_hash);
	buf_release(&hdrs);
	res->canonical = buf_detach(&canon, NULL);

	buf_init(&sts, 0);
	buf_printf(&sts, SIGV4_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n",
	    res->amz_date, date, k->region, k->service);
	sigv4_sha256_hex(res->canonical, strlen(res->canonical),
	    res->signature);
	buf_addstr(&sts, res->signature);
	res->string_to_sign = buf_detach(&sts, NULL);
	sigv4_signature(k, date, res->string_to_sign, res->signature);

	if (query) {
		struct buf	 q;

		buf_init(&q, 0);
		if (req->query != NULL && *req->query != '\0')
			buf_printf(&q, "%s&", req->query);
		for (i = 0; i < nextra; i++)
			buf_printf(&q, "%s=%s&", extra[i].name,
			    extra[i].value);
		buf_printf(&q, "X-Amz-Signature=%s", res->signature);
		res->query = buf_detach(&q, NULL);
	} else
		xasprintf(&res->authorization, SIGV4_ALGORITHM
		    " Credential=%s, SignedHeaders=%s, Signature=%s",
		    scope_cred, list.data, res->signature);
	res->signed_headers = buf_detach(&list, NULL);
	free(cred);
	free(token);
	free(enc_list);
	return (0);
}

void
sigv4_result_release(struct sigv4_result *res)
{
	free(res->canonical);
	free(res->string_to_sign);
	free(res->authorization);
	free(res->query);
	free(res->signed_headers);
	memset(res, 0, sizeof *res);
}
