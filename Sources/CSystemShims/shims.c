#define _GNU_SOURCE
#include "CSystemShims.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <string.h>
#include <sched.h>
#include <dirent.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

int csim_shutdown_signalfd(void) {
    sigset_t set, blocked;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    blocked = set;
    sigaddset(&blocked, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &blocked, NULL);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int csim_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    return n == (ssize_t)sizeof info ? (int)info.ssi_signo : 0;
}

int csim_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0); }

int csim_set_timer_slack(unsigned long ns) { return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0); }

static pthread_t csim_signal_target;

static void csim_forward_signal(int sig) { pthread_kill(csim_signal_target, sig); }

int csim_forward_shutdown_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    csim_signal_target = pthread_self();
    sa.sa_handler = csim_forward_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0) return errno;
    if (sigaction(SIGINT, &sa, NULL) != 0) return errno;
    return 0;
}

void csim_reset_signals(void) {
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
}

int csim_spawn(const char *path, char *const argv[], char *const envp[], int log_fd, pid_t *pid) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all_default;
    int rc;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    if (log_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, log_fd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, log_fd, STDERR_FILENO);
    }
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    sigemptyset(&none);
    sigemptyset(&all_default);
    sigaddset(&all_default, SIGTERM);
    sigaddset(&all_default, SIGINT);
    sigaddset(&all_default, SIGPIPE);
    sigaddset(&all_default, SIGCHLD);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all_default);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

int csim_pin_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : errno;
}

int csim_allowed_cpus(int *cpus, int max) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -errno;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set)) cpus[n++] = c;
    return n;
}

/// Calls set(tid, arg) for every thread of this process; 0 or the first errno other than ESRCH.
static int for_each_thread(int (*set)(pid_t, int), int arg) {
    DIR *tasks = opendir("/proc/self/task");
    if (tasks == NULL) return set(0, arg) == 0 ? 0 : errno;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(tasks)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);
        if (set(tid, arg) != 0 && errno != ESRCH) { rc = errno; break; }
    }
    closedir(tasks);
    return rc;
}

static int set_nice(pid_t tid, int nice) { return setpriority(PRIO_PROCESS, (id_t)tid, nice); }

static int set_policy(pid_t tid, int policy) {
    struct sched_param param = { .sched_priority = 0 };
    return sched_setscheduler(tid, policy, &param);
}

int csim_set_process_nice(int nice) { return for_each_thread(set_nice, nice); }

int csim_set_process_batch(void) { return for_each_thread(set_policy, SCHED_BATCH); }

int csim_thread_is_batch(pid_t tid) {
    int policy = sched_getscheduler(tid);
    return policy < 0 ? -errno : policy == SCHED_BATCH;
}

int csim_thread_nice(pid_t tid, int *nice) {
    errno = 0;
    int n = getpriority(PRIO_PROCESS, (id_t)tid);
    if (n == -1 && errno != 0) return errno;
    *nice = n;
    return 0;
}

int csim_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int csim_epoll_watch(int epfd, int fd, int writable, int add) {
    struct epoll_event ev = {.events = EPOLLIN | (writable ? EPOLLOUT : 0), .data = {.fd = fd}};
    return epoll_ctl(epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
}

int csim_epoll_ready(int epfd, int *fds, int *flags, int max) {
    struct epoll_event ev[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, ev, max, 0);
    for (int i = 0; i < n; i++) {
        fds[i] = ev[i].data.fd;
        flags[i] = ((ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ? 1 : 0) | ((ev[i].events & EPOLLOUT) ? 2 : 0);
    }
    return n;
}

int csim_accept(int listener) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return -1;
    int one = 1;
    struct sockaddr_storage a;
    socklen_t length = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &length) == 0 && (a.ss_family == AF_INET || a.ss_family == AF_INET6))
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}
