import Catena

/// Makes `optimizer` data-parallel (ChainerMN's `create_multi_node_optimizer`): from now on every
/// ``Optimizer/update()`` first averages the gradients of all processes with
/// ``Communicator/allreduceGrad(_:zeroFill:)``, then updates as before: hooks (gradient clipping, weight decay),
/// update rules, `optimizer.update { loss }`, the updaters and snapshots all work unchanged. It returns the same
/// object, so it is the wrapped optimizer in every respect, and every process applies the same update.
///
/// ```swift
/// let optimizer = createMultiNodeOptimizer(Adam(), comm)
/// optimizer.setup(model)
/// optimizer.update { model.loss(x, t) }   // forward and backward on this rank's batch, mean gradient, update
/// ```
///
/// Whenever the set of initialised parameters differs from the previous update's — at the first update, and when
/// lazy parameters have just been initialised — the ranks check that their parameter values agree (one small
/// message). If they do (the model was built from one seed, `comm.bcastData(model)` was called, or every rank
/// loaded the same snapshot), the update goes ahead as usual, so that `K` updates on `N` ranks are `K` updates of
/// one process on the `N` ranks' batches together. If they do not, the gradients were computed on different
/// weights: as ChainerMN does, rank 0's parameters are broadcast instead and that update is skipped (`t` does not
/// advance).
///
/// - Parameters:
///   - optimizer: the optimizer to run on every rank.
///   - comm: the job's communicator; every rank must call `update` the same number of times.
///   - zeroFill: give parameters that no rank has a gradient for zeros instead of skipping them.
@discardableResult
public func createMultiNodeOptimizer<O: Optimizer>(_ optimizer: O, _ comm: Communicator, zeroFill: Bool = false) -> O {
    let exchange = MultiNodeExchange(comm: comm, zeroFill: zeroFill)
    optimizer.gradientExchange = { exchange($0) }
    return optimizer
}

/// The state behind a multi-node optimizer's gradient exchange: the parameter set of the previous update.
final class MultiNodeExchange {
    let comm: Communicator
    let zeroFill: Bool
    private var previous: [String]?

    init(comm: Communicator, zeroFill: Bool) {
        self.comm = comm
        self.zeroFill = zeroFill
    }

    /// False when this update must be skipped (the ranks' parameters differed and were just made equal).
    func callAsFunction(_ optimizer: Optimizer) -> Bool {
        guard let target = optimizer.target else { return true }
        let params = optimizer.parameters.filter { $0.param.isInitialized }
        let layout = params.map(\.path)
        if layout != previous {
            previous = layout
            if !comm.parametersAgree(params) {
                comm.bcastData(target)
                return false
            }
        }
        comm.allreduceGrad(parameters: params, zeroFill: zeroFill)
        return true
    }
}
