import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One object per thread, made on the thread's first use and released when the thread ends: the per-thread state of
/// the buffer pool, of Core's configuration and of the training reporters.
final class ThreadLocal<T: AnyObject>: @unchecked Sendable {
    // Both constant after init; the object itself is only ever touched by its own thread.
    private let key: pthread_key_t
    private let make: () -> T

    init(_ make: @escaping () -> T) {
        self.make = make
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            if let pointer { Unmanaged<AnyObject>.fromOpaque(pointer).release() }
        }
        self.key = key
    }

    /// This thread's object.
    @inline(__always)
    var value: T {
        if let p = pthread_getspecific(key) { return Unmanaged<T>.fromOpaque(p).takeUnretainedValue() }
        let v = make()
        pthread_setspecific(key, Unmanaged.passRetained(v).toOpaque())
        return v
    }
}
