/* keys.c: mpc-backup's token objects: lookups, the key ceremony, transport key import. */
#include "pkcs11/keys.h"

#include <stdio.h>
#include <string.h>

#include "pkcs11/internal.h"
#include "pkcs11/vendor.h"

static const struct mpc_key_desc descs[MPC_KEY_ROLE_COUNT] = {
	{ MPC_KEY_SEAL_GCM, "mpc-backup-seal-gcm", 0x01, MPC_KEY_KIND_SECRET },
	{ MPC_KEY_SEAL_CBC, "mpc-backup-seal-cbc", 0x02, MPC_KEY_KIND_SECRET },
	{ MPC_KEY_SEAL_HMAC, "mpc-backup-seal-hmac", 0x03, MPC_KEY_KIND_SECRET },
	{ MPC_KEY_TLS_PRIVATE, "mpc-backup-tls", 0x10, MPC_KEY_KIND_PRIVATE },
	{ MPC_KEY_TLS_PUBLIC, "mpc-backup-tls", 0x10, MPC_KEY_KIND_PUBLIC },
	{ MPC_KEY_TRANSPORT, "mpc-backup-transport", 0x20, MPC_KEY_KIND_SECRET },
};

/* Cryptoki key types by role (the class follows from the kind). */
static const CK_KEY_TYPE ck_types[MPC_KEY_ROLE_COUNT] = {
	CKK_AES, CKK_AES, CKK_GENERIC_SECRET, CKK_EC_EDWARDS, CKK_EC_EDWARDS, CKK_AES,
};

/* DER of the Ed25519 OID 1.3.101.112, the EC_PARAMS SoftHSM and PKCS#11 3.0 expect. */
const CK_BYTE mpc_ed25519_ec_params[5] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };

const struct mpc_key_desc *mpc_key_desc(enum mpc_key_role role)
{
	return role < MPC_KEY_ROLE_COUNT ? &descs[role] : NULL;
}

const char *mpc_key_kind_name(enum mpc_key_kind kind)
{
	return kind == MPC_KEY_KIND_PRIVATE  ? "private"
	       : kind == MPC_KEY_KIND_PUBLIC ? "public"
					     : "secret";
}

CK_OBJECT_CLASS mpc_key_ck_class(enum mpc_key_role role)
{
	switch (mpc_key_desc(role)->kind) {
	case MPC_KEY_KIND_PRIVATE:
		return CKO_PRIVATE_KEY;
	case MPC_KEY_KIND_PUBLIC:
		return CKO_PUBLIC_KEY;
	default:
		return CKO_SECRET_KEY;
	}
}

CK_KEY_TYPE mpc_key_ck_type(enum mpc_key_role role)
{
	return ck_types[role];
}

int mpc_key_find(struct mpc_token *t, enum mpc_key_role role, CK_OBJECT_HANDLE *h,
		 struct mpc_err *e)
{
	const struct mpc_key_desc *d = mpc_key_desc(role);
	const char *label = d->label;
	CK_OBJECT_CLASS cls = mpc_key_ck_class(role);
	CK_BYTE id = d->id;
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0, nattr = 3;
	CK_ATTRIBUTE tmpl[3];
	CK_RV rv;

