import Foundation
import XCTest

@testable import Catena

/// The path of a committed fixture (written by `Fixtures/make_fixtures.py` with NumPy and Chainer).
func fixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

/// The stored values of an `.npz` file as a dictionary.
func npzDictionary(_ path: String) throws -> [String: SerializedValue] {
    Dictionary(try readNPZ(path).map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
}

/// The array stored under `key`, failing the test if there is none.
func storedArray(_ values: [String: SerializedValue], _ key: String, file: StaticString = #filePath, line: UInt = #line) -> NDArray? {
    guard case .array(let a)? = values[key] else {
        XCTFail("no array under '\(key)' (found \(String(describing: values[key])))", file: file, line: line)
        return nil
    }
    return a
}

/// Asserts that `body` throws a ``SerializationError`` whose message contains every one of `fragments`, and
/// returns the message.
@discardableResult
func assertSerializationError(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                              _ body: () throws -> Void) -> String? {
    assertThrows(SerializationError.self, fragments, file: file, line: line, body)
}
