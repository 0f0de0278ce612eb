/* test_uri.c: PKCS#11 URIs as RFC 7512 means them, against real SoftHSM2 tokens in one
 * SOFTHSM2_CONF directory: every slot-* and library-* attribute filters (matching and not), a
 * URI matching more than one token is refused listing each match's URI, each URI `token list`
 * prints opens exactly that token, and unknown, misplaced or repeated attributes are named. */
#include <ctype.h>

#include "tests/pkcs11/ptest.h"
#include "pkcs11/inventory.h"

struct ut {
	struct th_softhsm hsm;
	struct mpc_p11_ctx *ctx;
	char uri_b[512];
};

static int setup(void **state)
{
	struct ut *u = calloc(1, sizeof(*u));
	struct mpc_err e = { 0 };

	assert_non_null(u);
	assert_int_equal(th_softhsm_setup(&u->hsm, "a", NULL), 0);
	assert_int_equal(th_softhsm_add_token(&u->hsm, "b", u->uri_b), 0);
	assert_int_equal(mpc_p11_ctx_new(&u->ctx, &e), MPC_OK);
	*state = u;
	return 0;
}

static int teardown(void **state)
{
	struct ut *u = *state;

	mpc_p11_ctx_free(u->ctx);
	th_softhsm_teardown(&u->hsm);
	free(u);
	return 0;
}

/* Open `uri` through the token layer (with login), note which token it is, close it. */
static int open_uri(struct ut *u, const char *uri, struct mpc_token_desc *d, CK_SLOT_ID *slot,
		    struct mpc_err *e)
{
	struct mpc_token *t = NULL;
	int rc;

	mpc_err_clear(e);
	rc = mpc_token_open(u->ctx, uri, NULL, &t, e);
	if (rc != MPC_OK)
		return rc;
	if (d != NULL)
		mpc_token_describe(t, d);
	if (slot != NULL)
		*slot = t->slot;
	mpc_token_close(t);
	return MPC_OK;
}

/* The label of the token `uri` opens; fails the test if it opens none. */
static const char *label_of(struct ut *u, const char *uri)
{
	static struct mpc_token_desc d;
	struct mpc_err e = { 0 };

	if (open_uri(u, uri, &d, NULL, &e) != MPC_OK)
		fail_msg("%s: %s", uri, e.msg);
	return d.label;
}

/* pkcs11:<path>?module-path=<module> */
static const char *with_module(struct ut *u, const char *path)
{
	static char buf[1400];

	snprintf(buf, sizeof(buf), "pkcs11:%s?module-path=%s", path, u->hsm.module);
	return buf;
}

/* Percent-encode a blank-trimmed CK_UTF8CHAR field for a URI path value. */
static void enc(const unsigned char *f, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	while (n > 0 && f[n - 1] == ' ')
		n--;
	for (size_t i = 0; i < n && o + 4 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, isalnum(f[i]) ? "%c" : "%%%02X", f[i]);
	out[o] = '\0';
}

static void expect_not_found(struct ut *u, const char *uri)
{
	struct mpc_err e = { 0 };

	assert_int_equal(open_uri(u, uri, NULL, NULL, &e), MPC_ERR_TOKEN_NOT_FOUND);
	assert_non_null(strstr(e.msg, "no token matches"));
}

/* slot-id selects that slot's token, and only it: today's bug opened another slot's token. */
static void test_slot_id(void **state)
{
	struct ut *u = *state;
	struct mpc_err e = { 0 };
	CK_SLOT_ID sa = 0, sb = 0;
	char path[128];

	assert_int_equal(open_uri(u, u->hsm.uri, NULL, &sa, &e), MPC_OK);
	assert_int_equal(open_uri(u, u->uri_b, NULL, &sb, &e), MPC_OK);
	assert_true(sa != sb);
	snprintf(path, sizeof(path), "slot-id=%lu", (unsigned long)sb);
	assert_string_equal(label_of(u, with_module(u, path)), "b");
	snprintf(path, sizeof(path), "slot-id=%lu;token=b", (unsigned long)sb);
	assert_string_equal(label_of(u, with_module(u, path)), "b");
	snprintf(path, sizeof(path), "slot-id=%lu;token=a", (unsigned long)sb);
	expect_not_found(u, with_module(u, path));
	/* a slot no token is in, as in the pkcs11:slot-id=1 */
	snprintf(path, sizeof(path), "slot-id=%lu", (unsigned long)(sa > sb ? sa : sb) + 1);
	expect_not_found(u, with_module(u, path));
}

