/*
 * import_internal.h: what the two files of `w2s import` share: the
 * numeric arrays as read from .npy, .csv, HDF5 or a text list
 * (import_read.c), checked and written by import.c.  Not installed.
 */
#ifndef W2S_IMPORT_INTERNAL_H
#define W2S_IMPORT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "w2s/common.h"

/* A numeric array of any element type, as read; rows x cols elements
 * (cols 0 for 1-D). */
struct raw {
	char kind;  /* 'f' float, 'i' signed, 'u' unsigned integer */
	int size;   /* bytes per element */
	int64_t rows, cols;
	unsigned char *data; /* owned */
};

/* Element i of r as a double. */
double imp_raw_get(const struct raw *r, int64_t i);
/* Rank 0: reads SRC (file.npy, file.csv, file.h5:/dataset, or with text_ok
 * a text list of integers) into r; one kept message on failure. */
enum w2s_status imp_read_source(const char *src, bool text_ok, struct raw *r);
void imp_raw_free(struct raw *r);

#endif
