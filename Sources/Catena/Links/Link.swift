import Foundation

/// How ``Link/copy(mode:)`` treats the parameters of the copy (Chainer's `copy(mode=...)`).
public enum CopyMode: Sendable {
    /// The copy's parameters use the same data and update rules as the original (so training one trains both),
    /// but their own gradients; links keep their own state (an RNN's hidden state).
    case share
    /// The copy gets its own copy of every parameter's data and of the persistent values.
    case copy
    /// The copy's parameters are drawn afresh from their initializers.
    case initialize
}

/// A building block with parameters (Chainer's `Link`).
///
/// Subclass ``Chain`` for a model made of other links. Parameters (``Parameter``) and child links are found
/// automatically among a link's stored properties — there is nothing to register — and are named after those
/// properties, so a model written as
///
/// ```swift
/// final class MLP: Chain {
///     let l1 = Linear(nil, 100)   // input size inferred on the first call
///     let l2 = Linear(100, 10)
///     func callAsFunction(_ x: Variable) -> Variable { l2(F.relu(l1(x))) }
/// }
/// ```
///
/// has the parameters `/l1/W`, `/l1/b`, `/l2/W`, `/l2/b`, listed as Chainer lists them: a link's own parameters
/// sorted by name, then its children sorted by name (a ``ChainList``'s in order), depth first. Optional properties
/// count when they hold a value. Keep a reference to a link you do not own in an ``Unowned`` wrapper so it is not
/// taken for a child.
///
/// Persistent values (statistics that are saved but not trained) are kept with ``addPersistent(_:_:)``.
open class Link {
    /// The name under which the parent refers to this link (set when the parent lists its children).
    public internal(set) var name: String?
    /// Persistent arrays by name: saved and copied with the link, never trained.
    public var persistents: [String: NDArray] = [:]

    /// A link with no parameters of its own yet; subclasses declare theirs as stored properties.
    public init() {}

    // MARK: - Discovery

    /// The link's own parameters and child links, found among its stored properties (by ``Chain``) or in its list
    /// (by ``ChainList``).
    func members() -> (params: [(String, Parameter)], children: [(String, Link)]) {
        var params: [(String, Parameter)] = []
        var children: [(String, Link)] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        // Link's and Chain's own fields (name, persistents) hold no members: stop the walk there, which saves
        // reading their field descriptors (Mirror demangles each field's type on every walk).
        while let m = mirror, m.subjectType != Link.self, m.subjectType != Chain.self {
            for child in m.children {
                guard var label = child.label else { continue }
                if label.hasPrefix("$__lazy_storage_$_") { label.removeFirst("$__lazy_storage_$_".count) }
                Link.classify(label, child.value, &params, &children)
            }
            mirror = m.superclassMirror
        }
        params.sort { $0.0 < $1.0 }
        children.sort { $0.0 < $1.0 }
        return (params, children)
    }

    private static func classify(_ label: String, _ value: Any, _ params: inout [(String, Parameter)], _ children: inout [(String, Link)]) {
        if let p = value as? Parameter {
            params.append((label, p))
        } else if let l = value as? Link {
            children.append((label, l))
        } else if let optional = value as? any OptionalMember, let wrapped = optional.wrappedMember {
            classify(label, wrapped, &params, &children)
        }
    }

    /// The child links with their names, in Chainer's order (sorted for a ``Chain``, by position for a ``ChainList``).
    open func namedChildren() -> [(name: String, link: Link)] {
        (walkedChildren ?? members().children).map { (name: $0.0, link: $0.1) }
    }

    /// The children found by the property walk in progress on this link (set only while ``namedParams(includeUninitialized:)``
    /// visits it), so that the default ``namedChildren()`` need not walk the properties a second time.
    private var walkedChildren: [(String, Link)]?

    /// The child links (Chainer's `children()`).
    public func children() -> [Link] { namedChildren().map(\.link) }

    /// This link's own parameters with their names, sorted.
    public func namedOwnParams() -> [(name: String, param: Parameter)] {
        members().params.map { (name: $0.0, param: $0.1) }
    }

