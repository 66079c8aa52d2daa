import Foundation

/// How text is split into tokens.
public enum TextLevel: String, Sendable, CaseIterable {
    /// Words (letters and digits, with inner apostrophes and hyphens, as in "don't", "well-known") and single
    /// punctuation marks; whitespace separates tokens and is dropped.
    case word
    /// Every character (grapheme), spaces and line breaks included.
    case character
}

/// Splits `text` into tokens.
///
/// ```swift
/// tokenize("Don't panic, it's fine.", level: .word)          // ["Don't", "panic", ",", "it's", "fine", "."]
/// tokenize("ab\nc", level: .character)                        // ["a", "b", "\n", "c"]
/// tokenize("One line.\nAnother.", level: .word, lowercase: true, endOfLine: "<eos>")
/// // ["one", "line", ".", "<eos>", "another", ".", "<eos>"]
/// ```
/// - Parameters:
///   - text: the text to split.
///   - level: words or characters (``TextLevel``).
///   - lowercase: lowercase the text first.
///   - endOfLine: for `.word`, a token appended at the end of every non-blank line (Penn Treebank's `<eos>`, one
///     sentence per line); nil ignores line breaks. Ignored for `.character`, where "\n" is a token already.
public func tokenize(_ text: String, level: TextLevel, lowercase: Bool = false, endOfLine: String? = nil) -> [String] {
    let source = lowercase ? text.lowercased() : text
    switch level {
    case .character:
        return source.map(String.init)
    case .word:
        var out: [String] = []
        var word = ""
        var lineHasTokens = false
        func flush() {
            if !word.isEmpty {
                out.append(word)
                word = ""
                lineHasTokens = true
            }
        }
        let chars = Array(source)
        for (i, c) in chars.enumerated() {
            if c.isLetter || c.isNumber {
                word.append(c)
            } else if (c == "'" || c == "’" || c == "-") && !word.isEmpty && i + 1 < chars.count && (chars[i + 1].isLetter || chars[i + 1].isNumber) {
                word.append(c)   // inner apostrophe or hyphen
            } else {
                flush()
                if c.isNewline {
                    if let endOfLine, lineHasTokens { out.append(endOfLine) }
                    lineHasTokens = false
                } else if !c.isWhitespace {
                    out.append(String(c))
                    lineHasTokens = true
                }
            }
        }
        flush()
        if let endOfLine, lineHasTokens { out.append(endOfLine) }
        return out
    }
}

/// A vocabulary: the mapping between tokens and integer ids, with how often each token occurred, and an unknown
/// token for everything outside it.
///
/// Built by counting a token list: id 0 is the unknown token, then the tokens from the most to the least frequent
/// (ties in order of first appearance). With `maxSize`, only the `maxSize − 1` most frequent tokens get their own
/// id; rarer ones are counted as the unknown token, as the RNN language-model seed caps its vocabulary at 8000.
///
/// ```swift
/// let vocab = Vocabulary(counting: tokenize(text, level: .word), maxSize: 8000)
/// let ids = vocab.encode(tokenize(other, level: .word))      // [Int32], unknown words → vocab.unknownID
/// print(vocab.decode(ids).joined(separator: " "))
/// ```
public struct Vocabulary: Sendable, Equatable {
    /// The tokens by id.
    public private(set) var tokens: [String]
    /// How many times each token (by id) occurred in the counted text; the unknown token's count includes every
    /// token left out by `maxSize` or `minCount`.
    public private(set) var counts: [Int]
    /// The token that stands for everything outside the vocabulary (`<unk>`).
    public let unknownToken: String
    private var index: [String: Int32]

    /// The id of ``unknownToken`` (0).
    public var unknownID: Int32 { 0 }

    /// The number of tokens, the unknown one included.
    public var count: Int { tokens.count }

    /// Counts `tokens` into a vocabulary.
    /// - Parameters:
    ///   - tokens: the token stream to count; ids go by decreasing count, ties by first occurrence.
    ///   - maxSize: the most ids, the unknown token's included (nil: no cap).
    ///   - minCount: tokens seen fewer times become unknown.
    ///   - unknownToken: the unknown token; occurrences of it in `tokens` count as unknown.
    /// - Precondition: `maxSize`, if given, is at least 1; `minCount` at least 1.
    public init(counting tokens: [String], maxSize: Int? = nil, minCount: Int = 1, unknownToken: String = "<unk>") {
        if let maxSize, maxSize < 1 { typeCheckFailure("Vocabulary: maxSize must be at least 1 (the unknown token), got \(maxSize)") }
        if minCount < 1 { typeCheckFailure("Vocabulary: minCount must be at least 1, got \(minCount)") }
        var counted: [String: (count: Int, first: Int)] = [:]
        for (i, t) in tokens.enumerated() {
            if let c = counted[t] { counted[t] = (c.count + 1, c.first) } else { counted[t] = (1, i) }
        }
        var unknownCount = counted.removeValue(forKey: unknownToken)?.count ?? 0
        let ranked = counted.sorted { $0.value.count != $1.value.count ? $0.value.count > $1.value.count : $0.value.first < $1.value.first }
        let room = (maxSize ?? Int.max) - 1
        self.unknownToken = unknownToken
        self.tokens = [unknownToken]
        self.counts = [0]
        index = [unknownToken: 0]
        for (k, entry) in ranked.enumerated() {
            if k < room && entry.value.count >= minCount {
                index[entry.key] = Int32(self.tokens.count)
                self.tokens.append(entry.key)
                self.counts.append(entry.value.count)
            } else {
                unknownCount += entry.value.count
            }
        }
        counts[0] = unknownCount
    }

