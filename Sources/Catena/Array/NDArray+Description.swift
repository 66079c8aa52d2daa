import Foundation

extension NDArray: CustomStringConvertible, CustomDebugStringConvertible {
    /// The elements as NumPy's `str()` prints them: nested brackets, decimal points aligned, `...` in place of the
    /// middle of arrays with more than 1000 elements.
    public var description: String { formatted(prefix: "", suffix: "") }

    /// NumPy's `repr()` form with the shape and dtype: `array([[1., 2.], [3., 4.]], shape=(2, 2), dtype=float32)`.
    public var debugDescription: String { formatted(prefix: "array(", suffix: ", shape=\(shapeTuple), dtype=\(dtype))") }

    /// The array printed with an optional `shape=… dtype=…` trailer.
    public func description(showingShapeAndDType show: Bool) -> String { show ? debugDescription : description }

    var shapeTuple: String { shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")" }

    private func formatted(prefix: String, suffix: String) -> String {
        let summarize = count > 1000
        let edge = 3
        let values = toDoubles()
        // The elements that will be shown, for choosing one common format.
        var shown = [Double]()
        if summarize {
            collect(values, summarize: true, edge: edge, into: &shown)
        } else {
            shown = values
        }
        let format = ElementFormat(values: shown, dtype: dtype)
        let separator = prefix.isEmpty ? " " : ", "
        let body = render(values, format: format, separator: separator, indent: prefix.count + 1, summarize: summarize, edge: edge)
        return prefix + body + suffix
    }

    /// Element indices along each axis that are displayed (all, or the first and last `edge` when summarising).
    private func shownIndices(_ n: Int, summarize: Bool, edge: Int) -> [Int?] {
        if summarize && n > 2 * edge { return Array(0..<edge) + [nil] + Array((n - edge)..<n) }
        return Array(0..<n)
    }

    private func collect(_ values: [Double], summarize: Bool, edge: Int, into out: inout [Double]) {
        let st = NDArray.contiguousStrides(shape)
        func walk(_ axis: Int, _ base: Int) {
            if axis == ndim {
                out.append(values[base])
                return
            }
            for i in shownIndices(shape[axis], summarize: summarize, edge: edge) {
                if let i { walk(axis + 1, base + i * st[axis]) }
            }
        }
        walk(0, 0)
    }

    private func render(_ values: [Double], format: ElementFormat, separator: String, indent: Int, summarize: Bool, edge: Int) -> String {
        if ndim == 0 { return format.string(values.first ?? 0) }
        let st = NDArray.contiguousStrides(shape)
        let lineWidth = 75
        func walk(_ axis: Int, _ base: Int, _ pad: Int) -> String {
            let idx = shownIndices(shape[axis], summarize: summarize, edge: edge)
            if axis == ndim - 1 {
                var lines = [String]()
                var line = "["
                for (k, i) in idx.enumerated() {
                    let item = i.map { format.string(values[base + $0 * st[axis]]) } ?? "..."
                    let piece = item + (k < idx.count - 1 ? separator.trimmingCharacters(in: .whitespaces) : "")
                    if line.count + piece.count + 1 > lineWidth - pad && line != "[" {
                        lines.append(line)
                        line = String(repeating: " ", count: pad + 1)
                    } else if line != "[" {
                        line += " "
                    }
                    line += piece
                }
                lines.append(line + "]")
                return lines.joined(separator: "\n" + (lines.count > 1 ? "" : ""))
            }
            let blank = String(repeating: "\n", count: Swift.max(0, ndim - axis - 2))
            var parts = [String]()
            for i in idx {
                if let i { parts.append(walk(axis + 1, base + i * st[axis], pad + 1)) } else { parts.append("...") }
            }
            let join = separator.trimmingCharacters(in: .whitespaces) + "\n" + blank + String(repeating: " ", count: pad + 1)
            return "[" + parts.joined(separator: join) + "]"
        }
        return walk(0, 0, indent - 1)
    }
}

/// One format for all displayed elements of an array, chosen like NumPy's: integers right-aligned, floats with
/// their decimal points aligned and at most 8 fraction digits, scientific notation for very large or small
/// magnitudes.
private struct ElementFormat {
    let dtype: DType
    let scientific: Bool
    let intWidth: Int
    let fracWidth: Int
    let width: Int

    init(values: [Double], dtype: DType) {
        self.dtype = dtype
        if dtype == .bool {
            scientific = false
            intWidth = values.contains(0) ? 5 : 4
            fracWidth = 0
            width = intWidth
            return
        }
        if dtype.isInteger {
            scientific = false
            intWidth = values.map { String(Int64($0)).count }.max() ?? 1
            fracWidth = 0
            width = intWidth
            return
        }
        let finite = values.filter { $0.isFinite && $0 != 0 }.map { Swift.abs($0) }
        let maxAbs = finite.max() ?? 0, minAbs = finite.min() ?? 0
        scientific = maxAbs >= 1e8 || (minAbs > 0 && minAbs < 1e-4) || (maxAbs / Swift.max(minAbs, .leastNonzeroMagnitude) > 1e3 && minAbs < 1e-4)
        var iw = 0, fw = 0, w = 0
        for v in values {
            let (i, f) = ElementFormat.split(v, dtype: dtype, scientific: scientific)
            iw = Swift.max(iw, i.count)
            fw = Swift.max(fw, f.count)
            w = Swift.max(w, i.count + f.count)
        }
        intWidth = iw
        fracWidth = fw
        width = w
    }

    /// The text of a value in two parts: up to and excluding the decimal point, and from it on.
    static func split(_ v: Double, dtype: DType, scientific: Bool) -> (String, String) {
        if v.isNaN { return ("nan", "") }
        if v.isInfinite { return (v < 0 ? "-inf" : "inf", "") }
        if scientific {
            var digits = 8
            // Fewest mantissa digits (up to 8) that give the value back at this dtype's precision.
            for d in 0...8 {
                let s = String(format: "%.\(d)e", v)
                let back = Double(s) ?? v
                if dtype == .float32 ? Float(back) == Float(v) : back == v {
                    digits = d
                    break
                }
            }
            let s = String(format: "%.\(digits)e", v)
            guard let dot = s.firstIndex(of: "e") else { return (s, "") }
            let mant = String(s[..<dot]), exp = String(s[dot...])
            if let p = mant.firstIndex(of: ".") { return (String(mant[..<p]), String(mant[p...]) + exp) }
            return (mant, "." + exp)
        }
        var text = dtype == .float32 ? "\(Float(v))" : "\(v)"
        if text.contains("e") || text.split(separator: ".").last.map({ $0.count > 8 }) == true {
            text = String(format: "%.8f", v)
            while text.hasSuffix("0") { text.removeLast() }
        }
        if text.hasSuffix(".0") { text.removeLast() }
        if let p = text.firstIndex(of: ".") { return (String(text[..<p]), String(text[p...])) }
        return (text, ".")
    }

    func string(_ v: Double) -> String {
        switch dtype {
        case .bool:
            let s = v != 0 ? "True" : "False"
            return String(repeating: " ", count: Swift.max(0, width - s.count)) + s
        case .int32, .int64:
            let s = String(Int64(v))
            return String(repeating: " ", count: Swift.max(0, width - s.count)) + s
        default:
            let (i, f) = ElementFormat.split(v, dtype: dtype, scientific: scientific)
            if f.isEmpty { return String(repeating: " ", count: Swift.max(0, width - i.count)) + i }
            return String(repeating: " ", count: Swift.max(0, intWidth - i.count)) + i + f
                + String(repeating: " ", count: Swift.max(0, fracWidth - f.count))
        }
    }
}