    /// Every parameter of this link and its descendants with its path (`/l1/W`), in Chainer's order: own
    /// parameters by name, then each child's, depth first (Chainer's `namedparams()`).
    /// - Parameter includeUninitialized: include lazy parameters that have no data yet.
    public func namedParams(includeUninitialized: Bool = true) -> [(path: String, param: Parameter)] {
        var out: [(path: String, param: Parameter)] = []
        collectParams(prefix: "", includeUninitialized: includeUninitialized, into: &out)
        return out
    }

    private func collectParams(prefix: String, includeUninitialized: Bool, into out: inout [(path: String, param: Parameter)]) {
        let m = members()
        for (n, p) in m.params where includeUninitialized || p.isInitialized {
            if p.name == nil { p.name = n }
            out.append((path: prefix + "/" + n, param: p))
        }
        // The default namedChildren() would walk the properties again: hand it this walk's children.
        walkedChildren = m.children
        defer { walkedChildren = nil }
        for (n, child) in namedChildren() {
            child.name = n
            child.collectParams(prefix: prefix + "/" + n, includeUninitialized: includeUninitialized, into: &out)
        }
    }

    /// Every parameter of this link and its descendants (Chainer's `params()`).
    public func params(includeUninitialized: Bool = true) -> [Parameter] {
        namedParams(includeUninitialized: includeUninitialized).map(\.param)
    }

    /// This link (path `/`, unless `skipSelf`) and all its descendants with their paths, parents before children
    /// (Chainer's `namedlinks()`).
    public func namedLinks(skipSelf: Bool = false) -> [(path: String, link: Link)] {
        var out: [(path: String, link: Link)] = skipSelf ? [] : [(path: "/", link: self)]
        func walk(_ link: Link, _ prefix: String) {
            for (n, child) in link.namedChildren() {
                child.name = n
                out.append((path: prefix + "/" + n, link: child))
                walk(child, prefix + "/" + n)
            }
        }
        walk(self, "")
        return out
    }

    /// This link and its descendants (Chainer's `links()`).
    public func links(skipSelf: Bool = false) -> [Link] { namedLinks(skipSelf: skipSelf).map(\.link) }

    /// The number of scalar parameters (initialised ones only).
    public func countParams() -> Int { params(includeUninitialized: false).reduce(0) { $0 + $1.count } }

    // MARK: - Gradients and updates

    /// Sets every parameter's gradient to nil (Chainer's `cleargrads()`).
    public func clearGrads() { for p in params() { p.clearGrad() } }

    /// Sets every initialised parameter's gradient to zeros (Chainer's `zerograds()`).
    public func zeroGrads() { for p in params(includeUninitialized: false) { p.zeroGrad() } }

    /// Adds the gradients of `other` (a link of the same structure) to this link's (Chainer's `addgrads`).
    public func addGrads(from other: Link) {
        let mine = Dictionary(uniqueKeysWithValues: namedParams().map { ($0.path, $0.param) })
        for (path, src) in other.namedParams() {
            guard let dst = mine[path], let g = src.grad else { continue }
            if dst.grad == nil { dst.grad = g } else { NDArray.accumulate(&dst._grad, g) }
        }
    }

    /// Copies the parameter data (and, by default, the persistent values) of `other`, a link of the same
    /// structure, into this one (Chainer's `copyparams`). Lazy parameters take the other's shape.
    /// - Precondition: both links have the same parameter paths.
    public func copyParams(from other: Link, copyPersistent: Bool = true) {
        let theirs = Dictionary(uniqueKeysWithValues: other.namedParams().map { ($0.path, $0.param) })
        for (path, dst) in namedParams() {
            guard let src = theirs[path] else { typeCheckFailure("copyParams: \(type(of: other)) has no parameter \(path)") }
            if src.isInitialized { dst.array = src.array.copied() }
        }
        if copyPersistent {
            let theirLinks = Dictionary(uniqueKeysWithValues: other.namedLinks().map { ($0.path, $0.link) })
            for (path, link) in namedLinks() { if let src = theirLinks[path] { link.persistents = src.persistents } }
        }
    }

