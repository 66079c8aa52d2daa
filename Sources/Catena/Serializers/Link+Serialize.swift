import Foundation

extension Link: Serializable {
    /// Saves or loads the parameters (by name), the persistent values and the children: the body of
    /// ``Link/serialize(_:)``, for overrides that add state of their own.
    public final func serializeParametersAndChildren(_ s: Serializer) throws {
        for (name, p) in members().params {
            var v = SerializedValue.none
            if p.isInitialized { v = .array(p.array) }
            let expect: ValueExpectation = p.isInitialized ? .array(shape: p.shape, dtype: p.dtype) : .optionalArray(dtype: p.initialDType)
            try s.serializeValue(name, &v, expect: expect)
            if s.isLoading {
                switch v {
                case .array(let a):
                    // As in Chainer, loading replaces the data and keeps the gradient (unless the shape is new).
                    if !p.isInitialized {
                        p.array = a
                        p.clearGrad()
                    } else if a.shape == p.shape {
                        p.array = a
                    }
                case .none: p.markUninitialized()
                case .string: break
                }
            }
        }
        for name in persistents.keys.sorted() {
            var v = persistents[name]!
            try s(name, &v)
            persistents[name] = v
        }
        for (name, child) in namedChildren() { try child.serialize(s[name]) }
    }
}

/// Saves or loads an RNN's state variable (None when there is none) under `key`.
func serializeState(_ s: Serializer, _ key: String, _ v: inout Variable?) throws {
    var a = v?.array
    try s(key, &a, dtype: v?.dtype ?? .float32)
    if s.isLoading { v = a.map { Variable($0) } }
}

extension Parameter {
    /// Drops the data (the state of a lazy parameter before its first use).
    func markUninitialized() {
        data.array = NDArray.zeros([0], dtype: initialDType)
        data.isInitialized = false
        isUninitializedParameter = true
        _grad = nil
    }
}

extension UpdateRule {
    /// Saves or loads `t` and the state arrays (Chainer's `UpdateRule.serialize`). State that was never created
    /// is created from `param` before loading, or left out if the file has none.
    public func serialize(_ s: Serializer, param: Parameter) throws {
        try s("t", &t)
        for name in stateNames {
            if s.isLoading && state[name] == nil {
                if !s.contains(name) { continue }
                if param.isInitialized && state.isEmpty { initState(param) }
            }
            var v = state[name]
            if let current = v {
                var a = current
                try s(name, &a)
                v = a
            } else {
                try s(name, &v, dtype: param.initialDType)
            }
            state[name] = v
        }
    }
}

extension Optimizer: Serializable {
    /// Saves or loads `t`, `epoch` and every parameter's rule under its path (Chainer's `Optimizer.serialize`);
    /// hyperparameters are not saved, as in Chainer.
    public func serialize(_ s: Serializer) throws {
        try s("t", &t)
        try s("epoch", &epoch)
        guard let target else { return }
        for (path, p) in target.namedParams() {
            try p.updateRule?.serialize(s[path], param: p)
        }
    }
}

extension RandomState: Serializable {
    /// Saves or loads the generator's complete state as an int64 array of 6 values under `state`.
    public func serialize(_ s: Serializer) throws {
        var a = stateArray
        try s("state", &a)
        if s.isLoading { stateArray = a }
    }
}
