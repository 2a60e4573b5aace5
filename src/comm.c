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

/* Floats per rank from which w2s_comm_sum_floats runs its ring: it pays
 * 2 (p - 1) message latencies, so each rank's segment should take far
 * longer to move than one latency, and span two messages or more to
 * pipeline.  On 2 ranks through shared memory here MPI_Allreduce was faster
 * up to 128 Ki floats, even at 256 Ki, and slower from 512 Ki on. */
#define RING_MIN_PER_RANK 131072
/* The tag of the ring's messages on the communicator; nothing else there
 * is point-to-point. */
#define RING_TAG 29

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
	c->ring_slots = NULL;
	c->ring_chunk = W2S_COMM_RING_CHUNK;
	c->ring_min = RING_MIN_PER_RANK;
	if (c->size > 1) {
		size_t bytes = (size_t)W2S_COMM_RING_SLOTS * W2S_COMM_RING_CHUNK * sizeof(float);
		c->ring_slots = w2s_xmalloc(bytes);
		/* Touched now, so no training step takes their page faults. */
		memset(c->ring_slots, 0, bytes);
	}
}

void w2s_comm_free(struct w2s_comm *c)
{
	if (c->comm != MPI_COMM_NULL && c->comm != 0)
		MPI_Comm_free(&c->comm);
	c->comm = MPI_COMM_NULL;
	free(c->ring_slots);
	c->ring_slots = NULL;
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

/* ---- the float sum's ring ----
 *
 * Why not MPI_Allreduce for large buffers: Open MPI 4.1's algorithms take a
 * temporary as large as half the buffer or more from malloc on every call,
 * and past glibc's 32 MiB mmap ceiling that is a fresh mapping each time
 * whose every page faults on first touch (8,700 faults, ~28 ms of a 72 MB
 * sum on 2 ranks here); and they add a segment only once all of it has
 * arrived, so adding never overlaps moving.
 *
 * The ring: buf is cut into p segments (w2s_shard).  In the reduce-scatter,
 * at step k = 0 .. p-2, rank r sends segment r-k to rank r+1 and receives
 * segment r-k-1 from rank r-1, which it adds into its own; after it, rank r
 * holds the sum of segment r+1.  In the allgather, at step p-1+j, j = 0 ..
 * p-2, it sends segment r+1-j and receives segment r-j straight into buf.
 * Segments go in chunks of ring_chunk floats, a message each.  What a rank
 * receives at step k it sends on at step k+1, so each direction is one
 * stream of messages in an order both ends know, and a chunk moves on as
 * soon as it is added while the next ones are still on their way.
 *
 * Why every rank ends with the same bytes, every run: segment s is summed
 * by one rank after another from rank s on, always in that order, and the
 * allgather copies that one result to the others. */

/* A place in the stream of chunks that one rank sends. */
struct ring_pos {
	int step;       /* 0 .. steps; steps once the stream is over */
	size_t lo, end; /* the chunk starts at lo in a segment that ends at end */
};

struct ring {
	size_t n, chunk;
	int p, steps; /* steps = 2 (p - 1) */
};

/* The segment that rank `who` sends at step k. */
static int ring_segment(const struct ring *g, int who, int k)
{
	int s = k < g->p - 1 ? who - k : who + 1 - (k - (g->p - 1));
	return (s % g->p + g->p) % g->p;
}

/* Moves q to the next chunk that rank `who` sends; empty segments (n < p)
 * have none. */
static void ring_next(const struct ring *g, int who, struct ring_pos *q)
{
	q->lo += g->chunk;
	while (q->lo >= q->end && q->step < g->steps) {
		if (++q->step == g->steps)
			break;
		int64_t b, e;
		w2s_shard((int64_t)g->n, ring_segment(g, who, q->step), g->p, &b, &e);
		q->lo = (size_t)b;
		q->end = (size_t)e;
	}
}

static struct ring_pos ring_start(const struct ring *g, int who)
{
	struct ring_pos q = {.step = -1};
	ring_next(g, who, &q);
	return q;
}

static int ring_len(const struct ring *g, const struct ring_pos *q)
{
	return (int)(q->end - q->lo < g->chunk ? q->end - q->lo : g->chunk);
}

/* dst += src (n).  Explicit 16-byte vectors: a plain loop is not
 * vectorized at -O2, and 16 bytes is what every x86-64 has; four at a
 * time keep up with the memory the sum streams through. */
typedef float ring_vf __attribute__((vector_size(16)));

static void add_floats(float *restrict dst, const float *restrict src, size_t n)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		ring_vf a[4], b[4];
		memcpy(a, dst + i, sizeof a);
		memcpy(b, src + i, sizeof b);
		for (int k = 0; k < 4; k++)
			a[k] += b[k];
		memcpy(dst + i, a, sizeof a);
	}
	for (; i < n; i++)
		dst[i] += src[i];
}

/* dst += src (n), for the exact reduction's integers: associative, so
 * any order gives the same bits. */
static void add_int64(int64_t *restrict dst, const int64_t *restrict src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (int64_t)((uint64_t)dst[i] + (uint64_t)src[i]);
}

/* What the ring sums: floats, or int64 in chunks of half as many
 * elements, so that a chunk fits a receive slot all the same. */
struct ring_type {
	MPI_Datatype mpi;
	size_t elem;
};

