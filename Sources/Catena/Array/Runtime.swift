import CCatenaKernels
import Foundation

/// The process-wide settings of Catena's kernels and the caches that depend on them, in one place.
///
/// - ``threads``: how many threads large matrix products, optimizer updates and other split loops use
///   (`CATENA_NUM_THREADS`, else the number of active processors);
/// - ``spinMicroseconds``: how long the worker threads spin after a job before sleeping, so that the short products
///   of an RNN step can be split across cores without a wake-up each time (`CATENA_SPIN_US`, else 300);
/// - ``kernelLevel``: the instruction set the kernels use (portable, AVX2+FMA, AVX-512), detected once;
/// - the packed-weight cache: products with a transposed weight keep its packed form while the weight's storage is
///   unchanged. Every write into an existing array's storage advances that storage's version, which invalidates
///   the cache entry, so results never come from stale weights; ``clearCaches()`` frees the memory.
///
/// Set these before training starts, not while products run on other threads.
///
/// ```swift
/// CatenaRuntime.threads = 1            // as CATENA_NUM_THREADS=1
/// ```
public enum CatenaRuntime {
    nonisolated(unsafe) private static var threadSetting: Int = {
        if let s = ProcessInfo.processInfo.environment["CATENA_NUM_THREADS"], let n = Int(s), n > 0 { return n }
        return Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Threads for large products and split loops (at least 1). The worker pool starts with the count in effect at
    /// its first use; a larger count set later uses at most that many threads.
    public static var threads: Int {
        get { threadSetting }
        set { threadSetting = Swift.max(1, newValue) }
    }

    /// Microseconds the worker threads spin after a job before they sleep (at least 0).
    public static var spinMicroseconds: Int {
        get { catena_pool_spin_us() }
        set { catena_pool_set_spin_us(newValue) }
    }

    /// The instruction sets the kernels may use.
    public enum KernelLevel: Int, Sendable, Comparable {
        /// Plain C loops (any CPU).
        case portable = 0
        /// AVX2 and FMA (x86-64).
        case avx2 = 1
        /// AVX-512F for the single-precision product tiles, AVX2 elsewhere.
        case avx512 = 2

        public static func < (a: KernelLevel, b: KernelLevel) -> Bool { a.rawValue < b.rawValue }
    }

    /// The level in use: the best the CPU supports, unless capped by ``limitKernels(to:)``.
    public static var kernelLevel: KernelLevel { KernelLevel(rawValue: Int(catena_kernels_level())) ?? .portable }

    /// Caps the kernels' instruction set (for comparisons and tests); `.avx512` restores the default.
    public static func limitKernels(to level: KernelLevel) { catena_kernels_limit(Int32(level.rawValue)) }

    /// Frees the packed copies of weights kept for matrix products (they are rebuilt on the next use).
    public static func clearCaches() { PackedBCache.shared.removeAll() }
}
