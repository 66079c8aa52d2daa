import Foundation

extension UpdateRule {
    /// Saves or loads `t` and the state arrays (Chainer's `UpdateRule.serialize`).
    ///
    /// A rule that has no state yet (never updated) saves each state array as None. Loading into such a rule
    /// reads every state array, checked against the parameter's shape; if the file holds None for them (it was
    /// saved before the first update), the state stays unset and is created on the first update, as in Chainer; a
    /// rule that has state is unset by such a file too, and a file with None for some state arrays only is refused.
    /// Every state array is checked against the parameter's shape, and the error names the key in full.
    /// As in Chainer too, every state array of an enabled rule must be in the file: loading an SGD snapshot into
    /// Adam fails on the missing `m` under a strict load, rather than starting Adam with fresh moments. A disabled
    /// rule's missing state is left to be created on first use.
    public func serialize(_ s: Serializer, param: Parameter) throws {
        try s.counter("t", &t)
        if !s.isLoading || !state.isEmpty {
            // Read into a new state, set as a whole: a file (or the copy a failed load is undone from) holding None
            // for every array unsets the state, as in Chainer; None for some arrays only is refused.
            var next: [String: NDArray] = [:]
            for name in stateNames {
                var v = state[name]
                if let a = v { try s(name, &v, shape: a.shape, dtype: a.dtype) } else { try s(name, &v, dtype: param.initialDType) }
                next[name] = v
            }
            if s.isLoading {
                if !next.isEmpty, let missing = stateNames.first(where: { next[$0] == nil }) {
                    // Asked again as an array, so that the error is the serializer's, naming the file and the key.
                    var probe = SerializedValue.none
                    try s.serializeValue(missing, &probe, expect: .array(shape: param.shape, dtype: param.dtype))
                    throw SerializationError("key '\(missing)': None in the file, while the rest of the \(type(of: self)) state is there")
                }
                state = next
            }
            return
        }
        var loaded: [String: NDArray] = [:]
        var complete = true
        for name in stateNames {
            if !enabled && !s.contains(name) {
                complete = false
                continue
            }
            var v: NDArray? = nil
            // A missing key throws under a strict load; a state of another shape than the parameter's throws too.
            if param.isInitialized { try s(name, &v, shape: param.shape, dtype: param.dtype) } else { try s(name, &v, dtype: param.initialDType) }
            guard let a = v else {
                complete = false
                continue
            }
            loaded[name] = a
        }
        if complete && !loaded.isEmpty { state = loaded }
    }
}

extension Optimizer: Serializable {
    /// Saves or loads `t`, `epoch` and every parameter's rule under its path (Chainer's `Optimizer.serialize`);
    /// hyperparameters are not saved, as in Chainer.
    public func serialize(_ s: Serializer) throws {
        try s.counter("t", &t)
        try s.counter("epoch", &epoch)
        guard let target else { return }
        for (path, p) in target.namedParams() {
            try p.updateRule?.serialize(s[path], param: p)
        }
    }
}
