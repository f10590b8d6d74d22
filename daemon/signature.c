/*
 * Webhook signature check. GitHub signs the raw request body with the
 * webhook secret: X-Hub-Signature-256 is "sha256=" and the hex HMAC-SHA256;
 * the legacy X-Hub-Signature is "sha1=" and the HMAC-SHA1, accepted only
 * when the operator turns legacy signatures on and no SHA-256 header came.
 * The comparison is constant-time so the answer's timing says nothing about
 * how much of a forged signature was right.
 */

#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "daemon.h"

static int
signature_verify(const EVP_MD *md, const char *prefix, const void *key,
    size_t keylen, const void *body, size_t len, const char *header,
    const char **why)
{
	unsigned char	 want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
	unsigned int	 wantlen = 0;
	size_t		 plen = strlen(prefix);
	int		 rv;

	if (strncmp(header, prefix, plen) != 0 ||
	    util_hex_decode(header + plen, got, EVP_MD_get_size(md)) != 0) {
		*why = strcmp(prefix, "sha256=") == 0 ?
		    "X-Hub-Signature-256 is not sha256= and 64 hex digits" :
		    "X-Hub-Signature is not sha1= and 40 hex digits";
		return (-1);
	}
	if (HMAC(md, key, keylen, body, len, want, &wantlen) == NULL) {
		*why = "cannot compute the HMAC";
		return (-1);
	}
	rv = CRYPTO_memcmp(want, got, wantlen) == 0 ? 0 : -1;
	OPENSSL_cleanse(want, sizeof want);
	if (rv != 0)
		*why = "signature does not match the body and the secret";
	return (rv);
}

/*
 * Returns 0 if the body is signed with the key. *algo names the header that
 * was used; on failure *why is a sentence for the sender and the log.
 */
int
signature_check(const void *key, size_t keylen, const void *body, size_t len,
    const char *sha256, const char *sha1, int legacy, const char **algo,
    const char **why)
{
	*algo = NULL;
	if (sha256 != NULL) {
		*algo = "sha256";
		return (signature_verify(EVP_sha256(), "sha256=", key, keylen,
		    body, len, sha256, why));
	}
	if (sha1 != NULL && legacy) {
		*algo = "sha1";
		return (signature_verify(EVP_sha1(), "sha1=", key, keylen,
		    body, len, sha1, why));
	}
	if (sha1 != NULL)
		*why = "only a SHA-1 X-Hub-Signature was sent and legacy "
		    "signatures are off; send X-Hub-Signature-256";
	else
		*why = "no X-Hub-Signature-256 header";
	return (-1);
}
