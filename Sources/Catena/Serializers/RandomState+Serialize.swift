import Foundation

extension RandomState: Serializable {
    /// Saves or loads the generator's complete state as an int64 array of 6 values under `state`.
    public func serialize(_ s: Serializer) throws {
        var a = stateArray
        try s("state", &a)
        if s.isLoading {
            // xoshiro256** never leaves the all-zero state: a generator loaded into it would return 0 forever.
            if a.toArray(as: Int64.self).prefix(4).allSatisfy({ $0 == 0 }) {
                throw SerializationError("key 'state': an all-zero generator state (a generator never has one)")
            }
            stateArray = a
        }
    }
}
