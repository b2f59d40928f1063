// The syscalls and atomics that Glibc's Swift overlay does not expose.
// Each function says why it exists; everything else goes through Glibc directly.
#ifndef POLYTAPE_CSHIM_H
#define POLYTAPE_CSHIM_H

#include <stdint.h>
#include <stddef.h>
#include <stdatomic.h>
#include <sys/types.h>

// memfd_create(2): anonymous shared memory for the router→worker rings, inherited by
// spawned workers as a plain fd (no name in /dev/shm, so nothing can leak after a crash).
int cshim_memfd_create(const char *name, unsigned int flags);

// eventfd(2): one wake-up counter per ring direction; a reader sleeps in read(2) or poll(2).
int cshim_eventfd(unsigned int initval, int flags);
int cshim_efd_cloexec(void);
int cshim_efd_nonblock(void);

// pipe2(2) with O_CLOEXEC, so spawned workers only inherit the fds the spawner dup2s in.
int cshim_pipe_cloexec(int fds[2]);

// prctl(PR_SET_PDEATHSIG): a worker dies with its parent instead of lingering as an orphan.
int cshim_set_parent_death_signal(int sig);

// The WEXITSTATUS/WIFSIGNALED family are macros Swift cannot call.
int cshim_wifexited(int status);
int cshim_wexitstatus(int status);
int cshim_wifsignaled(int status);
int cshim_wtermsig(int status);

// C11 atomics on memory shared between processes (a mapped ring header). Swift's
// Synchronization.Atomic cannot be placed at an address inside an mmap'd region.
static inline uint64_t cshim_atomic_load_acquire(const uint64_t *p) {
    return atomic_load_explicit((_Atomic uint64_t *)p, memory_order_acquire);
}
static inline void cshim_atomic_store_release(uint64_t *p, uint64_t v) {
    atomic_store_explicit((_Atomic uint64_t *)p, v, memory_order_release);
}
static inline uint64_t cshim_atomic_load_relaxed(const uint64_t *p) {
    return atomic_load_explicit((_Atomic uint64_t *)p, memory_order_relaxed);
}
static inline uint32_t cshim_atomic_exchange32(uint32_t *p, uint32_t v) {
    return atomic_exchange_explicit((_Atomic uint32_t *)p, v, memory_order_acq_rel);
}
static inline uint32_t cshim_atomic_load32(const uint32_t *p) {
    return atomic_load_explicit((_Atomic uint32_t *)p, memory_order_acquire);
}
static inline void cshim_atomic_store32(uint32_t *p, uint32_t v) {
    atomic_store_explicit((_Atomic uint32_t *)p, v, memory_order_release);
}
static inline void cshim_fence_seq_cst(void) { atomic_thread_fence(memory_order_seq_cst); }

// Monotonic clock in ns (CLOCK_MONOTONIC), cheap enough for per-message latency stamps.
uint64_t cshim_monotonic_ns(void);
// Wall clock in ns since the epoch (CLOCK_REALTIME).
uint64_t cshim_wall_ns(void);

// pidfd_open(2) (no glibc wrapper before 2.36's headers are universal): a pollable handle on a
// worker process, so one monitor thread notices any worker's exit without waitpid(-1), which
// would steal children that other code in the process spawned.
int cshim_pidfd_open(pid_t pid);

// posix_spawn_file_actions_addclosefrom_np (glibc >= 2.34, needs _GNU_SOURCE): a spawned
// worker closes every fd at or above `lowfd`, even ones some other library opened without
// O_CLOEXEC, so it holds exactly the channel fds it was given.
int cshim_spawn_addclosefrom(void *file_actions, int lowfd);

// signal(sig, SIG_IGN) / SIG_DFL: the macros are casts Swift cannot import.
int cshim_ignore_signal(int sig);
int cshim_default_signal(int sig);

// prctl(PR_SET_NAME): names the calling thread (pthread_setname_np needs _GNU_SOURCE, which
// Swift's Glibc module does not set). At most 15 characters are kept.
int cshim_set_thread_name(const char *name);

// PIPE_BUF: writes of at most this many bytes to a pipe are atomic (stats channel frames).
int cshim_pipe_buf(void);

// fcntl(fd, F_DUPFD_CLOEXEC, min): variadic, so Swift cannot call it directly.
int cshim_dup_cloexec_above(int fd, int minfd);
// fcntl(fd, F_SETFL, O_NONBLOCK) added to the current flags.
int cshim_set_nonblocking(int fd);

// fflush(stdout) and ferror(stdout): Swift 6 refuses to touch the C global `stdout` (shared
// mutable state). Returns 0, or the errno of the failed write (EIO when none was kept).
int cshim_flush_stdout(void);

#endif
