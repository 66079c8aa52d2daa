// JSON spelling of numbers and strings, as Python's json module writes them.
// Support layer: used by Serializers, Datasets and Training; uses nothing above Array.
import Foundation

/// A number as JSON (Python's `json.dumps` spelling for NaN and infinities, shortest round-trip digits).
func jsonNumber(_ v: Double) -> String {
    if v.isNaN { return "NaN" }
    if v.isInfinite { return v < 0 ? "-Infinity" : "Infinity" }
    return "\(v)"
}

func jsonEscape(_ s: String) -> String {
    var out = ""
    for c in s.unicodeScalars {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if c.value < 0x20 { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
        }
    }
    return out
}
