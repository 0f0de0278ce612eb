/* bcli_writer.c: writes backup-cli homes for the tests (see bcli_writer.h). */
#include "tests/import/bcli_writer.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

static void put_bytes(FILE *f, const uint8_t *b, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, i == 0 ? "%u" : ",%u", (unsigned)b[i]);
	fputc(']', f);
}

int bw_write_secrets(const char *home, const uint8_t p2p[32], const uint8_t signer[32],
		     const uint8_t aes[16], unsigned mode)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/secrets.json", home);
	unlink(path);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs("{\"p2p_private_key\":", f);
	put_bytes(f, p2p, 32);
	fputs(",\"near_signer_key\":", f);
	put_bytes(f, signer, 32);
	fputs(",\"local_storage_aes_key\":", f);
	put_bytes(f, aes, 16);
	fputs("}", f);
	if (fclose(f) != 0)
		return -1;
	return chmod(path, mode);
}

int bw_write_keyfile(const char *dir, const char *name, const uint8_t aes[16],
		     const uint8_t *plaintext, size_t len, const char *link)
{
	char path[1024];
	uint8_t nonce[12], tag[16];
	uint8_t *ct = malloc(len + 16);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0, ok = 0;
	FILE *f = NULL;

	if (ct == NULL || c == NULL || RAND_bytes(nonce, sizeof(nonce)) != 1)
		goto out;
	/* 12-byte nonces are GCM's default IV length: no SET_IVLEN call here on purpose */
	if (EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, aes, nonce) != 1 ||
	    EVP_EncryptUpdate(c, ct, &n1, plaintext, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, ct + n1, &n2) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wx");
	if (f == NULL)
		goto out;
	if (fwrite(nonce, 1, 12, f) != 12 ||
	    fwrite(ct, 1, (size_t)n1 + (size_t)n2, f) != (size_t)n1 + (size_t)n2 ||
	    fwrite(tag, 1, 16, f) != 16)
		goto out;
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	if (link != NULL) {
		unlink(link);
		if (link != NULL && linkat(AT_FDCWD, path, AT_FDCWD, link, 0) != 0)
			goto out;
	}
	ok = 1;
out:
	if (f != NULL)
		(void)fclose(f);
	EVP_CIPHER_CTX_free(c);
	free(ct);
	return ok ? 0 : -1;
}

char *bw_permanent_json(uint64_t epoch, const uint8_t *shares_json, size_t len)
{
	size_t cap = len + 64;
	char *s = malloc(cap);

	if (s == NULL)
		return NULL;
	snprintf(s, cap, "{\"epoch_id\":%llu,\"keyshares\":%.*s}", (unsigned long long)epoch,
		 (int)len, (const char *)shares_json);
	return s;
}