	*h = CK_INVALID_HANDLE;
	/* The TLS key may be an operator's existing key, named by the URI's object=. */
	if ((role == MPC_KEY_TLS_PRIVATE || role == MPC_KEY_TLS_PUBLIC) &&
	    mpc_token_uri_object(t) != NULL) {
		label = mpc_token_uri_object(t);
		nattr = 2;
	}
	/* kmsp11 names the object's CKA_ID after the key version (vendor.c): by label only. */
	if (d->kind == MPC_KEY_KIND_SECRET && mpc_vendor_rules(t)->find_by_label)
		nattr = 2;
	tmpl[0] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	tmpl[1] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, strlen(label) };
	tmpl[2] = (CK_ATTRIBUTE){ CKA_ID, &id, sizeof(id) };
	rv = t->fn->C_FindObjectsInit(t->session, tmpl, nattr);
	if (rv != CKR_OK)
		return mpc_fail_ck(e, rv, "C_FindObjectsInit", label);
	rv = t->fn->C_FindObjects(t->session, found, 2, &n);
	(void)t->fn->C_FindObjectsFinal(t->session);
	if (rv != CKR_OK)
		return mpc_fail_ck(e, rv, "C_FindObjects", label);
	if (n == 0) {
		int rc = mpc_fail(
			e, MPC_ERR_OBJECT_NOT_FOUND,
			"token \"%s\" has no %s key \"%s\" (run `mpc-backup token init%s`)",
			MPC_TOKEN_LABEL(t), mpc_key_kind_name(d->kind), label,
			role == MPC_KEY_TRANSPORT ? " --import-transport-key" : "");

		/* a token gone away finds nothing too: presence.c tells the two apart */
		return mpc_token_classify(t, rc, e);
	}
	if (n > 1)
		return mpc_fail(
			e, MPC_ERR_STATE,
			"token \"%s\" has more than one object labelled \"%s\"; refusing to "
			"guess which one is mpc-backup's",
			MPC_TOKEN_LABEL(t), label);
	*h = found[0];
	return MPC_OK;
}

void mpc_key_object_id(struct mpc_token *t, CK_OBJECT_HANDLE h, char *out, size_t cap)
{
	unsigned char v[32];
	CK_ATTRIBUTE a = { CKA_ID, v, sizeof(v) };
	int text = 1;
	size_t o = 0;

	snprintf(out, cap, "(none)");
	if (t->fn->C_GetAttributeValue(t->session, h, &a, 1) != CKR_OK ||
	    a.ulValueLen == (CK_ULONG)-1 || a.ulValueLen == 0 || a.ulValueLen > sizeof(v))
		return;
	for (CK_ULONG i = 0; i < a.ulValueLen; i++)
		text &= v[i] >= 0x21 && v[i] < 0x7f && v[i] != '"';
	for (CK_ULONG i = 0; i < a.ulValueLen && o + 3 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, text ? "%c" : "%02x", v[i]);
}

int mpc_key_get(struct mpc_token *t, enum mpc_key_role role, CK_OBJECT_HANDLE *h, struct mpc_err *e)
{
	int rc;

	if ((size_t)role < sizeof(t->key_cache) / sizeof(t->key_cache[0]) &&
	    t->key_cache[role] != 0) {
		*h = t->key_cache[role];
		return MPC_OK;
	}
	rc = mpc_key_find(t, role, h, e);
	if (rc != MPC_OK)
		return rc;
	/* A key found by label is used only if it really is sealed in the token: an object
	 * planted with the right label but extractable (or not sensitive) is refused. */
	if (mpc_key_desc(role)->kind != MPC_KEY_KIND_PUBLIC) {
		struct mpc_key_attrs a;

		rc = mpc_key_get_attrs(t, *h, &a, e);
		if (rc != MPC_OK)
			return rc;
		if (a.sensitive != 1 || a.extractable != 0) {
			char id[80];

			mpc_key_object_id(t, *h, id, sizeof(id));
			return mpc_fail(
				e, MPC_ERR_STATE,
				"token \"%s\": key \"%s\" (CKA_ID %s) is %s: refusing to use a "
				"key that can leave the token (remove it with the token's own tools "
				"and run `mpc-backup token init`)",
				MPC_TOKEN_LABEL(t), mpc_key_desc(role)->label, id,
				a.extractable != 0 ? "extractable" : "not sensitive");
		}
	}
	if ((size_t)role < sizeof(t->key_cache) / sizeof(t->key_cache[0]))
		t->key_cache[role] = *h;
	return MPC_OK;
}

