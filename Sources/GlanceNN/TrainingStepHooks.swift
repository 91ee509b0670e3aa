/// A module that acts around each optimizer step: a trainer calls ``beforeStep(_:)`` on every
/// conforming module of the model before it computes the step's gradients, and
/// ``afterStep(_:)`` once the optimizer has updated the parameters (Performer redraws its
/// random features before a step; a clamp of a learned parameter would act after one).
public protocol TrainingStepHooks: AnyObject {
    /// Called before step `step` (the 0-based count of finished steps).
    func beforeStep(_ step: Int)
    /// Called after the optimizer's update of step `step` (the same count as ``beforeStep(_:)``).
    func afterStep(_ step: Int)
}

extension TrainingStepHooks {
    public func beforeStep(_ step: Int) {}
    public func afterStep(_ step: Int) {}
}

extension Module {
    /// The modules of this model (itself included) that have training step hooks.
    public func trainingStepHooks() -> [any TrainingStepHooks] {
        namedModules().compactMap { $0.module as? any TrainingStepHooks }
    }
}
