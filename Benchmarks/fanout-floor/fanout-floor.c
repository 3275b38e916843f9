/*
 * fanout-floor: the least a fan-out over TCP loopback can cost on this
 * machine, with no messaging library: one writer process sends every frame
 * to N reader processes, each a plain blocking recv() loop. It measures what
 * ClusterSim's publisher could reach, and what one change to how a
 * publisher issues its writes gains (docs/architecture.md, "A frame's sends
 * in one submission").
 *
 *   fanout-floor writer --port P --readers N --rate R --seconds S --batch-us B
 *                       --send send|uring --out FILE
 *   fanout-floor reader --port P --id I --out FILE [--deadline S]
 *
 * Records are 272 bytes: the time the writer made the record
 * (CLOCK_MONOTONIC ns) and its sequence number, then padding. The writer
 * makes records at R a second and every B µs sends those due as one frame
 * to every reader (B = 0: each record alone, as soon as it is due).
 * --send send writes to the readers one send() call each; --send uring
 * queues the same writes in an io_uring and submits them in one call, so a
 * reader the kernel wakes does not take the CPU from the writer before the
 * last reader has its frame. A reader's latency is receipt minus making.
 * Each process appends one JSON line to FILE; scripts/fanout-floor.sh
 * summarises them as the baselines are summarised.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RECORD 272

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "fanout-floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void usage(void) {
    fprintf(stderr, "usage: fanout-floor writer --port P --readers N --rate R --seconds S --batch-us B --send send|uring --out FILE\n"
                    "       fanout-floor reader --port P --id I --out FILE [--deadline S]\n");
    exit(2);
}

static void append_line(const char *path, const char *line) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) die(path);
    if (write(fd, line, strlen(line)) < 0) die(path);
    close(fd);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int run_reader(int port, int id, const char *out, double deadline) {
    struct sockaddr_in a = loopback(port);
    uint64_t give_up = now_ns() + (uint64_t)(deadline * 1e9);
    int fd = -1;
    for (;;) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) break;
        close(fd);
        if (now_ns() > give_up) die("connect");
        usleep(2000);
    }
    struct timeval tv = {(time_t)deadline, 0};   /* a writer that vanishes does not hold the reader forever */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t cap = 1 << 22, n = 0;
    uint64_t *lat = malloc(cap * sizeof *lat), expected = 0, gaps = 0;
    static unsigned char buf[1 << 16];
    size_t have = 0;
    if (!lat) die("malloc");
    for (;;) {
        ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
        if (r <= 0) break;
        uint64_t t = now_ns();
        have += (size_t)r;
        size_t off = 0;
        for (; have - off >= RECORD; off += RECORD) {
            uint64_t made, seq;
            memcpy(&made, buf + off, 8);
            memcpy(&seq, buf + off + 8, 8);
            if (seq != expected) gaps += seq > expected ? seq - expected : 0;
            expected = seq + 1;
            if (n < cap) lat[n++] = t - made;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
    }
    qsort(lat, n, sizeof *lat, cmp_u64);
    char line[256];
    snprintf(line, sizeof line, "{\"role\":\"reader\",\"id\":%d,\"received\":%zu,\"gaps\":%llu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
             id, n, (unsigned long long)gaps, n ? lat[n / 2] / 1e3 : 0, n ? lat[(size_t)((double)n * 0.99)] / 1e3 : 0,
             n ? lat[n - 1] / 1e3 : 0);
    append_line(out, line);
    return 0;
}

/* Writes what send() left: the reader is behind, so this waits for it. */
static void finish(int fd, const unsigned char *p, size_t len, long *blocked) {
    ++*blocked;
    while (len > 0) {
        ssize_t r = send(fd, p, len, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            die("send");
        }
        p += r;
        len -= (size_t)r;
    }
}

