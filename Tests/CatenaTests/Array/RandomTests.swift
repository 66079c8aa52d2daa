import Foundation
import XCTest

@testable import Catena

final class RandomTests: XCTestCase {
    func testBitsMatchTheReferenceAlgorithm() {
        // xoshiro256** seeded by SplitMix64(42), computed by an independent Python implementation.
        let rng = RandomState(seed: 42)
        XCTAssertEqual((0..<5).map { _ in rng.nextUInt64() },
                       [1546998764402558742, 6990951692964543102, 12544586762248559009, 17057574109182124193, 18295552978065317476])
    }

    func testSameSeedSameArraysAndStateRoundTrip() {
        let a = RandomState(seed: 7), b = RandomState(seed: 7)
        XCTAssertEqual(a.normal(shape: [5]), b.normal(shape: [5]))
        _ = a.nextNormal()  // leaves a cached spare variate: the state must carry it
        let saved = a.state
        let savedArray = a.stateArray
        let first = a.normal(shape: [3, 3], dtype: .float64)
        let firstU = a.uniform(shape: [4])
        a.state = saved
        XCTAssertEqual(a.normal(shape: [3, 3], dtype: .float64), first)
        XCTAssertEqual(a.uniform(shape: [4]), firstU)
        let c = RandomState(seed: 99)
        c.stateArray = savedArray
        XCTAssertEqual(c.normal(shape: [3, 3], dtype: .float64), first)
        XCTAssertNotEqual(RandomState(seed: 8).uniform(shape: [4]), RandomState(seed: 7).uniform(shape: [4]))
        a.seed(7)
        XCTAssertEqual(a.state, RandomState(seed: 7).state)
    }

    func testDistributionsHaveTheirMoments() {
        let rng = RandomState(seed: 1)
        let n = 200_000
        let u = rng.uniform(shape: [n], low: -2, high: 4, dtype: .float64).toDoubles()
        XCTAssertTrue(u.allSatisfy { $0 >= -2 && $0 < 4 })
        let um = u.reduce(0, +) / Double(n)
        XCTAssertEqual(um, 1, accuracy: 0.02)  // sd of mean = 6/sqrt(12)/sqrt(n) ≈ 0.004
        let z = rng.normal(shape: [n], mean: 3, std: 2, dtype: .float64).toDoubles()
        let zm = z.reduce(0, +) / Double(n)
        let zv = z.map { ($0 - zm) * ($0 - zm) }.reduce(0, +) / Double(n)
        XCTAssertEqual(zm, 3, accuracy: 0.03)
        XCTAssertEqual(zv.squareRoot(), 2, accuracy: 0.02)
        let within1 = Double(z.filter { Swift.abs($0 - 3) < 2 }.count) / Double(n)
        XCTAssertEqual(within1, 0.6827, accuracy: 0.005)
        let ints = rng.integers(-3, 4, shape: [70_000]).toArray(as: Int32.self)
        XCTAssertEqual(Set(ints), Set(-3...3))
        for v in -3...3 { XCTAssertEqual(Double(ints.filter { $0 == v }.count) / 70_000, 1.0 / 7, accuracy: 0.01) }
    }

    func testPermutationAndChoice() {
        let rng = RandomState(seed: 3)
        let p = rng.permutation(50).toArray(as: Int32.self)
        XCTAssertEqual(p.sorted(), (0..<50).map { Int32($0) })
        XCTAssertNotEqual(p, (0..<50).map { Int32($0) })
        let c = rng.choice(10, count: 10, replace: false).toArray(as: Int32.self)
        XCTAssertEqual(Set(c).count, 10)
        let w = rng.choice(3, count: 3000, p: [0.2, 0, 0.8]).toArray(as: Int32.self)
        XCTAssertFalse(w.contains(1))
        XCTAssertEqual(Double(w.filter { $0 == 2 }.count) / 3000, 0.8, accuracy: 0.03)
        let r = rng.choice(4, count: 100).toArray(as: Int32.self)
        XCTAssertTrue(r.allSatisfy { (0..<4).contains($0) })
    }

    func testPortableLogAgreesWithTheLibraryLog() {
        for x in [1e-300, 1e-10, 0.001, 0.5, 0.70710678, 0.9999, 1, 1.0001, 1.5, 2, 10, 12345.678, 1e300] {
            XCTAssertEqual(RandomState.portableLog(x), Foundation.log(x), accuracy: Swift.abs(Foundation.log(x)) * 4e-16 + 1e-300, "\(x)")
        }
    }
}
