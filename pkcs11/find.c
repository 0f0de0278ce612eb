/* find.c: the one token a PKCS#11 URI names (RFC 7512): library, slot and token attributes all
 * filter, and a URI that matches more than one token is refused, listing each match's URI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/internal.h"

/* A token seen while searching. */
struct seen_token {
	int mod; /* index in ctx->mod */
	CK_SLOT_ID slot;
	CK_TOKEN_INFO info; /* strings blank-padded (mpc_p11_blank_pad) */
	int match;
};

struct search {
	struct seen_token *tok;
	size_t n;
	char excluded[200]; /* modules the library-* attributes excluded, for the message */
};

static void pad_token_info(CK_TOKEN_INFO *ti)
{
	mpc_p11_blank_pad(ti->label, sizeof(ti->label));
	mpc_p11_blank_pad(ti->manufacturerID, sizeof(ti->manufacturerID));
	mpc_p11_blank_pad(ti->model, sizeof(ti->model));
	mpc_p11_blank_pad(ti->serialNumber, sizeof(ti->serialNumber));
}

static int uri_has_library_attrs(const struct mpc_token_uri *u)
{
	const CK_INFO *mi = p11_kit_uri_get_module_info(u->uri);

	return mi->libraryDescription[0] != 0 || mi->manufacturerID[0] != 0 ||
	       mi->libraryVersion.major != (CK_BYTE)-1 || mi->libraryVersion.minor != (CK_BYTE)-1;
}

/* Does module `m` pass the URI's library-* attributes? Notes it in s->excluded if not. */
static int module_matches(struct mpc_p11_module *m, const struct mpc_token_uri *u, struct search *s)
{
	size_t used = strlen(s->excluded);
	const char *base = strrchr(m->path, '/') != NULL ? strrchr(m->path, '/') + 1 : m->path;
	char desc[33], manuf[33];
	CK_INFO info;
	CK_RV rv;

	if (!uri_has_library_attrs(u))
		return 1;
	rv = m->fn->C_GetInfo(&info);
	if (rv == CKR_OK) {
		mpc_p11_blank_pad(info.libraryDescription, sizeof(info.libraryDescription));
		mpc_p11_blank_pad(info.manufacturerID, sizeof(info.manufacturerID));
		if (mpc_token_uri_match_module(u, &info))
			return 1;
		mpc_p11_trim(desc, info.libraryDescription, 32);
		mpc_p11_trim(manuf, info.manufacturerID, 32);
		snprintf(s->excluded + used, sizeof(s->excluded) - used,
			 "%s%s is \"%s\" by \"%s\", version %u.%u", used ? "; " : "", base, desc,
			 manuf, (unsigned)info.libraryVersion.major,
			 (unsigned)info.libraryVersion.minor);
	} else {
		snprintf(s->excluded + used, sizeof(s->excluded) - used, "%s%s: C_GetInfo failed",
			 used ? "; " : "", base);
	}
	return 0;
}

/* Every slot of module `mi` with a token, appended to s->tok, each marked as matching or not. */
static int scan_module(struct mpc_p11_ctx *ctx, int mi, const struct mpc_token_uri *u,
		       struct search *s, struct mpc_err *e)
{
	struct mpc_p11_module *m = &ctx->mod[mi];
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_RV rv;
	int lib_ok, rc = MPC_OK;

	lib_ok = module_matches(m, u, s);
	rv = m->fn->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv == CKR_OK && n > 0) {
		slots = calloc(n, sizeof(*slots));
		if (slots == NULL)
			return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		rv = m->fn->C_GetSlotList(CK_TRUE, slots, &n);
	}
	if (rv != CKR_OK) {
		rc = mpc_fail_ck(e, rv, "C_GetSlotList", m->path);
		goto out;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		struct seen_token *t, *grown;
		CK_SLOT_INFO si;
		int slot_ok;

		grown = realloc(s->tok, (s->n + 1) * sizeof(*s->tok));
		if (grown == NULL) {
			rc = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
			goto out;
		}
		s->tok = grown;
		t = &grown[s->n];
		memset(t, 0, sizeof(*t));
		if (m->fn->C_GetTokenInfo(slots[i], &t->info) != CKR_OK)
			continue; /* the token went away since C_GetSlotList */
		pad_token_info(&t->info);
		t->mod = mi;
		t->slot = slots[i];
		if (!mpc_token_uri_has_slot_info(u)) {
			slot_ok = mpc_token_uri_match_slot(u, slots[i], NULL);
		} else if (m->fn->C_GetSlotInfo(slots[i], &si) == CKR_OK) {
			mpc_p11_blank_pad(si.slotDescription, sizeof(si.slotDescription));
			mpc_p11_blank_pad(si.manufacturerID, sizeof(si.manufacturerID));
			slot_ok = mpc_token_uri_match_slot(u, slots[i], &si);
		} else {
			slot_ok = 0;
		}
		t->match = lib_ok && slot_ok && mpc_token_uri_match_token(u, &t->info);
		s->n++;
	}
out:
	free(slots);
	return rc;
}

static int same_token_info(const CK_TOKEN_INFO *a, const CK_TOKEN_INFO *b)
{
	return memcmp(a->label, b->label, sizeof(a->label)) == 0 &&
	       memcmp(a->manufacturerID, b->manufacturerID, sizeof(a->manufacturerID)) == 0 &&
	       memcmp(a->model, b->model, sizeof(a->model)) == 0 &&
	       memcmp(a->serialNumber, b->serialNumber, sizeof(a->serialNumber)) == 0;
}

