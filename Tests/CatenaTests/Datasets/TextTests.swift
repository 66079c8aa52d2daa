import Foundation
import XCTest

@testable import Catena

final class TextTests: TemporaryDirectoryTestCase {
    func testWordTokensKeepInnerApostrophesAndHyphensAndSplitPunctuation() {
        XCTAssertEqual(tokenize("Don't panic, it's well-known.", level: .word), ["Don't", "panic", ",", "it's", "well-known", "."])
        XCTAssertEqual(tokenize("  -- 'quoted' x2 (a)\n", level: .word), ["-", "-", "'", "quoted", "'", "x2", "(", "a", ")"])
        XCTAssertEqual(tokenize("One line.\n\nAnother", level: .word, lowercase: true, endOfLine: "<eos>"),
                       ["one", "line", ".", "<eos>", "another", "<eos>"])
        XCTAssertEqual(tokenize("Café über", level: .word), ["Café", "über"])
    }

    func testCharacterTokensKeepSpacesAndLineBreaks() {
        XCTAssertEqual(tokenize("ab c\nD", level: .character), ["a", "b", " ", "c", "\n", "D"])
        XCTAssertEqual(tokenize("Ab", level: .character, lowercase: true), ["a", "b"])
        XCTAssertEqual(tokenize("e\u{301}!", level: .character).count, 2, "a combining accent stays with its letter")
    }

    func testVocabularyOrdersByFrequencyCapsAndCountsUnknowns() {
        let tokens = "b a c a b a d <unk> e".split(separator: " ").map(String.init)
        let v = Vocabulary(counting: tokens)
        // a ×3, b ×2, then c, d, e once each in order of first appearance; the text's own <unk> counts as unknown.
        XCTAssertEqual(v.tokens, ["<unk>", "a", "b", "c", "d", "e"])
        XCTAssertEqual(v.counts, [1, 3, 2, 1, 1, 1])
        XCTAssertEqual(v.encode(["a", "zzz", "e"]), [1, 0, 5])
        XCTAssertEqual(v.decode([2, 0]), ["b", "<unk>"])
        let capped = Vocabulary(counting: tokens, maxSize: 3)
        XCTAssertEqual(capped.tokens, ["<unk>", "a", "b"])
        XCTAssertEqual(capped.counts, [4, 3, 2], "c, d, e and the <unk> all count as unknown")
        XCTAssertEqual(capped.encode(tokens), [2, 1, 0, 1, 2, 1, 0, 0, 0])
        XCTAssertEqual(Vocabulary(counting: tokens, minCount: 2).tokens, ["<unk>", "a", "b"])
        XCTAssertEqual(capped.counts.reduce(0, +), tokens.count)
    }

    func testCorpusHoldsOutTheEndAndMapsItWithTheTrainingVocabulary() throws {
        let dir = tempDir("text")
        try "the cat sat on the mat . the dog".write(toFile: dir + "/a.txt", atomically: true, encoding: .utf8)
        try "sat on the log".write(toFile: dir + "/b.txt", atomically: true, encoding: .utf8)
        let c = try loadTextCorpus([dir + "/a.txt", dir + "/b.txt"], level: .word, validationFraction: 0.25)
        // 13 tokens; round(13 · 0.25) = 3 held out: "on the log".
        XCTAssertEqual(c.train.count, 10)
        XCTAssertEqual(c.vocabulary.decode(c.validation), ["on", "the", "<unk>"])
        XCTAssertEqual(c.vocabulary.decode(c.train), "the cat sat on the mat . the dog sat".split(separator: " ").map(String.init))
        XCTAssertEqual(c.vocabulary.counts[Int(c.vocabulary.id("the"))], 3)
        // The streams are what ParallelSequentialIterator takes.
        let it = ParallelSequentialIterator(c.train, batchSize: 2)
        XCTAssertEqual(it.next()!.map(\.current), [c.train[0], c.train[5]])
    }

    func testUnreadableTextThrows() throws {
        let dir = tempDir("badtext")
        try Data([0x61, 0x62, 0xFF, 0x63]).write(to: URL(fileURLWithPath: dir + "/bad.txt"))
        assertThrows(DatasetError.self, [dir + "/bad.txt", "not valid UTF-8", "offset 2"]) { _ = try readTextFile(dir + "/bad.txt") }
        assertThrows(DatasetError.self, ["no such file"]) { _ = try loadTextCorpus([dir + "/missing.txt"], level: .word) }
        try "one two".write(toFile: dir + "/short.txt", atomically: true, encoding: .utf8)
        assertThrows(DatasetError.self, ["too few"]) { _ = try loadTextCorpus([dir + "/short.txt"], level: .word) }
    }
}
