/// The requests a query reader serves (`QueryRequest`'s operations).
public enum QueryRequestKind: String, Sendable, Hashable, CaseIterable {
    case getLatest
    case getVersion
    case health
    case metrics
}

/// Relative weights of the query request kinds the load generator sends.
public struct RequestMix: Sendable, Hashable {
    public var getLatest: Double
    public var getVersion: Double
    public var health: Double
    public var metrics: Double

    public init(getLatest: Double, getVersion: Double, health: Double, metrics: Double) {
        self.getLatest = getLatest
        self.getVersion = getVersion
        self.health = health
        self.metrics = metrics
    }

    /// 70 % GetLatest, 20 % GetVersion (some of them for versions no longer kept), 5 % Health, 5 % Metrics.
    public static let standard = RequestMix(getLatest: 70, getVersion: 20, health: 5, metrics: 5)

    /// From `QueryLoad.mix` keys (`getLatest`, `getVersion`, `health`, `metrics`); absent kinds weigh 0.
    public init(weights: [String: Double]) {
        self.init(getLatest: weights["getLatest"] ?? 0, getVersion: weights["getVersion"] ?? 0,
                  health: weights["health"] ?? 0, metrics: weights["metrics"] ?? 0)
    }

    /// `latest:70,version:20,health:5,metrics:5`, the command-line form; nil when malformed or all zero.
    public init?(argument: String) {
        var w: [String: Double] = [:]
        let names = ["latest": "getLatest", "version": "getVersion", "health": "health", "metrics": "metrics"]
        for part in argument.split(separator: ",") {
            let kv = part.split(separator: ":", maxSplits: 1)
            guard kv.count == 2, let key = names[String(kv[0])], let v = Double(kv[1]), v >= 0, v.isFinite,
                  w[key] == nil else { return nil }
            w[key] = v
        }
        self.init(weights: w)
        guard total > 0 else { return nil }
    }

    /// The command-line form.
    public var argument: String {
        func f(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
        return "latest:\(f(getLatest)),version:\(f(getVersion)),health:\(f(health)),metrics:\(f(metrics))"
    }

    public var total: Double { getLatest + getVersion + health + metrics }

    /// The kind for `u`, uniform in 0 ..< 1.
    public func pick(_ u: Double) -> QueryRequestKind {
        var x = u * total
        if x < getLatest { return .getLatest }
        x -= getLatest
        if x < getVersion { return .getVersion }
        x -= getVersion
        if x < health { return .health }
        return metrics > 0 ? .metrics : (health > 0 ? .health : (getVersion > 0 ? .getVersion : .getLatest))
    }
}
