import Foundation

extension UpdateRule {
    /// Saves or loads `t` and the state arrays (Chainer's `UpdateRule.serialize`).
    ///
    /// A rule that has no state yet (never updated) saves each state array as None. Loading into such a rule
    /// reads every state array, checked against the parameter's shape; if the file holds None for them (it was
    /// saved before the first update), the state stays unset and is created on the first update, as in Chainer.
    /// As in Chainer too, every state array of an enabled rule must be in the file: loading an SGD snapshot into
    /// Adam fails on the missing `m` under a strict load, rather than starting Adam with fresh moments. A disabled
    /// rule's missing state is left to be created on first use.
    public func serialize(_ s: Serializer, param: Parameter) throws {
        try s.counter("t", &t)
        if !s.isLoading || !state.isEmpty {
            for name in stateNames {
                if var a = state[name] {
                    try s(name, &a)
                    state[name] = a
                } else {
                    var none: NDArray? = nil
                    try s(name, &none, dtype: param.initialDType)
                }
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
            try s(name, &v, dtype: param.initialDType)   // a missing key throws under a strict load
            guard let a = v else {
                complete = false
                continue
            }
            if param.isInitialized && a.shape != param.shape {
                throw SerializationError("key '\(name)': shape \(a.shape) (\(a.dtype)) in the file, \(param.shape) (\(param.dtype)) for the parameter's \(type(of: self)) state")
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
