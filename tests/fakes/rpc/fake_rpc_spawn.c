/* fake_rpc_spawn.c: fork/exec fake-rpc, read its "PORT n" line, kill and reap it. */
#include "tests/fakes/rpc/fake_rpc_spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int mpc_fake_rpc_start(struct mpc_fake_rpc *f, const char *dir, const char *fault,
		       const char *log_path)
{
	return mpc_fake_rpc_start_tls(f, dir, fault, log_path, NULL, NULL);
}

int mpc_fake_rpc_start_tls(struct mpc_fake_rpc *f, const char *dir, const char *fault,
			   const char *log_path, const char *cert_pem, const char *key_pem)
{
	int pipefd[2];
	char line[64];
	size_t n = 0;
	pid_t pid;

	memset(f, 0, sizeof(*f));
	if (pipe(pipefd) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		int logfd = open(log_path != NULL ? log_path : "/dev/null",
				 O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);

		dup2(pipefd[1], 1);
		if (logfd >= 0)
			dup2(logfd, 2);
		close(pipefd[0]);
		close(pipefd[1]);
		if (cert_pem != NULL && key_pem != NULL)
			execl(MPC_FAKE_RPC_PATH, "fake-rpc", "--dir", dir, "--fault",
			      fault != NULL ? fault : "none", "--tls-cert", cert_pem, "--tls-key",
			      key_pem, (char *)NULL);
		else
			execl(MPC_FAKE_RPC_PATH, "fake-rpc", "--dir", dir, "--fault",
			      fault != NULL ? fault : "none", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while (n + 1 < sizeof(line)) {
		ssize_t r = read(pipefd[0], line + n, 1);

		if (r <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	close(pipefd[0]);
	f->pid = pid;
	if (sscanf(line, "PORT %u", &f->port) != 1 || f->port == 0) {
		fprintf(stderr, "fake-rpc did not report a port (got \"%s\")\n", line);
		mpc_fake_rpc_stop(f);
		return -1;
	}
	snprintf(f->url, sizeof(f->url), "%s://127.0.0.1:%u", cert_pem != NULL ? "https" : "http",
		 f->port);
	return 0;
}

void mpc_fake_rpc_stop(struct mpc_fake_rpc *f)
{
	if (f == NULL || f->pid <= 0)
		return;
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	f->pid = 0;
}

int mpc_fake_rpc_count(const char *log_path, const char *needle)
{
	FILE *fp = fopen(log_path, "r");
	char line[512];
	int count = 0;

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strstr(line, needle) != NULL)
			count++;
	fclose(fp);
	return count;
}