static int run_writer(int port, int readers, double rate, double seconds, long batch_us, int uring, const char *out) {
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = loopback(port);
    if (ls < 0) die("socket");
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1024)) die("bind");
    int *fds = calloc((size_t)readers, sizeof *fds);
    for (int i = 0; i < readers; i++) {
        struct pollfd p = {ls, POLLIN, 0};
        if (poll(&p, 1, 30000) != 1) { fprintf(stderr, "fanout-floor: %d of %d readers connected in 30 s\n", i, readers); return 1; }
        fds[i] = accept(ls, NULL, NULL);
        if (fds[i] < 0) die("accept");
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    struct io_uring ring;
    if (uring) {
        int e = io_uring_queue_init((unsigned)(readers < 4096 ? readers : 4096), &ring, 0);
        if (e < 0) { errno = -e; die("io_uring_queue_init"); }
    }
    usleep(200000);   /* every reader is in recv() */
    uint64_t interval = (uint64_t)(1e9 / rate), step = batch_us > 0 ? (uint64_t)batch_us * 1000 : interval;
    uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9), next = start, made = start, seq = 0;
    size_t frame_cap = (size_t)(rate * (double)step / 1e9 + 2) * 4 * RECORD;
    unsigned char *frame = calloc(1, frame_cap);
    long frames = 0, blocked = 0;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    while (next < end) {
        uint64_t t;
        while ((t = now_ns()) < next) {
            uint64_t d = next - t;
            struct timespec ts = {(time_t)(d / 1000000000ull), (long)(d % 1000000000ull)};
            nanosleep(&ts, NULL);
        }
        size_t len = 0;
        while (made + interval <= t && len + RECORD <= frame_cap) {
            made += interval;
            memcpy(frame + len, &made, 8);
            memcpy(frame + len + 8, &seq, 8);
            seq++;
            len += RECORD;
        }
        next += step;
        if (len == 0) continue;
        if (uring) {
            for (int i = 0; i < readers; i++) {
                struct io_uring_sqe *s = io_uring_get_sqe(&ring);
                io_uring_prep_send(s, fds[i], frame, len, MSG_DONTWAIT);
                io_uring_sqe_set_data64(s, (uint64_t)i);
            }
            int e = io_uring_submit_and_wait(&ring, (unsigned)readers);
            if (e < 0) { errno = -e; die("io_uring_submit_and_wait"); }
            for (int done = 0; done < readers; done++) {
                struct io_uring_cqe *c;
                e = io_uring_wait_cqe(&ring, &c);
                if (e < 0) { errno = -e; die("io_uring_wait_cqe"); }
                int i = (int)io_uring_cqe_get_data64(c), res = c->res;
                io_uring_cqe_seen(&ring, c);
                if (res < 0 && res != -EAGAIN) { errno = -res; die("send (io_uring)"); }
                if ((size_t)(res < 0 ? 0 : res) < len) finish(fds[i], frame + (res < 0 ? 0 : res), len - (size_t)(res < 0 ? 0 : res), &blocked);
            }
        } else {
            for (int i = 0; i < readers; i++) {
                ssize_t r = send(fds[i], frame, len, MSG_DONTWAIT);
                if (r < 0 && errno != EAGAIN) die("send");
                if ((size_t)(r < 0 ? 0 : r) < len) finish(fds[i], frame + (r < 0 ? 0 : r), len - (size_t)(r < 0 ? 0 : r), &blocked);
            }
        }
        frames++;
    }
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec)
               + (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
    for (int i = 0; i < readers; i++) close(fds[i]);
    char line[256];
    snprintf(line, sizeof line, "{\"role\":\"writer\",\"records\":%llu,\"frames\":%ld,\"blocked\":%ld,\"cpu_s\":%.3f,\"involuntary_switches\":%ld}\n",
             (unsigned long long)seq, frames, blocked, cpu, r1.ru_nivcsw - r0.ru_nivcsw);
    append_line(out, line);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    int port = 0, readers = 0, id = 0, uring = -1;
    double rate = 0, seconds = 0, deadline = 120;
    long batch_us = -1;
    const char *out = NULL;
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(k, "--port")) port = atoi(v);
        else if (!strcmp(k, "--readers")) readers = atoi(v);
        else if (!strcmp(k, "--id")) id = atoi(v);
        else if (!strcmp(k, "--rate")) rate = atof(v);
        else if (!strcmp(k, "--seconds")) seconds = atof(v);
        else if (!strcmp(k, "--deadline")) deadline = atof(v);
        else if (!strcmp(k, "--batch-us")) batch_us = atol(v);
        else if (!strcmp(k, "--send")) uring = !strcmp(v, "uring") ? 1 : !strcmp(v, "send") ? 0 : -2;
        else if (!strcmp(k, "--out")) out = v;
        else usage();
        i++;
    }
    if (!out || port <= 0 || port > 65535) usage();
    if (!strcmp(argv[1], "reader")) return run_reader(port, id, out, deadline);
    if (strcmp(argv[1], "writer") || readers < 1 || rate <= 0 || seconds <= 0 || batch_us < 0 || uring < 0) usage();
    return run_writer(port, readers, rate, seconds, batch_us, uring, out);
}
