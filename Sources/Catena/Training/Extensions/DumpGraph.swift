import Foundation

/// Writes the computational graph behind a reported variable as a Graphviz `dot` file, once, on the first
/// iteration (Chainer's `DumpGraph`). Render it with `dot -Tsvg cg.dot -o cg.svg`.
public final class DumpGraph: Extension {
    /// The observation key of the reported variable whose graph is written (`main/loss` by default).
    public let rootName: String
    /// The `dot` file's name in the trainer's output directory (`cg.dot` by default).
    public let filename: String
    private var called = false
    private var savedFlag = false

    /// An extension that writes the graph behind the variable reported as `rootName` to `filename`; while it waits
    /// for its first call, reports keep their graphs (``Configuration/keepGraphOnReport``).
    public init(_ rootName: String = "main/loss", filename: String = "cg.dot") {
        self.rootName = rootName
        self.filename = filename
    }

    public override var defaultName: String { "dump_graph" }

    public override func initialize(_ trainer: Trainer) throws {
        savedFlag = Config.current.keepGraphOnReport
        Config.current.keepGraphOnReport = true
    }

    public override func callAsFunction(_ trainer: Trainer) throws {
        if called { return }
        called = true
        defer {
            Config.current.keepGraphOnReport = savedFlag
            trainer.reporter.variables = [:]
        }
        guard let root = trainer.reporter.variables[rootName] else {
            throw TrainingError("DumpGraph: nothing was reported as '\(rootName)' with its graph (report a Variable under that name)")
        }
        try writeAtomically(Data(DumpGraph.dot(root).utf8), to: trainer.out + "/" + filename)
    }

    public override func finalize(_ trainer: Trainer) {
        if !called { Config.current.keepGraphOnReport = savedFlag }
    }

    /// The graph behind `root` in Graphviz's dot language: variables as octagons (`shape, dtype`, parameters with
    /// their names), functions as boxes, edges in the direction of computation.
    public static func dot(_ root: Variable) -> String {
        var lines = ["digraph graphname{rankdir=TB;"]
        var seenVars = Set<ObjectIdentifier>(), seenFuncs = Set<ObjectIdentifier>()
        var stack = [root]
        func id(_ o: AnyObject) -> String { String(UInt(bitPattern: ObjectIdentifier(o).hashValue)) }
        func addVar(_ v: Variable) {
            if !seenVars.insert(ObjectIdentifier(v)).inserted { return }
            let shape = "(" + v.shape.map(String.init).joined(separator: ", ") + (v.ndim == 1 ? ",)" : ")")
            let label = (v is Parameter ? (v.name.map { "\($0): " } ?? "") : "") + "\(shape), \(v.dtype)"
            lines.append("\(id(v)) [label=\"\(label)\",shape=\"octagon\",fillcolor=\"#E0E0E0\",style=\"filled\"];")
        }
        addVar(root)
        while let v = stack.popLast() {
            guard let f = v.creator else { continue }
            if seenFuncs.insert(ObjectIdentifier(f)).inserted {
                lines.append("\(id(f)) [label=\"\(f.label)\",shape=\"record\",fillcolor=\"#6495ED\",style=\"filled\"];")
                for x in f.inputs {
                    addVar(x)
                    lines.append("\(id(x)) -> \(id(f));")
                    stack.append(x)
                }
            }
            lines.append("\(id(f)) -> \(id(v));")
        }
        return lines.joined() + "}"
    }
}