/* slot-description and slot-manufacturer compare with C_GetSlotInfo's strings. */
static void test_slot_info(void **state)
{
	struct ut *u = *state;
	struct mpc_err e = { 0 };
	struct mpc_p11_module *m = NULL;
	CK_SLOT_INFO si;
	CK_SLOT_ID sb = 0;
	char desc[200], manuf[120], path[400];

	assert_int_equal(open_uri(u, u->uri_b, NULL, &sb, &e), MPC_OK);
	assert_int_equal(mpc_p11_load_path(u->ctx, u->hsm.module, &m, &e), MPC_OK);
	assert_int_equal(m->fn->C_GetSlotInfo(sb, &si), CKR_OK);
	enc(si.slotDescription, sizeof(si.slotDescription), desc, sizeof(desc));
	enc(si.manufacturerID, sizeof(si.manufacturerID), manuf, sizeof(manuf));
	/* SoftHSM names each slot by its id: the description alone picks token b */
	snprintf(path, sizeof(path), "slot-description=%s", desc);
	assert_string_equal(label_of(u, with_module(u, path)), "b");
	snprintf(path, sizeof(path), "slot-description=%s;token=a", desc);
	expect_not_found(u, with_module(u, path));
	expect_not_found(u, with_module(u, "slot-description=No%20such%20slot"));
	snprintf(path, sizeof(path), "slot-manufacturer=%s;token=a", manuf);
	assert_string_equal(label_of(u, with_module(u, path)), "a");
	expect_not_found(u, with_module(u, "slot-manufacturer=Nobody;token=a"));
}

/* library-description, library-manufacturer and library-version compare with C_GetInfo. */
static void test_library(void **state)
{
	struct ut *u = *state;
	struct mpc_err e = { 0 };
	struct mpc_p11_module *m = NULL;
	CK_INFO info;
	char desc[200], manuf[120], path[800];
	unsigned maj, min;

	assert_int_equal(mpc_p11_load_path(u->ctx, u->hsm.module, &m, &e), MPC_OK);
	assert_int_equal(m->fn->C_GetInfo(&info), CKR_OK);
	enc(info.libraryDescription, sizeof(info.libraryDescription), desc, sizeof(desc));
	enc(info.manufacturerID, sizeof(info.manufacturerID), manuf, sizeof(manuf));
	maj = info.libraryVersion.major;
	min = info.libraryVersion.minor;

	snprintf(path, sizeof(path), "token=a;library-description=%s", desc);
	assert_string_equal(label_of(u, with_module(u, path)), "a");
	expect_not_found(u, with_module(u, "token=a;library-description=NoSuchLib"));
	assert_int_equal(open_uri(u, with_module(u, "token=a;library-description=NoSuchLib"), NULL,
				  NULL, &e),
			 MPC_ERR_TOKEN_NOT_FOUND);
	/* the message says what the module's library is */
	assert_non_null(strstr(e.msg, "library-* do not match"));

	snprintf(path, sizeof(path), "token=b;library-manufacturer=%s", manuf);
	assert_string_equal(label_of(u, with_module(u, path)), "b");
	expect_not_found(u, with_module(u, "token=b;library-manufacturer=Nobody"));

	snprintf(path, sizeof(path), "token=a;library-version=%u.%u", maj, min);
	assert_string_equal(label_of(u, with_module(u, path)), "a");
	snprintf(path, sizeof(path), "token=a;library-version=%u.%u", maj + 1, min);
	expect_not_found(u, with_module(u, path));
	/* "M" alone means M.0 (RFC 7512 as p11-kit reads it) */
	snprintf(path, sizeof(path), "token=a;library-version=%u", maj);
	if (min == 0)
		assert_string_equal(label_of(u, with_module(u, path)), "a");
	else
		expect_not_found(u, with_module(u, path));

	/* all of them at once, with the token attributes */
	snprintf(path, sizeof(path),
		 "token=b;manufacturer=SoftHSM%%20project;model=SoftHSM%%20v2;"
		 "library-description=%s;library-manufacturer=%s;library-version=%u.%u",
		 desc, manuf, maj, min);
	assert_string_equal(label_of(u, with_module(u, path)), "b");
}

/* Copy the n-th "pkcs11:model=..." URI quoted in msg into out. */
static int nth_quoted_uri(const char *msg, int n, char *out, size_t cap)
{
	const char *p = msg;

	for (int i = 0; i <= n; i++) {
		p = strstr(p, "\"pkcs11:model=");
		if (p == NULL)
			return -1;
		p++;
		if (i < n)
			p = strchr(p, '"');
	}
	{
		const char *end = strchr(p, '"');
		size_t len = end != NULL ? (size_t)(end - p) : 0;

		if (end == NULL || len >= cap)
			return -1;
		memcpy(out, p, len);
		out[len] = '\0';
	}
	return 0;
}

