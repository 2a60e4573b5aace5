/*
 * allreduce_bench.c: time of a float sum-allreduce of one buffer size across
 * all ranks, as w2s's gradient sync does it (MPI_IN_PLACE, MPI_SUM).  Prints
 * one line from rank 0: the median and best time over the repetitions and
 * the bus bandwidth 2 (P-1)/P * bytes / time that a ring allreduce moves
 * through each rank's link.
 *
 *   mpirun -n P allreduce_bench [MIB] [REPS]     (defaults: 16 MiB, 20)
 *
 * Not a w2s test: it measures the machine the tests run on.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	double mib = argc > 1 ? atof(argv[1]) : 16.0;
	int reps = argc > 2 ? atoi(argv[2]) : 20;
	size_t n = (size_t)(mib * 1024 * 1024 / sizeof(float));
	float *buf = malloc(n * sizeof *buf); /* (n) */
	double *t = malloc((size_t)reps * sizeof *t);
	if (!buf || !t || reps < 1 || n < 1 || n > (size_t)2147483647) {
		fprintf(stderr, "allreduce_bench: bad size or out of memory\n");
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	for (size_t i = 0; i < n; i++)
		buf[i] = (float)(i % 7);
	/* Two untimed rounds: connections are set up on first use. */
	for (int r = -2; r < reps; r++) {
		MPI_Barrier(MPI_COMM_WORLD);
		double t0 = MPI_Wtime();
		MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		double dt = MPI_Wtime() - t0;
		/* The slowest rank is the collective's time. */
		MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
		if (r >= 0)
			t[r] = dt;
	}
	qsort(t, (size_t)reps, sizeof *t, cmp_double);
	if (rank == 0) {
		double bytes = (double)n * sizeof(float);
		double med = t[reps / 2];
		printf("allreduce %.0f MiB float on %d ranks: median %.2f ms, best %.2f ms, "
		       "bus bandwidth %.2f GB/s\n",
		       mib, size, med * 1e3, t[0] * 1e3, 2.0 * (size - 1) / size * bytes / med / 1e9);
	}
	free(t);
	free(buf);
	MPI_Finalize();
	return 0;
}