/* 1 if another token of the same module shows the same label, manufacturer, model and serial:
 * only its slot-id tells them apart. */
static int needs_slot_id(const struct search *s, size_t i)
{
	for (size_t j = 0; j < s->n; j++)
		if (j != i && s->tok[j].mod == s->tok[i].mod &&
		    same_token_info(&s->tok[j].info, &s->tok[i].info))
			return 1;
	return 0;
}

static int fail_not_found(const struct mpc_token_uri *u, const struct search *s, struct mpc_err *e)
{
	char seen[330] = "";
	size_t used = 0;

	for (size_t i = 0; i < s->n; i++) {
		char label[33], item[80];

		mpc_p11_trim(label, s->tok[i].info.label, 32);
		snprintf(item, sizeof(item), "%s\"%s\" (slot-id %lu)", used ? ", " : "", label,
			 (unsigned long)s->tok[i].slot);
		if (used + strlen(item) + 8 >= sizeof(seen)) {
			snprintf(seen + used, sizeof(seen) - used, ", ...");
			break;
		}
		used += (size_t)snprintf(seen + used, sizeof(seen) - used, "%s", item);
	}
	return mpc_fail(e, MPC_ERR_TOKEN_NOT_FOUND, "no token matches \"%s\" (tokens seen: %s%s%s)",
			u->text, used ? seen : "none",
			s->excluded[0] ? "; modules whose library-* do not match: " : "",
			s->excluded);
}

/* More than one match: refuse, listing each match's URI (as many as the message holds). */
static int fail_ambiguous(struct mpc_p11_ctx *ctx, const struct mpc_token_uri *u,
			  const struct search *s, size_t matches, struct mpc_err *e)
{
	char list[MPC_ERR_MSG_MAX - 240];
	size_t used = 0, listed = 0;
	int rc;

	list[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		char *uri = NULL;

		if (!s->tok[i].match)
			continue;
		rc = mpc_token_uri_format(&s->tok[i].info, s->tok[i].slot, needs_slot_id(s, i),
					  &ctx->mod[s->tok[i].mod], &uri, e);
		if (rc != MPC_OK)
			return rc;
		if (used + strlen(uri) + 5 < sizeof(list)) {
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s\"%s\"",
						 used ? ", " : "", uri);
			listed++;
		}
		free(uri);
	}
	return mpc_fail(e, MPC_ERR_USAGE,
			"PKCS#11 URI \"%s\" matches %zu tokens; refusing to guess. Name one: %s%s",
			u->text, matches, list,
			listed < matches ? ", ... (mpc-backup token list shows them all)" : "");
}

/* The one token `u` selects among ctx->mod[first .. end-1] (registered: among those p11-kit
 * registered, when the URI names no module). */
static int find_in(struct mpc_p11_ctx *ctx, const struct mpc_token_uri *u, int first, int end,
		   int registered, struct mpc_token_found *out, struct mpc_err *e)
{
	struct search s;
	size_t matches = 0, hit = 0;
	int rc = MPC_OK;

	memset(&s, 0, sizeof(s));
	for (int i = first; i < end; i++) {
		/* A URI that names no module searches the modules p11-kit has registered (they
		 * have a name), not one this context loaded by path for another URI. */
		if (registered && u->module_path == NULL && u->module_name == NULL &&
		    ctx->mod[i].name == NULL)
			continue;
		rc = scan_module(ctx, i, u, &s, e);
		if (rc != MPC_OK)
			goto out;
	}
	for (size_t i = 0; i < s.n; i++)
		if (s.tok[i].match && matches++ == 0)
			hit = i;
	if (matches == 0) {
		rc = fail_not_found(u, &s, e);
	} else if (matches > 1) {
		rc = fail_ambiguous(ctx, u, &s, matches, e);
	} else {
		out->mod = &ctx->mod[s.tok[hit].mod];
		out->slot = s.tok[hit].slot;
		out->info = s.tok[hit].info;
	}
out:
	free(s.tok);
	return rc;
}

int mpc_token_find(struct mpc_p11_ctx *ctx, const struct mpc_token_uri *u,
		   struct mpc_token_found *out, struct mpc_err *e)
{
	int rc, first = 0, end = 0;

	rc = mpc_p11_modules_for_uri(ctx, u, &first, &end, e);
	if (rc != MPC_OK)
		return rc;
	if (first == end)
		return mpc_fail(e, MPC_ERR_MODULE,
				"no PKCS#11 module: name one with module-path= or module-name= in "
				"the token URI");
	return find_in(ctx, u, first, end, 1, out, e);
}

int mpc_token_find_in_module(struct mpc_p11_ctx *ctx, struct mpc_p11_module *m,
			     const struct mpc_token_uri *u, struct mpc_token_found *out,
			     struct mpc_err *e)
{
	int mi = (int)(m - ctx->mod);

	if (mi < 0 || mi >= ctx->n)
		return mpc_fail(e, MPC_ERR_INTERNAL, "module %s is not in this context", m->path);
	return find_in(ctx, u, mi, mi + 1, 0, out, e);
}