/* Two tokens labelled "a": refused, listing both; each listed URI opens that one. */
static void test_ambiguous(void **state)
{
	struct ut *u = *state;
	struct mpc_err e = { 0 };
	struct mpc_token_desc d1, d2;
	char other[512], uri1[1024], uri2[1024];

	assert_int_equal(th_softhsm_add_token(&u->hsm, "a", other), 0);
	assert_int_equal(open_uri(u, u->hsm.uri, NULL, NULL, &e), MPC_ERR_USAGE);
	assert_int_equal(mpc_exit_status(MPC_ERR_USAGE), 2);
	assert_non_null(strstr(e.msg, "matches 2 tokens"));
	assert_non_null(strstr(e.msg, "pkcs11:token=a"));
	assert_int_equal(nth_quoted_uri(e.msg, 0, uri1, sizeof(uri1)), 0);
	assert_int_equal(nth_quoted_uri(e.msg, 1, uri2, sizeof(uri2)), 0);
	assert_string_not_equal(uri1, uri2);
	assert_int_equal(open_uri(u, uri1, &d1, NULL, &e), MPC_OK);
	assert_int_equal(open_uri(u, uri2, &d2, NULL, &e), MPC_OK);
	assert_string_equal(d1.label, "a");
	assert_string_equal(d2.label, "a");
	assert_string_not_equal(d1.serial, d2.serial);
	assert_non_null(strstr(uri1, d1.serial));
	assert_non_null(strstr(uri2, d2.serial));
	/* the module named by path: the listed URIs name it the same way */
	assert_non_null(strstr(uri1, "?module-path="));
	/* a URI the ambiguity leaves alone still opens its token */
	assert_string_equal(label_of(u, u->uri_b), "b");
}

/* Each URI `token list` reports opens exactly that token (same slot and serial), including
 * labels that need percent-encoding and two tokens that share a label. */
static void test_list_round_trip(void **state)
{
	struct ut *u = *state;
	struct mpc_err e = { 0 };
	struct mpc_slot_report *r = NULL;
	char other[512], list_uri[600];
	size_t n = 0, checked = 0;

	assert_int_equal(th_softhsm_add_token(&u->hsm, "a", other), 0);
	assert_int_equal(th_softhsm_add_token(&u->hsm, "x y;z?%&=/", other), 0);
	snprintf(list_uri, sizeof(list_uri), "pkcs11:?module-path=%s", u->hsm.module);
	assert_int_equal(mpc_p11_inventory(u->ctx, list_uri, &r, &n, &e), MPC_OK);
	for (size_t i = 0; i < n; i++) {
		struct mpc_token_desc d;
		CK_SLOT_ID slot;

		assert_int_equal(strncmp(r[i].uri, "pkcs11:", 7), 0);
		if (!r[i].token_initialized)
			continue;
		if (open_uri(u, r[i].uri, &d, &slot, &e) != MPC_OK)
			fail_msg("%s: %s", r[i].uri, e.msg);
		assert_int_equal(slot, r[i].slot);
		assert_string_equal(d.serial, r[i].serial);
		assert_string_equal(d.label, r[i].label);
		if (strcmp(r[i].label, "x y;z?%&=/") == 0)
			assert_non_null(strstr(r[i].uri, "token=x%20y%3Bz%3F%25%26%3D%2F"));
		checked++;
	}
	assert_int_equal(checked, 4);
	free(r);
}

/* A formatted URI parses back and matches its token only; slot-id when asked for. */
static void test_format_parse(void **state)
{
	struct ut *u = *state;
	struct mpc_err e = { 0 };
	struct mpc_p11_module *m = NULL;
	struct mpc_token_uri *p = NULL;
	CK_TOKEN_INFO ti, other;
	char *s = NULL;

	assert_int_equal(mpc_p11_load_path(u->ctx, u->hsm.module, &m, &e), MPC_OK);
	memset(&ti, ' ', sizeof(ti));
	memcpy(ti.label, "l\xc3\xa9 ;?&%", 8);
	memcpy(ti.manufacturerID, "M", 1);
	memcpy(ti.model, "m", 1);
	memcpy(ti.serialNumber, "0123", 4);
	other = ti;
	other.serialNumber[0] = '9';
	assert_int_equal(mpc_token_uri_format(&ti, 4242, 1, m, &s, &e), MPC_OK);
	assert_non_null(strstr(s, "slot-id=4242"));
	assert_int_equal(mpc_token_uri_parse(s, &p, &e), MPC_OK);
	assert_true(p->has_slot_id);
	assert_int_equal(p->slot_id, 4242);
	assert_string_equal(p->module_path, u->hsm.module);
	assert_true(mpc_token_uri_match_token(p, &ti));
	assert_false(mpc_token_uri_match_token(p, &other));
	assert_true(mpc_token_uri_match_slot(p, 4242, NULL));
	assert_false(mpc_token_uri_match_slot(p, 4243, NULL));
	mpc_token_uri_free(p);
	free(s);
	assert_int_equal(mpc_token_uri_format(&ti, 4242, 0, m, &s, &e), MPC_OK);
	assert_null(strstr(s, "slot-id"));
	free(s);
}

