import Catena
import XCTest

/// Datasets and iterators, against Chainer 7.8.1's behaviour (the sequences below were printed by Chainer itself;
/// see the comments).
final class DatasetIteratorTests: XCTestCase {
    // MARK: - Datasets

    func testTupleDatasetReadsItsArraysInParallel() {
        let x = NDArray([[1, 2], [3, 4], [5, 6]]), t = NDArray(values: [Int32(7), 8, 9], shape: [3])
        let ds = TupleDataset(x, t)
        XCTAssertEqual(ds.count, 3)
        XCTAssertEqual(ds[1][0].toDoubles(), [3, 4])
        XCTAssertEqual(ds[1][1].toArray(as: Int32.self), [8])
        XCTAssertEqual(ds[2][1].shape, [])
    }

    func testSubDatasetRangesNegativeIndicesAndOrder() {
        let base = Array(10..<20)
        let sub = SubDataset(base, start: 2, finish: 6)
        XCTAssertEqual(sub.count, 4)
        XCTAssertEqual((0..<4).map { sub[$0] }, [12, 13, 14, 15])
        XCTAssertEqual(sub[-1], 15)                       // Chainer: negative i counts back from finish
        let order = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
        let reordered = SubDataset(base, start: 1, finish: 4, order: order)
        XCTAssertEqual((0..<3).map { reordered[$0] }, [18, 17, 16])
    }

    func testSplitDatasetAndSplitDatasetRandom() {
        let base = Array(0..<10)
        let (a, b) = splitDataset(base, at: 3)
        XCTAssertEqual((0..<a.count).map { a[$0] }, [0, 1, 2])
        XCTAssertEqual((0..<b.count).map { b[$0] }, [3, 4, 5, 6, 7, 8, 9])

        let (r1, r2) = splitDatasetRandom(base, firstSize: 4, seed: 5)
        let (s1, s2) = splitDatasetRandom(base, firstSize: 4, seed: 5)
        let first = (0..<r1.count).map { r1[$0] }, second = (0..<r2.count).map { r2[$0] }
        XCTAssertEqual(first.count, 4)
        XCTAssertEqual(second.count, 6)
        XCTAssertEqual(Set(first + second), Set(0..<10))               // disjoint and covering
        XCTAssertEqual(first, (0..<s1.count).map { s1[$0] })          // same seed, same split
        XCTAssertEqual(second, (0..<s2.count).map { s2[$0] })
        XCTAssertNotEqual(first + second, Array(0..<10))               // actually shuffled
        let (o1, _) = splitDatasetRandom(base, firstSize: 4, seed: 6)
        XCTAssertNotEqual(first, (0..<o1.count).map { o1[$0] })
    }

    func testTransformDataset() {
        let ds = TransformDataset([1, 2, 3]) { $0 * 10 }
        XCTAssertEqual(ds.count, 3)
        XCTAssertEqual(ds[2], 30)
    }

    func testConcatExamplesStacksAndPads() {
        let batch = [[NDArray([1, 2]), NDArray(values: [Int32(0)], shape: [1])],
                     [NDArray([3, 4]), NDArray(values: [Int32(1)], shape: [1])]]
        let out = concatExamples(batch)
        XCTAssertEqual(out[0].shape, [2, 2])
        XCTAssertEqual(out[0].toDoubles(), [1, 2, 3, 4])
        XCTAssertEqual(out[1].dtype, .int32)
        XCTAssertEqual(out[1].toArray(as: Int32.self), [0, 1])

        // Chainer's example: int32 [1,2]/[3] and [0]/[] with padding (-1, 9) give [[1,2],[3,-1]] and [[0],[9]].
        let ragged = [[NDArray(values: [Int32(1), 2], shape: [2]), NDArray(values: [Int32(0)], shape: [1])],
                      [NDArray(values: [Int32(3)], shape: [1]), NDArray(values: [Int32](), shape: [0])]]
        let padded = concatExamples(ragged, padding: [-1, 9])
        XCTAssertEqual(padded[0].shape, [2, 2])
        XCTAssertEqual(padded[0].toArray(as: Int32.self), [1, 2, 3, -1])
        XCTAssertEqual(padded[1].shape, [2, 1])
        XCTAssertEqual(padded[1].toArray(as: Int32.self), [0, 9])
        // One padding value for every component, and 2-D ragged shapes padded to the elementwise maximum.
        let two = concatExamples([NDArray([[1, 2]]), NDArray([[3], [4]])], padding: 0)
        XCTAssertEqual(two.shape, [2, 2, 2])
        XCTAssertEqual(two.toDoubles(), [1, 2, 0, 0, 3, 0, 4, 0])
    }

