import Foundation

/// softplus(x) = log(1 + eˣ), computed as max(x, 0) + log1p(e^−|x|) so that large |x| neither
/// overflows nor loses the small term; its derivative is the logistic sigmoid.
public func softplus(_ x: Tensor) -> Tensor {
    let input = x.detached()
    let y = x.mappedScalars { Swift.max($0, 0) + Foundation.log1p(Foundation.exp(-Swift.abs($0))) }
    return y.recorded(from: [x]) { g in [g.zipped(with: input) { g, x in g / (1 + fastExp(-x)) }] }
}
