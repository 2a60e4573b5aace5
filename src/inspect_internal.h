/*
 * inspect_internal.h: what the two files of the inspect module share, and
 * nothing outside them includes.
 *
 *   inspect.c        the command line, and the file -> JSON document
 *   inspect_print.c  the document -> words, by kind of file
 *
 * The document is the interface between them, so what --json prints and
 * what the words say come from the same reading of the file.
 */
#ifndef W2S_INSPECT_INTERNAL_H
#define W2S_INSPECT_INTERNAL_H

#include <stdio.h>

#include <jansson.h>

/* Says `doc` (see inspect.c for its keys) in words on `out`; borrows both. */
void w2s_inspect_print_words(FILE *out, const json_t *doc);

#endif