    // MARK: - SerialIterator

    private struct Step: Equatable {
        let batch: [Int], epoch: Int, epochDetail: Double, previous: Double?, isNew: Bool
    }

    private func step(_ it: SerialIterator<[Int]>) -> Step? {
        guard let b = it.next() else { return nil }
        return Step(batch: b, epoch: it.epoch, epochDetail: it.epochDetail, previous: it.previousEpochDetail, isNew: it.isNewEpoch)
    }

    func testSerialIteratorWrapsLikeChainer() {
        // Chainer: SerialIterator(range(5), 2, shuffle=False), repeat=True.
        let it = SerialIterator(Array(0..<5), batchSize: 2, shuffle: false)
        XCTAssertEqual(it.epochDetail, 0)
        XCTAssertNil(it.previousEpochDetail)
        XCTAssertTrue(it.repeats)
        XCTAssertEqual(it.batchSize, 2)
        let expected = [
            Step(batch: [0, 1], epoch: 0, epochDetail: 0.4, previous: 0.0, isNew: false),
            Step(batch: [2, 3], epoch: 0, epochDetail: 0.8, previous: 0.4, isNew: false),
            Step(batch: [4, 0], epoch: 1, epochDetail: 1.2, previous: 0.8, isNew: true),
            Step(batch: [1, 2], epoch: 1, epochDetail: 1.6, previous: 1.2, isNew: false),
            Step(batch: [3, 4], epoch: 2, epochDetail: 2.0, previous: 1.6, isNew: true),
            Step(batch: [0, 1], epoch: 2, epochDetail: 2.4, previous: 2.0, isNew: false),
        ]
        for (k, e) in expected.enumerated() {
            let s = step(it)!
            XCTAssertEqual(s.batch, e.batch, "batch \(k)")
            XCTAssertEqual(s.epoch, e.epoch, "batch \(k)")
            XCTAssertEqual(s.epochDetail, e.epochDetail, accuracy: 1e-12, "batch \(k)")
            XCTAssertEqual(s.previous!, e.previous!, accuracy: 1e-12, "batch \(k)")
            XCTAssertEqual(s.isNew, e.isNew, "batch \(k)")
        }
        it.reset()
        XCTAssertEqual(it.epoch, 0)
        XCTAssertNil(it.previousEpochDetail)
        XCTAssertEqual(it.next()!, [0, 1])
    }

    func testSerialIteratorWithoutRepeatEndsWithAShortBatch() {
        // Chainer: [0,1] [2,3] [4] (epoch 1, detail 1.0, new epoch), then StopIteration with previous detail 1.0.
        let it = SerialIterator(Array(0..<5), batchSize: 2, repeats: false, shuffle: false)
        XCTAssertEqual(it.next()!, [0, 1])
        XCTAssertEqual(it.next()!, [2, 3])
        XCTAssertEqual(it.next()!, [4])
        XCTAssertEqual(it.epoch, 1)
        XCTAssertEqual(it.epochDetail, 1.0, accuracy: 1e-12)
        XCTAssertTrue(it.isNewEpoch)
        XCTAssertNil(it.next())
        XCTAssertEqual(it.previousEpochDetail!, 1.0, accuracy: 1e-12)
        XCTAssertNil(it.next())
    }

