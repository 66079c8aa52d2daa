import Foundation

/// Named hyperparameters with a parent to fall back on (Chainer's `Hyperparameter`).
///
/// An optimizer's hyperparameters are the parent of each update rule's, so `optimizer.lr = 0.1` changes every
/// parameter's learning rate except where a rule sets its own (`param.updateRule?.hyperparam["lr"] = 0.01`).
public final class Hyperparameters {
    /// Where values not set here come from.
    public internal(set) var parent: Hyperparameters?
    private var values: [String: Double] = [:]

    /// A set of hyperparameters holding `values` itself and falling back on `parent` (nil: none) for the others.
    public init(parent: Hyperparameters? = nil, _ values: [String: Double] = [:]) {
        self.parent = parent
        self.values = values
    }

    /// The value set here or inherited; setting it overrides the parent's for this object only.
    /// - Precondition: the name is set here or in a parent.
    public subscript(_ name: String) -> Double {
        get {
            if let v = values[name] { return v }
            if let p = parent { return p[name] }
            typeCheckFailure("Hyperparameters: no hyperparameter named '\(name)'")
        }
        set { values[name] = newValue }
    }

    /// The value if set here or inherited.
    public func value(_ name: String) -> Double? { values[name] ?? parent?.value(name) }

    /// Removes this object's own value so that the parent's shows through again.
    public func reset(_ name: String) { values[name] = nil }

    /// The values set on this object itself (not inherited).
    public var ownValues: [String: Double] { values }

    /// All values, inherited ones included (Chainer's `get_dict`).
    public var allValues: [String: Double] {
        var d = parent?.allValues ?? [:]
        for (k, v) in values { d[k] = v }
        return d
    }
}