    /// The id of `token` (``unknownID`` when it is not in the vocabulary).
    public func id(_ token: String) -> Int32 { index[token] ?? unknownID }

    /// Whether `token` has an id of its own.
    public func contains(_ token: String) -> Bool { index[token] != nil }

    /// The token of `id`.
    /// - Precondition: `0 <= id < count`.
    public func token(_ id: Int32) -> String {
        if id < 0 || Int(id) >= tokens.count { typeCheckFailure("Vocabulary: id \(id) is outside 0..<\(tokens.count)") }
        return tokens[Int(id)]
    }

    /// The ids of `tokens`, unknown ones as ``unknownID``.
    public func encode(_ tokens: [String]) -> [Int32] { tokens.map(id) }

    /// The tokens of `ids`.
    public func decode(_ ids: [Int32]) -> [String] { ids.map(token) }
}

/// A tokenized text split into a training and a validation stream of ids (the shape of Chainer's `get_ptb_words`
/// output: one long int32 sequence per split, ready for ``ParallelSequentialIterator``), with the vocabulary.
public struct TextCorpus: Sendable {
    /// The training tokens' ids.
    public let train: [Int32]
    /// The held-out tokens' ids (the end of the text), mapped with the training vocabulary.
    public let validation: [Int32]
    /// The vocabulary, counted on the training tokens only.
    public let vocabulary: Vocabulary
    /// How the text was split.
    public let level: TextLevel
}

/// Reads UTF-8 text files, tokenizes them and splits the tokens into training and validation streams
/// (``TextCorpus``): the last `validationFraction` of the tokens (of all files, in order) are held out.
///
/// ```swift
/// let corpus = try loadTextCorpus(["/usr/share/common-licenses/GPL-3"], level: .word, vocabularySize: 8000)
/// let iterator = ParallelSequentialIterator(corpus.train, batchSize: 20)
/// ```
/// - Parameters:
///   - paths: the files, read in order as one text.
///   - level: how the text is split into tokens (``TextLevel``).
///   - vocabularySize: the most ids, the unknown token's included (nil: every training token).
///   - validationFraction: the share of the tokens, taken from the end, held out for validation.
///   - lowercase: as for ``tokenize(_:level:lowercase:endOfLine:)``.
///   - endOfLine: as for ``tokenize(_:level:lowercase:endOfLine:)``.
/// - Throws: ``DatasetError`` when a file is missing, unreadable or not valid UTF-8, or when the text has too few
///   tokens to give both splits at least two.
/// - Precondition: `0 < validationFraction < 1`.
public func loadTextCorpus(_ paths: [String], level: TextLevel, vocabularySize: Int? = nil, validationFraction: Double = 0.1,
                           lowercase: Bool = false, endOfLine: String? = nil) throws -> TextCorpus {
    if !(validationFraction > 0 && validationFraction < 1) { typeCheckFailure("loadTextCorpus: validationFraction must be in (0, 1), got \(validationFraction)") }
    if paths.isEmpty { typeCheckFailure("loadTextCorpus: give at least one file") }
    var tokens: [String] = []
    for path in paths {
        tokens += tokenize(try readTextFile(path), level: level, lowercase: lowercase, endOfLine: endOfLine)
    }
    let held = Int((Double(tokens.count) * validationFraction).rounded())
    guard held >= 2, tokens.count - held >= 2 else {
        throw DatasetError("\(paths.joined(separator: ", ")): \(tokens.count) \(level) tokens are too few to hold out \(validationFraction) of them (each split needs at least 2)")
    }
    let trainTokens = Array(tokens[..<(tokens.count - held)])
    let vocab = Vocabulary(counting: trainTokens, maxSize: vocabularySize)
    return TextCorpus(train: vocab.encode(trainTokens), validation: vocab.encode(Array(tokens[(tokens.count - held)...])),
                      vocabulary: vocab, level: level)
}

/// The contents of a UTF-8 text file.
/// - Throws: ``DatasetError`` when the file is missing or unreadable, or is not valid UTF-8 (naming the offset of
///   the first bad byte).
public func readTextFile(_ path: String) throws -> String {
    let data = try readWholeFile(path)
    if let s = String(data: data, encoding: .utf8) { return s }
    var offset = 0
    var it = data.makeIterator()
    var decoder = UTF8()
    loop: while true {
        switch decoder.decode(&it) {
        case .scalarValue(let s): offset += UTF8.width(s)
        case .emptyInput: break loop
        case .error: break loop
        }
    }
    throw DatasetError("\(path): not valid UTF-8 text (the first bad byte is near offset \(offset))")
}
