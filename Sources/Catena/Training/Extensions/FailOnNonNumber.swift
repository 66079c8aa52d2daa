import Foundation

/// Stops training when a parameter becomes NaN or infinite (Chainer's `FailOnNonNumber`).
public final class FailOnNonNumber: Extension {
    public override var defaultName: String { "FailOnNonNumber" }
    public override func callAsFunction(_ trainer: Trainer) throws {
        for (name, opt) in trainer.updater.optimizers {
            for (path, p) in opt.target?.namedParams(includeUninitialized: false) ?? [] where p.dtype.isFloatingPoint {
                if p.array.isFinite().logicalNot().astype(.int32).sum().item() > 0 {
                    throw TrainingError("Kill the process since parameters in optimizer '\(name)' diverge (\(path) is not finite). R.I.P.")
                }
            }
        }
    }
}