/* kmsp11 (vendor.c): the key is made from CKA_LABEL and CKA_KMS_ALGORITHM alone; the module
 * decides every other attribute (non-extractable, sensitive: checked when the key is used). */
static CK_RV gen_secret_kms(struct mpc_token *t, enum mpc_key_role role, CK_OBJECT_HANDLE *h)
{
	const struct mpc_key_desc *d = mpc_key_desc(role);
	CK_ULONG alg = role == MPC_KEY_SEAL_HMAC ? MPC_KMS_HMAC_SHA256 : MPC_KMS_AES_256_CBC;
	CK_MECHANISM mech = { role == MPC_KEY_SEAL_HMAC ? CKM_GENERIC_SECRET_KEY_GEN
							: CKM_AES_KEY_GEN,
			      NULL, 0 };
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_LABEL, (void *)d->label, strlen(d->label) },
		{ MPC_CKA_KMS_ALGORITHM, &alg, sizeof(alg) },
	};

	return t->fn->C_GenerateKey(t->session, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), h);
}

static int gen_secret(struct mpc_token *t, enum mpc_key_role role, struct mpc_err *e)
{
	const struct mpc_vendor_rules *vr = mpc_vendor_rules(t);
	const struct mpc_key_desc *d = mpc_key_desc(role);
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BBOOL is_mac = role == MPC_KEY_SEAL_HMAC;
	CK_KEY_TYPE type = is_mac ? vr->hmac_key_type : mpc_key_ck_type(role);
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ULONG len = 32;
	CK_BYTE id = d->id;
	CK_MECHANISM mech = { is_mac ? CKM_GENERIC_SECRET_KEY_GEN : CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_LABEL, (void *)d->label, strlen(d->label) },
		{ CKA_ID, &id, sizeof(id) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_ENCRYPT, is_mac ? &no : &yes, sizeof(yes) },
		{ CKA_DECRYPT, is_mac ? &no : &yes, sizeof(yes) },
		{ CKA_SIGN, is_mac ? &yes : &no, sizeof(yes) },
		{ CKA_VERIFY, is_mac ? &yes : &no, sizeof(yes) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_VALUE_LEN, &len, sizeof(len) }, /* last: dropped where the rules say so */
	};
	CK_ULONG n = sizeof(tmpl) / sizeof(tmpl[0]);
	CK_OBJECT_HANDLE h;
	CK_RV rv;

	if (vr->kms_keygen) {
		if (role == MPC_KEY_SEAL_GCM)
			return mpc_fail(
				e, MPC_ERR_UNSUPPORTED,
				"token \"%s\" (kmsp11): an AES-GCM key there works only "
				"through CKM_CLOUDKMS_AES_GCM, which mpc-backup does not use",
				MPC_TOKEN_LABEL(t));
		rv = gen_secret_kms(t, role, &h);
		if (rv != CKR_OK)
			return mpc_fail_ck(e, rv, "C_GenerateKey(CKA_KMS_ALGORITHM)", d->label);
		return MPC_OK;
	}
	/* YubiHSM 2 (vendor.c): CKK_SHA256_HMAC and no CKA_VALUE_LEN. */
	if (is_mac && !vr->hmac_value_len)
		n--;
	rv = t->fn->C_GenerateKey(t->session, &mech, tmpl, n, &h);
	/* An unknown token (no rules of its own) that refuses the PKCS#11 generic-secret HMAC
	 * template is asked once more the YubiHSM 2 way (vendor.c). */
	if (is_mac && vr->hmac_retry &&
	    (rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	     rv == CKR_TEMPLATE_INCONSISTENT || rv == CKR_KEY_TYPE_INCONSISTENT)) {
		type = CKK_SHA256_HMAC;
		rv = t->fn->C_GenerateKey(t->session, &mech, tmpl, n - 1, &h);
	}
	if (rv != CKR_OK)
		return mpc_fail_ck(e, rv, "C_GenerateKey", d->label);
	return MPC_OK;
}

