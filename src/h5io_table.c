/*
 * h5io_table.c: one process opening a file to read its tables; see
 * h5io_table.h.
 */
#include "w2s/h5io_table.h"

#include <stdio.h>
#include <string.h>


enum w2s_status w2s_h5_open_local(struct w2s_h5 *f, const char *path)
{
	snprintf(f->path, sizeof f->path, "%s", path);
	f->file = H5I_INVALID_HID;
	f->broken = f->tmp = false;
	if (H5Fis_hdf5(path) <= 0) {
		H5Eclear2(H5E_DEFAULT);
		return W2S_STATUS_IO;
	}
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	W2S_CHECK(fapl >= 0);
#if H5_VERSION_GE(1, 10, 7)
	/* A reader must not take a lock that a writer on another node would
	 * trip over, and must work where the file system has no locks. */
	H5Pset_file_locking(fapl, 0, 1);
#endif
	f->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
	H5Pclose(fapl);
	if (f->file < 0) {
		H5Eclear2(H5E_DEFAULT);
		f->file = H5I_INVALID_HID;
		return W2S_STATUS_IO;
	}
	return W2S_STATUS_OK;
}

bool w2s_h5_has(struct w2s_h5 *f, const char *path)
{
	/* H5Lexists fails (rather than answering no) when a group on the way
	 * is missing, so each prefix is asked in turn. */
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", path);
	bool there = true;
	for (char *p = strchr(buf + 1, '/'); there; p = p ? strchr(p + 1, '/') : NULL) {
		if (p)
			*p = '\0';
		there = H5Lexists(f->file, buf, H5P_DEFAULT) > 0;
		if (!p)
			break;
		*p = '/';
	}
	H5Eclear2(H5E_DEFAULT);
	return there;
}
