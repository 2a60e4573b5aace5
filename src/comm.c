/*
 * comm.c: the only file of libw2s that calls MPI.  Every call is checked;
 * MPI's default handler (errors are fatal) is kept for the duplicate, so a
 * failing collective ends the job rather than stranding ranks.
 */
#include "w2s/comm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/common.h"
#include "w2s/log.h"

_Noreturn void w2s_die(const char *file, int line, const char *what)
{
	int init = 0, rank = 0;
	MPI_Initialized(&init);
	if (init)
		MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	fprintf(stderr, "w2s: internal error on rank %d at %s:%d: %s\n", rank, file, line, what);
	fflush(stderr);
	if (init)
		MPI_Abort(MPI_COMM_WORLD, 70);
	abort();
}

void w2s_comm_init(struct w2s_comm *c, MPI_Comm world)
{
	W2S_CHECK(MPI_Comm_dup(world, &c->comm) == MPI_SUCCESS);
	MPI_Comm_rank(c->comm, &c->rank);
	MPI_Comm_size(c->comm, &c->size);
}

void w2s_comm_free(struct w2s_comm *c)
{
	if (c->comm != MPI_COMM_NULL && c->comm != 0)
		MPI_Comm_free(&c->comm);
	c->comm = MPI_COMM_NULL;
}

/* MPI counts are int: large buffers go in pieces. */
static void sum_in_chunks(const struct w2s_comm *c, void *buf, size_t n, size_t elem,
			  MPI_Datatype type)
{
	char *p = buf;
	while (n > 0) {
		int part = n > (size_t)INT_MAX ? INT_MAX : (int)n;
		W2S_CHECK(MPI_Allreduce(MPI_IN_PLACE, p, part, type, MPI_SUM, c->comm) ==
			  MPI_SUCCESS);
		p += (size_t)part * elem;
		n -= (size_t)part;
	}
}

void w2s_comm_sum_floats(const struct w2s_comm *c, float *buf, size_t n)
{
	sum_in_chunks(c, buf, n, sizeof *buf, MPI_FLOAT);
}

void w2s_comm_sum_doubles(const struct w2s_comm *c, double *buf, size_t n)
{
	sum_in_chunks(c, buf, n, sizeof *buf, MPI_DOUBLE);
}

void w2s_comm_sum_int64(const struct w2s_comm *c, int64_t *buf, size_t n)
{
	sum_in_chunks(c, buf, n, sizeof *buf, MPI_INT64_T);
}

int w2s_comm_agree(const struct w2s_comm *c, int status)
{
	/* One allreduce gives both the worst status and the lowest failing
	 * rank (as the largest negated rank), which alone prints its message. */
	int v[2] = {status, status ? -c->rank : INT_MIN}, all[2];
	W2S_CHECK(MPI_Allreduce(v, all, 2, MPI_INT, MPI_MAX, c->comm) == MPI_SUCCESS);
	w2s_log_flush_local(all[0] != 0 && all[1] == -c->rank);
	return all[0];
}

/* FNV-1a over the bytes; then min and max over ranks must agree. */
int w2s_comm_same_bytes(const struct w2s_comm *c, const void *buf, size_t bytes)
{
	const unsigned char *p = buf;
	uint64_t h = UINT64_C(1469598103934665603);
	for (size_t i = 0; i < bytes; i++) {
		h ^= p[i];
		h *= UINT64_C(1099511628211);
	}
	uint64_t lo = h, hi = h;
	W2S_CHECK(MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, c->comm) ==
		  MPI_SUCCESS);
	W2S_CHECK(MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, c->comm) ==
		  MPI_SUCCESS);
	return lo == hi;
}

void w2s_comm_bcast(const struct w2s_comm *c, void *buf, size_t bytes, int root)
{
	char *p = buf;
	while (bytes > 0) {
		int part = bytes > (size_t)INT_MAX ? INT_MAX : (int)bytes;
		W2S_CHECK(MPI_Bcast(p, part, MPI_BYTE, root, c->comm) == MPI_SUCCESS);
		p += part;
		bytes -= (size_t)part;
	}
}

void w2s_comm_allgather_shards(const struct w2s_comm *c, const void *local, int64_t n,
			       size_t row_bytes, void *out)
{
	int *counts = w2s_xmalloc((size_t)c->size * sizeof *counts);
	int *displs = w2s_xmalloc((size_t)c->size * sizeof *displs);
	for (int r = 0; r < c->size; r++) {
		int64_t b, e;
		w2s_shard(n, r, c->size, &b, &e);
		/* MPI counts are int; beyond that the caller must gather in parts. */
		W2S_CHECK((double)e * (double)row_bytes <= (double)INT_MAX);
		counts[r] = (int)((e - b) * (int64_t)row_bytes);
		displs[r] = (int)(b * (int64_t)row_bytes);
	}
	W2S_CHECK(MPI_Allgatherv(local, counts[c->rank], MPI_BYTE, out, counts, displs, MPI_BYTE,
				 c->comm) == MPI_SUCCESS);
	free(displs);
	free(counts);
}

void w2s_comm_barrier(const struct w2s_comm *c)
{
	W2S_CHECK(MPI_Barrier(c->comm) == MPI_SUCCESS);
}

double w2s_comm_time(void)
{
	return MPI_Wtime();
}

void w2s_shard(int64_t n, int rank, int size, int64_t *begin, int64_t *end)
{
	int64_t base = n / size, extra = n % size;
	*begin = rank * base + (rank < extra ? rank : extra);
	*end = *begin + base + (rank < extra ? 1 : 0);
}

const char *w2s_comm_library_version(void)
{
	static char version[MPI_MAX_LIBRARY_VERSION_STRING];
	int len = 0;
	MPI_Get_library_version(version, &len);
	version[strcspn(version, "\n,")] = '\0';
	return version;
}
