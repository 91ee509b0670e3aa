import Foundation

/// A feature-extractor configuration that cannot be used; names the file and the field.
public struct LogMelConfigurationError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let field: String
    public let reason: String

    public var description: String { "\(path): field '\(field)' \(reason)" }
}

/// The settings of Hugging Face's `ParakeetFeatureExtractor` (transformers 5.24.0), with its
/// defaults; decodes the extractor's JSON (preprocessor_config.json, or the
/// `feature_extractor` object of processor_config.json) in a Parakeet model folder.
public struct LogMelConfiguration: Sendable, Equatable {
    /// `feature_size`: mel bins.
    public var melBins = 80
    /// `sampling_rate` in Hz; audio at another rate must be resampled first.
    public var sampleRate = 16000
    /// `hop_length`: samples between frames.
    public var hopLength = 160
    /// `n_fft`: FFT size (even); frames are centred, the audio zero-padded by n_fft/2 each side.
    public var fftSize = 512
    /// `win_length`: the symmetric Hann window's length (≤ n_fft), centred in the FFT frame.
    public var windowLength = 400
    /// `preemphasis`: x[t] − a·x[t−1] before the STFT; nil (JSON null) for none.
    public var preemphasis: Float? = 0.97

    public init() {}

    public init(melBins: Int = 80, sampleRate: Int = 16000, hopLength: Int = 160, fftSize: Int = 512, windowLength: Int = 400,
                preemphasis: Float? = 0.97) {
        self.melBins = melBins
        self.sampleRate = sampleRate
        self.hopLength = hopLength
        self.fftSize = fftSize
        self.windowLength = windowLength
        self.preemphasis = preemphasis
    }

    /// The configuration in `url`: a JSON object with the extractor's fields at the top level
    /// or under `feature_extractor`. Missing fields keep their defaults.
    public init(contentsOf url: URL) throws {
        func invalid(_ field: String, _ reason: String) -> LogMelConfigurationError {
            LogMelConfigurationError(path: url.path, field: field, reason: reason)
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) } catch {
            throw invalid("(file)", "cannot be read as JSON: \(error.localizedDescription)")
        }
        guard var fields = object as? [String: Any] else { throw invalid("(file)", "is not a JSON object") }
        if let nested = fields["feature_extractor"] as? [String: Any] { fields = nested }
        if let type = fields["feature_extractor_type"] as? String, type != "ParakeetFeatureExtractor" {
            throw invalid("feature_extractor_type", "is '\(type)'; Glance computes ParakeetFeatureExtractor's features")
        }
        func integer(_ key: String, _ fallback: Int) throws -> Int {
            guard let value = fields[key] else { return fallback }
            guard let number = value as? NSNumber, !(value is Bool), number.doubleValue == number.doubleValue.rounded() else {
                throw invalid(key, "must be an integer, found \(value)")
            }
            return number.intValue
        }
        melBins = try integer("feature_size", melBins)
        sampleRate = try integer("sampling_rate", sampleRate)
        hopLength = try integer("hop_length", hopLength)
        fftSize = try integer("n_fft", fftSize)
        windowLength = try integer("win_length", windowLength)
        if let value = fields["preemphasis"] {
            if value is NSNull { preemphasis = nil } else if let number = value as? NSNumber, !(value is Bool) {
                preemphasis = number.floatValue
            } else {
                throw invalid("preemphasis", "must be a number or null, found \(value)")
            }
        }
        if let dither = fields["dither"] as? NSNumber, dither.doubleValue != 0 {
            throw invalid("dither", "is \(dither); Glance computes the features without dither (0)")
        }
        do { try validate() } catch let error as LogMelConfigurationError {
            throw LogMelConfigurationError(path: url.path, field: error.field, reason: error.reason)
        }
    }

    /// Checks the ranges; the error's path is "configuration".
    public func validate() throws {
        func check(_ condition: Bool, _ field: String, _ reason: String) throws {
            if !condition { throw LogMelConfigurationError(path: "configuration", field: field, reason: reason) }
        }
        try check((1...4096).contains(melBins), "feature_size", "must be in 1…4096, found \(melBins)")
        try check(sampleRate >= 1, "sampling_rate", "must be positive, found \(sampleRate)")
        try check(hopLength >= 1, "hop_length", "must be at least 1, found \(hopLength)")
        try check(fftSize >= 2 && fftSize <= 1 << 16 && fftSize % 2 == 0, "n_fft", "must be even and in 2…65536, found \(fftSize)")
        try check(windowLength >= 1 && windowLength <= fftSize, "win_length", "must be in 1…n_fft (\(fftSize)), found \(windowLength)")
        if let preemphasis { try check(preemphasis >= 0 && preemphasis < 1, "preemphasis", "must be in [0, 1), found \(preemphasis)") }
    }
}
