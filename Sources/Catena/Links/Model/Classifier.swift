import Foundation

/// Wraps a predictor with a loss and an accuracy (Chainer's `L.Classifier`).
///
/// Calling it with inputs and labels returns the loss, and reports `loss` and (with ``computeAccuracy``)
/// `accuracy` to the current ``Reporter`` — as `main/loss` and `main/accuracy` under a trainer. The predictor is the
/// child named `predictor`, so its parameters are `/predictor/…`.
public final class Classifier: Link, UnaryLink {
    /// The model whose output is scored.
    public let predictor: any UnaryLink
    /// The loss of (output, labels); softmax cross entropy by default.
    public var lossFunction: (Variable, Variable) -> Variable
    /// The accuracy of (output, labels); ``F/accuracy(_:_:ignoreLabel:)-(_,Variable,_)`` by default.
    public var accuracyFunction: (Variable, Variable) -> Variable
    /// Whether to compute and report the accuracy.
    public var computeAccuracy = true
    /// The last output, loss and accuracy.
    public private(set) var y: Variable?
    /// The loss of the last call with labels (nil before the first).
    public private(set) var loss: Variable?
    /// The accuracy of the last call with labels (nil before the first, or when ``computeAccuracy`` was off for it).
    public private(set) var accuracy: Variable?

    /// Chainer's `Classifier(predictor, lossfun=…, accfun=…)`. The arguments are spelled out (`lossFunction`,
    /// `accuracyFunction`) rather than camelCasing Chainer's abbreviations, as Swift's API guidelines ask; the
    /// defaults are Chainer's (softmax cross entropy, accuracy).
    public init(_ predictor: any UnaryLink,
                lossFunction: @escaping (Variable, Variable) -> Variable = { F.softmaxCrossEntropy($0, $1) },
                accuracyFunction: @escaping (Variable, Variable) -> Variable = { F.accuracy($0, $1) }) {
        self.predictor = predictor
        self.lossFunction = lossFunction
        self.accuracyFunction = accuracyFunction
        super.init()
    }

    public override func namedChildren() -> [(name: String, link: Link)] { [(name: "predictor", link: predictor)] }

    /// The loss of the predictor's output for `x` against labels `t`; also reports it (and the accuracy).
    public func callAsFunction(_ x: Variable, _ t: Variable) -> Variable {
        y = nil
        loss = nil
        accuracy = nil
        let out = predictor(x)
        let l = lossFunction(out, t)
        y = out
        loss = l
        report(["loss": l], observer: self)
        if computeAccuracy {
            let a = accuracyFunction(out, t)
            accuracy = a
            report(["accuracy": a], observer: self)
        }
        return l
    }

    /// ``callAsFunction(_:_:)`` with arrays.
    public func callAsFunction(_ x: NDArray, _ t: NDArray) -> Variable { self(Variable.constant(x), Variable.constant(t)) }

    /// The predictor's output (a classifier used as a plain link, e.g. inside a ``Sequential``).
    public func callAsFunction(_ x: Variable) -> Variable { predictor(x) }

    public override func makeCopy() -> Link {
        guard let p = predictor.makeCopy() as? any UnaryLink else { typeCheckFailure("Classifier.makeCopy: the predictor's copy is not callable with one variable") }
        let c = Classifier(p, lossFunction: lossFunction, accuracyFunction: accuracyFunction)
        c.computeAccuracy = computeAccuracy
        return c
    }
}

extension Classifier {
    /// The loss of a batch given as arrays `[inputs, labels, …]` (what the updaters and the evaluator call by
    /// default); `caller` names the one that asked, in the message when fewer than two arrays come.
    func loss(onArrays arrays: [NDArray], caller: String) -> Variable {
        if arrays.count < 2 { typeCheckFailure("\(caller): the converter gave \(arrays.count) arrays; a Classifier needs inputs and labels") }
        return self(.constant(arrays[0]), .constant(arrays[1]))
    }
}