static int gen_tls(struct mpc_token *t, struct mpc_err *e)
{
	const struct mpc_key_desc *d = mpc_key_desc(MPC_KEY_TLS_PRIVATE);
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE type = CKK_EC_EDWARDS;
	CK_BYTE id = d->id;
	CK_MECHANISM mech = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pub[] = {
		{ CKA_CLASS, &pub_cls, sizeof(pub_cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_EC_PARAMS, (void *)mpc_ed25519_ec_params, sizeof(mpc_ed25519_ec_params) },
		{ CKA_LABEL, (void *)d->label, strlen(d->label) },
		{ CKA_ID, &id, sizeof(id) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_ENCRYPT, &no, sizeof(no) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_CLASS, &priv_cls, sizeof(priv_cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_LABEL, (void *)d->label, strlen(d->label) },
		{ CKA_ID, &id, sizeof(id) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
	};
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_RV rv;

	rv = t->fn->C_GenerateKeyPair(t->session, &mech, pub, sizeof(pub) / sizeof(pub[0]), priv,
				      sizeof(priv) / sizeof(priv[0]), &hpub, &hpriv);
	if (rv != CKR_OK)
		return mpc_fail_ck(e, rv, "C_GenerateKeyPair(CKM_EC_EDWARDS_KEY_PAIR_GEN)",
				   d->label);
	return MPC_OK;
}

/* 1 present, 0 absent, <0 error. */
static int present(struct mpc_token *t, enum mpc_key_role role, struct mpc_err *e)
{
	CK_OBJECT_HANDLE h;
	struct mpc_err tmp = { 0 };
	int rc = mpc_key_find(t, role, &h, &tmp);

	if (rc == MPC_OK)
		return 1;
	if (rc == MPC_ERR_OBJECT_NOT_FOUND)
		return 0;
	if (e != NULL)
		*e = tmp;
	return rc;
}

int mpc_key_ceremony(struct mpc_token *t, int what, struct mpc_ceremony_report *rep,
		     struct mpc_err *e)
{
	int rc = MPC_OK, p;
	int gcm = mpc_token_has_mechanism(t, CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT);
	int cbc = mpc_token_has_mechanism(t, CKM_AES_CBC_PAD, CKF_ENCRYPT | CKF_DECRYPT) &&
		  mpc_token_has_mechanism(t, CKM_SHA256_HMAC, CKF_SIGN | CKF_VERIFY);
	int eddsa =
		mpc_token_has_mechanism(t, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR) &&
		mpc_token_has_mechanism(t, CKM_EDDSA, CKF_SIGN);
	const enum mpc_key_role secrets[] = { MPC_KEY_SEAL_GCM, MPC_KEY_SEAL_CBC,
					      MPC_KEY_SEAL_HMAC };
	const int wanted[] = { gcm, cbc, cbc };

	memset(rep, 0, sizeof(*rep));
	if ((what & MPC_CEREMONY_SEAL) && !gcm && !cbc)
		return mpc_fail(e, MPC_ERR_UNSUPPORTED,
				"token \"%s\" offers neither CKM_AES_GCM nor CKM_AES_CBC_PAD with "
				"CKM_SHA256_HMAC: it cannot seal keyshares",
				MPC_TOKEN_LABEL(t));
	mpc_token_lock(t);
	for (size_t i = 0; i < 3; i++) {
		p = present(t, secrets[i], e);
		if (p < 0) {
			rc = p;
			goto out;
		}
		if (p) {
			/* A key already there under mpc-backup's label must be one it may use: one
			 * that can leave the token is named, not counted as present. */
			CK_OBJECT_HANDLE h;

			rc = mpc_key_get(t, secrets[i], &h, e);
			if (rc != MPC_OK)
				goto out;
		}
		if (!p && wanted[i] && (what & MPC_CEREMONY_SEAL)) {
			rc = gen_secret(t, secrets[i], e);
			if (rc != MPC_OK)
				goto out;
			rep->created[secrets[i]] = 1;
			p = 1;
		}
		rep->present[secrets[i]] = p;
	}
	{
		int ppriv = present(t, MPC_KEY_TLS_PRIVATE, e);
		int ppub = ppriv < 0 ? ppriv : present(t, MPC_KEY_TLS_PUBLIC, e);

		if (ppriv < 0 || ppub < 0) {
			rc = ppriv < 0 ? ppriv : ppub;
			goto out;
		}
		if (ppriv != ppub) {
			rc = mpc_fail(
				e, MPC_ERR_STATE,
				"token \"%s\" holds only the %s half of the TLS key pair; "
				"refusing to create another (inspect it with `mpc-backup token show`)",
				MPC_TOKEN_LABEL(t), ppriv ? "private" : "public");
			goto out;
		}
		if (!ppriv && (what & MPC_CEREMONY_TLS)) {
			if (!eddsa) {
				rc = mpc_fail(
					e, MPC_ERR_UNSUPPORTED,
					"token \"%s\" offers no Ed25519 (CKM_EC_EDWARDS_KEY_PAIR_GEN "
					"and CKM_EDDSA); keep the TLS key in another token "
					"(--tls-token)",
					MPC_TOKEN_LABEL(t));
				goto out;
			}
			rc = gen_tls(t, e);
			if (rc != MPC_OK)
				goto out;
			rep->created[MPC_KEY_TLS_PRIVATE] = rep->created[MPC_KEY_TLS_PUBLIC] = 1;
			ppriv = 1;
		}
		rep->present[MPC_KEY_TLS_PRIVATE] = rep->present[MPC_KEY_TLS_PUBLIC] = ppriv;
	}
	p = present(t, MPC_KEY_TRANSPORT, e);
	if (p < 0) {
		rc = p;
		goto out;
	}
	rep->present[MPC_KEY_TRANSPORT] = p;
out:
	mpc_token_unlock(t);
	return rc;
}

int mpc_key_import_transport(struct mpc_token *t, const uint8_t key[32], struct mpc_err *e)
{
	const struct mpc_key_desc *d = mpc_key_desc(MPC_KEY_TRANSPORT);
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_BYTE id = d->id;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_VALUE, (void *)key, 32 },
		{ CKA_LABEL, (void *)d->label, strlen(d->label) },
		{ CKA_ID, &id, sizeof(id) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },
		{ CKA_SIGN, &no, sizeof(no) },
		{ CKA_VERIFY, &no, sizeof(no) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
	};
	CK_OBJECT_HANDLE h;
	CK_RV rv;
	int p, rc = MPC_OK;

	mpc_token_lock(t);
	if (mpc_vendor_rules(t)->no_create_object) {
		/* kmsp11 (vendor.c): no C_CreateObject, so no key can be imported. */
		rc = mpc_fail(e, MPC_ERR_UNSUPPORTED,
			      "token \"%s\" (%s) cannot import keys (no C_CreateObject): keep the "
			      "transport key in a file (--transport-key-file) or another token",
			      MPC_TOKEN_LABEL(t), mpc_token_kind_name(mpc_vendor_rules(t)->kind));
		goto out;
	}
	p = present(t, MPC_KEY_TRANSPORT, e);
	if (p < 0) {
		rc = p;
		goto out;
	}
	if (p) {
		rc = mpc_fail(
			e, MPC_ERR_EXISTS,
			"token \"%s\" already holds a transport key \"%s\"; it is never "
			"overwritten (delete it with the token's own tools if it must change)",
			MPC_TOKEN_LABEL(t), d->label);
		goto out;
	}
	rv = t->fn->C_CreateObject(t->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);
	if (rv != CKR_OK)
		rc = mpc_fail_ck(e, rv, "C_CreateObject", d->label);
out:
	mpc_token_unlock(t);
	return rc;
}

int mpc_key_get_attrs(struct mpc_token *t, CK_OBJECT_HANDLE h, struct mpc_key_attrs *a,
		      struct mpc_err *e)
{
	CK_BBOOL v[13];
	CK_ATTRIBUTE_TYPE types[13] = { CKA_TOKEN,
					CKA_PRIVATE,
					CKA_SENSITIVE,
					CKA_EXTRACTABLE,
					CKA_ALWAYS_SENSITIVE,
					CKA_NEVER_EXTRACTABLE,
					CKA_ENCRYPT,
					CKA_DECRYPT,
					CKA_SIGN,
					CKA_VERIFY,
					CKA_WRAP,
					CKA_UNWRAP,
					CKA_DERIVE };
	int *dst[13] = { &a->token,
			 &a->private_,
			 &a->sensitive,
			 &a->extractable,
			 &a->always_sensitive,
			 &a->never_extractable,
			 &a->encrypt,
			 &a->decrypt,
			 &a->sign,
			 &a->verify,
			 &a->wrap,
			 &a->unwrap,
			 &a->derive };
	CK_ULONG vlen = 0;
	CK_ATTRIBUTE one;

	memset(a, 0, sizeof(*a));
	/* One attribute at a time: an attribute a class lacks is reported as -1, not an error. */
	for (int i = 0; i < 13; i++) {
		CK_RV rv;

		one = (CK_ATTRIBUTE){ types[i], &v[i], sizeof(v[i]) };
		rv = t->fn->C_GetAttributeValue(t->session, h, &one, 1);
		if (rv == CKR_ATTRIBUTE_TYPE_INVALID || one.ulValueLen == (CK_ULONG)-1)
			*dst[i] = -1;
		else if (rv != CKR_OK)
			return mpc_fail_ck(e, rv, "C_GetAttributeValue", "key attributes");
		else
			*dst[i] = v[i] ? 1 : 0;
	}
	one = (CK_ATTRIBUTE){ CKA_VALUE_LEN, &vlen, sizeof(vlen) };
	if (t->fn->C_GetAttributeValue(t->session, h, &one, 1) == CKR_OK)
		a->value_len = vlen;
	return MPC_OK;
}

struct present_call {
	enum mpc_key_role role;
	int present;
	struct mpc_key_attrs *attrs; /* NULL: presence only */
};

static int present_op(struct mpc_token *t, void *arg, struct mpc_err *e)
{
	struct present_call *a = arg;
	CK_OBJECT_HANDLE h;
	int rc;

	if (a->attrs == NULL) {
		rc = present(t, a->role, e);
		if (rc < 0)
			return rc;
		a->present = rc;
		return MPC_OK;
	}
	rc = mpc_key_find(t, a->role, &h, e);
	if (rc == MPC_OK)
		rc = mpc_key_get_attrs(t, h, a->attrs, e);
	return rc;
}

int mpc_key_present(struct mpc_token *t, enum mpc_key_role role, int *present_out,
		    struct mpc_err *e)
{
	struct present_call a = { role, 0, NULL };
	int rc;

	if (mpc_key_desc(role) == NULL)
		return mpc_fail(e, MPC_ERR_INTERNAL, "no key role %d", (int)role);
	rc = mpc_token_call(t, present_op, &a, e);
	if (rc == MPC_OK)
		*present_out = a.present;
	return rc;
}

int mpc_key_attrs(struct mpc_token *t, enum mpc_key_role role, struct mpc_key_attrs *attrs,
		  struct mpc_err *e)
{
	struct mpc_key_attrs got;
	struct present_call a = { role, 0, &got };
	int rc;

	if (mpc_key_desc(role) == NULL)
		return mpc_fail(e, MPC_ERR_INTERNAL, "no key role %d", (int)role);
	rc = mpc_token_call(t, present_op, &a, e);
	if (rc == MPC_OK)
		*attrs = got;
	return rc;
}
