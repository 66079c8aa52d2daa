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

/// Saves or loads the recurrent states `states` of a link (`[("c", c), ("h", h)]` for an LSTM), each as an
/// array or None, for a link that opted into saving them (`serializesState`).
///
/// Loading checks the states against the link before keeping any: each must be a float array of shape
/// `(batch, units)`, all of one shape, and of the shape of the link's current state when it has one (a state
/// saved with another batch size). A mismatch throws, naming the key and both shapes — or, when
/// `discardMismatch` (the link's `discardsMismatchedState`), drops the states with a warning, so that the next
/// call starts from a fresh state.
///
/// Call it from the `serialize(_:)` of your own stateful recurrent link, after its parameters, as the built-in
/// links do:
///
/// ```swift
/// public override func serialize(_ s: Serializer) throws {
///     try serializeParametersAndChildren(s)
///     guard serializesState else { return }
///     var states = [(key: "h", value: h)]
///     try serializeRecurrentState(s, &states, units: outSize, link: "MyRNN", discardMismatch: discardsMismatchedState)
///     h = states[0].value
/// }
/// ```
public func serializeRecurrentState(_ s: Serializer, _ states: inout [(key: String, value: Variable?)], units: Int, link: String,
                             discardMismatch: Bool) throws {
    var loaded: [NDArray?] = []
    for (key, v) in states {
        var a = v?.array
        try s(key, &a, dtype: v?.dtype ?? .float32)
        loaded.append(a)
    }
    guard s.isLoading else { return }
    var problem: String?
    let present = loaded.compactMap { $0 }
    if present.count != 0 && present.count != states.count {
        problem = "the snapshot holds \(zip(states, loaded).filter { $0.1 != nil }.map(\.0.key)) of \(states.map(\.key)) for \(link)"
    }
    for ((key, current), a) in zip(states, loaded) where problem == nil {
        guard let a else { continue }
        if a.ndim != 2 || a.shape[1] != units || !a.dtype.isFloatingPoint {
            problem = "key '\(key)': \(link) has \(units) units, so its state has shape (batch, \(units)); the snapshot's is \(a.shape) (\(a.dtype))"
        } else if let current, current.shape != a.shape {
            problem = "key '\(key)': the snapshot's state has shape \(a.shape), \(link)'s current state \(current.shape) (another batch size)"
        } else if a.shape != present[0].shape {
            problem = "key '\(key)': the snapshot's states of \(link) have different shapes, \(present[0].shape) and \(a.shape)"
        }
    }
    if let problem {
        if !discardMismatch {
            throw SerializationError(problem + "; call resetState() and load the model without its state, or set discardsMismatchedState")
        }
        printWarning("snapshot: \(problem); the state is dropped (discardsMismatchedState)")
        for i in states.indices { states[i].value = nil }
        return
    }
    for i in states.indices { states[i].value = loaded[i].map { Variable($0) } }
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
