/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The isolation probe (DESIGN §9, bench/isolation): pinned to one CPU for D seconds, two
 * threads measure what a neighbour's work costs that CPU.
 *
 *   work   a fixed-work loop; its rate (blocks of arithmetic per second) is the share of
 *          the CPU the probe got.
 *   sleep  a 1 ms periodic sleeper on absolute CLOCK_MONOTONIC deadlines; its wake-up
 *          lateness (p50/p99/max, µs) is how long a runnable task waits for that CPU.
 *
 * Both run at once, as in the measurement of issue #4, so each baseline ("idle") already
 * contains the other probe; only the ratio to that baseline means anything. The timer
 * slack is set to 1 ns (the default 50 µs would hide scheduling delays below it).
 *
 *   bench/probe [--cpu N] [--seconds D] [--no-work] [--no-sleep]
 *
 * One line on stdout, key=value, for scripts:
 *   cpu=1 seconds=5.000 work_per_s=123456 wakeups=5000 missed=0 p50_us=55 p99_us=130 max_us=400
 * Exit status: 0, 1 on a system call failure, 2 on a bad option.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000LL
#define PERIOD_NS 1000000LL /* the sleeper's period: 1 ms */
#define WORK_BLOCK 20000    /* xorshift steps per counted block: ~20-40 µs on a current CPU */

struct probe_shared {
	int64_t end_ns;          /* CLOCK_MONOTONIC deadline for both threads */
	uint64_t blocks;         /* work: completed blocks */
	int64_t work_ns;         /* work: its own measured duration */
	uint32_t *late_us;       /* sleep: lateness of each wake-up, µs */
	size_t n_late, max_late; /* sleep: filled, capacity */
	uint64_t missed;         /* sleep: deadlines skipped because a wake-up came a period late */
	int error;               /* first errno of a thread, 0 if none */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* The sink keeps the compiler from removing the loop. */
static volatile uint64_t work_sink;

static void *work_thread(void *arg)
{
	struct probe_shared *p = arg;
	uint64_t x = 0x9e3779b97f4a7c15ULL, blocks = 0;
	int64_t start = now_ns(), t;

	do {
		for (unsigned i = 0; i < WORK_BLOCK; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		work_sink = x;
		blocks++;
		t = now_ns();
	} while (t < p->end_ns);
	p->blocks = blocks;
	p->work_ns = t - start;
	return NULL;
}

static void *sleep_thread(void *arg)
{
	struct probe_shared *p = arg;
	int64_t deadline = now_ns() + PERIOD_NS;

	while (deadline < p->end_ns && p->n_late < p->max_late) {
		struct timespec ts = { .tv_sec = deadline / NSEC_PER_SEC,
				       .tv_nsec = deadline % NSEC_PER_SEC };
		int64_t t, late;
		int r;

		r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (r == EINTR)
			continue;
		if (r != 0) {
			p->error = r;
			break;
		}
		t = now_ns();
		late = (t - deadline) / 1000;
		p->late_us[p->n_late++] = late > UINT32_MAX ? UINT32_MAX : (uint32_t) late;
		deadline += PERIOD_NS;
		/* A wake-up more than a period late: skip the deadlines already gone, so one
		 * long stall counts once instead of as a burst of zero-lateness wake-ups. */
		while (deadline <= t) {
			deadline += PERIOD_NS;
			p->missed++;
		}
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array (n > 0). */
static uint32_t percentile(const uint32_t *v, size_t n, unsigned pct)
{
	size_t rank = (n * pct + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

static void usage(FILE *f)
{
	fputs("Usage: probe [--cpu N] [--seconds D] [--no-work] [--no-sleep]\n"
	      "Pins itself to CPU N (default: the CPU it starts on) and runs, for D seconds\n"
	      "(default 5), a fixed-work loop and a 1 ms periodic sleeper; prints one line of\n"
	      "key=value results.\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "cpu", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "no-work", no_argument, NULL, 'W' },
		{ "no-sleep", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct probe_shared p = { 0 };
	pthread_t worker, sleeper;
	bool do_work = true, do_sleep = true;
	double seconds = 5;
	long cpu = -1;
	cpu_set_t set;
	char *end;
	int c, r, ran_on;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			errno = 0;
			cpu = strtol(optarg, &end, 10);
			if (errno || *end || cpu < 0 || cpu >= CPU_SETSIZE) {
				fprintf(stderr, "probe: invalid --cpu '%s'\n", optarg);
				return 2;
			}
			break;
		case 's':
			errno = 0;
			seconds = strtod(optarg, &end);
			if (errno || *end || !(seconds > 0 && seconds <= 3600)) {
				fprintf(stderr, "probe: invalid --seconds '%s' (0 < D <= 3600)\n", optarg);
				return 2;
			}
			break;
		case 'W':
			do_work = false;
			break;
		case 'S':
			do_sleep = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || (!do_work && !do_sleep)) {
		usage(stderr);
		return 2;
	}

	if (cpu < 0)
		cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET((int) cpu, &set);
	/* Both threads inherit the pinning. */
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		fprintf(stderr, "probe: cannot pin to CPU %ld: %s\n", cpu, strerror(errno));
		return 1;
	}
	(void) prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

	if (do_sleep) {
		/* One slot per period, plus slack for rounding. */
		p.max_late = (size_t) (seconds * 1000) + 16;
		p.late_us = calloc(p.max_late, sizeof(*p.late_us));
		if (!p.late_us) {
			fprintf(stderr, "probe: out of memory\n");
			return 1;
		}
	}
	p.end_ns = now_ns() + (int64_t) (seconds * NSEC_PER_SEC);
	if (do_work && (r = pthread_create(&worker, NULL, work_thread, &p)) != 0) {
		fprintf(stderr, "probe: cannot start the work thread: %s\n", strerror(r));
		return 1;
	}
	if (do_sleep && (r = pthread_create(&sleeper, NULL, sleep_thread, &p)) != 0) {
		fprintf(stderr, "probe: cannot start the sleeper thread: %s\n", strerror(r));
		return 1;
	}
	if (do_work)
		(void) pthread_join(worker, NULL);
	if (do_sleep)
		(void) pthread_join(sleeper, NULL);
	ran_on = sched_getcpu();
	if (p.error) {
		fprintf(stderr, "probe: clock_nanosleep: %s\n", strerror(p.error));
		return 1;
	}
	if (ran_on != cpu) {
		fprintf(stderr, "probe: ended on CPU %d, not the pinned %ld\n", ran_on, cpu);
		return 1;
	}

	printf("cpu=%ld seconds=%.3f", cpu, seconds);
	if (do_work)
		printf(" work_per_s=%.0f", (double) p.blocks * 1e9 / (double) p.work_ns);
	if (do_sleep) {
		if (p.n_late == 0) {
			fprintf(stderr, "probe: the sleeper never woke up\n");
			return 1;
		}
		qsort(p.late_us, p.n_late, sizeof(*p.late_us), cmp_u32);
		printf(" wakeups=%zu missed=%llu p50_us=%u p99_us=%u max_us=%u", p.n_late,
		       (unsigned long long) p.missed, percentile(p.late_us, p.n_late, 50),
		       percentile(p.late_us, p.n_late, 99), p.late_us[p.n_late - 1]);
	}
	printf("\n");
	free(p.late_us);
	return fflush(stdout) == 0 ? 0 : 1;
}
