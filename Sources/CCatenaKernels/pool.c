// A small pool of worker threads for Catena's parallel loops.
//
// Dispatch's concurrentPerform wakes its threads through the kernel, which costs tens of microseconds: as much as
// the products of an RNN time step themselves. Here the workers spin for a short while after each job (as OpenMP's
// do), so a job that follows soon after starts within a microsecond; after the spin they sleep on a condition
// variable and cost nothing.
//
// A job is published as one 64-bit word, (generation << 32) | next index; a thread claims index i by a
// compare-and-swap from (g, i) to (g, i + 1), so a thread that is late for generation g can never claim an index of
// g + 1 with g's function. The caller takes part and returns when every index has finished.
#include "CatenaKernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_WORKERS 63

static struct {
    _Atomic uint64_t state;          // generation << 32 | next index
    _Atomic uint32_t generation;     // the generation workers wait on
    _Atomic long finished;           // indices completed in the current generation
    _Atomic int busy;                // a job is running (nested or concurrent callers run serially)
    _Atomic int sleepers;
    _Atomic long count;              // indices in the current generation
    void (*fn)(void *, long);        // written before the generation opens, read after claiming an index
    void *ctx;
    int workers;
    long spin_ns;
    pthread_mutex_t lock;
    pthread_cond_t wake;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static int pool_threads_requested = 1;

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/// Claims and runs indices of generation `gen` until none are left.
static void run_indices(uint32_t gen) {
    for (;;) {
        uint64_t s = atomic_load_explicit(&pool.state, memory_order_acquire);
        if ((uint32_t)(s >> 32) != gen) return;
        long i = (long)(uint32_t)s;
        if (i >= atomic_load(&pool.count)) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.state, &s, s + 1, memory_order_acq_rel, memory_order_acquire)) continue;
        pool.fn(pool.ctx, i);
        atomic_fetch_add_explicit(&pool.finished, 1, memory_order_release);
    }
}

static void *worker_main(void *arg) {
    (void)arg;
    uint32_t seen = atomic_load_explicit(&pool.generation, memory_order_acquire);
    for (;;) {
        uint32_t gen = atomic_load_explicit(&pool.generation, memory_order_acquire);
        if (gen == seen) {
            long start = now_ns();
            int spins = 0;
            while ((gen = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen) {
                CPU_RELAX();
                if (++spins == 64) {
                    spins = 0;
                    if (now_ns() - start > __atomic_load_n(&pool.spin_ns, __ATOMIC_RELAXED)) break;
                }
            }
            if (gen == seen) {
                pthread_mutex_lock(&pool.lock);
                atomic_fetch_add(&pool.sleepers, 1);
                while ((gen = atomic_load(&pool.generation)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
                atomic_fetch_sub(&pool.sleepers, 1);
                pthread_mutex_unlock(&pool.lock);
            }
        }
        seen = gen;
        run_indices(gen);
    }
    return NULL;
}

static long spin_us_setting = -1;   // -1: CATENA_SPIN_US or the default

long catena_pool_spin_us(void) {
    long us = __atomic_load_n(&spin_us_setting, __ATOMIC_RELAXED);
    if (us >= 0) return us;
    const char *spin = getenv("CATENA_SPIN_US");
    long v = spin ? atol(spin) : 300;
    return v < 0 ? 0 : v;
}

void catena_pool_set_spin_us(long us) {
    __atomic_store_n(&spin_us_setting, us < 0 ? 0 : us, __ATOMIC_RELAXED);
    __atomic_store_n(&pool.spin_ns, (us < 0 ? 0 : us) * 1000L, __ATOMIC_RELAXED);
}

static void pool_start(void) {
    __atomic_store_n(&pool.spin_ns, catena_pool_spin_us() * 1000L, __ATOMIC_RELAXED);
    int n = pool_threads_requested - 1;
    if (n > MAX_WORKERS) n = MAX_WORKERS;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int t = 0; t < n; t++) {
        pthread_t th;
        if (pthread_create(&th, &attr, worker_main, NULL) != 0) break;
        pool.workers++;
    }
    pthread_attr_destroy(&attr);
}

int catena_parallel_for(long count, int threads, void (*fn)(void *, long), void *ctx) {
    if (count <= 0) return 1;
    if (count == 1 || threads <= 1) {
        for (long i = 0; i < count; i++) fn(ctx, i);
        return 1;
    }
    if (count >= 0xFFFFFFFFL) return 0;
    pool_threads_requested = threads;
    pthread_once(&pool_once, pool_start);
    int expected = 0;
    if (pool.workers == 0 || !atomic_compare_exchange_strong(&pool.busy, &expected, 1)) {
        // No workers, or a job is already running (a nested call, or another thread's): run here.
        for (long i = 0; i < count; i++) fn(ctx, i);
        return 1;
    }
    // Close the old generation first (no index can be claimed in it any more), then fill in the job and open.
    uint32_t gen = (uint32_t)(atomic_load_explicit(&pool.state, memory_order_relaxed) >> 32) + 1;
    atomic_store(&pool.state, ((uint64_t)gen << 32) | 0xFFFFFFFFu);
    atomic_store(&pool.count, count);
    pool.fn = fn;
    pool.ctx = ctx;
    atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.state, (uint64_t)gen << 32, memory_order_release);
    atomic_store(&pool.generation, gen);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    run_indices(gen);
    while (atomic_load_explicit(&pool.finished, memory_order_acquire) < count) CPU_RELAX();
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
    return 1;
}
