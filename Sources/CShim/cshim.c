#define _GNU_SOURCE
#include "cshim.h"
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <spawn.h>
#include <signal.h>
#include <limits.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <errno.h>

int cshim_memfd_create(const char *name, unsigned int flags) { return memfd_create(name, flags); }
int cshim_eventfd(unsigned int initval, int flags) { return eventfd(initval, flags); }
int cshim_efd_cloexec(void) { return EFD_CLOEXEC; }
int cshim_efd_nonblock(void) { return EFD_NONBLOCK; }
int cshim_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int cshim_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }
int cshim_wifexited(int status) { return WIFEXITED(status); }
int cshim_wexitstatus(int status) { return WEXITSTATUS(status); }
int cshim_wifsignaled(int status) { return WIFSIGNALED(status); }
int cshim_wtermsig(int status) { return WTERMSIG(status); }

uint64_t cshim_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
uint64_t cshim_wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cshim_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int cshim_spawn_addclosefrom(void *file_actions, int lowfd) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)file_actions, lowfd);
}
int cshim_ignore_signal(int sig) { return signal(sig, SIG_IGN) == SIG_ERR ? -1 : 0; }
int cshim_default_signal(int sig) { return signal(sig, SIG_DFL) == SIG_ERR ? -1 : 0; }
int cshim_pipe_buf(void) { return PIPE_BUF; }
int cshim_dup_cloexec_above(int fd, int minfd) { return fcntl(fd, F_DUPFD_CLOEXEC, minfd); }
int cshim_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}
int cshim_set_thread_name(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0); }

int cshim_flush_stdout(void) {
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) return errno != 0 ? errno : EIO;
    return 0;
}
