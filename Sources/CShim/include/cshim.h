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

#endif