static void expect_parse_error(const char *uri, const char *needle)
{
	struct mpc_token_uri *p = NULL;
	struct mpc_err e = { 0 };

	assert_int_equal(mpc_token_uri_parse(uri, &p, &e), MPC_ERR_PARSE);
	assert_null(p);
	if (strstr(e.msg, needle) == NULL)
		fail_msg("%s: \"%s\" not in: %s", uri, needle, e.msg);
}

/* Unknown, misplaced and repeated attributes are named; values that can match nothing are
 * refused; a value in the query is never echoed. */
static void test_unknown_named(void **state)
{
	struct ut *u = *state;
	struct mpc_err e = { 0 };
	struct mpc_token_uri *p = NULL;

	expect_parse_error("pkcs11:token=a;frobnicate=1", "unknown attribute \"frobnicate\"");
	expect_parse_error("pkcs11:token=a?frobnicate=secret1", "unknown attribute \"frobnicate\"");
	expect_parse_error("pkcs11:token=a?x-vendor=1", "unknown attribute \"x-vendor\"");
	expect_parse_error("pkcs11:token=a;objecttype=private", "\"objecttype\"");
	expect_parse_error("pkcs11:token=a;slot_id=1", "unknown attribute \"slot_id\"");
	expect_parse_error("pkcs11:token=a;module-name=softhsm2", "module-name is a query attribute");
	expect_parse_error("pkcs11:token=a;pin-source=/run/pin", "pin-source is a query attribute");
	expect_parse_error("pkcs11:token=a?token=b", "token is a path attribute");
	expect_parse_error("pkcs11:token=a;token=b", "\"token\" is given twice");
	expect_parse_error("pkcs11:token=a?module-name=x&module-name=y", "\"module-name\" is given twice");
	expect_parse_error("pkcs11:slot-id=", "slot-id must be a decimal");
	expect_parse_error("pkcs11:slot-id=0x1", "");
	expect_parse_error("pkcs11:slot-id=184467440737095516150", "slot-id");
	expect_parse_error("pkcs11:serial=01234567890123456", "longer than the 16 bytes");
	expect_parse_error("pkcs11:type=secret", "type must be one of");
	expect_parse_error("pkcs11:library-version=2.x", "");
	/* the query's value is never in the message */
	assert_int_equal(mpc_token_uri_parse("pkcs11:token=a?frob=hunter2", &p, &e), MPC_ERR_PARSE);
	assert_null(strstr(e.msg, "hunter2"));
	/* and through the token layer, with the URI shown for the operator */
	assert_int_equal(open_uri(u, with_module(u, "token=a;frob=1"), NULL, NULL, &e),
			 MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "\"frob\""));
	assert_non_null(strstr(e.msg, "pkcs11:token=a;frob=1"));
	/* whitespace p11-kit drops does not hide a name, and known ones all parse */
	assert_int_equal(mpc_token_uri_parse("pkcs11:token=a;slot-id=7;slot-description=d;"
					     "slot-manufacturer=m;library-description=l;"
					     "library-manufacturer=x;library-version=1.2;object=o;"
					     "id=%01;type=private;manufacturer=m;serial=s;model=q"
					     "?module-path=/x.so&pin-source=file:/p",
					     &p, &e),
			 MPC_OK);
	assert_true(p->has_slot_id);
	assert_int_equal(p->slot_id, 7);
	mpc_token_uri_free(p);
	expect_parse_error("pkcs11:token=a;fr ob=1", "unknown attribute \"frob\"");
}

/* A URI that names no module searches the modules p11-kit registered, not a copy of the same
 * module this context loaded by path for another URI (else one token would be two matches). */
static void test_no_module_searches_registered(void **state)
{
	struct ut *u = *state;
	struct mpc_err e = { 0 };
	char dir[] = "/tmp/mpc-module-XXXXXX", copy[300], cmd[1024], uri[600];
	int rc;

	assert_non_null(mkdtemp(dir));
	snprintf(copy, sizeof(copy), "%s/libsofthsm2-copy.so", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 0755 '%s'", u->hsm.module, copy, copy);
	assert_int_equal(system(cmd), 0);
	snprintf(uri, sizeof(uri), "pkcs11:token=b?module-path=%s", copy);
	assert_string_equal(label_of(u, uri), "b");
	rc = open_uri(u, "pkcs11:token=b", NULL, NULL, &e);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	if (rc == MPC_ERR_TOKEN_NOT_FOUND || rc == MPC_ERR_MODULE)
		skip(); /* SoftHSM2 is not registered with p11-kit here */
	if (rc != MPC_OK)
		fail_msg("%s", e.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_slot_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_library, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_module_searches_registered, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
