import GlanceCore

/// A trainable (or frozen) tensor owned by a module.
///
/// Layers read `value` in their forward pass; optimizers and checkpoint loading replace it.
public final class Parameter: @unchecked Sendable {
    /// The current value.
    public var value: Tensor
    /// Whether optimizers update it (running statistics of batch norm are not trainable).
    public let isTrainable: Bool

    public init(_ value: Tensor, trainable: Bool = true) {
        self.value = value
        self.isTrainable = trainable
    }

    public var shape: [Int] { value.shape }
}

/// A layer that maps one tensor to another.
public protocol UnaryLayer: Module {
    func callAsFunction(_ input: Tensor) -> Tensor
}

/// Base class of every layer and model.
///
/// Parameters and sub-modules are found by reflection over stored properties: a property
/// holding a ``Parameter``, a `Module`, an optional of either, or an array of them. Keys are
/// property names joined by dots (`blocks.3.attention.query.weight`), in declaration order.
/// State that is not learned (random sources, fixed tables) is simply not held as a
/// `Parameter` or `Module`.
///
/// Sharing is by identity: a parameter reachable under several keys (two modules holding the
/// same `Parameter`, or the same sub-module) is one parameter. It is listed once, under the
/// first key in declaration order, so it gets one gradient (the sum over all its uses), one
/// optimizer update and one checkpoint entry; ``parameterAliases()`` lists its other keys.
open class Module {
    /// Whether the module is in training mode (dropout active, batch statistics used).
    public private(set) var isTraining = true

    public init() {}

    /// Every parameter under its dotted key, trainable or not, in declaration order; a shared
    /// parameter once, under its first key.
    public func namedParameters() -> [(key: String, parameter: Parameter)] { parameterKeys().named }

    /// The other keys of shared parameters: each alias → the key that ``namedParameters()``
    /// lists it under. Empty when nothing is shared.
    public func parameterAliases() -> [String: String] { parameterKeys().aliases }

    private func parameterKeys() -> (named: [(key: String, parameter: Parameter)], aliases: [String: String]) {
        var named: [(key: String, parameter: Parameter)] = [], aliases: [String: String] = [:]
        var firstKeys: [ObjectIdentifier: String] = [:]
        visit(prefix: "") { key, item in
            guard case let .parameter(p) = item else { return }
            if let first = firstKeys[ObjectIdentifier(p)] {
                aliases[key] = first
            } else {
                firstKeys[ObjectIdentifier(p)] = key
                named.append((key, p))
            }
        }
        return (named, aliases)
    }

    /// The trainable parameters under their dotted keys.
    public func trainableParameters() -> [(key: String, parameter: Parameter)] {
        namedParameters().filter { $0.parameter.isTrainable }
    }

    /// Every sub-module (this one included, under the key "") in declaration order; a shared
    /// sub-module once, under its first key.
    public func namedModules() -> [(key: String, module: Module)] {
        var result: [(String, Module)] = [("", self)]
        var seen: Set<ObjectIdentifier> = [ObjectIdentifier(self)]
        visit(prefix: "") { key, item in
            if case let .module(m) = item, seen.insert(ObjectIdentifier(m)).inserted { result.append((key, m)) }
        }
        return result
    }

    /// Number of scalar parameters (trainable ones by default).
    public func parameterCount(trainableOnly: Bool = true) -> Int {
        (trainableOnly ? trainableParameters() : namedParameters()).reduce(0) { $0 + $1.parameter.value.count }
    }

    /// Switches this module and all below it to training (`true`) or evaluation mode.
    public func train(_ on: Bool = true) {
        for (_, module) in namedModules() { module.isTraining = on }
    }

    /// Switches to evaluation mode.
    public func eval() { train(false) }