    func testSerialIteratorBatchLargerThanTheDataCrossesSeveralEpochs() {
        // Chainer: batch 7 over 3 items gives [0,1,2,0,1,2,0] (epoch 2, detail 2.333), then [1,2,0,1,2,0,1] (epoch 4).
        let it = SerialIterator(Array(0..<3), batchSize: 7, shuffle: false)
        XCTAssertEqual(it.next()!, [0, 1, 2, 0, 1, 2, 0])
        XCTAssertEqual(it.epoch, 2)
        XCTAssertEqual(it.epochDetail, 2 + 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(it.next()!, [1, 2, 0, 1, 2, 0, 1])
        XCTAssertEqual(it.epoch, 4)
        XCTAssertEqual(it.epochDetail, 4 + 2.0 / 3, accuracy: 1e-12)
    }

    func testShuffledSerialIteratorDrawsANewOrderAtEachEpochCrossing() {
        let it = SerialIterator(Array(0..<5), batchSize: 2, rng: RandomState(seed: 3))
        let firstOrder = it.order!
        XCTAssertEqual(firstOrder.sorted(), Array(0..<5))
        let b1 = it.next()!, b2 = it.next()!, b3 = it.next()!
        XCTAssertEqual(b1, Array(firstOrder[0..<2]))
        XCTAssertEqual(b2, Array(firstOrder[2..<4]))
        // The wrap batch is the old order's tail and the new order's head (Chainer's state machine).
        let secondOrder = it.order!
        XCTAssertEqual(secondOrder.sorted(), Array(0..<5))
        XCTAssertEqual(b3, [firstOrder[4], secondOrder[0]])
        var seen = [Int]()
        seen += [secondOrder[0]]
        seen += it.next()! + it.next()!
        XCTAssertEqual(seen, secondOrder)            // the second epoch visits each example once, in its order

        // Same generator seed, same batches.
        let again = SerialIterator(Array(0..<5), batchSize: 2, rng: RandomState(seed: 3))
        XCTAssertEqual([again.next()!, again.next()!, again.next()!], [b1, b2, b3])
    }

    // MARK: - ParallelSequentialIterator

    func testParallelSequentialIteratorOffsetsPairsAndEpochs() {
        // Chainer's PTB iterator over the words 0..9, batch 3: offsets 0, 3, 6.
        let it = ParallelSequentialIterator(Array(0..<10), batchSize: 3)
        XCTAssertEqual(it.offsets, [0, 3, 6])
        let expected: [(pairs: [(Int, Int)], epoch: Int, detail: Double, previous: Double, isNew: Bool)] = [
            ([(0, 1), (3, 4), (6, 7)], 0, 0.3, 0.0, false),
            ([(1, 2), (4, 5), (7, 8)], 0, 0.6, 0.3, false),
            ([(2, 3), (5, 6), (8, 9)], 0, 0.9, 0.6, false),
            ([(3, 4), (6, 7), (9, 0)], 1, 1.2, 0.9, true),
            ([(4, 5), (7, 8), (0, 1)], 1, 1.5, 1.2, false),
        ]
        for (k, e) in expected.enumerated() {
            let batch = it.next()!
            XCTAssertEqual(batch.map(\.current), e.pairs.map(\.0), "batch \(k)")
            XCTAssertEqual(batch.map(\.next), e.pairs.map(\.1), "batch \(k)")
            XCTAssertEqual(it.epoch, e.epoch, "batch \(k)")
            XCTAssertEqual(it.epochDetail, e.detail, accuracy: 1e-12, "batch \(k)")
            XCTAssertEqual(it.previousEpochDetail!, e.previous, accuracy: 1e-12, "batch \(k)")
            XCTAssertEqual(it.isNewEpoch, e.isNew, "batch \(k)")
        }
        let (x, t) = ParallelSequentialIterator<[Int32]>.arrays([(current: 1, next: 2), (current: 5, next: 6)])
        XCTAssertEqual(x.toArray(as: Int32.self), [1, 5])
        XCTAssertEqual(t.toArray(as: Int32.self), [2, 6])
    }

    func testParallelSequentialIteratorWithoutRepeat() {
        // Chainer: 4 batches (detail 1.2, past 1.0), then StopIteration.
        let it = ParallelSequentialIterator(Array(0..<10), batchSize: 3, repeats: false)
        for _ in 0..<4 { XCTAssertNotNil(it.next()) }
        XCTAssertEqual(it.epoch, 1)
        XCTAssertEqual(it.epochDetail, 1.2, accuracy: 1e-12)
        XCTAssertNil(it.next())
        it.reset()
        XCTAssertEqual(it.next()!.map(\.current), [0, 3, 6])
    }
}
