/*
 * sanitizer_defaults.c: the options, leak suppressions and one override of a
 * --enable-sanitizers build, linked into each of its programs (w2s and the
 * tests) and into no other build.  Compiled in rather than set in the
 * environment so that they hold wherever a rank starts: under `make check`,
 * by hand, and on the multi-host tests' hosts, whose daemons start with a
 * clean environment.  ASAN_OPTIONS, LSAN_OPTIONS and UBSAN_OPTIONS given at
 * run time still override them.
 *
 * ASan:
 *   abort_on_error=1          a finding ends the process with SIGABRT (exit
 *                             134, or a rank killed by signal 6 under
 *                             mpirun), which no test mistakes for one of
 *                             w2s's own exit codes
 *   allocator_may_return_null=1
 *                             an allocation too large returns NULL as
 *                             glibc's malloc does, so the tests see w2s's
 *                             own out-of-memory message, not ASan's abort
 *   intercept_tls_get_addr=0  ASan's record of the thread-local storage of
 *                             the plugins Open MPI loads with dlopen is
 *                             wrong here (one showed 0x3b52..0x400004c54),
 *                             and the leak check at exit crashes reading it
 *                             ("Tracer caught signal 11", LeakSanitizer
 *                             fatal error) in every singleton run that
 *                             fails a config; without the option that
 *                             storage is not searched for pointers
 *   detect_leaks=1            except in a process that strace or a debugger
 *                             follows, where the leak check cannot run
 * UBSan: undefined behaviour is fatal (the build passes
 *   -fno-sanitize-recover=undefined), with a stack trace, by SIGABRT.
 *
 * Plugins stay loaded: this file also defines dlclose, as a no-op, which
 * every library of these programs calls in place of libc's.  Open MPI
 * unloads its plugins (mca_*.so) at MPI_Finalize; the blocks that only the
 * plugins' globals still point to then become ~3,300 "leaks" in each
 * process, and their stacks lose the names of the plugins' frames, which
 * the suppressions below match.  With the plugins kept, neither happens;
 * the process is about to exit anyway.
 *
 * Leaks: Open MPI (libmpi, libopen-rte, libopen-pal, their plugins and
 * the libmca_common_* libraries they share, and hwloc, libevent and PMIx
 * under them) still keeps some blocks past
 * MPI_Finalize with no pointer to them.  Those are suppressed by library:
 * a leak is ignored when a frame of the stack that allocated it lies in
 * one of them.  The stacks come from the fast frame-pointer unwinder,
 * which stops at the first frame of a library built without frame
 * pointers: the strings Open MPI's plugins make with asprintf end at
 * glibc's vasprintf, and are suppressed by that frame.  w2s calls no
 * asprintf; should it, and leak, ASAN_OPTIONS=fast_unwind_on_malloc=0
 * shows whose the block is (at twice the CPU time: the slow unwinder runs
 * at every malloc, and HDF5 makes many).  Any other leak, w2s's own,
 * HDF5's, libyaml's or jansson's, is reported and fails the test.
 */

#define _GNU_SOURCE /* syscall */
#include <fcntl.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_options(void);
const char *__lsan_default_suppressions(void);
int dlclose(void *handle);

/* Whether a debugger or strace follows this process (the multi-host tests
 * run ranks under strace): the leak check stops every thread with ptrace,
 * which a traced process cannot, and then dies with "LeakSanitizer has
 * encountered a fatal error".  ASan asks for its options before it is
 * ready: hence raw system calls, no libc string function, and no
 * instrumentation of this function's stack. */
__attribute__((no_sanitize("address", "undefined"))) static int traced(void)
{
	char buf[2048];
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY);
	if (fd < 0)
		return 0;
	long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	static const char key[] = "\nTracerPid:";
	for (const char *p = buf; *p != '\0'; p++) {
		size_t i = 0;
		while (key[i] != '\0' && p[i] == key[i])
			i++;
		if (key[i] != '\0')
			continue;
		p += i;
		while (*p == ' ' || *p == '\t')
			p++;
		return *p >= '1' && *p <= '9';
	}
	return 0;
}

const char *__asan_default_options(void)
{
	if (traced())
		return "abort_on_error=1:allocator_may_return_null=1:detect_leaks=0";
	return "abort_on_error=1:allocator_may_return_null=1:intercept_tls_get_addr=0:"
	       "detect_leaks=1";
}

const char *__ubsan_default_options(void)
{
	return "print_stacktrace=1:abort_on_error=1";
}

const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}

const char *__lsan_default_suppressions(void)
{
	return "leak:libmpi.so\n"
	       "leak:libopen-rte.so\n"
	       "leak:libopen-pal.so\n"
	       "leak:libhwloc.so\n"
	       "leak:libevent\n"
	       "leak:libpmix.so\n"
	       "leak:/mca_\n"
	       "leak:libmca_common_\n"
	       "leak:__vasprintf_internal\n";
}

int dlclose(void *handle)
{
	(void)handle;
	return 0;
}
