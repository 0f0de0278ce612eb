/* softhsm.c: per-test SoftHSM2 tokens in private directories. */
#include "tests/support/softhsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int th_run(const char *cmd, char *out, unsigned cap)
{
	char full[4096];
	FILE *p;
	size_t n = 0;
	int st;

	snprintf(full, sizeof(full), "( %s ) 2>&1", cmd);
	p = popen(full, "r");
	if (p == NULL)
		return -1;
	if (out != NULL && cap > 0) {
		n = fread(out, 1, cap - 1, p);
		out[n] = '\0';
	}
	{
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *module_path(void)
{
	const char *m = getenv("SOFTHSM2_MODULE");

	if (m != NULL && *m != '\0')
		return m;
	if (access("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", R_OK) == 0)
		return "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so";
	return "/usr/lib/softhsm/libsofthsm2.so";
}

int th_softhsm_add_token(struct th_softhsm *h, const char *label, char *uri)
{
	char cmd[1024], out[2048];

	snprintf(cmd, sizeof(cmd),
		 "softhsm2-util --init-token --free --label '%s' --so-pin %s --pin %s", label,
		 TH_SO_PIN, TH_USER_PIN);
	if (th_run(cmd, out, sizeof(out)) != 0) {
		fprintf(stderr, "softhsm2-util failed: %s\n", out);
		return -1;
	}
	snprintf(uri, 512, "pkcs11:token=%s?module-path=%s", label, h->module);
	return 0;
}

int th_softhsm_delete_token(struct th_softhsm *h, const char *label)
{
	char cmd[512], out[1024];

	(void)h;
	snprintf(cmd, sizeof(cmd), "softhsm2-util --delete-token --token '%s'", label);
	return th_run(cmd, out, sizeof(out)) == 0 ? 0 : -1;
}

int th_softhsm_setup(struct th_softhsm *h, const char *label, const char *mechanisms)
{
	const char *src = getenv("MPC_SOURCE_DIR");
	char tmpl[512], line[512], tokdir[300];
	FILE *in = NULL, *out = NULL;
	int rc = -1;

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/mpc-hsm-XXXXXX");
	if (mkdtemp(h->dir) == NULL)
		return -1;
	snprintf(tokdir, sizeof(tokdir), "%s/tokens", h->dir);
	snprintf(h->conf, sizeof(h->conf), "%s/softhsm2.conf", h->dir);
	snprintf(h->module, sizeof(h->module), "%s", module_path());
	if (mkdir(tokdir, 0700) != 0)
		goto out;
	snprintf(tmpl, sizeof(tmpl), "%s/tokens/softhsm2/softhsm2.conf.in", src ? src : ".");
	in = fopen(tmpl, "r");
	out = fopen(h->conf, "w");
	if (in == NULL || out == NULL)
		goto out;
	while (fgets(line, sizeof(line), in) != NULL) {
		char *p;

		if ((p = strstr(line, "@TOKENDIR@")) != NULL)
			fprintf(out, "%.*s%s%s", (int)(p - line), line, tokdir, p + 10);
		else if ((p = strstr(line, "@MECHANISMS@")) != NULL)
			fprintf(out, "%.*s%s%s", (int)(p - line), line,
				mechanisms ? mechanisms : "ALL", p + 12);
		else
			fputs(line, out);
	}
	fclose(out);
	out = NULL;
	setenv("SOFTHSM2_CONF", h->conf, 1);
	setenv("MPC_BACKUP_PIN", TH_USER_PIN, 1);
	if (label != NULL && th_softhsm_add_token(h, label, h->uri) != 0)
		goto out;
	rc = 0;
out:
	if (in != NULL)
		fclose(in);
	if (out != NULL)
		fclose(out);
	return rc;
}

void th_softhsm_teardown(struct th_softhsm *h)
{
	char cmd[400];

	if (h->dir[0] == '\0' || strncmp(h->dir, "/tmp/mpc-hsm-", 13) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", h->dir);
	h->dir[0] = '\0';
}