    /// Turns updates of every parameter on (Chainer's `enable_update()`).
    public func enableUpdate() { for p in params() { p.updateRule?.enabled = true } }

    /// Turns updates of every parameter off, e.g. to freeze a pretrained part (Chainer's `disable_update()`).
    public func disableUpdate() { for p in params() { p.updateRule?.enabled = false } }

    /// True if any parameter will be updated.
    public var updateEnabled: Bool { params().contains { $0.updateRule?.enabled ?? false } }

    /// Adds a persistent array: saved and copied with the link, not trained (Chainer's `add_persistent`).
    /// - Precondition: the name is not in use.
    public func addPersistent(_ name: String, _ value: NDArray) {
        if persistents[name] != nil { typeCheckFailure("addPersistent: \(type(of: self)) already has a persistent value named \(name)") }
        persistents[name] = value
    }

    // MARK: - Saving

    /// Saves or loads the parameters (by name), the persistent values and the children (Chainer's
    /// `Link.serialize`). A lazy parameter without data is saved as None; loading data into it initialises it with
    /// the stored shape. Override to add state, calling ``Link/serializeParametersAndChildren(_:)``.
    open func serialize(_ s: Serializer) throws { try serializeParametersAndChildren(s) }

    // MARK: - Copies

    /// A new link with the same structure as this one, with parameters according to `mode`.
    ///
    /// Catena builds the new link with ``makeCopy()``, which the built-in links implement; a ``Chain`` subclass
    /// overrides it to construct itself (`override func makeCopy() -> Link { MyModel(units: units) }`), or adopts
    /// ``DefaultInitializableLink`` if it has an `init()`. State that is not a parameter (an RNN's hidden state) is
    /// not copied.
    public func copy(mode: CopyMode = .share) -> Link {
        let clone = makeCopy()
        clone.name = nil
        let mine = namedParams()
        let theirs = clone.namedParams()
        if mine.map(\.path) != theirs.map(\.path) {
            typeCheckFailure("\(type(of: self)).makeCopy(): the new link's parameters \(theirs.map(\.path)) differ from the original's \(mine.map(\.path))")
        }
        for ((_, src), (_, dst)) in zip(mine, theirs) {
            switch mode {
            case .share:
                dst.share(src)
            case .copy:
                dst.initializer = src.initializer
                if src.isInitialized { dst.array = src.array.copied() }
                dst.updateRule = src.updateRule?.copied()
                if let g = src.grad { dst.grad = g.copied() }
            case .initialize:
                dst.initializer = src.initializer
                if src.isInitialized { dst.initialize(shape: src.shape) }
            }
        }
        let theirLinks = Dictionary(uniqueKeysWithValues: clone.namedLinks().map { ($0.path, $0.link) })
        for (path, link) in namedLinks() { theirLinks[path]?.persistents = link.persistents }
        return clone
    }

    /// A new, independent link of the same structure, used by ``Link/copy(mode:)``. Links whose initializer takes
    /// arguments override this to build one; ``DefaultInitializableLink`` links need not.
    open func makeCopy() -> Link {
        if let d = self as? DefaultInitializableLink { return type(of: d).init() }
        typeCheckFailure("\(type(of: self)).copy(mode:): Catena cannot build a new \(type(of: self)); override makeCopy() to construct one with the same structure, or adopt DefaultInitializableLink")
    }
}

/// An optional stored property of a link, looked through for a parameter or child link (a cast, cheaper than a
/// `Mirror` of every property).
private protocol OptionalMember {
    var wrappedMember: Any? { get }
}

extension Optional: OptionalMember {
    fileprivate var wrappedMember: Any? { self.map { $0 as Any } }
}

