/* cmd_replica.h: `mpc-backup store replicate|fetch` (cmd_replica.c), dispatched by cmd_store.c. */
#ifndef MPC_CLI_CMD_REPLICA_H
#define MPC_CLI_CMD_REPLICA_H

/* argv[0] = "store", argv[1] = "replicate" or "fetch". Returns the exit status. */
int mpc_cmd_store_replica(int argc, char **argv);

#endif
