import Foundation

/// Writes `key` into the observation with the value of `function` (Chainer's `observe_value`; once per epoch,
/// priority writer, default name `_observe_value`).
public func observeValue(_ key: String, trigger: Trigger = IntervalTrigger(1, .epoch), _ function: @escaping (Trainer) -> Double) -> Extension {
    makeExtension(name: "_observe_value", trigger: trigger, priority: Extension.priorityWriter) { trainer in
        trainer.observation[key] = function(trainer)
    }
}

/// Observes an optimizer's learning rate as `lr` (Chainer's `observe_lr`).
public func observeLR(optimizerName: String = "main", key: String = "lr", trigger: Trigger = IntervalTrigger(1, .epoch)) -> Extension {
    observeValue(key, trigger: trigger) { $0.updater.optimizer(optimizerName)?.lr ?? .nan }
}
