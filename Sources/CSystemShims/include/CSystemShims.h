#ifndef CLUSTERSIM_CSYSTEMSHIMS_H
#define CLUSTERSIM_CSYSTEMSHIMS_H

// Linux calls that Glibc's Swift overlay does not export.

#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

/// signalfd(2) over SIGTERM and SIGINT (blocked in the calling thread first), non-blocking, close-on-exec.
int csim_shutdown_signalfd(void);
/// Reads one signal number from a signalfd; 0 when none is pending.
int csim_signalfd_read(int fd);
/// prctl(PR_SET_PDEATHSIG, sig).
int csim_set_parent_death_signal(int sig);
/// prctl(PR_SET_TIMERSLACK, ns).
int csim_set_timer_slack(unsigned long ns);
/// Makes SIGTERM and SIGINT that land on another thread reach the calling one: a handler that
/// re-sends them to it (pthread_kill), where they are blocked and so wait for its signalfd. For a
/// process with a thread that unblocks every signal while it waits (swift-subprocess's monitor
/// thread, in epoll_pwait with an empty mask). Returns 0 or an errno.
int csim_forward_shutdown_signals(void);
/// Unblocks every signal and restores default dispositions (used in spawned children).
void csim_reset_signals(void);

/// posix_spawn of argv with stdout+stderr to log_fd (or inherited when -1), in a new process
/// group (pgid = pid) and with all signals unblocked and default. Returns 0 and sets *pid, or an errno.
int csim_spawn(const char *path, char *const argv[], char *const envp[], int log_fd, pid_t *pid);

/// Pins the calling thread (and the threads it creates later) to one CPU; 0 or an errno.
int csim_pin_cpu(int cpu);
/// The CPUs the calling thread may run on (sched_getaffinity), up to max, in *cpus; their count, or -errno.
int csim_allowed_cpus(int *cpus, int max);

/// Sets the nice value of every thread of this process (each thread has its own on Linux;
/// threads created later inherit their creator's); 0 or an errno.
int csim_set_process_nice(int nice);
/// The nice value of one thread (a tid, or 0 for the calling one) in *nice; 0 or an errno.
int csim_thread_nice(pid_t tid, int *nice);
/// Puts every thread of this process under SCHED_BATCH (threads created later inherit it); 0 or an errno.
int csim_set_process_batch(void);
/// Whether one thread (a tid, or 0) is under SCHED_BATCH: 1, 0, or -errno.
int csim_thread_is_batch(pid_t tid);

/// epoll_create1(EPOLL_CLOEXEC): an epoll instance, or -1 with errno.
int csim_epoll_create(void);
/// Adds fd to (add != 0) or changes it in an epoll set, waiting for input and, if writable != 0,
/// for room to write; 0 or -1 with errno.
int csim_epoll_watch(int epfd, int fd, int writable, int add);
/// epoll_wait with no wait: up to max ready descriptors in fds and, for each, whether it is
/// readable (or hung up, or in error: bit 1) and writable (bit 2) in flags; their count, or -1.
int csim_epoll_ready(int epfd, int *fds, int *flags, int max);
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC and TCP_NODELAY on TCP; the new descriptor, or -1 with errno.
int csim_accept(int listener);

#endif