    /// Current values of all parameters under their dotted keys.
    public func parameterValues() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: namedParameters().map { ($0.key, $0.parameter.value) })
    }

    /// Replaces parameter values. Every key must name a parameter with the same shape, and
    /// (when `requireAll`) every parameter must be given; otherwise nothing changes and a
    /// ``ParameterLoadingError`` lists all the problems.
    ///
    /// A shared parameter may be given under any of its keys (its first key, as
    /// ``parameterValues()`` writes it, or an alias from ``parameterAliases()``, as a foreign
    /// checkpoint may name it), but under one only: two entries for one parameter are an error
    /// naming both keys.
    public func update(parameters values: [String: Tensor], requireAll: Bool = true) throws {
        let (named, aliases) = parameterKeys()
        let own = Dictionary(uniqueKeysWithValues: named.map { ($0.key, $0.parameter) })
        func firstKey(_ key: String) -> String? { own[key] != nil ? key : aliases[key] }
        let given = Dictionary(grouping: values.keys.compactMap { key in firstKey(key).map { (first: $0, key: key) } }, by: \.first)
        let unexpected = values.keys.filter { firstKey($0) == nil }.sorted()
        let missing = requireAll ? own.keys.filter { given[$0] == nil }.sorted() : []
        let repeated = given.values.filter { $0.count > 1 }.map { $0.map(\.key).sorted() }.sorted { $0[0] < $1[0] }
        let mismatched = values.compactMap { key, tensor -> ParameterLoadingError.Mismatch? in
            guard let first = firstKey(key), own[first]!.shape != tensor.shape else { return nil }
            return .init(key: key, expected: own[first]!.shape, found: tensor.shape)
        }.sorted { $0.key < $1.key }
        guard unexpected.isEmpty, missing.isEmpty, repeated.isEmpty, mismatched.isEmpty else {
            throw ParameterLoadingError(missing: missing, unexpected: unexpected, mismatched: mismatched, repeated: repeated)
        }
        for (key, tensor) in values { own[firstKey(key)!]!.value = tensor.detached() }
    }

    enum Item {
        case parameter(Parameter)
        case module(Module)
    }

    private func visit(prefix: String, _ body: (String, Item) -> Void) {
        var mirror: Mirror? = Mirror(reflecting: self)
        var levels: [Mirror] = []
        while let current = mirror {
            levels.append(current)
            mirror = current.superclassMirror
        }
        for level in levels.reversed() {
            for child in level.children {
                guard let label = child.label, label != "isTraining" else { continue }
                Module.visit(value: child.value, key: prefix + label, body)
            }
        }
    }

    private static func visit(value: Any, key: String, _ body: (String, Item) -> Void) {
        if let parameter = value as? Parameter {
            body(key, .parameter(parameter))
        } else if let module = value as? Module {
            body(key, .module(module))
            module.visit(prefix: key + ".", body)
        } else if let array = value as? [Any] {
            for (index, element) in array.enumerated() { visit(value: element, key: "\(key).\(index)", body) }
        } else {
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .optional, let wrapped = mirror.children.first {
                visit(value: wrapped.value, key: key, body)
            }
        }
    }
}

/// Why parameter values could not be loaded into a module; names every offending key.
public struct ParameterLoadingError: Error, CustomStringConvertible, Equatable {
    public struct Mismatch: Equatable, Sendable {
        public let key: String
        public let expected: [Int]
        public let found: [Int]
    }

    public let missing: [String]
    public let unexpected: [String]
    public let mismatched: [Mismatch]
    /// Keys given together that name one shared parameter, one group per parameter.
    public let repeated: [[String]]

    public init(missing: [String], unexpected: [String], mismatched: [Mismatch], repeated: [[String]] = []) {
        (self.missing, self.unexpected, self.mismatched, self.repeated) = (missing, unexpected, mismatched, repeated)
    }

    public var description: String {
        var lines: [String] = []
        if !missing.isEmpty { lines.append("missing parameters: \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty { lines.append("unexpected parameters: \(unexpected.joined(separator: ", "))") }
        for m in mismatched { lines.append("shape mismatch for \(m.key): model has \(m.expected), checkpoint has \(m.found)") }
        for keys in repeated { lines.append("\(keys.joined(separator: " and ")) name one shared parameter: give it once") }
        return lines.joined(separator: "; ")
    }
}

/// The value of `loss` and its gradient for every trainable parameter of `model`, keyed
/// like ``Module/trainableParameters()``: a shared parameter gets the sum over all its uses.
/// The graph is freed before returning.
public func valueAndGradient<Model: Module>(model: Model, _ loss: (Model) -> Tensor) -> (value: Tensor, gradients: [String: Tensor]) {
    let parameters = model.trainableParameters()
    for (_, parameter) in parameters { parameter.value = parameter.value.requiringGradient() }
    defer { for (_, parameter) in parameters { parameter.value = parameter.value.detached() } }
    let value = withGradients { loss(model) }
    let grads = gradients(of: value, withRespectTo: parameters.map(\.parameter.value))
    return (value.detached(), Dictionary(uniqueKeysWithValues: zip(parameters.map(\.key), grads)))
}