/// A link that can be built with `init()`, so ``Link/copy(mode:)`` works without overriding ``Link/makeCopy()``.
public protocol DefaultInitializableLink: Link {
    /// A new link with its default structure and freshly initialised parameters.
    init()
}

/// Holds a link without making it a child (parameter discovery does not look inside).
public struct Unowned<Wrapped: AnyObject> {
    /// The object held, referenced without being retained.
    public unowned let value: Wrapped
    /// Wraps `value` without retaining it or making it a child.
    public init(_ value: Wrapped) { self.value = value }
}

/// A link made of other links, found among its stored properties (Chainer's `Chain`).
open class Chain: Link {}

/// A link whose children are a list, named `0`, `1`, … (Chainer's `ChainList`).
open class ChainList: Link {
    /// The children in order.
    public private(set) var items: [Link] = []

    /// A list of the given links, children `0`, `1`, … in order (empty by default).
    public init(_ links: [Link] = []) {
        items = links
        super.init()
    }

    /// Adds a child at the end (Chainer's `append` / `add_link`).
    public func append(_ link: Link) { items.append(link) }

    /// The number of children.
    public var count: Int { items.count }

    /// The child at `index`.
    public subscript(index: Int) -> Link { items[index] }

    open override func namedChildren() -> [(name: String, link: Link)] {
        items.enumerated().map { (name: String($0.offset), link: $0.element) }
    }

    open override func makeCopy() -> Link {
        if type(of: self) == ChainList.self { return ChainList(items.map { $0.makeCopy() }) }
        return super.makeCopy()
    }
}

/// A link called with one variable, returning one: what ``Sequential`` chains.
public protocol UnaryLink: Link {
    /// The link applied to `x`.
    func callAsFunction(_ x: Variable) -> Variable
}

/// Links and plain functions applied in order (Chainer's `Sequential`); the links are children named `0`, `1`, …
/// by their position among the links.
///
/// ```swift
/// let mlp = Sequential(Linear(nil, 100), F.relu, Linear(100, 10))
/// let y = mlp(x)
/// ```
public final class Sequential: Link, UnaryLink {
    /// One step: a link or a function.
    public enum Layer {
        /// A link, a child of the ``Sequential``.
        case link(any UnaryLink)
        /// A plain function (``F/relu(_:)`` and the like), with no parameters.
        case function((Variable) -> Variable)
    }

    /// The steps in order.
    public private(set) var layers: [Layer] = []

    /// A sequence of links and functions, given as ``UnaryLink``s or `(Variable) -> Variable` closures.
    public init(_ layers: Any...) {
        super.init()
        for l in layers { append(l) }
    }

    /// A sequence of the given steps, in order.
    public init(layers: [Layer]) {
        self.layers = layers
        super.init()
    }

    /// Adds a link or a function at the end.
    /// - Precondition: `layer` is a ``UnaryLink`` or a `(Variable) -> Variable` function.
    public func append(_ layer: Any) {
        if let l = layer as? any UnaryLink {
            layers.append(.link(l))
        } else if let f = layer as? (Variable) -> Variable {
            layers.append(.function(f))
        } else if let f = layer as? @Sendable (Variable) -> Variable {
            layers.append(.function(f))
        } else {
            typeCheckFailure("Sequential: \(type(of: layer)) is neither a link called with one variable nor a (Variable) -> Variable function")
        }
    }

    public override func namedChildren() -> [(name: String, link: Link)] {
        var out: [(name: String, link: Link)] = []
        for l in layers { if case .link(let link) = l { out.append((name: String(out.count), link: link)) } }
        return out
    }

    /// Applies the steps in order, each to the previous one's output.
    public func callAsFunction(_ x: Variable) -> Variable {
        var h = x
        for l in layers {
            switch l {
            case .link(let link): h = link(h)
            case .function(let f): h = f(h)
            }
        }
        return h
    }

    public override func makeCopy() -> Link {
        Sequential(layers: layers.map { l -> Layer in
            if case .link(let link) = l, let c = link.makeCopy() as? any UnaryLink { return .link(c) }
            return l
        })
    }
}
