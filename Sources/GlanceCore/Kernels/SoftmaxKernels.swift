import Foundation

/// In-place softmax of one row of `count` floats. A row of −∞ becomes zeros.
/// Returns log Σ exp(x), the row's normalizer (−∞ for a fully masked row).
@inlinable @discardableResult
public func softmaxRowInPlace(_ row: UnsafeMutablePointer<Float>, _ count: Int) -> Float {
    let peak = vectorMax(row, count)
    guard peak > -Float.infinity else {
        row.update(repeating: 0, count: count)
        return -.infinity
    }
    let total = exponentiateRow(row, count, shift: peak)
    vectorScale(row, 1 / total, count)
    return peak + Foundation.log(total)
}

/// Replaces each x by exp(x − shift) and returns their sum (entries of −∞ become 0).
@inlinable @discardableResult
public func exponentiateRow(_ row: UnsafeMutablePointer<Float>, _ count: Int, shift: Float) -> Float {
    let offset = FloatVector(repeating: shift)
    var acc = FloatVector()
    var i = 0
    while i + 16 <= count {
        let e = fastExp(loadVector(row + i) - offset)
        storeVector(e, row + i)
        acc += e
        i += 16
    }
    var total = acc.sum()
    if i < count {
        var tail = FloatVector(repeating: -.infinity)
        for j in 0..<(count - i) { tail[j] = row[i + j] }
        let e = fastExp(tail - offset)
        for j in 0..<(count - i) { row[i + j] = e[j]; total += e[j] }
    }
    return total
}

/// Softmax backward for one row: dx = y ⊙ (dy − ⟨dy, y⟩), written into `dx`.
@inlinable
public func softmaxBackwardRow(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, _ count: Int) {
    let dot = FloatVector(repeating: vectorDot(y, dy, count))
    var i = 0
    while i + 16 <= count {
        storeVector(loadVector(y + i) * (loadVector(dy + i) - dot), dx + i)
        i += 16
    }
    let d = dot[0]
    while i < count { dx[i] = y[i] * (dy[i] - d); i += 1 }
}
