/*
 * comm.h: the communicator and every MPI call of w2s.
 *
 * A struct w2s_comm is a duplicate of the world communicator with its rank
 * and size; code receives it, never MPI_COMM_WORLD or a global rank.
 * Functions marked "collective" must be called by every rank in the same
 * order.  Sharding helpers take rank and size as plain integers so one
 * process can test them.
 */
#ifndef W2S_COMM_H
#define W2S_COMM_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

struct w2s_comm {
	MPI_Comm comm; /* a dup of the world; MPI_COMM_NULL when zeroed */
	int rank;
	int size;
	/* w2s_comm_sum_floats' own ring (see there).  init sets both sizes to
	 * their defaults; a test may lower ring_chunk (never raise it) and
	 * ring_min, alike on every rank, to walk the ring through many small
	 * pieces. */
	float *ring_slots;  /* (W2S_COMM_RING_SLOTS, W2S_COMM_RING_CHUNK) receive
			     * buffers, owned; NULL on one rank */
	size_t ring_chunk;  /* floats per message, 1 .. W2S_COMM_RING_CHUNK */
	size_t ring_min;    /* the ring runs once n / size >= ring_min */
};

/* The ring's messages in flight each way, and its largest message in
 * floats: 256 KiB, so a slot is still in cache when it is added (four fill
 * the 1 MiB L2 of a core here); over TCP smaller messages were slower. */
#define W2S_COMM_RING_SLOTS 4
#define W2S_COMM_RING_CHUNK 65536

/* Collective: duplicates `world` into c. */
void w2s_comm_init(struct w2s_comm *c, MPI_Comm world);
/* Collective: frees the duplicate; safe on a zeroed struct and twice. */
void w2s_comm_free(struct w2s_comm *c);

/* Collective: in-place sum of buf (n) over ranks; every rank ends with the
 * same bytes, and the same inputs on the same rank count give the same
 * bytes on every run.  Large buffers (n / size >= c->ring_min) go through
 * its own pipelined ring, reduce-scatter then allgather, adding each piece
 * in a fixed order while the next one travels; small ones through
 * MPI_Allreduce.  No allocation. */
void w2s_comm_sum_floats(const struct w2s_comm *c, float *buf, size_t n);
/* Collective: in-place sum of buf (n) over ranks. */
void w2s_comm_sum_doubles(const struct w2s_comm *c, double *buf, size_t n);
void w2s_comm_sum_int64(const struct w2s_comm *c, int64_t *buf, size_t n);

/* Collective: every rank gives its status (0 = fine); all get the largest.
 * Called after anything that can fail on one rank alone, before the next
 * collective, so every rank branches alike and none waits forever.  The
 * lowest failing rank prints the message it kept (w2s_log_error_local). */
int w2s_comm_agree(const struct w2s_comm *c, int status);

/* Collective: true on every rank if x (or its bit pattern) is the same on
 * every rank; for checking that parameters agree. */
int w2s_comm_same_bytes(const struct w2s_comm *c, const void *buf, size_t bytes);

/* Collective: each rank gives its w2s_shard() share of n rows of row_bytes
 * each (local); every rank receives all n rows, in order, in out. */
void w2s_comm_allgather_shards(const struct w2s_comm *c, const void *local, int64_t n,
			       size_t row_bytes, void *out);

/* Collective: copies buf (bytes) from rank `root` to all ranks. */
void w2s_comm_bcast(const struct w2s_comm *c, void *buf, size_t bytes, int root);

void w2s_comm_barrier(const struct w2s_comm *c);

/* Wall-clock seconds (MPI_Wtime). */
double w2s_comm_time(void);

/* The contiguous share [*begin, *end) of n items that rank `rank` of
 * `size` owns: the first n % size ranks own one more. */
void w2s_shard(int64_t n, int rank, int size, int64_t *begin, int64_t *end);

/* Open MPI's version string ("Open MPI v4.1.4, ..."), first line only. */
const char *w2s_comm_library_version(void);

#endif
