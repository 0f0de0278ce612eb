/* address.c: deriving a node's migration address from its contract URL or an override. */
#include "src/contract/address.h"

#include <stdio.h>
#include <string.h>

#include "src/contract/url.h"

static const char *find_override(const struct mpc_address_config *cfg, const char *account_id,
				 const uint8_t tls_key[32])
{
	if (cfg == NULL || cfg->overrides == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->n_overrides; i++) {
		const struct mpc_address_override *o = &cfg->overrides[i];

		if (o->has_tls_key && tls_key != NULL && o->address != NULL &&
		    memcmp(o->tls_key, tls_key, 32) == 0)
			return o->address;
	}
	for (size_t i = 0; i < cfg->n_overrides; i++) {
		const struct mpc_address_override *o = &cfg->overrides[i];

		if (!o->has_tls_key && o->account_id != NULL && account_id != NULL &&
		    o->address != NULL && strcmp(o->account_id, account_id) == 0)
			return o->address;
	}
	return NULL;
}

int mpc_migration_address(const struct mpc_address_config *cfg, const char *account_id,
			  const char *url, const uint8_t tls_key[32], char out[MPC_ADDRESS_MAX],
			  int *overridden, struct mpc_err *e)
{
	struct mpc_url_parts u;
	const char *ov = find_override(cfg, account_id, tls_key);
	unsigned port = cfg != NULL && cfg->migration_port != 0 ? cfg->migration_port
								: MPC_MIGRATION_PORT_DEFAULT;
	int rc;

	out[0] = '\0';
	if (overridden != NULL)
		*overridden = ov != NULL;
	if (ov != NULL) {
		if (strlen(ov) >= MPC_ADDRESS_MAX)
			return mpc_fail(e, MPC_ERR_USAGE,
					"migration address override for %s is too long",
					account_id != NULL ? account_id : "a node");
		snprintf(out, MPC_ADDRESS_MAX, "%s", ov);
		return MPC_OK;
	}
	rc = mpc_url_split(url, &u, "participant url", e);
	if (rc != MPC_OK)
		return rc;
	snprintf(out, MPC_ADDRESS_MAX, "%s%s%s:%u", u.ipv6 ? "[" : "", u.host, u.ipv6 ? "]" : "",
		 port);
	return MPC_OK;
}
