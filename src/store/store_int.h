/* store_int.h: helpers shared by the store's source files (not part of the public API). */
#ifndef MPC_STORE_STORE_INT_H
#define MPC_STORE_STORE_INT_H

#include "src/store/store.h"

/* Full path of an entry (DIR/name or DIR/quarantine/name). */
int mpc_store_entry_path(const struct mpc_store *s, const struct mpc_store_entry *en,
			 char out[PATH_MAX], struct mpc_err *e);

/* 1 if the (readable, non-quarantined) file with header h covers ks. */
int mpc_store_header_covers(const struct mpc_store_header *h, const struct mpc_keyset *ks);

/* Index of the newest non-quarantined readable entry in l, or -1. */
long mpc_store_list_newest(const struct mpc_store_list *l);

/* MPC_ERR_STATE (the entry's problem: path, owner or mode, and the fix) if a non-quarantined
 * entry of l is untrusted, else MPC_OK. */
int mpc_store_list_refuse_untrusted(const struct mpc_store_list *l, struct mpc_err *e);

#endif