static void add_chunk(const struct ring_type *t, void *dst, const void *src, size_t n)
{
	if (t->mpi == MPI_FLOAT)
		add_floats(dst, src, n);
	else
		add_int64(dst, src, n);
}

static void sum_ring(const struct w2s_comm *c, void *vbuf, size_t n, const struct ring_type *t)
{
	enum { W = W2S_COMM_RING_SLOTS };
	const int p = c->size, me = c->rank;
	const int next = (me + 1) % p, prev = (me + p - 1) % p;
	char *buf = vbuf;
	/* A slot holds W2S_COMM_RING_CHUNK floats' bytes. */
	const size_t chunk = c->ring_chunk * sizeof(float) / t->elem > 0
				     ? c->ring_chunk * sizeof(float) / t->elem
				     : 1;
	const size_t slot = (size_t)W2S_COMM_RING_CHUNK * sizeof(float);
	const struct ring g = {.n = n, .chunk = chunk, .p = p, .steps = 2 * (p - 1)};
	/* Receives posted and processed follow prev's stream; sends posted and
	 * completed follow this rank's.  Both complete in order. */
	struct ring_pos rpost = ring_start(&g, prev), rdone = rpost;
	struct ring_pos spost = ring_start(&g, me), sdone = spost;
	uint64_t np = 0, nd = 0, ns = 0, nc = 0; /* their counts */
	MPI_Request rreq[W], sreq[W];

	/* The sends of step 0 (this rank's own segment) are ready at once;
	 * send n0 + i forwards receive i once it is processed. */
	int64_t b, e;
	w2s_shard((int64_t)n, me, p, &b, &e);
	const uint64_t n0 = ((uint64_t)(e - b) + g.chunk - 1) / g.chunk;

	while (rdone.step < g.steps || spost.step < g.steps || nc < ns) {
		/* Up to W receives posted.  One into buf (the allgather) waits
		 * until the send of that same chunk, p - 1 steps back, has
		 * completed: a receive must not write where a send may still
		 * read. */
		while (rpost.step < g.steps && np - nd < W) {
			char *dst;
			if (rpost.step < p - 1) {
				dst = (char *)c->ring_slots + (size_t)(np % W) * slot;
			} else {
				int j = rpost.step - (p - 1);
				if (!(sdone.step > j || (sdone.step == j && sdone.lo > rpost.lo)))
					break;
				dst = buf + rpost.lo * t->elem;
			}
			W2S_CHECK(MPI_Irecv(dst, ring_len(&g, &rpost), t->mpi, prev, RING_TAG,
					    c->comm, &rreq[np % W]) == MPI_SUCCESS);
			ring_next(&g, prev, &rpost);
			np++;
		}
		/* The sends that are ready, up to W in flight. */
		while (spost.step < g.steps && ns < n0 + nd && ns - nc < W) {
			W2S_CHECK(MPI_Isend(buf + spost.lo * t->elem, ring_len(&g, &spost), t->mpi,
					    next, RING_TAG, c->comm, &sreq[ns % W]) == MPI_SUCCESS);
			ring_next(&g, me, &spost);
			ns++;
		}
		/* Then whichever comes first: the next receive or the oldest
		 * send.  Something is always in flight here: a receive not yet
		 * posted waits on a send, and a send not yet posted on a
		 * receive or on the oldest send. */
		W2S_CHECK(np > nd || ns > nc);
		MPI_Request two[2] = {np > nd ? rreq[nd % W] : MPI_REQUEST_NULL,
				      ns > nc ? sreq[nc % W] : MPI_REQUEST_NULL};
		int which = MPI_UNDEFINED;
		W2S_CHECK(MPI_Waitany(2, two, &which, MPI_STATUS_IGNORE) == MPI_SUCCESS);
		if (which == 1) {
			ring_next(&g, me, &sdone);
			nc++;
			continue;
		}
		W2S_CHECK(which == 0);
		if (rdone.step < p - 1)
			add_chunk(t, buf + rdone.lo * t->elem,
				  (char *)c->ring_slots + (size_t)(nd % W) * slot,
				  (size_t)ring_len(&g, &rdone));
		ring_next(&g, prev, &rdone);
		nd++;
	}
}

void w2s_comm_sum_floats(const struct w2s_comm *c, float *buf, size_t n)
{
	if (c->size == 1)
		return;
	W2S_CHECK(c->ring_slots && c->ring_chunk >= 1 && c->ring_chunk <= W2S_COMM_RING_CHUNK);
	const struct ring_type t = {.mpi = MPI_FLOAT, .elem = sizeof *buf};
	if (n / (size_t)c->size >= c->ring_min)
		sum_ring(c, buf, n, &t);
	else
		sum_in_chunks(c, buf, n, sizeof *buf, MPI_FLOAT);
}

void w2s_comm_sum_doubles(const struct w2s_comm *c, double *buf, size_t n)
{
	sum_in_chunks(c, buf, n, sizeof *buf, MPI_DOUBLE);
}

void w2s_comm_sum_int64(const struct w2s_comm *c, int64_t *buf, size_t n)
{
	if (c->size == 1)
		return;
	/* The same ring as the floats' (the exact reduction's gradients are
	 * as large), from the same size in bytes. */
	const struct ring_type t = {.mpi = MPI_INT64_T, .elem = sizeof *buf};
	if (n / (size_t)c->size >= c->ring_min / 2 && c->ring_slots)
		sum_ring(c, buf, n, &t);
	else
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
